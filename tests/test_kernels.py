"""Each numba kernel against its plain-Python reference: same inputs, same random streams, same outputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quartiersim.kernels import core, reference
from quartiersim.kernels.random import mix64, mix64_py, uniform, uniform_py, week_key, week_key_py

from .conftest import World


def _args(w: World, name: str):
    """Arguments of kernel ``name`` drawn from world ``w``."""
    k = w.key(stream=len(name))
    e = w.effect
    return {
        "awareness_step": (w.st_off, w.aware, np.zeros(w.n, np.uint8), w.stille, w.venue, w.tie_j, w.deg,
                           e["outreach"], 0.01, 0.3, 0.2, 0.05, k),
        "visit_step": (w.st_off, w.pl_off, w.aware, w.stille, w.health, w.age, w.lonely, w.member_of,
                       w.home_place, w.alt_place, w.place_cap, w.place_bf, w.place_lt, w.place_used, e["events"],
                       w.venue, w.visit_count, 0.6, 0.4, 0.3, 0.6, 0.3, 0.5, w.n_places, k),
        "encounter_step": (w.st_off, w.pl_off, w.venue, w.n_places, w.max_init, np.zeros(w.n_venues, np.int32),
                           np.zeros(w.n_venues, np.int64), np.zeros(max(w.n, 1), np.int32), w.age, w.mig, w.inc,
                           w.tie_j, w.tie_w, w.tie_slot, w.deg, 3, 0.7, 20.0, e["bridging"], 0.4, 0.7, 0.6, k),
        "tie_step": (w.st_off, w.tie_j, w.tie_w, w.tie_slot, w.deg, 0.3, 0.8, 0.3, k),
        "loneliness_step": (w.st_off, w.lonely, np.zeros(w.n, np.uint8), w.health, w.mig, w.inc, w.tie_j, w.tie_w,
                            w.deg, w.rr_health, e["health"], 0.01, 1.5, 1.6, 2.0, 0.52, 0.05, 0.02, k),
        "participation_step": (w.st_off, w.age, w.mig, w.aware, w.participating, np.zeros(w.n, np.uint8),
                               w.volunteer, w.threshold, w.member_of, w.tie_j, w.deg, e["activation"], 0.5, 0.2,
                               0.05, 0.05, 0.05, 0.03, 0.02, 2.0, k),
        "initiative_step": (w.st_off, w.weight_s, w.age, w.aware, w.participating, w.volunteer, w.member_of,
                            w.init_active, w.init_members, w.init_weeks, w.init_rr, w.founded, w.dropped,
                            np.zeros(w.n_st, np.int64), np.zeros(w.n_st, np.int64), e["advice"],
                            e["support"], 0.05, 1.0, 0.3, 0.2, 0.6, 1.0, 5.0, 2.0, w.max_init, k),
        "group_stats": (w.st_off, w.weight_s, w.age, w.mig, w.inc, w.health, w.stille, w.lonely, w.aware,
                        w.participating, w.volunteer, w.deg, w.tie_j, w.visit_count,
                        np.array([[1, 0, 1, 0]] * w.n_st, dtype=np.uint8),
                        np.zeros((w.n_st, core.N_GROUPS, core.N_QUANTITIES))),
    }[name]


KERNELS = ["awareness_step", "visit_step", "encounter_step", "tie_step", "loneliness_step", "participation_step",
           "initiative_step", "group_stats"]


#: arguments that are scratch space of the fast kernel (not outputs), by position
SCRATCH = {"encounter_step": {5, 6, 7}}


def _compare(name: str, w: World):
    args = _args(w, name)
    a = copy.deepcopy(args)
    b = copy.deepcopy(args)
    out_fast = getattr(core, name)(*a)
    out_ref = getattr(reference, name)(*b)
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        if isinstance(x, np.ndarray) and k not in SCRATCH.get(name, ()):
            np.testing.assert_array_equal(x, y, err_msg=f"{name}: argument {k} differs")
    if out_fast is not None:
        if isinstance(out_fast, tuple):
            for x, y in zip(out_fast, out_ref, strict=True):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            assert out_fast == out_ref
    return a


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_matches_reference(name, world):
    args = _compare(name, world)
    # the kernel did something: some output array changed
    before = _args(world, name)
    changed = any(isinstance(x, np.ndarray) and not np.array_equal(x, y) for x, y in zip(args, before, strict=True))
    assert changed or name == "tie_step" and (world.deg == 0).all(), f"{name} changed nothing"


def test_kernels_match_over_a_sequence_of_weeks():
    """Run all phases for several weeks on one world; both implementations stay identical throughout."""
    fast, ref = World([25, 40, 3], seed=9), World([25, 40, 3], seed=9)
    for week in range(6):
        for name in KERNELS[:-1]:
            for world, module in ((fast, core), (ref, reference)):
                args = list(_args(world, name))
                args[-1] = world.key(week=week, stream=len(name))
                getattr(module, name)(*args)
                # carry synchronous updates over, as the model does
                if name in ("awareness_step", "loneliness_step", "participation_step"):
                    target = {"awareness_step": "aware", "loneliness_step": "lonely",
                              "participation_step": "participating"}[name]
                    new = args[2] if name != "participation_step" else args[5]
                    setattr(world, target, new.copy())
        for attr in ("aware", "lonely", "participating", "volunteer", "member_of", "tie_j", "tie_w", "tie_slot",
                     "deg", "venue", "visit_count", "init_active", "init_members"):
            np.testing.assert_array_equal(getattr(fast, attr), getattr(ref, attr), err_msg=f"week {week}: {attr}")
    assert fast.deg.sum() > 0 and fast.visit_count.sum() > 0


def test_init_ties_matches_reference():
    a, b = World([20, 33], seed=2), World([20, 33], seed=2)
    for w in (a, b):
        w.tie_j[:] = -1
        w.tie_w[:] = 0
        w.tie_slot[:] = -1
        w.deg[:] = 0
    key = np.uint64(week_key(np.uint64(99), np.int64(0)))
    core.init_ties(a.st_off, a.age, a.mig, a.inc, a.tie_j, a.tie_w, a.tie_slot, a.deg, 5.0, 20.0, 0.4, 0.7, key)
    reference.init_ties(b.st_off, b.age, b.mig, b.inc, b.tie_j, b.tie_w, b.tie_slot, b.deg, 5.0, 20.0, 0.4, 0.7,
                        int(key))
    np.testing.assert_array_equal(a.tie_j, b.tie_j)
    np.testing.assert_array_equal(a.tie_w, b.tie_w)
    assert a.deg.sum() > 0


@given(st.integers(0, 2**64 - 1), st.integers(-10**6, 10**6), st.integers(0, 10**7), st.integers(0, 64))
def test_counter_random_numbers_match_python(key, week, counter, draw):
    wk = week_key(np.uint64(key), np.int64(week))
    assert int(wk) == week_key_py(key, week)
    u = uniform(np.uint64(wk), counter, draw)
    assert u == uniform_py(int(wk), counter, draw)
    assert 0.0 <= u < 1.0
    assert int(mix64(np.uint64(key))) == mix64_py(key)


def test_counter_random_numbers_are_uniform():
    wk = np.uint64(week_key(np.uint64(12345), np.int64(1)))
    u = np.array([uniform(wk, i, 0) for i in range(20000)])
    assert abs(u.mean() - 0.5) < 0.01  # sd of the mean is 0.002
    counts, _ = np.histogram(u, bins=10, range=(0, 1))
    assert counts.min() > 1800 and counts.max() < 2200  # expected 2000 each, sd about 42


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 25), min_size=1, max_size=4), seed=st.integers(0, 10**6),
       name=st.sampled_from(KERNELS))
def test_kernels_match_reference_on_random_worlds(sizes, seed, name):
    _compare(name, World(sizes, seed=seed))


def _week_args(w: World, week: int):
    """Arguments of :func:`core.week_step` on world ``w``, with the same parameters as :func:`_args`."""
    e = w.effect
    keys = np.array([w.key(week=week, stream=len(name)) for name in KERNELS[:-1]], dtype=np.uint64)
    prm = {name: tuple(x for x in _args(w, name) if isinstance(x, float | int) and not isinstance(x, bool))
           for name in KERNELS[:-1]}
    # integer arguments that are not parameters: n_places (visits), n_places and max_init (encounters, first),
    # max_init (initiatives, last)
    p_vi = prm["visit_step"][:-1]
    p_en = prm["encounter_step"][2:]
    p_in = prm["initiative_step"][:-1]
    return (w.st_off, w.pl_off, w.weight_s, w.n_places, w.max_init, w.age, w.mig, w.inc, w.health, w.stille,
            w.threshold, w.aware, w.aware_buf, w.lonely, w.lonely_buf, w.participating, w.part_buf, w.volunteer,
            w.member_of, w.home_place, w.alt_place, w.venue, w.visit_count, w.tie_j, w.tie_w, w.tie_slot, w.deg,
            w.place_cap, w.place_bf, w.place_lt, w.place_used, np.zeros(w.n_venues, np.int32),
            np.zeros(w.n_venues, np.int64), np.zeros(max(w.n, 1), np.int32), w.init_active, w.init_members,
            w.init_weeks, w.init_rr, w.founded, w.dropped, np.zeros(w.n_st, np.int64), np.zeros(w.n_st, np.int64),
            e["outreach"], e["events"], e["activation"], e["bridging"], e["health"], e["advice"], e["support"],
            w.rr_health, prm["awareness_step"], p_vi, p_en, prm["tie_step"], prm["loneliness_step"],
            prm["participation_step"], p_in, keys)


def _phase_by_phase(w: World, week: int):
    """One week of the phase kernels in the model's order, carrying synchronous updates over."""
    for name in KERNELS[:-1]:
        args = list(_args(w, name))
        args[-1] = w.key(week=week, stream=len(name))
        getattr(core, name)(*args)
        if name == "awareness_step":
            w.aware = args[2].copy()
        elif name == "loneliness_step":
            w.lonely = args[2].copy()
        elif name == "participation_step":
            w.participating = args[5].copy()


STATE = ("aware", "lonely", "participating", "volunteer", "member_of", "tie_j", "tie_w", "tie_slot", "deg", "venue",
         "visit_count", "init_active", "init_members", "init_weeks", "place_used")


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_week_equals_the_phase_kernels_in_order(threads):
    """``week_step`` (each Stadtteil through the whole week, Stadtteile on threads) equals the phases in turn."""
    import numba

    sizes = [30, 0, 1, 45, 12, 60, 7]
    by_phase, fused = World(sizes, seed=21), World(sizes, seed=21)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for week in range(5):
            _phase_by_phase(by_phase, week)
            for name in ("aware_buf", "lonely_buf", "part_buf"):
                setattr(fused, name, np.zeros(fused.n, np.uint8))
            core.week_step(*_week_args(fused, week))
            fused.aware, fused.lonely, fused.participating = fused.aware_buf, fused.lonely_buf, fused.part_buf
            for attr in STATE:
                np.testing.assert_array_equal(getattr(fused, attr), getattr(by_phase, attr),
                                              err_msg=f"week {week}: {attr}")
    finally:
        numba.set_num_threads(previous)
    assert by_phase.deg.sum() > 0 and by_phase.visit_count.sum() > 0 and by_phase.init_active.sum() > 0
