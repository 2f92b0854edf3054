"""The resident rules written as plain Mesa agents: the baseline the numba core is measured against.

This is how a Mesa user would write the model without arrays: one :class:`Resident` agent per resident with
its ties in a dict ``{other resident: strength}``, meeting places and initiatives as Python objects, and each
weekly phase as an agent method run with ``AgentSet.shuffle_do``; synchronous updates compute the new state
in one pass and commit it in a second (``do``). Random numbers come from the model's ``random``.

It implements every resident rule of :mod:`quartiersim.kernels.core` (awareness, visits within capacity,
encounters at venues and in the street, tie contact, decay and ending, loneliness onset and recovery,
threshold participation and volunteering, initiative drop-out, joining and founding), with the same
parameters. It starts from the state of a :class:`~quartiersim.model.QuarterModel` (same residents, ties,
places, initiatives and roles), and uses that model's ``roles`` phase for the weekly effects of the
municipal roles, which is not resident-level work. The two are not bit-identical (different random
streams and orders); ``tests/test_mesa_baseline.py`` shows they agree statistically, and
``benchmarks/mesa_baseline.py`` compares their speed.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from quartiersim.model import QuarterModel


class Place:
    """A meeting place: capacity per week (in agents), accessibility, attendees this week."""

    def __init__(self, index: int, barrier_free: bool, low_threshold: bool):
        self.index = index
        self.barrier_free = barrier_free
        self.low_threshold = low_threshold
        self.capacity = 0
        self.attendees: list[Resident] = []


class Club:
    """A civic initiative: its Stadtteil, members and weekly meeting's attendees."""

    def __init__(self, stadtteil: int):
        self.stadtteil = stadtteil
        self.members: set[Resident] = set()
        self.attendees: list[Resident] = []
        self.active = True


