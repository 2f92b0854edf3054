"""The resident rules written as plain Mesa agents: the baseline the numba core is measured against.

This is how a Mesa user would write the model without arrays: one :class:`Resident` agent per resident with
its ties in a dict ``{other resident: strength}``, meeting places and initiatives as Python objects, and each
weekly phase as an agent method run with ``AgentSet.shuffle_do``; synchronous updates compute the new state
in one pass and commit it in a second (``do``). Random numbers come from the model's ``random``.

It implements every resident rule of :mod:`quartiersim.kernels.core`: birthdays with traits that follow age,
residents leaving and newcomers from the Stadtteil's profile, outreach contacts and awareness, role events and
health offers with attendances in proportion to each resident's weight, initiative meetings and meeting-place
visits within capacity, encounters at venues and in the street, tie contact, decay and ending, loneliness
onset and recovery, readiness by threshold and volunteering, and initiatives with hosts, advice, network
meetings, champions, drop-outs, members leaving and joining, and foundings. It uses the same parameters and
starts from the state of a :class:`~quartiersim.model.QuarterModel` (same residents, ties, places,
initiatives, tables and roles), whose ``roles`` phase gives the weekly outputs of the municipal roles (hours
into contacts, attendances, sessions and meetings), which is not resident-level work. The two are not
bit-identical (different random streams and orders); ``tests/test_mesa_baseline.py`` shows they agree
statistically, and ``benchmarks/mesa_baseline.py`` compares their speed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from quartiersim.kernels.state import NEVER

if TYPE_CHECKING:
    from quartiersim.model import QuarterModel

YEAR = 52


class Place:
    """A meeting place: capacity per week (in agents), accessibility, attendees this week."""

    def __init__(self, index: int, stadtteil: int, regular: bool, barrier_free: bool, low_threshold: bool):
        self.index = index
        self.stadtteil = stadtteil
        self.regular = regular
        self.barrier_free = barrier_free
        self.low_threshold = low_threshold
        self.capacity = 0
        self.attendees: list[Resident] = []


class Club:
    """A civic initiative: its Stadtteil, members, champion, host, support, funding, this week's attendees."""

    def __init__(self, stadtteil: int):
        self.stadtteil = stadtteil
        self.members: set[Resident] = set()
        self.attendees: list[Resident] = []
        self.champion: Resident | None = None
        self.host: Place | None = None
        self.advised = NEVER
        self.diverse = False
        self.grant_rr = 1.0
        self.active = True


