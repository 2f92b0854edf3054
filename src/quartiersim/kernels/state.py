"""The bundles the kernels read and write: named tuples of arrays (state) and of scalars (parameters).

A kernel's signature names the bundles it touches (``_visits(s, pop, venues, eff, prm, wkey)``), so it says
what it reads and writes without fifty positional arrays. numba compiles named tuples into plain structs of
their fields, so a field access costs nothing at run time; the arrays inside are shared with the model, which
builds each bundle once and keeps updating the same arrays.

State bundles:

* :class:`Pop`: the residents, grouped by Stadtteil (``st_off``), with their traits and weekly state;
* :class:`Ties`: the tie rows (neighbour, strength, slot in the neighbour's row) and each row's degree;
* :class:`Venues`: meeting places per Stadtteil (``pl_off``) with capacity and accessibility, and the scratch
  space for grouping a week's attendees by venue;
* :class:`Inits`: the initiative slots (``max_init`` per Stadtteil) and their weekly bookkeeping;
* :class:`Effects`: what the municipal roles produce in each Stadtteil this week.

Parameter bundles hold one phase's scalars each (:class:`AwarenessPrm` ... :class:`InitiativePrm`), and
:class:`WeekPrm` all of them for :func:`~quartiersim.kernels.core.week_step`.

Synchronous updates (awareness, loneliness, participation) compute the new state into ``*_new`` arrays while
every resident still reads the old one, and copy it back for a Stadtteil once all its residents are done.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Pop(NamedTuple):
    """The residents: per-resident arrays grouped by Stadtteil, and the persons each agent stands for."""

    st_off: np.ndarray  # int64 (n_st + 1): residents of Stadtteil s are st_off[s] <= i < st_off[s + 1]
    weight_s: np.ndarray  # float64 (n_st): persons per agent
    age: np.ndarray  # uint8
    mig: np.ndarray  # uint8: migration background
    inc: np.ndarray  # uint8: low income
    health: np.ndarray  # uint8: 0 very good .. 4 very poor
    stille: np.ndarray  # uint8: member of the stille Gruppen
    threshold: np.ndarray  # float32: participation threshold
    aware: np.ndarray  # uint8: knows local offers
    aware_new: np.ndarray  # uint8: scratch for the synchronous update
    lonely: np.ndarray  # uint8
    lonely_new: np.ndarray  # uint8: scratch
    part: np.ndarray  # uint8: participating
    part_new: np.ndarray  # uint8: scratch
    volunteer: np.ndarray  # uint8
    member_of: np.ndarray  # int32: initiative slot or -1
    home_place: np.ndarray  # int32
    alt_place: np.ndarray  # int32: regular place used while the home place is closed
    venue: np.ndarray  # int32: venue attended this week or -1
    visit_count: np.ndarray  # uint16: visits since the last report


class Ties(NamedTuple):
    """Tie rows: the ties of ``i`` fill slots ``0 .. deg[i] - 1`` of row ``i``."""

    j: np.ndarray  # int32 (n, k): neighbour or -1
    w: np.ndarray  # float32 (n, k): strength in (0, 1]
    slot: np.ndarray  # int8 (n, k): slot of i in the neighbour's row
    deg: np.ndarray  # int16 (n)


class Venues(NamedTuple):
    """Meeting places (grouped by Stadtteil) and scratch space for grouping attendees by venue.

    Venue ids are place indices ``0 .. n_places - 1`` and ``n_places + slot`` for an initiative's meeting.
    """

    pl_off: np.ndarray  # int64 (n_st + 1)
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
    rr: np.ndarray  # float64: drop-out hazard multiplier (grants lower it)
    founded: np.ndarray  # uint8: founded this week
    dropped: np.ndarray  # uint8: dropped out this week
    n_found: np.ndarray  # int64 (n_st): foundings this week
    n_drop: np.ndarray  # int64 (n_st): drop-outs this week


class Effects(NamedTuple):
    """What the municipal roles produce in each Stadtteil this week (float64 arrays of length n_st)."""

    outreach: np.ndarray
    events: np.ndarray
    activation: np.ndarray
    bridging: np.ndarray
    health: np.ndarray
    advice: np.ndarray
    support: np.ndarray


class AwarenessPrm(NamedTuple):
    """Awareness of local offers."""

    base_rate: float
    word_of_mouth: float
    stille_factor: float
    forget_rate: float


class VisitPrm(NamedTuple):
    """Initiative meetings and meeting-place visits."""

    visit_base: float
    health_barrier: float
    threshold_factor: float
    lonely_factor: float
    child_factor: float
    meeting_prob: float


class EncounterPrm(NamedTuple):
    """Encounters and tie formation."""

    per_visit: int
    p_form: float
    age_scale: float
    bridging: float
    income_factor: float
    neighbour_rate: float


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
    rr_isolated: float
    contagion: float
    recovery_base: float
    recovery_per_tie: float


class ParticipationPrm(NamedTuple):
    """Threshold participation and volunteering."""

    member_activation: float
    quit_rate: float
    turnover: float
    spontaneous: float
    volunteer_quit: float
    volunteer_start_no: float
    volunteer_start_mig: float
    volunteer_participation_rr: float


class InitiativePrm(NamedTuple):
    """Initiative drop-outs, joining and foundings."""

    founding_rate: float
    advice_effect: float
    join_prob: float
    dropout_base: float
    support_effect: float
    support_half: float
    min_members: float
    small_rr: float


class WeekPrm(NamedTuple):
    """Every resident-level phase's parameters, for the whole week."""

    awareness: AwarenessPrm
    visits: VisitPrm
    encounters: EncounterPrm
    ties: TiePrm
    loneliness: LonelinessPrm
    participation: ParticipationPrm
    initiatives: InitiativePrm
