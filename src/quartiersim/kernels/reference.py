"""Plain-Python references of the weekly kernels, for the tests.

Each function states the rule of one kernel in :mod:`quartiersim.kernels.core` as directly as possible:
Python loops and scalars, the residents of a Stadtteil as a ``range``, ties as Python lists, no numba. They
draw the same counter-based numbers (:func:`~quartiersim.kernels.random.uniform_py`), so on the same inputs
they must produce the same arrays bit for bit. They are slow; use them on small populations only.
Arguments mirror the kernels' (the bundles of :mod:`quartiersim.kernels.state`); arrays are modified in place
the same way.
"""

from __future__ import annotations

import math

from .random import uniform_py as U
from .state import NEVER

YEAR = 52
ACTIVE = 52
RECENT = 5 * 52


def _stadtteile(st_off):
    return [range(int(st_off[s]), int(st_off[s + 1])) for s in range(len(st_off) - 1)]


def _neighbours(tie_j, i):
    return [(a, int(j)) for a, j in enumerate(tie_j[i]) if j >= 0]


def _event(u, rate):
    """Same rule as the kernels' ``event``: chance ``1 - exp(-rate)``, the exponential only when ``u < rate``."""
    return u < rate and u < 1.0 - math.exp(-rate)


def _similarity(i, j, age, mig, inc, age_scale, bridging, income_factor):
    sim = math.exp(-abs(float(age[i]) - float(age[j])) / age_scale)
    if mig[i] != mig[j]:
        sim *= bridging
    if inc[i] != inc[j]:
        sim *= income_factor
    return sim


def _link(i, j, w, tie_j, tie_w, tie_slot, deg):
    a, b = int(deg[i]), int(deg[j])  # ties fill the first deg slots of a row
    if a >= tie_j.shape[1] or b >= tie_j.shape[1]:
        return False
    tie_j[i, a], tie_w[i, a], tie_slot[i, a] = j, w, b
    tie_j[j, b], tie_w[j, b], tie_slot[j, b] = i, w, a
    deg[i] += 1
    deg[j] += 1
    return True


def _unlink_all(i, ties):
    """End every tie of i (its neighbours' rows stay compact: their last tie fills the gap)."""
    tie_j, tie_w, tie_slot, deg = ties
    for a in range(int(deg[i])):
        j, b = int(tie_j[i, a]), int(tie_slot[i, a])
        last = int(deg[j]) - 1
        if b != last:
            k, c = int(tie_j[j, last]), int(tie_slot[j, last])
            tie_j[j, b], tie_w[j, b], tie_slot[j, b] = k, tie_w[j, last], c
            tie_slot[k, c] = b
        tie_j[j, last], tie_w[j, last], tie_slot[j, last] = -1, 0.0, -1
        deg[j] = last
        tie_j[i, a], tie_w[i, a], tie_slot[i, a] = -1, 0.0, -1
    deg[i] = 0


def _meet(i, j, p_form, u, age, mig, inc, age_scale, bridging, income_factor, tie_j, tie_w, tie_slot, deg):
    for a, k in _neighbours(tie_j, i):
        if k == j:
            tie_w[i, a] = 1.0
            tie_w[j, tie_slot[i, a]] = 1.0
            return 0
    if u < p_form * _similarity(i, j, age, mig, inc, age_scale, bridging, income_factor):
        return 1 if _link(i, j, 1.0, tie_j, tie_w, tie_slot, deg) else 0
    return 0


def _pick_cdf(cdf, u):
    """Smallest index whose cumulative probability exceeds u (the last at most)."""
    for k, c in enumerate(cdf):
        if c > u:
            return k
    return len(cdf) - 1