class Resident(mesa.Agent):
    """One resident with traits, states and ties, and one method per weekly phase."""

    def __init__(self, model: MesaBaselineModel, s: int):
        super().__init__(model)
        self.s = s
        self.ties: dict[Resident, float] = {}
        self.club: Club | None = None
        self.venue: Place | Club | str | None = None
        self.next_aware = self.next_lonely = self.next_ready = False

    # traits ---------------------------------------------------------------------------------------------
    def set_traits(self) -> None:
        """Low income, health, stille Gruppen and threshold from the latent quantiles and the current age."""
        m = self.model
        tp, d, s = m.traits, m.demog, self.s
        p_low = float(d.low_share[s])
        if self.age < 25:
            p_low = max(p_low, float(d.bg_u25[s]))
        self.low_income = self.u_income < p_low
        band = bisect.bisect_right(tp.age_edges.tolist(), self.age)
        p_lim = min(1.0, float(d.lim_coef[s]) * float(tp.age_profile[band]))
        u = self.u_health
        if u < p_lim:
            v = u / p_lim
            self.health = 4 if v < tp.very_poor else 3 if v < tp.very_poor + tp.poor else 2
        else:
            self.health = 1 if (u - p_lim) / (1.0 - p_lim) < 1.0 - tp.very_good else 0
        p = tp.stille_base
        if self.migration and m.week - self.arrived < 5 * YEAR:
            p *= tp.stille_rr_recent_migrant
        if self.low_income:
            p *= tp.stille_rr_low_income
        if self.health >= 3:
            p *= tp.stille_rr_poor_health
        self.stille = self.u_stille < min(p, 1.0)
        self.threshold = min(1.0, tp.threshold_min + (1.0 - tp.threshold_min) * self.u_threshold
                             + (tp.stille_threshold_shift if self.stille else 0.0))

    def recent(self, since: int, weeks: int) -> bool:
        """Whether something that last happened in week ``since`` happened within ``weeks`` weeks."""
        return self.model.week - since < weeks

    @property
    def active(self) -> bool:
        """Took part in an activity in the quarter in the last 12 months."""
        return self.recent(self.last_active, 52)

    # demography -----------------------------------------------------------------------------------------
    def age_and_move(self) -> None:
        """Birthday; and perhaps leave (move away or die), a newcomer from the profile taking the place."""
        m, r = self.model, self.random
        if self.birthday == m.week % YEAR and self.age < 100:
            self.age += 1
            self.set_traits()
        elif m.week - self.arrived == 5 * YEAR:
            self.set_traits()
        if r.random() >= m.demog.exit_prob[self.s, self.age]:
            return
        m.moved[self.s] += 1
        for other in list(self.ties):
            del other.ties[self]
        self.ties.clear()
        if self.club is not None:
            self.club.members.discard(self)
            if self.club.champion is self:
                self.club.champion = None
            self.club = None
        self.arrive()

    def arrive(self) -> None:
        """Become a newcomer drawn from the Stadtteil's profile: unaware, not mobilised, without ties."""
        m, r, s = self.model, self.random, self.s
        d, tp = m.demog, m.traits
        self.age = bisect.bisect_right(d.entry_cdf[s].tolist(), r.random())
        self.age = min(self.age, 100)
        self.birthday = m.week % YEAR
        self.migration = r.random() < d.mig_share[s]
        self.arrived = m.week
        self.u_income, self.u_health, self.u_stille, self.u_threshold = (r.random() for _ in range(4))
        self.set_traits()
        share = 0.0 if self.age < 14 else tp.volunteer_mig if self.migration else tp.volunteer_no
        self.volunteer = r.random() < share
        regular = m.regular_places[s]
        self.home = r.choice(regular) if regular else None
        p = m.p
        onset = p.lonely_onset_base * m.rr_health[self.health]
        onset *= p.lonely_rr_migration if self.migration else 1.0
        onset *= p.lonely_rr_low_income if self.low_income else 1.0
        onset *= p.lonely_rr_age_65plus if self.age >= 65 else 1.0
        self.lonely = r.random() < onset / (onset + p.lonely_recovery_base + 2.0 * p.lonely_recovery_per_tie)
        self.aware = self.ready = self.knows_role = False
        self.venue = None
        self.last_active = self.last_contact = self.last_role = self.last_health = NEVER

    # awareness ------------------------------------------------------------------------------------------
    def perceive(self) -> None:
        """Perhaps an outreach contact; learn of local offers through general channels and ties; forget."""
        m, r, p = self.model, self.random, self.model.p
        contacted = False
        total = m.outreach_total[self.s]
        if total > 0 and self.age >= 14:
            weight = p.outreach_stille_weight if self.stille else 1.0
            if r.random() < m.effect("contacts", self.s) * weight / total:
                contacted = True
                self.last_contact = m.week
                m.contacted[self.s] += 1
        self.next_knows = self.knows_role or contacted
        if not self.next_knows and m.effect("programme", self.s) > 0 and self.ties:
            told = sum(1 for t in self.ties if t.knows_role) / len(self.ties)
            self.next_knows = r.random() < p.programme_word_of_mouth * told
        if self.aware:
            self.next_aware = contacted or not (self.venue is None and r.random() < p.awareness_forget_rate)
            return
        if contacted and r.random() < p.outreach_aware_prob:
            self.next_aware = True
            return
        frac = sum(1 for t in self.ties if t.aware) / len(self.ties) if self.ties else 0.0
        reach = p.awareness_stille_factor if self.stille else 1.0
        p_none = (1.0 - reach * p.awareness_base_rate) * (1.0 - reach * p.awareness_word_of_mouth * frac)
        self.next_aware = r.random() < 1.0 - p_none

    def commit_awareness(self) -> None:
        """Take on the awareness (and knowledge of the roles' work) computed in :meth:`perceive`."""
        self.aware = self.next_aware
        self.knows_role = self.next_knows

    # visits ---------------------------------------------------------------------------------------------
    def event_weight(self) -> float:
        """How much more likely than a typical aware resident this one is to come to a role's event."""
        p = self.model.p
        if not self.aware:
            return 0.0
        w = 1.0 if self.ready else p.event_unready_factor
        w *= p.event_regular_factor if self.recent(self.last_role, p.event_regular_weeks) else 1.0
        w *= p.invite_factor if self.recent(self.last_contact, p.invite_weeks) else 1.0
        w *= p.visit_lonely_factor if self.lonely else 1.0
        return w * (p.visit_child_factor if self.age < 14 else 1.0)

    def health_weight(self) -> float:
        """Health offers are for adults and seek out those in poor health."""
        if self.age < 18:
            return 0.0
        return self.model.p.health_targeting if self.health >= 3 else 1.0

    def visit(self) -> None:
        """A role's event or health offer, the initiative's meeting, or the home place if there is room."""
        m, r, p = self.model, self.random, self.model.p
        self.venue = None
        s = self.s
        w_total, h_total = m.event_totals[s]
        if w_total > 0 and r.random() < m.effect("attendance", s) * self.event_weight() / w_total:
            self.attend_role(health=False)
            return
        if h_total > 0 and r.random() < m.effect("health_reach", s) * self.health_weight() / h_total:
            self.attend_role(health=True)
            return
        if self.club is not None and r.random() < p.initiative_meeting_prob:
            self.venue = self.club
            self.club.attendees.append(self)
            self.last_active = m.week
            return
        place = self.home
        if not self.aware or place is None or len(place.attendees) >= place.capacity:
            return
        prob = p.visit_base * (1.0 if self.ready else p.visit_unready_factor)
        if self.health >= 3 and not place.barrier_free:
            prob *= p.visit_health_barrier
        if self.stille and not place.low_threshold:
            prob *= p.visit_threshold_factor
        if self.lonely:
            prob *= p.visit_lonely_factor
        if self.age < 14:
            prob *= p.visit_child_factor
        if r.random() < prob:
            self.venue = place
            place.attendees.append(self)
            self.last_active = m.week

    def attend_role(self, health: bool) -> None:
        """Attend the Stadtteil's role activities this week (an event, or a health offer)."""
        m = self.model
        self.venue = m.role_venues[self.s]
        self.venue.attendees.append(self)
        self.last_active = self.last_role = m.week
        self.knows_role = True
        if health:
            self.last_health = m.week
        m.attended[self.s] += 1

    # encounters -----------------------------------------------------------------------------------------
    def mingle(self) -> None:
        """Meet fellow attendees at the venue, and perhaps a random neighbour in the street."""
        m, r, p = self.model, self.random, self.model.p
        if self.venue is not None and len(self.venue.attendees) >= 2:
            bridging = p.event_bridging_factor if self.venue is m.role_venues[self.s] else p.bridging_factor
            for _ in range(int(p.encounters_per_visit)):
                other = r.choice(self.venue.attendees)
                if other is not self:
                    self.encounter(other, bridging)
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
        """Onset raised by health, migration, low income, age, isolation and lonely ties; recovery through ties."""
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
        rate *= p.lonely_rr_age_65plus if self.age >= 65 else 1.0
        rate *= p.lonely_rr_isolated if w_all < 2.0 else 1.0
        rate *= 1.0 - p.health_promotion_effect if self.recent(self.last_health, p.health_effect_weeks) else 1.0
        rate *= 1.0 + p.lonely_contagion * w_lonely
        self.next_lonely = self.random.random() < 1.0 - math.exp(-rate)

    def commit_loneliness(self) -> None:
        """Take on the loneliness computed in :meth:`feel`."""
        self.lonely = self.next_lonely

    # participation --------------------------------------------------------------------------------------
    def engage(self) -> None:
        """Readiness by threshold on the share of active ties, membership and invitations; volunteering."""
        p, m, r = self.model.p, self.model, self.random
        if self.age < 14:
            self.next_ready = False
            return
        if not self.aware:
            self.next_ready = False
        else:
            signal = p.member_activation if self.club is not None else 0.0
            signal += p.invite_activation if self.recent(self.last_contact, p.invite_weeks) else 0.0
            if self.ties:
                signal += p.peer_influence * sum(1 for t in self.ties if t.active) / len(self.ties)
            self.next_ready = signal >= self.threshold
        if self.volunteer:
            self.volunteer = not r.random() < p.volunteer_quit_rate
        else:
            rate = m.volunteer_start_mig if self.migration else m.volunteer_start_no
            if self.active:
                rate *= p.volunteer_participation_rr
            self.volunteer = r.random() < rate

    def commit_readiness(self) -> None:
        """Take on the readiness computed in :meth:`engage`."""
        self.ready = self.next_ready

    @property
    def engaged(self) -> bool:
        """Aged 14+, volunteering, active in the last year, in no initiative: may join or found one."""
        return self.club is None and self.age >= 14 and self.volunteer and self.active


