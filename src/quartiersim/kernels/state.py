"""The bundles the kernels read and write: named tuples of arrays (state) and of scalars (parameters).

A kernel's signature names the bundles it touches (``tie_step(pop, ties, prm, wkey)``), so it says what it
reads and writes without fifty positional arrays. numba compiles named tuples into plain structs of their
fields, so a field access costs nothing at run time; the arrays inside are shared with the model, which builds
each bundle once and keeps updating the same arrays. A call does cost something: where numba cannot prune them,
a function takes a reference to each array of the bundles it is given and drops it on return, and an inlined
helper does so at every call. So the kernels call their larger functions once a block of Stadtteile, and
per-resident helpers take numbers or single arrays (``benchmarks/README.md``, section 11).

State bundles:

* :class:`Pop`: the residents, grouped by Stadtteil (``st_off``), with their traits and weekly state;
* :class:`Ties`: the tie rows (neighbour, strength, slot in the neighbour's row) and each row's degree;
* :class:`Venues`: meeting places per Stadtteil (``pl_off``) with capacity and accessibility, and the scratch
  space for grouping a week's attendees by venue;
* :class:`Inits`: the initiative slots (``max_init`` per Stadtteil) and their weekly bookkeeping;
* :class:`Effects`: what the municipal roles produce in each Stadtteil this week;
* :class:`Demog`: per-Stadtteil tables for ageing, moving and newcomers.

Parameter bundles hold one phase's scalars each (:class:`TraitPrm` for the demography, :class:`AwarenessPrm`
... :class:`InitiativePrm`), and :class:`WeekPrm` all of them for :func:`~quartiersim.kernels.core.week_step`.

Synchronous updates (awareness, loneliness, readiness) compute the new state into ``*_new`` arrays while
every resident still reads the old one, and copy it back for a Stadtteil once all its residents are done.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

NEVER = -1_000_000  # the week of an event that has not happened (last activity, contact, ...)


class Pop(NamedTuple):
    """The residents: per-resident arrays grouped by Stadtteil, and the persons each agent stands for.

    Traits that follow from age or residence (low income, health, stille Gruppen, threshold) are functions of
    fixed latent quantiles (``u_*``), so they change with age the way the Stadtteil's profile says and the
    population stays stationary as residents age, move out and are replaced.
    """

    st_off: np.ndarray  # int64 (n_st + 1): residents of Stadtteil s are st_off[s] <= i < st_off[s + 1]
    weight_s: np.ndarray  # float64 (n_st): persons per agent
    age: np.ndarray  # uint8, 0..100
    birthday: np.ndarray  # uint8: week of the year (0..51) in which age rises by one
    arrived: np.ndarray  # int32: week the resident came to the Stadtteil (born or moved in)
    mig: np.ndarray  # uint8: migration background
    inc: np.ndarray  # uint8: low income
    health: np.ndarray  # uint8: 0 very good .. 4 very poor
    stille: np.ndarray  # uint8: member of the stille Gruppen
    threshold: np.ndarray  # float32: participation threshold (Granovetter)
    u_income: np.ndarray  # float32: latent quantile of income
    u_health: np.ndarray  # float32: latent quantile of health (low = worse)
    u_stille: np.ndarray  # float32: latent quantile of being hard to reach
    u_threshold: np.ndarray  # float32: latent quantile of the threshold
    aware: np.ndarray  # uint8: knows local offers
    aware_new: np.ndarray  # uint8: scratch for the synchronous update
    lonely: np.ndarray  # uint8
    lonely_new: np.ndarray  # uint8: scratch
    ready: np.ndarray  # uint8: mobilised to take part (signal at or above threshold)
    ready_new: np.ndarray  # uint8: scratch
    volunteer: np.ndarray  # uint8
    member_of: np.ndarray  # int32: initiative slot or -1
    home_place: np.ndarray  # int32: a regular meeting place of the Stadtteil, or -1
    venue: np.ndarray  # int32: venue attended this week or -1
    visit_count: np.ndarray  # uint16: meeting-place visits since the last report
    last_active: np.ndarray  # int32: last week the resident took part in an activity in the quarter
    last_contact: np.ndarray  # int32: last week an outreach worker spoke with the resident
    last_role: np.ndarray  # int32: last week the resident attended a role's event or health offer
    last_health: np.ndarray  # int32: last week the resident attended a health offer
    knows_role: np.ndarray  # uint8: knows the municipal roles' work (contacted, at their activities, or told)
    knows_new: np.ndarray  # uint8: scratch
    order: np.ndarray  # int32: scratch (a list of the residents a phase has to visit)


class Ties(NamedTuple):
    """Tie rows: the ties of ``i`` fill slots ``0 .. deg[i] - 1`` of row ``i``."""

    j: np.ndarray  # int32 (n, k): neighbour or -1
    w: np.ndarray  # float32 (n, k): strength in (0, 1]
    slot: np.ndarray  # int8 (n, k): slot of i in the neighbour's row
    deg: np.ndarray  # int16 (n)


class Venues(NamedTuple):
    """Meeting places (grouped by Stadtteil) and scratch space for grouping attendees by venue.

    The places of Stadtteil s are ``pl_off[s] .. pl_off[s + 1] - 1``; the first ``n_regular[s]`` of them are the
    regular places residents visit (their home places), the rest are Quartierstreffs of roles, which host role
    activities and initiatives while open. Venue ids: place indices ``0 .. n_places - 1``, ``n_places + slot``
    for an initiative's meeting, and ``n_places + n_slots + s`` for the role activities in Stadtteil s.
    """

    pl_off: np.ndarray  # int64 (n_st + 1)
    n_regular: np.ndarray  # int64 (n_st)
    n_places: int
    cap: np.ndarray  # int32: weekly capacity in agents (0: closed)
    barrier_free: np.ndarray  # uint8
    low_threshold: np.ndarray  # uint8
    used: np.ndarray  # int32: visits this week
    v_count: np.ndarray  # int32 (n_venues): scratch
    v_start: np.ndarray  # int64 (n_venues): scratch
    v_members: np.ndarray  # int32 (n): scratch


class Inits(NamedTuple):
    """Initiative slots: ``max_init`` per Stadtteil, slot ``g`` belongs to Stadtteil ``g // max_init``."""

    max_init: int
    active: np.ndarray  # uint8
    members: np.ndarray  # int32: member agents
    weeks: np.ndarray  # int32: weeks since founding
    rr: np.ndarray  # float64: drop-out hazard multiplier of a grant (quartiersim.funding writes it)
    champion: np.ndarray  # int32: the key member (resident) or -1
    host: np.ndarray  # int32: the meeting place hosting it or -1
    advised: np.ndarray  # int32: last week of an advice session with a role
    diverse: np.ndarray  # uint8: funded from more than one source
    founded: np.ndarray  # uint8: founded this week
    dropped: np.ndarray  # uint8: dropped out this week
    n_found: np.ndarray  # int64 (n_st): foundings this week
    n_drop: np.ndarray  # int64 (n_st): drop-outs this week