def set_traits(i, s, pop, demog, tp, week):
    """Reference of :func:`quartiersim.kernels.core.set_traits`."""
    a = int(pop.age[i])
    p_low = float(demog.low_share[s])
    if a < 25:
        p_low = max(p_low, float(demog.bg_u25[s]))
    inc = 1 if pop.u_income[i] < p_low else 0
    band = sum(1 for edge in tp.age_edges if a >= edge)
    p_lim = min(1.0, float(demog.lim_coef[s]) * float(tp.age_profile[band]))
    u = float(pop.u_health[i])
    if u < p_lim:
        v = u / p_lim
        h = 4 if v < tp.very_poor else 3 if v < tp.very_poor + tp.poor else 2
    else:
        h = 1 if (u - p_lim) / (1.0 - p_lim) < 1.0 - tp.very_good else 0
    p = tp.stille_base
    p *= tp.stille_rr_recent_migrant if pop.mig[i] == 1 and week - int(pop.arrived[i]) < RECENT else 1.0
    p *= tp.stille_rr_low_income if inc == 1 else 1.0
    p *= tp.stille_rr_poor_health if h >= 3 else 1.0
    stille = 1 if pop.u_stille[i] < min(p, 1.0) else 0
    thr = tp.threshold_min + (1.0 - tp.threshold_min) * float(pop.u_threshold[i])
    thr += tp.stille_threshold_shift if stille == 1 else 0.0
    pop.inc[i], pop.health[i], pop.stille[i], pop.threshold[i] = inc, h, stille, min(thr, 1.0)


def _volunteer_share(i, pop, tp):
    if pop.age[i] < 14:
        return 0.0
    return tp.volunteer_mig if pop.mig[i] == 1 else tp.volunteer_no


def _home(s, venues, u):
    n_reg = int(venues.n_regular[s])
    return -1 if n_reg <= 0 else int(venues.pl_off[s]) + int(u * n_reg)


def _years_here(s, a, demog, u):
    if demog.stock[s, a] <= 0.0:
        return 0
    share, y = 1.0, 0
    while y < a:
        k = a - 1 - y
        share *= float(demog.stock[s, k]) * (1.0 - float(demog.exit_year[s, k])) / float(demog.stock[s, k + 1])
        if share <= u:
            break
        y += 1
    return y