class MesaBaselineModel(mesa.Model):
    """The plain-Mesa model, started from the state of ``source`` (a freshly built QuarterModel).

    Args:
        source: the array model whose population, ties, places, initiatives, tables, parameters and roles are
            copied.
        seed: seed of this model's random numbers.

    """

    def __init__(self, source: QuarterModel, seed: int = 0):
        super().__init__(rng=seed)
        self.source = source
        self.p = source.params
        self.week = source.week
        self.decay = math.exp(-math.log(2.0) / self.p.tie_half_life)
        self.rr_health = source.rr_health
        self.demog, self.traits = source.demog, source.traits
        self.volunteer_start_no = source.volunteer_start_no
        self.volunteer_start_mig = source.volunteer_start_mig
        self.founding_s = source.founding_s.copy()
        self.weight_s = source.pop.weight_s
        self.max_init = source.max_init
        self._copy_state(source)

    def _copy_state(self, src: QuarterModel) -> None:
        pop, ties, n_st = src.pop, src.ties, src.n_st
        stadtteil = src.residents.stadtteil
        n_regular = src.venues.n_regular
        self.places = []
        for k in range(src.n_places):
            s = int(src.place_st[k])
            regular = k - int(src.pl_off[s]) < int(n_regular[s])
            self.places.append(Place(k, s, regular, bool(src.place_bf[k]), bool(src.place_lt[k])))
        self.regular_places = [[pl for pl in self.places if pl.stadtteil == s and pl.regular] for s in range(n_st)]
        self.role_venues = [Place(-1, s, False, True, True) for s in range(n_st)]
        self.clubs: dict[int, Club] = {}
        for g in np.flatnonzero(src.init_active):
            club = Club(int(g) // src.max_init)
            club.host = self.places[src.inits.host[g]] if src.inits.host[g] >= 0 else None
            club.advised, club.diverse = int(src.inits.advised[g]), bool(src.inits.diverse[g])
            club.grant_rr = float(src.init_rr[g])
            self.clubs[int(g)] = club
        people: list[Resident] = []
        for i in range(len(src.residents)):
            res = Resident(self, int(stadtteil[i]))
            res.age, res.birthday, res.arrived = int(pop.age[i]), int(pop.birthday[i]), int(pop.arrived[i])
            res.migration, res.low_income, res.health = bool(pop.mig[i]), bool(pop.inc[i]), int(pop.health[i])
            res.stille, res.threshold = bool(pop.stille[i]), float(pop.threshold[i])
            res.u_income, res.u_health = float(pop.u_income[i]), float(pop.u_health[i])
            res.u_stille, res.u_threshold = float(pop.u_stille[i]), float(pop.u_threshold[i])
            res.aware, res.lonely, res.ready = bool(pop.aware[i]), bool(pop.lonely[i]), bool(pop.ready[i])
            res.volunteer, res.knows_role = bool(pop.volunteer[i]), bool(pop.knows_role[i])
            res.last_active, res.last_contact = int(pop.last_active[i]), int(pop.last_contact[i])
            res.last_role, res.last_health = int(pop.last_role[i]), int(pop.last_health[i])
            res.home = self.places[pop.home_place[i]] if pop.home_place[i] >= 0 else None
            if pop.member_of[i] >= 0:
                res.club = self.clubs[int(pop.member_of[i])]
                res.club.members.add(res)
            people.append(res)
        for g, club in self.clubs.items():
            champion = int(src.inits.champion[g])
            club.champion = people[champion] if champion >= 0 else None
        for i in range(len(people)):
            for a in range(int(ties.deg[i])):
                people[i].ties[people[int(ties.j[i, a])]] = float(ties.w[i, a])
        self.residents = self.agents_by_type[Resident]
        self.by_stadtteil: list[list[Resident]] = [[] for _ in range(n_st)]
        for res in people:
            self.by_stadtteil[res.s].append(res)

    def effect(self, name: str, s: int) -> float:
        """The current week's output of the municipal roles in Stadtteil s (the source model's roles phase)."""
        return float(getattr(self.source.effects, name)[s])

    def step(self) -> None:
        """One week: the roles' outputs, then each resident phase as ``shuffle_do`` over all residents."""
        src = self.source
        src.week = self.week
        src.date = src.spec.start + dt.timedelta(days=7 * self.week)
        src._phase_roles()
        n_st = len(self.by_stadtteil)
        self.moved, self.contacted, self.attended = [0] * n_st, [0] * n_st, [0] * n_st
        for place in (*self.places, *self.role_venues):
            place.capacity = int(src.place_cap[place.index]) if place.index >= 0 else 0
            place.attendees = []
        for club in self.clubs.values():
            club.attendees = []
        self.residents.shuffle_do("age_and_move")
        self.outreach_total = [sum(self.p.outreach_stille_weight if res.stille else 1.0 for res in people
                                   if res.age >= 14) if self.effect("contacts", s) > 0 else 0.0
                               for s, people in enumerate(self.by_stadtteil)]
        self.residents.shuffle_do("perceive")
        self.residents.do("commit_awareness")
        self.event_totals = [(sum(res.event_weight() for res in people) if self.effect("attendance", s) > 0 else 0,
                              sum(res.health_weight() for res in people) if self.effect("health_reach", s) > 0
                              else 0) for s, people in enumerate(self.by_stadtteil)]
        self.residents.shuffle_do("visit")
        self.residents.shuffle_do("mingle")
        self.residents.shuffle_do("keep_ties")
        self.residents.shuffle_do("feel")
        self.residents.do("commit_loneliness")
        self.residents.shuffle_do("engage")
        self.residents.do("commit_readiness")
        self._initiatives()
        self.week += 1
        src.week = self.week

    def _drop(self, club: Club) -> None:
        club.active = False
        for member in club.members:
            member.club = None
        club.members.clear()

    def _initiatives(self) -> None:
        """Hosts, advice sessions, network meetings, champions, drop-outs, membership and foundings."""
        p, r, week = self.p, self.random, self.week
        for s, people in enumerate(self.by_stadtteil):
            if not people:
                continue
            w = float(self.weight_s[s])
            clubs = [c for c in self.clubs.values() if c.stadtteil == s and c.active]
            open_regular = [pl for pl in self.regular_places[s] if pl.capacity > 0]
            open_all = [pl for pl in self.places if pl.stadtteil == s and pl.capacity > 0]
            for club in clubs:
                if club.host is not None and club.host.capacity == 0:
                    club.host = None
                    if self.effect("rehost", s) > 0 and open_regular:
                        club.host = r.choice(open_regular)
            founding_sessions = 0
            for _ in range(int(self.effect("advice_sessions", s) + r.random())):
                if r.random() < p.advice_initiative_share:
                    if clubs:
                        r.choice(clubs).advised = week
                elif r.random() < p.advice_founding_prob:
                    founding_sessions += 1
            for _ in range(int(self.effect("network_meetings", s) + r.random())):
                if clubs:
                    club = r.choice(clubs)
                    if club.host is None and r.random() < p.network_host_prob and open_all:
                        club.host = r.choice(open_all)
            for club in clubs:
                supported = week - club.advised < p.support_weeks
                if club.champion is not None and r.random() < p.champion_quit_rate:
                    club.champion = None
                if club.champion is None and club.members:
                    rate = p.champion_succession_rate * (p.advice_succession_rr if supported else 1.0)
                    if r.random() < rate:
                        club.champion = r.choice(sorted(club.members, key=lambda res: res.unique_id))
                if club.host is None and r.random() < p.host_find_rate and open_all:
                    club.host = r.choice(open_all)
                hazard = p.initiative_dropout_base * club.grant_rr
                hazard *= p.champion_loss_rr if club.champion is None else 1.0
                hazard *= 1.0 - p.host_effect if club.host is not None else 1.0
                hazard *= 1.0 - p.initiative_support_effect if supported else 1.0
                hazard *= 1.0 - p.diverse_funding_effect if club.diverse else 1.0
                hazard *= p.initiative_small_rr if len(club.members) * w < p.initiative_min_members else 1.0
                if r.random() < 1.0 - math.exp(-hazard):
                    self._drop(club)
            dropped = sum(1 for c in clubs if not c.active)
            self.clubs = {g: c for g, c in self.clubs.items() if c.active}
            clubs = [c for c in clubs if c.active]
            join = p.initiative_join_rate * len(clubs) * 1000.0 / (len(people) * w)
            engaged = 0
            for res in people:
                if res.club is not None and r.random() < p.member_quit_rate:
                    res.club.members.discard(res)
                    if res.club.champion is res:
                        res.club.champion = None
                    res.club = None
                if res.engaged:
                    engaged += 1
                    if clubs and r.random() < join:
                        res.club = r.choice(clubs)
                        res.club.members.add(res)
                if res.club is not None:
                    res.aware = True
            n_new = founding_sessions
            lam = float(self.founding_s[s]) * engaged * w
            if lam > 0:
                n_new += min(int(self.rng.poisson(lam)), 4)
            if self.source._prm.initiatives.replace_dropouts:
                n_new = dropped
            free = [g for g in range(s * self.max_init, (s + 1) * self.max_init) if g not in self.clubs]
            candidates = [res for res in people if res.engaged]
            for g, founder in zip(free[:n_new], r.sample(candidates, min(n_new, len(candidates))), strict=False):
                club = Club(s)
                club.members.add(founder)
                club.champion = founder
                club.diverse = r.random() < p.diverse_funding_share
                founder.club = club
                founder.aware = True
                self.clubs[g] = club

    def city(self) -> dict[str, float]:
        """City-level outcomes, person-weighted as in the array model's report."""
        tot = dict.fromkeys(("persons", "adults", "lonely", "ties", "aware", "teen", "part", "vol", "old", "knows"),
                            0.0)
        for res in self.residents:
            w = float(self.weight_s[res.s])
            tot["persons"] += w
            tot["ties"] += w * len(res.ties)
            tot["aware"] += w * res.aware
            tot["old"] += w * (res.age >= 65)
            if res.age >= 18:
                tot["adults"] += w
                tot["lonely"] += w * res.lonely
            if res.age >= 14:
                tot["teen"] += w
                tot["part"] += w * res.active
                tot["vol"] += w * res.volunteer
                tot["knows"] += w * res.knows_role
        return {"lonely_share": tot["lonely"] / tot["adults"], "ties_per_resident": tot["ties"] / tot["persons"],
                "aware_share": tot["aware"] / tot["persons"], "participation_share": tot["part"] / tot["teen"],
                "volunteer_share": tot["vol"] / tot["teen"], "share_65plus": tot["old"] / tot["persons"],
                "programme_known_share": tot["knows"] / tot["teen"],
                "active_initiatives": float(len(self.clubs)),
                "hosted_initiatives": float(sum(c.host is not None for c in self.clubs.values()))}


def array_city(model: QuarterModel) -> dict[str, float]:
    """The same city-level outcomes from the array model's current state."""
    r = model.residents
    w = r.weight
    adult, teen = r.age >= 18, r.age >= 14
    return {"lonely_share": float((w * r.lonely * adult).sum() / (w * adult).sum()),
            "ties_per_resident": float((w * r.deg).sum() / w.sum()),
            "aware_share": float((w * r.aware).sum() / w.sum()),
            "participation_share": float((w * r.active * teen).sum() / (w * teen).sum()),
            "volunteer_share": float((w * r.volunteer * teen).sum() / (w * teen).sum()),
            "share_65plus": float((w * (r.age >= 65)).sum() / w.sum()),
            "programme_known_share": float((w * r.knows_role * teen).sum() / (w * teen).sum()),
            "active_initiatives": float(model.init_active.sum()),
            "hosted_initiatives": float(((model.init_active == 1) & (model.inits.host >= 0)).sum())}
