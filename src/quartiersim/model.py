"""The quarter model: one Mesa model over Stuttgart's Stadtteile with a weekly step of named phases.

``QuarterModel.step()`` advances one calendar week and runs these phases in this order
(:data:`QuarterModel.PHASES`; ``QuarterModel.describe_phases()`` prints them):

1. ``roles``: each active municipal role spends its weekly hours by task in the Stadtteile it serves; the
   hours become per-Stadtteil effects (outreach, events, networking, advice, health networks, support) and
   cost. Quartierstreffs of roles open and close with their role; initiatives' funding rounds run.
2. ``awareness``: residents learn of local offers through general channels, ties and outreach; forget them.
3. ``visits``: initiative meetings and meeting-place visits within capacity, thresholds and accessibility.
4. ``encounters``: attendees of one venue meet; chance encounters in the Stadtteil; ties form by
   proximity and similarity or are refreshed.
5. ``ties``: private contact keeps ties; without it they decay and end.
6. ``loneliness``: spontaneous onset raised by poor health, low income, migration background, isolation
   and lonely ties; recovery through ties.
7. ``participation``: threshold participation and volunteering.
8. ``initiatives``: drop-outs (lowered by intermediary support), members joining, foundings.
9. ``report``: at the end of each reporting period, the indicators per Stadtteil and group.

Each resident-level phase is one kernel from :mod:`quartiersim.kernels.core`; the model only prepares the
per-Stadtteil effects and keeps the books.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from typing import Any

import mesa
import numpy as np
import pandas as pd

from quartiersim.agents import PLACE_KINDS, Initiative, MeetingPlace, MunicipalRole
from quartiersim.areas import area_index, need_percentile
from quartiersim.data import (
    INDICATOR_NAMES,
    load_city_indicators,
    load_indicators,
    load_stadtteile,
    select_stadtteile,
    simulated_rows,
)
from quartiersim.errors import InputError
from quartiersim.funding import FundingRounds
from quartiersim.kernels import core
from quartiersim.kernels.random import week_key
from quartiersim.outputs import Recorder
from quartiersim.population import synthesise, volunteer_start_shares
from quartiersim.rng import RunStreams
from quartiersim.spec import TASKS, Scenario, resolve_scenario
from quartiersim.strategies import plan
from quartiersim.threads import kernel_threads, model_threads

_T = {t: k for k, t in enumerate(TASKS)}


class QuarterModel(mesa.Model):
    """Social quarter development in Stuttgart's Stadtteile, stepped weekly.

    Args:
        scenario: a scenario file path, the name of a scenario in ``scenarios/``, a
            :class:`~quartiersim.spec.Scenario`, or None for the bundled default.
        rng: the run's seed (an int; a numpy Generator is turned into one). Without it the model warns and
            draws a seed from the operating system; ``model.seed`` records it.
        seed: the same as ``rng`` (Mesa's older name; ``mesa.batch_run`` passes ``seed=`` to a model that has it).
        **overrides: scenario fields (``scale``, ``stadtteile``, ``start``, ``end``, ``report``, ...) or
            parameter names with new values (as ``mesa.batch_run`` passes them).

    Attributes:
        spec: the resolved scenario.
        params: the resolved parameters.
        residents: the array-backed population.
        date: the first day of the week the next step simulates.
        recorder: the reported indicators (``model.results()`` gives the tidy table).
        datacollector: a Mesa DataCollector with the date and the city-wide indicators at each report.
        threads: the numba threads the weekly kernel uses (:mod:`quartiersim.threads`).

    """

    PHASES: tuple[str, ...] = ("roles", "awareness", "visits", "encounters", "ties", "loneliness",
                               "participation", "initiatives", "report")

    def __init__(self, scenario: str | Scenario | None = None, rng: Any = None, seed: int | None = None,
                 **overrides: Any):
        if seed is not None:  # another name for rng: mesa.batch_run passes seed= to a model that declares it
            if rng is not None:
                raise ValueError("pass either rng or seed, not both (they are the same: the run's seed)")
            rng = seed
        spec = resolve_scenario(scenario, **overrides)
        if rng is None:
            warnings.warn("QuarterModel built without a seed: results will not be reproducible; pass rng=<int>",
                          UserWarning, stacklevel=2)
            seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        elif isinstance(rng, np.random.Generator):
            seed = int(rng.integers(0, 2**63 - 1))
        else:
            seed = int(rng)
        super().__init__(rng=seed)
        self.seed = seed
        self.spec = spec
        self.params = spec.params
        self.streams = RunStreams(seed)
        self._keys = self.streams.keys()
        self.time_phases = False
        t0 = time.perf_counter()
        self._load_inputs()
        self._build_population()
        # kernel threads: one in workers, on busy cores and for small runs (threads.py)
        self.threads = model_threads(self.n_st, len(self.residents))
        self._build_roles()
        self._build_places()
        self._init_state()
        self._alloc_buffers()
        self.funding: FundingRounds | None = None
        if spec.initiative_funding is not None:
            need = need_percentile(self.ranking)
            need_s = np.array([need.get(int(n), 0.0) for n in self.profile["number"]])
            self.funding = FundingRounds(self, spec.initiative_funding, need_s)
        self.setup_seconds = time.perf_counter() - t0
        self.n_weeks = (spec.end - spec.start).days // 7 + 1
        self.recorder = Recorder(self.profile["stadtteil"].tolist(), spec.report)
        t0 = time.perf_counter()
        self._spin_up(spec.spinup_weeks)
        self.spinup_seconds = time.perf_counter() - t0
        self.phase_seconds: dict[str, float] = {}
        self.latest: dict[str, float] = {}
        self.latest_date = spec.start
        self.datacollector = mesa.DataCollector(model_reporters={
            "date": lambda m: pd.Timestamp(m.latest_date),  # the report's date (its period's last day)
            **{name: (lambda m, name=name: m.latest.get(name, float("nan"))) for name in Recorder.CITY_REPORTERS},
        })
        self._collect(report=False)

    # ------------------------------------------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------------------------------------------

    def _load_inputs(self) -> None:
        spec = self.spec
        table = load_stadtteile(spec.path_of(spec.stadtteile_file))
        city = load_city_indicators()
        indicators = load_indicators(spec.path_of(spec.indicators_file), stadtteile=table, city=city)
        rows = simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin)
        profile = table.iloc[rows].reset_index(drop=True)
        ind = indicators.set_index("number").loc[profile["number"]].reset_index(drop=True)
        self.stadtteile_table = table
        self.profile = pd.concat([profile, ind.drop(columns=["stadtteil", "bezirk"])], axis=1)
        self.city_indicators = city
        self.n_st = len(self.profile)
        try:
            self.ranking = area_index(indicators, city, table, spec.area_index)
        except ValueError as exc:
            raise InputError(spec.origin, "area_index", str(exc)) from None
        self.plan = plan(spec, table, self.ranking, simulated=self.profile["number"].tolist())

    def _build_population(self) -> None:
        p = self.params
        self.max_init = int(p.max_initiatives)
        self.residents = synthesise(self.profile, self.spec.scale, p, self.streams.generator("population"),
                                    int(p.max_ties), float(self.city_indicators.loc["migration_share", "value"]))
        self.pop_s = self.profile["population"].to_numpy(dtype=np.float64)

    def _build_places(self) -> None:
        """Generate meeting places per Stadtteil, add the roles' Quartierstreffs, assign residents."""
        p, r = self.params, self.residents
        gen = self.streams.generator("places")
        records = []  # (stadtteil index, kind, barrier_free, low_threshold, opens, closes, role)
        for s in range(self.n_st):
            if self.pop_s[s] <= 0:
                continue
            n_places = max(1, int(round(self.pop_s[s] * p.places_per_10000 / 10000.0)))
            for _ in range(n_places):
                kind = PLACE_KINDS[int(gen.integers(0, 4))]
                records.append((s, kind, bool(gen.random() < p.barrier_free_share),
                                bool(gen.random() < p.low_threshold_share), None, None, None))
        numbers = self.profile["number"].tolist()
        for role in self.roles:
            if any(state.quartierstreff for state in role.states):
                for s in role.served:
                    if self.pop_s[s] > 0:
                        records.append((int(s), "Quartierstreff", True, True, role.spec.start, role.spec.end, role))
        order = sorted(range(len(records)), key=lambda k: (records[k][0], k))
        records = [records[k] for k in order]
        self.place_st = np.array([rec[0] for rec in records], dtype=np.int64)
        self.pl_off = np.searchsorted(self.place_st, np.arange(self.n_st + 1)).astype(np.int64)
        self.n_places = len(records)
        self.place_bf = np.array([rec[2] for rec in records], dtype=np.uint8)
        self.place_lt = np.array([rec[3] for rec in records], dtype=np.uint8)
        cap_persons = p.place_capacity * p.place_capacity_factor
        agents_per_person = np.where(self.pop_s > 0, np.diff(r.st_off) / np.maximum(self.pop_s, 1), 0.0)
        self.place_cap_full = np.rint(cap_persons * agents_per_person[self.place_st]).astype(np.int32)
        self.place_cap = self.place_cap_full.copy()
        self.place_used = np.zeros(self.n_places, dtype=np.int32)
        self.places: list[MeetingPlace] = []
        for k, (s, kind, bf, lt, opens, closes, role) in enumerate(records):
            self.places.append(MeetingPlace(self, k, kind, numbers[s], cap_persons, bf, lt, opens, closes, role))
        self._dated_places = [pl for pl in self.places if pl.opens is not None]
        # home place: any place of the Stadtteil; fallback: a regular place (used while the home Treff is closed)
        st = r.stadtteil
        counts = np.diff(self.pl_off)
        pick = (gen.random(len(r)) * np.maximum(counts[st], 1)).astype(np.int64)
        r.home_place[:] = np.where(counts[st] > 0, self.pl_off[st] + pick, -1)
        regular = np.flatnonzero([rec[4] is None for rec in records])
        reg_off = np.searchsorted(self.place_st[regular], np.arange(self.n_st + 1))
        reg_counts = np.diff(reg_off)
        pick = (gen.random(len(r)) * np.maximum(reg_counts[st], 1)).astype(np.int64)
        if len(regular):
            r.alt_place[:] = np.where(reg_counts[st] > 0, regular[np.minimum(reg_off[st] + pick, len(regular) - 1)],
                                      -1)
        self._update_place_capacity(self.spec.start)

    def _served(self, selection: Any, role_name: str) -> np.ndarray:
        """Model indices of the Stadtteile a role serves; those the run does not simulate are left out.

        The selection is checked against all Stadtteile, so a misspelt one is an error even when the run
        covers only some of them.
        """
        if selection == "all":
            return np.arange(self.n_st)
        rows = select_stadtteile(self.stadtteile_table, selection,
                                 source=f"{self.spec.origin}, role '{role_name}'")
        numbers = set(self.stadtteile_table["number"].iloc[rows].astype(int))
        return np.flatnonzero(self.profile["number"].astype(int).isin(numbers).to_numpy())

    def _build_roles(self) -> None:
        """The roles of the scenario's plan: its own roles after Verstetigung, and the allocated teams."""
        self.roles: list[MunicipalRole] = [
            MunicipalRole(self, role, self._served(role.stadtteile, role.name), self.params.hours_per_fte)
            for role in self.plan.roles
        ]

    def _init_state(self) -> None:
        """Starting network, loneliness near its equilibrium, and the starting initiatives."""
        p, r = self.params, self.residents
        core.init_ties(r.st_off, r.age, r.migration, r.low_income, r.tie_j, r.tie_w, r.tie_slot, r.deg,
                       p.ties_initial_mean, p.homophily_age_scale, p.bridging_factor, p.income_factor,
                       np.uint64(week_key(np.uint64(self._keys["ties_init"]), np.int64(0))))
        self.rr_health = np.array([1.0, p.lonely_rr_good, p.lonely_rr_fair, p.lonely_rr_poor,
                                   p.lonely_rr_very_poor])
        onset = p.lonely_onset_base * self.rr_health[r.health]
        onset = onset * np.where(r.migration == 1, p.lonely_rr_migration, 1.0)
        onset = onset * np.where(r.low_income == 1, p.lonely_rr_low_income, 1.0)
        strength = r.tie_w.sum(axis=1)
        onset = onset * np.where(strength < 2.0, p.lonely_rr_isolated, 1.0)
        recovery = p.lonely_recovery_base + p.lonely_recovery_per_tie * strength
        p_lonely = onset / (onset + recovery)
        gen = self.streams.generator("loneliness")
        r.lonely[:] = gen.random(len(r)) < p_lonely
        # initiatives
        n_slots = self.n_st * self.max_init
        self.init_active = np.zeros(n_slots, dtype=np.uint8)
        self.init_members = np.zeros(n_slots, dtype=np.int32)
        self.init_weeks = np.zeros(n_slots, dtype=np.int32)
        self.init_rr = np.ones(n_slots)  # drop-out hazard multiplier per slot (grants lower it)
        self.init_founded = np.zeros(n_slots, dtype=np.uint8)
        self.init_dropped = np.zeros(n_slots, dtype=np.uint8)
        n_init_s = np.rint(self.pop_s * p.initiative_initial_per_1000 / 1000.0).astype(np.int64)
        core.init_initiatives(r.st_off, r.weight_s, r.volunteer, r.participating, r.age, r.member_of,
                              self.init_active, self.init_members, n_init_s, 8.0, self.max_init,
                              np.uint64(week_key(np.uint64(self._keys["initiatives_init"]), np.int64(0))))
        self.initiatives: dict[int, Initiative] = {}
        numbers = self.profile["number"].to_numpy()
        for g in np.flatnonzero(self.init_active):
            self.initiatives[int(g)] = Initiative(self, int(g), int(numbers[g // self.max_init]),
                                                  self.spec.start)
        # volunteering start rates that keep the starting shares in equilibrium without interventions
        mig_city = float(self.city_indicators.loc["migration_share", "value"])
        p_no, p_mig = volunteer_start_shares(p, mig_city)
        part0 = p.participation_initial * p.awareness_initial
        norm = (1.0 - part0) + part0 * p.volunteer_participation_rr
        self.volunteer_start_no = p.volunteer_quit_rate * p_no / max(1.0 - p_no, 1e-9) / norm
        self.volunteer_start_mig = p.volunteer_quit_rate * p_mig / max(1.0 - p_mig, 1e-9) / norm

    def _alloc_buffers(self) -> None:
        """Everything the weekly step writes into, allocated once."""
        n, n_st = len(self.residents), self.n_st
        n_venues = self.n_places + n_st * self.max_init
        self.aware_buf = np.empty(n, dtype=np.uint8)
        self.lonely_buf = np.empty(n, dtype=np.uint8)
        self.part_buf = np.empty(n, dtype=np.uint8)
        self.v_count = np.zeros(n_venues, dtype=np.int32)
        self.v_start = np.zeros(n_venues, dtype=np.int64)
        self.v_members = np.zeros(max(n, 1), dtype=np.int32)
        self.n_found = np.zeros(n_st, dtype=np.int64)
        self.n_drop = np.zeros(n_st, dtype=np.int64)
        self._wkeys = np.zeros(len(self.PHASES) - 2, dtype=np.uint64)
        self._prm = self._phase_parameters()
        self.task_hours = np.zeros((n_st, len(TASKS)))
        self.week_role_hours = np.zeros(n_st)
        self.week_cost = np.zeros(n_st)
        self.per_1000 = np.where(self.pop_s > 0, 1000.0 / np.maximum(self.pop_s, 1.0), 0.0)
        self.effects = {k: np.zeros(n_st) for k in ("outreach", "events", "activation", "bridging", "health",
                                                       "advice", "support")}
        self.stats = np.zeros((n_st, core.N_GROUPS, core.N_QUANTITIES))
        self.access_s = np.zeros((n_st, 4), dtype=np.uint8)
        self.period_dropouts = np.zeros(n_st)
        self.period_founded = np.zeros(n_st)
        self.period_role_hours = np.zeros(n_st)
        self.period_cost = np.zeros(n_st)
        self.period_grants = np.zeros(n_st)

    def _spin_up(self, weeks: int) -> None:
        """Run ``weeks`` weeks before the start date (no role is active then, nothing is reported).

        The synthetic starting state is only a first guess; the spin-up lets ties, awareness, participation,
        loneliness and initiatives settle into the model's own steady state before the period begins.
        """
        self.week = -weeks
        self.date = self.spec.start + dt.timedelta(days=7 * self.week)
        while self.week < 0:
            self._phase_roles()
            with kernel_threads(self.threads):
                self._resident_week()
            self.week += 1
            self.date = self.spec.start + dt.timedelta(days=7 * self.week)
        self.residents.visit_count[:] = 0
        for acc in (self.period_dropouts, self.period_founded, self.period_role_hours, self.period_cost,
                    self.period_grants):
            acc[:] = 0.0

    # ------------------------------------------------------------------------------------------------------
    # the weekly step
    # ------------------------------------------------------------------------------------------------------

    @classmethod
    def describe_phases(cls) -> str:
        """The weekly phases in order, one paragraph each (the numbered list of the module docstring)."""
        items: list[str] = []
        for line in (__doc__ or "").splitlines():
            text = line.strip()
            if text[:2].rstrip(".").isdigit():
                items.append(text)
            elif items and text and line.startswith(" "):  # an item's continuation line
                items[-1] += " " + text
            elif items and not text:  # the blank line after the list
                break
        return "\n".join(items)

    def step(self) -> None:
        """Advance one week: run every phase in :data:`PHASES` order.

        By default the resident-level phases (awareness to initiatives) run as one kernel that takes each
        Stadtteil through the whole week in turn (:func:`quartiersim.kernels.core.week_step`), and
        ``phase_seconds`` times ``roles``, ``residents`` and ``report``. With ``time_phases = True`` each phase
        runs as its own kernel over all Stadtteile and is timed on its own; the results are identical.
        """
        if self.week >= self.n_weeks:
            self.running = False
            return
        timer = self.phase_seconds
        t0 = time.perf_counter()
        self._phase_roles()
        t1 = time.perf_counter()
        timer["roles"] = timer.get("roles", 0.0) + t1 - t0
        if self.time_phases:
            for name in self.PHASES[1:-1]:
                getattr(self, f"_phase_{name}")()
                t2 = time.perf_counter()
                timer[name] = timer.get(name, 0.0) + t2 - t1
                t1 = t2
        else:
            with kernel_threads(self.threads):
                self._resident_week()
            t2 = time.perf_counter()
            timer["residents"] = timer.get("residents", 0.0) + t2 - t1
            t1 = t2
        self._phase_report()
        timer["report"] = timer.get("report", 0.0) + time.perf_counter() - t1
        self.week += 1
        self.date = self.spec.start + dt.timedelta(days=7 * self.week)
        if self.week >= self.n_weeks:
            self.running = False

    def _wrapped_step(self) -> None:
        """Mesa's step: after the scenario's end it does nothing, so ``steps`` and ``time`` stay at the end."""
        if self.week >= self.n_weeks:
            self.running = False
            return
        super()._wrapped_step()

    def _wkey(self, stream: str) -> int:
        return np.uint64(week_key(np.uint64(self._keys[stream]), np.int64(self.week)))

    def _phase_parameters(self) -> dict[str, tuple]:
        """Each resident-level phase's scalar parameters, in the order of its kernel's arguments."""
        p = self.params
        return {
            "awareness": (float(p.awareness_base_rate), float(p.awareness_word_of_mouth),
                          float(p.awareness_stille_factor), float(p.awareness_forget_rate)),
            "visits": (float(p.visit_base), float(p.visit_health_barrier), float(p.visit_threshold_factor),
                       float(p.visit_lonely_factor), float(p.visit_child_factor), float(p.initiative_meeting_prob)),
            "encounters": (int(p.encounters_per_visit), float(p.tie_formation_prob), float(p.homophily_age_scale),
                           float(p.bridging_factor), float(p.income_factor), float(p.neighbour_encounter_rate)),
            "ties": (float(p.tie_contact_rate), math.exp(-math.log(2.0) / p.tie_half_life), float(p.tie_min_weight)),
            "loneliness": (float(p.lonely_onset_base), float(p.lonely_rr_migration), float(p.lonely_rr_low_income),
                           float(p.lonely_rr_isolated), float(p.lonely_contagion), float(p.lonely_recovery_base),
                           float(p.lonely_recovery_per_tie)),
            "participation": (float(p.member_activation), float(p.participation_quit_rate),
                              float(p.participation_turnover), float(p.participation_spontaneous),
                              float(p.volunteer_quit_rate), float(self.volunteer_start_no),
                              float(self.volunteer_start_mig), float(p.volunteer_participation_rr)),
            "initiatives": (float(p.initiative_founding_rate), float(p.advice_effect), float(p.initiative_join_prob),
                            float(p.initiative_dropout_base), float(p.initiative_support_effect),
                            float(p.support_half_hours), float(p.initiative_min_members),
                            float(p.initiative_small_rr)),
        }

    def _update_place_capacity(self, date: dt.date) -> None:
        for place in self._dated_places:
            k = place.index
            self.place_cap[k] = self.place_cap_full[k] if place.is_open(date) else 0

    def _phase_roles(self) -> None:
        p = self.params
        self.task_hours[:] = 0.0
        self.week_role_hours[:] = 0.0
        self.week_cost[:] = 0.0
        self._update_place_capacity(self.date)
        for role in self.roles:
            role.work(self.date)
        h = self.task_hours * self.per_1000[:, None]  # hours per week per 1,000 residents
        e = self.effects
        e["outreach"][:] = p.outreach_effect * _sat(h[:, _T["outreach"]], p.outreach_half_hours)
        events = _sat(h[:, _T["events"]], p.events_half_hours)
        e["events"][:] = p.events_effect * events
        e["activation"][:] = p.events_activation * events
        e["bridging"][:] = np.minimum(1.0, p.bridging_factor * (
            1.0 + p.networking_bridging_effect * _sat(h[:, _T["networking"]], p.networking_half_hours)))
        e["health"][:] = p.health_promotion_effect * _sat(h[:, _T["health_network"]], p.health_half_hours)
        e["advice"][:] = _sat(h[:, _T["advice"]], p.advice_half_hours)
        e["support"][:] = self.task_hours[:, _T["advice"]] + self.task_hours[:, _T["networking"]]
        self.period_role_hours += self.week_role_hours
        self.period_cost += self.week_cost
        if self.funding is not None and self.week >= 0:
            self.funding.week(self.date)

    def _resident_week(self) -> None:
        """Awareness to initiatives for every Stadtteil, as one kernel (see :meth:`step`)."""
        r, e, prm = self.residents, self.effects, self._prm
        for k, name in enumerate(self.PHASES[1:-1]):
            self._wkeys[k] = self._wkey(name)
        core.week_step(
            r.st_off, self.pl_off, r.weight_s, self.n_places, self.max_init,
            r.age, r.migration, r.low_income, r.health, r.stille, r.threshold,
            r.aware, self.aware_buf, r.lonely, self.lonely_buf, r.participating, self.part_buf, r.volunteer,
            r.member_of, r.home_place, r.alt_place, r.venue, r.visit_count,
            r.tie_j, r.tie_w, r.tie_slot, r.deg,
            self.place_cap, self.place_bf, self.place_lt, self.place_used, self.v_count, self.v_start,
            self.v_members, self.init_active, self.init_members, self.init_weeks, self.init_rr, self.init_founded,
            self.init_dropped, self.n_found, self.n_drop,
            e["outreach"], e["events"], e["activation"], e["bridging"], e["health"], e["advice"], e["support"],
            self.rr_health, prm["awareness"], prm["visits"], prm["encounters"], prm["ties"], prm["loneliness"],
            prm["participation"], prm["initiatives"], self._wkeys)
        r.aware, self.aware_buf = self.aware_buf, r.aware
        r.lonely, self.lonely_buf = self.lonely_buf, r.lonely
        r.participating, self.part_buf = self.part_buf, r.participating
        self._initiative_books()

    def _phase_awareness(self) -> None:
        r = self.residents
        core.awareness_step(r.st_off, r.aware, self.aware_buf, r.stille, r.venue, r.tie_j, r.deg,
                            self.effects["outreach"], *self._prm["awareness"], self._wkey("awareness"))
        r.aware, self.aware_buf = self.aware_buf, r.aware

    def _phase_visits(self) -> None:
        r = self.residents
        core.visit_step(r.st_off, self.pl_off, r.aware, r.stille, r.health, r.age, r.lonely, r.member_of,
                        r.home_place, r.alt_place, self.place_cap, self.place_bf, self.place_lt,
                        self.place_used, self.effects["events"], r.venue, r.visit_count, *self._prm["visits"],
                        self.n_places, self._wkey("visits"))

    def _phase_encounters(self) -> None:
        r = self.residents
        per_visit, p_form, age_scale, *street = self._prm["encounters"]  # the venue bridging factors go between
        core.encounter_step(r.st_off, self.pl_off, r.venue, self.n_places, self.max_init, self.v_count,
                            self.v_start, self.v_members, r.age, r.migration, r.low_income, r.tie_j, r.tie_w,
                            r.tie_slot, r.deg, per_visit, p_form, age_scale, self.effects["bridging"], *street,
                            self._wkey("encounters"))

    def _phase_ties(self) -> None:
        r = self.residents
        core.tie_step(r.st_off, r.tie_j, r.tie_w, r.tie_slot, r.deg, *self._prm["ties"], self._wkey("ties"))

    def _phase_loneliness(self) -> None:
        r = self.residents
        core.loneliness_step(r.st_off, r.lonely, self.lonely_buf, r.health, r.migration, r.low_income, r.tie_j,
                             r.tie_w, r.deg, self.rr_health, self.effects["health"], *self._prm["loneliness"],
                             self._wkey("loneliness"))
        r.lonely, self.lonely_buf = self.lonely_buf, r.lonely

    def _phase_participation(self) -> None:
        r = self.residents
        core.participation_step(r.st_off, r.age, r.migration, r.aware, r.participating, self.part_buf,
                                r.volunteer, r.threshold, r.member_of, r.tie_j, r.deg, self.effects["activation"],
                                *self._prm["participation"], self._wkey("participation"))
        r.participating, self.part_buf = self.part_buf, r.participating

    def _phase_initiatives(self) -> None:
        r = self.residents
        core.initiative_step(
            r.st_off, r.weight_s, r.age, r.aware, r.participating, r.volunteer, r.member_of, self.init_active,
            self.init_members, self.init_weeks, self.init_rr, self.init_founded, self.init_dropped, self.n_found,
            self.n_drop,
            self.effects["advice"], self.effects["support"], *self._prm["initiatives"], self.max_init,
            self._wkey("initiatives"))
        self._initiative_books()

    def _initiative_books(self) -> None:
        """Count foundings and drop-outs, and keep the Initiative agents in step with the slots."""
        n_found, n_drop = self.n_found, self.n_drop
        self.period_dropouts += n_drop
        self.period_founded += n_found
        if n_drop.any():
            self.init_rr[self.init_dropped == 1] = 1.0  # a grant ends with its initiative
            for g in np.flatnonzero(self.init_dropped):
                agent = self.initiatives.pop(int(g), None)
                if agent is not None:
                    agent.remove()
        if n_found.any():
            numbers = self.profile["number"].to_numpy()
            for g in np.flatnonzero(self.init_founded):
                self.initiatives[int(g)] = Initiative(self, int(g), int(numbers[g // self.max_init]), self.date)

    def _phase_report(self) -> None:
        period_end = self.recorder.period_end(self.date, self.spec.end)
        next_date = self.date + dt.timedelta(days=7)
        last_week = self.week + 1 >= self.n_weeks
        if last_week or self.recorder.period_end(next_date, self.spec.end) != period_end:
            self._collect(report=True, label=period_end)

    # ------------------------------------------------------------------------------------------------------
    # reporting
    # ------------------------------------------------------------------------------------------------------

    def _compute_stats(self) -> None:
        r = self.residents
        open_ = self.place_cap > 0
        for s in range(self.n_st):
            lo, hi = self.pl_off[s], self.pl_off[s + 1]
            o, bf, lt = open_[lo:hi], self.place_bf[lo:hi] == 1, self.place_lt[lo:hi] == 1
            self.access_s[s, 0] = o.any()
            self.access_s[s, 1] = (o & bf).any()
            self.access_s[s, 2] = (o & lt).any()
            self.access_s[s, 3] = (o & bf & lt).any()
        core.group_stats(r.st_off, r.weight_s, r.age, r.migration, r.low_income, r.health, r.stille, r.lonely,
                         r.aware, r.participating, r.volunteer, r.deg, r.tie_j, r.visit_count, self.access_s,
                         self.stats)

    def _collect(self, report: bool, label: dt.date | None = None) -> None:
        self._compute_stats()
        active = self.init_active.reshape(self.n_st, self.max_init).sum(axis=1).astype(np.float64)
        if report:
            funded = ((self.init_active == 1) & (self.init_rr < 1.0)).reshape(self.n_st, self.max_init).sum(axis=1)
            self.recorder.add(label, self.stats, active, self.period_dropouts, self.period_role_hours,
                              self.period_cost, self.period_grants, funded.astype(np.float64))
            self.residents.visit_count[:] = 0
            self.period_dropouts[:] = 0.0
            self.period_founded[:] = 0.0
            self.period_role_hours[:] = 0.0
            self.period_cost[:] = 0.0
            self.period_grants[:] = 0.0
        self.latest = Recorder.city_values(self.stats, active)
        self.latest_date = label if report else self.date
        self.datacollector.collect(self)

    # ------------------------------------------------------------------------------------------------------
    # running and results
    # ------------------------------------------------------------------------------------------------------

    def run(self, progress=None) -> pd.DataFrame:
        """Step until the scenario's end date; ``progress(week, n_weeks)`` is called after each week."""
        while self.running:
            self.step()
            if progress is not None:
                progress(self.week, self.n_weeks)
        return self.results()

    def results(self) -> pd.DataFrame:
        """The tidy table ``date, stadtteil, indicator, group, value`` of everything reported so far."""
        return self.recorder.to_frame()

    def fallback_table(self) -> pd.DataFrame:
        """Per simulated Stadtteil, each input indicator and whether it is a city-wide fallback value."""
        cols = ["number", "stadtteil", "bezirk", "population", "counted_in"]
        for name in INDICATOR_NAMES:
            cols += [name, f"{name}_fallback"]
        return self.profile[cols + ["indicator_source"]].copy()


def _sat(hours: np.ndarray, half: float) -> np.ndarray:
    return np.where(hours > 0, hours / (hours + half), 0.0)