def synthesise(pop, venues, demog, tp, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.synthesise`."""
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        for i in residents:
            a = _pick_cdf(demog.stock_cdf[s], U(wkey, i, 0))
            pop.age[i] = a
            pop.birthday[i] = int(U(wkey, i, 1) * YEAR)
            pop.mig[i] = 1 if U(wkey, i, 2) < demog.mig_share[s] else 0
            years = _years_here(s, a, demog, U(wkey, i, 3)) + U(wkey, i, 13)
            pop.arrived[i] = week - int(years * YEAR)
            pop.u_income[i], pop.u_health[i] = U(wkey, i, 4), U(wkey, i, 5)
            pop.u_stille[i], pop.u_threshold[i] = U(wkey, i, 6), U(wkey, i, 7)
            set_traits(i, s, pop, demog, tp, week)
            p_aware = tp.awareness_initial * (tp.awareness_stille_factor if pop.stille[i] == 1 else 1.0)
            pop.aware[i] = 1 if U(wkey, i, 8) < p_aware else 0
            active = pop.aware[i] == 1 and a >= 14 and U(wkey, i, 9) < tp.participation_initial
            pop.last_active[i] = week - int(U(wkey, i, 10) * ACTIVE) if active else NEVER
            pop.volunteer[i] = 1 if U(wkey, i, 11) < _volunteer_share(i, pop, tp) else 0
            pop.home_place[i] = _home(s, venues, U(wkey, i, 12))
            pop.ready[i] = pop.lonely[i] = 0
            pop.member_of[i] = pop.venue[i] = -1
            pop.visit_count[i] = 0
            pop.last_contact[i] = pop.last_role[i] = pop.last_health[i] = NEVER
            pop.knows_role[i] = 0


def init_ties(pop, ties, target_mean, age_scale, bridging, income_factor, wkey):
    """Reference of :func:`quartiersim.kernels.core.init_ties`."""
    st_off, age, mig, inc = pop.st_off, pop.age, pop.mig, pop.inc
    tie_j, tie_w, tie_slot, deg = ties
    for residents in _stadtteile(st_off):
        n = len(residents)
        if n < 2:
            continue
        for i in residents:
            want = int(target_mean / 2.0 + U(wkey, i, 0))
            made = 0
            for t in range(8 * want):
                if made >= want:
                    break
                j = residents.start + int(U(wkey, i, 1 + 3 * t) * n)
                if j == i or j in [k for _, k in _neighbours(tie_j, i)]:
                    continue
                if U(wkey, i, 2 + 3 * t) < _similarity(i, j, age, mig, inc, age_scale, bridging, income_factor):
                    if _link(i, j, 0.4 + 0.6 * U(wkey, i, 3 + 3 * t), tie_j, tie_w, tie_slot, deg):
                        made += 1


def init_initiatives(pop, inits, venues, n_init_s, members_persons, hosted_share, diverse_share, wkey):
    """Reference of :func:`quartiersim.kernels.core.init_initiatives`."""
    n_res, n_st = int(pop.st_off[-1]), len(pop.st_off) - 1
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        n = len(residents)
        k_max = min(int(n_init_s[s]), inits.max_init)
        if n == 0 or k_max == 0:
            continue
        size = max(1, int(members_persons / pop.weight_s[s] + 0.5))
        start = int(U(wkey, n_res + s, 0) * n)
        scan = [residents.start + (start + t) % n for t in range(n)]
        for k in range(k_max):
            g = s * inits.max_init + k
            chosen = []
            while scan and len(chosen) < size:
                i = scan.pop(0)
                if pop.volunteer[i] == 1 and pop.member_of[i] < 0 and pop.age[i] >= 14:
                    chosen.append(i)
            if not chosen:
                break
            for i in chosen:
                pop.member_of[i] = g
            inits.champion[g] = chosen[0]
            inits.active[g], inits.members[g] = 1, len(chosen)
            c = n_res + n_st + g
            inits.host[g] = -1
            if venues.n_regular[s] > 0 and U(wkey, c, 0) < hosted_share:
                inits.host[g] = int(venues.pl_off[s]) + int(U(wkey, c, 1) * int(venues.n_regular[s]))
            inits.diverse[g] = 1 if U(wkey, c, 2) < diverse_share else 0
            inits.advised[g] = NEVER


def _newcomer_lonely(i, pop, lp):
    onset = lp.onset_base * float(lp.rr_health[pop.health[i]])
    onset *= lp.rr_migration if pop.mig[i] == 1 else 1.0
    onset *= lp.rr_low_income if pop.inc[i] == 1 else 1.0
    onset *= lp.rr_age_65plus if pop.age[i] >= 65 else 1.0
    return onset / (onset + lp.recovery_base + 2.0 * lp.recovery_per_tie)


def demography_step(pop, ties, venues, inits, demog, tp, lp, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.demography_step`."""
    moved = [0] * (len(pop.st_off) - 1)
    year_week = week % YEAR
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        for i in residents:
            if pop.birthday[i] == year_week and pop.age[i] < 100:
                pop.age[i] += 1
                set_traits(i, s, pop, demog, tp, week)
            elif week - int(pop.arrived[i]) == RECENT:
                set_traits(i, s, pop, demog, tp, week)
            if U(wkey, i, 0) >= demog.exit_prob[s, pop.age[i]]:
                continue
            moved[s] += 1
            _unlink_all(i, ties)
            m = int(pop.member_of[i])
            if m >= 0:
                pop.member_of[i] = -1
                inits.members[m] -= 1
                if inits.champion[m] == i:
                    inits.champion[m] = -1
            # a newcomer from the Stadtteil's profile takes the slot
            pop.age[i] = _pick_cdf(demog.entry_cdf[s], U(wkey, i, 1))
            pop.birthday[i] = year_week
            pop.mig[i] = 1 if U(wkey, i, 3) < demog.mig_share[s] else 0
            pop.arrived[i] = week
            pop.u_income[i], pop.u_health[i] = U(wkey, i, 4), U(wkey, i, 5)
            pop.u_stille[i], pop.u_threshold[i] = U(wkey, i, 6), U(wkey, i, 7)
            set_traits(i, s, pop, demog, tp, week)
            pop.volunteer[i] = 1 if U(wkey, i, 8) < _volunteer_share(i, pop, tp) else 0
            pop.home_place[i] = _home(s, venues, U(wkey, i, 9))
            pop.lonely[i] = 1 if U(wkey, i, 10) < _newcomer_lonely(i, pop, lp) else 0
            pop.aware[i] = pop.ready[i] = pop.knows_role[i] = 0
            pop.venue[i] = -1
            pop.last_active[i] = pop.last_contact[i] = pop.last_role[i] = pop.last_health[i] = NEVER
    return moved


def awareness_step(pop, ties, eff, prm, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.awareness_step`."""
    aware, aware_new = pop.aware, pop.aware_new
    contacted_total = [0] * (len(pop.st_off) - 1)
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        def target(i):
            return prm.outreach_stille_weight if pop.stille[i] == 1 else 1.0

        contacts = float(eff.contacts[s])
        total = sum(target(i) for i in residents if pop.age[i] >= 14) if contacts > 0.0 else 0.0
        for i in residents:
            contacted = total > 0.0 and pop.age[i] >= 14 and U(wkey, i, 2) < contacts * target(i) / total
            if contacted:
                pop.last_contact[i] = week
                contacted_total[s] += 1
            pop.knows_new[i] = pop.knows_role[i]
            if contacted:
                pop.knows_new[i] = 1
            elif eff.programme[s] > 0.0 and pop.knows_role[i] == 0 and U(wkey, i, 4) < prm.programme_word_of_mouth:
                neighbours = _neighbours(ties.j, i)
                knowing = sum(1 for _, j in neighbours if pop.knows_role[j] == 1)
                if neighbours and U(wkey, i, 5) * len(neighbours) < knowing:
                    pop.knows_new[i] = 1
            if aware[i] == 1:
                forgets = not contacted and pop.venue[i] < 0 and U(wkey, i, 0) < prm.forget_rate
                aware_new[i] = 0 if forgets else 1
                continue
            if contacted and U(wkey, i, 3) < prm.outreach_aware_prob:
                aware_new[i] = 1
                continue
            neighbours = _neighbours(ties.j, i)
            frac = sum(1 for _, j in neighbours if aware[j] == 1) / len(neighbours) if neighbours else 0.0
            reach = prm.stille_factor if pop.stille[i] == 1 else 1.0
            p_none = (1.0 - reach * prm.base_rate) * (1.0 - reach * prm.word_of_mouth * frac)
            aware_new[i] = 1 if U(wkey, i, 1) < 1.0 - p_none else 0
    aware[:] = aware_new  # everybody read the old states: now the new ones replace them
    pop.knows_role[:] = pop.knows_new
    return contacted_total


def _event_weight(i, pop, prm, week):
    if pop.aware[i] == 0:
        return 0.0
    w = 1.0 if pop.ready[i] == 1 else prm.event_unready_factor
    w *= prm.regular_factor if week - int(pop.last_role[i]) < prm.regular_weeks else 1.0
    w *= prm.invite_factor if week - int(pop.last_contact[i]) < prm.invite_weeks else 1.0
    w *= prm.lonely_factor if pop.lonely[i] == 1 else 1.0
    w *= prm.child_factor if pop.age[i] < 14 else 1.0
    return w


def _health_weight(i, pop, prm):
    if pop.age[i] < 18:
        return 0.0
    return prm.health_targeting if pop.health[i] >= 3 else 1.0


def visit_step(pop, venues, inits, eff, prm, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.visit_step`."""
    n_res = int(pop.st_off[-1])
    attended = [0] * (len(pop.st_off) - 1)
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        for p in range(venues.pl_off[s], venues.pl_off[s + 1]):
            venues.used[p] = 0
        n = len(residents)
        if n == 0:
            continue
        role_venue = venues.n_places + len(inits.active) + s
        attendance, reach = float(eff.attendance[s]), float(eff.health_reach[s])
        w_total = h_total = 0.0
        if attendance > 0.0 or reach > 0.0:
            for i in residents:
                w_total += _event_weight(i, pop, prm, week)
                h_total += _health_weight(i, pop, prm)
        start = int(U(wkey, n_res + s, 0) * n)
        for i in [residents.start + (start + k) % n for k in range(n)]:
            pop.venue[i] = -1
            if attendance > 0.0 and w_total > 0.0 and (
                    U(wkey, i, 2) < attendance * _event_weight(i, pop, prm, week) / w_total):
                pop.venue[i] = role_venue
                pop.last_active[i] = pop.last_role[i] = week
                pop.knows_role[i] = 1
                attended[s] += 1
                continue
            if reach > 0.0 and h_total > 0.0 and U(wkey, i, 3) < reach * _health_weight(i, pop, prm) / h_total:
                pop.venue[i] = role_venue
                pop.last_active[i] = pop.last_role[i] = pop.last_health[i] = week
                pop.knows_role[i] = 1
                attended[s] += 1
                continue
            if pop.member_of[i] >= 0 and U(wkey, i, 0) < prm.meeting_prob:
                pop.venue[i] = venues.n_places + pop.member_of[i]
                pop.last_active[i] = week
                continue
            p = int(pop.home_place[i])
            if pop.aware[i] == 0 or p < 0 or venues.used[p] >= venues.cap[p]:
                continue
            factors = [1.0 if pop.ready[i] == 1 else prm.unready_factor]
            factors.append(prm.health_barrier if pop.health[i] >= 3 and venues.barrier_free[p] == 0 else 1.0)
            factors.append(prm.threshold_factor if pop.stille[i] == 1 and venues.low_threshold[p] == 0 else 1.0)
            factors.append(prm.lonely_factor if pop.lonely[i] == 1 else 1.0)
            factors.append(prm.child_factor if pop.age[i] < 14 else 1.0)
            prob = prm.visit_base
            for f in factors:
                prob *= f
            if U(wkey, i, 1) < prob:
                venues.used[p] += 1
                pop.venue[i] = p
                pop.visit_count[i] += 1
                pop.last_active[i] = week
    return attended


def encounter_step(pop, ties, venues, inits, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.encounter_step` (grouping by dict instead of sorting)."""
    venue, age, mig, inc = pop.venue, pop.age, pop.mig, pop.inc
    tie_j, tie_w, tie_slot, deg = ties
    formed = 0
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        n = len(residents)
        if n < 2:
            continue
        role_venue = venues.n_places + len(inits.active) + s
        attendees = {}
        for i in residents:
            if venue[i] >= 0:
                attendees.setdefault(int(venue[i]), []).append(i)
        for i in residents:
            partners = []  # (partner, draw, bridging factor)
            group = attendees.get(int(venue[i]), [])
            if len(group) >= 2:
                bridge = prm.event_bridging if venue[i] == role_venue else prm.bridging
                for e in range(prm.per_visit):
                    partners.append((group[int(U(wkey, i, 10 + 2 * e) * len(group))], U(wkey, i, 11 + 2 * e),
                                     bridge))
            if U(wkey, i, 0) < prm.neighbour_rate:
                partners.append((residents.start + int(U(wkey, i, 1) * n), U(wkey, i, 2), prm.bridging))
            for j, u, bridge in partners:
                if j != i:
                    formed += _meet(i, j, prm.p_form, u, age, mig, inc, prm.age_scale, bridge, prm.income_factor,
                                    tie_j, tie_w, tie_slot, deg)
    return formed


def tie_step(pop, ties, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.tie_step`."""
    tie_j, tie_w, tie_slot, deg = ties
    dropped = 0
    for residents in _stadtteile(pop.st_off):
        for i in residents:
            a = 0
            while a < deg[i]:  # an ending tie's slot receives the row's last tie, which is looked at next
                j = int(tie_j[i, a])
                w = float(tie_w[i, a])
                w = 1.0 if U(wkey, min(i, j), max(i, j)) < prm.contact_rate * w else w * prm.decay
                if w >= prm.min_weight:
                    tie_w[i, a] = w
                    a += 1
                    continue
                last = int(deg[i]) - 1
                if a != last:
                    k, c = int(tie_j[i, last]), int(tie_slot[i, last])
                    tie_j[i, a], tie_w[i, a], tie_slot[i, a] = k, tie_w[i, last], c
                    if tie_j[k, c] == i:  # unless k dropped its copy earlier this week
                        tie_slot[k, c] = a
                tie_j[i, last], tie_w[i, last], tie_slot[i, last] = -1, 0.0, -1
                deg[i] = last
                dropped += 1 if i < j else 0
    return dropped


def loneliness_step(pop, ties, prm, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.loneliness_step`."""
    lonely, lonely_new = pop.lonely, pop.lonely_new
    for residents in _stadtteile(pop.st_off):
        for i in residents:
            w_all = w_lonely = 0.0
            for a, j in _neighbours(ties.j, i):
                w_all += float(ties.w[i, a])
                if lonely[j] == 1:
                    w_lonely += float(ties.w[i, a])
            u = U(wkey, i, 0)
            if lonely[i] == 1:
                lonely_new[i] = 0 if _event(u, prm.recovery_base + prm.recovery_per_tie * (w_all - w_lonely)) else 1
                continue
            rate = prm.onset_base * float(prm.rr_health[pop.health[i]])
            rate *= prm.rr_migration if pop.mig[i] == 1 else 1.0
            rate *= prm.rr_low_income if pop.inc[i] == 1 else 1.0
            rate *= prm.rr_age_65plus if pop.age[i] >= 65 else 1.0
            rate *= prm.rr_isolated if w_all < 2.0 else 1.0
            rate *= 1.0 - prm.health_effect if week - int(pop.last_health[i]) < prm.health_weeks else 1.0
            rate *= 1.0 + prm.contagion * w_lonely
            lonely_new[i] = 1 if _event(u, rate) else 0
    lonely[:] = lonely_new


def participation_step(pop, ties, prm, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.participation_step`."""
    for residents in _stadtteile(pop.st_off):
        for i in residents:
            if pop.age[i] < 14:
                pop.ready_new[i] = 0
                continue
            if pop.aware[i] == 0:
                pop.ready_new[i] = 0
            else:
                signal = prm.member_activation if pop.member_of[i] >= 0 else 0.0
                signal += prm.invite_activation if week - int(pop.last_contact[i]) < prm.invite_weeks else 0.0
                neighbours = _neighbours(ties.j, i)
                if neighbours:
                    active = sum(1 for _, j in neighbours if week - int(pop.last_active[j]) < ACTIVE)
                    signal += prm.peer_influence * active / len(neighbours)
                pop.ready_new[i] = 1 if signal >= pop.threshold[i] else 0
            u = U(wkey, i, 1)
            if pop.volunteer[i] == 1:
                pop.volunteer[i] = 0 if u < prm.volunteer_quit else 1
            else:
                rate = prm.volunteer_start_mig if pop.mig[i] == 1 else prm.volunteer_start_no
                rate *= prm.volunteer_participation_rr if week - int(pop.last_active[i]) < ACTIVE else 1.0
                pop.volunteer[i] = 1 if u < rate else 0
    pop.ready[:] = pop.ready_new


def _hazard(g, w, inits, prm, supported):
    hazard = prm.dropout_base * float(inits.rr[g])
    hazard *= prm.champion_loss_rr if inits.champion[g] < 0 else 1.0
    hazard *= 1.0 - prm.host_effect if inits.host[g] >= 0 else 1.0
    hazard *= 1.0 - prm.support_effect if supported else 1.0
    hazard *= 1.0 - prm.diverse_effect if inits.diverse[g] == 1 else 1.0
    hazard *= prm.small_rr if inits.members[g] * w < prm.min_members else 1.0
    return hazard


def dropout_hazards(pop, inits, prm, week, out):
    """Reference of :func:`quartiersim.kernels.core.dropout_hazards`."""
    for g in range(len(inits.active)):
        supported = week - int(inits.advised[g]) < prm.support_weeks
        w = float(pop.weight_s[g // inits.max_init])
        out[g] = _hazard(g, w, inits, prm, supported) if inits.active[g] == 1 else 0.0


def _open_places(s, venues, regular_only):
    p0 = int(venues.pl_off[s])
    p1 = p0 + int(venues.n_regular[s]) if regular_only else int(venues.pl_off[s + 1])
    return [p for p in range(p0, p1) if venues.cap[p] > 0]


def _pick(options, u):
    return options[int(u * len(options))] if options else -1


def initiative_step(pop, inits, venues, eff, prm, week, wkey):
    """Reference of :func:`quartiersim.kernels.core.initiative_step`."""
    n_res, n_st, max_init = int(pop.st_off[-1]), len(pop.st_off) - 1, inits.max_init
    inits.n_found[:] = 0
    inits.n_drop[:] = 0
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        slots = list(range(s * max_init, (s + 1) * max_init))
        for g in slots:
            inits.founded[g] = inits.dropped[g] = 0
        n = len(residents)
        if n == 0:
            continue
        cs = n_res + s
        w = float(pop.weight_s[s])

        def active(slots=slots):
            return [g for g in slots if inits.active[g] == 1]

        for g in active():  # (1) hosts that closed
            if inits.host[g] >= 0 and venues.cap[inits.host[g]] == 0:
                inits.host[g] = -1
                if eff.rehost[s] > 0.0:
                    inits.host[g] = _pick(_open_places(s, venues, True), U(wkey, n_res + n_st + g, 5))
        sessions = min(int(eff.advice_sessions[s] + U(wkey, cs, 5)), 100_000)  # (2) advice sessions
        advised_foundings = 0
        for k in range(sessions):
            if U(wkey, cs, 1000 + 3 * k) < prm.advice_initiative_share:
                if active():
                    inits.advised[active()[int(U(wkey, cs, 1001 + 3 * k) * len(active()))]] = week
            elif U(wkey, cs, 1002 + 3 * k) < prm.advice_founding_prob:
                advised_foundings += 1
        meetings = min(int(eff.network_meetings[s] + U(wkey, cs, 6)), 100_000)  # (3) network meetings
        if active():
            for k in range(meetings):
                g = active()[int(U(wkey, cs, 500_000 + 3 * k) * len(active()))]
                if inits.host[g] < 0 and U(wkey, cs, 500_001 + 3 * k) < prm.network_host_prob:
                    inits.host[g] = _pick(_open_places(s, venues, False), U(wkey, cs, 500_002 + 3 * k))
        for g in active():  # (4) champions, hosts, drop-outs
            c = n_res + n_st + g
            inits.weeks[g] += 1
            supported = week - int(inits.advised[g]) < prm.support_weeks
            if inits.champion[g] >= 0 and U(wkey, c, 1) < prm.champion_quit_rate:
                inits.champion[g] = -1
            if inits.champion[g] < 0 and inits.members[g] > 0:
                rate = prm.champion_succession_rate * (prm.advice_succession_rr if supported else 1.0)
                if U(wkey, c, 2) < rate:
                    members = [i for i in residents if pop.member_of[i] == g]
                    pick = int(U(wkey, c, 4) * int(inits.members[g]))
                    if pick < len(members):
                        inits.champion[g] = members[pick]
            if inits.host[g] < 0 and U(wkey, c, 3) < prm.host_find_rate:
                inits.host[g] = _pick(_open_places(s, venues, False), U(wkey, c, 6))
            if _event(U(wkey, c, 0), _hazard(g, w, inits, prm, supported)):
                inits.active[g], inits.dropped[g] = 0, 1
                inits.champion[g] = inits.host[g] = -1
                inits.n_drop[s] += 1
        for g in slots:  # (5) membership
            inits.members[g] = 0
        live = active()
        join = prm.join_rate * len(live) * 1000.0 / (n * w)

        def engaged(i):
            return (pop.member_of[i] < 0 and pop.age[i] >= 14 and pop.volunteer[i] == 1
                    and week - int(pop.last_active[i]) < ACTIVE)

        n_engaged = 0
        for i in residents:
            m = int(pop.member_of[i])
            if m >= 0 and inits.dropped[m] == 1:
                pop.member_of[i] = -1
            elif m >= 0 and U(wkey, i, 2) < prm.member_quit:
                pop.member_of[i] = -1
                if inits.champion[m] == i:
                    inits.champion[m] = -1
            if engaged(i):
                n_engaged += 1
                if live and U(wkey, i, 0) < join:
                    pop.member_of[i] = live[int(U(wkey, i, 1) * len(live))]
            if pop.member_of[i] >= 0:
                inits.members[pop.member_of[i]] += 1
                pop.aware[i] = 1
        if prm.replace_dropouts == 1:  # (6) foundings
            n_new = int(inits.n_drop[s])
        else:
            n_new = advised_foundings
            lam = float(prm.founding_s[s]) * n_engaged * w
            if lam > 0.0:
                u, p, k = U(wkey, cs, 0), math.exp(-lam), 0
                cdf = p
                while u > cdf and k < 4:
                    k += 1
                    p *= lam / k
                    cdf += p
                n_new += k
        for f in range(min(n_new, max_init)):
            if n_engaged == 0:
                break
            free = [g for g in slots if inits.active[g] == 0 and inits.dropped[g] == 0 and inits.founded[g] == 0]
            if not free:
                break
            start = int(U(wkey, cs, 1_000_000 + f) * n)
            founders = [i for i in (residents.start + (start + t) % n for t in range(n)) if engaged(i)]
            if not founders:
                break
            n_engaged -= 1
            g, founder = free[0], founders[0]
            pop.member_of[founder] = g
            pop.aware[founder] = 1
            inits.active[g], inits.members[g], inits.weeks[g], inits.rr[g] = 1, 1, 0, 1.0
            inits.champion[g], inits.host[g], inits.advised[g] = founder, -1, NEVER
            inits.diverse[g] = 1 if U(wkey, cs, 1_100_000 + f) < prm.diverse_share else 0
            inits.founded[g] = 1
            inits.n_found[s] += 1


def group_stats(pop, ties, access_s, week, out):
    """Reference of :func:`quartiersim.kernels.core.group_stats` (exact counts per group, times the weight)."""
    for s, residents in enumerate(_stadtteile(pop.st_off)):
        counts = [[0] * out.shape[2] for _ in range(out.shape[1])]
        for i in residents:
            age, health = int(pop.age[i]), int(pop.health[i])
            groups = [0, 1 if pop.mig[i] == 1 else 2]
            groups += [3] if pop.inc[i] == 1 else []
            groups += [4] if health >= 3 else []
            groups += [5] if pop.stille[i] == 1 else []
            groups += [6] if age >= 65 else []
            groups += [7] if health == 0 else [8] if health == 4 else []
            need = (1 if health >= 3 else 0) + (2 if pop.stille[i] == 1 else 0)
            bridging = sum(1 for _, j in _neighbours(ties.j, i) if pop.mig[j] != pop.mig[i])
            teen = age >= 14
            role = week - int(pop.last_role[i]) < ACTIVE
            contact = week - int(pop.last_contact[i]) < ACTIVE
            values = [1, age >= 18, age >= 18 and pop.lonely[i] == 1, int(ties.deg[i]), bridging,
                      int(pop.visit_count[i]), teen, teen and week - int(pop.last_active[i]) < ACTIVE,
                      teen and pop.volunteer[i] == 1, pop.aware[i] == 1 and access_s[s, need] == 1,
                      pop.aware[i] == 1, teen and (role or contact), teen and role,
                      teen and pop.knows_role[i] == 1]
            for g in groups:
                for k, v in enumerate(values):
                    counts[g][k] += int(v)
        for g in range(out.shape[1]):
            for k in range(out.shape[2]):
                out[s, g, k] = float(pop.weight_s[s]) * counts[g][k]
