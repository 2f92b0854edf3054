"""Each numba kernel against its plain-Python reference: same inputs, same random streams, same outputs."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quartiersim.kernels import codegen, core, reference
from quartiersim.kernels.random import mix64, mix64_py, uniform, uniform_py, week_key, week_key_py, week_keys
from quartiersim.kernels.state import (
    AwarenessPrm,
    EncounterPrm,
    InitiativePrm,
    LonelinessPrm,
    ParticipationPrm,
    TiePrm,
    VisitPrm,
    age_similarity,
)

from .conftest import TRAITS, World

#: each phase's parameters in the tests (values chosen so that every branch is exercised on small worlds)
PRM = {
    "demography_step": TRAITS,
    "awareness_step": AwarenessPrm(0.01, 0.3, 0.2, 0.05, 3.0, 0.6, 0.4),
    "visit_step": VisitPrm(0.6, 0.3, 0.4, 0.3, 0.6, 0.3, 0.5, 8, 3.0, 0.4, 13, 20.0, 4.0),
    "encounter_step": EncounterPrm(3, 0.7, 20.0, 0.6, 0.7, 0.6, 0.8, age_similarity(20.0)),
    "tie_step": TiePrm(0.3, 0.8, 0.3),
    "loneliness_step": LonelinessPrm(np.array([1.0, 4.0, 12.0, 30.0, 85.0]), 0.01, 1.5, 1.6, 0.5, 2.0, 0.52, 0.05,
                                     0.02, 0.4, 26),
    "participation_step": ParticipationPrm(0.6, 0.5, 0.3, 8, 0.05, 0.03, 0.02, 2.0),
    "initiative_step": InitiativePrm(np.full(8, 0.02), 0, 0.2, 3.0, 0.1, 0.3, 2.0, 0.4, 0.1, 0.5, 0.5, 13, 0.6, 0.3,
                                     0.3, 0.3, 5.0, 2.0, 0.05, 0.05),
}
PHASES = list(PRM)
KERNELS = [*PHASES, "group_stats"]


def _args(w: World, name: str, week: int | None = None):
    """Arguments of kernel ``name`` on world ``w``: its bundles, its parameters, the week and a week key."""
    week = w.week if week is None else week
    k = w.key(week=week, stream=len(name))
    prm = PRM.get(name)
    if name == "initiative_step":
        prm = prm._replace(founding_s=np.full(w.n_st, 0.02))
    return {
        "demography_step": (w.pop, w.ties, w.venues, w.inits, w.demog, prm, PRM["loneliness_step"], week, k),
        "awareness_step": (w.pop, w.ties, w.eff, prm, week, k),
        "visit_step": (w.pop, w.venues, w.inits, w.eff, prm, week, k),
        "encounter_step": (w.pop, w.ties, w.venues, w.inits, prm, k),
        "tie_step": (w.pop, w.ties, prm, k),
        "loneliness_step": (w.pop, w.ties, prm, week, k),
        "participation_step": (w.pop, w.ties, prm, week, k),
        "initiative_step": (w.pop, w.inits, w.venues, w.eff, prm, week, k),
        "group_stats": (w.pop, w.ties, np.array([[1, 0, 1, 0]] * w.n_st, dtype=np.uint8), week,
                        np.zeros((w.n_st, core.N_GROUPS, core.N_QUANTITIES))),
    }[name]


#: bundle fields that are scratch space of the fast kernel (not outputs)
SCRATCH = {"v_count", "v_start", "v_members", "order", "aware_new", "lonely_new", "ready_new", "knows_new"}


def _arrays(args) -> dict[str, np.ndarray]:
    """Every array among the arguments, by position and field name (bundles are named tuples of arrays)."""
    out = {}
    for k, x in enumerate(args):
        if isinstance(x, np.ndarray):
            out[f"argument {k}"] = x
        elif isinstance(x, tuple) and hasattr(x, "_fields"):
            for field, value in zip(x._fields, x, strict=True):
                if isinstance(value, np.ndarray) and field not in SCRATCH:
                    out[f"{type(x).__name__}.{field}"] = value
    return out


def _compare(name: str, w: World, week: int | None = None):
    args = _args(w, name, week)
    a = copy.deepcopy(args)
    b = copy.deepcopy(args)
    out_fast = getattr(core, name)(*a)
    out_ref = getattr(reference, name)(*b)
    fast, ref = _arrays(a), _arrays(b)
    for key, x in fast.items():
        np.testing.assert_array_equal(x, ref[key], err_msg=f"{name}: {key} differs")
    if out_fast is not None:
        np.testing.assert_array_equal(np.asarray(out_fast), np.asarray(out_ref))
    return a


@pytest.mark.parametrize("name", KERNELS)
def test_kernel_matches_reference(name, world):
    args = _compare(name, world)
    # the kernel did something: some output array changed
    after, before = _arrays(args), _arrays(_args(world, name))
    changed = any(not np.array_equal(x, before[key]) for key, x in after.items())
    assert changed, f"{name} changed nothing"


def test_kernels_match_over_a_sequence_of_weeks():
    """Run all phases for several weeks on one world; both implementations stay identical throughout."""
    fast, ref = World([25, 40, 3], seed=9), World([25, 40, 3], seed=9)
    for week in range(fast.week, fast.week + 8):
        for name in PHASES:
            for world, module in ((fast, core), (ref, reference)):
                getattr(module, name)(*_args(world, name, week))
        for attr in STATE:
            np.testing.assert_array_equal(getattr(fast, attr), getattr(ref, attr), err_msg=f"week {week}: {attr}")
    assert fast.deg.sum() > 0 and fast.visit_count.sum() > 0


def test_initiative_slots_above_those_in_use_match_reference_as_they_fill():
    """The initiatives' loops stop at the highest slot in use. Initiatives in the first two of twelve slots, a
    drop-out of last week flagged above them: the flag is cleared, and over the weeks foundings fill the slots
    above and drop out again, exactly as in the reference."""
    fast, ref = World([25, 40, 3], seed=4, max_init=12), World([25, 40, 3], seed=4, max_init=12)
    for w in (fast, ref):
        for g in range(len(w.init_active)):
            if g % 12 >= 2:
                w.member_of[w.member_of == g] = -1
                w.init_active[g], w.init_members[g], w.champion[g], w.host[g] = 0, 0, -1, -1
        w.dropped[5] = 1
    highest = 0
    for week in range(fast.week, fast.week + 30):
        for name in PHASES:
            for world, module in ((fast, core), (ref, reference)):
                args = _args(world, name, week)
                if name == "initiative_step":  # many foundings
                    args = (*args[:4], args[4]._replace(founding_s=np.full(world.n_st, 0.5)), *args[5:])
                getattr(module, name)(*args)
        for attr in (*STATE, "dropped", "founded"):
            np.testing.assert_array_equal(getattr(fast, attr), getattr(ref, attr), err_msg=f"week {week}: {attr}")
        assert week > fast.week or fast.dropped[5] == 0
        active = np.flatnonzero(fast.init_active.reshape(-1, 12).any(axis=0))
        highest = max(highest, active.max() if len(active) else 0)
    assert highest >= 4 and fast.dropped.any()  # foundings well above the first slots, and drop-outs


def test_awareness_where_nobody_is_contacted_matches_reference():
    """Where nobody is contacted this week, the awareness kernel takes a path of its own (every Stadtteil of a
    spin-up). Two such Stadtteile where no role has worked and one where one has, beside one with contacts, and
    some residents at a venue last week (they do not forget): over twelve weeks the states stay those of the
    reference; in the first two Stadtteile residents both learn of the local offers and forget them, and in the
    third some hear of the roles' work from their ties."""
    fast, ref = World([30, 45, 60, 12], seed=6), World([30, 45, 60, 12], seed=6)
    at_venue = np.random.default_rng(3).random(len(fast.venue)) < 0.4
    for w in (fast, ref):
        w.eff = w.eff._replace(contacts=np.array([0.0, 0.0, 0.0, 3.0]), programme=np.array([0.0, 0.0, 1.0, 0.0]))
        w.venue[at_venue] = 0
    quiet, news = slice(0, fast.st_off[2]), slice(fast.st_off[2], fast.st_off[3])
    knew = fast.knows_role[news].sum()
    learned = forgot = 0
    for week in range(fast.week, fast.week + 12):
        before = fast.aware[quiet].copy()
        for world, module in ((fast, core), (ref, reference)):
            module.awareness_step(*_args(world, "awareness_step", week))
        for attr in ("aware", "knows_role", "last_contact"):
            np.testing.assert_array_equal(getattr(fast, attr), getattr(ref, attr), err_msg=f"week {week}: {attr}")
        learned += int((fast.aware[quiet] > before).sum())
        forgot += int((fast.aware[quiet] < before).sum())
    assert learned > 0 and forgot > 0
    assert fast.knows_role[news].sum() > knew


