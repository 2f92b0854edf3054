"""Funding of initiatives by the framework's quality criteria (``[initiative_funding]`` in a scenario).

The framework concept makes its quality criteria the basis for judging applications of initiatives,
associations, welfare organisations and housing companies for quarter projects (seed 001, Anlage 1; seed
003: "standardisierte Bewertung der Projektanträge"). quartiersim runs one funding round a year from the
scenario's ``start``:

1. Every active initiative applies with chance ``apply_share`` (drawn from the run's own stream for that
   round, so two scenarios with the same seed see the same applications).
2. Each application is scored in [0, 1] on five criteria and the scores are averaged with the scenario's
   weights (defaults in brackets, an assumption):

   ``participation`` [0.2]
       how many take part: ``members / (members + 10)`` with members in persons.
   ``stille_gruppen`` [0.25]
       whether it reaches the hard-to-reach: its members' share in the stille Gruppen against twice the
       Stadtteil's share, capped at 1.
   ``networking`` [0.15]
       how connected its members are: their mean number of ties over the maximum number of ties.
   ``sustainability`` [0.2]
       whether it lasts: half for age (full at three years), half for having at least the minimum members.
   ``need`` [0.2]
       the need of its Stadtteil by the area index: 1 for the top rank, 0 for the last.

3. Applications are funded best score first (ties by slot) with ``grant_eur`` each, while the year's budget
   lasts and the score reaches ``min_score``.

A funded initiative's weekly drop-out hazard is multiplied by ``1 - grant_dropout_effect`` for the year of
its grant (diverse and secured funding lowers the chance that a programme ends: Scheirer 2005; Savaya &
Spiro 2012). Grants are booked in the Stadtteil's ``grants_eur`` in the week of the round.
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np

from quartiersim.spec import FUNDING_CRITERIA, FundingSpec
from quartiersim.strategies import add_years

# The rounds take their model as a plain ``mesa.Model`` (a QuarterModel, whose module imports this one).


class FundingRounds:
    """The yearly funding rounds of one run.

    Args:
        model: the model (its initiative and resident arrays are read, ``init_rr`` is written).
        spec: the scenario's funding table.
        need_s: need in [0, 1] per simulated Stadtteil, in model order.

    """

    def __init__(self, model: mesa.Model, spec: FundingSpec, need_s: np.ndarray):
        self.model = model
        self.spec = spec
        self.need_s = need_s
        end = spec.end or model.spec.end
        self.dates: list[dt.date] = []
        k = 0
        while (date := add_years(spec.start, k)) <= end:
            self.dates.append(date)
            k += 1
        self.next = 0
        self.expires: dt.date | None = None
        self.weights = np.array([spec.weights.get(c, 0.0) for c in FUNDING_CRITERIA])
        self.weights = self.weights / self.weights.sum()
        self.history: list[dict] = []
        self.last: dict[str, np.ndarray] = {}  # the latest round's applicants, scores and funded slots

    def week(self, date: dt.date) -> None:
        """Run a round due by ``date`` (rounds fall in the first week starting on or after their date)."""
        m = self.model
        if self.expires is not None and date >= self.expires:
            m.init_rr[:] = 1.0
            self.expires = None
        if self.next < len(self.dates) and self.dates[self.next] <= date:
            self._round(self.next, date)
            self.next += 1

    def scores(self) -> np.ndarray:
        """Criterion scores per initiative slot, shape (slots, 5), in :data:`FUNDING_CRITERIA` order."""
        m = self.model
        r = m.residents
        n_slots = len(m.init_active)
        slot_st = np.arange(n_slots) // m.max_init
        weight = r.weight_s[slot_st]
        members_agents = m.init_members.astype(float)
        members = members_agents * weight
        is_member = r.member_of >= 0
        slots = r.member_of[is_member]
        stille_members = np.bincount(slots, weights=r.stille[is_member].astype(float), minlength=n_slots)
        ties_members = np.bincount(slots, weights=r.deg[is_member].astype(float), minlength=n_slots)
        per_member = np.maximum(members_agents, 1.0)
        stille_share = stille_members / per_member
        st_stille = (np.bincount(r.stadtteil, weights=r.stille.astype(float), minlength=m.n_st)
                     / np.maximum(np.bincount(r.stadtteil, minlength=m.n_st), 1))
        ref = 2.0 * st_stille[slot_st]
        stille_score = np.minimum(1.0, stille_share / np.where(ref > 0, ref, np.inf))
        mean_ties = ties_members / per_member
        out = np.empty((n_slots, len(FUNDING_CRITERIA)))
        out[:, 0] = members / (members + 10.0)
        out[:, 1] = stille_score
        out[:, 2] = np.minimum(1.0, mean_ties / float(m.params.max_ties))
        out[:, 3] = 0.5 * np.minimum(1.0, m.init_weeks / 156.0) + 0.5 * (members >= m.params.initiative_min_members)
        out[:, 4] = self.need_s[slot_st]
        return out

    def _round(self, k: int, date: dt.date) -> None:
        m, spec = self.model, self.spec
        gen = m.streams.generator(f"funding round {k}")
        applies = gen.random(len(m.init_active)) < spec.apply_share
        applicants = np.flatnonzero((m.init_active == 1) & applies)
        score = self.scores() @ self.weights
        order = applicants[np.lexsort((applicants, -score[applicants]))]
        order = order[score[order] >= spec.min_score - 1e-12]
        n_grants = int(spec.budget_eur_per_year // spec.grant_eur + 1e-9)
        funded = order[:n_grants]
        m.init_rr[:] = 1.0
        m.init_rr[funded] = 1.0 - float(m.params.grant_dropout_effect)
        np.add.at(m.period_grants, funded // m.max_init, spec.grant_eur)
        self.expires = add_years(self.dates[k], 1)
        self.last = {"applicants": applicants, "score": score, "funded": funded}
        self.history.append({"round": k, "date": str(self.dates[k]), "applications": int(len(applicants)),
                             "funded": int(len(funded)), "eur": float(len(funded) * spec.grant_eur),
                             "lowest_funded_score": float(score[funded].min()) if len(funded) else None})

