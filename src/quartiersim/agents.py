"""Mesa agents for meeting places, initiatives and the five municipal roles.

Residents live in arrays (:class:`~quartiersim.population.Residents`) for speed; the entities planners act
on are Mesa agents, so ``model.agents_by_type[MeetingPlace]`` and friends work as in any Mesa model. Meeting
places and initiatives are views on the model's arrays (the kernels update the arrays); roles hold their
own spec and do their weekly work in the ``roles`` phase.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import mesa
import numpy as np

from quartiersim.spec import ROLE_LABELS, TASKS, RoleSpec

if TYPE_CHECKING:
    from quartiersim.model import QuarterModel

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
        opens, closes: dates it is open (None = throughout); a role's Quartierstreff follows the role.

    """

    def __init__(self, model: QuarterModel, index: int, kind: str, stadtteil: int, capacity_persons: float,
                 barrier_free: bool, low_threshold: bool, opens: dt.date | None = None,
                 closes: dt.date | None = None):
        super().__init__(model)
        self.index = index
        self.kind = kind
        self.stadtteil = stadtteil
        self.capacity_persons = capacity_persons
        self.barrier_free = barrier_free
        self.low_threshold = low_threshold
        self.opens = opens
        self.closes = closes

    def is_open(self, date: dt.date) -> bool:
        """Whether the place is open in the week starting at ``date``."""
        return (self.opens is None or date >= self.opens) and (self.closes is None or date <= self.closes)

    @property
    def visits_last_week(self) -> float:
        """Visits in the last simulated week, in persons."""
        m = self.model
        return float(m.place_used[self.index]) * float(m.residents.weight_s[m.place_st[self.index]])


class Initiative(mesa.Agent):
    """A civic initiative (association, self-organisation, neighbourhood help, ...) in one Stadtteil.

    Created when the initiatives kernel founds one and removed when it drops out; members, age and status
    are read from the model's initiative arrays at ``slot``.
    """

    def __init__(self, model: QuarterModel, slot: int, stadtteil: int, founded: dt.date):
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


class MunicipalRole(mesa.Agent):
    """A municipal intermediary role with posts, weekly hours by task and cost.

    Args:
        model: the model.
        spec: the role as a scenario gives it.
        served: model indices of the Stadtteile it serves.
        hours_per_fte: weekly hours of one post.
        cost_per_fte: yearly employer cost of one post in EUR.

    """

    def __init__(self, model: QuarterModel, spec: RoleSpec, served: np.ndarray, hours_per_fte: float,
                 cost_per_fte: float):
        super().__init__(model)
        self.spec = spec
        self.name = spec.name
        self.kind = spec.kind
        self.label = ROLE_LABELS[spec.kind]
        self.fte = spec.fte
        self.served = served
        self.shares = spec.task_shares()
        self.hours_per_week = spec.fte * hours_per_fte
        self.cost_per_year = spec.fte * (spec.cost_per_fte_eur if spec.cost_per_fte_eur is not None
                                         else cost_per_fte)
        pop = model.profile["population"].to_numpy(dtype=float)[served]
        self._split = pop / pop.sum() if pop.sum() > 0 else np.full(len(served), 1.0 / max(len(served), 1))
        self.hours_spent = 0.0
        self.cost_spent = 0.0

    def active_on(self, date: dt.date) -> bool:
        """Whether the role works in the week starting at ``date``."""
        return self.spec.start <= date <= self.spec.end

    def hours_by_task(self) -> dict[str, float]:
        """Weekly hours per task."""
        return {t: self.hours_per_week * self.shares[t] for t in TASKS}

    def work(self, date: dt.date) -> None:
        """Spend one week's hours in the served Stadtteile (split by population) and book the cost."""
        if not self.active_on(date) or len(self.served) == 0:
            return
        m = self.model
        weekly_cost = self.cost_per_year * 7.0 / 365.25
        for t_index, task in enumerate(TASKS):
            hours = self.hours_per_week * self.shares[task]
            if hours > 0:
                np.add.at(m.task_hours[:, t_index], self.served, hours * self._split)
        np.add.at(m.week_role_hours, self.served, self.hours_per_week * self._split)
        np.add.at(m.week_cost, self.served, weekly_cost * self._split)
        self.hours_spent += self.hours_per_week
        self.cost_spent += weekly_cost