def test_synthesis_matches_reference():
    """The starting population drawn from the Stadtteile' profiles, numba and Python alike."""
    a, b = World([40, 0, 25], seed=5), World([40, 0, 25], seed=5)
    key = np.uint64(week_key(np.uint64(77), np.int64(0)))
    core.synthesise(a.pop, a.venues, a.demog, TRAITS, -156, key)
    reference.synthesise(b.pop, b.venues, b.demog, TRAITS, -156, int(key))
    for field in a.pop._fields:
        np.testing.assert_array_equal(getattr(a.pop, field), getattr(b.pop, field), err_msg=field)
    assert len(np.unique(a.age)) > 10 and a.mig.any() and a.inc.any() and (a.health == 4).any()


def test_init_ties_and_initiatives_match_reference():
    a, b = World([20, 33], seed=2), World([20, 33], seed=2)
    for w in (a, b):
        w.tie_j[:] = -1
        w.tie_w[:] = 0
        w.tie_slot[:] = -1
        w.deg[:] = 0
        w.member_of[:] = -1
        for arr in (w.init_active, w.init_members):
            arr[:] = 0
        w.champion[:] = -1
    key = np.uint64(week_key(np.uint64(99), np.int64(0)))
    core.init_ties(a.pop, a.ties, 5.0, 20.0, 0.4, 0.7, key)
    reference.init_ties(b.pop, b.ties, 5.0, 20.0, 0.4, 0.7, int(key))
    np.testing.assert_array_equal(a.tie_j, b.tie_j)
    np.testing.assert_array_equal(a.tie_w, b.tie_w)
    assert a.deg.sum() > 0
    n_init = np.array([2, 3])
    core.init_initiatives(a.pop, a.inits, a.venues, n_init, 3.0, 0.5, 0.3, key)
    reference.init_initiatives(b.pop, b.inits, b.venues, n_init, 3.0, 0.5, 0.3, int(key))
    for field, x in _arrays((a.pop, a.inits)).items():
        np.testing.assert_array_equal(x, _arrays((b.pop, b.inits))[field], err_msg=field)
    assert a.init_active.sum() == 5 and (a.champion[a.init_active == 1] >= 0).all()


