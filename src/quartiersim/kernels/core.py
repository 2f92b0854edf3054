"""The numba core: resident-level weekly phases as ``@njit`` kernels over the bundles of :mod:`.state`.

Residents are stored as a structure of arrays grouped by Stadtteil (:class:`~.state.Pop`): the residents of
Stadtteil ``s`` are ``pop.st_off[s] <= i < pop.st_off[s + 1]``. Ties never cross Stadtteile, and every phase
touches only the residents, places and initiative slots of one Stadtteil at a time, so Stadtteile are
independent within a week.

Each phase is written once, as a function of one Stadtteil (``_awareness(s, pop, ...)`` and so on), whose
arguments are the bundles it reads and writes. Two drivers call them:

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
(awareness, loneliness, participation) are synchronous: every resident of a Stadtteil reads the old array,
the new states go to the bundle's ``*_new`` scratch array, and they are copied back once the whole Stadtteil
is done (:func:`_commit`).

Tie storage (:class:`~.state.Ties`): the ties of ``i`` fill slots ``0 .. deg[i] - 1`` of row ``i``:
``j[i, a]`` is the neighbour (-1 beyond ``deg[i]``), ``w[i, a]`` its strength in (0, 1], and ``slot[i, a]``
the slot of ``i`` in the neighbour's row, so both copies of a tie are updated in O(1). Removing a tie moves the
row's last tie into the freed slot, so loops run over ``deg[i]`` slots, not the row's capacity.
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
def find_tie(i, j, ties):
    """Slot of j in i's row, or -1."""
    for a in range(ties.deg[i]):
        if ties.j[i, a] == j:
            return a
    return -1


@njit(cache=True)
def add_tie(i, j, w, ties):
    """Add the tie i-j with strength w in the next free slot of both rows; True if both had room."""
    a = ties.deg[i]
    b = ties.deg[j]
    if a >= ties.j.shape[1] or b >= ties.j.shape[1]:
        return False
    ties.j[i, a] = j
    ties.j[j, b] = i
    ties.w[i, a] = w
    ties.w[j, b] = w
    ties.slot[i, a] = b
    ties.slot[j, b] = a
    ties.deg[i] += 1
    ties.deg[j] += 1
    return True


@njit(cache=True, inline="always")
def _commit(s, st_off, new, old):
    """Copy the new states of Stadtteil s's residents back into the current array (synchronous updates)."""
    for i in range(st_off[s], st_off[s + 1]):
        old[i] = new[i]


# ----------------------------------------------------------------------------------------------------------
# set-up kernels
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def init_ties(pop, ties, target_mean, age_scale, bridging, income_factor, wkey):
    """Build the starting network: each resident seeks partners in its Stadtteil, accepted by similarity.

    Resident i aims at ``floor(target_mean / 2 + u)`` ties it initiates itself (ties are shared, so the mean
    degree approaches ``target_mean``), tries up to eight times as many random partners and accepts one with
    chance equal to the pair's similarity. Starting strengths are uniform in [0.4, 1].
    """
    st_off, age, mig, inc = pop.st_off, pop.age, pop.mig, pop.inc
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
                if find_tie(i, j, ties) >= 0:
                    continue
                sim = similarity(age[i], age[j], mig[i], mig[j], inc[i], inc[j], age_scale, bridging,
                                 income_factor)
                if uniform(wkey, i, 2 + 3 * t) < sim:
                    w = 0.4 + 0.6 * uniform(wkey, i, 3 + 3 * t)
                    if add_tie(i, j, w, ties):
                        made += 1


