"""Where runs execute: in this process, in local worker processes, or on a dask.distributed cluster.

Every executor is a :class:`concurrent.futures.Executor`, so ``compare`` and ``sweep`` accept any of them
(including one a user builds, such as ``Client(cluster).get_executor()`` for a dask-jobqueue cluster), and
:func:`run_jobs` hands jobs to one and calls back in the order runs finish. Results come back to the calling
process, which alone writes them; workers need no shared file system.

* :class:`InProcessExecutor`: runs each job when it is submitted, in this process (one worker).
* :func:`local_executor`: worker processes started with ``spawn`` (numba's threads do not survive a fork),
  each using one numba thread so the workers do not compete for the cores. No set-up. Each worker ends when the
  process that started it ends, however that ends (SIGKILL included): on Linux the kernel sends it SIGKILL
  (``prctl(PR_SET_PDEATHSIG)``), elsewhere a watchdog thread notices that its parent is gone.
* :func:`dask_executor`: a running ``dask.distributed`` scheduler (``dask scheduler`` / ``dask worker``, or a
  SLURM cluster through dask-jobqueue). dask is imported only when this is called.

A run's result does not depend on the executor: each run is determined by its scenario and seed, and the
kernels give the same numbers whatever the number of threads. Nothing here changes global state on import.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from quartiersim.errors import InputError

#: The most local worker processes: each holds the compiled kernels and a run's arrays (a few hundred MB), and
#: more workers than cores only wait for them.
MAX_WORKERS = 256


class InProcessExecutor(cf.Executor):
    """Runs each job in this process as it is submitted (for one worker, and for debugging)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn`` now; its result or exception is in the returned, finished future."""
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future, like a pool
            future.set_exception(exc)
        return future


def one_numba_thread() -> None:
    """Make numba use one thread in this thread (worker processes and Dask tasks run one run each)."""
    import numba

    numba.set_num_threads(1)


def die_with_parent(parent: int) -> None:
    """End this process when the process ``parent`` ends, even by SIGKILL (no orphaned workers).

    On Linux the kernel sends SIGKILL when the parent thread exits (``prctl(PR_SET_PDEATHSIG)``); the parent may
    have ended before that call, which the check of ``os.getppid()`` after it catches. Elsewhere a daemon thread
    checks the parent every second.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            pr_set_pdeathsig = 1
            if libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="quartiersim-parent-watch", daemon=True).start()


def _worker_init(parent: int) -> None:
    die_with_parent(parent)
    one_numba_thread()


@contextmanager
def local_executor(workers: int = 1) -> Iterator[cf.Executor]:
    """Worker processes on this machine (``workers`` > 1), or this process (``workers`` = 1)."""
    if not 1 <= workers <= MAX_WORKERS:
        raise InputError("argument", "--workers", f"a number of worker processes from 1 to {MAX_WORKERS}", workers)
    if workers == 1:
        yield InProcessExecutor()
        return
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init,
                                  initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        # stopped (an error, Ctrl-C, SIGTERM): the workers' runs are not wanted any more, so do not wait for them
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    else:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_executor(address: str | None = None, scheduler_file: str | None = None,
                  timeout: float | None = None) -> Iterator[cf.Executor]:
    """An executor on a running dask.distributed scheduler, by address (``tcp://HOST:PORT``) or scheduler file.

    The scheduler is checked before the client starts: the file exists and names an address, a Dask scheduler
    answers at the address. ``timeout`` (default: Dask's ``distributed.comm.timeouts.connect``, 30 s unless
    configured, e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s``) bounds the first connection and how long
    the client tries to reconnect to a scheduler that went away before the sweep stops. The executor has
    ``scheduler_address``, so a caller can check later whether the scheduler still answers
    (:func:`scheduler_answers`).

    Raises:
        InputError: neither or both given, a missing or unreadable scheduler file, or no scheduler answers in
            ``timeout`` seconds.

    """
    field = "--scheduler-file" if scheduler_file else "--scheduler"
    if (address is None) == (scheduler_file is None):
        raise InputError("argument", "--scheduler", "either a scheduler address or a scheduler file")
    if scheduler_file is not None:
        address = read_scheduler_file(scheduler_file)
    assert address is not None
    if timeout is None:
        timeout = connect_timeout()
    check_reachable(address, timeout, field, scheduler_file)
    from distributed import Client

    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("argument", field, f"a running dask scheduler, e.g. tcp://127.0.0.1:8786 "
                         f"(started with 'dask scheduler'; {type(exc).__name__}: {exc})",
                         scheduler_file or address) from None
    try:
        executor = client.get_executor(pure=False)
        executor.scheduler_address = address  # type: ignore[attr-defined]
        yield executor
    finally:
        _close(client)