class Resident(mesa.Agent):
    """One resident with traits, states and ties, and one method per weekly phase."""

    def __init__(self, model: MesaBaselineModel, s: int, age: int, migration: int, low_income: int, health: int,
                 stille: int, threshold: float):
        super().__init__(model)
        self.s = s
        self.age = age
        self.migration = migration
        self.low_income = low_income
        self.health = health
        self.stille = stille
        self.threshold = threshold
        self.ties: dict[Resident, float] = {}
        self.aware = self.lonely = self.participating = self.volunteer = False
        self.next_aware = self.next_lonely = self.next_participating = False
        self.home: Place | None = None
        self.alt: Place | None = None
        self.club: Club | None = None
        self.venue: Place | Club | None = None

    # awareness ------------------------------------------------------------------------------------------
    def perceive(self) -> None:
        """Learn of local offers through general channels, ties and outreach; forget them when unused."""
        m, r = self.model, self.random
        if self.aware:
            self.next_aware = not (self.venue is None and r.random() < m.p.awareness_forget_rate)
            return
        frac = sum(1 for t in self.ties if t.aware) / len(self.ties) if self.ties else 0.0
        reach = m.p.awareness_stille_factor if self.stille else 1.0
        p_none = ((1.0 - reach * m.p.awareness_base_rate) * (1.0 - reach * m.p.awareness_word_of_mouth * frac)
                  * (1.0 - m.effect("outreach", self.s)))
        self.next_aware = r.random() < 1.0 - p_none

    def commit_awareness(self) -> None:
        """Take on the awareness computed in :meth:`perceive`."""
        self.aware = self.next_aware

    # visits ---------------------------------------------------------------------------------------------
    def visit(self) -> None:
        """Attend the initiative's meeting, or visit the home place if there is room, or stay home."""
        m, r = self.model, self.random
        self.venue = None
        if self.club is not None and r.random() < m.p.initiative_meeting_prob:
            self.venue = self.club
            self.club.attendees.append(self)
            return
        if not self.aware:
            return
        place = self.home
        if place is not None and place.capacity == 0:
            place = self.alt
        if place is None or len(place.attendees) >= place.capacity:
            return
        prob = m.p.visit_base * (1.0 + m.effect("events", self.s))
        if self.health >= 3 and not place.barrier_free:
            prob *= m.p.visit_health_barrier
        if self.stille and not place.low_threshold:
            prob *= m.p.visit_threshold_factor
        if self.lonely:
            prob *= m.p.visit_lonely_factor
        if self.age < 14:
            prob *= m.p.visit_child_factor
        if r.random() < prob:
            self.venue = place
            place.attendees.append(self)

    # encounters -----------------------------------------------------------------------------------------
    def mingle(self) -> None:
        """Meet fellow attendees at the venue, and perhaps a random neighbour in the street."""
        m, r = self.model, self.random
        p = m.p
        if self.venue is not None and len(self.venue.attendees) >= 2:
            for _ in range(int(p.encounters_per_visit)):
                other = r.choice(self.venue.attendees)
                if other is not self:
                    self.encounter(other, m.effect("bridging", self.s))
        if r.random() < p.neighbour_encounter_rate:
            other = r.choice(m.by_stadtteil[self.s])
            if other is not self:
                self.encounter(other, p.bridging_factor)

    def encounter(self, other: Resident, bridging: float) -> None:
        """Refresh a tie to full strength, or form one with chance ``p_form * similarity`` if both have room."""
        p = self.model.p
        if other in self.ties:
            self.ties[other] = other.ties[self] = 1.0
            return
        if len(self.ties) >= p.max_ties or len(other.ties) >= p.max_ties:
            return
        sim = math.exp(-abs(self.age - other.age) / p.homophily_age_scale)
        if self.migration != other.migration:
            sim *= bridging
        if self.low_income != other.low_income:
            sim *= p.income_factor
        if self.random.random() < p.tie_formation_prob * sim:
            self.ties[other] = other.ties[self] = 1.0

    # ties -----------------------------------------------------------------------------------------------
    def keep_ties(self) -> None:
        """For each tie this resident is the first of: contact restores it, else it decays and may end."""
        p, m = self.model.p, self.model
        for other, w in list(self.ties.items()):
            if other.unique_id < self.unique_id:
                continue  # the other end decides
            w = 1.0 if self.random.random() < p.tie_contact_rate * w else w * m.decay
            if w < p.tie_min_weight:
                del self.ties[other]
                del other.ties[self]
            else:
                self.ties[other] = other.ties[self] = w

    # loneliness -----------------------------------------------------------------------------------------
    def feel(self) -> None:
        """Onset raised by health, migration, low income, isolation and lonely ties; recovery through ties."""
        p, m = self.model.p, self.model
        w_all = sum(self.ties.values())
        w_lonely = sum(w for t, w in self.ties.items() if t.lonely)
        if self.lonely:
            rate = p.lonely_recovery_base + p.lonely_recovery_per_tie * (w_all - w_lonely)
            self.next_lonely = not self.random.random() < 1.0 - math.exp(-rate)
            return
        rate = p.lonely_onset_base * m.rr_health[self.health]
        rate *= p.lonely_rr_migration if self.migration else 1.0
        rate *= p.lonely_rr_low_income if self.low_income else 1.0
        rate *= p.lonely_rr_isolated if w_all < 2.0 else 1.0
        rate *= 1.0 - m.effect("health", self.s) if self.health >= 3 else 1.0
        rate *= 1.0 + p.lonely_contagion * w_lonely
        self.next_lonely = self.random.random() < 1.0 - math.exp(-rate)

    def commit_loneliness(self) -> None:
        """Take on the loneliness computed in :meth:`feel`."""
        self.lonely = self.next_lonely

    # participation --------------------------------------------------------------------------------------
    def engage(self) -> None:
        """Threshold participation from aware ties, events and membership; volunteering starts and stops."""
        p, m, r = self.model.p, self.model, self.random
        if self.age < 14:
            self.next_participating = False
            return
        if not self.aware:
            self.next_participating = False
        else:
            signal = m.effect("activation", self.s) + (p.member_activation if self.club is not None else 0.0)
            if self.ties:
                signal += sum(1 for t in self.ties if t.participating) / len(self.ties)
            if self.participating:
                u = r.random()
                stops = u < p.participation_turnover or (
                    signal < self.threshold and u < p.participation_turnover + p.participation_quit_rate)
                self.next_participating = not stops
            else:
                self.next_participating = signal >= self.threshold or r.random() < p.participation_spontaneous
        if self.volunteer:
            self.volunteer = not r.random() < p.volunteer_quit_rate
        else:
            rate = m.volunteer_start_mig if self.migration else m.volunteer_start_no
            if self.next_participating:
                rate *= p.volunteer_participation_rr
            self.volunteer = r.random() < rate

    def commit_participation(self) -> None:
        """Take on the participation computed in :meth:`engage`."""
        self.participating = self.next_participating

    @property
    def engaged(self) -> bool:
        """Aged 14+, participating and volunteering: may join or found an initiative."""
        return self.age >= 14 and self.participating and self.volunteer