@njit(cache=True)
def init_initiatives(pop, inits, n_init_s, members_persons, wkey):
    """Start ``n_init_s[s]`` initiatives per Stadtteil, each with volunteers as members.

    Members are drawn from volunteers aged 14+ by a random scan; each initiative gets about ``members_persons``
    persons' worth of members, at least one agent.
    """
    st_off = pop.st_off
    max_init = inits.max_init
    n_res = st_off[-1]
    n_st = st_off.shape[0] - 1
    for s in range(n_st):
        lo = st_off[s]
        n = st_off[s + 1] - lo
        k_max = min(n_init_s[s], max_init)
        if n == 0 or k_max == 0:
            continue
        size = max(1, int(members_persons / pop.weight_s[s] + 0.5))
        start = int(uniform(wkey, n_res + s, 0) * n)
        pos = 0
        for k in range(k_max):
            g = s * max_init + k
            got = 0
            while pos < n and got < size:
                i = lo + (start + pos) % n
                pos += 1
                if pop.volunteer[i] == 1 and pop.member_of[i] < 0 and pop.age[i] >= 14:
                    pop.member_of[i] = g
                    got += 1
            if got == 0:
                break
            inits.active[g] = 1
            inits.members[g] = got


# ----------------------------------------------------------------------------------------------------------
# the weekly phases, one Stadtteil at a time
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _awareness(s, pop, ties, eff, prm, wkey):
    st_off, aware, aware_new, tie_j, deg = pop.st_off, pop.aware, pop.aware_new, ties.j, ties.deg
    outreach = eff.outreach[s]
    for i in range(st_off[s], st_off[s + 1]):
        if aware[i] == 1:
            if pop.venue[i] < 0 and uniform(wkey, i, 0) < prm.forget_rate:
                aware_new[i] = 0
            else:
                aware_new[i] = 1
            continue
        r = prm.stille_factor if pop.stille[i] == 1 else 1.0
        u = uniform(wkey, i, 1)
        # the chance rises with the aware share of ties (0 to 1): decide without the ties where the bounds do
        if u >= 1.0 - (1.0 - r * prm.base_rate) * (1.0 - r * prm.word_of_mouth * 1.0) * (1.0 - outreach):
            aware_new[i] = 0
            continue
        frac = 0.0
        d = deg[i]
        if d > 0:
            n_aware = 0
            for a in range(d):
                n_aware += aware[tie_j[i, a]]
            frac = n_aware / d
        p_stay = (1.0 - r * prm.base_rate) * (1.0 - r * prm.word_of_mouth * frac) * (1.0 - outreach)
        aware_new[i] = 1 if u < 1.0 - p_stay else 0
    _commit(s, st_off, aware_new, aware)


@njit(cache=True)
def _visits(s, pop, venues, inits, eff, prm, wkey):
    st_off = pop.st_off
    n_res = st_off[-1]
    lo = st_off[s]
    hi = st_off[s + 1]
    n = hi - lo
    cap, used = venues.cap, venues.used
    for p in range(venues.pl_off[s], venues.pl_off[s + 1]):
        used[p] = 0
    if n == 0:
        return
    base = prm.visit_base * (1.0 + eff.events[s])
    start = lo + int(uniform(wkey, n_res + s, 0) * n)
    for k in range(n):
        i = start + k
        if i >= hi:
            i -= n
        pop.venue[i] = -1
        m = pop.member_of[i]
        if m >= 0 and uniform(wkey, i, 0) < prm.meeting_prob:
            pop.venue[i] = venues.n_places + m
            continue
        if pop.aware[i] == 0:
            continue
        p = pop.home_place[i]
        if p >= 0 and cap[p] == 0:  # home place closed: the resident's regular place stands in
            p = pop.alt_place[i]
        if p < 0 or used[p] >= cap[p]:
            continue
        prob = base
        if pop.health[i] >= 3 and venues.barrier_free[p] == 0:
            prob *= prm.health_barrier
        if pop.stille[i] == 1 and venues.low_threshold[p] == 0:
            prob *= prm.threshold_factor
        if pop.lonely[i] == 1:
            prob *= prm.lonely_factor
        if pop.age[i] < 14:
            prob *= prm.child_factor
        if uniform(wkey, i, 1) < prob:
            used[p] += 1
            pop.venue[i] = p
            pop.visit_count[i] += 1


