"""The numba core: resident-level weekly phases as ``@njit`` kernels over arrays and scalars.

Residents are stored as a structure of arrays grouped by Stadtteil: the residents of Stadtteil ``s`` are
``st_off[s] <= i < st_off[s + 1]``. Ties never cross Stadtteile, and every phase touches only the residents,
places and initiative slots of one Stadtteil at a time, so Stadtteile are independent within a week.

Each phase is written once, as a function of one Stadtteil (``_awareness(s, ...)`` and so on). Two drivers
call them:

* the phase kernels (``awareness_step`` ... ``initiative_step``) run one phase over all Stadtteile; the model
  uses them when it times each phase, and the tests hold each to its plain-Python twin in
  :mod:`quartiersim.kernels.reference`;
* :func:`week_step` runs all resident-level phases of a week for one Stadtteil before moving to the next,
  so a Stadtteil's arrays stay in the processor's cache for the whole week, and spreads the Stadtteile over
  threads with ``prange``. It gives the same arrays as the phase kernels in order, whatever the number of
  threads, because random numbers are counter-based: :func:`quartiersim.kernels.random.uniform` keyed by
  (stream week key, counter, draw), where the counter is the resident id, or ``n_residents + s`` for a
  Stadtteil-level draw, or ``n_residents + n_stadtteile + slot`` for an initiative's draw.

Kernels take no model objects and read no module state. Updates that read the neighbours' state
(awareness, loneliness, participation) are synchronous: they read the old array and write a new one.

Tie storage: the ties of ``i`` fill slots ``0 .. deg[i] - 1`` of row ``i``: ``tie_j[i, a]`` is the neighbour
(-1 beyond ``deg[i]``), ``tie_w[i, a]`` its strength in (0, 1], and ``tie_slot[i, a]`` the slot of ``i`` in the
neighbour's row, so both copies of a tie are updated in O(1). Removing a tie moves the row's last tie into
the freed slot, so loops run over ``deg[i]`` slots, not the row's capacity.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .random import uniform

# ----------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def saturate(hours, half):
    """Saturating response h / (h + half) in [0, 1) of role hours."""
    if hours <= 0.0:
        return 0.0
    return hours / (hours + half)


@njit(cache=True, inline="always")
def similarity(age_i, age_j, mig_i, mig_j, inc_i, inc_j, age_scale, bridging, income_factor):
    """Homophily: 1 for identical residents, lower with age gap, across migration background and income."""
    sim = math.exp(-abs(float(age_i) - float(age_j)) / age_scale)
    if mig_i != mig_j:
        sim *= bridging
    if inc_i != inc_j:
        sim *= income_factor
    return sim


@njit(cache=True, inline="always")
def event(u, rate):
    """Whether an event with weekly rate ``rate`` happens, given the uniform draw ``u``.

    The chance is ``1 - exp(-rate)``, which never exceeds ``rate``; the exponential is evaluated only when
    ``u < rate``, which skips it for almost every resident at low rates.
    """
    if u >= rate:
        return False
    return u < 1.0 - math.exp(-rate)


@njit(cache=True)
def find_tie(i, j, tie_j, deg):
    """Slot of j in i's row, or -1."""
    for a in range(deg[i]):
        if tie_j[i, a] == j:
            return a
    return -1


@njit(cache=True)
def add_tie(i, j, w, tie_j, tie_w, tie_slot, deg):
    """Add the tie i-j with strength w in the next free slot of both rows; True if both had room."""
    a = deg[i]
    b = deg[j]
    if a >= tie_j.shape[1] or b >= tie_j.shape[1]:
        return False
    tie_j[i, a] = j
    tie_j[j, b] = i
    tie_w[i, a] = w
    tie_w[j, b] = w
    tie_slot[i, a] = b
    tie_slot[j, b] = a
    deg[i] += 1
    deg[j] += 1
    return True