class MesaBaselineModel(mesa.Model):
    """The plain-Mesa model, started from the state of ``source`` (a freshly built QuarterModel).

    Args:
        source: the array model whose population, ties, places, initiatives, parameters and roles are copied.
        seed: seed of this model's random numbers.

    """

    def __init__(self, source: QuarterModel, seed: int = 0):
        super().__init__(rng=seed)
        self.source = source
        self.p = source.params
        self.decay = math.exp(-math.log(2.0) / self.p.tie_half_life)
        self.rr_health = source.rr_health
        self.volunteer_start_no = source.volunteer_start_no
        self.volunteer_start_mig = source.volunteer_start_mig
        self.weight_s = source.residents.weight_s
        self.pop_s = source.pop_s
        self.max_init = source.max_init
        self._copy_state(source)

    def _copy_state(self, src: QuarterModel) -> None:
        r = src.residents
        self.places = [Place(k, bool(src.place_bf[k]), bool(src.place_lt[k])) for k in range(src.n_places)]
        self.clubs: dict[int, Club] = {int(g): Club(int(g) // src.max_init) for g in np.flatnonzero(src.init_active)}
        people: list[Resident] = []
        for i in range(len(r)):
            res = Resident(self, int(r.stadtteil[i]), int(r.age[i]), int(r.migration[i]), int(r.low_income[i]),
                           int(r.health[i]), int(r.stille[i]), float(r.threshold[i]))
            res.aware, res.lonely = bool(r.aware[i]), bool(r.lonely[i])
            res.participating, res.volunteer = bool(r.participating[i]), bool(r.volunteer[i])
            res.home = self.places[r.home_place[i]] if r.home_place[i] >= 0 else None
            res.alt = self.places[r.alt_place[i]] if r.alt_place[i] >= 0 else None
            if r.member_of[i] >= 0:
                res.club = self.clubs[int(r.member_of[i])]
                res.club.members.add(res)
            people.append(res)
        for i in range(len(r)):
            for a in range(int(r.deg[i])):
                people[i].ties[people[int(r.tie_j[i, a])]] = float(r.tie_w[i, a])
        self.residents = self.agents_by_type[Resident]
        self.by_stadtteil: list[list[Resident]] = [[] for _ in range(src.n_st)]
        for res in people:
            self.by_stadtteil[res.s].append(res)

    def effect(self, name: str, s: int) -> float:
        """The current week's effect of the municipal roles in Stadtteil s (from the source model's roles phase)."""
        return float(getattr(self.source.effects, name)[s])

    def step(self) -> None:
        """One week: the roles' effects, then each resident phase as ``shuffle_do`` over all residents."""
        src = self.source
        src._phase_roles()
        for place in self.places:
            place.capacity = int(src.place_cap[place.index])
            place.attendees = []
        for club in self.clubs.values():
            club.attendees = []
        self.residents.shuffle_do("perceive")
        self.residents.do("commit_awareness")
        self.residents.shuffle_do("visit")
        self.residents.shuffle_do("mingle")
        self.residents.shuffle_do("keep_ties")
        self.residents.shuffle_do("feel")
        self.residents.do("commit_loneliness")
        self.residents.shuffle_do("engage")
        self.residents.do("commit_participation")
        self._initiatives()
        src.week += 1
        src.date = src.spec.start + dt.timedelta(days=7 * src.week)

    def _initiatives(self) -> None:
        """Drop-outs at a hazard support lowers, engaged residents joining, Poisson foundings per Stadtteil."""
        p, r = self.p, self.random
        for s, people in enumerate(self.by_stadtteil):
            if not people:
                continue
            w = float(self.weight_s[s])
            clubs = [c for c in self.clubs.values() if c.stadtteil == s and c.active]
            per = self.effect("support", s) / len(clubs) if clubs else 0.0
            support = per / (per + p.support_half_hours) if per > 0 else 0.0
            for club in clubs:
                hazard = p.initiative_dropout_base * (1.0 - p.initiative_support_effect * support)
                if len(club.members) * w < p.initiative_min_members:
                    hazard *= p.initiative_small_rr
                if r.random() < 1.0 - math.exp(-hazard):
                    club.active = False
                    for member in club.members:
                        member.club = None
            self.clubs = {g: c for g, c in self.clubs.items() if c.active}
            clubs = [c for c in clubs if c.active]
            engaged = 0
            for res in people:
                if res.club is None and res.engaged:
                    engaged += 1
                    if clubs and r.random() < p.initiative_join_prob:
                        res.club = r.choice(clubs)
                        res.club.members.add(res)
                if res.club is not None:
                    res.aware = True
            lam = p.initiative_founding_rate * engaged * w * (1.0 + p.advice_effect * self.effect("advice", s))
            if lam <= 0:
                continue
            n_new = min(int(self.rng.poisson(lam)), 4)
            free = [g for g in range(s * self.max_init, (s + 1) * self.max_init) if g not in self.clubs]
            candidates = [res for res in people if res.club is None and res.engaged]
            for g, founder in zip(free[:n_new], r.sample(candidates, min(n_new, len(candidates))), strict=False):
                club = Club(s)
                club.members.add(founder)
                founder.club = club
                founder.aware = True
                self.clubs[g] = club

    def city(self) -> dict[str, float]:
        """City-level outcomes, person-weighted as in the array model's report."""
        tot = {k: 0.0 for k in ("persons", "adults", "lonely", "ties", "aware", "teen", "part", "vol")}
        for res in self.residents:
            w = float(self.weight_s[res.s])
            tot["persons"] += w
            tot["ties"] += w * len(res.ties)
            tot["aware"] += w * res.aware
            if res.age >= 18:
                tot["adults"] += w
                tot["lonely"] += w * res.lonely
            if res.age >= 14:
                tot["teen"] += w
                tot["part"] += w * res.participating
                tot["vol"] += w * res.volunteer
        return {"lonely_share": tot["lonely"] / tot["adults"], "ties_per_resident": tot["ties"] / tot["persons"],
                "aware_share": tot["aware"] / tot["persons"], "participation_share": tot["part"] / tot["teen"],
                "volunteer_share": tot["vol"] / tot["teen"], "active_initiatives": float(len(self.clubs))}


def array_city(model: QuarterModel) -> dict[str, float]:
    """The same city-level outcomes from the array model's current state."""
    r = model.residents
    w = r.weight
    adult, teen = r.age >= 18, r.age >= 14
    return {"lonely_share": float((w * r.lonely * adult).sum() / (w * adult).sum()),
            "ties_per_resident": float((w * r.deg).sum() / w.sum()),
            "aware_share": float((w * r.aware).sum() / w.sum()),
            "participation_share": float((w * r.participating * teen).sum() / (w * teen).sum()),
            "volunteer_share": float((w * r.volunteer * teen).sum() / (w * teen).sum()),
            "active_initiatives": float(model.init_active.sum())}
