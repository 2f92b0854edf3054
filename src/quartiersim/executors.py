"""Where runs execute: in this process, in local worker processes, or on a dask.distributed cluster.

Every executor is a :class:`concurrent.futures.Executor`, so ``compare`` and ``sweep`` accept any of them
(including one a user builds, such as ``Client(cluster).get_executor()`` for a dask-jobqueue cluster), and
:func:`run_jobs` hands jobs to one and calls back in the order runs finish. Results come back to the calling
process, which alone writes them; workers need no shared file system.

* :class:`InProcessExecutor`: runs each job when it is submitted, in this process (one worker).
* :func:`local_executor`: worker processes started with ``spawn`` (numba's threads do not survive a fork),
  each using one numba thread so the workers do not compete for the cores. No set-up.
* :func:`dask_executor`: a running ``dask.distributed`` scheduler (``dask scheduler`` / ``dask worker``, or a
  SLURM cluster through dask-jobqueue). dask is imported only when this is called.

A run's result does not depend on the executor: each run is determined by its scenario and seed, and the
kernels give the same numbers whatever the number of threads. Nothing here changes global state on import.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from quartiersim.errors import InputError


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


@contextmanager
def local_executor(workers: int = 1) -> Iterator[cf.Executor]:
    """Worker processes on this machine (``workers`` > 1), or this process (``workers`` = 1)."""
    if workers < 1:
        raise InputError("argument", "--workers", "a number of worker processes >= 1", workers)
    if workers == 1:
        yield InProcessExecutor()
        return
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=one_numba_thread)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_executor(address: str | None = None, scheduler_file: str | None = None,
                  timeout: float = 20.0) -> Iterator[cf.Executor]:
    """An executor on a running dask.distributed scheduler, by address (``tcp://HOST:PORT``) or scheduler file.

    Raises:
        InputError: neither or both given, or no scheduler answers in ``timeout`` seconds.

    """
    field = "--scheduler-file" if scheduler_file else "--scheduler"
    if (address is None) == (scheduler_file is None):
        raise InputError("argument", "--scheduler", "either a scheduler address or a scheduler file")
    if address is not None:
        _check_reachable(address, timeout)
    from distributed import Client

    try:
        client = Client(address, scheduler_file=scheduler_file, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("argument", field, f"a running dask scheduler, e.g. tcp://127.0.0.1:8786 "
                         f"(started with 'dask scheduler'; {type(exc).__name__}: {exc})",
                         address or scheduler_file) from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


@contextmanager
def dask_client(workers: int = 2, address: str | None = None) -> Iterator[Any]:
    """A dask.distributed client of a running scheduler at ``address``, or of a local cluster.

    The local cluster has ``workers`` single-threaded worker processes on 127.0.0.1. For libraries that take a
    client rather than an executor, such as pyabc.
    """
    from distributed import Client, LocalCluster

    if address is not None:
        _check_reachable(address, 20.0)
        with Client(address, set_as_default=False) as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster, Client(cluster, set_as_default=False) as client:
        yield client


def _check_reachable(address: str, timeout: float) -> None:
    """Fail at once, with a clear message, when nothing listens at a ``tcp://HOST:PORT`` address."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    expected = "the address of a running dask scheduler, e.g. tcp://127.0.0.1:8786 (start one with 'dask scheduler')"
    if parts.scheme != "tcp":
        return  # other protocols (tls, inproc, ucx) are left to dask
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise InputError("argument", "--scheduler", expected, address)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise InputError("argument", "--scheduler", f"{expected}; nothing answers there ({exc})", address) from None


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

    Jobs still queued when this returns early (an exception, Ctrl-C) are cancelled.

    """
    queue = iter(jobs)
    pending: dict[cf.Future, J] = {}

    def fill() -> None:
        while window is None or len(pending) < window:
            job = next(queue, _END)
            if job is _END:
                return
            pending[executor.submit(fn, job)] = job

    try:
        fill()
        while pending:
            done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                exc = future.exception()
                if exc is None:
                    on_result(job, future.result())
                else:
                    on_error(job, exc)
            fill()
    finally:
        for future in pending:
            future.cancel()


_END: Any = object()