def test_dropout_hazards_match_reference(world):
    out_fast, out_ref = np.zeros(len(world.init_active)), np.zeros(len(world.init_active))
    prm = PRM["initiative_step"]
    core.dropout_hazards(world.pop, world.inits, prm, world.week, out_fast)
    reference.dropout_hazards(world.pop, world.inits, prm, world.week, out_ref)
    np.testing.assert_array_equal(out_fast, out_ref)
    assert (out_fast[world.init_active == 1] > 0).all() and (out_fast[world.init_active == 0] == 0).all()


@given(st.integers(0, 2**64 - 1), st.integers(-10**6, 10**6), st.integers(0, 10**7), st.integers(0, 64))
def test_counter_random_numbers_match_python(key, week, counter, draw):
    wk = week_key(np.uint64(key), np.int64(week))
    assert int(wk) == week_key_py(key, week)
    u = uniform(np.uint64(wk), counter, draw)
    assert u == uniform_py(int(wk), counter, draw)
    assert 0.0 <= u < 1.0
    assert int(mix64(np.uint64(key))) == mix64_py(key)


@given(st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=9), st.integers(-10**6, 10**6))
def test_week_keys_of_several_streams_at_once_are_each_streams_week_key(keys, week):
    out = np.zeros(len(keys), dtype=np.uint64)
    week_keys(np.array(keys, dtype=np.uint64), np.int64(week), out)
    assert [int(k) for k in out] == [week_key_py(k, week) for k in keys]


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


def _week_args(w: World, week: int, live: np.ndarray | None = None, block: int = core.BLOCK_RESIDENTS):
    """Arguments of :func:`core.week_step` on world ``w``, with the same parameters as :func:`_args`, and blocks
    of at most ``block`` residents."""
    keys = np.array([w.key(week=week, stream=len(name)) for name in PHASES], dtype=np.uint64)
    prm = [PRM[name] for name in PHASES]
    prm[-1] = prm[-1]._replace(founding_s=np.full(w.n_st, 0.02))
    return (w.pop, w.ties, w.venues, w.inits, w.eff, w.demog, *prm, week, keys, np.zeros((w.n_st, 3), np.int64),
            np.ones(w.n_st, np.uint8) if live is None else live, core.stadtteil_blocks(w.st_off, block))


