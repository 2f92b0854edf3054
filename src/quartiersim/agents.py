"""Mesa agents for meeting places, initiatives and the five municipal roles.

Residents live in arrays (:class:`~quartiersim.population.Residents`) for speed; the entities planners act
on are Mesa agents, so ``model.agents_by_type[MeetingPlace]`` and friends work as in any Mesa model. Meeting
places and initiatives are views on the model's arrays (the kernels update the arrays); roles hold their
own spec and do their weekly work in the ``roles`` phase.
"""

from __future__ import annotations

import bisect
import datetime as dt

import mesa
import numpy as np

from quartiersim.spec import ROLE_LABELS, TASKS, RoleSpec
from quartiersim.strategies import RoleState, role_states

# The agents take their model as a plain ``mesa.Model``: the model module imports this one, never the other way
# round. What they read of it (``date``, ``profile``, ``places``, ``inits``, ``init_weeks``) is named where read.

PLACE_KINDS = ("Stadtteilhaus", "Stadtteil- und Familienzentrum", "Begegnungsstätte", "informeller Treffpunkt",
               "Quartierstreff")


class MeetingPlace(mesa.Agent):
    """A meeting place (Treffpunkt) in one Stadtteil; its state lives in the model's place arrays.

    Attributes:
        index: position in the model's place arrays.
        kind: one of :data:`PLACE_KINDS`.
        stadtteil: official Stadtteil number.
        capacity_persons: visits per week it can take, in persons.
        barrier_free: reachable for residents in poor health.
        low_threshold: open to stille Gruppen without a barrier (niedrigschwellig).
        opens, closes: dates it is open (None = throughout).
        role: the role whose Quartierstreff it is; then it is open while the role keeps it open.

    """

    def __init__(self, model: mesa.Model, index: int, kind: str, stadtteil: int, capacity_persons: float,
                 barrier_free: bool, low_threshold: bool, opens: dt.date | None = None,
                 closes: dt.date | None = None, role: MunicipalRole | None = None):
        super().__init__(model)
        self.index = index
        self.kind = kind
        self.stadtteil = stadtteil
        self.capacity_persons = capacity_persons
        self.barrier_free = barrier_free
        self.low_threshold = low_threshold
        self.opens = opens
        self.closes = closes
        self.role = role

    def is_open(self, date: dt.date) -> bool:
        """Whether the place is open in the week starting at ``date``."""
        if self.role is not None:
            return self.role.treff_open(date)
        return (self.opens is None or date >= self.opens) and (self.closes is None or date <= self.closes)

    @property
    def visits_last_week(self) -> float:
        """Visits in the last simulated week, in persons."""
        m = self.model
        return float(m.place_used[self.index]) * float(m.residents.weight_s[m.place_st[self.index]])


class Initiative(mesa.Agent):
    """A civic initiative (association, self-organisation, neighbourhood help, ...) in one Stadtteil.

    Created when the initiatives kernel founds one and removed when it drops out; members, age, champion and
    host are read from the model's initiative arrays at ``slot``. Its ``unique_id`` follows one initiative
    through its life, also when its slot is later reused by another.
    """

    def __init__(self, model: mesa.Model, slot: int, stadtteil: int, founded: dt.date):
        super().__init__(model)
        self.slot = slot
        self.stadtteil = stadtteil
        self.founded = founded

    @property
    def members(self) -> float:
        """Members in persons."""
        m = self.model
        return float(m.init_members[self.slot]) * float(m.residents.weight_s[self.slot // m.max_init])

    @property
    def weeks_active(self) -> int:
        """Weeks since founding (or since the start of the run)."""
        return int(self.model.init_weeks[self.slot])

    @property
    def champion(self) -> int | None:
        """The resident (index) who carries the initiative, or None while it has no champion."""
        c = int(self.model.inits.champion[self.slot])
        return None if c < 0 else c

    @property
    def host(self) -> MeetingPlace | None:
        """The meeting place hosting the initiative, or None."""
        h = int(self.model.inits.host[self.slot])
        return None if h < 0 else self.model.places[h]


class MunicipalRole(mesa.Agent):
    """A municipal intermediary role with posts, weekly hours by task and cost, changing on dated steps.

    Args:
        model: the model.
        spec: the role as the scenario's plan gives it (:func:`quartiersim.strategies.plan`).
        served: model indices of the Stadtteile it serves.
        hours_per_fte: weekly hours of one post.

    Attributes:
        states: the role's :class:`RoleState` from each date on.
        hours_spent, cost_spent: totals so far.

    """

    def __init__(self, model: mesa.Model, spec: RoleSpec, served: np.ndarray, hours_per_fte: float):
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.kind = spec.kind
        self.label = ROLE_LABELS[spec.kind]
        self.served = served
        self.hours_per_fte = hours_per_fte
        self.states = role_states(spec)
        self._dates = [s.date for s in self.states]
        pop = model.profile["population"].to_numpy(dtype=float)[served]
        self._split = pop / pop.sum() if pop.sum() > 0 else np.full(len(served), 1.0 / max(len(served), 1))
        self.hours_spent = 0.0
        self.cost_spent = 0.0

    def state_on(self, date: dt.date) -> RoleState | None:
        """The role's state in the week starting at ``date`` (None when it does not work then)."""
        if not self.spec.start <= date <= self.spec.end:
            return None
        return self.states[bisect.bisect_right(self._dates, date) - 1]

    def active_on(self, date: dt.date) -> bool:
        """Whether the role works in the week starting at ``date``."""
        state = self.state_on(date)
        return state is not None and state.fte > 0

    def treff_open(self, date: dt.date) -> bool:
        """Whether the role's Quartierstreff is open in the week starting at ``date``."""
        state = self.state_on(date)
        return state is not None and state.quartierstreff

    @property
    def fte(self) -> float:
        """Posts at the current date of the model."""
        state = self.state_on(self.model.date)
        return 0.0 if state is None else state.fte

    @property
    def hours_per_week(self) -> float:
        """Weekly hours at the current date of the model."""
        return self.fte * self.hours_per_fte

    def hours_by_task(self) -> dict[str, float]:
        """Weekly hours per task at the current date of the model."""
        state = self.state_on(self.model.date)
        if state is None:
            return dict.fromkeys(TASKS, 0.0)
        return {t: state.fte * self.hours_per_fte * state.shares[t] for t in TASKS}

    def work(self, date: dt.date) -> None:
        """Spend one week's hours in the served Stadtteile (split by population) and book the cost."""
        state = self.state_on(date)
        if state is None or state.fte <= 0 or len(self.served) == 0:
            return
        m = self.model
        hours_week = state.fte * self.hours_per_fte
        weekly_cost = state.fte * state.cost_per_fte * 7.0 / 365.25
        for t_index, task in enumerate(TASKS):
            hours = hours_week * state.shares[task]
            if hours > 0:
                np.add.at(m.task_hours[:, t_index], self.served, hours * self._split)
        np.add.at(m.week_role_hours, self.served, hours_week * self._split)
        np.add.at(m.week_cost, self.served, weekly_cost * self._split)
        if state.rehost:  # the meeting places take in the initiatives of a Quartierstreff that closes
            m.rehost_s[self.served] = 1.0
        self.hours_spent += hours_week
        self.cost_spent += weekly_cost