@njit(cache=True)
def _encounters(s, pop, ties, venues, inits, eff, prm, wkey):
    st_off, venue, age, mig, inc = pop.st_off, pop.venue, pop.age, pop.mig, pop.inc
    tie_j, tie_w, tie_slot, deg = ties.j, ties.w, ties.slot, ties.deg
    v_count, v_start, v_members = venues.v_count, venues.v_start, venues.v_members
    encounters_per_visit = prm.per_visit
    p_form = prm.p_form
    lo = st_off[s]
    hi = st_off[s + 1]
    n = hi - lo
    if n < 2:
        return 0
    k_max = tie_j.shape[1]
    formed = 0
    p0 = venues.pl_off[s]
    p1 = venues.pl_off[s + 1]
    g0 = venues.n_places + s * inits.max_init
    g1 = g0 + inits.max_init
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
    bridging_venue = eff.bridging[s]
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
                if uniform(wkey, i, 0) >= prm.neighbour_rate:
                    break
                j = lo + int(uniform(wkey, i, 1) * n)
                u = uniform(wkey, i, 2)
                bridge = prm.bridging
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
            sim = similarity(age[i], age[j], mig[i], mig[j], inc[i], inc[j], prm.age_scale, bridge,
                             prm.income_factor)
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
def _ties(s, pop, ties, prm, wkey):
    st_off, tie_j, tie_w, tie_slot, deg = pop.st_off, ties.j, ties.w, ties.slot, ties.deg
    dropped = 0
    for i in range(st_off[s], st_off[s + 1]):
        a = 0
        while a < deg[i]:
            j = tie_j[i, a]
            # both ends draw the same number for the pair, so both copies get the same update
            first = min(i, j)
            u = uniform(wkey, first, i + j - first)
            w = tie_w[i, a]
            if u < prm.contact_rate * w:
                w = 1.0
            else:
                w = w * prm.decay
            if w >= prm.min_weight:
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
def _onset_rate(base, mig_i, inc_i, h, isolated_factor, health_promo, w_lonely, prm):
    """Weekly loneliness onset rate from its factors (``base`` is onset_base times the health level's RR)."""
    rate = base
    if mig_i == 1:
        rate *= prm.rr_migration
    if inc_i == 1:
        rate *= prm.rr_low_income
    rate *= isolated_factor
    if h >= 3:
        rate *= 1.0 - health_promo
    return rate * (1.0 + prm.contagion * w_lonely)


@njit(cache=True)
def _loneliness(s, pop, ties, eff, prm, wkey):
    st_off, lonely, lonely_new, health = pop.st_off, pop.lonely, pop.lonely_new, pop.health
    tie_j, tie_w, deg = ties.j, ties.w, ties.deg
    health_promo = eff.health[s]
    for i in range(st_off[s], st_off[s + 1]):
        u = uniform(wkey, i, 0)
        base = prm.onset_base * prm.rr_health[health[i]]
        if lonely[i] == 0:
            # an upper bound of the onset rate (isolated, every tie lonely at full strength): above it, no onset
            bound = _onset_rate(base, pop.mig[i], pop.inc[i], health[i], max(prm.rr_isolated, 1.0), health_promo,
                                float(deg[i]), prm)
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
            rate = prm.recovery_base + prm.recovery_per_tie * (w_all - w_lonely)
            lonely_new[i] = 0 if event(u, rate) else 1
        else:
            rate = _onset_rate(base, pop.mig[i], pop.inc[i], health[i], prm.rr_isolated if w_all < 2.0 else 1.0,
                               health_promo, w_lonely, prm)
            lonely_new[i] = 1 if event(u, rate) else 0
    _commit(s, st_off, lonely_new, lonely)


