"""Typed parameter declarations: one per model parameter, with unit, bounds, default, meaning and source.

The same declarations feed scenario validation (unknown keys and out-of-range values are errors), the
command-line help (``quartiersim params``), sweep bounds and the parameter tables of ``docs/ODD.md``.
Rates are per week unless the unit says otherwise; the municipal roles act through countable outputs per staff
hour (contacts, attendances, sessions, meetings); relative risks (RR) multiply a base rate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from pydantic import ConfigDict, Field, ValidationError, create_model

from quartiersim.errors import InputError, InputErrors


@dataclass(frozen=True)
class Param:
    """One model parameter.

    Attributes:
        name: identifier used in scenario files, overrides and sweeps.
        default: value used when a scenario does not set it.
        unit: physical unit or "1" for dimensionless numbers.
        low: lowest allowed value (inclusive).
        high: highest allowed value (inclusive).
        meaning: one line for help texts and the ODD tables.
        source: where the default comes from (a study, the city's documents, or "assumption").
        group: the mechanism the parameter belongs to.
        integer: whether only whole numbers are allowed.

    """

    name: str
    default: float
    unit: str
    low: float
    high: float
    meaning: str
    source: str
    group: str
    integer: bool = False


_A = "assumption; not calibrated (no target informs it)"
P = Param
PARAMS: tuple[Param, ...] = (
    # --- population synthesis -------------------------------------------------------------------------------
    P("stille_base", 0.04, "1", 0, 1, "chance that a resident with no risk factor belongs to the stille Gruppen",
      _A, "population"),
    P("stille_rr_recent_migrant", 3.0, "RR", 1, 20,
      "stille-Gruppe risk of residents with migration background living there < 5 years", _A, "population"),
    P("stille_rr_low_income", 2.0, "RR", 1, 20, "stille-Gruppe risk with low income", _A, "population"),
    P("stille_rr_poor_health", 2.0, "RR", 1, 20, "stille-Gruppe risk with poor or very poor health", _A,
      "population"),
    P("health_very_good_share", 0.35, "1", 0, 1,
      "share rating their health very good among those not limited by health (others: good)", _A, "population"),
    P("health_poor_share", 0.30, "1", 0, 1, "share of poor health among those limited by health", _A,
      "population"),
    P("health_very_poor_share", 0.10, "1", 0, 1, "share of very poor health among those limited by health "
      "(the rest rate it fair)", _A, "population"),
    # --- meeting places --------------------------------------------------------------------------------------
    P("places_per_10000", 3.0, "places per 10,000 residents", 0, 50,
      "meeting places (Treffpunkte) generated per Stadtteil when no inventory is given (at least one)",
      "assumption until the city's inventory of Treffpunkte is supplied", "places"),
    P("place_capacity", 150.0, "visits/week", 0, 5000, "weekly capacity of one meeting place",
      "assumption", "places"),
    P("place_capacity_factor", 1.0, "1", 0, 10,
      "multiplies every place's capacity; 0 closes all meeting places", "scenario lever", "places"),
    P("barrier_free_share", 0.5, "1", 0, 1, "share of generated places that are barrier-free", "assumption",
      "places"),
    P("low_threshold_share", 0.5, "1", 0, 1, "share of generated places that are low-threshold (niedrigschwellig)",
      "assumption", "places"),
    # --- awareness and outreach -----------------------------------------------------------------------------
    P("awareness_initial", 0.45, "1", 0, 1, "share of residents aware of local offers at the start", _A,
      "awareness"),
    P("awareness_base_rate", 0.002, "1/week", 0, 1, "weekly chance of learning about offers through general "
      "channels (press, flyers)", _A, "awareness"),
    P("awareness_word_of_mouth", 0.02, "1/week", 0, 1,
      "weekly chance of learning about offers when all of one's ties are aware", _A, "awareness"),
    P("awareness_stille_factor", 0.1, "1", 0, 1,
      "how much general channels and word of mouth reach stille Gruppen, relative to others", _A, "awareness"),
    P("awareness_forget_rate", 0.012, "1/week", 0, 1, "weekly chance of losing track of offers when not visiting",
      _A, "awareness"),
    P("outreach_stille_weight", 3.0, "RR", 1, 20, "how much more likely outreach (aufsuchende Arbeit) is to "
      "reach a member of the stille Gruppen than another resident aged 14+ (it goes where they are)", _A,
      "awareness"),
    P("outreach_aware_prob", 0.3, "1", 0, 1, "chance that a resident who does not know the local offers learns "
      "of them in an outreach contact", _A, "awareness"),
    P("programme_word_of_mouth", 0.01, "1/week", 0, 0.5, "weekly chance of hearing of the municipal roles' work "
      "from one's ties when all of them know it (where a role has worked)", _A, "awareness"),
    P("invite_weeks", 8, "weeks", 1, 52, "weeks a personal outreach contact works as an invitation (to events "
      "and as a nudge to take part)", _A, "awareness", integer=True),
    P("invite_factor", 3.0, "RR", 1, 20, "how much more likely an invited resident is to come to a role's event",
      _A, "awareness"),
    P("invite_activation", 0.1, "1", 0, 1, "added to an invited resident's participation signal (a personal "
      "invitation counts like a share of active ties)", _A, "awareness"),
    # --- visits ----------------------------------------------------------------------------------------------
    P("visit_base", 0.12, "1/week", 0, 1, "weekly chance an aware resident visits a meeting place", _A, "visits"),
    P("visit_unready_factor", 0.1, "1", 0, 1, "visit chance of residents who are not mobilised (participation "
      "signal below their threshold), relative to mobilised ones", _A, "visits"),
    P("visit_health_barrier", 0.4, "1", 0, 1,
      "visit chance of residents in poor health at a place that is not barrier-free, relative", _A, "visits"),
    P("visit_threshold_factor", 0.3, "1", 0, 1,
      "visit chance of stille Gruppen at a place that is not low-threshold, relative", _A, "visits"),
    P("visit_lonely_factor", 0.6, "1", 0, 1, "visit chance of lonely residents, relative (withdrawal)", _A,
      "visits"),
    P("visit_child_factor", 0.3, "1", 0, 1, "visit chance of children under 14, relative", _A, "visits"),
    # --- encounters and ties ---------------------------------------------------------------------------------
    P("encounters_per_visit", 2, "encounters", 0, 20, "other attendees met on one visit or initiative meeting",
      "assumption (proximity: Neal & Neal 2014)", "ties", integer=True),
    P("neighbour_encounter_rate", 0.4, "1/week", 0, 1,
      "weekly chance of a chance encounter with another resident of the Stadtteil (proximity)",
      "assumption (proximity: Neal & Neal 2014)", "ties"),
    P("tie_formation_prob", 0.5, "1", 0, 1, "chance that an encounter between two very similar residents "
      "becomes a tie", _A, "ties"),
    P("homophily_age_scale", 20.0, "years", 0.1, 100, "age difference at which similarity falls to 1/e",
      "assumption (similarity: Neal & Neal 2014; McPherson et al. 2001)", "ties"),
    P("bridging_factor", 0.4, "1", 0, 1,
      "tie chance across migration background, relative to within (homophily)", _A, "ties"),
    P("income_factor", 0.7, "1", 0, 1, "tie chance across income groups, relative to within", _A, "ties"),
    P("tie_contact_rate", 0.03, "1/week", 0, 1,
      "weekly chance of private contact on a tie of full strength (scales with strength)",
      "assumption (Roberts & Dunbar 2015)", "ties"),
    P("tie_half_life", 13.0, "weeks", 0.1, 1000, "half-life of tie strength without contact",
      "assumption (decay without contact: Roberts & Dunbar 2015)", "ties"),
    P("tie_min_weight", 0.1, "1", 0, 1, "strength below which a tie is dropped", _A, "ties"),
    P("ties_initial_mean", 5.0, "ties", 0, 30, "mean number of ties per resident at the start", _A, "ties"),
    P("max_ties", 12, "ties", 1, 64, "most ties a resident can hold (a support and sympathy group)",
      "assumption (Dunbar's layers of about 5 and 15)", "ties", integer=True),
    # --- loneliness ------------------------------------------------------------------------------------------
    P("lonely_onset_base", 4.6e-5, "1/week", 0, 1,
      "weekly chance of becoming lonely at very good health with no other risk factor",
      "assumption; prior set for 3-4 % lonely adults (Bürgerumfrage 2021)", "loneliness"),
    P("lonely_rr_good", 4.0, "RR", 0, 1000, "onset RR at good health (vs very good)",
      "assumption shaped on the Bürgerumfrage 2021 gradient (0.5 % to 30 %)", "loneliness"),
    P("lonely_rr_fair", 12.0, "RR", 0, 1000, "onset RR at fair health (vs very good)",
      "assumption shaped on the Bürgerumfrage 2021 gradient", "loneliness"),
    P("lonely_rr_poor", 30.0, "RR", 0, 1000, "onset RR at poor health (vs very good)",
      "assumption shaped on the Bürgerumfrage 2021 gradient", "loneliness"),
    P("lonely_rr_very_poor", 120.0, "RR", 0, 1000, "onset RR at very poor health (vs very good)",
      "odds ratio of 30 % vs 0.5 % (Bürgerumfrage 2021)", "loneliness"),
    P("lonely_rr_migration", 1.5, "RR", 0, 100, "onset RR with migration background",
      "assumption; direction from Bürgerumfrage 2021 (seed 004)", "loneliness"),
    P("lonely_rr_low_income", 1.6, "RR", 0, 100, "onset RR with low income",
      "assumption; direction from Bürgerumfrage 2021 (seed 004)", "loneliness"),
    P("lonely_rr_age_65plus", 0.4, "RR", 0.05, 5, "onset RR aged 65+ at the same health, income and ties (older "
      "people in poor health are less often lonely than younger people in the same health)",
      "assumption set so that loneliness hardly depends on age (Bürgerumfrage 2021, seed 004; older people not "
      "lonelier than younger, Sozialbericht 2024 ch. 7.5); target lonely_ratio_age_65plus", "loneliness"),
    P("lonely_rr_isolated", 2.0, "RR", 0, 100, "onset RR with less than two ties' worth of strength", _A,
      "loneliness"),
    P("lonely_contagion", 0.52, "1", 0, 10, "relative rise of the onset rate per lonely tie",
      "Cacioppo, Fowler & Christakis 2009 (+52 % with a lonely direct contact)", "loneliness"),
    P("lonely_recovery_base", 0.010, "1/week", 0, 1, "weekly chance of recovering from loneliness without ties",
      "assumption (SISa model: Hill, Rand, Nowak & Christakis 2010)", "loneliness"),
    P("lonely_recovery_per_tie", 0.003, "1/week", 0, 1,
      "extra weekly recovery chance per unit of strength of non-lonely ties", _A, "loneliness"),
    # --- participation and volunteering ---------------------------------------------------------------------
    P("participation_initial", 0.35, "1", 0, 1, "share of residents aged 14+ who know the local offers and took "
      "part in an activity in the year before the start (a first guess the spin-up corrects)", _A,
      "participation"),
    P("threshold_min", 0.05, "1", 0, 1, "lowest participation threshold (Granovetter 1978)",
      "assumption (Granovetter 1978)", "participation"),
    P("stille_threshold_shift", 0.2, "1", 0, 1, "added to the thresholds of stille Gruppen", _A, "participation"),
    P("peer_influence", 0.5, "1", 0, 1, "weight of the share of one's ties who took part in an activity in the "
      "last year in the participation signal", "assumption (Granovetter 1978); below 1 so that a programme's "
      "participants mobilise their ties without a cascade through the quarter (area programmes changed "
      "involvement no more than comparison areas: Lawless & Pearson 2012)", "participation"),
    P("member_activation", 0.5, "1", 0, 1, "added to the participation signal of initiative members", _A,
      "participation"),
    P("volunteer_initial", 0.397, "1", 0, 1, "share of residents aged 14+ volunteering without a programme (an "
      "input: the start rates are set to keep it)", "Freiwilligensurvey 2019 (39.7 %; Simonson et al. 2021, "
      "p. 4)", "participation"),
    P("volunteer_migration_ratio", 0.61, "1", 0, 1,
      "volunteering with migration background relative to without",
      "Freiwilligensurvey 2019 (27.1 % vs 44.4 %)", "participation"),
    P("volunteer_quit_rate", 0.004, "1/week", 0, 1, "weekly chance a volunteer stops (mean about 5 years)",
      _A, "participation"),
    P("volunteer_participation_rr", 2.0, "RR", 0, 100, "start rate of volunteering of residents who took part in "
      "an activity in the last year, relative to others", _A, "participation"),
    # --- initiatives -----------------------------------------------------------------------------------------
    P("initiative_dropout_base", 0.0017, "1/week", 0, 1,
      "weekly drop-out hazard of an initiative with its champion, without host, support, grant or diverse "
      "funding (about 8.5 % a year)", "assumption; Scheirer 2005 (up to 40 % of programmes end after funding), "
      "Savaya & Spiro 2012 (73.1 % of 197 projects still operating)", "initiatives"),
    P("champion_loss_rr", 3.0, "RR", 1, 20, "drop-out RR of an initiative that has lost its champion (key "
      "member) and found no successor", "assumption; a champion predicts sustainability (Scheirer 2005); loss "
      "of the contact person is a main cause of self-help groups dissolving (Selbsthilfe-Büro Niedersachsen "
      "2024)", "initiatives"),
    P("champion_quit_rate", 0.002, "1/week", 0, 0.1, "weekly chance a champion stops carrying the initiative "
      "(besides moving away; about 10 % a year)", _A, "initiatives"),
    P("champion_succession_rate", 0.02, "1/week", 0, 1, "weekly chance a member takes over as champion of an "
      "initiative without one", _A, "initiatives"),
    P("advice_succession_rr", 2.0, "RR", 1, 20, "succession chance while an initiative is supported by advice, "
      "relative", _A, "initiatives"),
    P("host_effect", 0.4, "1", 0, 1, "relative fall of the drop-out hazard while a meeting place hosts the "
      "initiative (a fitting host)", "assumption; fit with the host organisation predicts sustainability "
      "(Scheirer 2005; Savaya & Spiro 2012)", "initiatives"),
    P("host_find_rate", 0.005, "1/week", 0, 1, "weekly chance an initiative without a host finds one by itself "
      "(an open place of its Stadtteil)", _A, "initiatives"),
    P("initiative_hosted_initial", 0.5, "1", 0, 1, "share of initiatives hosted by a meeting place at the start",
      _A, "initiatives"),
    P("diverse_funding_share", 0.3, "1", 0, 1, "share of initiatives funded from more than one source (fees, "
      "donations, a welfare organisation, a housing company)", _A, "initiatives"),
    P("diverse_funding_effect", 0.3, "1", 0, 1, "relative fall of the drop-out hazard with diverse funding",
      "assumption; diversity of funding sources the most prominent financial predictor of sustainability "
      "(Savaya & Spiro 2012)", "initiatives"),
    P("initiative_join_rate", 0.001, "1/week per initiative per 1,000", 0, 1, "weekly chance an engaged resident "
      "(14+, volunteering, active in the last year) joins an initiative, per active initiative per 1,000 "
      "residents of the Stadtteil (more initiatives, more chances)", "assumption; with member_quit_rate it keeps "
      "initiatives at about 8 members", "initiatives"),
    P("member_quit_rate", 0.01, "1/week", 0, 1, "weekly chance a member leaves its initiative (about 40 % a "
      "year)", _A, "initiatives"),
    P("initiative_meeting_prob", 0.5, "1/week", 0, 1, "weekly chance a member attends the initiative's meeting",
      _A, "initiatives"),
    P("initiative_min_members", 5, "members", 1, 100, "members below which the small-group hazard applies", _A,
      "initiatives", integer=True),
    P("initiative_small_rr", 2.0, "RR", 1, 100, "drop-out RR of initiatives with few members", _A, "initiatives"),
    P("grant_dropout_effect", 0.3, "1", 0, 1, "relative fall of an initiative's drop-out hazard in the year of a "
      "grant", "assumption; direction from Scheirer 2005 and Savaya & Spiro 2012 (diverse, secured funding)",
      "initiatives"),
    P("initiative_initial_per_1000", 1.0, "initiatives per 1,000 residents", 0, 50,
      "active initiatives per 1,000 residents without a programme (an input: foundings are set to keep it)",
      "assumption; registered associations of every kind are about 7 per 1,000 (ZiviZ 2022), neighbourhood "
      "initiatives a small part of them", "initiatives"),
    P("max_initiatives", 64, "initiatives", 1, 1024, "most initiatives one Stadtteil can hold at once",
      "structural bound", "initiatives", integer=True),
    # --- what the municipal roles produce per staff hour ---------------------------------------------------
    P("outreach_contacts_per_hour", 1.0, "persons/h", 0.2, 10, "residents aged 14+ an outreach worker speaks "
      "with per hour of outreach work (streets, doorsteps, places; travel and notes included)",
      "assumption (no published rate found); an open offer of 4 hours a week reaching up to 50 people is the "
      "closest report (see docs/ODD.md)", "role_outputs"),
    P("event_hours_per_event", 12.0, "h/event", 2, 60, "staff hours to prepare, hold and follow up one event, "
      "group meeting or participation event", _A, "role_outputs"),
    P("event_attendance", 12.0, "persons/event", 2, 200, "residents attending one event (bounded by what the "
      "staff hours pay for, not by a saturation curve)", "assumption; a Stadtteil centre holds about 150 "
      "events a year (Heidelberg-Emmertsgrund, RNZ 2018)", "role_outputs"),
    P("event_unready_factor", 0.3, "1", 0, 1, "chance that a resident who knows the offers but is not "
      "mobilised comes to an event, relative to a mobilised one", _A, "role_outputs"),
    P("event_regular_weeks", 13, "weeks", 1, 52, "weeks after a role activity in which a resident counts as one "
      "of its regulars", _A, "role_outputs", integer=True),
    P("event_regular_factor", 100.0, "RR", 1, 1000, "how much more likely a regular is to attend a role's event "
      "than a resident who has not come lately (groups and offers live on their regulars)", "assumption; an "
      "open weekly offer reaches up to about 50 people (see docs/ODD.md)", "role_outputs"),
    P("event_bridging_factor", 0.7, "1", 0, 1, "tie chance across migration background at role activities, "
      "relative to within (they are organised to bring groups together)", _A, "role_outputs"),
    P("health_reach_per_hour", 0.15, "persons/h", 0.05, 3, "adults starting a health offer (course, group) per "
      "staff hour of health networking", _A, "role_outputs"),
    P("health_targeting", 4.0, "RR", 1, 50, "how much more likely an adult in poor health is to start a health "
      "offer than another adult", _A, "role_outputs"),
    P("health_effect_weeks", 26, "weeks", 1, 156, "weeks a health offer lowers a participant's loneliness onset",
      "assumption; effects 1-6 months after loneliness interventions similar to those right after (Lasgaard et "
      "al. 2022)", "role_outputs", integer=True),
    P("health_promotion_effect", 0.3, "1", 0, 1, "relative fall of loneliness onset among participants of a "
      "health offer", "assumption; loneliness interventions among participants SMD -0.24 to -0.47 (Lasgaard et "
      "al. 2022)", "role_outputs"),
    P("advice_hours_per_session", 3.0, "h/session", 0.5, 20, "staff hours per advice session with an "
      "initiative or a group planning one", _A, "role_outputs"),
    P("advice_initiative_share", 0.7, "1", 0, 1, "share of advice sessions with existing initiatives (the rest "
      "with residents planning one)", _A, "role_outputs"),
    P("advice_founding_prob", 0.01, "1", 0, 1, "chance that an advice session with residents planning an "
      "initiative leads to its founding", _A, "role_outputs"),
    P("support_weeks", 13, "weeks", 1, 104, "weeks an advice session supports an initiative", _A, "role_outputs",
      integer=True),
    P("initiative_support_effect", 0.5, "1", 0, 1, "relative fall of the drop-out hazard while an initiative is "
      "supported by advice", "assumption; the framework: without intermediary support initiatives meet hurdles "
      "and drop out (seed 001); outside support predicts sustainability (Scheirer 2005)", "role_outputs"),
    P("network_hours_per_meeting", 4.0, "h/meeting", 0.5, 40, "staff hours per network meeting with "
      "initiatives and meeting places", _A, "role_outputs"),
    P("network_host_prob", 0.25, "1", 0, 1, "chance that a network meeting finds a host place for an initiative "
      "without one", _A, "role_outputs"),
    # --- municipal roles -------------------------------------------------------------------------------------
    P("hours_per_fte", 39.0, "h/week", 1, 60, "weekly working hours of one full-time post",
      "TVöD-VKA, Baden-Württemberg (39 h)", "roles"),
)

#: The shipped Stuttgart calibration (``calibration/stuttgart/``, from ``calibration/stuttgart.toml``): each
#: parameter its targets informed, with the posterior median (the default) and the 5th and 95th percentiles.
#: The declarations above keep the reasoning behind each prior. Compare and sweep draw whole parameter sets from
#: the posterior instead of these medians (``quartiersim.posterior``).
CALIBRATED: dict[str, tuple[float, float, float]] = {
    "lonely_onset_base": (4.097e-05, 2.709e-05, 5.591e-05),
    "lonely_rr_very_poor": (137.8, 71.85, 242.7),
    "lonely_rr_age_65plus": (0.3878, 0.1893, 0.6487),
    "lonely_rr_migration": (1.548, 1.085, 2.234),
    "outreach_contacts_per_hour": (1.014, 0.422, 1.865),
    "programme_word_of_mouth": (0.00323, 0.001198, 0.01288),
}
#: Parameters of that calibration its targets left about as uncertain as their priors: not calibrated.
NOT_INFORMED: tuple[str, ...] = ("event_regular_factor", "event_attendance", "initiative_dropout_base",
                                 "host_effect", "initiative_support_effect", "champion_loss_rr")


def _with_calibration(p: Param) -> Param:
    """A declaration with the calibration's median as its default and its standing in the source."""
    if p.name in CALIBRATED:
        median, q05, q95 = CALIBRATED[p.name]
        return replace(p, default=median, source=f"calibrated: posterior median of the Stuttgart calibration, 90 % "
                       f"interval {q05:.3g} to {q95:.3g} (calibration/stuttgart); prior from: "
                       f"{'assumption' if p.source == _A else p.source}")
    if p.name in NOT_INFORMED:
        return replace(p, source=f"{p.source}; not informed by the Stuttgart calibration (posterior about its prior)")
    return p


PARAMS = tuple(_with_calibration(p) for p in PARAMS)
PARAMS_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}


