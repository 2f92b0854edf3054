"""The scenario: a validated description of one run, read from TOML.

A scenario file sets the period, the Stadtteile, the scale, the reporting interval, parameter overrides and
the municipal roles (with posts, hours by task, dates and the Stadtteile they serve). Everything is checked on
load; a bad file raises :class:`~quartiersim.errors.InputError` naming the file, the field and what was
expected. The resolved scenario (:meth:`Scenario.resolved`) is saved beside every result.

Example::

    name = "neckarvorstadt"
    description = "Neckarvorstadt alone, with community work from 1 July 2025"
    start = 2024-01-01
    end = 2030-12-31
    stadtteile = [211]
    scale = 1.0

    [parameters]
    visit_base = 0.12

    [[roles]]
    name = "Gemeinwesenarbeit Neckarvorstadt"
    kind = "gemeinwesenarbeit"
    fte = 1.0
    stadtteile = [211]
    start = 2025-07-01
    end = 2027-12-31
    quartierstreff = true
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quartiersim.areas import AreaIndexSpec
from quartiersim.data import load_pay_grades
from quartiersim.errors import InputError, InputErrors
from quartiersim.files import check_name
from quartiersim.parameters import PARAMS_BY_NAME, ParameterSet, close_names, validate_parameters

ROLE_KINDS = ("sozialplanung", "vernetzungsstelle", "gesundheitsfoerderung", "gemeinwesenarbeit",
              "stadtteilassistenz")
TASKS = ("outreach", "advice", "networking", "events", "health_network", "steering")

#: How each role spends its hours when a scenario does not say (shares of working time), after the tasks the
#: framework concept gives each role (seed 001, seed 003; see docs/ODD.md).
DEFAULT_TASKS: dict[str, dict[str, float]] = {
    "sozialplanung": {"steering": 1.0},
    "vernetzungsstelle": {"advice": 0.4, "networking": 0.4, "events": 0.1, "steering": 0.1},
    "gesundheitsfoerderung": {"health_network": 0.6, "networking": 0.2, "events": 0.1, "advice": 0.1},
    "gemeinwesenarbeit": {"outreach": 0.35, "events": 0.25, "networking": 0.2, "advice": 0.2},
    "stadtteilassistenz": {"events": 0.5, "networking": 0.3, "outreach": 0.2},
}
ROLE_LABELS = {
    "sozialplanung": "Sozialplanung für soziale Quartiersentwicklung",
    "vernetzungsstelle": "Vernetzungsstelle Verwaltung und Quartier",
    "gesundheitsfoerderung": "Gesundheitsförderung im Quartier",
    "gemeinwesenarbeit": "Gemeinwesenarbeit / Quartierskoordination",
    "stadtteilassistenz": "Stadtteilassistenz",
}
REPORT_INTERVALS = ("weekly", "monthly", "quarterly", "yearly")
#: The pay grade a role is costed at when a scenario gives neither a grade nor a cost (assumption: the city's
#: Stellenplan has the real grades; planning posts in E 13 like the A 14 coordination of the strategic social
#: planning unit (seed 004), social-work posts in the S table of the TVöD-VKA).
DEFAULT_PAY_GRADES = {
    "sozialplanung": "E 13",
    "vernetzungsstelle": "S 15",
    "gesundheitsfoerderung": "E 12",
    "gemeinwesenarbeit": "S 12",
    "stadtteilassistenz": "E 11",
}
VERSTETIGUNG_STRATEGIES = ("funding_ends", "meeting_places", "permanent_posts", "welfare_handover",
                           "self_organisation")
ALLOCATION_STRATEGIES = ("needs_based", "equal_per_bezirk", "expression_of_interest", "pilot_only", "none")
FUNDING_CRITERIA = ("participation", "stille_gruppen", "networking", "sustainability", "need")
Task = Literal["outreach", "advice", "networking", "events", "health_network", "steering"]
RoleKind = Literal["sozialplanung", "vernetzungsstelle", "gesundheitsfoerderung", "gemeinwesenarbeit",
                   "stadtteilassistenz"]

StadtteilRef = int | str

#: Dates a scenario may use. The inputs (population 2023/24, indicators, the 2025 pay tables) describe present-day
#: Stuttgart: a run decades away from them says nothing about the city, and a run of centuries takes minutes per
#: seed. 2000 to 2100 leaves room for back-casts of the statistics' time series and for any planning horizon.
FIRST_DATE, LAST_DATE = dt.date(2000, 1, 1), dt.date(2100, 12, 31)
#: The most a post may cost a year (EUR, employer cost): about ten times the dearest grade of the bundled pay
#: table (E 14, about 106,000 EUR with on-costs), so a zero too many is caught while any real post passes.
MAX_COST_PER_FTE_EUR = 1_000_000.0
#: The most any yearly budget may be (EUR): about twice the city's whole yearly budget.
MAX_BUDGET_EUR = 1e10
#: The most posts an allocation may fill: the city's administration has about 15,000 posts.
MAX_POSTS = 15_000.0
#: The fewest agents a populated Stadtteil of at least :data:`SCALE_CHECK_RESIDENTS` residents (and a run as a
#: whole) may get: with fewer, a Stadtteil's shares are a handful of agents (1e-9 would give one agent for 4,180
#: residents and NaN loneliness shares). The 24 Stadtteile below 1,000 residents (Wasen: 33) are left out of
#: the check, or every whole-city run below scale 0.3 would be refused; 10 agents for 1,000 residents is scale
#: 0.01, the smallest scale the whole-city smoke tests use.
MIN_AGENTS = 10
SCALE_CHECK_RESIDENTS = 1000


def _in_period(value: dt.date) -> dt.date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"a date from {FIRST_DATE} to {LAST_DATE} (the model's inputs describe present-day "
                         "Stuttgart)")
    return value


Date = Annotated[dt.date, AfterValidator(_in_period)]


class _Strict(BaseModel):
    # allow_inf_nan: inf or nan in a file (TOML has both) is refused everywhere, never carried into results
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FieldError(ValueError):
    """A cross-field check that failed, with the field to name in the message."""

    def __init__(self, field: str, expected: str):
        super().__init__(expected)
        self.field = field


def _check_tasks(tasks: dict[str, float] | None) -> None:
    if tasks is not None:
        if any(v < 0 for v in tasks.values()):
            raise ValueError("task shares must be >= 0")
        if sum(tasks.values()) > 1.0 + 1e-9:
            raise ValueError(f"task shares must add up to at most 1, got {sum(tasks.values()):g}")


def _check_grade(grade: str | None) -> str | None:
    if grade is not None:
        grades = _pay_grade_names()
        if grade not in grades:
            raise ValueError(f"a pay grade of the table ({', '.join(grades)})")
    return grade


@functools.cache
def _pay_grade_names() -> tuple[str, ...]:
    return tuple(load_pay_grades().index)


class _Graded(BaseModel):
    @field_validator("pay_grade", check_fields=False)
    @classmethod
    def _grade(cls, v: str | None) -> str | None:
        return _check_grade(v)


class RoleChange(_Strict, _Graded):
    """A change of a role from a date on: its posts, how it spends them, its cost, its Quartierstreff.

    Fields left out keep their value. Verstetigung strategies are written as such changes (see
    :mod:`quartiersim.strategies`), and a scenario can give its own, e.g. ``{date = 2026-01-01, fte = 1.5}``.
    """

    date: Date
    fte: float | None = Field(default=None, ge=0, le=100)
    tasks: dict[Task, float] | None = None
    pay_grade: str | None = None
    cost_per_fte_eur: float | None = Field(default=None, ge=0, le=MAX_COST_PER_FTE_EUR)
    quartierstreff: bool | None = None
    rehost: bool | None = Field(default=None, description="the Stadtteil's meeting places take in the "
                                "initiatives of a Quartierstreff that closes (the meeting_places strategy)")
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> RoleChange:
        _check_tasks(self.tasks)
        return self


class RoleSpec(_Strict, _Graded):
    """One municipal role (post) in a scenario."""

    name: str = Field(min_length=1)
    kind: RoleKind
    fte: float = Field(ge=0, le=100, description="posts (full-time equivalents)")
    stadtteile: Literal["all"] | list[StadtteilRef] = "all"
    start: Date
    end: Date
    tasks: dict[Task, float] | None = None
    pay_grade: str | None = None
    cost_per_fte_eur: float | None = Field(default=None, ge=0, le=MAX_COST_PER_FTE_EUR)
    quartierstreff: bool = False
    changes: list[RoleChange] = Field(default_factory=list)
    verstetigung: bool = True

    @model_validator(mode="after")
    def _check(self) -> RoleSpec:
        if self.end < self.start:
            raise FieldError("end", f"an end not before the start: the role starts {self.start}, after its end "
                             f"{self.end}")
        _check_tasks(self.tasks)
        dates = [c.date for c in self.changes]
        if dates != sorted(dates):
            raise ValueError("changes in date order")
        outside = [str(d) for d in dates if not self.start <= d <= self.end]
        if outside:
            raise ValueError(f"change dates between the role's start {self.start} and end {self.end}, got "
                             f"{', '.join(outside)}")
        return self

    def task_shares(self) -> dict[str, float]:
        """Share of working time per task (defaults by kind)."""
        return shares_of(self.kind, self.tasks)

    @property
    def grade(self) -> str:
        """The pay grade the role is costed at (its own, or the default of its kind)."""
        return self.pay_grade or DEFAULT_PAY_GRADES[self.kind]


def shares_of(kind: str, tasks: dict[str, float] | None) -> dict[str, float]:
    """Share of working time per task: ``tasks`` if given, else the defaults of the role kind."""
    shares = dict(tasks) if tasks is not None else dict(DEFAULT_TASKS[kind])
    return {t: float(shares.get(t, 0.0)) for t in TASKS}


class VerstetigungSpec(_Strict):
    """What follows when a role's funded term ends (the ``[verstetigung]`` table).

    It applies to every role with ``verstetigung = true`` (the default) whose end falls inside the run, and to
    the roles an allocation creates. :mod:`quartiersim.strategies` documents each strategy's effects.
    """

    strategy: Literal["funding_ends", "meeting_places", "permanent_posts", "welfare_handover",
                      "self_organisation"] = "funding_ends"
    takeover_fte_share: float = Field(default=0.4, ge=0, le=1, description="meeting_places: share of the "
                                      "role's posts the meeting places' staff give to coordination")
    takeover_pay_grade: str = "S 11b"
    handover_gap_weeks: int = Field(default=13, ge=0, le=520, description="welfare_handover: weeks without "
                                    "anyone before the welfare organisation starts")
    handover_fte_share: float = Field(default=0.75, ge=0, le=1)
    project_years: float = Field(default=3.0, ge=0, le=30)
    coaching_start_share: float = Field(default=0.5, ge=0, le=1, description="self_organisation: coaching "
                                        "posts as a share of the role's posts when it starts")
    taper_years: float = Field(default=2.0, gt=0, le=30)

    @field_validator("takeover_pay_grade")
    @classmethod
    def _grade(cls, v: str) -> str:
        return _check_grade(v) or v


class TeamRole(_Strict, _Graded):
    """One role in the team an allocation gives each selected Stadtteil."""

    kind: RoleKind
    fte: float = Field(gt=0, le=100)
    pay_grade: str | None = None
    cost_per_fte_eur: float | None = Field(default=None, ge=0, le=MAX_COST_PER_FTE_EUR)
    tasks: dict[Task, float] | None = None
    quartierstreff: bool = False

    @model_validator(mode="after")
    def _check(self) -> TeamRole:
        _check_tasks(self.tasks)
        return self


def _default_team() -> list[TeamRole]:
    return [TeamRole(kind="gemeinwesenarbeit", fte=1.0, quartierstreff=True),
            TeamRole(kind="stadtteilassistenz", fte=0.5)]


class AllocationSpec(_Strict):
    """How Phase 3 chooses and staffs new project areas (the ``[allocation]`` table)."""

    strategy: Literal["needs_based", "equal_per_bezirk", "expression_of_interest", "pilot_only", "none"]
    start: Date = dt.date(2028, 1, 1)
    new_stadtteile_per_year: int = Field(default=3, ge=0, le=152)
    years_per_area: float = Field(default=8.0, gt=0, le=30)
    budget_eur_per_year: float = Field(default=1_000_000.0, ge=0, le=MAX_BUDGET_EUR)
    max_posts: float | None = Field(default=None, ge=0, le=MAX_POSTS)
    bezirke: list[str] = Field(default_factory=list, description="expression_of_interest: applying Bezirke")
    stadtteile: list[StadtteilRef] = Field(default_factory=list, description="pilot_only: the pilot quarters")
    exclude_served: bool = True
    team: list[TeamRole] = Field(default_factory=_default_team)

    @model_validator(mode="after")
    def _check(self) -> AllocationSpec:
        if self.strategy == "expression_of_interest" and not self.bezirke:
            raise ValueError("expression_of_interest needs the applying Bezirke in 'bezirke'")
        if self.strategy == "pilot_only" and not self.stadtteile:
            raise ValueError("pilot_only needs the pilot quarters in 'stadtteile'")
        if not self.team:
            raise ValueError("a team of at least one role")
        return self


def _default_criteria() -> dict[str, float]:
    return {"participation": 0.2, "stille_gruppen": 0.25, "networking": 0.15, "sustainability": 0.2, "need": 0.2}


class FundingSpec(_Strict):
    """Funding of initiatives by the framework's quality criteria (the ``[initiative_funding]`` table).

    Once a year from ``start`` active initiatives apply (each with chance ``apply_share``); applications are
    scored by the weighted criteria and funded in order of score, as long as the year's budget lasts and the
    score reaches ``min_score``. :mod:`quartiersim.funding` documents the criteria.
    """

    start: Date = dt.date(2026, 1, 1)
    end: Date | None = None
    budget_eur_per_year: float = Field(default=100_000.0, ge=0, le=MAX_BUDGET_EUR)
    grant_eur: float = Field(default=5_000.0, gt=0, le=MAX_BUDGET_EUR)
    apply_share: float = Field(default=0.6, ge=0, le=1)
    min_score: float = Field(default=0.0, ge=0, le=1)
    weights: dict[Literal["participation", "stille_gruppen", "networking", "sustainability", "need"],
                  float] = Field(default_factory=_default_criteria)

    @model_validator(mode="after")
    def _check(self) -> FundingSpec:
        if self.end is not None and self.end < self.start:
            raise FieldError("end", f"an end not before the start ({self.start})")
        if any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValueError("criterion weights >= 0 with at least one > 0")
        return self


class Scenario(_Strict):
    """A validated scenario. Construct with :func:`load_scenario` or directly from keyword arguments."""

    name: str = "default"
    description: str = ""
    start: Date = dt.date(2024, 1, 1)
    end: Date = dt.date(2035, 12, 31)
    stadtteile: Literal["all"] | list[StadtteilRef] = "all"
    bezirke: list[str] | None = Field(default=None, description="simulate the Stadtteile of these Bezirke")
    scale: float = Field(default=1.0, gt=0, le=1.0, description="agents per resident")
    report: Literal["weekly", "monthly", "quarterly", "yearly"] = "monthly"
    spinup_weeks: int = Field(default=156, ge=0, le=1040,
                              description="weeks simulated before start, without roles or reports (156: the "
                              "stationarity check, benchmarks/stationarity.py)")
    indicators_file: str | None = None
    stadtteile_file: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    roles: list[RoleSpec] = Field(default_factory=list)
    pilot_end: Date = Field(default=dt.date(2027, 12, 31), description="last day of the pilot phase; the end "
                               "of roles that give none")
    phase3_start: Date = Field(default=dt.date(2028, 1, 1), description="first day of Phase 3; the start of "
                                  "an allocation that gives none")
    area_index: AreaIndexSpec = Field(default_factory=AreaIndexSpec)
    verstetigung: VerstetigungSpec = Field(default_factory=VerstetigungSpec)
    allocation: AllocationSpec | None = None
    initiative_funding: FundingSpec | None = None
    base_dir: str | None = Field(default=None, exclude=True)
    source_file: str | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _timeline_defaults(cls, data: Any) -> Any:
        """Roles without an end run to ``pilot_end``; an allocation without a start begins at ``phase3_start``."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        pilot_end = data.get("pilot_end", cls.model_fields["pilot_end"].default)
        if isinstance(data.get("roles"), list):
            data["roles"] = [dict(r, end=pilot_end) if isinstance(r, dict) and r.get("end") is None else r
                             for r in data["roles"]]
        alloc = data.get("allocation")
        if isinstance(alloc, dict) and alloc.get("start") is None:
            data["allocation"] = dict(alloc, start=data.get("phase3_start", cls.model_fields["phase3_start"].default))
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("stadtteile")
    @classmethod
    def _non_empty(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("at least one Stadtteil in the list, or \"all\"")
        return v

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.end < self.start + dt.timedelta(days=6):
            raise FieldError("end", f"an end at least one week after start: start {self.start}, end {self.end}")
        if self.bezirke is not None and (self.stadtteile != "all" or not self.bezirke):
            raise FieldError("bezirke", "a non-empty list of Bezirke, with stadtteile left at \"all\"")
        if self.phase3_start <= self.pilot_end:
            raise FieldError("phase3_start", f"a date after pilot_end ({self.pilot_end})")
        if self.allocation is not None and self.allocation.strategy != "none" and self.allocation.start > self.end:
            raise FieldError("allocation.start", f"a date on or before the scenario's end ({self.end})")
        if self.initiative_funding is not None and self.initiative_funding.start > self.end:
            raise FieldError("initiative_funding.start", f"a date on or before the scenario's end ({self.end})")
        return self

    @property
    def origin(self) -> str:
        """Where the scenario came from, for messages: its file, or its name."""
        return self.source_file or f"scenario '{self.name}'"

    @property
    def params(self) -> ParameterSet:
        """The full parameter set (defaults plus this scenario's overrides)."""
        return validate_parameters(self.parameters, source=self.origin)

    def path_of(self, relative: str | None) -> Path | None:
        """Resolve a file named in the scenario relative to the scenario file."""
        if relative is None:
            return None
        p = Path(relative)
        return p if p.is_absolute() or self.base_dir is None else Path(self.base_dir) / p

    def as_data(self) -> dict[str, Any]:
        """The scenario as data that rebuilds it, including where it came from (for copies and workers)."""
        data = self.model_dump()
        data["base_dir"] = self.base_dir
        data["source_file"] = self.source_file
        return data

    def with_overrides(self, **overrides: Any) -> Scenario:
        """A copy with scenario fields or parameters replaced (names of parameters go into ``parameters``).

        Keys may be dotted paths as in experiment files' levers, e.g. ``**{"verstetigung.strategy":
        "permanent_posts", "roles.Gemeinwesenarbeit Neckarvorstadt.fte": 1.5}``.
        """
        fields = set(type(self).model_fields) - {"base_dir", "source_file"}
        data = self.as_data()
        params = dict(data.get("parameters") or {})
        dotted = {}
        for key, value in overrides.items():
            if "." in key:
                dotted[key] = value
            elif key in fields and key != "parameters":
                data[key] = value
            elif key == "parameters":
                params.update(value)
            else:
                params[key] = value
        data["parameters"] = params
        for key, value in dotted.items():  # after the plain fields, so a path sees a table set beside it
            assign_path(data, key, value, f"{self.origin} with overrides")
        return build_scenario(data, source=f"{self.origin} with overrides")

    def resolved(self) -> dict[str, Any]:
        """The scenario as plain data with every parameter spelled out, for metadata and reruns."""
        data = self.model_dump(mode="json")
        data["parameters"] = self.params.as_dict()
        data["roles"] = [dict(r, tasks=RoleSpec(**r).task_shares(), pay_grade=RoleSpec(**r).grade)
                         for r in data["roles"]]
        return data


def build_scenario(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate scenario data (a parsed TOML table), raising InputError with file, field and expectation."""
    scenario = validate_model(Scenario, data, source, _SECTIONS)
    validate_parameters(scenario.parameters, source=source)  # unknown or out-of-range parameters, now
    return scenario


_EXPECTED = {
    "extra_forbidden": "no such field; known fields: {known}",
    "date_from_datetime_parsing": "a date such as 2024-01-01",
    "date_from_datetime_inexact": "a date such as 2024-01-01, without a time of day",
    "date_parsing": "a date such as 2024-01-01",
    "date_type": "a date such as 2024-01-01",
    "literal_error": "{ctx}",
    "greater_than": "a number > {gt}",
    "greater_than_equal": "a number >= {ge}",
    "less_than": "a number < {lt}",
    "less_than_equal": "a number <= {le}",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number (not inf or nan)",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text in quotes",
    "string_too_short": "a non-empty text",
    "string_too_long": "a text of at most {max_length} characters",
    "list_type": "a list in brackets, e.g. [1, 2]",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} item(s)",
    "dict_type": "a table (a [section] or {{key = value}})",
    "model_type": "a table (a [section] or {{key = value}})",
    "model_attributes_type": "a table (a [section] or {{key = value}})",
    "missing": "this field to be given",
}
#: What a field that takes one of several forms expects, in one message instead of one per form.
_UNION_EXPECTED = {
    "stadtteile": "\"all\" or a list of Stadtteil numbers or names, e.g. [211, \"Hallschlag\"]",
    "bezirke": "a list of Bezirk names, e.g. [\"Bad Cannstatt\"]",
    "seeds": "a number of seeds (1 or more) or a list of seeds, e.g. [0, 1, 2]",
    "stadtteil": "a Stadtteil number or name, or \"Stuttgart\"",
    "end": "a date such as 2024-01-01, or no end",
    "use": "a list of target names",
}
#: Parts of pydantic's error locations that name a form of a field, not a field (dropped from messages).
_FORM = re.compile(r"^(literal|list|dict|union|tagged-union|function-\w+|nullable|constrained-\w+|int|str|float|"
                   r"bool|is-instance|lax-\w+|json-or-python)(\[.*\])?$")


_SECTIONS: dict[str, type[BaseModel]] = {
    "roles": RoleSpec, "changes": RoleChange, "allocation": AllocationSpec, "team": TeamRole,
    "verstetigung": VerstetigungSpec, "initiative_funding": FundingSpec, "area_index": AreaIndexSpec,
}


def validate_model[M: BaseModel](model: type[M], data: dict[str, Any], source: str,
                                 sections: dict[str, type[BaseModel]] | None = None) -> M:
    """Build a pydantic model from file data, turning every validation error into an InputError.

    Each wrong value gives one problem in words: pydantic's several errors for a value that matches none of a
    field's forms (``"all"`` or a list) become one, and its type names never reach the message.

    Args:
        model: the model of the whole file (e.g. :class:`Scenario`).
        data: the parsed TOML table.
        source: the file, for messages.
        sections: models of nested tables by key, so an unknown key lists the fields known at its place.

    Raises:
        InputError: one problem; InputErrors: several, all reported.

    """
    if not isinstance(data, dict):
        raise InputError(source, "(top level)", "a table of fields", type(data).__name__)
    try:
        return model(**data)
    except ValidationError as exc:
        problems: dict[str, InputError] = {}
        by_field: dict[str, list[dict]] = {}
        for err in exc.errors():
            by_field.setdefault(_union_root(err["loc"]), []).append(err)
        for loc, errs in by_field.items():
            if len(errs) > 1 and loc:  # one value, several forms it failed: one message for the field
                last = loc.rsplit(".", 1)[-1]
                expected = _UNION_EXPECTED.get(last) or " or ".join(
                    dict.fromkeys(_problem(source, e, model, sections or {}).expected for e in errs))
                whole = min(errs, key=lambda e: len(e["loc"]))
                problems[loc] = InputError(source, loc, expected, _shown(whole.get("input")))
            else:
                problems[loc] = _problem(source, errs[0], model, sections or {})
        found = list(problems.values())
        raise found[0] if len(found) == 1 else InputErrors(source, found) from None
    except TypeError as exc:
        raise InputError(source, "(top level)", f"a table of fields ({exc})") from None


def _field_of(loc: tuple) -> str:
    """A location as a dotted field path, without the parts that name a form (``literal['all']``, ``int``)."""
    return ".".join(str(x) for x in loc if not (isinstance(x, str) and _FORM.match(x)))


def _union_root(loc: tuple) -> str:
    """The field a location belongs to: up to the first part naming a form, so a union's errors share one."""
    for k, x in enumerate(loc):
        if isinstance(x, str) and _FORM.match(x) and not x.startswith("function-"):
            return _field_of(loc[:k])
    return _field_of(loc)


def _shown(value: Any) -> Any:
    """A value worth repeating in a message (a short one), else None."""
    if isinstance(value, dict) or (isinstance(value, list) and len(repr(value)) > 80):
        return None
    return value


def _model_at(loc: tuple, root: type[BaseModel], sections: dict[str, type[BaseModel]]) -> type[BaseModel]:
    """The model whose fields are valid at a location of the data (for 'known fields' hints)."""
    model = root
    for part in loc:
        model = sections.get(str(part), model)
    return model


def _problem(source: str, err: dict, root: type[BaseModel], sections: dict[str, type[BaseModel]]) -> InputError:
    loc = _field_of(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        known = sorted(set(_model_at(err["loc"][:-1], root, sections).model_fields) - {"base_dir", "source_file"})
        expected = _EXPECTED[kind].format(known=", ".join(known))
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected', '')}"
    elif kind in _EXPECTED:
        expected = _EXPECTED[kind].format(**{k: v for k, v in ctx.items()})
    elif kind == "value_error":
        error = ctx.get("error", err["msg"])
        expected = str(error)
        if isinstance(error, FieldError):
            loc = f"{loc}.{error.field}" if loc else error.field
    else:
        expected = err["msg"]
    got = None if kind == "missing" else _shown(err.get("input"))
    return InputError(source, loc or "(top level)", expected, got)


def scenario_dirs() -> list[Path]:
    """Where scenario names are looked up: ./scenarios, then the scenarios shipped with the package."""
    dirs = [Path.cwd() / "scenarios"]
    bundled = Path(str(resources.files("quartiersim"))) / "bundled_scenarios"
    if bundled.is_dir():
        dirs.append(bundled)
    checkout = Path(__file__).resolve().parents[2] / "scenarios"
    if checkout.is_dir():
        dirs.append(checkout)
    return dirs


def find_scenario(name: str) -> Path:
    """The file of a named scenario (``name`` or ``name.toml`` in :func:`scenario_dirs`)."""
    stem = name[:-5] if name.endswith(".toml") else name
    for d in scenario_dirs():
        candidate = d / f"{stem}.toml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for d in scenario_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise InputError("scenario", "name", f"a scenario file or one of the names {', '.join(known)}", name)


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file's tables; a missing, unreadable or non-UTF-8 file or bad syntax is an InputError naming it."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "(file)", f"an existing {what} (TOML)") from None
    except IsADirectoryError:
        raise InputError(path, "(file)", f"{_a(what)} (TOML), not a directory") from None
    except PermissionError:
        raise InputError(path, "(file)", f"{_a(what)} you may read (permission denied)") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "(encoding)", f"{_a(what)} in UTF-8 text (byte {exc.start} is not UTF-8: save the "
                         "file as UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, "(syntax)", f"valid TOML ({exc})") from None
    except OSError as exc:
        raise InputError(path, "(file)", f"a readable {what} ({exc.strerror or exc})") from None


def _a(what: str) -> str:
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    path = Path(path)
    data = read_toml(path, "scenario file")
    if "scenario" in data and ({"outcomes", "levers", "priors", "targets"} & set(data)):
        kind = "calibration file (quartiersim calibrate)" if "priors" in data else "experiment file (quartiersim sweep)"
        raise InputError(path, "(file)", f"a scenario file (start, end, stadtteile, roles, ...); this is {_a(kind)}")
    data.setdefault("name", path.stem)
    data["base_dir"] = str(path.parent.resolve())
    data["source_file"] = str(path)
    return build_scenario(data, source=str(path))


def assign_path(data: dict[str, Any], path: str, value: Any, source: str, where: str | None = None) -> None:
    """Set a value in scenario data by a parameter name or a dotted path (list items by name or index).

    The one place that reads the paths of experiment levers (``verstetigung.strategy``, ``roles.NAME.fte``,
    ``allocation.budget_eur_per_year``), of ``simulate``'s and ``QuarterModel``'s overrides and of the EMA
    Workbench model. Errors name ``source`` and ``where`` (default: the path).
    """
    where = where or path
    parts = path.split(".")
    if len(parts) == 1 and parts[0] not in data:
        if parts[0] not in PARAMS_BY_NAME:
            close = close_names(parts[0])
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise InputError(source, where, "a scenario field (nested fields with dots, e.g. "
                             f"allocation.budget_eur_per_year) or a declared parameter{hint}")
        data["parameters"] = {**(data.get("parameters") or {}), parts[0]: value}
        return
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        here = ".".join(parts[: depth + 1])
        if isinstance(node, dict):
            if part not in node:
                raise InputError(source, where, f"a field of the scenario; '{here}' is not one (known: "
                                 f"{', '.join(sorted(node))})")
            child = node[part]
        elif isinstance(node, list):
            child = _path_element(node, part, source, where, here)
        else:
            raise InputError(source, where, f"a path into tables; '{here}' is a value")
        if child is None:
            raise InputError(source, where, f"a table the base scenario has; it has no [{here}] (add one to the "
                             "scenario, or set it in [set])")
        node = child
    last = parts[-1]
    if isinstance(node, list):
        raise InputError(source, where, "a path ending in a field (e.g. roles.NAME.fte)")
    if not isinstance(node, dict):
        raise InputError(source, where, "a path into tables")
    node[last] = value


def _path_element(items: list[Any], key: str, source: str, where: str, here: str) -> Any:
    if not items:
        raise InputError(source, where, f"a path into items the base scenario has; its {here.rsplit('.', 1)[0]} "
                         "list is empty (add them to the scenario, or set them in [set])", key)
    if key.isdigit() and int(key) < len(items):
        return items[int(key)]
    named = [x for x in items if isinstance(x, dict) and x.get("name") == key]
    if len(named) == 1:
        return named[0]
    names = [str(x.get("name")) for x in items if isinstance(x, dict) and x.get("name")]
    raise InputError(source, where, f"an index 0..{len(items) - 1} or the name of an item of "
                     f"{here.rsplit('.', 1)[0]}" + (f" ({'; '.join(names)})" if names else ""), key)


def resolve_scenario(scenario: str | Path | Scenario | None, check: bool = True, **overrides: Any) -> Scenario:
    """A Scenario from a path, a bundled name, a Scenario, or None (the default), with overrides applied.

    Args:
        scenario: a scenario file, a bundled name, a Scenario or scenario data, or None for the default.
        check: also check what the scenario needs from files and data (:func:`check_inputs`).
        **overrides: scenario fields or parameters.

    """
    if scenario is None:
        scenario = "default"
    if isinstance(scenario, Scenario):
        result = scenario
    elif isinstance(scenario, dict):
        result = build_scenario(scenario)
    else:
        text = str(scenario)
        path = Path(text)
        if path.suffix == ".toml" or path.exists() or "/" in text:
            result = load_scenario(path)
        else:
            result = load_scenario(find_scenario(text))
    result = result.with_overrides(**overrides) if overrides else result
    if check:
        check_inputs(result)
    return result


# ------------------------------------------------------------------------------------------------------------
# what a scenario needs from files: checked before a run starts
# ------------------------------------------------------------------------------------------------------------

def _file_state(path: Path | None) -> tuple[str, int, int] | None:
    """What identifies a data file's content cheaply (path, modification time, size), for the caches."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _cached_inputs(stadtteile: tuple | None, indicators: tuple | None) -> tuple[Any, Any, Any]:
    from quartiersim.data import load_city_indicators, load_indicators, load_stadtteile

    table = load_stadtteile(stadtteile[0] if stadtteile else None)
    city = load_city_indicators()
    return table, city, load_indicators(indicators[0] if indicators else None, stadtteile=table, city=city)


@functools.lru_cache(maxsize=16)
def _cached_ranking(stadtteile: tuple | None, indicators: tuple | None, method: str,
                    weights: tuple[tuple[str, float], ...]) -> Any:
    from quartiersim.areas import area_index

    table, city, indicators_table = _cached_inputs(stadtteile, indicators)
    return area_index(indicators_table, city, table, AreaIndexSpec(method=method, weights=dict(weights)))


def scenario_inputs(spec: Scenario) -> tuple[Any, Any, Any, Any]:
    """The Stadtteile table, the city-wide and per-Stadtteil indicators and the area index a scenario reads.

    Files are read and the index computed once per content (path, modification time, size) and area-index
    settings in a process; each call gets its own copies, so a caller may change them. A loop of short runs
    (a calibration's worker) saves reading and ranking the city anew for every run.

    Raises:
        ValueError: when the area index cannot be computed (:func:`quartiersim.areas.area_index`).

    """
    files = (_file_state(spec.path_of(spec.stadtteile_file)), _file_state(spec.path_of(spec.indicators_file)))
    table, city, indicators = _cached_inputs(*files)
    area = spec.area_index
    ranking = _cached_ranking(*files, area.method, tuple(area.weights.items()))
    return table.copy(), city.copy(), indicators.copy(), ranking.copy()


def check_inputs(spec: Scenario) -> None:
    """Check what a scenario needs beyond its own fields, as the model would meet it, before anything runs.

    The Stadtteile and indicator files load; the Stadtteile and Bezirke exist; the scale gives every
    populated Stadtteil of :data:`SCALE_CHECK_RESIDENTS` residents or more at least :data:`MIN_AGENTS`
    agents; every role serves only Stadtteile the run simulates (a role elsewhere would silently do nothing);
    the area index can be computed and the strategies give a plan. Files are read once per content.

    Raises:
        InputError: naming the scenario's file, the field and what was expected.

    """
    import numpy as np

    from quartiersim.data import select_stadtteile, simulated_rows
    from quartiersim.strategies import plan

    origin = spec.origin
    table, city, indicators = _cached_inputs(_file_state(spec.path_of(spec.stadtteile_file)),
                                             _file_state(spec.path_of(spec.indicators_file)))
    rows = simulated_rows(table, spec.stadtteile, spec.bezirke, origin)
    simulated = table.iloc[rows]
    numbers = set(simulated["number"].astype(int))
    pops = simulated["population"].to_numpy(dtype=float)
    if pops.sum() <= 0:
        raise InputError(origin, "stadtteile", "Stadtteile with residents of their own (these are counted inside a "
                         "neighbour: simulate that one)", spec.stadtteile)
    agents = np.where(pops > 0, np.maximum(np.rint(pops * spec.scale), 1), 0)
    large = pops >= SCALE_CHECK_RESIDENTS
    if agents.sum() < MIN_AGENTS or (agents[large] < MIN_AGENTS).any():
        smallest = float(pops[large].min()) if large.any() else float(pops.sum())
        need = MIN_AGENTS / smallest
        raise InputError(origin, "scale", f"a scale that gives every simulated Stadtteil of "
                         f"{SCALE_CHECK_RESIDENTS:,} residents or more (and the run) at least {MIN_AGENTS} agents: "
                         f"{need:.2g} or more here (the smallest has {smallest:,.0f} residents)", spec.scale)
    names = dict(zip(table["number"].astype(int), table["stadtteil"], strict=True))
    where = (f"the Stadtteile of {', '.join(spec.bezirke)}" if spec.bezirke is not None
             else "the scenario's stadtteile")
    for k, role in enumerate(spec.roles):
        if role.stadtteile == "all":
            continue
        served = select_stadtteile(table, role.stadtteile, source=origin, field=f"roles.{k}.stadtteile")
        outside = [int(n) for n in table["number"].iloc[served] if int(n) not in numbers]
        if outside:
            listed = ", ".join(f"{n} {names[n]}" for n in outside)
            raise InputError(origin, f"roles.{k}.stadtteile", f"Stadtteile the run simulates: role '{role.name}' "
                             f"serves {listed}, which is not among {where} (add it there, or take it out of the "
                             "role)", role.stadtteile)
    alloc = spec.allocation
    if alloc is not None and alloc.strategy == "pilot_only":
        chosen = select_stadtteile(table, alloc.stadtteile, source=origin, field="allocation.stadtteile")
        outside = [int(n) for n in table["number"].iloc[chosen] if int(n) not in numbers]
        if outside:
            raise InputError(origin, "allocation.stadtteile", f"pilot quarters the run simulates; "
                             f"{', '.join(f'{n} {names[n]}' for n in outside)} is not among {where}",
                             alloc.stadtteile)
    try:
        ranking = scenario_inputs(spec)[3]
    except ValueError as exc:
        raise InputError(origin, "area_index", str(exc)) from None
    plan(spec, table, ranking, simulated=sorted(numbers))