#: the phase kernels that return counts per Stadtteil, and their column in ``week_step``'s counts
_COUNTED = {"demography_step": 0, "awareness_step": 1, "visit_step": 2}


def _phase_by_phase(w: World, week: int) -> np.ndarray:
    """One week of the phase kernels in the model's order; the counts of the three that return them per Stadtteil
    (residents who left, contacted, at role activities)."""
    counts = np.zeros((w.n_st, 3), np.int64)
    for name in PHASES:
        out = getattr(core, name)(*_args(w, name, week))
        if name in _COUNTED:
            counts[:, _COUNTED[name]] = out
    return counts


STATE = ("age", "mig", "inc", "health", "stille", "threshold", "aware", "lonely", "ready", "volunteer", "member_of",
         "last_active", "last_contact", "last_role", "last_health", "knows_role", "arrived", "tie_j", "tie_w",
         "tie_slot", "deg",
         "venue", "visit_count", "init_active", "init_members", "init_weeks", "champion", "host", "advised",
         "place_used")


def test_stadtteil_blocks_cover_the_stadtteile_in_order_within_the_size():
    st_off = np.cumsum([0, 30, 0, 1, 45, 12, 60, 7])
    assert core.stadtteil_blocks(st_off, 10**9).tolist() == [0, 7]
    assert core.stadtteil_blocks(st_off, 1).tolist() == [0, 1, 3, 4, 5, 6, 7]  # 0 and 1 resident together
    assert core.stadtteil_blocks(st_off, 50).tolist() == [0, 3, 4, 5, 6, 7]  # 31, 45, 12, 60, 7
    for size in (1, 13, 46, 75, 155, 10**9):
        b = core.stadtteil_blocks(st_off, size)
        assert b[0] == 0 and b[-1] == 7 and (np.diff(b) > 0).all()
        residents = np.diff(st_off[b])
        assert ((residents <= size) | (np.diff(b) == 1)).all()  # within the size, or a single Stadtteil


@pytest.mark.parametrize(("threads", "block"), [(1, core.BLOCK_RESIDENTS), (2, core.BLOCK_RESIDENTS), (1, 1),
                                                (2, 1), (1, 50), (2, 50)])
def test_fused_week_equals_the_phase_kernels_in_order(threads, block):
    """``week_step`` (each block of Stadtteile through the whole week, blocks on threads) equals the phases in
    turn, whatever the blocks: all Stadtteile in one, each alone, or a few together."""
    import numba

    sizes = [30, 0, 1, 45, 12, 60, 7]
    by_phase, fused = World(sizes, seed=21), World(sizes, seed=21)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for week in range(by_phase.week, by_phase.week + 5):
            expected = _phase_by_phase(by_phase, week)
            args = _week_args(fused, week, block=block)
            core.week_step(*args)
            np.testing.assert_array_equal(args[-3], expected, err_msg=f"week {week}: counts")
            for attr in (*STATE, "founded", "dropped"):
                np.testing.assert_array_equal(getattr(fused, attr), getattr(by_phase, attr),
                                              err_msg=f"week {week}: {attr}")
            np.testing.assert_array_equal(fused.inits.n_found, by_phase.inits.n_found)
            np.testing.assert_array_equal(fused.inits.n_drop, by_phase.inits.n_drop)
    finally:
        numba.set_num_threads(previous)
    assert by_phase.deg.sum() > 0 and by_phase.visit_count.sum() > 0 and by_phase.init_active.sum() > 0


#: state per initiative slot (the rest of STATE is per resident, or per place)
_SLOT_STATE = ("init_active", "init_members", "init_weeks", "champion", "host", "advised")


