"""The numba core: resident-level weekly phases as ``@njit`` kernels over the bundles of :mod:`.state`.

Residents are stored as a structure of arrays grouped by Stadtteil (:class:`~.state.Pop`): the residents of
Stadtteil ``s`` are ``pop.st_off[s] <= i < pop.st_off[s + 1]``. Ties never cross Stadtteile, and every phase
touches only the residents, places and initiative slots of one Stadtteil at a time, so Stadtteile are
independent within a week.

Each phase is written once, as a function of one Stadtteil (``_awareness(s, pop, ...)`` and so on), whose
arguments are the bundles it reads and writes. Two drivers call them:

* the phase kernels (``demography_step`` ... ``initiative_step``) run one phase over all Stadtteile; the model
  uses them when it times each phase, and the tests hold each to its plain-Python twin in
  :mod:`quartiersim.kernels.reference`;
* :func:`week_step` runs all resident-level phases of a week for one block of Stadtteile (at most
  :data:`BLOCK_RESIDENTS` residents, or a larger Stadtteil alone) before moving to the next, so a block's
  arrays stay in the processor's cache for the whole week, and spreads the blocks over threads with
  ``prange``. It gives the same arrays as the phase kernels in order, whatever the blocks and the number of
  threads, because random numbers are counter-based: :func:`quartiersim.kernels.random.uniform` keyed by
  (stream week key, counter, draw), where the counter is the resident id, or ``n_residents + s`` for a
  Stadtteil-level draw, or ``n_residents + n_stadtteile + slot`` for an initiative's draw.

Kernels take no model objects and read no module state. Updates that read the neighbours' state
(awareness, loneliness, readiness) are synchronous: every resident of a Stadtteil reads the old array, the new
states go to the bundle's ``*_new`` scratch array, and they are copied back once the whole Stadtteil is done
(:func:`_commit`).

Tie storage (:class:`~.state.Ties`): the ties of ``i`` fill slots ``0 .. deg[i] - 1`` of row ``i``:
``j[i, a]`` is the neighbour (-1 beyond ``deg[i]``), ``w[i, a]`` its strength in (0, 1], and ``slot[i, a]``
the slot of ``i`` in the neighbour's row, so both copies of a tie are updated in O(1). Removing a tie moves the
row's last tie into the freed slot, so loops run over ``deg[i]`` slots, not the row's capacity.

The municipal roles act only through countable outputs (:class:`~.state.Effects`): outreach contacts with
named residents, attendances at events and health offers, advice sessions and network meetings. Residents
are reached one by one with chances proportional to their share of those outputs, so reach grows in
proportion to hours until everybody in a Stadtteil has been reached.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from llvmlite import binding, ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from . import codegen
from .cache import drop_if_changed
from .random import uniform
from .state import NEVER

# the kernels never index with a negative number and never get arrays that overlap: they are compiled without
# numba's wrap-around of negative indices and with their arrays marked noalias (see .codegen), installed here
# before any kernel compiles
codegen.install()

WEEKS_PER_YEAR = 52
ACTIVE_WEEKS = 52  # participation: took part in an activity in the quarter in the last 12 months
RECENT_WEEKS = 5 * WEEKS_PER_YEAR  # "living in the Stadtteil for under 5 years"
MAX_AGE = 100
MAX_SESSIONS = 100_000  # advice sessions or network meetings per Stadtteil and week (keeps draw ids apart)

# ----------------------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------------------


#: the prefetch intrinsic's name for a byte pointer: LLVM 17 and later have opaque pointers only
_PREFETCH = "llvm.prefetch.p0" if binding.llvm_version_info[0] >= 17 else "llvm.prefetch.p0i8"


@intrinsic
def _prefetch(typingctx, arr, idx):
    """Ask the processor to bring the cache line of ``arr[idx]`` into its outer caches, without waiting for it.

    Changes no value: it only issues the instruction (``prefetcht2`` on x86) through LLVM's ``llvm.prefetch``.
    """
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        ptr = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32]),
                                            _PREFETCH)
        builder.call(fn, [ptr, ir.Constant(i32, 0), ir.Constant(i32, 1), ir.Constant(i32, 1)])  # read, outer, data
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True, inline="always")
def _prefetch_ties(ties, r, hi):
    """Prefetch the tie rows of residents r .. r + 15 (those below hi)."""
    for i in range(r, min(r + 16, hi)):
        _prefetch(ties.j[i], 0)
        _prefetch(ties.w[i], 0)
    for i in range(r, min(r + 16, hi), 4):
        _prefetch(ties.slot[i], 0)


@njit(cache=True, inline="always")
def similarity(age_i, age_j, mig_i, mig_j, inc_i, inc_j, age_scale, bridging, income_factor):
    """Homophily: 1 for identical residents, lower with age gap, across migration background and income."""
    return _similarity_given_age(math.exp(-abs(float(age_i) - float(age_j)) / age_scale), mig_i, mig_j, inc_i,
                                 inc_j, bridging, income_factor)


@njit(cache=True, inline="always")
def _similarity_given_age(age_factor, mig_i, mig_j, inc_i, inc_j, bridging, income_factor):
    """:func:`similarity` from its age factor (computed, or looked up in ``EncounterPrm.age_similarity``)."""
    sim = age_factor
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


@njit(cache=True, inline="always")
def year_week(week):
    """The week of the year (0..51) of a model week (weeks before the start are negative)."""
    return ((week % WEEKS_PER_YEAR) + WEEKS_PER_YEAR) % WEEKS_PER_YEAR


@njit(cache=True, inline="always")
def inverse_cdf(cdf, u):
    """The smallest index whose cumulative probability exceeds ``u`` (the last index at most)."""
    lo = 0
    hi = cdf.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cdf[mid] > u:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True, inline="always")
def find_tie(i, j, ties):
    """Slot of j in i's row, or -1."""
    for a in range(ties.deg[i]):
        if ties.j[i, a] == j:
            return a
    return -1


@njit(cache=True, inline="always")
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
def drop_all_ties(i, ties):
    """End every tie of ``i``: each neighbour's copy goes (its row's last tie fills the gap), then i's row."""
    tie_j, tie_w, tie_slot, deg = ties.j, ties.w, ties.slot, ties.deg
    for a in range(deg[i]):
        j = tie_j[i, a]
        b = tie_slot[i, a]
        last = deg[j] - 1
        if b != last:
            k = tie_j[j, last]
            c = tie_slot[j, last]
            tie_j[j, b] = k
            tie_w[j, b] = tie_w[j, last]
            tie_slot[j, b] = c
            tie_slot[k, c] = b
        tie_j[j, last] = -1
        tie_w[j, last] = 0.0
        tie_slot[j, last] = -1
        deg[j] = last
        tie_j[i, a] = -1
        tie_w[i, a] = 0.0
        tie_slot[i, a] = -1
    deg[i] = 0


@njit(cache=True, inline="always")
def _commit(s, st_off, new, old):
    """Copy the new states of Stadtteil s's residents back into the current array (synchronous updates)."""
    for i in range(st_off[s], st_off[s + 1]):
        old[i] = new[i]


@njit(cache=True, inline="always")
def set_traits(i, s, pop, demog, tp, week):
    """Low income, health, stille Gruppen and threshold of resident i from its latent quantiles and its age.

    Low income: ``u_income`` below the Stadtteil's low-income share (under 25: at least its Bürgergeld share).
    Health: the Stadtteil's health-limitation share spread over ages by the age profile; ``u_health`` below
    the limitation chance means limited (very poor, poor or fair by where it falls), above it very good or good.
    Stille Gruppen: ``u_stille`` below the base chance times the RRs of a recent migrant (under 5 years in the
    Stadtteil), low income and poor health. Threshold: uniform in [threshold_min, 1] by ``u_threshold``, plus
    the shift of the stille Gruppen, at most 1. Because the quantiles stay fixed, each trait changes with age
    exactly as the profile says, and residents who age keep the population's mix.
    """
    a = pop.age[i]
    recent_migrant = pop.mig[i] == 1 and week - pop.arrived[i] < RECENT_WEEKS
    inc, h, stille, thr = _traits(a, pop.u_income[i], pop.u_health[i], pop.u_stille[i], pop.u_threshold[i],
                                  recent_migrant, demog.low_share[s], demog.bg_u25[s], demog.lim_coef[s], tp)
    pop.inc[i] = inc
    pop.health[i] = h
    pop.stille[i] = stille
    pop.threshold[i] = thr