@njit(cache=True)
def _participation(s, pop, ties, eff, prm, wkey):
    st_off, participating, part_new, volunteer = pop.st_off, pop.part, pop.part_new, pop.volunteer
    tie_j, deg = ties.j, ties.deg
    for i in range(st_off[s], st_off[s + 1]):
        if pop.age[i] < 14:
            part_new[i] = 0
            continue
        if pop.aware[i] == 0:
            part_new[i] = 0
        else:
            signal = eff.activation[s]
            if pop.member_of[i] >= 0:
                signal += prm.member_activation
            d = deg[i]
            if d > 0:
                n_part = 0
                for a in range(d):
                    n_part += participating[tie_j[i, a]]
                signal += n_part / d
            if participating[i] == 1:
                u = uniform(wkey, i, 0)
                if u < prm.turnover or (signal < pop.threshold[i] and u < prm.turnover + prm.quit_rate):
                    part_new[i] = 0
                else:
                    part_new[i] = 1
            elif signal >= pop.threshold[i] or uniform(wkey, i, 0) < prm.spontaneous:
                part_new[i] = 1
            else:
                part_new[i] = 0
        u = uniform(wkey, i, 1)
        if volunteer[i] == 1:
            if u < prm.volunteer_quit:
                volunteer[i] = 0
        else:
            rate = prm.volunteer_start_mig if pop.mig[i] == 1 else prm.volunteer_start_no
            if part_new[i] == 1:
                rate *= prm.volunteer_participation_rr
            if u < rate:
                volunteer[i] = 1
    _commit(s, st_off, part_new, participating)


@njit(cache=True)
def _initiatives(s, pop, inits, eff, prm, wkey):
    st_off, age, aware, participating, volunteer, member_of = (pop.st_off, pop.age, pop.aware, pop.part,
                                                                pop.volunteer, pop.member_of)
    max_init = inits.max_init
    init_active, init_members, founded, dropped = inits.active, inits.members, inits.founded, inits.dropped
    n_res = st_off[-1]
    n_st = st_off.shape[0] - 1
    lo = st_off[s]
    hi = st_off[s + 1]
    n = hi - lo
    g0 = s * max_init
    inits.n_found[s] = 0
    inits.n_drop[s] = 0
    for k in range(max_init):
        founded[g0 + k] = 0
        dropped[g0 + k] = 0
    if n == 0:
        return
    w = pop.weight_s[s]
    # (1) drop-outs
    n_active = 0
    for k in range(max_init):
        if init_active[g0 + k] == 1:
            n_active += 1
    support = 0.0
    if n_active > 0:
        support = saturate(eff.support[s] / n_active, prm.support_half)
    for k in range(max_init):
        g = g0 + k
        if init_active[g] == 0:
            continue
        inits.weeks[g] += 1
        hazard = prm.dropout_base * (1.0 - prm.support_effect * support)
        hazard *= inits.rr[g]
        if init_members[g] * w < prm.min_members:
            hazard *= prm.small_rr
        if event(uniform(wkey, n_res + n_st + g, 0), hazard):
            init_active[g] = 0
            dropped[g] = 1
            inits.n_drop[s] += 1
    n_active -= inits.n_drop[s]
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
            if n_active > 0 and uniform(wkey, i, 0) < prm.join_prob:
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
    lam = prm.founding_rate * engaged * w * (1.0 + prm.advice_effect * eff.advice[s])
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
        inits.weeks[slot] = 0
        inits.rr[slot] = 1.0
        founded[slot] = 1
        inits.n_found[s] += 1


# ----------------------------------------------------------------------------------------------------------
# phase kernels: one phase over all Stadtteile
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def awareness_step(pop, ties, eff, prm, wkey):
    """Awareness of local offers: learned through general channels, ties and outreach; forgotten when unused.

    An unaware resident becomes aware with chance ``1 - (1 - r*base)(1 - r*wom*f)(1 - outreach_s)``, where
    ``f`` is the share of its ties that are aware and ``r`` is ``stille_factor`` for stille Gruppen (1 else):
    outreach reaches everybody, the other channels reach stille Gruppen weakly. An aware resident who did not
    attend a venue last week forgets with chance ``forget_rate``. Reads and writes ``pop.aware``.
    """
    for s in range(pop.st_off.shape[0] - 1):
        _awareness(s, pop, ties, eff, prm, wkey)


