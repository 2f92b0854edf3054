"""The quarter model: one Mesa model over Stuttgart's Stadtteile with a weekly step of named phases.

``QuarterModel.step()`` advances one calendar week and runs these phases in this order
(:data:`QuarterModel.PHASES`; ``QuarterModel.describe_phases()`` prints them):

1. ``roles``: each active role spends its hours by task in its Stadtteile; the hours become countable outputs.
2. ``demography``: birthdays; residents who move away or die are replaced by newcomers from the profile.
3. ``awareness``: outreach contacts with named residents; learning of local offers; forgetting them.
4. ``visits``: role events and health offers, initiative meetings, meeting-place visits within capacity.
5. ``encounters``: attendees of one venue meet, as do neighbours by chance; ties form or are refreshed.
6. ``ties``: private contact keeps ties; without it they decay and end.
7. ``loneliness``: onset raised by health, income, migration, isolation and lonely ties; recovery via ties.
8. ``participation``: mobilisation by the share of active ties (thresholds); volunteering starts and stops.
9. ``initiatives``: hosts, advice, network meetings, champions, drop-outs, members joining, foundings.
10. ``report``: at the end of each reporting period, the indicators per Stadtteil and group.

The roles act only through what their hours produce (:mod:`quartiersim.kernels.state`, ``Effects``): outreach
contacts (persons per hour), attendances at events (an event's attendance per the hours that prepare it),
health offers, advice sessions and network meetings. Each resident-level phase is one kernel from
:mod:`quartiersim.kernels.core`; the model only turns hours into those outputs and keeps the books.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
import warnings
from typing import Any

import mesa
import numpy as np
import pandas as pd

from quartiersim.agents import PLACE_KINDS, Initiative, MeetingPlace, MunicipalRole
from quartiersim.areas import need_percentile
from quartiersim.data import (
    INDICATOR_NAMES,
    select_stadtteile,
    simulated_rows,
)
from quartiersim.errors import InputError
from quartiersim.funding import FundingRounds
from quartiersim.kernels import codegen, core
from quartiersim.kernels.random import week_key, week_keys
from quartiersim.kernels.state import (
    AwarenessPrm,
    Effects,
    EncounterPrm,
    InitiativePrm,
    Inits,
    LonelinessPrm,
    ParticipationPrm,
    TiePrm,
    Venues,
    VisitPrm,
    WeekPrm,
    age_similarity,
)
from quartiersim.outputs import Recorder
from quartiersim.population import allocate, demography_tables, trait_parameters
from quartiersim.rng import RunStreams
from quartiersim.spec import TASKS, Scenario, resolve_scenario, scenario_inputs
from quartiersim.strategies import plan
from quartiersim.threads import kernel_threads, model_threads

_T = {t: k for k, t in enumerate(TASKS)}
#: during the spin-up, the rates that hold the inputs (volunteering, the density of initiatives) are set anew
#: every so many weeks from the state reached, and once more at its end
RETUNE_WEEKS = 13


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
        residents: the array-backed population (its bundles ``pop`` and ``ties`` are what the kernels read).
        date: the first day of the week the next step simulates.
        recorder: the reported indicators (``model.results()`` gives the tidy table).
        datacollector: a Mesa DataCollector with the date and the city-wide indicators at each report.
        threads: the numba threads the weekly kernel uses (:mod:`quartiersim.threads`).

    """

    PHASES: tuple[str, ...] = ("roles", "demography", "awareness", "visits", "encounters", "ties", "loneliness",
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
        self.week = -spec.spinup_weeks
        self.date = spec.start + dt.timedelta(days=7 * self.week)
        self._load_inputs()
        self._build_roles()
        self._build_places()
        self._build_population()
        # kernel threads: one in workers, on busy cores and for small runs (threads.py)
        self.threads = model_threads(self.n_st, len(self.residents))
        self._init_state()
        self._alloc_buffers()
        self.funding: FundingRounds | None = None
        if spec.initiative_funding is not None:
            need = need_percentile(self.ranking)
            need_s = np.array([need.get(int(n), 0.0) for n in self.profile["number"]])
            self.funding = FundingRounds(self, spec.initiative_funding, need_s)
        # the kernels take their arrays as not overlapping (kernels.codegen): hold the bundles to it
        codegen.check_separate({"pop": self.pop, "ties": self.ties, "venues": self.venues, "inits": self.inits,
                                "effects": self.effects, "demog": self.demog, "wkeys": self._wkeys,
                                "counts": self.counts, "live_s": self.live_s, "blocks": self._blocks,
                                "stats": self.stats, "access_s": self.access_s, "hazards": self.hazards,
                                **{f"prm.{name}": prm for name, prm in zip(self._prm._fields, self._prm,
                                                                           strict=True)}})
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
        try:  # read once per file content in this process (a calibration's worker makes many runs)
            table, city, indicators, self.ranking = scenario_inputs(spec)
        except ValueError as exc:
            raise InputError(spec.origin, "area_index", str(exc)) from None
        rows = simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin)
        profile = table.iloc[rows].reset_index(drop=True)
        ind = indicators.set_index("number").loc[profile["number"]].reset_index(drop=True)
        self.stadtteile_table = table
        self.profile = pd.concat([profile, ind.drop(columns=["stadtteil", "bezirk"])], axis=1)
        self.city_indicators = city
        self.n_st = len(self.profile)
        self.plan = plan(spec, table, self.ranking, simulated=self.profile["number"].tolist())

    def _build_places(self) -> None:
        """Generate meeting places per Stadtteil and add the roles' Quartierstreffs (after the regular ones)."""
        p = self.params
        self.max_init = int(p.max_initiatives)
        self.pop_s = self.profile["population"].to_numpy(dtype=np.float64)
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
        for role in self.roles:
            if any(state.quartierstreff for state in role.states):
                for s in role.served:
                    if self.pop_s[s] > 0:
                        records.append((int(s), "Quartierstreff", True, True, role.spec.start, role.spec.end, role))
        # grouped by Stadtteil, regular places first, Quartierstreffs after them
        order = sorted(range(len(records)), key=lambda k: (records[k][0], records[k][6] is not None, k))
        records = [records[k] for k in order]
        self.place_st = np.array([rec[0] for rec in records], dtype=np.int64)
        self.pl_off = np.searchsorted(self.place_st, np.arange(self.n_st + 1)).astype(np.int64)
        n_regular = np.bincount([rec[0] for rec in records if rec[6] is None], minlength=self.n_st)
        self.n_places = len(records)
        self.place_bf = np.array([rec[2] for rec in records], dtype=np.uint8)
        self.place_lt = np.array([rec[3] for rec in records], dtype=np.uint8)
        self.place_cap_persons = p.place_capacity * p.place_capacity_factor
        self.place_cap_full = np.zeros(self.n_places, dtype=np.int32)  # in agents, once the scale is known
        self.place_cap = np.zeros(self.n_places, dtype=np.int32)
        self.place_used = np.zeros(self.n_places, dtype=np.int32)
        numbers = self.profile["number"].tolist()
        self.places: list[MeetingPlace] = [
            MeetingPlace(self, k, kind, numbers[s], self.place_cap_persons, bf, lt, opens, closes, role)
            for k, (s, kind, bf, lt, opens, closes, role) in enumerate(records)]
        self._dated_places = [pl for pl in self.places if pl.opens is not None]
        n_venues = self.n_places + self.n_st * self.max_init + self.n_st
        self.venues = Venues(self.pl_off, n_regular.astype(np.int64), self.n_places, self.place_cap, self.place_bf,
                             self.place_lt, self.place_used, np.zeros(n_venues, dtype=np.int32),
                             np.zeros(n_venues, dtype=np.int64), np.zeros(1, dtype=np.int32))

    def _build_population(self) -> None:
        """Draw the residents from the Stadtteile' profiles (``population`` stream) into the kernels' arrays."""
        p = self.params
        self.residents = allocate(self.pop_s, self.spec.scale, int(p.max_ties))
        self.residents.week = self.week
        self.pop, self.ties = self.residents.pop, self.residents.ties
        n = len(self.residents)
        self.venues = self.venues._replace(v_members=np.zeros(max(n, 1), dtype=np.int32))
        agents_per_person = np.where(self.pop_s > 0, np.diff(self.pop.st_off) / np.maximum(self.pop_s, 1), 0.0)
        self.place_cap_full[:] = np.rint(self.place_cap_persons * agents_per_person[self.place_st])
        self._update_place_capacity(self.date)
        self.demog = demography_tables(self.profile)
        self.traits = trait_parameters(p, float(self.city_indicators.loc["migration_share", "value"]))
        core.synthesise(self.pop, self.venues, self.demog, self.traits, self.week, self._key0("population"))

    def _key0(self, stream: str) -> np.uint64:
        return np.uint64(week_key(np.uint64(self._keys[stream]), np.int64(0)))

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
        p, pop = self.params, self.pop
        core.init_ties(pop, self.ties, p.ties_initial_mean, p.homophily_age_scale, p.bridging_factor,
                       p.income_factor, self._key0("ties_init"))
        self.rr_health = np.array([1.0, p.lonely_rr_good, p.lonely_rr_fair, p.lonely_rr_poor,
                                   p.lonely_rr_very_poor])
        onset = p.lonely_onset_base * self.rr_health[pop.health]
        onset = onset * np.where(pop.mig == 1, p.lonely_rr_migration, 1.0)
        onset = onset * np.where(pop.inc == 1, p.lonely_rr_low_income, 1.0)
        onset = onset * np.where(pop.age >= 65, p.lonely_rr_age_65plus, 1.0)
        strength = self.ties.w.sum(axis=1)
        onset = onset * np.where(strength < 2.0, p.lonely_rr_isolated, 1.0)
        recovery = p.lonely_recovery_base + p.lonely_recovery_per_tie * strength
        gen = self.streams.generator("loneliness")
        pop.lonely[:] = gen.random(len(self.residents)) < onset / (onset + recovery)
        # initiatives
        n_slots = self.n_st * self.max_init
        self.inits = Inits(self.max_init, active=np.zeros(n_slots, dtype=np.uint8),
                           members=np.zeros(n_slots, dtype=np.int32), weeks=np.zeros(n_slots, dtype=np.int32),
                           rr=np.ones(n_slots), champion=np.full(n_slots, -1, dtype=np.int32),
                           host=np.full(n_slots, -1, dtype=np.int32),
                           advised=np.full(n_slots, core.NEVER, dtype=np.int32),
                           diverse=np.zeros(n_slots, dtype=np.uint8), founded=np.zeros(n_slots, dtype=np.uint8),
                           dropped=np.zeros(n_slots, dtype=np.uint8), n_found=np.zeros(self.n_st, dtype=np.int64),
                           n_drop=np.zeros(self.n_st, dtype=np.int64))
        i = self.inits
        self.init_active, self.init_members, self.init_weeks, self.init_rr = i.active, i.members, i.weeks, i.rr
        self.init_founded, self.init_dropped, self.n_found, self.n_drop = i.founded, i.dropped, i.n_found, i.n_drop
        self.n_init_s = np.rint(self.pop_s * p.initiative_initial_per_1000 / 1000.0).astype(np.int64)
        core.init_initiatives(pop, self.inits, self.venues, self.n_init_s, 8.0, float(p.initiative_hosted_initial),
                              float(p.diverse_funding_share), self._key0("initiatives_init"))
        self.initiatives: dict[int, Initiative] = {}
        # the week each slot's initiative was founded (those of the start: the first week), and the last week of
        # the pilot phase: initiatives founded by then are the cohort followed after funding ends
        self.init_founded_week = np.full(n_slots, self.week, dtype=np.int64)
        self.pilot_end_week = (self.spec.pilot_end - self.spec.start).days // 7
        self.st_numbers = self.profile["number"].to_numpy()  # each simulated Stadtteil's number, for its agents
        for g in np.flatnonzero(i.active):
            self.initiatives[int(g)] = Initiative(self, int(g), int(self.st_numbers[g // self.max_init]),
                                                  self.spec.start)

    def _alloc_buffers(self) -> None:
        """Everything the weekly step writes into, allocated once, and the phases' parameters."""
        n_st = self.n_st
        self._wkeys = np.zeros(len(self.PHASES) - 2, dtype=np.uint64)
        self._phase_keys = np.array([self._keys[name] for name in self.PHASES[1:-1]], dtype=np.uint64)
        self.counts = np.zeros((n_st, 3), dtype=np.int64)  # left, contacted, at role activities (agents)
        self.task_hours = np.zeros((n_st, len(TASKS)))
        self.week_role_hours = np.zeros(n_st)
        self.week_cost = np.zeros(n_st)
        self.rehost_s = np.zeros(n_st)
        self.programme_s = np.zeros(n_st)  # 1 once a role has worked in the Stadtteil
        self._outputs_left = False  # whether the effects may hold a week's outputs (not all zero)
        self.effects = Effects(*(np.zeros(n_st) for _ in Effects._fields[:-2]), rehost=self.rehost_s,
                               programme=self.programme_s)
        self.stats = np.zeros((n_st, core.N_GROUPS, core.N_QUANTITIES))
        self.access_s = np.zeros((n_st, 4), dtype=np.uint8)
        self.hazards = np.zeros(len(self.init_active))
        self.period = {name: np.zeros(n_st) for name in ("dropouts", "founded", "role_hours", "cost", "grants",
                                                         "contacts", "attendances", "moved", "cohort_dropouts")}
        self.period_grants = self.period["grants"]  # quartiersim.funding books its grants here
        self.founding_s = np.zeros(n_st)
        # the last week each Stadtteil is simulated (stop_after), and which ones the weekly kernel steps
        self.last_week_s = np.full(n_st, np.iinfo(np.int64).max, dtype=np.int64)
        self.live_s = np.ones(n_st, dtype=np.uint8)
        # the week kernel's blocks of Stadtteile; on several threads at least four blocks a thread, as numba gives
        # each thread an equal number of blocks, whatever their size
        per_block = core.BLOCK_RESIDENTS
        if self.threads > 1:
            per_block = max(1, min(per_block, len(self.residents) // (4 * self.threads)))
        self._blocks = core.stadtteil_blocks(self.pop.st_off, per_block)
        self.volunteer_start_no, self.volunteer_start_mig = self._volunteer_start_rates(initial=True)
        self._prm = self._phase_parameters(replace_dropouts=True)

    def _volunteer_start_rates(self, initial: bool = False) -> tuple[float, float]:
        """Start rates of volunteering (without, with migration background) that keep the input shares.

        Volunteering is an input (Freiwilligensurvey 2019), not a calibrated outcome: a volunteer stops at
        ``volunteer_quit_rate``, and the start rates are set so that, at the current share of residents aged
        14+ who took part in an activity in the last year (those start ``volunteer_participation_rr`` times as
        often), the group's share stays at its input value. Newcomers volunteer with the same shares.
        """
        p, pop = self.params, self.pop
        rates = []
        for mig, share in ((0, self.traits.volunteer_no), (1, self.traits.volunteer_mig)):
            if initial:
                active = p.participation_initial * p.awareness_initial
            else:
                group = (pop.age >= 14) & (pop.mig == mig)
                recent = (self.week - pop.last_active[group]) < core.ACTIVE_WEEKS
                active = float(recent.mean()) if group.any() else 0.0
            norm = (1.0 - active) + active * p.volunteer_participation_rr
            rates.append(p.volunteer_quit_rate * share / max(1.0 - share, 1e-9) / max(norm, 1e-12))
        return rates[0], rates[1]

    def _founding_rates(self) -> np.ndarray:
        """Weekly foundings per engaged person that keep each Stadtteil's initiatives at their current number.

        The density of initiatives is an input (``initiative_initial_per_1000``): the expected drop-outs of a
        Stadtteil's active initiatives (their hazards now) divided by its engaged persons (aged 14+,
        volunteering, active in the last year, no member), so that without a programme foundings balance
        drop-outs. Where nobody is engaged, nothing can be founded.
        """
        core.dropout_hazards(self.pop, self.inits, self._prm.initiatives, self.week, self.hazards)
        expected = self.hazards.reshape(self.n_st, self.max_init).sum(axis=1)
        persons = self._engaged_persons()
        return np.where(persons > 0, expected / np.maximum(persons, 1e-12), 0.0)

    def _engaged_persons(self) -> np.ndarray:
        """Persons per Stadtteil who may found or join an initiative (14+, volunteering, active, no member)."""
        pop = self.pop
        engaged = ((pop.member_of < 0) & (pop.age >= 14) & (pop.volunteer == 1)
                   & ((self.week - pop.last_active) < core.ACTIVE_WEEKS))
        return np.bincount(self.residents.stadtteil[engaged], minlength=self.n_st) * pop.weight_s

    def initiative_flows(self) -> dict[str, float]:
        """Expected foundings and drop-outs of initiatives a week in the current state, city-wide.

        Drop-outs: the sum of the active initiatives' weekly chances; foundings: the no-programme founding
        rate times the engaged persons (advised foundings not included). Without a programme the two balance,
        so their difference is the systematic drift of the number of initiatives, free of the chance
        fluctuations of the count itself.
        """
        core.dropout_hazards(self.pop, self.inits, self._prm.initiatives, self.week, self.hazards)
        return {"dropouts": float((1.0 - np.exp(-self.hazards)).sum()),
                "foundings": float((self.founding_s * self._engaged_persons()).sum()),
                "active": float(self.init_active.sum())}

    def _spin_up(self, weeks: int) -> None:
        """Run ``weeks`` weeks before the start date (no role is active then, nothing is reported).

        The synthetic starting state is only a first guess; the spin-up lets ties, awareness, participation,
        loneliness and the make-up of the initiatives (champions, hosts) settle into the model's own steady
        state before the period begins. Meanwhile every initiative that drops out is replaced by a founding, so
        their number stays at its input density, and every :data:`RETUNE_WEEKS` weeks (and at the end) the
        volunteering start rates and the founding rates are set from the state reached (see
        :meth:`_volunteer_start_rates` and :meth:`_founding_rates`).
        """
        while self.week < 0:
            self._phase_roles()
            with kernel_threads(self.threads):
                self._resident_week()
            self.week += 1
            self.residents.week = self.week
            self.date = self.spec.start + dt.timedelta(days=7 * self.week)
            if self.week % RETUNE_WEEKS == 0 and self.week < 0:
                self.volunteer_start_no, self.volunteer_start_mig = self._volunteer_start_rates()
                self._prm = self._phase_parameters(replace_dropouts=True)
        self.volunteer_start_no, self.volunteer_start_mig = self._volunteer_start_rates(initial=weeks == 0)
        self._prm = self._phase_parameters(replace_dropouts=False)
        self.founding_s[:] = self._founding_rates()
        self.pop.visit_count[:] = 0
        for acc in self.period.values():
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
            if re.match(r"\d+\. ", text):
                items.append(text)
            elif items and text and line.startswith(" "):  # an item's continuation line
                items[-1] += " " + text
            elif items and not text:  # the blank line after the list
                break
        return "\n".join(items)

    def step(self) -> None:
        """Advance one week: run every phase in :data:`PHASES` order.

        By default the resident-level phases (demography to initiatives) run as one kernel that takes each block
        of Stadtteile through the whole week in turn (:func:`quartiersim.kernels.core.week_step`), and
        ``phase_seconds`` times ``roles``, ``residents`` and ``report``. With ``time_phases = True`` each phase
        runs as its own kernel over all Stadtteile and is timed on its own; the results are identical.
        """
        if self.week >= self.n_weeks:
            self.running = False
            return
        if self.time_phases and (self.last_week_s < self.n_weeks - 1).any():
            raise ValueError("time_phases runs every Stadtteil: it cannot be combined with stop_after")
        timer = self.phase_seconds
        t0 = time.perf_counter()
        self._phase_roles()
        t1 = time.perf_counter()
        timer["roles"] = timer.get("roles", 0.0) + t1 - t0
        if self.time_phases:
            week_keys(self._phase_keys, np.int64(self.week), self._wkeys)
            for name, wkey in zip(self.PHASES[1:-1], self._wkeys, strict=True):
                getattr(self, f"_phase_{name}")(wkey)
                t2 = time.perf_counter()
                timer[name] = timer.get(name, 0.0) + t2 - t1
                t1 = t2
            self._week_books()
        else:
            with kernel_threads(self.threads):
                self._resident_week()
            t2 = time.perf_counter()
            timer["residents"] = timer.get("residents", 0.0) + t2 - t1
            t1 = t2
        self._phase_report()
        timer["report"] = timer.get("report", 0.0) + time.perf_counter() - t1
        self.week += 1
        self.residents.week = self.week
        self.date = self.spec.start + dt.timedelta(days=7 * self.week)
        if self.week >= self.n_weeks:
            self.running = False

    def _wrapped_step(self) -> None:
        """Mesa's step: after the scenario's end it does nothing, so ``steps`` and ``time`` stay at the end."""
        if self.week >= self.n_weeks:
            self.running = False
            return
        super()._wrapped_step()

    def _phase_parameters(self, replace_dropouts: bool) -> WeekPrm:
        """Each resident-level phase's parameters (:class:`~quartiersim.kernels.state.WeekPrm`)."""
        p = self.params
        return WeekPrm(
            demography=self.traits,
            awareness=AwarenessPrm(float(p.awareness_base_rate), float(p.awareness_word_of_mouth),
                                   float(p.awareness_stille_factor), float(p.awareness_forget_rate),
                                   float(p.outreach_stille_weight), float(p.outreach_aware_prob),
                                   float(p.programme_word_of_mouth)),
            visits=VisitPrm(float(p.visit_base), float(p.visit_unready_factor), float(p.visit_health_barrier),
                            float(p.visit_threshold_factor), float(p.visit_lonely_factor),
                            float(p.visit_child_factor), float(p.initiative_meeting_prob), int(p.invite_weeks),
                            float(p.invite_factor), float(p.event_unready_factor), int(p.event_regular_weeks),
                            float(p.event_regular_factor), float(p.health_targeting)),
            encounters=EncounterPrm(int(p.encounters_per_visit), float(p.tie_formation_prob),
                                    float(p.homophily_age_scale), float(p.bridging_factor), float(p.income_factor),
                                    float(p.neighbour_encounter_rate), float(p.event_bridging_factor),
                                    age_similarity(p.homophily_age_scale, core.MAX_AGE)),
            ties=TiePrm(float(p.tie_contact_rate), math.exp(-math.log(2.0) / p.tie_half_life),
                        float(p.tie_min_weight)),
            loneliness=LonelinessPrm(self.rr_health, float(p.lonely_onset_base), float(p.lonely_rr_migration),
                                     float(p.lonely_rr_low_income), float(p.lonely_rr_age_65plus),
                                     float(p.lonely_rr_isolated), float(p.lonely_contagion),
                                     float(p.lonely_recovery_base), float(p.lonely_recovery_per_tie),
                                     float(p.health_promotion_effect), int(p.health_effect_weeks)),
            participation=ParticipationPrm(float(p.peer_influence), float(p.member_activation),
                                           float(p.invite_activation),
                                           int(p.invite_weeks), float(p.volunteer_quit_rate),
                                           float(self.volunteer_start_no), float(self.volunteer_start_mig),
                                           float(p.volunteer_participation_rr)),
            initiatives=InitiativePrm(self.founding_s, int(replace_dropouts), float(p.initiative_dropout_base),
                                      float(p.champion_loss_rr), float(p.champion_quit_rate),
                                      float(p.champion_succession_rate), float(p.advice_succession_rr),
                                      float(p.host_effect), float(p.host_find_rate), float(p.network_host_prob),
                                      float(p.initiative_support_effect), int(p.support_weeks),
                                      float(p.advice_initiative_share), float(p.advice_founding_prob),
                                      float(p.diverse_funding_share), float(p.diverse_funding_effect),
                                      float(p.initiative_min_members), float(p.initiative_small_rr),
                                      float(p.initiative_join_rate), float(p.member_quit_rate)),
        )

    def _update_place_capacity(self, date: dt.date) -> None:
        self.place_cap[:] = self.place_cap_full
        for place in self._dated_places:
            if not place.is_open(date):
                self.place_cap[place.index] = 0

    def _phase_roles(self) -> None:
        """The roles' hours by task and Stadtteil, turned into countable outputs per week.

        Outreach hours times ``outreach_contacts_per_hour`` give contacts; event hours over
        ``event_hours_per_event`` give events, each with ``event_attendance`` attendances; health-network hours
        times ``health_reach_per_hour`` give residents starting a health offer; advice and networking hours over
        the hours per session and per meeting give sessions and meetings. Persons become agents by the
        Stadtteil's weight. Steering hours cost but reach nobody directly.
        """
        p = self.params
        self.task_hours[:] = 0.0
        self.week_role_hours[:] = 0.0
        self.week_cost[:] = 0.0
        self.rehost_s[:] = 0.0
        self._update_place_capacity(self.date)
        for role in self.roles:
            role.work(self.date)
        h = self.task_hours
        worked = bool(h.any())
        if worked or self._outputs_left:  # without hours the outputs are zeros: written once, not every week
            e = self.effects
            per_agent = np.where(self.pop.weight_s > 0, 1.0 / np.maximum(self.pop.weight_s, 1e-12), 0.0)
            e.contacts[:] = h[:, _T["outreach"]] * p.outreach_contacts_per_hour * per_agent
            e.attendance[:] = h[:, _T["events"]] / p.event_hours_per_event * p.event_attendance * per_agent
            e.health_reach[:] = h[:, _T["health_network"]] * p.health_reach_per_hour * per_agent
            e.advice_sessions[:] = h[:, _T["advice"]] / p.advice_hours_per_session
            e.network_meetings[:] = h[:, _T["networking"]] / p.network_hours_per_meeting
            self._outputs_left = worked
        self.programme_s[self.week_role_hours > 0] = 1.0
        self.period["role_hours"] += self.week_role_hours
        self.period["cost"] += self.week_cost
        if self.funding is not None and self.week >= 0:
            self.funding.week(self.date)

    def _resident_week(self) -> None:
        """Demography to initiatives for every Stadtteil still simulated, as one kernel (see :meth:`step`)."""
        week_keys(self._phase_keys, np.int64(self.week), self._wkeys)
        prm = self._prm
        self.live_s[:] = self.week <= self.last_week_s
        core.week_step(self.pop, self.ties, self.venues, self.inits, self.effects, self.demog, *prm, self.week,
                       self._wkeys, self.counts, self.live_s, self._blocks)
        self._week_books()

    def _phase_demography(self, wkey: np.uint64) -> None:
        self.counts[:, 0] = core.demography_step(self.pop, self.ties, self.venues, self.inits, self.demog,
                                                 self._prm.demography, self._prm.loneliness, self.week, wkey)

    def _phase_awareness(self, wkey: np.uint64) -> None:
        self.counts[:, 1] = core.awareness_step(self.pop, self.ties, self.effects, self._prm.awareness, self.week,
                                                wkey)

    def _phase_visits(self, wkey: np.uint64) -> None:
        self.counts[:, 2] = core.visit_step(self.pop, self.venues, self.inits, self.effects, self._prm.visits,
                                            self.week, wkey)

    def _phase_encounters(self, wkey: np.uint64) -> None:
        core.encounter_step(self.pop, self.ties, self.venues, self.inits, self._prm.encounters, wkey)

    def _phase_ties(self, wkey: np.uint64) -> None:
        core.tie_step(self.pop, self.ties, self._prm.ties, wkey)

    def _phase_loneliness(self, wkey: np.uint64) -> None:
        core.loneliness_step(self.pop, self.ties, self._prm.loneliness, self.week, wkey)

    def _phase_participation(self, wkey: np.uint64) -> None:
        core.participation_step(self.pop, self.ties, self._prm.participation, self.week, wkey)

    def _phase_initiatives(self, wkey: np.uint64) -> None:
        core.initiative_step(self.pop, self.inits, self.venues, self.effects, self._prm.initiatives, self.week,
                             wkey)

    def _week_books(self) -> None:
        """Count the week's flows, and keep the Initiative agents in step with the slots."""
        n_found, n_drop, w = self.n_found, self.n_drop, self.pop.weight_s
        self.period["dropouts"] += n_drop
        self.period["founded"] += n_found
        self.period["moved"] += self.counts[:, 0] * w
        self.period["contacts"] += self.counts[:, 1] * w
        self.period["attendances"] += self.counts[:, 2] * w
        # a few slots a week, visited one by one; the flags (0 or 1) are read as booleans, which numpy searches
        # several times faster than bytes
        if n_drop.any():
            cohort_dropouts = self.period["cohort_dropouts"]
            for g in np.flatnonzero(self.init_dropped.view(np.bool_)).tolist():
                self.init_rr[g] = 1.0  # a grant ends with its initiative
                if self.init_founded_week[g] <= self.pilot_end_week:
                    cohort_dropouts[g // self.max_init] += 1.0
                agent = self.initiatives.pop(g, None)
                if agent is not None:
                    agent.remove()
        if n_found.any():
            numbers = self.st_numbers
            for g in np.flatnonzero(self.init_founded.view(np.bool_)).tolist():
                self.initiatives[g] = Initiative(self, g, int(numbers[g // self.max_init]), self.date)
                self.init_founded_week[g] = self.week

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
        # whether each Stadtteil has an open place (column 0), one that is barrier-free (1), low-threshold (2) or
        # both (3): the number of such places between its offsets, from cumulative counts over all places
        o = self.place_cap > 0
        bf, lt = self.place_bf == 1, self.place_lt == 1
        for c, places in enumerate((o, o & bf, o & lt, o & bf & lt)):
            count = np.concatenate(([0], np.cumsum(places)))
            self.access_s[:, c] = count[self.pl_off[1:]] > count[self.pl_off[:-1]]
        core.group_stats(self.pop, self.ties, self.access_s, self.week, self.stats)

    def _collect(self, report: bool, label: dt.date | None = None) -> None:
        self._compute_stats()
        stale = self.last_week_s < self.week  # Stadtteile no longer simulated (stop_after)
        by_st = (self.n_st, self.max_init)
        active = self.init_active.reshape(by_st).sum(axis=1).astype(np.float64)
        if report:
            live = self.init_active == 1
            funded = (live & (self.init_rr < 1.0)).reshape(by_st).sum(axis=1).astype(np.float64)
            hosted = (live & (self.inits.host >= 0)).reshape(by_st).sum(axis=1).astype(np.float64)
            cohort = (live & (self.init_founded_week <= self.pilot_end_week)).reshape(by_st).sum(axis=1)
            per = self.period
            self.recorder.add(label, self.stats, active, per["dropouts"], per["role_hours"], per["cost"],
                              per["grants"], funded, hosted, per["contacts"], per["attendances"], per["moved"],
                              cohort.astype(np.float64), per["cohort_dropouts"], stale=stale)
            self.pop.visit_count[:] = 0
            for acc in per.values():
                acc[:] = 0.0
        self.latest = Recorder.city_values(self.stats, active)
        if stale.any():  # the city's values need every Stadtteil
            self.latest = dict.fromkeys(self.latest, float("nan"))
        self.latest_date = label if report else self.date
        self.datacollector.collect(self)

    # ------------------------------------------------------------------------------------------------------
    # running and results
    # ------------------------------------------------------------------------------------------------------

    def stop_after(self, last: dict[int | str, dt.date]) -> None:
        """Simulate some Stadtteile (numbers or names) only up to a date, to save the time of weeks nobody reads.

        A Stadtteil is simulated to the end of the calendar year that holds its date (and of the reporting
        period that holds that year's end), so that every year with values is whole; in every later report its
        rows are NaN, and so are the city's (they need every Stadtteil). After the spin-up Stadtteile do not
        interact (ties, venues and initiatives stay within one, the roles' hours are split by population, and
        the volunteering start rates are fixed at the spin-up's end), so the Stadtteile still simulated get
        exactly the numbers of a whole run. The one exception is the funding rounds, whose budget all
        Stadtteile share: a scenario with ``[initiative_funding]`` cannot stop a Stadtteil early.

        A calibration uses this for targets that read a Stadtteil only up to some year
        (:class:`quartiersim.calibration.Simulator`). Call it before the first step; a date before the start
        leaves a Stadtteil out from the start.
        """
        if self.funding is not None:
            raise ValueError("the funding rounds share one budget across the Stadtteile: with "
                             "[initiative_funding] no Stadtteil can stop before the end")
        if self.week > 0:
            raise ValueError("stop_after must be called before the first step")
        for key, date in last.items():
            try:  # the profile's rows are the simulated Stadtteile in model order
                s = int(select_stadtteile(self.profile, [key], source="stop_after")[0])
            except InputError:
                raise ValueError(f"stop_after: {key!r} is not a simulated Stadtteil (expected one of "
                                 f"{self.profile['stadtteil'].tolist()})") from None
            if date < self.spec.start:
                last_week = -1
            else:  # the last week that starts within that period (a week belongs to the period of its start)
                end = self.recorder.period_end(dt.date(date.year, 12, 31), self.spec.end)
                last_week = (end - self.spec.start).days // 7
            self.last_week_s[s] = min(self.last_week_s[s], last_week)

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