@njit(cache=True, inline="always")
def _traits(a, u_income, u_health, u_stille, u_threshold, recent_migrant, low_share, bg_u25, lim_coef, tp):
    """:func:`set_traits` of one resident's values: (low income, health, stille Gruppen, threshold).

    It takes numbers, not the Pop bundle: where numba inlines a helper into a loop, each bundle it is given costs
    a reference taken and dropped for each of its arrays, every call.
    """
    p_low = low_share
    if a < 25 and bg_u25 > p_low:
        p_low = bg_u25
    inc = 1 if u_income < p_low else 0
    band = 0
    while band < tp.age_edges.shape[0] and a >= tp.age_edges[band]:
        band += 1
    p_lim = min(1.0, lim_coef * tp.age_profile[band])
    u = u_health
    if u < p_lim:
        v = u / p_lim
        if v < tp.very_poor:
            h = 4
        elif v < tp.very_poor + tp.poor:
            h = 3
        else:
            h = 2
    else:
        v = (u - p_lim) / (1.0 - p_lim)
        h = 1 if v < 1.0 - tp.very_good else 0
    p = tp.stille_base
    if recent_migrant:
        p *= tp.stille_rr_recent_migrant
    if inc == 1:
        p *= tp.stille_rr_low_income
    if h >= 3:
        p *= tp.stille_rr_poor_health
    stille = 1 if u_stille < min(p, 1.0) else 0
    thr = tp.threshold_min + (1.0 - tp.threshold_min) * u_threshold
    if stille == 1:
        thr += tp.stille_threshold_shift
    return inc, h, stille, min(thr, 1.0)


@njit(cache=True, inline="always")
def _newcomer_lonely_chance(health, mig, inc, age, lp):
    """A newcomer's chance of arriving lonely.

    The onset share of its risk factors, with a network's worth (two units of tie strength) of recovery from
    where it came from.
    """
    onset = lp.onset_base * lp.rr_health[health]
    if mig == 1:
        onset *= lp.rr_migration
    if inc == 1:
        onset *= lp.rr_low_income
    if age >= 65:
        onset *= lp.rr_age_65plus
    recovery = lp.recovery_base + 2.0 * lp.recovery_per_tie
    return onset / (onset + recovery)


@njit(cache=True, inline="always")
def _volunteer_share(age, mig, tp):
    if age < 14:
        return 0.0
    return tp.volunteer_mig if mig == 1 else tp.volunteer_no


@njit(cache=True, inline="always")
def _home_place(first, n_reg, u):
    """A random regular place of a Stadtteil (its first place and number of regular places), or -1."""
    if n_reg <= 0:
        return -1
    return first + int(u * n_reg)


@njit(cache=True, inline="always")
def _years_here(s, a, demog, u):
    """Whole years a resident aged ``a`` has lived in Stadtteil s, drawn from the stationary population.

    Of the residents aged ``a``, the share still there from ``y`` years ago is ``N(a - y) / N(a)`` times the
    chance of staying through ages ``a - y .. a - 1``; the result is the largest ``y`` whose share exceeds ``u``.
    """
    if demog.stock[s, a] <= 0.0:
        return 0
    share = 1.0
    y = 0
    while y < a:
        k = a - 1 - y
        share *= demog.stock[s, k] * (1.0 - demog.exit_year[s, k]) / demog.stock[s, k + 1]
        if share <= u:
            break
        y += 1
    return y


# ----------------------------------------------------------------------------------------------------------
# set-up kernels
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def synthesise(pop, venues, demog, tp, week, wkey):
    """Draw every resident of every Stadtteil from the Stadtteil's profile (the starting population).

    Age from the Stadtteil's age distribution; a birthday week; migration background with the Stadtteil's
    share; years in the Stadtteil as in the stationary population (:func:`_years_here`); latent quantiles for
    income, health, stille Gruppen and threshold (:func:`set_traits`); aware of local offers with
    ``awareness_initial`` (times ``awareness_stille_factor`` for stille Gruppen); aware residents aged 14+ took
    part in an activity within the last year with ``participation_initial``; volunteering (14+) with the
    group's share; a home place among the Stadtteil's regular places. Loneliness and ties are set later.
    """
    st_off = pop.st_off
    for s in range(st_off.shape[0] - 1):
        for i in range(st_off[s], st_off[s + 1]):
            a = inverse_cdf(demog.stock_cdf[s], uniform(wkey, i, 0))
            pop.age[i] = a
            pop.birthday[i] = int(uniform(wkey, i, 1) * WEEKS_PER_YEAR)
            pop.mig[i] = 1 if uniform(wkey, i, 2) < demog.mig_share[s] else 0
            years = _years_here(s, a, demog, uniform(wkey, i, 3)) + uniform(wkey, i, 13)
            pop.arrived[i] = week - int(years * WEEKS_PER_YEAR)
            pop.u_income[i] = uniform(wkey, i, 4)
            pop.u_health[i] = uniform(wkey, i, 5)
            pop.u_stille[i] = uniform(wkey, i, 6)
            pop.u_threshold[i] = uniform(wkey, i, 7)
            set_traits(i, s, pop, demog, tp, week)
            p_aware = tp.awareness_initial * (tp.awareness_stille_factor if pop.stille[i] == 1 else 1.0)
            pop.aware[i] = 1 if uniform(wkey, i, 8) < p_aware else 0
            pop.last_active[i] = NEVER
            if pop.aware[i] == 1 and a >= 14 and uniform(wkey, i, 9) < tp.participation_initial:
                pop.last_active[i] = week - int(uniform(wkey, i, 10) * ACTIVE_WEEKS)
            pop.volunteer[i] = 1 if uniform(wkey, i, 11) < _volunteer_share(a, pop.mig[i], tp) else 0
            pop.home_place[i] = _home_place(venues.pl_off[s], venues.n_regular[s], uniform(wkey, i, 12))
            pop.ready[i] = 0
            pop.lonely[i] = 0
            pop.member_of[i] = -1
            pop.venue[i] = -1
            pop.visit_count[i] = 0
            pop.last_contact[i] = NEVER
            pop.last_role[i] = NEVER
            pop.last_health[i] = NEVER
            pop.knows_role[i] = 0


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
def init_initiatives(pop, inits, venues, n_init_s, members_persons, hosted_share, diverse_share, wkey):
    """Start ``n_init_s[s]`` initiatives per Stadtteil, each with volunteers as members.

    Members are drawn from volunteers aged 14+ by a random scan; each initiative gets about ``members_persons``
    persons' worth of members, at least one agent, and its first member is its champion. An initiative is
    hosted by a random regular meeting place of its Stadtteil with chance ``hosted_share`` and funded from
    more than one source with chance ``diverse_share``.
    """
    st_off = pop.st_off
    max_init = inits.max_init
    n_st = st_off.shape[0] - 1
    n_res = st_off[n_st]
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
                    if got == 0:
                        inits.champion[g] = i
                    got += 1
            if got == 0:
                break
            inits.active[g] = 1
            inits.members[g] = got
            c = n_res + n_st + g
            inits.host[g] = -1
            if venues.n_regular[s] > 0 and uniform(wkey, c, 0) < hosted_share:
                inits.host[g] = venues.pl_off[s] + int(uniform(wkey, c, 1) * venues.n_regular[s])
            inits.diverse[g] = 1 if uniform(wkey, c, 2) < diverse_share else 0
            inits.advised[g] = NEVER