# ----------------------------------------------------------------------------------------------------------
# set-up kernels
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def init_ties(st_off, age, mig, inc, tie_j, tie_w, tie_slot, deg, target_mean, age_scale, bridging,
              income_factor, wkey):
    """Build the starting network: each resident seeks partners in its Stadtteil, accepted by similarity.

    Resident i aims at ``floor(target_mean / 2 + u)`` ties it initiates itself (ties are shared, so the mean
    degree approaches ``target_mean``), tries up to eight times as many random partners and accepts one with
    chance equal to the pair's similarity. Starting strengths are uniform in [0.4, 1].
    """
    n_st = st_off.shape[0] - 1
    for s in range(n_st):
        lo = st_off[s]
        n = st_off[s + 1] - lo
        if n < 2:
            continue
        for i in range(lo, lo + n):
            want = int(target_mean / 2.0 + uniform(wkey, i, 0))
            made = 0
            for t in range(8 * want):
                if made >= want:
                    break
                j = lo + int(uniform(wkey, i, 1 + 3 * t) * n)
                if j == i:
                    continue
                if find_tie(i, j, tie_j, deg) >= 0:
                    continue
                sim = similarity(age[i], age[j], mig[i], mig[j], inc[i], inc[j], age_scale, bridging,
                                 income_factor)
                if uniform(wkey, i, 2 + 3 * t) < sim:
                    w = 0.4 + 0.6 * uniform(wkey, i, 3 + 3 * t)
                    if add_tie(i, j, w, tie_j, tie_w, tie_slot, deg):
                        made += 1


@njit(cache=True)
def init_initiatives(st_off, weight_s, volunteer, participating, age, member_of, init_active, init_members,
                     n_init_s, members_persons, max_init, wkey):
    """Start ``n_init_s[s]`` initiatives per Stadtteil, each with volunteers as members.

    Members are drawn from volunteers aged 14+ (participating ones first in line by a random scan); each
    initiative gets about ``members_persons`` persons' worth of members, at least one agent.
    """
    n_res = st_off[-1]
    n_st = st_off.shape[0] - 1
    for s in range(n_st):
        lo = st_off[s]
        n = st_off[s + 1] - lo
        k_max = min(n_init_s[s], max_init)
        if n == 0 or k_max == 0:
            continue
        size = max(1, int(members_persons / weight_s[s] + 0.5))
        start = int(uniform(wkey, n_res + s, 0) * n)
        pos = 0
        for k in range(k_max):
            g = s * max_init + k
            got = 0
            while pos < n and got < size:
                i = lo + (start + pos) % n
                pos += 1
                if volunteer[i] == 1 and member_of[i] < 0 and age[i] >= 14:
                    member_of[i] = g
                    got += 1
            if got == 0:
                break
            init_active[g] = 1
            init_members[g] = got


# ----------------------------------------------------------------------------------------------------------
# the weekly phases, one Stadtteil at a time
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _awareness(s, st_off, aware, aware_new, stille, venue, tie_j, deg, outreach_s, prm, wkey):
    base_rate, word_of_mouth, stille_factor, forget_rate = prm
    for i in range(st_off[s], st_off[s + 1]):
        if aware[i] == 1:
            if venue[i] < 0 and uniform(wkey, i, 0) < forget_rate:
                aware_new[i] = 0
            else:
                aware_new[i] = 1
            continue
        r = stille_factor if stille[i] == 1 else 1.0
        u = uniform(wkey, i, 1)
        # the chance rises with the aware share of ties (0 to 1): decide without the ties where the bounds do
        if u >= 1.0 - (1.0 - r * base_rate) * (1.0 - r * word_of_mouth * 1.0) * (1.0 - outreach_s[s]):
            aware_new[i] = 0
            continue
        frac = 0.0
        d = deg[i]
        if d > 0:
            n_aware = 0
            for a in range(d):
                n_aware += aware[tie_j[i, a]]
            frac = n_aware / d
        p_stay = (1.0 - r * base_rate) * (1.0 - r * word_of_mouth * frac) * (1.0 - outreach_s[s])
        aware_new[i] = 1 if u < 1.0 - p_stay else 0


@njit(cache=True)
def _visits(s, st_off, pl_off, aware, stille, health, age, lonely, member_of, home_place, alt_place, place_cap,
            place_bf, place_lt, place_used, events_s, venue, visit_count, prm, n_places, wkey):
    visit_base, health_barrier, threshold_factor, lonely_factor, child_factor, meeting_prob = prm
    n_res = st_off[-1]
    lo = st_off[s]
    hi = st_off[s + 1]
    n = hi - lo
    for p in range(pl_off[s], pl_off[s + 1]):
        place_used[p] = 0
    if n == 0:
        return
    base = visit_base * (1.0 + events_s[s])
    start = lo + int(uniform(wkey, n_res + s, 0) * n)
    for k in range(n):
        i = start + k
        if i >= hi:
            i -= n
        venue[i] = -1
        m = member_of[i]
        if m >= 0 and uniform(wkey, i, 0) < meeting_prob:
            venue[i] = n_places + m
            continue
        if aware[i] == 0:
            continue
        p = home_place[i]
        if p >= 0 and place_cap[p] == 0:  # home place closed: the resident's regular place stands in
            p = alt_place[i]
        if p < 0 or place_used[p] >= place_cap[p]:
            continue
        prob = base
        if health[i] >= 3 and place_bf[p] == 0:
            prob *= health_barrier
        if stille[i] == 1 and place_lt[p] == 0:
            prob *= threshold_factor
        if lonely[i] == 1:
            prob *= lonely_factor
        if age[i] < 14:
            prob *= child_factor
        if uniform(wkey, i, 1) < prob:
            place_used[p] += 1
            venue[i] = p
            visit_count[i] += 1


