"""The numba threads a model chooses: one in worker processes, on busy cores and for one Stadtteil."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os

import numba
import pytest

from quartiersim.model import QuarterModel
from quartiersim.threads import choose_threads, idle_cores, is_worker, kernel_threads, model_threads

SMALL = {"scale": 0.05, "end": "2024-03-31", "spinup_weeks": 2}


@pytest.mark.parametrize(("allowed", "stadtteile", "worker", "idle", "fixed", "expected"), [
    (8, 152, False, 7.0, None, 8),   # an idle machine: every core
    (8, 152, False, 0.1, None, 1),   # every other core busy: one thread, no spinning against other processes
    (8, 152, False, 2.9, None, 4),   # three cores free besides this one
    (8, 3, False, 7.0, None, 3),     # no more threads than Stadtteile
    (8, 1, False, 7.0, None, 1),
    (8, 152, True, 7.0, None, 1),    # a worker process: the other workers take the other cores
    (1, 152, False, 7.0, None, 1),   # NUMBA_NUM_THREADS=1 or numba.set_num_threads(1) by hand
    (8, 152, True, 0.0, 2, 2),       # QUARTIERSIM_THREADS=2 wins ...
    (2, 152, False, 7.0, 16, 2),     # ... within numba's limit
    (8, 152, False, None, None, 8),  # the load unknown: numba's setting
])
def test_choose_threads(allowed, stadtteile, worker, idle, fixed, expected):
    assert choose_threads(allowed, stadtteile, worker, idle, fixed) == expected


@pytest.mark.parametrize(("agents", "expected"), [(3_000, 1), (9_999, 1), (10_000, 2), (612_706, 8)])
def test_small_runs_keep_to_one_thread(agents, expected):
    """Sharing a few thousand agents' week between threads costs more than it gives."""
    assert choose_threads(8, 152, False, 7.0, None, agents) == expected


def test_idle_cores_is_measured_within_the_machine():
    idle = idle_cores(0.05)
    assert idle is not None
    assert 0.0 <= idle <= (os.cpu_count() or 1) - 1


def _threads_in_a_worker(stadtteile: list[int]) -> tuple[bool, int, int]:
    model = QuarterModel(None, rng=1, stadtteile=stadtteile, roles=[], **SMALL)
    model.step()
    return is_worker(), model.threads, numba.get_num_threads()


def test_a_model_in_a_worker_process_uses_one_thread():
    """As in EMA's MultiprocessingEvaluator and Mesa's batch_run: a pool of processes, the model inside them.

    (Started with spawn: forking this test process, whose OpenMP threads already run, could hang the child.)
    """
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        worker, threads, after = pool.submit(_threads_in_a_worker, [101, 102, 103, 104]).result()
    assert worker and threads == 1
    assert after == numba.config.NUMBA_NUM_THREADS  # the process's own setting is left as it was


def test_in_the_main_process(monkeypatch):
    assert not is_worker()
    assert QuarterModel("neckarvorstadt", rng=1, **SMALL).threads == 1  # one Stadtteil
    assert QuarterModel(None, rng=1, stadtteile=[101, 102, 103], roles=[], **SMALL).threads == 1  # a few hundred agents
    monkeypatch.setenv("QUARTIERSIM_THREADS", "2")
    expected = min(2, numba.get_num_threads())
    model = QuarterModel(None, rng=1, stadtteile=[101, 102, 103], roles=[], **SMALL)
    assert model.threads == expected == model_threads(3, len(model.residents))
    before = numba.get_num_threads()
    with kernel_threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_openmp_threads_sleep_between_weeks_unless_the_user_chose():
    """Set when the first model is built (not on import), and never over the user's own choice."""
    import subprocess
    import sys

    code = ("import os, quartiersim; before = os.environ.get('OMP_WAIT_POLICY'); "
            "quartiersim.QuarterModel('neckarvorstadt', rng=1, scale=0.05, end='2024-01-31', spinup_weeks=1); "
            "print(before, os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "passive"]
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, OMP_WAIT_POLICY="active"), capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["active", "active"]
