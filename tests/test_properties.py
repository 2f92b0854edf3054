"""Invariants of the weekly kernels on random worlds (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quartiersim.kernels import core

from .conftest import World
from .test_kernels import _phase_by_phase


def _check_invariants(w: World, n_before: int):
    n = w.n
    assert n == n_before  # population conserved: no resident appears or disappears
    # ties: within bound, symmetric, degree consistent, strengths in (0, 1], same Stadtteil
    k_max = w.tie_j.shape[1]
    assert (w.deg >= 0).all() and (w.deg <= k_max).all()
    assert ((w.tie_j >= 0).sum(axis=1) == w.deg).all()
    # compact rows: the ties of i fill its first deg[i] slots
    assert ((w.tie_j >= 0) == (np.arange(k_max)[None, :] < w.deg[:, None])).all()
    st_of = np.repeat(np.arange(w.n_st), np.diff(w.st_off))
    for i in range(n):
        for a in range(k_max):
            j = w.tie_j[i, a]
            if j < 0:
                assert w.tie_w[i, a] == 0
                continue
            assert j != i
            b = w.tie_slot[i, a]
            assert w.tie_j[j, b] == i and w.tie_slot[j, b] == a
            assert w.tie_w[j, b] == w.tie_w[i, a]
            assert 0.0 < w.tie_w[i, a] <= 1.0
            assert st_of[j] == st_of[i]
        row = w.tie_j[i][w.tie_j[i] >= 0]
        assert len(set(row.tolist())) == len(row)  # no double ties
    # capacity respected, no negative stocks
    assert (w.place_used <= np.maximum(w.place_cap, 0)).all() and (w.place_used >= 0).all()
    assert (w.init_members >= 0).all()
    for arr in (w.aware, w.lonely, w.ready, w.volunteer, w.knows_role):
        assert set(np.unique(arr).tolist()) <= {0, 1}
    # membership only in active initiatives of one's own Stadtteil; counts agree; champions are members
    members = w.member_of[w.member_of >= 0]
    assert (w.init_active[members] == 1).all()
    assert (members // w.max_init == st_of[w.member_of >= 0]).all()
    np.testing.assert_array_equal(np.bincount(members, minlength=len(w.init_members)), w.init_members)
    for g in np.flatnonzero(w.champion >= 0):
        assert w.init_active[g] == 1 and w.member_of[w.champion[g]] == g
    # a host is a place of the initiative's own Stadtteil
    for g in np.flatnonzero(w.host >= 0):
        s = g // w.max_init
        assert w.init_active[g] == 1 and w.pl_off[s] <= w.host[g] < w.pl_off[s + 1]
    # children are neither mobilised nor volunteers; ages stay in range; traits follow the rules
    assert (w.ready[w.age < 14] == 0).all() and (w.volunteer[w.age < 14] == 0).all()
    assert (w.age <= 100).all() and (w.health <= 4).all()
    assert ((w.threshold > 0) & (w.threshold <= 1)).all()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5), seed=st.integers(0, 10**6),
       weeks=st.integers(1, 6))
def test_weekly_kernels_keep_invariants(sizes, seed, weeks):
    w = World(sizes, seed=seed)
    n0 = w.n
    for week in range(w.week, w.week + weeks):
        _phase_by_phase(w, week)
        _check_invariants(w, n0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5), seed=st.integers(0, 10**6))
def test_group_shares_are_in_unit_interval(sizes, seed):
    w = World(sizes, seed=seed)
    out = np.zeros((w.n_st, core.N_GROUPS, core.N_QUANTITIES))
    access = (np.random.default_rng(seed).random((w.n_st, 4)) < 0.5).astype(np.uint8)
    core.group_stats(w.pop, w.ties, access, w.week, out)
    assert (out >= 0).all()
    # persons in group 'all' sum to the weighted population
    np.testing.assert_allclose(out[:, 0, 0], np.diff(w.st_off) * w.weight_s)
    for num, den in ((2, 1), (4, 3), (7, 6), (8, 6), (9, 0), (10, 0), (11, 6), (12, 6), (13, 6)):
        ok = out[:, :, den] > 0
        share = out[:, :, num][ok] / out[:, :, den][ok]
        assert ((share >= 0) & (share <= 1 + 1e-12)).all()
    # migration and no_migration partition 'all'
    np.testing.assert_allclose(out[:, 1, :] + out[:, 2, :], out[:, 0, :])