@njit(cache=True)
def _encounters(s, st_off, pl_off, venue, n_places, max_init, v_count, v_start, v_members, age, mig, inc, tie_j,
                tie_w, tie_slot, deg, bridging_venue_s, prm, wkey):
    encounters_per_visit, p_form, age_scale, bridging, income_factor, neighbour_rate = prm
    lo = st_off[s]
    hi = st_off[s + 1]
    n = hi - lo
    if n < 2:
        return 0
    k_max = tie_j.shape[1]
    formed = 0
    p0 = pl_off[s]
    p1 = pl_off[s + 1]
    g0 = n_places + s * max_init
    g1 = g0 + max_init
    # counting sort of this Stadtteil's attendees by venue, into v_members[lo:hi]
    for v in range(p0, p1):
        v_count[v] = 0
    for v in range(g0, g1):
        v_count[v] = 0
    for i in range(lo, hi):
        if venue[i] >= 0:
            v_count[venue[i]] += 1
    pos = lo
    for v in range(p0, p1):
        v_start[v] = pos
        pos += v_count[v]
        v_count[v] = 0
    for v in range(g0, g1):
        v_start[v] = pos
        pos += v_count[v]
        v_count[v] = 0
    if pos > lo:
        for i in range(lo, hi):
            v = venue[i]
            if v >= 0:
                v_members[v_start[v] + v_count[v]] = i
                v_count[v] += 1
    bridging_venue = bridging_venue_s[s]
    for i in range(lo, hi):
        # encounters 0 .. encounters_per_visit - 1 at i's venue (if it shares it), the last in the street
        v = venue[i]
        first = 0 if v >= 0 and v_count[v] >= 2 else encounters_per_visit
        for e in range(first, encounters_per_visit + 1):
            if e < encounters_per_visit:
                j = v_members[v_start[v] + int(uniform(wkey, i, 10 + 2 * e) * v_count[v])]
                u = uniform(wkey, i, 11 + 2 * e)
                bridge = bridging_venue
            else:
                if uniform(wkey, i, 0) >= neighbour_rate:
                    break
                j = lo + int(uniform(wkey, i, 1) * n)
                u = uniform(wkey, i, 2)
                bridge = bridging
            if j == i:
                continue
            # refresh an existing tie to full strength ...
            a = -1
            for b in range(deg[i]):
                if tie_j[i, b] == j:
                    a = b
                    break
            if a >= 0:
                tie_w[i, a] = 1.0
                tie_w[j, tie_slot[i, a]] = 1.0
                continue
            # ... or form one with chance p_form * similarity (at most p_form), if both have room
            if u >= p_form:
                continue
            a = deg[i]
            b = deg[j]
            if a >= k_max or b >= k_max:
                continue
            sim = similarity(age[i], age[j], mig[i], mig[j], inc[i], inc[j], age_scale, bridge, income_factor)
            if u < p_form * sim:
                tie_j[i, a] = j
                tie_j[j, b] = i
                tie_w[i, a] = 1.0
                tie_w[j, b] = 1.0
                tie_slot[i, a] = b
                tie_slot[j, b] = a
                deg[i] = a + 1
                deg[j] = b + 1
                formed += 1
    return formed


@njit(cache=True)
def _ties(s, st_off, tie_j, tie_w, tie_slot, deg, prm, wkey):
    contact_rate, decay, min_weight = prm
    dropped = 0
    for i in range(st_off[s], st_off[s + 1]):
        a = 0
        while a < deg[i]:
            j = tie_j[i, a]
            # both ends draw the same number for the pair, so both copies get the same update
            first = min(i, j)
            u = uniform(wkey, first, i + j - first)
            w = tie_w[i, a]
            if u < contact_rate * w:
                w = 1.0
            else:
                w = w * decay
            if w >= min_weight:
                tie_w[i, a] = w
                a += 1
                continue
            # the tie ends: free i's copy by moving the row's last tie into slot a (looked at next);
            # j drops its copy when its turn comes
            last = deg[i] - 1
            if a != last:
                k = tie_j[i, last]
                c = tie_slot[i, last]
                tie_j[i, a] = k
                tie_w[i, a] = tie_w[i, last]
                tie_slot[i, a] = c
                if tie_j[k, c] == i:  # k still holds its copy (it may have dropped it already this week)
                    tie_slot[k, c] = a
            tie_j[i, last] = -1
            tie_w[i, last] = 0.0
            tie_slot[i, last] = -1
            deg[i] = last
            if i < j:
                dropped += 1
    return dropped