class Effects(NamedTuple):
    """What the municipal roles produce in each Stadtteil this week (float64 arrays of length n_st).

    Person counts are in agents (persons divided by the Stadtteil's weight) and may be fractional: each
    resident's chance is its share of them. Sessions and meetings concern initiatives, which the model counts
    in full (not thinned by the scale), so they are real counts.
    """

    contacts: np.ndarray  # outreach contacts with residents (agents)
    attendance: np.ndarray  # attendances at role events (agents)
    health_reach: np.ndarray  # residents starting a health offer (agents)
    advice_sessions: np.ndarray  # advice sessions with initiatives and founding groups
    network_meetings: np.ndarray  # network meetings with initiatives and meeting places
    rehost: np.ndarray  # 1 where meeting places take over the hosting of a closing Quartierstreff
    programme: np.ndarray  # 1 where a role has worked (news of it spreads by word of mouth from then on)


class Demog(NamedTuple):
    """Per-Stadtteil tables for ageing, moving and drawing newcomers from the Stadtteil's profile."""

    exit_prob: np.ndarray  # float64 (n_st, 101): weekly chance of leaving (moving away or dying) at each age
    entry_cdf: np.ndarray  # float64 (n_st, 101): age distribution of newcomers (births and movers), cumulative
    stock: np.ndarray  # float64 (n_st, 101): the Stadtteil's age distribution
    stock_cdf: np.ndarray  # float64 (n_st, 101): the same, cumulative
    exit_year: np.ndarray  # float64 (n_st, 101): yearly chance of leaving at each age
    move_rate: np.ndarray  # float64 (n_st): yearly moving hazard (from the residence-under-5-years share)
    mig_share: np.ndarray  # float64 (n_st)
    low_share: np.ndarray  # float64 (n_st)
    bg_u25: np.ndarray  # float64 (n_st): Bürgergeld share under 25 (low income at least this under 25)
    lim_coef: np.ndarray  # float64 (n_st): health-limitation share over the mean of the age profile


