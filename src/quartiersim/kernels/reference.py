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


def _meet(i, j, p_form, u, age, mig, inc, age_scale, bridging, income_factor, tie_j, tie_w, tie_slot, deg):
    for a, k in _neighbours(tie_j, i):
        if k == j:
            tie_w[i, a] = 1.0
            tie_w[j, tie_slot[i, a]] = 1.0
            return 0
    if u < p_form * _similarity(i, j, age, mig, inc, age_scale, bridging, income_factor):
        return 1 if _link(i, j, 1.0, tie_j, tie_w, tie_slot, deg) else 0
    return 0


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


def awareness_step(pop, ties, eff, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.awareness_step`."""
    st_off, aware, aware_new, stille, venue = pop.st_off, pop.aware, pop.aware_new, pop.stille, pop.venue
    tie_j, deg, outreach_s = ties.j, ties.deg, eff.outreach
    base_rate, word_of_mouth, stille_factor, forget_rate = prm
    for s, residents in enumerate(_stadtteile(st_off)):
        for i in residents:
            if aware[i] == 1:
                forgets = venue[i] < 0 and U(wkey, i, 0) < forget_rate
                aware_new[i] = 0 if forgets else 1
                continue
            ties = _neighbours(tie_j, i)
            frac = sum(1 for _, j in ties if aware[j] == 1) / deg[i] if deg[i] > 0 else 0.0
            reach = stille_factor if stille[i] == 1 else 1.0
            p_none = (1.0 - reach * base_rate) * (1.0 - reach * word_of_mouth * frac) * (1.0 - outreach_s[s])
            aware_new[i] = 1 if U(wkey, i, 1) < 1.0 - p_none else 0
    aware[:] = aware_new  # everybody read the old states: now the new ones replace them


def visit_step(pop, venues, inits, eff, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.visit_step`."""
    st_off, aware, stille, health, age, lonely = pop.st_off, pop.aware, pop.stille, pop.health, pop.age, pop.lonely
    member_of, home_place, alt_place, venue, visit_count = (pop.member_of, pop.home_place, pop.alt_place, pop.venue,
                                                            pop.visit_count)
    pl_off, n_places, place_cap, place_bf, place_lt, place_used = venues[:6]
    events_s = eff.events
    visit_base, health_barrier, threshold_factor, lonely_factor, child_factor, meeting_prob = prm
    n_res = int(st_off[-1])
    for s, residents in enumerate(_stadtteile(st_off)):
        for p in range(pl_off[s], pl_off[s + 1]):
            place_used[p] = 0
        n = len(residents)
        if n == 0:
            continue
        start = int(U(wkey, n_res + s, 0) * n)
        order = [residents.start + (start + k) % n for k in range(n)]
        for i in order:
            venue[i] = -1
            if member_of[i] >= 0 and U(wkey, i, 0) < meeting_prob:
                venue[i] = n_places + member_of[i]
                continue
            p = home_place[i]
            if p >= 0 and place_cap[p] == 0:
                p = alt_place[i]
            if aware[i] == 0 or p < 0 or place_used[p] >= place_cap[p]:
                continue
            factors = [1.0 + events_s[s]]
            factors.append(health_barrier if health[i] >= 3 and place_bf[p] == 0 else 1.0)
            factors.append(threshold_factor if stille[i] == 1 and place_lt[p] == 0 else 1.0)
            factors.append(lonely_factor if lonely[i] == 1 else 1.0)
            factors.append(child_factor if age[i] < 14 else 1.0)
            prob = visit_base
            for f in factors:
                prob *= f
            if U(wkey, i, 1) < prob:
                place_used[p] += 1
                venue[i] = p
                visit_count[i] += 1


def encounter_step(pop, ties, venues, inits, eff, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.encounter_step` (grouping by dict instead of sorting)."""
    st_off, venue, age, mig, inc = pop.st_off, pop.venue, pop.age, pop.mig, pop.inc
    tie_j, tie_w, tie_slot, deg = ties
    bridging_venue_s = eff.bridging
    encounters_per_visit, p_form, age_scale, bridging, income_factor, neighbour_rate = prm
    formed = 0
    for s, residents in enumerate(_stadtteile(st_off)):
        n = len(residents)
        if n < 2:
            continue
        attendees = {}
        for i in residents:
            if venue[i] >= 0:
                attendees.setdefault(int(venue[i]), []).append(i)
        for i in residents:
            partners = []  # (partner, draw, bridging factor)
            group = attendees.get(int(venue[i]), [])
            if len(group) >= 2:
                for e in range(encounters_per_visit):
                    partners.append((group[int(U(wkey, i, 10 + 2 * e) * len(group))], U(wkey, i, 11 + 2 * e),
                                     bridging_venue_s[s]))
            if U(wkey, i, 0) < neighbour_rate:
                partners.append((residents.start + int(U(wkey, i, 1) * n), U(wkey, i, 2), bridging))
            for j, u, bridge in partners:
                if j != i:
                    formed += _meet(i, j, p_form, u, age, mig, inc, age_scale, bridge, income_factor, tie_j,
                                    tie_w, tie_slot, deg)
    return formed


def tie_step(pop, ties, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.tie_step`."""
    st_off = pop.st_off
    tie_j, tie_w, tie_slot, deg = ties
    contact_rate, decay, min_weight = prm
    dropped = 0
    for residents in _stadtteile(st_off):
        for i in residents:
            a = 0
            while a < deg[i]:  # an ending tie's slot receives the row's last tie, which is looked at next
                j = int(tie_j[i, a])
                w = float(tie_w[i, a])
                w = 1.0 if U(wkey, min(i, j), max(i, j)) < contact_rate * w else w * decay
                if w >= min_weight:
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


def loneliness_step(pop, ties, eff, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.loneliness_step`."""
    st_off, lonely, lonely_new, health, mig, inc = pop.st_off, pop.lonely, pop.lonely_new, pop.health, pop.mig, pop.inc
    tie_j, tie_w = ties.j, ties.w
    health_promo_s = eff.health
    rr_health, onset_base, rr_migration, rr_low_income, rr_isolated, contagion, recovery_base, recovery_per_tie = prm
    for s, residents in enumerate(_stadtteile(st_off)):
        for i in residents:
            ties = _neighbours(tie_j, i)
            w_all = 0.0
            w_lonely = 0.0
            for a, j in ties:
                w_all += float(tie_w[i, a])
                if lonely[j] == 1:
                    w_lonely += float(tie_w[i, a])
            u = U(wkey, i, 0)
            if lonely[i] == 1:
                recovers = _event(u, recovery_base + recovery_per_tie * (w_all - w_lonely))
                lonely_new[i] = 0 if recovers else 1
                continue
            rate = onset_base * float(rr_health[health[i]])
            rate *= rr_migration if mig[i] == 1 else 1.0
            rate *= rr_low_income if inc[i] == 1 else 1.0
            rate *= rr_isolated if w_all < 2.0 else 1.0
            rate *= 1.0 - float(health_promo_s[s]) if health[i] >= 3 else 1.0
            rate *= 1.0 + contagion * w_lonely
            lonely_new[i] = 1 if _event(u, rate) else 0
    lonely[:] = lonely_new


def participation_step(pop, ties, eff, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.participation_step`."""
    st_off, age, mig, aware, participating, part_new = pop.st_off, pop.age, pop.mig, pop.aware, pop.part, pop.part_new
    volunteer, threshold, member_of = pop.volunteer, pop.threshold, pop.member_of
    tie_j, deg, activation_s = ties.j, ties.deg, eff.activation
    (member_activation, quit_rate, turnover, spontaneous, volunteer_quit, volunteer_start_no, volunteer_start_mig,
     volunteer_participation_rr) = prm
    for s, residents in enumerate(_stadtteile(st_off)):
        for i in residents:
            if age[i] < 14:
                part_new[i] = 0
                continue
            if aware[i] == 0:
                part_new[i] = 0
            else:
                signal = float(activation_s[s]) + (member_activation if member_of[i] >= 0 else 0.0)
                if deg[i] > 0:
                    signal += sum(1 for _, j in _neighbours(tie_j, i) if participating[j] == 1) / deg[i]
                below = signal < float(threshold[i])
                u = U(wkey, i, 0)
                if participating[i] == 1:
                    stops = u < turnover or (below and u < turnover + quit_rate)
                    part_new[i] = 0 if stops else 1
                else:
                    part_new[i] = 1 if (not below or u < spontaneous) else 0
            u = U(wkey, i, 1)
            if volunteer[i] == 1:
                volunteer[i] = 0 if u < volunteer_quit else 1
            else:
                rate = volunteer_start_mig if mig[i] == 1 else volunteer_start_no
                if part_new[i] == 1:
                    rate *= volunteer_participation_rr
                volunteer[i] = 1 if u < rate else 0
    participating[:] = part_new


def initiative_step(pop, inits, eff, prm, wkey):
    """Reference of :func:`quartiersim.kernels.core.initiative_step`."""
    st_off, weight_s, age, aware, participating, volunteer, member_of = (pop.st_off, pop.weight_s, pop.age, pop.aware,
                                                                         pop.part, pop.volunteer, pop.member_of)
    max_init, init_active, init_members, init_weeks, init_rr, founded, dropped, n_found, n_drop = inits
    advice_s, support_hours_s = eff.advice, eff.support
    founding_rate, advice_effect, join_prob, dropout_base, support_effect, support_half, min_members, small_rr = prm
    n_res = int(st_off[-1])
    n_st = len(st_off) - 1
    n_found[:] = 0
    n_drop[:] = 0
    for s, residents in enumerate(_stadtteile(st_off)):
        slots = list(range(s * max_init, (s + 1) * max_init))
        for g in slots:
            founded[g] = 0
            dropped[g] = 0
        if len(residents) == 0:
            continue
        w = float(weight_s[s])
        active = [g for g in slots if init_active[g] == 1]
        per = support_hours_s[s] / len(active) if active else 0.0
        support = per / (per + support_half) if per > 0.0 else 0.0
        for g in active:
            init_weeks[g] += 1
            hazard = dropout_base * (1.0 - support_effect * support)
            hazard *= init_rr[g]
            if init_members[g] * w < min_members:
                hazard *= small_rr
            if _event(U(wkey, n_res + n_st + g, 0), hazard):
                init_active[g] = 0
                dropped[g] = 1
                n_drop[s] += 1
        active = [g for g in active if init_active[g] == 1]
        for g in slots:
            init_members[g] = 0

        def engaged(i):
            return age[i] >= 14 and participating[i] == 1 and volunteer[i] == 1

        n_engaged = 0
        for i in residents:
            if member_of[i] >= 0 and dropped[member_of[i]] == 1:
                member_of[i] = -1
            if member_of[i] < 0 and engaged(i):
                n_engaged += 1
                if active and U(wkey, i, 0) < join_prob:
                    member_of[i] = active[int(U(wkey, i, 1) * len(active))]
            if member_of[i] >= 0:
                init_members[member_of[i]] += 1
                aware[i] = 1
        lam = founding_rate * n_engaged * w * (1.0 + advice_effect * advice_s[s])
        if lam <= 0.0 or n_engaged == 0:
            continue
        u = U(wkey, n_res + s, 0)
        p = math.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 4:
            k += 1
            p *= lam / k
            cdf += p
        n = len(residents)
        for f in range(k):
            free = [g for g in slots if init_active[g] == 0 and dropped[g] == 0 and founded[g] == 0]
            if not free:
                break
            start = int(U(wkey, n_res + s, 1 + f) * n)
            candidates = [residents.start + (start + t) % n for t in range(n)]
            founders = [i for i in candidates if member_of[i] < 0 and engaged(i)]
            if not founders:
                break
            g = free[0]
            member_of[founders[0]] = g
            aware[founders[0]] = 1
            init_active[g], init_members[g], init_weeks[g], founded[g] = 1, 1, 0, 1
            init_rr[g] = 1.0
            n_found[s] += 1


def group_stats(pop, ties, access_s, out):
    """Reference of :func:`quartiersim.kernels.core.group_stats` (exact counts per group, times the weight)."""
    st_off, weight_s, age, mig, inc, health, stille = (pop.st_off, pop.weight_s, pop.age, pop.mig, pop.inc,
                                                       pop.health, pop.stille)
    lonely, aware, participating, volunteer = pop.lonely, pop.aware, pop.part, pop.volunteer
    visit_count = pop.visit_count
    deg, tie_j = ties.deg, ties.j
    for s, residents in enumerate(_stadtteile(st_off)):
        counts = [[0] * out.shape[2] for _ in range(out.shape[1])]
        for i in residents:
            groups = [0, 1 if mig[i] == 1 else 2]
            groups += [3] if inc[i] == 1 else []
            groups += [4] if health[i] >= 3 else []
            groups += [5] if stille[i] == 1 else []
            groups += [6] if age[i] >= 65 else []
            groups += [7] if health[i] == 0 else [8] if health[i] == 4 else []
            need = (1 if health[i] >= 3 else 0) + (2 if stille[i] == 1 else 0)
            bridging = sum(1 for _, j in _neighbours(tie_j, i) if mig[j] != mig[i])
            values = [1, age[i] >= 18, age[i] >= 18 and lonely[i] == 1, int(deg[i]), bridging,
                      int(visit_count[i]), age[i] >= 14, age[i] >= 14 and participating[i] == 1,
                      age[i] >= 14 and volunteer[i] == 1, aware[i] == 1 and access_s[s, need] == 1]
            for g in groups:
                for k, v in enumerate(values):
                    counts[g][k] += int(v)
        for g in range(out.shape[1]):
            for k in range(out.shape[2]):
                out[s, g, k] = float(weight_s[s]) * counts[g][k]