def _field(p: Param) -> Any:
    typ = int if p.integer else float
    return (typ, Field(default=typ(p.default), ge=p.low, le=p.high, description=f"{p.meaning} [{p.unit}]"))


_ParameterModel = create_model(
    "ParameterModel",
    __config__=ConfigDict(extra="forbid", frozen=True),
    **{p.name: _field(p) for p in PARAMS},
)


class ParameterSet(_ParameterModel):  # type: ignore[misc, valid-type]
    """A validated, immutable set of model parameters (defaults for everything not given)."""

    def as_dict(self) -> dict[str, float]:
        """Plain ``{name: value}``."""
        return self.model_dump()


def validate_parameters(values: dict[str, Any] | None, source: str = "parameters") -> ParameterSet:
    """Validate overrides against the declarations.

    Args:
        values: ``{name: value}``; unknown names and values out of bounds are errors.
        source: the file or place the values came from, for messages.

    Raises:
        InputError: naming the parameter, its bounds and unit.

    """
    values = dict(values or {})
    try:
        return ParameterSet(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            if err["type"] == "extra_forbidden":
                close = close_names(name)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                problems.append(InputError(source, f"parameters.{name}",
                                           f"a declared parameter name{hint}; see 'quartiersim params'"))
            else:
                p = PARAMS_BY_NAME[name]
                kind = "a whole number" if p.integer else "a number"
                problems.append(InputError(source, f"parameters.{name}",
                                           f"{kind} in [{p.low:g}, {p.high:g}] {p.unit} ({p.meaning})",
                                           values.get(name)))
        raise (problems[0] if len(problems) == 1 else InputErrors(source, problems)) from None


def close_names(name: str) -> list[str]:
    """Declared parameter names close to a misspelt one, for "did you mean" hints."""
    import difflib

    return difflib.get_close_matches(name, PARAMS_BY_NAME, n=3, cutoff=0.6)


GROUP_TITLES = {
    "population": "Population synthesis",
    "places": "Meeting places",
    "awareness": "Awareness and outreach",
    "visits": "Visits",
    "ties": "Encounters and ties",
    "loneliness": "Loneliness",
    "participation": "Participation and volunteering",
    "initiatives": "Initiatives",
    "role_outputs": "What the municipal roles produce per staff hour",
    "roles": "Municipal roles",
}


def markdown_tables() -> str:
    """The parameter tables of docs/ODD.md, one per mechanism, generated from the declarations."""
    parts = []
    for group, title in GROUP_TITLES.items():
        parts.append(f"#### {title}\n")
        parts.append("| parameter | default | unit | range | meaning | source |")
        parts.append("| --- | --- | --- | --- | --- | --- |")
        for p in PARAMS:
            if p.group == group:
                parts.append(f"| `{p.name}` | {p.default:g} | {p.unit} | {p.low:g} to {p.high:g} | {p.meaning} | "
                             f"{p.source} |")
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"