class TraitPrm(NamedTuple):
    """How traits follow from latent quantiles, age and residence (population synthesis and newcomers)."""

    age_edges: np.ndarray  # int64: upper bounds of the health age profile's bands
    age_profile: np.ndarray  # float64: relative health limitation per band
    very_good: float
    poor: float
    very_poor: float
    stille_base: float
    stille_rr_recent_migrant: float
    stille_rr_low_income: float
    stille_rr_poor_health: float
    threshold_min: float
    stille_threshold_shift: float
    awareness_initial: float
    awareness_stille_factor: float
    participation_initial: float
    volunteer_no: float  # volunteering share aged 14+ without migration background
    volunteer_mig: float  # with migration background


class AwarenessPrm(NamedTuple):
    """Awareness of local offers and outreach contacts."""

    base_rate: float
    word_of_mouth: float
    stille_factor: float
    forget_rate: float
    outreach_stille_weight: float
    outreach_aware_prob: float
    programme_word_of_mouth: float


class VisitPrm(NamedTuple):
    """Role activities, initiative meetings and meeting-place visits."""

    visit_base: float
    unready_factor: float
    health_barrier: float
    threshold_factor: float
    lonely_factor: float
    child_factor: float
    meeting_prob: float
    invite_weeks: int
    invite_factor: float
    event_unready_factor: float
    regular_weeks: int
    regular_factor: float
    health_targeting: float


class EncounterPrm(NamedTuple):
    """Encounters and tie formation."""

    per_visit: int
    p_form: float
    age_scale: float
    bridging: float
    income_factor: float
    neighbour_rate: float
    event_bridging: float
    age_similarity: np.ndarray  # float64 (101): the similarity's age factor by age gap (:func:`age_similarity`)


class TiePrm(NamedTuple):
    """Tie maintenance and decay."""

    contact_rate: float
    decay: float
    min_weight: float


class LonelinessPrm(NamedTuple):
    """Loneliness onset and recovery."""

    rr_health: np.ndarray  # float64 (5): onset RR per health level
    onset_base: float
    rr_migration: float
    rr_low_income: float
    rr_age_65plus: float
    rr_isolated: float
    contagion: float
    recovery_base: float
    recovery_per_tie: float
    health_effect: float
    health_weeks: int


class ParticipationPrm(NamedTuple):
    """Threshold participation (readiness) and volunteering."""

    peer_influence: float
    member_activation: float
    invite_activation: float
    invite_weeks: int
    volunteer_quit: float
    volunteer_start_no: float
    volunteer_start_mig: float
    volunteer_participation_rr: float


class InitiativePrm(NamedTuple):
    """Initiatives: drop-out hazard, champions, hosts, support, joining and foundings."""

    founding_s: np.ndarray  # float64 (n_st): weekly foundings per engaged person (no programme)
    replace_dropouts: int  # 1 during the spin-up: each drop-out is replaced by a founding
    dropout_base: float
    champion_loss_rr: float
    champion_quit_rate: float
    champion_succession_rate: float
    advice_succession_rr: float
    host_effect: float
    host_find_rate: float
    network_host_prob: float
    support_effect: float
    support_weeks: int
    advice_initiative_share: float
    advice_founding_prob: float
    diverse_share: float
    diverse_effect: float
    min_members: float
    small_rr: float
    join_rate: float
    member_quit: float


class WeekPrm(NamedTuple):
    """Every resident-level phase's parameters, for the whole week."""

    demography: TraitPrm
    awareness: AwarenessPrm
    visits: VisitPrm
    encounters: EncounterPrm
    ties: TiePrm
    loneliness: LonelinessPrm
    participation: ParticipationPrm
    initiatives: InitiativePrm


def age_similarity(age_scale: float, max_age: int = 100) -> np.ndarray:
    """The age factor of the similarity, ``exp(-gap / age_scale)``, for every gap of whole years 0 .. ``max_age``.

    The same numbers as the kernels' :func:`~quartiersim.kernels.core.similarity` computes for that gap (both use
    the C library's ``exp`` on the same argument), looked up instead of computed at each encounter.
    """
    return np.array([math.exp(-float(gap) / age_scale) for gap in range(max_age + 1)])