# ----------------------------------------------------------------------------------------------------------
# the weekly phases, one Stadtteil at a time
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _demography(s0, s1, pop, ties, venues, inits, demog, tp, lp, week, wkey, live, out, col):
    """Birthdays, and residents leaving (moving away or dying), each replaced at once by a newcomer.

    For the Stadtteile ``s0 <= s < s1``, in one call (see :func:`_visits`): each one's residents who left into
    ``out[s, col]``; one with ``live[s] == 0`` is idle (:func:`_idle`).
    """
    yw = year_week(week)
    n_st = pop.st_off.shape[0] - 1
    for s in range(s0, s1):
        if live[s] == 0:
            _idle(s, inits, out)
            continue
        moved = 0
        low_share, bg_u25, lim_coef = demog.low_share[s], demog.bg_u25[s], demog.lim_coef[s]
        first_place, n_regular = venues.pl_off[s], venues.n_regular[s]
        lo = pop.st_off[s]
        hi = pop.st_off[s + 1]
        # The tie rows (most of a resident's bytes) of the next Stadtteil are prefetched meanwhile: the whole city's
        # state does not fit the caches, so each Stadtteil's arrays come from memory once a week, and the processor's
        # own prefetching follows the residents' arrays but not the rows. No value changes; 2-3 % less time.
        nxt = pop.st_off[min(s + 1, n_st)]
        nxt_hi = pop.st_off[min(s + 2, n_st)]
        per = 1 + (nxt_hi - nxt) // max(hi - lo, 1)  # blocks of 16 rows there per 16 residents here
        for i in range(lo, hi):
            if ((i - lo) & 15) == 0:
                for _ in range(per):
                    _prefetch_ties(ties, nxt, nxt_hi)
                    nxt += 16
            retrait = week - pop.arrived[i] == RECENT_WEEKS  # no longer a recent arrival: the stille risk changes
            if pop.birthday[i] == yw and pop.age[i] < MAX_AGE:
                pop.age[i] += 1
                retrait = True
            leaves = uniform(wkey, i, 0) < demog.exit_prob[s, pop.age[i]]
            if leaves:
                moved += 1
                drop_all_ties(i, ties)
                m = pop.member_of[i]
                if m >= 0:
                    pop.member_of[i] = -1
                    inits.members[m] -= 1
                    if inits.champion[m] == i:
                        inits.champion[m] = -1
                # a newcomer takes slot i: drawn from the Stadtteil's profile, unaware of local offers, without
                # ties (written out here rather than in a helper given the bundles: see _traits)
                pop.age[i] = inverse_cdf(demog.entry_cdf[s], uniform(wkey, i, 1))
                pop.birthday[i] = yw  # a full year at the age of arrival (births too), as the tables assume
                pop.mig[i] = 1 if uniform(wkey, i, 3) < demog.mig_share[s] else 0
                pop.arrived[i] = week
                pop.u_income[i] = uniform(wkey, i, 4)
                pop.u_health[i] = uniform(wkey, i, 5)
                pop.u_stille[i] = uniform(wkey, i, 6)
                pop.u_threshold[i] = uniform(wkey, i, 7)
                retrait = True
            if retrait:  # set_traits, with the resident's values (see _traits)
                a = pop.age[i]
                recent_migrant = pop.mig[i] == 1 and week - pop.arrived[i] < RECENT_WEEKS
                inc, h, stille, thr = _traits(a, pop.u_income[i], pop.u_health[i], pop.u_stille[i],
                                              pop.u_threshold[i], recent_migrant, low_share, bg_u25, lim_coef, tp)
                pop.inc[i] = inc
                pop.health[i] = h
                pop.stille[i] = stille
                pop.threshold[i] = thr
            if leaves:
                pop.volunteer[i] = 1 if uniform(wkey, i, 8) < _volunteer_share(pop.age[i], pop.mig[i], tp) else 0
                pop.home_place[i] = _home_place(first_place, n_regular, uniform(wkey, i, 9))
                lonely_chance = _newcomer_lonely_chance(pop.health[i], pop.mig[i], pop.inc[i], pop.age[i], lp)
                pop.lonely[i] = 1 if uniform(wkey, i, 10) < lonely_chance else 0
                pop.aware[i] = 0
                pop.ready[i] = 0
                pop.venue[i] = -1
                pop.last_active[i] = NEVER
                pop.last_contact[i] = NEVER
                pop.last_role[i] = NEVER
                pop.last_health[i] = NEVER
                pop.knows_role[i] = 0
        out[s, col] = moved


@njit(cache=True)
def _awareness(s, pop, ties, eff, prm, week, wkey):
    """Outreach contacts with named residents, then learning and forgetting of local offers."""
    st_off, aware, aware_new, tie_j, deg = pop.st_off, pop.aware, pop.aware_new, ties.j, ties.deg
    lo = st_off[s]
    hi = st_off[s + 1]
    contacts = eff.contacts[s]
    total = 0.0  # the targeting weights of residents aged 14+: outreach seeks out the stille Gruppen
    if contacts > 0.0:
        for i in range(lo, hi):
            if pop.age[i] >= 14:
                total += prm.outreach_stille_weight if pop.stille[i] == 1 else 1.0
    n_contacted = 0
    news = eff.programme[s] > 0.0  # a role has worked here: its work is known and talked about
    knows, knows_new = pop.knows_role, pop.knows_new
    for i in range(lo, hi):
        contacted = False
        if total > 0.0 and pop.age[i] >= 14:
            t = prm.outreach_stille_weight if pop.stille[i] == 1 else 1.0
            if uniform(wkey, i, 2) < contacts * t / total:
                contacted = True
                pop.last_contact[i] = week
                n_contacted += 1
        knows_new[i] = knows[i]
        if contacted:
            knows_new[i] = 1
        elif news and knows[i] == 0 and uniform(wkey, i, 4) < prm.programme_word_of_mouth:
            # heard of the roles' work from ties who know it: the chance is word_of_mouth times their share
            d = deg[i]
            n_know = 0
            for a in range(d):
                n_know += knows[tie_j[i, a]]
            if d > 0 and uniform(wkey, i, 5) * d < n_know:
                knows_new[i] = 1
        if aware[i] == 1:
            if not contacted and pop.venue[i] < 0 and uniform(wkey, i, 0) < prm.forget_rate:
                aware_new[i] = 0
            else:
                aware_new[i] = 1
            continue
        if contacted and uniform(wkey, i, 3) < prm.outreach_aware_prob:
            aware_new[i] = 1
            continue
        r = prm.stille_factor if pop.stille[i] == 1 else 1.0
        u = uniform(wkey, i, 1)
        # the chance rises with the aware share of ties (0 to 1): decide without the ties where the bounds do
        if u >= 1.0 - (1.0 - r * prm.base_rate) * (1.0 - r * prm.word_of_mouth):
            aware_new[i] = 0
            continue
        frac = 0.0
        d = deg[i]
        if d > 0:
            n_aware = 0
            for a in range(d):
                n_aware += aware[tie_j[i, a]]
            frac = n_aware / d
        p_stay = (1.0 - r * prm.base_rate) * (1.0 - r * prm.word_of_mouth * frac)
        aware_new[i] = 1 if u < 1.0 - p_stay else 0
    _commit(s, st_off, aware_new, aware)
    _commit(s, st_off, knows_new, knows)
    return n_contacted


@njit(cache=True)
def _awareness_block(s0, s1, pop, ties, eff, prm, week, wkey, live, out, col):
    """:func:`_awareness` for the Stadtteile ``s0 <= s < s1`` with ``live[s] != 0``, the contacts into ``out[s, col]``.

    Where nobody is contacted this week (every Stadtteil in the spin-up, and wherever no role does outreach) it
    takes :func:`_awareness_uncontacted`, which gives the same states. One call takes a block (see
    :func:`_visits`). The two share the reading of the ties as a copy: a helper for it, called from
    :func:`_awareness`, made numba take a reference to some 40 arrays there on every call.
    """
    st_off, aware, aware_new, order, venue, stille = (pop.st_off, pop.aware, pop.aware_new, pop.order, pop.venue,
                                                      pop.stille)
    knows, knows_new, tie_j, deg = pop.knows_role, pop.knows_new, ties.j, ties.deg
    for s in range(s0, s1):
        if live[s] == 0:
            continue
        if eff.contacts[s] > 0.0:
            out[s, col] = _awareness(s, pop, ties, eff, prm, week, wkey)
        else:
            _awareness_uncontacted(st_off[s], st_off[s + 1], eff.programme[s] > 0.0, aware, aware_new, order, venue,
                                   stille, tie_j, deg, knows, knows_new, prm.forget_rate, prm.base_rate,
                                   prm.word_of_mouth, prm.stille_factor, prm.programme_word_of_mouth, wkey)
            out[s, col] = 0