@njit(cache=True)
def _onset_rate(base, mig_i, inc_i, h, isolated_factor, health_promo, contagion, w_lonely, rr_migration,
                rr_low_income):
    """Weekly loneliness onset rate from its factors (``base`` is onset_base times the health level's RR)."""
    rate = base
    if mig_i == 1:
        rate *= rr_migration
    if inc_i == 1:
        rate *= rr_low_income
    rate *= isolated_factor
    if h >= 3:
        rate *= 1.0 - health_promo
    return rate * (1.0 + contagion * w_lonely)


@njit(cache=True)
def _loneliness(s, st_off, lonely, lonely_new, health, mig, inc, tie_j, tie_w, deg, rr_health, health_promo_s,
                prm, wkey):
    onset_base, rr_migration, rr_low_income, rr_isolated, contagion, recovery_base, recovery_per_tie = prm
    for i in range(st_off[s], st_off[s + 1]):
        u = uniform(wkey, i, 0)
        if lonely[i] == 0:
            # an upper bound of the onset rate (isolated, every tie lonely at full strength): above it, no onset
            bound = _onset_rate(onset_base * rr_health[health[i]], mig[i], inc[i], health[i], max(rr_isolated, 1.0),
                                health_promo_s[s], contagion, float(deg[i]), rr_migration, rr_low_income)
            if u >= bound:
                lonely_new[i] = 0
                continue
        w_lonely = 0.0
        w_all = 0.0
        for a in range(deg[i]):
            w = tie_w[i, a]
            w_all += w
            if lonely[tie_j[i, a]] == 1:
                w_lonely += w
        if lonely[i] == 1:
            rate = recovery_base + recovery_per_tie * (w_all - w_lonely)
            lonely_new[i] = 0 if event(u, rate) else 1
        else:
            rate = _onset_rate(onset_base * rr_health[health[i]], mig[i], inc[i], health[i],
                               rr_isolated if w_all < 2.0 else 1.0, health_promo_s[s], contagion, w_lonely,
                               rr_migration, rr_low_income)
            lonely_new[i] = 1 if event(u, rate) else 0


@njit(cache=True)
def _participation(s, st_off, age, mig, aware, participating, part_new, volunteer, threshold, member_of, tie_j,
                   deg, activation_s, prm, wkey):
    (member_activation, quit_rate, turnover, spontaneous, volunteer_quit, volunteer_start_no, volunteer_start_mig,
     volunteer_participation_rr) = prm
    for i in range(st_off[s], st_off[s + 1]):
        if age[i] < 14:
            part_new[i] = 0
            continue
        if aware[i] == 0:
            part_new[i] = 0
        else:
            signal = activation_s[s]
            if member_of[i] >= 0:
                signal += member_activation
            d = deg[i]
            if d > 0:
                n_part = 0
                for a in range(d):
                    n_part += participating[tie_j[i, a]]
                signal += n_part / d
            if participating[i] == 1:
                u = uniform(wkey, i, 0)
                if u < turnover or (signal < threshold[i] and u < turnover + quit_rate):
                    part_new[i] = 0
                else:
                    part_new[i] = 1
            elif signal >= threshold[i] or uniform(wkey, i, 0) < spontaneous:
                part_new[i] = 1
            else:
                part_new[i] = 0
        u = uniform(wkey, i, 1)
        if volunteer[i] == 1:
            if u < volunteer_quit:
                volunteer[i] = 0
        else:
            rate = volunteer_start_mig if mig[i] == 1 else volunteer_start_no
            if part_new[i] == 1:
                rate *= volunteer_participation_rr
            if u < rate:
                volunteer[i] = 1