@njit(cache=True)
def visit_step(pop, venues, inits, eff, prm, wkey):
    """Weekly venue attendance: an initiative meeting, a meeting-place visit within capacity, or none.

    Residents are taken in a rotating order that starts at a random offset each week, so capacity is shared
    fairly. A member attends its initiative's meeting with chance ``meeting_prob`` (venue ``n_places + slot``);
    otherwise an aware resident visits its home place (its ``alt_place`` while the home place is closed, that
    is has capacity 0) with chance ``visit_base * (1 + events_s) * barriers * lonely * child``, admitted only
    while the place has capacity left. Writes ``pop.venue`` (-1 for none) and counts visits in
    ``pop.visit_count``.
    """
    for s in range(pop.st_off.shape[0] - 1):
        _visits(s, pop, venues, inits, eff, prm, wkey)


@njit(cache=True)
def encounter_step(pop, ties, venues, inits, eff, prm, wkey):
    """Encounters at venues and in the street; ties form by proximity and similarity.

    Attendees of one venue (a meeting place or an initiative meeting) are grouped by a counting sort. Then,
    resident by resident, each attendee meets ``per_visit`` random fellow attendees, and each resident has a
    chance encounter with a random resident of its Stadtteil with chance ``neighbour_rate``. An encounter
    refreshes an existing tie to full strength, or forms a new one with chance ``p_form * similarity`` if both
    have a free slot (with the bridging factor raised at venues by networking, ``eff.bridging``). Returns the
    number of ties formed.
    """
    formed = 0
    for s in range(pop.st_off.shape[0] - 1):
        formed += _encounters(s, pop, ties, venues, inits, eff, prm, wkey)
    return formed


@njit(cache=True)
def tie_step(pop, ties, prm, wkey):
    """Tie maintenance and decay: private contact restores a tie; without it strength decays, then it ends.

    For each tie ``i-j`` one draw keyed by the pair ``(min(i, j), max(i, j))``: contact with chance
    ``contact_rate * w`` sets the strength to 1; otherwise it is multiplied by ``decay``, and the tie ends
    below ``min_weight``. Each end applies the draw to its own copy, so both copies stay equal without
    either end writing into the other's row. Returns the number of ties dropped.
    """
    dropped = 0
    for s in range(pop.st_off.shape[0] - 1):
        dropped += _ties(s, pop, ties, prm, wkey)
    return dropped


@njit(cache=True)
def loneliness_step(pop, ties, eff, prm, wkey):
    """Loneliness as an SIS process with spontaneous onset, contagion through ties and recovery through ties.

    Onset rate ``onset_base * rr_health[h] * RR(migration) * RR(low income) * RR(isolated) *
    (1 - eff.health) [poor health only] * (1 + contagion * L)``, with ``L`` the summed strength of lonely
    ties and "isolated" meaning less than 2 in summed tie strength. Recovery rate
    ``recovery_base + recovery_per_tie * N`` with ``N`` the summed strength of non-lonely ties. A rate r becomes
    the weekly chance ``1 - exp(-r)``. Reads and writes ``pop.lonely``.
    """
    for s in range(pop.st_off.shape[0] - 1):
        _loneliness(s, pop, ties, eff, prm, wkey)


@njit(cache=True)
def participation_step(pop, ties, eff, prm, wkey):
    """Threshold participation (Granovetter) and volunteering, for residents aged 14 and over.

    The signal is the share of participating ties, plus ``eff.activation`` (events) and ``member_activation``
    for initiative members. An aware resident starts when the signal reaches its threshold or spontaneously
    (``spontaneous``); a participant whose signal falls below its threshold stops with chance ``quit_rate``,
    any participant with chance ``turnover``. Unaware residents do not participate. A volunteer stops with
    chance ``volunteer_quit``; others start with the group's start rate, times ``volunteer_participation_rr``
    when participating. Reads and writes ``pop.part``; ``pop.volunteer`` is updated in place (it reads nobody
    else's).
    """
    for s in range(pop.st_off.shape[0] - 1):
        _participation(s, pop, ties, eff, prm, wkey)