def _close(client: Any) -> None:
    """Close a Dask client without waiting long for a scheduler that is gone, and without a late traceback."""
    try:
        client.close(timeout=5)
    except Exception:  # noqa: BLE001 - the scheduler went away; nothing is left to close cleanly
        pass


def connect_timeout() -> float:
    """Dask's connection timeout in seconds (``distributed.comm.timeouts.connect``)."""
    import dask.config
    import distributed  # noqa: F401 - loads distributed's configuration defaults
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect", "30s"), default="s"))


def read_scheduler_file(path: str | Path) -> str:
    """The scheduler address in a Dask scheduler file (``dask scheduler --scheduler-file``).

    Raises:
        InputError: the file is missing, unreadable, or names no address. (Dask itself would wait for a missing
            file to appear, without a word.)

    """
    path = Path(path)
    expected = "the scheduler file a running 'dask scheduler --scheduler-file FILE' wrote (JSON with its address)"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "--scheduler-file", f"{expected}; there is no such file") from None
    except (OSError, ValueError) as exc:  # unreadable, a directory, not UTF-8, not JSON
        raise InputError(path, "--scheduler-file", f"{expected} ({type(exc).__name__}: {exc})") from None
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or not address:
        raise InputError(path, "--scheduler-file", f"{expected}; it names no address")
    return address


def scheduler_answers(address: str, timeout: float = 5.0) -> bool:
    """Whether something still answers at a scheduler's address."""
    try:
        check_reachable(address, timeout, probe=False)
    except InputError:
        return False
    return True


@contextmanager
def dask_client(workers: int = 2, address: str | None = None) -> Iterator[Any]:
    """A dask.distributed client of a running scheduler at ``address``, or of a local cluster.

    The local cluster has ``workers`` single-threaded worker processes on 127.0.0.1. For libraries that take a
    client rather than an executor, such as pyabc.
    """
    from distributed import Client, LocalCluster

    if address is not None:
        check_reachable(address, 20.0)
        client = Client(address, set_as_default=False)
        try:
            yield client
        finally:
            _close(client)
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster, set_as_default=False) as client:
        client.run(_quiet_cancels)
        yield client