def test_a_stadtteil_no_longer_live_is_left_as_it_is_and_the_others_are_unchanged():
    """``week_step`` with ``live[s] == 0`` leaves Stadtteil s as it was, with no flows, and every other Stadtteil
    gets the numbers of the week with all Stadtteile live (Stadtteile are independent within a week)."""
    sizes = [30, 0, 45, 12, 60]
    whole, part = World(sizes, seed=5), World(sizes, seed=5)
    stop = 2  # Stadtteil 2 is simulated for the first two weeks, then no longer
    live = np.ones(len(sizes), np.uint8)
    lo, hi = whole.st_off[stop], whole.st_off[stop + 1]
    slots = slice(stop * whole.max_init, (stop + 1) * whole.max_init)
    frozen = {}
    for week in range(whole.week, whole.week + 6):
        if week == whole.week + 2:
            live[stop] = 0
            frozen = {attr: copy.deepcopy(getattr(part, attr)) for attr in STATE if attr != "place_used"}
        core.week_step(*_week_args(whole, week))
        args = _week_args(part, week, live)
        counts = args[-3]
        counts[:] = 7  # whatever the week before left
        core.week_step(*args)
        if live[stop] == 0:
            assert not counts[stop].any() and part.inits.n_found[stop] == 0 and part.inits.n_drop[stop] == 0
            assert not part.founded[slots].any() and not part.dropped[slots].any()
    others = np.ones(whole.n, dtype=bool)
    others[lo:hi] = False
    other_slots = np.ones(len(whole.init_active), dtype=bool)
    other_slots[slots] = False
    for attr in STATE:
        if attr == "place_used":
            continue
        mask = other_slots if attr in _SLOT_STATE else others
        np.testing.assert_array_equal(getattr(part, attr)[mask], getattr(whole, attr)[mask], err_msg=attr)
        np.testing.assert_array_equal(getattr(part, attr)[~mask], frozen[attr][~mask], err_msg=attr)
    # the frozen Stadtteil would have changed: the check above is not vacuous
    assert any(not np.array_equal(getattr(whole, attr)[lo:hi], frozen[attr][lo:hi])
               for attr in ("aware", "lonely", "tie_w", "venue", "last_active"))


def _index_probe(module: str):
    """``a[i]`` compiled as a function of ``module``."""
    namespace = {"__name__": module}
    exec("def at(a, i):\n    return a[i]\n", namespace)
    return numba.njit(namespace["at"])


def test_kernels_index_without_wrap_around_and_other_code_keeps_numbas_rule():
    """The kernels' modules take a negative index as it is (see ``kernels.codegen``); other code keeps numba's
    rule that -1 is the last element."""
    base = np.arange(10)
    view = base[5:]
    assert codegen.installed() == {"no_wraparound": True, "noalias": True}
    assert _index_probe("tests.probe")(view, -1) == 9
    if numba.config.BOUNDSCHECK:  # the run of these tests with bounds checks (below): a negative index raises
        with pytest.raises(IndexError):
            _index_probe("quartiersim.kernels.probe")(view, -1)
    else:
        assert _index_probe("quartiersim.kernels.probe")(view, -1) == 4  # the element before the view


def test_kernels_arrays_are_marked_noalias_and_other_code_is_not():
    """The machine code of a kernel's module marks its array arguments ``noalias``; other code's does not."""

    def noalias_marks(module: str) -> int:
        probe = _index_probe(module)
        probe(np.arange(3), 1)
        (llvm,) = probe.inspect_llvm().values()
        define = next(line for line in llvm.splitlines() if line.startswith("define") and "cpython" not in line
                      and "cfunc" not in line)
        return define.count("noalias")

    assert noalias_marks("quartiersim.kernels.probe") > noalias_marks("tests.probe") >= 1  # retptr, excinfo


def test_arrays_that_share_memory_are_refused_before_a_kernel_sees_them():
    w = World([20, 5], seed=1)
    codegen.check_separate({"pop": w.pop, "ties": w.ties, "venues": w.venues, "inits": w.inits})
    base = np.zeros(30)
    with pytest.raises(RuntimeError, match="the kernels' arrays a and b share memory"):
        codegen.check_separate({"pop": w.pop, "a": base[:20], "ties": w.ties, "b": base[10:]})
    codegen.check_separate({"a": base[:10], "b": base[10:]})  # neighbours, not overlapping


@pytest.mark.skipif(numba.config.BOUNDSCHECK, reason="this is the run with bounds checks")
def test_kernels_never_index_with_a_negative_number_or_past_the_end(tmp_path):
    """This file's tests again, with numba's bounds checks on and kernels compiled anew: a kernel that indexes
    with a negative number (no longer read from the end) or past an array's end raises ``IndexError`` there."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    run = subprocess.run([sys.executable, "-m", "pytest", __file__, "-x", "-q", "-p", "no:cacheprovider"],
                         cwd=Path(__file__).parents[1], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