@njit(cache=True)
def _initiatives(s, st_off, weight_s, age, aware, participating, volunteer, member_of, init_active, init_members,
                 init_weeks, init_rr, founded, dropped, n_found, n_drop, advice_s, support_hours_s, prm, max_init,
                 wkey):
    (founding_rate, advice_effect, join_prob, dropout_base, support_effect, support_half, min_members,
     small_rr) = prm
    n_res = st_off[-1]
    n_st = st_off.shape[0] - 1
    lo = st_off[s]
    hi = st_off[s + 1]
    n = hi - lo
    g0 = s * max_init
    n_found[s] = 0
    n_drop[s] = 0
    for k in range(max_init):
        founded[g0 + k] = 0
        dropped[g0 + k] = 0
    if n == 0:
        return
    w = weight_s[s]
    # (1) drop-outs
    n_active = 0
    for k in range(max_init):
        if init_active[g0 + k] == 1:
            n_active += 1
    support = 0.0
    if n_active > 0:
        support = saturate(support_hours_s[s] / n_active, support_half)
    for k in range(max_init):
        g = g0 + k
        if init_active[g] == 0:
            continue
        init_weeks[g] += 1
        hazard = dropout_base * (1.0 - support_effect * support)
        hazard *= init_rr[g]
        if init_members[g] * w < min_members:
            hazard *= small_rr
        if event(uniform(wkey, n_res + n_st + g, 0), hazard):
            init_active[g] = 0
            dropped[g] = 1
            n_drop[s] += 1
    n_active -= n_drop[s]
    # (2) membership: release members of dropped initiatives, let engaged residents join
    for k in range(max_init):
        init_members[g0 + k] = 0
    engaged = 0
    for i in range(lo, hi):
        m = member_of[i]
        if m >= 0 and dropped[m] == 1:
            member_of[i] = -1
            m = -1
        if m < 0 and age[i] >= 14 and participating[i] == 1 and volunteer[i] == 1:
            engaged += 1
            if n_active > 0 and uniform(wkey, i, 0) < join_prob:
                pick = int(uniform(wkey, i, 1) * n_active)
                for k in range(max_init):
                    if init_active[g0 + k] == 1:
                        if pick == 0:
                            member_of[i] = g0 + k
                            m = g0 + k
                            break
                        pick -= 1
        if m >= 0:
            init_members[m] += 1
            aware[i] = 1
    # (3) foundings
    lam = founding_rate * engaged * w * (1.0 + advice_effect * advice_s[s])
    if lam <= 0.0 or engaged == 0:
        return
    u = uniform(wkey, n_res + s, 0)
    p = math.exp(-lam)
    cdf = p
    n_new = 0
    while u > cdf and n_new < 4:
        n_new += 1
        p *= lam / n_new
        cdf += p
    for f in range(n_new):
        slot = -1
        for k in range(max_init):
            if init_active[g0 + k] == 0 and dropped[g0 + k] == 0 and founded[g0 + k] == 0:
                slot = g0 + k
                break
        if slot < 0:
            break
        start = int(uniform(wkey, n_res + s, 1 + f) * n)
        founder = -1
        for t in range(n):
            i = lo + (start + t) % n
            if member_of[i] < 0 and age[i] >= 14 and participating[i] == 1 and volunteer[i] == 1:
                founder = i
                break
        if founder < 0:
            break
        member_of[founder] = slot
        aware[founder] = 1
        init_active[slot] = 1
        init_members[slot] = 1
        init_weeks[slot] = 0
        init_rr[slot] = 1.0
        founded[slot] = 1
        n_found[s] += 1


# ----------------------------------------------------------------------------------------------------------
# phase kernels: one phase over all Stadtteile
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def awareness_step(st_off, aware, aware_new, stille, venue, tie_j, deg, outreach_s, base_rate, word_of_mouth,
                   stille_factor, forget_rate, wkey):
    """Awareness of local offers: learned through general channels, ties and outreach; forgotten when unused.

    An unaware resident becomes aware with chance ``1 - (1 - r*base)(1 - r*wom*f)(1 - outreach_s)``, where
    ``f`` is the share of its ties that are aware and ``r`` is ``stille_factor`` for stille Gruppen (1 else):
    outreach reaches everybody, the other channels reach stille Gruppen weakly. An aware resident who did not
    attend a venue last week forgets with chance ``forget_rate``.
    """
    prm = (base_rate, word_of_mouth, stille_factor, forget_rate)
    for s in range(st_off.shape[0] - 1):
        _awareness(s, st_off, aware, aware_new, stille, venue, tie_j, deg, outreach_s, prm, wkey)