@njit(cache=True, inline="always")
def _awareness_uncontacted(lo, hi, news, aware, aware_new, order, venue, stille, tie_j, deg, knows, knows_new,
                           forget_rate, base_rate, word_of_mouth, stille_factor, programme_word_of_mouth, wkey):
    """:func:`_awareness` where nobody is contacted this week: the same draws and states, faster.

    A first loop without branches (aware or not, and forgetting, are coin tosses to the processor) settles the
    aware, who forget or not, and the unaware whose draw is above the chance with every tie aware, who stay
    unaware; it lists the other unaware, whose ties then decide. Where a role has worked (``news``), a last loop
    lets those who do not know its work hear of it from their ties.
    """
    m = lo
    for i in range(lo, hi):
        knows_new[i] = knows[i]
        was = aware[i] == 1
        forgets = (venue[i] < 0) & (uniform(wkey, i, 0) < forget_rate)
        aware_new[i] = was & ~forgets
        r = stille_factor if stille[i] == 1 else 1.0
        order[m] = i
        m += ~was & (uniform(wkey, i, 1) < 1.0 - (1.0 - r * base_rate) * (1.0 - r * word_of_mouth))
    for k in range(lo, m):
        i = order[k]
        r = stille_factor if stille[i] == 1 else 1.0
        frac = 0.0
        d = deg[i]
        if d > 0:
            n_aware = 0
            for a in range(d):
                n_aware += aware[tie_j[i, a]]
            frac = n_aware / d
        p_stay = (1.0 - r * base_rate) * (1.0 - r * word_of_mouth * frac)
        aware_new[i] = 1 if uniform(wkey, i, 1) < 1.0 - p_stay else 0
    if news:
        for i in range(lo, hi):
            if (knows[i] == 0) & (uniform(wkey, i, 4) < programme_word_of_mouth):
                d = deg[i]
                n_know = 0
                for a in range(d):
                    n_know += knows[tie_j[i, a]]
                if d > 0 and uniform(wkey, i, 5) * d < n_know:
                    knows_new[i] = 1
        for i in range(lo, hi):
            knows[i] = knows_new[i]
    for i in range(lo, hi):
        aware[i] = aware_new[i]


# Per-resident helpers take the arrays they read, not the Pop bundle: a call that is not inlined would copy the
# whole bundle (some thirty array structs) for every resident.


@njit(cache=True, inline="always")
def _event_weight(aware, ready, last_role, last_contact, lonely, age, prm, week):
    """How much more likely than a typical aware resident one is to come to a role's event (its own values)."""
    if aware == 0:
        return 0.0
    w = 1.0 if ready == 1 else prm.event_unready_factor
    if week - last_role < prm.regular_weeks:  # the regulars of the roles' groups and offers
        w *= prm.regular_factor
    if week - last_contact < prm.invite_weeks:
        w *= prm.invite_factor
    if lonely == 1:
        w *= prm.lonely_factor
    if age < 14:
        w *= prm.child_factor
    return w


@njit(cache=True, inline="always")
def _health_weight(age, health, prm):
    """Health offers are for adults and seek out those in poor health."""
    if age < 18:
        return 0.0
    return prm.health_targeting if health >= 3 else 1.0


@njit(cache=True)
def _visits(s0, s1, pop, venues, inits, eff, prm, week, wkey, live, out, col):
    """Role activities (events, health offers), initiative meetings and meeting-place visits; one venue a week.

    For the Stadtteile ``s0 <= s < s1`` with ``live[s] != 0``, each one's attendances at role activities into
    ``out[s, col]``. One call takes a block of Stadtteile: numba takes a reference to each array of the bundles
    it is given when the function starts and drops it when it returns (about 60 here, which it cannot prune in
    this function); once a Stadtteil, that cost more than a small Stadtteil's visits.
    """
    st_off = pop.st_off
    n_res = st_off[st_off.shape[0] - 1]
    cap, used = venues.cap, venues.used
    for s in range(s0, s1):
        if live[s] == 0:
            continue
        lo = st_off[s]
        hi = st_off[s + 1]
        n = hi - lo
        for p in range(venues.pl_off[s], venues.pl_off[s + 1]):
            used[p] = 0
        if n == 0:
            out[s, col] = 0
            continue
        attendance = eff.attendance[s]
        health_reach = eff.health_reach[s]
        role_venue = venues.n_places + inits.active.shape[0] + s
        w_total = 0.0
        h_total = 0.0
        if attendance > 0.0 or health_reach > 0.0:
            for i in range(lo, hi):
                w_total += _event_weight(pop.aware[i], pop.ready[i], pop.last_role[i], pop.last_contact[i],
                                         pop.lonely[i], pop.age[i], prm, week)
                h_total += _health_weight(pop.age[i], pop.health[i], prm)
        attended = 0
        start = lo + int(uniform(wkey, n_res + s, 0) * n)
        for k in range(n):
            i = start + k
            if i >= hi:
                i -= n
            pop.venue[i] = -1
            # role activities: each resident's chance is its share of the attendances the hours pay for
            if attendance > 0.0 and w_total > 0.0:
                weight = _event_weight(pop.aware[i], pop.ready[i], pop.last_role[i], pop.last_contact[i],
                                       pop.lonely[i], pop.age[i], prm, week)
                if uniform(wkey, i, 2) < attendance * weight / w_total:
                    pop.venue[i] = role_venue
                    pop.last_active[i] = week
                    pop.last_role[i] = week
                    pop.knows_role[i] = 1
                    attended += 1
                    continue
            if health_reach > 0.0 and h_total > 0.0:
                if uniform(wkey, i, 3) < health_reach * _health_weight(pop.age[i], pop.health[i], prm) / h_total:
                    pop.venue[i] = role_venue
                    pop.last_active[i] = week
                    pop.last_role[i] = week
                    pop.last_health[i] = week
                    pop.knows_role[i] = 1
                    attended += 1
                    continue
            m = pop.member_of[i]
            if m >= 0 and uniform(wkey, i, 0) < prm.meeting_prob:
                pop.venue[i] = venues.n_places + m
                pop.last_active[i] = week
                continue
            if pop.aware[i] == 0:
                continue
            p = pop.home_place[i]
            if p < 0 or used[p] >= cap[p]:
                continue
            prob = prm.visit_base if pop.ready[i] == 1 else prm.visit_base * prm.unready_factor
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
                pop.last_active[i] = week
        out[s, col] = attended


@njit(cache=True, inline="always")
def _has_company(v, v_count):
    """Whether a resident at venue ``v`` (-1: none) meets others there (without a branch)."""
    return (v >= 0) & (v_count[max(v, 0)] >= 2)


@njit(cache=True)
def _encounters(s0, s1, pop, ties, venues, inits, prm, wkey, live):
    """Encounters and ties formed at venues and in the street (:func:`encounter_step`); the ties formed.

    For the Stadtteile ``s0 <= s < s1`` with ``live[s] != 0``, in one call (see :func:`_visits`).
    """
    st_off, venue, age, mig, inc = pop.st_off, pop.venue, pop.age, pop.mig, pop.inc
    tie_j, tie_w, tie_slot, deg = ties.j, ties.w, ties.slot, ties.deg
    v_count, v_start, v_members = venues.v_count, venues.v_start, venues.v_members
    encounters_per_visit = prm.per_visit
    p_form = prm.p_form
    k_max = tie_j.shape[1]
    total = 0
    for s in range(s0, s1):
        if live[s] == 0:
            continue
        lo = st_off[s]
        hi = st_off[s + 1]
        n = hi - lo
        if n < 2:
            continue
        formed = 0
        p0 = venues.pl_off[s]
        p1 = venues.pl_off[s + 1]
        g0 = venues.n_places + s * inits.max_init
        g1 = g0 + inits.max_init
        role_venue = venues.n_places + inits.active.shape[0] + s
        # counting sort of this Stadtteil's attendees by venue, into v_members[lo:hi]
        for v in range(p0, p1):
            v_count[v] = 0
        for v in range(g0, g1):
            v_count[v] = 0
        v_count[role_venue] = 0
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
        v_start[role_venue] = pos
        pos += v_count[role_venue]
        v_count[role_venue] = 0
        if pos > lo:
            for i in range(lo, hi):
                v = venue[i]
                if v >= 0:
                    v_members[v_start[v] + v_count[v]] = i
                    v_count[v] += 1
        # the residents with an encounter this week, in order: those at a venue with company and those whose chance
        # encounter in the street happens. Listed without a branch (the street draw is a coin toss the processor
        # cannot predict), so that the loop below visits only them
        order = pop.order
        m = lo
        for i in range(lo, hi):
            order[m] = i
            m += _has_company(venue[i], v_count) | (uniform(wkey, i, 0) < prm.neighbour_rate)
        for k in range(lo, m):
            i = order[k]
            # encounters 0 .. encounters_per_visit - 1 at i's venue (if it shares it), the last in the street
            v = venue[i]
            first = 0 if _has_company(v, v_count) else encounters_per_visit
            for e in range(first, encounters_per_visit + 1):
                if e < encounters_per_visit:
                    j = v_members[v_start[v] + int(uniform(wkey, i, 10 + 2 * e) * v_count[v])]
                    u = uniform(wkey, i, 11 + 2 * e)
                    bridge = prm.event_bridging if v == role_venue else prm.bridging
                else:
                    if uniform(wkey, i, 0) >= prm.neighbour_rate:
                        break
                    j = lo + int(uniform(wkey, i, 1) * n)
                    u = uniform(wkey, i, 2)
                    bridge = prm.bridging
                if j == i:
                    continue
                # refresh an existing tie to full strength (a pair has at most one tie, and free slots hold -1, so
                # the whole row is compared without a branch, which the compiler vectorises) ...
                a = -1
                for b in range(k_max):
                    a = b if tie_j[i, b] == j else a
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
                sim = _similarity_given_age(prm.age_similarity[abs(np.int64(age[i]) - np.int64(age[j]))], mig[i],
                                            mig[j], inc[i], inc[j], bridge, prm.income_factor)
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
        total += formed
    return total


