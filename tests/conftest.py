"""Shared fixtures: small worlds for kernel tests and small scenarios for model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

from quartiersim.kernels import core
from quartiersim.kernels.random import week_key
from quartiersim.kernels.state import NEVER, Effects, Inits, Pop, Ties, TraitPrm, Venues
from quartiersim.population import AGE_PROFILE, AGE_PROFILE_EDGES, demography_tables

# No wall-clock limits in tests (shared, noisy machines; a first call may load compiled kernels from the cache):
# hypothesis's default 200 ms deadline per example is switched off for every property test.
settings.register_profile("quartiersim", deadline=None)
settings.load_profile("quartiersim")

#: trait rules for the test worlds (values that make every branch of the rules happen on small worlds)
TRAITS = TraitPrm(AGE_PROFILE_EDGES, AGE_PROFILE, 0.35, 0.3, 0.1, 0.2, 3.0, 2.0, 2.0, 0.05, 0.2, 0.5, 0.3, 0.4,
                  0.45, 0.3)


class World:
    """State for a few small Stadtteile, random but consistent the way the model keeps it (symmetric ties etc.).

    The arrays are attributes (``w.aware``, ``w.tie_j``, ...) and the kernels' bundles (``w.pop``, ``w.ties``,
    ``w.venues``, ``w.inits``, ``w.eff``, ``w.demog``) hold the same arrays. ``w.week`` is the week the state
    describes; last-activity, contact and role weeks lie shortly before it or never.
    """

    def __init__(self, sizes, seed=0, max_ties=6, n_places_per=2, max_init=3, week=60):
        rng = np.random.default_rng(seed)
        n_st = len(sizes)
        self.week = week
        self.st_off = np.zeros(n_st + 1, dtype=np.int64)
        self.st_off[1:] = np.cumsum(sizes)
        n = int(self.st_off[-1])
        self.n = n
        self.n_st = n_st
        self.max_init = max_init
        self.weight_s = rng.uniform(1.0, 4.0, n_st)
        st = np.repeat(np.arange(n_st), sizes)
        self.stadtteil = st

        def recent(p):
            """Weeks of a past event: within the last 80 weeks with chance p, else never."""
            return np.where(rng.random(n) < p, week - rng.integers(0, 80, n), NEVER).astype(np.int32)

        profile = pd.DataFrame({
            "age_under_18_share": rng.uniform(0.1, 0.25, n_st), "age_65plus_share": rng.uniform(0.1, 0.3, n_st),
            "residence_under_5y_share": rng.uniform(0.2, 0.6, n_st),
            "health_limitation_share": rng.uniform(0.1, 0.4, n_st),
            "migration_share": rng.uniform(0.2, 0.8, n_st), "low_income_share": rng.uniform(0.05, 0.3, n_st),
            "buergergeld_u25_share": rng.uniform(0.05, 0.3, n_st)})
        self.demog = demography_tables(profile)
        # exits far more often than in a city, so that a few weeks on a small world see residents leave
        self.demog = self.demog._replace(exit_prob=np.minimum(1.0, 40 * self.demog.exit_prob))
        self.age = rng.integers(0, 101, n).astype(np.uint8)
        self.mig = (rng.random(n) < 0.5).astype(np.uint8)
        self.inc = (rng.random(n) < 0.3).astype(np.uint8)
        self.health = rng.integers(0, 5, n).astype(np.uint8)
        self.stille = (rng.random(n) < 0.2).astype(np.uint8)
        self.lonely = (rng.random(n) < 0.2).astype(np.uint8)
        self.aware = (rng.random(n) < 0.5).astype(np.uint8)
        self.ready = ((rng.random(n) < 0.3) & (self.age >= 14)).astype(np.uint8)
        self.volunteer = ((rng.random(n) < 0.4) & (self.age >= 14)).astype(np.uint8)
        self.threshold = rng.uniform(0.05, 1.0, n).astype(np.float32)
        places = np.array([n_places_per if s > 0 else 0 for s in sizes])
        self.pl_off = np.zeros(n_st + 1, dtype=np.int64)
        self.pl_off[1:] = np.cumsum(places)
        self.n_regular = np.maximum(places - 1, 0).astype(np.int64)  # the last place of each is a Quartierstreff
        self.n_places = int(self.pl_off[-1])
        self.place_cap = rng.integers(0, 6, self.n_places).astype(np.int32)
        self.place_bf = (rng.random(self.n_places) < 0.5).astype(np.uint8)
        self.place_lt = (rng.random(self.n_places) < 0.5).astype(np.uint8)
        self.place_used = np.zeros(self.n_places, dtype=np.int32)
        n_reg = self.n_regular[st]
        self.home_place = np.where(n_reg > 0, self.pl_off[st] + rng.integers(0, 10**6, n) % np.maximum(n_reg, 1),
                                   -1).astype(np.int32)
        n_slots = n_st * max_init
        self.init_active = np.zeros(n_slots, dtype=np.uint8)
        self.init_members = np.zeros(n_slots, dtype=np.int32)
        self.init_weeks = np.zeros(n_slots, dtype=np.int32)
        # drop-out hazard multipliers: 1 for most, lower for initiatives with a grant
        self.init_rr = np.where(rng.random(n_slots) < 0.3, 0.6, 1.0)
        self.champion = np.full(n_slots, -1, dtype=np.int32)
        self.host = np.full(n_slots, -1, dtype=np.int32)
        self.advised = np.where(rng.random(n_slots) < 0.5, week - rng.integers(0, 30, n_slots), NEVER).astype(np.int32)
        self.diverse = (rng.random(n_slots) < 0.3).astype(np.uint8)
        self.founded = np.zeros(n_slots, dtype=np.uint8)
        self.dropped = np.zeros(n_slots, dtype=np.uint8)
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
                    if self.init_members[g] > 0:
                        self.init_active[g] = 1
                        own = np.flatnonzero(self.member_of == g)
                        if rng.random() < 0.7:
                            self.champion[g] = own[0]
                        if rng.random() < 0.5:
                            self.host[g] = self.pl_off[s] + int(rng.integers(0, places[s]))
        self.venue = np.full(n, -1, dtype=np.int32)
        self.visit_count = np.zeros(n, dtype=np.uint16)
        self.last_active = recent(0.5)
        self.last_contact = recent(0.2)
        self.last_role = recent(0.2)
        self.last_health = recent(0.1)
        self.arrived = (week - rng.integers(0, 600, n)).astype(np.int32)
        self.birthday = rng.integers(0, 52, n).astype(np.uint8)
        self.knows_role = (rng.random(n) < 0.3).astype(np.uint8)
        self.tie_j = np.full((n, max_ties), -1, dtype=np.int32)
        self.tie_w = np.zeros((n, max_ties), dtype=np.float32)
        self.tie_slot = np.full((n, max_ties), -1, dtype=np.int8)
        self.deg = np.zeros(n, dtype=np.int16)
        self.n_venues = self.n_places + n_slots + n_st
        self.pop = Pop(
            st_off=self.st_off, weight_s=self.weight_s, age=self.age, birthday=self.birthday, arrived=self.arrived,
            mig=self.mig, inc=self.inc, health=self.health, stille=self.stille, threshold=self.threshold,
            u_income=rng.random(n).astype(np.float32), u_health=rng.random(n).astype(np.float32),
            u_stille=rng.random(n).astype(np.float32), u_threshold=rng.random(n).astype(np.float32),
            aware=self.aware, aware_new=np.zeros(n, np.uint8), lonely=self.lonely, lonely_new=np.zeros(n, np.uint8),
            ready=self.ready, ready_new=np.zeros(n, np.uint8), volunteer=self.volunteer, member_of=self.member_of,
            home_place=self.home_place, venue=self.venue, visit_count=self.visit_count, last_active=self.last_active,
            last_contact=self.last_contact, last_role=self.last_role, last_health=self.last_health,
            knows_role=self.knows_role, knows_new=np.zeros(n, np.uint8),
            order=np.zeros(n, np.int32))
        self.ties = Ties(self.tie_j, self.tie_w, self.tie_slot, self.deg)
        self.venues = Venues(self.pl_off, self.n_regular, self.n_places, self.place_cap, self.place_bf,
                             self.place_lt, self.place_used, np.zeros(self.n_venues, np.int32),
                             np.zeros(self.n_venues, np.int64), np.zeros(max(n, 1), np.int32))
        self.inits = Inits(max_init, self.init_active, self.init_members, self.init_weeks, self.init_rr,
                           self.champion, self.host, self.advised, self.diverse, self.founded, self.dropped,
                           np.zeros(n_st, np.int64), np.zeros(n_st, np.int64))
        core.init_ties(self.pop, self.ties, 4.0, 20.0, 0.5, 0.7, np.uint64(week_key(np.uint64(seed + 11), np.int64(0))))
        # role outputs: in about half the Stadtteile (the rest have none, as without a programme)
        on = rng.random(n_st) < 0.5
        self.eff = Effects(contacts=np.where(on, rng.uniform(0, 6, n_st), 0.0),
                           attendance=np.where(on, rng.uniform(0, 6, n_st), 0.0),
                           health_reach=np.where(on, rng.uniform(0, 3, n_st), 0.0),
                           advice_sessions=np.where(on, rng.uniform(0, 4, n_st), 0.0),
                           network_meetings=np.where(on, rng.uniform(0, 4, n_st), 0.0),
                           rehost=(rng.random(n_st) < 0.5).astype(np.float64),
                           programme=(rng.random(n_st) < 0.7).astype(np.float64))

    def key(self, week=3, stream=7):
        return np.uint64(week_key(np.uint64(stream * 1_000_003 + 5), np.int64(week)))


@pytest.fixture
def world():
    return World([30, 0, 1, 45, 12], seed=4)
