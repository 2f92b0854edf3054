"""How the weekly kernel uses threads, chosen per model so that runs do not fight over the cores.

numba's parallel kernel runs on OpenMP threads, which by default spin while they wait for the next week. That
is fast on an idle machine and very slow where the cores are busy: on 2 cores with other processes busy, a run of
Bezirk Bad Cannstatt at scale 0.05 took 4.8 s on two spinning threads, 0.6 s on one thread and 0.4 s on two
threads that sleep while they wait (``OMP_WAIT_POLICY=passive``). So, when the first model is built and before
numba starts its threads, the wait policy is set to passive unless the user set ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT`` (it holds for the rest of the process and its children; a process whose numba threads are
already running keeps its policy). And runs inside worker processes (EMA Workbench's
``MultiprocessingEvaluator``, Mesa's ``batch_run`` with several processes, ``quartiersim sweep --workers``) or
beside busy cores use one thread, and no run uses more threads than it has Stadtteile (the kernel spreads
blocks of Stadtteile over the threads, at least four blocks a thread) or than one per 5,000 agents (smaller
shares of work cost more to hand out than they give). ``benchmarks/ema_threads.py`` measures EMA loops with it.

:func:`choose_threads` decides, :func:`idle_cores` measures, :func:`kernel_threads` applies the choice around
one kernel call and restores the caller's setting. ``QUARTIERSIM_THREADS=N`` fixes the number (at most numba's
own limit, ``NUMBA_NUM_THREADS``); ``NUMBA_NUM_THREADS=1`` or ``numba.set_num_threads(1)`` keep every run on one
thread. Results do not depend on the number of threads (random numbers are counter-based). Nothing changes on
import.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

ENV = "QUARTIERSIM_THREADS"
#: How long :func:`idle_cores` watches the processor counters; long enough to average over a scheduler tick.
SAMPLE_SECONDS = 0.1


#: Agents per thread below which another thread costs more than it gives (2 threads already paid at 10,003
#: agents on 2 idle cores: 1.3 s against 0.9 s; README, Performance).
AGENTS_PER_THREAD = 5_000


def choose_threads(allowed: int, stadtteile: int, worker: bool, idle: float | None, fixed: int | None = None,
                   agents: int | None = None) -> int:
    """The number of kernel threads for one model.

    Args:
        allowed: numba's current number of threads (``NUMBA_NUM_THREADS`` or ``numba.set_num_threads``).
        stadtteile: the Stadtteile the model simulates (the kernel's unit of parallel work).
        worker: whether this process is a worker started by another (multiprocessing).
        idle: cores idle besides this one, as measured by :func:`idle_cores`; None when unknown.
        fixed: a number set by hand (``QUARTIERSIM_THREADS``), which wins within ``allowed``.
        agents: the model's agents; at most one thread per :data:`AGENTS_PER_THREAD` (None: no limit).

    Returns:
        At least 1 and at most ``allowed``.

    """
    allowed = max(1, int(allowed))
    if fixed is not None:
        return max(1, min(int(fixed), allowed))
    if worker:  # the other workers take the other cores
        return 1
    n = min(allowed, max(1, int(stadtteile)))
    if agents is not None:
        n = min(n, max(1, int(agents) // AGENTS_PER_THREAD))
    if idle is not None:  # this thread's core, plus the ones nobody else is using
        n = min(n, 1 + int(idle + 0.25))
    return max(1, n)


def idle_cores(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores that are idle apart from the one this thread runs on, from the kernel's counters (Linux).

    Reads ``/proc/stat`` twice ``seconds`` apart; this thread sleeps meanwhile, so its own core counts as idle and
    is taken off. Elsewhere the one-minute load average stands in. None when neither is available.
    """
    try:
        first = _cpu_times()
        time.sleep(seconds)
        second = _cpu_times()
    except OSError:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
        return max(0.0, (os.cpu_count() or 1) - load - 1.0)
    busy = (second[0] - first[0])
    total = (second[1] - first[1])
    if total <= 0:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_cpu = first[2]
    idle = n_cpu * (1.0 - busy / total)
    return max(0.0, min(float(cores), idle) - 1.0)


def _cpu_times() -> tuple[int, int, int]:
    """Busy and total jiffies of all processors, and their number, from ``/proc/stat``."""
    with open("/proc/stat", encoding="ascii") as fh:
        lines = fh.read().splitlines()
    fields = [int(x) for x in lines[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and waiting for I/O
    n_cpu = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return sum(fields) - idle, sum(fields), max(1, n_cpu)


def is_worker() -> bool:
    """Whether this process was started by another through multiprocessing (a pool's or executor's worker)."""
    return multiprocessing.parent_process() is not None


def prefer_passive_waiting() -> bool:
    """Let OpenMP's threads sleep instead of spin between weeks, if numba has not started them yet.

    Spinning threads take the cores other processes (EMA's or Mesa's other workers, a notebook's kernel) need.
    A user's own ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is kept. Returns whether the policy was set now.
    """
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return False
    try:
        from numba.np.ufunc import parallel
    except ImportError:  # pragma: no cover - a numba without this module
        return False
    if getattr(parallel, "_is_initialized", True):  # the threads run already: too late for their policy
        return False
    os.environ["OMP_WAIT_POLICY"] = "passive"
    return True


def model_threads(stadtteile: int, agents: int | None = None) -> int:
    """:func:`choose_threads` for a model of ``stadtteile`` Stadtteile and ``agents`` agents, in this process."""
    import numba

    prefer_passive_waiting()  # before numba.get_num_threads() below starts the threads
    text = os.environ.get(ENV, "").strip()
    fixed = int(text) if text.isdigit() and int(text) > 0 else None
    allowed = numba.get_num_threads()
    worker = is_worker()
    small = stadtteile <= 1 or (agents is not None and agents < 2 * AGENTS_PER_THREAD)
    if fixed is None and (worker or allowed == 1 or small):
        return 1  # decided without watching the processor
    idle = None if fixed is not None else _recent_idle_cores()
    return choose_threads(allowed, stadtteile, worker, idle, fixed, agents)


_IDLE: list[float] = []  # [time measured, idle cores]: one measurement serves the models built soon after it
IDLE_KEPT_SECONDS = 10.0


def _recent_idle_cores() -> float | None:
    """:func:`idle_cores`, measured at most every :data:`IDLE_KEPT_SECONDS`.

    A loop of short runs would otherwise spend a tenth of a second per run watching the processor.
    """
    now = time.monotonic()
    if _IDLE and now - _IDLE[0] < IDLE_KEPT_SECONDS:
        return _IDLE[1]
    idle = idle_cores()
    if idle is not None:
        _IDLE[:] = [now, idle]
    return idle


@contextmanager
def kernel_threads(n: int) -> Iterator[None]:
    """Let numba use ``n`` threads inside the block (in this thread); the caller's setting comes back after it."""
    import numba

    previous = numba.get_num_threads()
    if n == previous:
        yield
        return
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