@njit(cache=True)
def _ties(s, pop, ties, prm, wkey):
    st_off, tie_j, tie_w, tie_slot, deg = pop.st_off, ties.j, ties.w, ties.slot, ties.deg
    lo = st_off[s]
    hi = st_off[s + 1]
    contact_rate, decay, min_weight = prm.contact_rate, prm.decay, prm.min_weight
    # first every tie's new strength, in a loop without branches that the compiler vectorises; a tie that ends
    # is marked -1 (strengths are positive), and the residents with a tie that ends are listed as they come.
    # Both ends draw the same number for the pair, so both copies get the same update.
    k_max = tie_j.shape[1]
    order = pop.order
    m = lo
    for i in range(lo, hi):
        d = deg[i]
        row_j = tie_j[i]
        row_w = tie_w[i]
        ends = False
        n_slots = k_max  # the row's first 8 slots are one vector of the draws' 64-bit lanes: most rows need no more
        if d <= 8 and k_max >= 8:
            n_slots = 8
        for a in range(n_slots):
            j = row_j[a]
            w = row_w[a]
            first = min(i, j)
            u = uniform(wkey, first, i + j - first)
            nw = 1.0 if u < contact_rate * w else w * decay
            nw = nw if nw >= min_weight else -1.0
            row_w[a] = nw if a < d else w
            ends |= (nw < 0.0) & (a < d)
        order[m] = i
        m += ends
    # then the ties that end, resident by resident as before
    dropped = 0
    for k in range(lo, m):
        i = order[k]
        a = 0
        while a < deg[i]:
            if tie_w[i, a] >= 0.0:
                a += 1
                continue
            j = tie_j[i, a]
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


@njit(cache=True, inline="always")
def _onset_rate(health, mig, inc, age, last_health, isolated_factor, w_lonely, prm, week):
    """Weekly loneliness onset rate of a resident from its factors (its own values)."""
    rate = prm.onset_base * prm.rr_health[health]
    if mig == 1:
        rate *= prm.rr_migration
    if inc == 1:
        rate *= prm.rr_low_income
    if age >= 65:
        rate *= prm.rr_age_65plus
    rate *= isolated_factor
    if week - last_health < prm.health_weeks:
        rate *= 1.0 - prm.health_effect
    return rate * (1.0 + prm.contagion * w_lonely)


@njit(cache=True)
def _loneliness(s, pop, ties, prm, week, wkey):
    st_off, lonely, lonely_new = pop.st_off, pop.lonely, pop.lonely_new
    health, mig, inc, age, last_health = pop.health, pop.mig, pop.inc, pop.age, pop.last_health
    tie_j, tie_w, deg = ties.j, ties.w, ties.deg
    for i in range(st_off[s], st_off[s + 1]):
        u = uniform(wkey, i, 0)
        if lonely[i] == 0:
            # an upper bound of the onset rate (isolated, every tie lonely at full strength): above it, no onset
            bound = _onset_rate(health[i], mig[i], inc[i], age[i], last_health[i], max(prm.rr_isolated, 1.0),
                                float(deg[i]), prm, week)
            if u >= bound:
                lonely_new[i] = 0
                continue
        elif u >= prm.recovery_base + prm.recovery_per_tie * deg[i]:
            # an upper bound of the recovery rate (every tie at full strength and not lonely; strengths are at
            # most 1): above it, no recovery
            lonely_new[i] = 1
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
            rate = _onset_rate(health[i], mig[i], inc[i], age[i], last_health[i],
                               prm.rr_isolated if w_all < 2.0 else 1.0, w_lonely, prm, week)
            lonely_new[i] = 1 if event(u, rate) else 0
    _commit(s, st_off, lonely_new, lonely)


@njit(cache=True, inline="always")
def _own_signal(i, pop, prm, week):
    """The participation signal without the ties: membership and a recent invitation (selected, no branches)."""
    signal = 0.0
    signal += prm.member_activation if pop.member_of[i] >= 0 else 0.0
    signal += prm.invite_activation if week - pop.last_contact[i] < prm.invite_weeks else 0.0
    return signal


@njit(cache=True)
def _participation(s, pop, ties, prm, week, wkey):
    """Readiness (Granovetter threshold on the share of active ties) and volunteering."""
    st_off, ready, ready_new, volunteer = pop.st_off, pop.ready, pop.ready_new, pop.volunteer
    tie_j, deg, last_active, order = ties.j, ties.deg, pop.last_active, pop.order
    lo = st_off[s]
    hi = st_off[s + 1]
    # First, in a loop without branches (aware or not, volunteering or not are coin tosses to the processor):
    # volunteering, the readiness of everyone whose ties do not matter (children, the unaware and those without
    # ties), and the list of the others. Volunteering reads nobody else's state, so its order does not matter.
    m = lo
    for i in range(lo, hi):
        teen = pop.age[i] >= 14
        aware = teen & (pop.aware[i] == 1)
        ready_new[i] = aware & (_own_signal(i, pop, prm, week) >= pop.threshold[i])
        order[m] = i
        m += aware & (deg[i] > 0)
        u = uniform(wkey, i, 1)
        rate = prm.volunteer_start_mig if pop.mig[i] == 1 else prm.volunteer_start_no
        rate *= prm.volunteer_participation_rr if week - last_active[i] < ACTIVE_WEEKS else 1.0
        vol = (u >= prm.volunteer_quit) if volunteer[i] == 1 else (u < rate)
        volunteer[i] = vol if teen else volunteer[i]
    # then the share of active ties of those who have ties
    for k in range(lo, m):
        i = order[k]
        signal = _own_signal(i, pop, prm, week)
        d = deg[i]
        n_active = 0
        for a in range(d):
            if week - last_active[tie_j[i, a]] < ACTIVE_WEEKS:
                n_active += 1
        signal += prm.peer_influence * n_active / d
        ready_new[i] = 1 if signal >= pop.threshold[i] else 0
    _commit(s, st_off, ready_new, ready)


@njit(cache=True, inline="always")
def _open_place(s, pl_off, n_regular, cap, regular_only, u):
    """A random open place of Stadtteil s (only regular places if ``regular_only``), or -1.

    It takes the places' arrays, not the Venues bundle (see :func:`_traits`).
    """
    p0 = pl_off[s]
    p1 = p0 + n_regular[s] if regular_only else pl_off[s + 1]
    n_open = 0
    for p in range(p0, p1):
        if cap[p] > 0:
            n_open += 1
    if n_open == 0:
        return -1
    pick = int(u * n_open)
    for p in range(p0, p1):
        if cap[p] > 0:
            if pick == 0:
                return p
            pick -= 1
    return -1


@njit(cache=True, inline="always")
def _active_slot(g0, max_init, active, pick):
    """The ``pick``-th active slot among ``g0 .. g0 + max_init - 1``."""
    for k in range(max_init):
        if active[g0 + k] == 1:
            if pick == 0:
                return g0 + k
            pick -= 1
    return -1


@njit(cache=True, inline="always")
def _engaged(member_of, age, volunteer, last_active, week):
    """May found or join an initiative: 14+, volunteering, active in the last year, in no initiative."""
    return member_of < 0 and age >= 14 and volunteer == 1 and week - last_active < ACTIVE_WEEKS


@njit(cache=True, inline="always")
def _hazard(g, w, inits, prm, supported):
    """Weekly drop-out hazard of the active initiative in slot g (``w``: persons per member agent)."""
    hazard = prm.dropout_base * inits.rr[g]
    if inits.champion[g] < 0:
        hazard *= prm.champion_loss_rr
    if inits.host[g] >= 0:
        hazard *= 1.0 - prm.host_effect
    if supported:
        hazard *= 1.0 - prm.support_effect
    if inits.diverse[g] == 1:
        hazard *= 1.0 - prm.diverse_effect
    if inits.members[g] * w < prm.min_members:
        hazard *= prm.small_rr
    return hazard