class _NoCancelWarnings(logging.Filter):
    """Drops a worker's warning that a task was cancelled while it ran.

    pyabc cancels the simulations still running once a generation has its particles, and a worker warns of each
    ("... ended with CancelledError") although nothing went wrong. Every other warning still shows.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().endswith("ended with CancelledError")


def _quiet_cancels() -> None:
    """In a worker of our own local cluster: leave out the warnings of cancelled tasks."""
    logging.getLogger("distributed.worker.state_machine").addFilter(_NoCancelWarnings())


def check_reachable(address: str, timeout: float = 20.0, field: str = "--scheduler",
                    source: str | None = None, probe: bool = True) -> None:
    """Fail at once, with a clear message, when nothing listens at a ``tcp://HOST:PORT`` address.

    Only ``tcp://`` and ``tls://`` addresses are accepted: they are what ``dask scheduler`` listens on, and both
    can be checked with a plain connection before a Dask client starts (a client that cannot connect waits and
    then fails again when it is collected). With ``probe``, the server must also say it is a Dask scheduler.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    expected = "the address of a running dask scheduler, e.g. tcp://127.0.0.1:8786 (start one with 'dask scheduler')"
    if source is not None:
        expected += f", as in {source}"
    if parts.scheme not in ("tcp", "tls"):
        raise InputError("argument", field, f"{expected}; tcp:// or tls:// addresses", address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or not 0 < port < 65536:
        raise InputError("argument", field, expected, address)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except (OSError, UnicodeError) as exc:
        raise InputError("argument", field, f"{expected}; nothing answers there ({exc})", address) from None
    if probe:
        who = _identity(address if "://" in address else f"tcp://{address}", min(timeout, 10.0))
        if who != "Scheduler":
            raise InputError("argument", field, f"{expected}; something answers there, but not a dask scheduler "
                             f"({who})", address)


def _identity(address: str, timeout: float) -> str:
    """What a Dask server at ``address`` says it is (``"Scheduler"``), asked with a deadline.

    A Dask client would wait without limit on a port that accepts connections but speaks another protocol (an
    HTTP server, say); this asks for the server's identity and gives up after ``timeout`` seconds.
    """
    import asyncio

    from distributed.comm import connect

    async def ask() -> Any:
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        try:
            await asyncio.wait_for(comm.write({"op": "identity", "reply": True}), timeout)
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    answer: dict[str, Any] = {}

    def run() -> None:  # in a thread of its own: the caller may have an event loop running (a notebook)
        try:
            answer["reply"] = asyncio.run(ask())
        except Exception as exc:  # noqa: BLE001 - timeouts, closed connections, protocol errors: not a scheduler
            answer["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    thread = threading.Thread(target=run, name="quartiersim-scheduler-probe", daemon=True)
    thread.start()
    thread.join(3 * timeout)
    if "reply" not in answer:
        return answer.get("error", "no answer")
    reply = answer["reply"]
    return str(reply.get("type")) if isinstance(reply, dict) else "an unexpected reply"


def run_jobs[J, R](executor: cf.Executor, fn: Callable[[J], R], jobs: Iterable[J],
                   on_result: Callable[[J, R], None], on_error: Callable[[J, BaseException], None],
                   window: int | None = None) -> None:
    """Run ``fn(job)`` for every job on ``executor`` and call back as each finishes.

    Args:
        executor: any concurrent.futures executor.
        fn: a module-level function (worker processes import it by name).
        jobs: the jobs, submitted in this order.
        on_result: called in this process as ``on_result(job, result)`` when a job succeeds.
        on_error: called as ``on_error(job, exception)`` when a job raises; it may raise to stop.
        window: most jobs in flight at once (None: submit all at once). Keeps the in-process executor lazy
            and bounds the memory of queued jobs.

    Jobs still queued when this returns early (an exception, Ctrl-C) are cancelled. On an executor with a
    ``scheduler_address`` (a Dask scheduler, :func:`scheduler_executor`) the scheduler is asked whether it still
    answers whenever no job has finished for :data:`WATCH_SECONDS`; once it has not answered for Dask's connect
    timeout, the jobs in flight end as cancelled (``on_error`` with a ``CancelledError``). Dask's client cancels
    them itself when it gives up reconnecting, but not always: a sweep was seen waiting for ever.

    """
    queue = iter(jobs)
    pending: dict[cf.Future, J] = {}
    address = getattr(executor, "scheduler_address", None)
    silent_since: float | None = None  # when the scheduler was first found not answering

    def fill() -> None:
        while window is None or len(pending) < window:
            job = next(queue, _END)
            if job is _END:
                return
            pending[executor.submit(fn, job)] = job

    try:
        fill()
        while pending:
            done, _ = cf.wait(pending, timeout=WATCH_SECONDS if address else None, return_when=cf.FIRST_COMPLETED)
            if not done and address is not None:
                if scheduler_answers(address, timeout=min(5.0, WATCH_SECONDS)):
                    silent_since = None
                    continue
                now = time.monotonic()
                silent_since = now if silent_since is None else silent_since
                if now - silent_since < connect_timeout():
                    continue
                for future, job in list(pending.items()):
                    future.cancel()
                    on_error(job, cf.CancelledError(f"the Dask scheduler at {address} stopped answering"))
                pending.clear()
                return
            for future in done:
                job = pending.pop(future)
                # a future cancelled by the executor (a Dask scheduler that went away) is an error of the job
                exc = cf.CancelledError("cancelled by the executor") if future.cancelled() else future.exception()
                if exc is None:
                    on_result(job, future.result())
                else:
                    on_error(job, exc)
            fill()
    finally:
        for future in pending:
            future.cancel()


_END: Any = object()
#: seconds without a finished job after which run_jobs asks a Dask scheduler whether it still answers
WATCH_SECONDS = 10.0