@njit(cache=True)
def initiative_step(pop, inits, eff, prm, wkey):
    """Initiatives: drop-outs at a hazard that intermediary support lowers, members joining, new foundings.

    Per Stadtteil: (1) each active initiative drops out with weekly hazard ``dropout_base * (1 -
    support_effect * sat(support per initiative)) * rr[slot] * small_rr [if fewer than min_members
    persons]``, where ``rr`` is 1 except for initiatives with a grant (see quartiersim.funding); its
    members are released. (2) Participating volunteers aged 14+ who are no member join a random active
    initiative with chance ``join_prob``; members are aware of local offers. (3) A Poisson number (at most 4)
    of initiatives is founded with mean ``founding_rate * engaged persons * (1 + advice_effect * eff.advice)``,
    each by an engaged resident who becomes its first member. ``founded``/``dropped`` flag slots for the
    model's agent bookkeeping; ``n_found``/``n_drop`` receive the counts per Stadtteil.
    """
    for s in range(pop.st_off.shape[0] - 1):
        _initiatives(s, pop, inits, eff, prm, wkey)


# ----------------------------------------------------------------------------------------------------------
# the whole week, Stadtteil by Stadtteil
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True, parallel=True)
def week_step(pop, ties, venues, inits, eff, p_aw, p_vi, p_en, p_ti, p_lo, p_pa, p_in, wkeys):
    """All resident-level phases of one week, for each Stadtteil in turn (Stadtteile in parallel).

    Equivalent to calling, in order, ``awareness_step``, ``visit_step``, ``encounter_step``, ``tie_step``,
    ``loneliness_step``, ``participation_step`` and ``initiative_step``; ``p_aw`` ... ``p_in`` are their
    parameter bundles (the fields of :class:`~.state.WeekPrm`, passed one by one because numba's parallel loops
    take no nested tuples) and ``wkeys`` the seven phases' week keys in that order.
    """
    for s in prange(pop.st_off.shape[0] - 1):
        _awareness(s, pop, ties, eff, p_aw, wkeys[0])
        _visits(s, pop, venues, inits, eff, p_vi, wkeys[1])
        _encounters(s, pop, ties, venues, inits, eff, p_en, wkeys[2])
        _ties(s, pop, ties, p_ti, wkeys[3])
        _loneliness(s, pop, ties, eff, p_lo, wkeys[4])
        _participation(s, pop, ties, eff, p_pa, wkeys[5])
        _initiatives(s, pop, inits, eff, p_in, wkeys[6])


# ----------------------------------------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------------------------------------

N_GROUPS = 9  # all, migration, no_migration, low_income, poor_health, stille_gruppe, age_65plus,
#              health_very_good, health_very_poor
N_QUANTITIES = 10
_N_COMBOS = 80  # 4 binary traits x 5 health levels


@njit(cache=True)
def group_stats(pop, ties, access_s, out):
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
    st_off, age, mig, inc, health, stille = pop.st_off, pop.age, pop.mig, pop.inc, pop.health, pop.stille
    deg, tie_j = ties.deg, ties.j
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
            acc[c, 2] += adult and pop.lonely[i] == 1
            acc[c, 3] += deg[i]
            acc[c, 4] += bridging
            acc[c, 5] += pop.visit_count[i]
            acc[c, 6] += teen
            acc[c, 7] += teen and pop.part[i] == 1
            acc[c, 8] += teen and pop.volunteer[i] == 1
            acc[c, 9] += pop.aware[i] == 1 and access_s[s, poor + 2 * stille[i]] == 1
        w = pop.weight_s[s]
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