@njit(cache=True)
def dropout_hazards(pop, inits, prm, week, out):
    """The weekly drop-out hazard of every active initiative (0 for empty slots) into ``out``."""
    for g in range(inits.active.shape[0]):
        out[g] = 0.0
        if inits.active[g] == 1:
            w = pop.weight_s[g // inits.max_init]
            out[g] = _hazard(g, w, inits, prm, week - inits.advised[g] < prm.support_weeks)


@njit(cache=True, inline="always")
def _no_initiative_flows(s, inits, top):
    """Clear Stadtteil s's foundings and drop-outs of the week: its counts, and the flags of its first ``top`` slots.

    The slots above ``top`` hold no flags (see :func:`_initiatives`).
    """
    inits.n_found[s] = 0
    inits.n_drop[s] = 0
    for g in range(s * inits.max_init, s * inits.max_init + top):
        inits.founded[g] = 0
        inits.dropped[g] = 0


@njit(cache=True)
def _initiatives(s0, s1, pop, inits, venues, eff, prm, week, wkey, live):
    """Hosts, advice sessions, network meetings, champions, drop-outs, members joining and foundings.

    For the Stadtteile ``s0 <= s < s1`` with ``live[s] != 0``, in one call (see :func:`_visits`).
    """
    st_off, member_of = pop.st_off, pop.member_of
    max_init = inits.max_init
    active, members, founded, dropped = inits.active, inits.members, inits.founded, inits.dropped
    champion, host, advised = inits.champion, inits.host, inits.advised
    pl_off, n_regular, cap = venues.pl_off, venues.n_regular, venues.cap
    n_st = st_off.shape[0] - 1
    n_res = st_off[n_st]
    for s in range(s0, s1):
        if live[s] == 0:
            continue
        lo = st_off[s]
        hi = st_off[s + 1]
        n = hi - lo
        g0 = s * max_init
        cs = n_res + s  # counter of the Stadtteil's own draws
        # the slots in use lie below ``top``: above it no slot is active or flagged (nor has members), so the loops
        # over slots stop there (a Stadtteil of a small run uses a few of its max_init slots)
        top = max_init
        while top > 0 and (active[g0 + top - 1] | dropped[g0 + top - 1] | founded[g0 + top - 1]) == 0:
            top -= 1
        _no_initiative_flows(s, inits, top)
        if n == 0:
            continue
        w = pop.weight_s[s]
        n_active = 0
        for k in range(top):
            n_active += active[g0 + k]
        # (1) a host that closed: under a meeting-place takeover a regular place takes the initiative in
        for k in range(top):
            g = g0 + k
            if active[g] == 1 and host[g] >= 0 and venues.cap[host[g]] == 0:
                host[g] = -1
                if eff.rehost[s] > 0.0:
                    host[g] = _open_place(s, pl_off, n_regular, cap, True, uniform(wkey, n_res + n_st + g, 5))
        # (2) advice sessions: with an initiative (support), or with residents planning one (a founding). Draws of
        # the Stadtteil's counter: 0 foundings, 5 and 6 rounding, sessions from 1,000, meetings from 500,000,
        # founders from 1,000,000 (at most 100,000 sessions and meetings a week, far above any staffing)
        n_sessions = min(int(eff.advice_sessions[s] + uniform(wkey, cs, 5)), MAX_SESSIONS)
        advised_foundings = 0
        for k in range(n_sessions):
            if uniform(wkey, cs, 1000 + 3 * k) < prm.advice_initiative_share:
                if n_active > 0:
                    g = _active_slot(g0, max_init, active, int(uniform(wkey, cs, 1001 + 3 * k) * n_active))
                    advised[g] = week
            elif uniform(wkey, cs, 1002 + 3 * k) < prm.advice_founding_prob:
                advised_foundings += 1
        # (3) network meetings: an initiative without a host may find one among the open places
        n_meetings = min(int(eff.network_meetings[s] + uniform(wkey, cs, 6)), MAX_SESSIONS)
        if n_active > 0:
            for k in range(n_meetings):
                g = _active_slot(g0, max_init, active, int(uniform(wkey, cs, 500_000 + 3 * k) * n_active))
                if host[g] < 0 and uniform(wkey, cs, 500_001 + 3 * k) < prm.network_host_prob:
                    host[g] = _open_place(s, pl_off, n_regular, cap, False, uniform(wkey, cs, 500_002 + 3 * k))
        # (4) champions, hosts found by the initiative itself, and drop-outs
        for k in range(top):
            g = g0 + k
            if active[g] == 0:
                continue
            c = n_res + n_st + g
            inits.weeks[g] += 1
            supported = week - advised[g] < prm.support_weeks
            if champion[g] >= 0 and uniform(wkey, c, 1) < prm.champion_quit_rate:
                champion[g] = -1
            if champion[g] < 0 and members[g] > 0:
                rate = prm.champion_succession_rate * (prm.advice_succession_rr if supported else 1.0)
                if uniform(wkey, c, 2) < rate:
                    pick = int(uniform(wkey, c, 4) * members[g])
                    for i in range(lo, hi):
                        if member_of[i] == g:
                            if pick == 0:
                                champion[g] = i
                                break
                            pick -= 1
            if host[g] < 0 and uniform(wkey, c, 3) < prm.host_find_rate:
                host[g] = _open_place(s, pl_off, n_regular, cap, False, uniform(wkey, c, 6))
            if event(uniform(wkey, c, 0), _hazard(g, w, inits, prm, supported)):
                active[g] = 0
                dropped[g] = 1
                champion[g] = -1
                host[g] = -1
                inits.n_drop[s] += 1
        n_active -= inits.n_drop[s]
        # (5) membership: release members of dropped initiatives, members leave, engaged residents join (the more
        # initiatives per 1,000 residents, the more chances to join one)
        for k in range(top):
            members[g0 + k] = 0
        engaged = 0
        join = prm.join_rate * n_active * 1000.0 / (n * w)
        for i in range(lo, hi):
            m = member_of[i]
            if m >= 0 and dropped[m] == 1:
                member_of[i] = -1
                m = -1
            elif m >= 0 and uniform(wkey, i, 2) < prm.member_quit:
                member_of[i] = -1
                if champion[m] == i:
                    champion[m] = -1
                m = -1
            if m < 0 and _engaged(member_of[i], pop.age[i], pop.volunteer[i], pop.last_active[i], week):
                engaged += 1
                if n_active > 0 and uniform(wkey, i, 0) < join:
                    m = _active_slot(g0, max_init, active, int(uniform(wkey, i, 1) * n_active))
                    member_of[i] = m
            if m >= 0:
                members[m] += 1
                pop.aware[i] = 1
        # (6) foundings: the no-programme rate per engaged person, plus advised founding groups; during the
        # spin-up each drop-out is replaced instead, so the number of initiatives stays at its input density
        if prm.replace_dropouts == 1:
            n_new = inits.n_drop[s]
        else:
            lam = prm.founding_s[s] * engaged * w
            n_new = advised_foundings
            if lam > 0.0:
                u = uniform(wkey, cs, 0)
                p = math.exp(-lam)
                cdf = p
                n_poisson = 0
                while u > cdf and n_poisson < 4:
                    n_poisson += 1
                    p *= lam / n_poisson
                    cdf += p
                n_new += n_poisson
        for f in range(min(n_new, max_init)):
            if engaged == 0:
                break
            slot = -1
            for k in range(max_init):
                if active[g0 + k] == 0 and dropped[g0 + k] == 0 and founded[g0 + k] == 0:
                    slot = g0 + k
                    break
            if slot < 0:
                break
            start = int(uniform(wkey, cs, 1_000_000 + f) * n)
            founder = -1
            for t in range(n):
                i = lo + (start + t) % n
                if _engaged(member_of[i], pop.age[i], pop.volunteer[i], pop.last_active[i], week):
                    founder = i
                    break
            if founder < 0:
                break
            engaged -= 1
            member_of[founder] = slot
            pop.aware[founder] = 1
            active[slot] = 1
            members[slot] = 1
            inits.weeks[slot] = 0
            inits.rr[slot] = 1.0
            champion[slot] = founder
            host[slot] = -1
            advised[slot] = NEVER
            inits.diverse[slot] = 1 if uniform(wkey, cs, 1_100_000 + f) < prm.diverse_share else 0
            founded[slot] = 1
            inits.n_found[s] += 1


# ----------------------------------------------------------------------------------------------------------
# phase kernels: one phase over all Stadtteile
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def demography_step(pop, ties, venues, inits, demog, tp, lp, week, wkey):
    """Ageing and moving: birthdays, and residents leaving, each replaced by a newcomer in the same slot.

    On its birthday week a resident turns a year older, and its low income, health, stille status and
    threshold follow the Stadtteil's profile for the new age (:func:`set_traits`). Each week a resident
    leaves (moves away or dies) with the chance ``demog.exit_prob[s, age]``; its ties end, it leaves its
    initiative (which loses its champion if it was the champion) and a newcomer takes its place: its age
    drawn from the distribution of those who arrive (births and movers), its traits from the Stadtteil's
    profile, unaware of local offers, not mobilised, without local ties; lonely with the chance its risk
    factors give with a network elsewhere. Returns the number of residents who left.
    """
    n_st = pop.st_off.shape[0] - 1
    moved = np.zeros((n_st, 1), dtype=np.int64)
    _demography(0, n_st, pop, ties, venues, inits, demog, tp, lp, week, wkey, np.ones(n_st, dtype=np.uint8), moved, 0)
    return moved[:, 0].copy()


@njit(cache=True)
def awareness_step(pop, ties, eff, prm, week, wkey):
    """Outreach contacts with named residents, then learning and forgetting of local offers.

    Outreach: each resident aged 14+ is contacted with chance ``eff.contacts[s] * t_i / T``, where ``t_i`` is
    ``outreach_stille_weight`` for the stille Gruppen and 1 otherwise and ``T`` their sum over the Stadtteil, so the
    expected number of contacts is what the hours pay for; a contacted resident who does not know the local offers
    learns of them with chance ``outreach_aware_prob``, and counts as invited for ``invite_weeks``. Otherwise an
    unaware resident becomes aware with chance ``1 - (1 - r*base)(1 - r*wom*f)``, where ``f`` is the share of its
    ties that are aware and ``r`` is ``stille_factor`` for stille Gruppen (1 else); an aware resident who attended
    no venue last week and was not contacted forgets with chance ``forget_rate``. Reads and writes ``pop.aware``.
    Knowing the roles' work (``pop.knows_role``): a contacted resident knows it (so does one at a role activity,
    section visits); where a role has worked (``eff.programme``) others hear of it with chance
    ``programme_word_of_mouth`` times the share of their ties who know it; newcomers do not know it. Returns the
    number of agents contacted, per Stadtteil.
    """
    n_st = pop.st_off.shape[0] - 1
    contacted = np.zeros((n_st, 1), dtype=np.int64)
    _awareness_block(0, n_st, pop, ties, eff, prm, week, wkey, np.ones(n_st, dtype=np.uint8), contacted, 0)
    return contacted[:, 0].copy()


@njit(cache=True)
def visit_step(pop, venues, inits, eff, prm, week, wkey):
    """Weekly venue: a role's event or health offer, an initiative meeting, a meeting-place visit, or none.

    Role activities: a resident attends an event with chance ``eff.attendance[s] * w_i / W`` (``w_i`` is 0 for
    residents who do not know local offers, 1 when mobilised, ``event_unready_factor`` otherwise, times
    ``regular_factor`` within ``regular_weeks`` of its last role activity, ``invite_factor`` when contacted within
    ``invite_weeks``, and the lonely and child factors; ``W`` the Stadtteil's sum), or a health offer with chance
    ``eff.health_reach[s] * h_i / H`` (adults, ``health_targeting`` in poor health). Then members attend their
    initiative's meeting with chance ``meeting_prob``, and aware residents visit their home place with chance
    ``visit_base`` (times ``unready_factor`` when not mobilised, and the barrier, lonely and child factors), within
    its capacity, taken in a rotating order that starts at a random resident each week. Any of these is taking part
    in an activity (``last_active``). Writes ``pop.venue`` and counts place visits in ``pop.visit_count``. Returns
    the number of agents at role activities, per Stadtteil.
    """
    n_st = pop.st_off.shape[0] - 1
    attended = np.zeros((n_st, 1), dtype=np.int64)
    _visits(0, n_st, pop, venues, inits, eff, prm, week, wkey, np.ones(n_st, dtype=np.uint8), attended, 0)
    return attended[:, 0].copy()


@njit(cache=True)
def encounter_step(pop, ties, venues, inits, prm, wkey):
    """Encounters at venues and in the street; ties form by proximity and similarity.

    Attendees of one venue (a meeting place, an initiative meeting or the Stadtteil's role activities) are
    grouped by a counting sort. Then, resident by resident, each attendee meets ``per_visit`` random fellow
    attendees, and each resident has a chance encounter with a random resident of its Stadtteil with chance
    ``neighbour_rate``. An encounter refreshes an existing tie to full strength, or forms a new one with chance
    ``p_form * similarity`` if both have a free slot; across migration background the similarity is
    ``bridging`` times lower, at role activities ``event_bridging`` times. Returns the number of ties formed.
    """
    n_st = pop.st_off.shape[0] - 1
    return _encounters(0, n_st, pop, ties, venues, inits, prm, wkey, np.ones(n_st, dtype=np.uint8))


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
def loneliness_step(pop, ties, prm, week, wkey):
    """Loneliness as an SIS process with spontaneous onset, contagion through ties and recovery through ties.

    Onset rate ``onset_base * rr_health[h] * RR(migration) * RR(low income) * RR(65+) * RR(isolated) *
    (1 - health_effect) [within health_weeks of a health offer] * (1 + contagion * L)``, with ``L`` the summed
    strength of lonely ties and "isolated" meaning less than 2 in summed tie strength. Recovery rate
    ``recovery_base + recovery_per_tie * N`` with ``N`` the summed strength of non-lonely ties. A rate r becomes
    the weekly chance ``1 - exp(-r)``. Reads and writes ``pop.lonely``.
    """
    for s in range(pop.st_off.shape[0] - 1):
        _loneliness(s, pop, ties, prm, week, wkey)


@njit(cache=True)
def participation_step(pop, ties, prm, week, wkey):
    """Readiness to take part (Granovetter) and volunteering, for residents aged 14 and over.

    A resident who knows local offers is mobilised (``ready``) when its signal reaches its threshold:
    ``peer_influence`` times the share of its ties who took part in an activity within the last year, plus
    ``member_activation`` for initiative members, plus ``invite_activation`` within ``invite_weeks`` of an outreach
    contact. Nothing is added to everybody: the signal rises only where people around the resident attend. A
    volunteer stops with chance ``volunteer_quit``; others start with their group's start rate, times
    ``volunteer_participation_rr`` when they took part in an activity within the last year. Reads and writes
    ``pop.ready``; ``pop.volunteer`` is updated in place (it reads nobody else's).
    """
    for s in range(pop.st_off.shape[0] - 1):
        _participation(s, pop, ties, prm, week, wkey)


@njit(cache=True)
def initiative_step(pop, inits, venues, eff, prm, week, wkey):
    """Initiatives: hosts, support, champions, drop-outs, members joining and foundings.

    Per Stadtteil: (1) an initiative whose host place closed loses it, or moves to an open regular place where
    meeting places take over (``eff.rehost``). (2) ``eff.advice_sessions`` sessions (stochastically rounded): a
    share ``advice_initiative_share`` goes to random active initiatives (supported for ``support_weeks``), the rest
    to residents planning one, founding it with chance ``advice_founding_prob``. (3) ``eff.network_meetings``
    meetings: a random active initiative without a host finds one with chance ``network_host_prob``. (4) Each active
    initiative: its champion stops with chance ``champion_quit_rate``; without a champion a member takes over with
    chance ``champion_succession_rate`` (times ``advice_succession_rr`` while supported); without a host it finds
    one itself with chance ``host_find_rate``; it drops out with hazard
    ``dropout_base * rr[slot]`` (a grant) times ``champion_loss_rr`` without a champion, ``1 - host_effect`` with a
    host, ``1 - support_effect`` while supported, ``1 - diverse_effect`` with diverse funding, and ``small_rr``
    below ``min_members`` persons. (5) Members of dropped initiatives are released; engaged residents (14+,
    volunteering, active in the last year, no member) join a random active initiative with chance ``join_prob``. (6)
    Foundings: a Poisson number (at most 4) with mean ``founding_s[s] * engaged persons``, plus the advised
    foundings; during the spin-up (``replace_dropouts``) exactly one per drop-out. A founder is a random engaged
    resident, and its champion.
    """
    n_st = pop.st_off.shape[0] - 1
    _initiatives(0, n_st, pop, inits, venues, eff, prm, week, wkey, np.ones(n_st, dtype=np.uint8))


# ----------------------------------------------------------------------------------------------------------
# the whole week, block of Stadtteile by block
# ----------------------------------------------------------------------------------------------------------


@njit(cache=True)
def _idle(s, inits, counts):
    """A Stadtteil no longer simulated: no flows this week (no one left, contacted, founded or dropped out)."""
    for k in range(counts.shape[1]):
        counts[s, k] = 0
    _no_initiative_flows(s, inits, inits.max_init)


#: the most residents a block of Stadtteile holds in :func:`week_step` (a larger Stadtteil makes a block alone)
BLOCK_RESIDENTS = 8192  # about 1.5 MB of state, within the 32 MB level-3 cache (a core's level-2 cache here
#                          holds 1 MB; blocks of 1,024 to 20,000 ran as fast: benchmarks/README.md, section 13)


def stadtteil_blocks(st_off: np.ndarray, max_residents: int = BLOCK_RESIDENTS) -> np.ndarray:
    """Consecutive Stadtteile in blocks of at most ``max_residents`` residents.

    Block b is Stadtteile ``blocks[b] <= s < blocks[b + 1]``; a Stadtteil with more residents makes a block of its
    own.
    """
    bounds = [0]
    size = 0
    for s in range(len(st_off) - 1):
        n = int(st_off[s + 1] - st_off[s])
        if s > bounds[-1] and size + n > max_residents:
            bounds.append(s)
            size = 0
        size += n
    bounds.append(len(st_off) - 1)
    return np.array(bounds, dtype=np.int64)


@njit(cache=True, parallel=True)
def week_step(pop, ties, venues, inits, eff, demog, p_tr, p_aw, p_vi, p_en, p_ti, p_lo, p_pa, p_in, week, wkeys,
              counts, live, blocks):
    """All resident-level phases of one week, block of Stadtteile by block (blocks in parallel).

    Equivalent to calling, in order, ``demography_step``, ``awareness_step``, ``visit_step``,
    ``encounter_step``, ``tie_step``, ``loneliness_step``, ``participation_step`` and ``initiative_step``;
    ``p_tr`` ... ``p_in`` are their parameter bundles (the fields of :class:`~.state.WeekPrm`, passed one by one
    because numba's parallel loops take no nested tuples) and ``wkeys`` the eight phases' week keys in that
    order. ``counts[s]`` receives the Stadtteil's residents who left, outreach contacts and attendances at role
    activities (in agents). A Stadtteil with ``live[s] == 0`` is left as it is (a run that no longer needs it,
    :meth:`quartiersim.model.QuarterModel.stop_after`); the others get the same numbers either way.

    ``blocks`` (:func:`stadtteil_blocks`) groups consecutive Stadtteile: each block takes all its Stadtteile
    through one phase before the next phase. A block's state fits the processor's caches, so it comes from memory
    once a week, and each phase's code and branch history stay warm across a block's Stadtteile, which matters
    where Stadtteile are small (a calibration's city at scale 0.03 has about 120 agents a Stadtteil). Stadtteile
    are independent within a week, so any grouping gives the same arrays.
    """
    for b in prange(blocks.shape[0] - 1):
        s0 = blocks[b]
        s1 = blocks[b + 1]
        _demography(s0, s1, pop, ties, venues, inits, demog, p_tr, p_lo, week, wkeys[0], live, counts, 0)
        _awareness_block(s0, s1, pop, ties, eff, p_aw, week, wkeys[1], live, counts, 1)
        _visits(s0, s1, pop, venues, inits, eff, p_vi, week, wkeys[2], live, counts, 2)
        _encounters(s0, s1, pop, ties, venues, inits, p_en, wkeys[3], live)
        for s in range(s0, s1):
            if live[s] != 0:
                _ties(s, pop, ties, p_ti, wkeys[4])
        for s in range(s0, s1):
            if live[s] != 0:
                _loneliness(s, pop, ties, p_lo, week, wkeys[5])
        for s in range(s0, s1):
            if live[s] != 0:
                _participation(s, pop, ties, p_pa, week, wkeys[6])
        _initiatives(s0, s1, pop, inits, venues, eff, p_in, week, wkeys[7], live)


# ----------------------------------------------------------------------------------------------------------
# reporting
# ----------------------------------------------------------------------------------------------------------

N_GROUPS = 9  # all, migration, no_migration, low_income, poor_health, stille_gruppe, age_65plus,
#              health_very_good, health_very_poor
N_QUANTITIES = 14
_N_COMBOS = 80  # 4 binary traits x 5 health levels


@njit(cache=True)
def group_stats(pop, ties, access_s, week, out):
    """Sum person-weighted quantities per Stadtteil and group into ``out[s, g, q]`` (overwritten).

    Groups: 0 all, 1 migration, 2 no_migration, 3 low_income, 4 poor_health (poor or very poor), 5 stille Gruppen, 6
    aged 65+, 7 very good health, 8 very poor health. Quantities: 0 persons, 1 adults (18+), 2 lonely adults, 3
    ties, 4 bridging ties (across migration background), 5 visits since the last report, 6 persons 14+, 7 persons
    14+ who took part in an activity in the quarter in the 52 weeks up to ``week``, 8 volunteering 14+, 9 covered by
    an accessible offer they know of, 10 aware of local offers, 11 persons 14+ reached by a role (contacted or at a
    role activity) in those 52 weeks, 12 persons 14+ at a role activity in those 52 weeks, 13 persons 14+ who know
    the roles' work. ``access_s[s, c]`` says whether the Stadtteil has an open place that is (c & 1) barrier-free
    and (c & 2) low-threshold as needed.

    Every agent of a Stadtteil has the same weight, so the counts are summed exactly per combination of the group
    traits (80 combinations: migration, low income, stille, 65+ and the five health levels) and multiplied by the
    weight once: the result does not depend on the order of summation.
    """
    st_off, age, mig, inc, health, stille = pop.st_off, pop.age, pop.mig, pop.inc, pop.health, pop.stille
    deg, tie_j = ties.deg, ties.j
    k_max = tie_j.shape[1]
    n_st = st_off.shape[0] - 1
    acc = np.zeros((_N_COMBOS, N_QUANTITIES), dtype=np.int64)
    total = np.zeros(N_QUANTITIES, dtype=np.int64)
    in_group = np.zeros((N_GROUPS, _N_COMBOS), dtype=np.bool_)
    for g in range(N_GROUPS):
        for c in range(_N_COMBOS):
            in_group[g, c] = _in_group(c, g)
    for s in range(n_st):
        acc[:, :] = 0
        for i in range(st_off[s], st_off[s + 1]):
            # the first 8 slots (most rows) or the whole row, free slots (-1) masked: the loop does not end at
            # the degree, a coin toss to the processor
            n_slots = k_max
            if deg[i] <= 8 and k_max >= 8:
                n_slots = 8
            bridging = 0
            for a in range(n_slots):
                j = tie_j[i, a]
                bridging += (mig[max(j, 0)] != mig[i]) & (j >= 0)
            poor = health[i] >= 3
            c = mig[i] | (inc[i] << 1) | (stille[i] << 2) | ((age[i] >= 65) << 3) | (np.int64(health[i]) << 4)
            adult = age[i] >= 18
            teen = age[i] >= 14
            role = week - pop.last_role[i] < ACTIVE_WEEKS
            # & and | rather than "and" and "or": the conditions are coin tosses, so no branches
            aware = pop.aware[i] == 1
            acc[c, 0] += 1
            acc[c, 1] += adult
            acc[c, 2] += adult & (pop.lonely[i] == 1)
            acc[c, 3] += deg[i]
            acc[c, 4] += bridging
            acc[c, 5] += pop.visit_count[i]
            acc[c, 6] += teen
            acc[c, 7] += teen & (week - pop.last_active[i] < ACTIVE_WEEKS)
            acc[c, 8] += teen & (pop.volunteer[i] == 1)
            acc[c, 9] += aware & (access_s[s, poor + 2 * stille[i]] == 1)
            acc[c, 10] += aware
            acc[c, 11] += teen & (role | (week - pop.last_contact[i] < ACTIVE_WEEKS))
            acc[c, 12] += teen & role
            acc[c, 13] += teen & (pop.knows_role[i] == 1)
        w = pop.weight_s[s]
        for g in range(N_GROUPS):
            total[:] = 0
            for c in range(_N_COMBOS):
                if in_group[g, c]:
                    for k in range(N_QUANTITIES):
                        total[k] += acc[c, k]
            for k in range(N_QUANTITIES):
                out[s, g, k] = w * total[k]


@njit(cache=True, inline="always")
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


# numba ties a cached kernel to this file alone: drop the cached kernels when the draws (random.py), the
# constants (state.py) they compile in or the way they are compiled (codegen.py) have changed, so that they are
# compiled anew (see .cache)
drop_if_changed(week_step, "core", [Path(__file__).with_name(name) for name in ("random.py", "state.py",
                                                                             "codegen.py")])
