"""Shared fixtures: small worlds for kernel tests and small scenarios for model tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

from quartiersim.kernels import core
from quartiersim.kernels.random import week_key
from quartiersim.kernels.state import Effects, Inits, Pop, Ties, Venues

# No wall-clock limits in tests (shared, noisy machines; a first call may load compiled kernels from the cache):
# hypothesis's default 200 ms deadline per example is switched off for every property test.
settings.register_profile("quartiersim", deadline=None)
settings.load_profile("quartiersim")


class World:
    """Arrays for a few small Stadtteile, consistent the way the model keeps them (symmetric ties etc.).

    The arrays are attributes (``w.aware``, ``w.tie_j``, ...) and the kernels' bundles (``w.pop``, ``w.ties``,
    ``w.venues``, ``w.inits``, ``w.eff``) hold the same arrays.
    """

    def __init__(self, sizes, seed=0, max_ties=6, n_places_per=2, max_init=3):
        rng = np.random.default_rng(seed)
        n_st = len(sizes)
        self.st_off = np.zeros(n_st + 1, dtype=np.int64)
        self.st_off[1:] = np.cumsum(sizes)
        n = int(self.st_off[-1])
        self.n = n
        self.weight_s = rng.uniform(1.0, 4.0, n_st)
        self.age = rng.integers(0, 95, n).astype(np.uint8)
        self.mig = (rng.random(n) < 0.5).astype(np.uint8)
        self.inc = (rng.random(n) < 0.3).astype(np.uint8)
        self.health = rng.integers(0, 5, n).astype(np.uint8)
        self.stille = (rng.random(n) < 0.2).astype(np.uint8)
        self.lonely = (rng.random(n) < 0.2).astype(np.uint8)
        self.aware = (rng.random(n) < 0.5).astype(np.uint8)
        self.participating = ((rng.random(n) < 0.3) & (self.age >= 14)).astype(np.uint8)
        self.volunteer = ((rng.random(n) < 0.4) & (self.age >= 14)).astype(np.uint8)
        self.threshold = rng.uniform(0.05, 1.0, n).astype(np.float32)
        self.max_init = max_init
        self.n_st = n_st
        places = np.array([n_places_per if s > 0 else 0 for s in sizes])
        self.pl_off = np.zeros(n_st + 1, dtype=np.int64)
        self.pl_off[1:] = np.cumsum(places)
        self.n_places = int(self.pl_off[-1])
        self.place_cap = rng.integers(0, 6, self.n_places).astype(np.int32)
        self.place_bf = (rng.random(self.n_places) < 0.5).astype(np.uint8)
        self.place_lt = (rng.random(self.n_places) < 0.5).astype(np.uint8)
        self.place_used = np.zeros(self.n_places, dtype=np.int32)
        st = np.repeat(np.arange(n_st), sizes)
        self.home_place = np.where(places[st] > 0, self.pl_off[st] + rng.integers(0, 10**6, n) % np.maximum(
            places[st], 1), -1).astype(np.int32)
        # the stand-in place while the home place is closed (capacity 0): another place of the Stadtteil
        self.alt_place = np.where(places[st] > 0, self.pl_off[st] + rng.integers(0, 10**6, n) % np.maximum(
            places[st], 1), -1).astype(np.int32)
        self.init_active = np.zeros(n_st * max_init, dtype=np.uint8)
        self.init_members = np.zeros(n_st * max_init, dtype=np.int32)
        self.init_weeks = np.zeros(n_st * max_init, dtype=np.int32)
        # drop-out hazard multipliers: 1 for most, lower for initiatives with a grant
        self.init_rr = np.where(rng.random(n_st * max_init) < 0.3, 0.6, 1.0)
        self.founded = np.zeros(n_st * max_init, dtype=np.uint8)
        self.dropped = np.zeros(n_st * max_init, dtype=np.uint8)
        self.member_of = np.full(n, -1, dtype=np.int32)
        for s in range(n_st):
            for k in range(max_init):
                if rng.random() < 0.6 and sizes[s] > 0:
                    g = s * max_init + k
                    members = rng.choice(np.arange(self.st_off[s], self.st_off[s + 1]),
                                         size=min(sizes[s], 1 + int(rng.integers(0, 4))), replace=False)
                    for i in members:
                        if self.member_of[i] < 0:
                            self.member_of[i] = g
                            self.init_members[g] += 1
                    self.init_active[g] = 1 if self.init_members[g] > 0 else 0
        self.venue = np.full(n, -1, dtype=np.int32)
        self.visit_count = np.zeros(n, dtype=np.uint16)
        self.tie_j = np.full((n, max_ties), -1, dtype=np.int32)
        self.tie_w = np.zeros((n, max_ties), dtype=np.float32)
        self.tie_slot = np.full((n, max_ties), -1, dtype=np.int8)
        self.deg = np.zeros(n, dtype=np.int16)
        self.n_venues = self.n_places + n_st * max_init
        self.pop = Pop(self.st_off, self.weight_s, self.age, self.mig, self.inc, self.health, self.stille,
                       self.threshold, self.aware, np.zeros(n, np.uint8), self.lonely, np.zeros(n, np.uint8),
                       self.participating, np.zeros(n, np.uint8), self.volunteer, self.member_of, self.home_place,
                       self.alt_place, self.venue, self.visit_count)
        self.ties = Ties(self.tie_j, self.tie_w, self.tie_slot, self.deg)
        self.venues = Venues(self.pl_off, self.n_places, self.place_cap, self.place_bf, self.place_lt,
                             self.place_used, np.zeros(self.n_venues, np.int32), np.zeros(self.n_venues, np.int64),
                             np.zeros(max(n, 1), np.int32))
        self.inits = Inits(max_init, self.init_active, self.init_members, self.init_weeks, self.init_rr,
                           self.founded, self.dropped, np.zeros(n_st, np.int64), np.zeros(n_st, np.int64))
        core.init_ties(self.pop, self.ties, 4.0, 20.0, 0.5, 0.7, np.uint64(week_key(np.uint64(seed + 11), np.int64(0))))
        effect = {k: rng.uniform(0.0, 0.5, n_st) for k in ("outreach", "events", "activation", "health", "advice")}
        effect["bridging"] = rng.uniform(0.3, 1.0, n_st)
        effect["support"] = rng.uniform(0.0, 10.0, n_st)
        self.eff = Effects(**effect)
        self.rr_health = np.array([1.0, 4.0, 12.0, 30.0, 85.0])

    def key(self, week=3, stream=7):
        return np.uint64(week_key(np.uint64(stream * 1_000_003 + 5), np.int64(week)))


@pytest.fixture
def world():
    return World([30, 0, 1, 45, 12], seed=4)