@njit(cache=True)
def visit_step(st_off, pl_off, aware, stille, health, age, lonely, member_of, home_place, alt_place, place_cap,
               place_bf, place_lt, place_used, events_s, venue, visit_count, visit_base, health_barrier,
               threshold_factor, lonely_factor, child_factor, meeting_prob, n_places, wkey):
    """Weekly venue attendance: an initiative meeting, a meeting-place visit within capacity, or none.

    Residents are taken in a rotating order that starts at a random offset each week, so capacity is shared
    fairly. A member attends its initiative's meeting with chance ``meeting_prob`` (venue ``n_places + slot``);
    otherwise an aware resident visits its home place (its ``alt_place`` while the home place is closed, that
    is has capacity 0) with chance ``visit_base * (1 + events_s) * barriers * lonely * child``, admitted only
    while the place has capacity left. Writes ``venue[i]`` (-1 for none) and counts visits in ``visit_count``.
    """
    prm = (visit_base, health_barrier, threshold_factor, lonely_factor, child_factor, meeting_prob)
    for s in range(st_off.shape[0] - 1):
        _visits(s, st_off, pl_off, aware, stille, health, age, lonely, member_of, home_place, alt_place, place_cap,
                place_bf, place_lt, place_used, events_s, venue, visit_count, prm, n_places, wkey)


@njit(cache=True)
def encounter_step(st_off, pl_off, venue, n_places, max_init, v_count, v_start, v_members, age, mig, inc,
                   tie_j, tie_w, tie_slot, deg, encounters_per_visit, p_form, age_scale, bridging_venue_s,
                   bridging, income_factor, neighbour_rate, wkey):
    """Encounters at venues and in the street; ties form by proximity and similarity.

    Attendees of one venue (a meeting place or an initiative meeting) are grouped by a counting sort. Then,
    resident by resident, each attendee meets ``encounters_per_visit`` random fellow attendees, and each
    resident has a chance encounter with a random resident of its Stadtteil with chance ``neighbour_rate``.
    An encounter refreshes an existing tie to full strength, or forms a new one with chance
    ``p_form * similarity`` if both have a free slot (with the bridging factor raised at venues by networking,
    ``bridging_venue_s``). Returns the number of ties formed.
    """
    prm = (encounters_per_visit, p_form, age_scale, bridging, income_factor, neighbour_rate)
    formed = 0
    for s in range(st_off.shape[0] - 1):
        formed += _encounters(s, st_off, pl_off, venue, n_places, max_init, v_count, v_start, v_members, age, mig,
                              inc, tie_j, tie_w, tie_slot, deg, bridging_venue_s, prm, wkey)
    return formed


@njit(cache=True)
def tie_step(st_off, tie_j, tie_w, tie_slot, deg, contact_rate, decay, min_weight, wkey):
    """Tie maintenance and decay: private contact restores a tie; without it strength decays, then it ends.

    For each tie ``i-j`` one draw keyed by the pair ``(min(i, j), max(i, j))``: contact with chance
    ``contact_rate * w`` sets the strength to 1; otherwise it is multiplied by ``decay``, and the tie ends
    below ``min_weight``. Each end applies the draw to its own copy, so both copies stay equal without
    either end writing into the other's row. Returns the number of ties dropped.
    """
    prm = (contact_rate, decay, min_weight)
    dropped = 0
    for s in range(st_off.shape[0] - 1):
        dropped += _ties(s, st_off, tie_j, tie_w, tie_slot, deg, prm, wkey)
    return dropped


@njit(cache=True)
def loneliness_step(st_off, lonely, lonely_new, health, mig, inc, tie_j, tie_w, deg, rr_health, health_promo_s,
                    onset_base, rr_migration, rr_low_income, rr_isolated, contagion, recovery_base,
                    recovery_per_tie, wkey):
    """Loneliness as an SIS process with spontaneous onset, contagion through ties and recovery through ties.

    Onset rate ``onset_base * rr_health[h] * RR(migration) * RR(low income) * RR(isolated) *
    (1 - health_promo_s) [poor health only] * (1 + contagion * L)``, with ``L`` the summed strength of lonely
    ties and "isolated" meaning less than 2 in summed tie strength. Recovery rate
    ``recovery_base + recovery_per_tie * N`` with ``N`` the summed strength of non-lonely ties. A rate r becomes
    the weekly chance ``1 - exp(-r)``.
    """
    prm = (onset_base, rr_migration, rr_low_income, rr_isolated, contagion, recovery_base, recovery_per_tie)
    for s in range(st_off.shape[0] - 1):
        _loneliness(s, st_off, lonely, lonely_new, health, mig, inc, tie_j, tie_w, deg, rr_health, health_promo_s,
                    prm, wkey)


