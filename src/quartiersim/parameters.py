"""Typed parameter declarations: one per model parameter, with unit, bounds, default, meaning and source.

The same declarations feed scenario validation (unknown keys and out-of-range values are errors), the
command-line help (``quartiersim params``), sweep bounds and the parameter tables of ``docs/ODD.md``.
Rates are per week unless the unit says otherwise; "h/1000" means role hours per week per 1,000 residents of
the Stadtteil; relative risks (RR) multiply a base rate.
"""

from __future__ import annotations

from dataclasses import dataclass
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


_A = "assumption; to be calibrated (calibration issue)"
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
    P("outreach_effect", 0.03, "1/week", 0, 1, "weekly chance an unaware resident is reached by outreach at "
      "saturation (aufsuchende Arbeit); reaches stille Gruppen fully", _A, "awareness"),
    P("outreach_half_hours", 1.0, "h/1000", 1e-6, 1000, "outreach hours at which the effect is half its maximum",
      _A, "awareness"),
    # --- visits ----------------------------------------------------------------------------------------------
    P("visit_base", 0.12, "1/week", 0, 1, "weekly chance an aware resident visits a meeting place", _A, "visits"),
    P("visit_health_barrier", 0.4, "1", 0, 1,
      "visit chance of residents in poor health at a place that is not barrier-free, relative", _A, "visits"),
    P("visit_threshold_factor", 0.3, "1", 0, 1,
      "visit chance of stille Gruppen at a place that is not low-threshold, relative", _A, "visits"),
    P("visit_lonely_factor", 0.6, "1", 0, 1, "visit chance of lonely residents, relative (withdrawal)", _A,
      "visits"),
    P("visit_child_factor", 0.3, "1", 0, 1, "visit chance of children under 14, relative", _A, "visits"),
    P("events_effect", 0.6, "1", 0, 10, "relative rise of the visit chance through events at saturation", _A,
      "visits"),
    P("events_half_hours", 1.0, "h/1000", 1e-6, 1000, "event hours at which the effect is half its maximum", _A,
      "visits"),
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
    P("networking_bridging_effect", 1.0, "1", 0, 10, "relative rise of the bridging factor at venues through "
      "networking at saturation", _A, "ties"),
    P("networking_half_hours", 1.0, "h/1000", 1e-6, 1000,
      "networking hours at which the effect is half its maximum", _A, "ties"),
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
    P("lonely_onset_base", 4e-5, "1/week", 0, 1,
      "weekly chance of becoming lonely at very good health with no other risk factor",
      "assumption; calibrated to 3-4 % lonely adults (Bürgerumfrage 2021)", "loneliness"),
    P("lonely_rr_good", 4.0, "RR", 0, 1000, "onset RR at good health (vs very good)",
      "assumption shaped on the Bürgerumfrage 2021 gradient (0.5 % to 30 %)", "loneliness"),
    P("lonely_rr_fair", 12.0, "RR", 0, 1000, "onset RR at fair health (vs very good)",
      "assumption shaped on the Bürgerumfrage 2021 gradient", "loneliness"),
    P("lonely_rr_poor", 30.0, "RR", 0, 1000, "onset RR at poor health (vs very good)",
      "assumption shaped on the Bürgerumfrage 2021 gradient", "loneliness"),
    P("lonely_rr_very_poor", 85.0, "RR", 0, 1000, "onset RR at very poor health (vs very good)",
      "odds ratio of 30 % vs 0.5 % (Bürgerumfrage 2021)", "loneliness"),
    P("lonely_rr_migration", 1.5, "RR", 0, 100, "onset RR with migration background",
      "assumption; direction from Bürgerumfrage 2021 (seed 004)", "loneliness"),
    P("lonely_rr_low_income", 1.6, "RR", 0, 100, "onset RR with low income",
      "assumption; direction from Bürgerumfrage 2021 (seed 004)", "loneliness"),
    P("lonely_rr_isolated", 2.0, "RR", 0, 100, "onset RR with less than two ties' worth of strength", _A,
      "loneliness"),
    P("lonely_contagion", 0.52, "1", 0, 10, "relative rise of the onset rate per lonely tie",
      "Cacioppo, Fowler & Christakis 2009 (+52 % with a lonely direct contact)", "loneliness"),
    P("lonely_recovery_base", 0.010, "1/week", 0, 1, "weekly chance of recovering from loneliness without ties",
      "assumption (SISa model: Hill, Rand, Nowak & Christakis 2010)", "loneliness"),
    P("lonely_recovery_per_tie", 0.003, "1/week", 0, 1,
      "extra weekly recovery chance per unit of strength of non-lonely ties", _A, "loneliness"),
    P("health_promotion_effect", 0.3, "1", 0, 1,
      "relative fall of onset in poor health through health networks at saturation", _A, "loneliness"),
    P("health_half_hours", 1.0, "h/1000", 1e-6, 1000,
      "health-network hours at which the effect is half its maximum", _A, "loneliness"),
    # --- participation and volunteering ---------------------------------------------------------------------
    P("participation_initial", 0.35, "1", 0, 1, "share of aware residents aged 14+ participating at the start",
      _A, "participation"),
    P("threshold_min", 0.05, "1", 0, 1, "lowest participation threshold (Granovetter 1978)",
      "assumption (Granovetter 1978)", "participation"),
    P("stille_threshold_shift", 0.2, "1", 0, 1, "added to the thresholds of stille Gruppen", _A, "participation"),
    P("events_activation", 0.3, "1", 0, 1, "activation added to every resident's signal by events at saturation",
      _A, "participation"),
    P("member_activation", 0.5, "1", 0, 1, "activation added to the signal of initiative members", _A,
      "participation"),
    P("participation_quit_rate", 0.05, "1/week", 0, 1,
      "weekly chance a participant whose signal is below threshold stops", _A, "participation"),
    P("participation_turnover", 0.01, "1/week", 0, 1,
      "weekly chance any participant stops for reasons outside the model (moving, life events)", _A,
      "participation"),
    P("participation_spontaneous", 0.002, "1/week", 0, 1,
      "weekly chance an aware resident starts participating regardless of threshold", _A, "participation"),
    P("volunteer_initial", 0.397, "1", 0, 1, "share of residents aged 14+ volunteering at the start",
      "Freiwilligensurvey 2019 (39.7 %)", "participation"),
    P("volunteer_migration_ratio", 0.61, "1", 0, 1,
      "volunteering with migration background relative to without",
      "Freiwilligensurvey 2019 (27.1 % vs 44.4 %)", "participation"),
    P("volunteer_quit_rate", 0.004, "1/week", 0, 1, "weekly chance a volunteer stops (mean about 5 years)",
      _A, "participation"),
    P("volunteer_participation_rr", 2.0, "RR", 0, 100, "start rate of volunteering when participating", _A,
      "participation"),
    # --- initiatives -----------------------------------------------------------------------------------------
    P("initiative_founding_rate", 0.00012, "1/week per engaged person", 0, 1,
      "weekly founding chance per participating volunteer", _A, "initiatives"),
    P("advice_effect", 1.0, "1", 0, 10, "relative rise of founding through advice at saturation", _A,
      "initiatives"),
    P("advice_half_hours", 1.0, "h/1000", 1e-6, 1000, "advice hours at which the effect is half its maximum", _A,
      "initiatives"),
    P("initiative_join_prob", 0.01, "1/week", 0, 1,
      "weekly chance a participating volunteer who is no member joins an initiative", _A, "initiatives"),
    P("initiative_meeting_prob", 0.5, "1/week", 0, 1, "weekly chance a member attends the initiative's meeting",
      _A, "initiatives"),
    P("initiative_dropout_base", 0.0044, "1/week", 0, 1,
      "weekly drop-out hazard of an initiative without intermediary support (median about 3 years)",
      "assumption (up to 40 % of programmes end: Scheirer 2005; Savaya & Spiro 2012)", "initiatives"),
    P("initiative_support_effect", 0.6, "1", 0, 1, "relative fall of the drop-out hazard with intermediary "
      "support at saturation", "assumption; direction from the framework (seed 001)", "initiatives"),
    P("support_half_hours", 1.0, "h/initiative", 1e-6, 1000,
      "intermediary hours per week and initiative at which support is half its maximum", _A, "initiatives"),
    P("initiative_min_members", 5, "members", 1, 100, "members below which the small-group hazard applies", _A,
      "initiatives", integer=True),
    P("initiative_small_rr", 2.0, "RR", 1, 100, "drop-out RR of initiatives with few members", _A, "initiatives"),
    P("grant_dropout_effect", 0.3, "1", 0, 1, "relative fall of an initiative's drop-out hazard in the year of a "
      "grant", "assumption; direction from Scheirer 2005 and Savaya & Spiro 2012 (diverse, secured funding)",
      "initiatives"),
    P("initiative_initial_per_1000", 1.0, "initiatives per 1,000 residents", 0, 50,
      "active initiatives per 1,000 residents at the start", _A, "initiatives"),
    P("max_initiatives", 64, "initiatives", 1, 1024, "most initiatives one Stadtteil can hold at once",
      "structural bound", "initiatives", integer=True),
    # --- municipal roles -------------------------------------------------------------------------------------
    P("hours_per_fte", 39.0, "h/week", 1, 60, "weekly working hours of one full-time post",
      "TVöD-VKA, Baden-Württemberg (39 h)", "roles"),
)

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