@njit(cache=True)
def participation_step(st_off, age, mig, aware, participating, part_new, volunteer, threshold, member_of,
                       tie_j, deg, activation_s, member_activation, quit_rate, turnover, spontaneous,
                       volunteer_quit, volunteer_start_no, volunteer_start_mig, volunteer_participation_rr, wkey):
    """Threshold participation (Granovetter) and volunteering, for residents aged 14 and over.

    The signal is the share of participating ties, plus ``activation_s`` (events) and ``member_activation``
    for initiative members. An aware resident starts when the signal reaches its threshold or spontaneously
    (``spontaneous``); a participant whose signal falls below its threshold stops with chance ``quit_rate``,
    any participant with chance ``turnover``.
    Unaware residents do not participate. A volunteer stops with chance ``volunteer_quit``; others start with
    the group's start rate, times ``volunteer_participation_rr`` when participating. ``volunteer`` is updated
    in place (it reads nobody else's).
    """
    prm = (member_activation, quit_rate, turnover, spontaneous, volunteer_quit, volunteer_start_no,
           volunteer_start_mig, volunteer_participation_rr)
    for s in range(st_off.shape[0] - 1):
        _participation(s, st_off, age, mig, aware, participating, part_new, volunteer, threshold, member_of,
                       tie_j, deg, activation_s, prm, wkey)


@njit(cache=True)
def initiative_step(st_off, weight_s, age, aware, participating, volunteer, member_of, init_active,
                    init_members, init_weeks, init_rr, founded, dropped, n_found, n_drop, advice_s, support_hours_s,
                    founding_rate, advice_effect, join_prob, dropout_base, support_effect, support_half,
                    min_members, small_rr, max_init, wkey):
    """Initiatives: drop-outs at a hazard that intermediary support lowers, members joining, new foundings.

    Per Stadtteil: (1) each active initiative drops out with weekly hazard ``dropout_base * (1 -
    support_effect * sat(support per initiative)) * init_rr[slot] * small_rr [if fewer than min_members
    persons]``, where ``init_rr`` is 1 except for initiatives with a grant (see quartiersim.funding); its
    members are released. (2) Participating volunteers aged 14+ who are no member join a random active
    initiative with chance ``join_prob``; members are aware of local offers. (3) A Poisson number (at most 4)
    of initiatives is founded with mean ``founding_rate * engaged persons * (1 + advice_effect * advice_s)``,
    each by an engaged resident who becomes its first member. ``founded``/``dropped`` flag slots for the
    model's agent bookkeeping; ``n_found``/``n_drop`` receive the counts per Stadtteil.
    """
    prm = (founding_rate, advice_effect, join_prob, dropout_base, support_effect, support_half, min_members,
           small_rr)
    for s in range(st_off.shape[0] - 1):
        _initiatives(s, st_off, weight_s, age, aware, participating, volunteer, member_of, init_active,
                     init_members, init_weeks, init_rr, founded, dropped, n_found, n_drop, advice_s, support_hours_s,
                     prm, max_init, wkey)


# ----------------------------------------------------------------------------------------------------------
# the whole week, Stadtteil by Stadtteil
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def week_step(st_off, pl_off, weight_s, n_places, max_init,
              age, mig, inc, health, stille, threshold,
              aware, aware_new, lonely, lonely_new, participating, part_new, volunteer, member_of,
              home_place, alt_place, venue, visit_count,
              tie_j, tie_w, tie_slot, deg,
              place_cap, place_bf, place_lt, place_used, v_count, v_start, v_members,
              init_active, init_members, init_weeks, init_rr, founded, dropped, n_found, n_drop,
              outreach_s, events_s, activation_s, bridging_venue_s, health_promo_s, advice_s, support_hours_s,
              rr_health, p_aw, p_vi, p_en, p_ti, p_lo, p_pa, p_in, wkeys):
    """All resident-level phases of one week, for each Stadtteil in turn (Stadtteile in parallel).

    Equivalent to calling, in order, ``awareness_step`` (into ``aware_new``), ``visit_step``,
    ``encounter_step``, ``tie_step``, ``loneliness_step`` (into ``lonely_new``), ``participation_step`` (into
    ``part_new``) and ``initiative_step``, where every phase after awareness reads ``aware_new`` and the
    initiatives read ``part_new``. ``p_aw`` ... ``p_in`` are the phases' scalar parameters as tuples in the
    order of the phase kernels' arguments; ``wkeys`` holds the seven phases' week keys in that order.
    """
    for s in prange(st_off.shape[0] - 1):
        _awareness(s, st_off, aware, aware_new, stille, venue, tie_j, deg, outreach_s, p_aw, wkeys[0])
        _visits(s, st_off, pl_off, aware_new, stille, health, age, lonely, member_of, home_place, alt_place,
                place_cap, place_bf, place_lt, place_used, events_s, venue, visit_count, p_vi, n_places, wkeys[1])
        _encounters(s, st_off, pl_off, venue, n_places, max_init, v_count, v_start, v_members, age, mig, inc,
                    tie_j, tie_w, tie_slot, deg, bridging_venue_s, p_en, wkeys[2])
        _ties(s, st_off, tie_j, tie_w, tie_slot, deg, p_ti, wkeys[3])
        _loneliness(s, st_off, lonely, lonely_new, health, mig, inc, tie_j, tie_w, deg, rr_health, health_promo_s,
                    p_lo, wkeys[4])
        _participation(s, st_off, age, mig, aware_new, participating, part_new, volunteer, threshold, member_of,
                       tie_j, deg, activation_s, p_pa, wkeys[5])
        _initiatives(s, st_off, weight_s, age, aware_new, part_new, volunteer, member_of, init_active,
                     init_members, init_weeks, init_rr, founded, dropped, n_found, n_drop, advice_s, support_hours_s,
                     p_in, max_init, wkeys[6])


# ----------------------------------------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------------------------------------

N_GROUPS = 9  # all, migration, no_migration, low_income, poor_health, stille_gruppe, age_65plus,
#              health_very_good, health_very_poor
N_QUANTITIES = 10
_N_COMBOS = 80  # 4 binary traits x 5 health levels


@njit(cache=True)
def group_stats(st_off, weight_s, age, mig, inc, health, stille, lonely, aware, participating, volunteer, deg,
                tie_j, visit_count, access_s, out):
    """Sum person-weighted quantities per Stadtteil and group into ``out[s, g, q]`` (overwritten).

    Groups: 0 all, 1 migration, 2 no_migration, 3 low_income, 4 poor_health (poor or very poor), 5 stille
    Gruppen, 6 aged 65+, 7 very good health, 8 very poor health. Quantities: 0 persons, 1 adults (18+), 2 lonely
    adults, 3 ties, 4 bridging ties (across migration background), 5 visits since the last report, 6 persons
    14+, 7 participating 14+, 8 volunteering 14+, 9 covered by an accessible offer they know of.
    ``access_s[s, c]`` says whether the Stadtteil has an open place that is (c & 1) barrier-free and (c & 2)
    low-threshold as needed.

    Every agent of a Stadtteil has the same weight, so the counts are summed exactly per combination of the
    group traits (80 combinations: migration, low income, stille, 65+ and the five health levels) and
    multiplied by the weight once: the result does not depend on the order of summation.
    """
    n_st = st_off.shape[0] - 1
    acc = np.zeros((_N_COMBOS, N_QUANTITIES), dtype=np.int64)
    for s in range(n_st):
        acc[:, :] = 0
        for i in range(st_off[s], st_off[s + 1]):
            bridging = 0
            for a in range(deg[i]):
                bridging += mig[tie_j[i, a]] != mig[i]
            poor = health[i] >= 3
            c = mig[i] | (inc[i] << 1) | (stille[i] << 2) | ((age[i] >= 65) << 3) | (np.int64(health[i]) << 4)
            adult = age[i] >= 18
            teen = age[i] >= 14
            acc[c, 0] += 1
            acc[c, 1] += adult
            acc[c, 2] += adult and lonely[i] == 1
            acc[c, 3] += deg[i]
            acc[c, 4] += bridging
            acc[c, 5] += visit_count[i]
            acc[c, 6] += teen
            acc[c, 7] += teen and participating[i] == 1
            acc[c, 8] += teen and volunteer[i] == 1
            acc[c, 9] += aware[i] == 1 and access_s[s, poor + 2 * stille[i]] == 1
        w = weight_s[s]
        for g in range(N_GROUPS):
            for k in range(N_QUANTITIES):
                total = 0
                for c in range(_N_COMBOS):
                    if _in_group(c, g):
                        total += acc[c, k]
                out[s, g, k] = w * total


@njit(cache=True)
def _in_group(c, g):
    """Whether trait combination c (bits: migration, low income, stille, 65+; then health level) is in group g."""
    level = c >> 4
    if g == 0:
        return True
    if g == 1:
        return (c & 1) == 1
    if g == 2:
        return (c & 1) == 0
    if g == 3:
        return (c >> 1) & 1 == 1
    if g == 4:
        return level >= 3
    if g == 5:
        return (c >> 2) & 1 == 1
    if g == 6:
        return (c >> 3) & 1 == 1
    if g == 7:
        return level == 0
    return level == 4
