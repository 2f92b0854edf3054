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
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quartiersim.areas import AreaIndexSpec
from quartiersim.data import load_pay_grades
from quartiersim.errors import InputError, InputErrors
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    date: dt.date
    fte: float | None = Field(default=None, ge=0, le=100)
    tasks: dict[Task, float] | None = None
    pay_grade: str | None = None
    cost_per_fte_eur: float | None = Field(default=None, ge=0)
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
    start: dt.date
    end: dt.date
    tasks: dict[Task, float] | None = None
    pay_grade: str | None = None
    cost_per_fte_eur: float | None = Field(default=None, ge=0)
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
    cost_per_fte_eur: float | None = Field(default=None, ge=0)
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
    start: dt.date = dt.date(2028, 1, 1)
    new_stadtteile_per_year: int = Field(default=3, ge=0, le=152)
    years_per_area: float = Field(default=8.0, gt=0, le=30)
    budget_eur_per_year: float = Field(default=1_000_000.0, ge=0)
    max_posts: float | None = Field(default=None, ge=0)
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

    start: dt.date = dt.date(2026, 1, 1)
    end: dt.date | None = None
    budget_eur_per_year: float = Field(default=100_000.0, ge=0)
    grant_eur: float = Field(default=5_000.0, gt=0)
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
    start: dt.date = dt.date(2024, 1, 1)
    end: dt.date = dt.date(2035, 12, 31)
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
    pilot_end: dt.date = Field(default=dt.date(2027, 12, 31), description="last day of the pilot phase; the end "
                               "of roles that give none")
    phase3_start: dt.date = Field(default=dt.date(2028, 1, 1), description="first day of Phase 3; the start of "
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

    @field_validator("stadtteile")
    @classmethod
    def _non_empty(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("list at least one Stadtteil, or \"all\"")
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
    "date_parsing": "a date such as 2024-01-01",
    "date_type": "a date such as 2024-01-01",
    "literal_error": "{ctx}",
    "greater_than": "a number > {gt}",
    "greater_than_equal": "a number >= {ge}",
    "less_than_equal": "a number <= {le}",
    "float_parsing": "a number",
    "float_type": "a number",
    "missing": "this field to be given",
}


_SECTIONS: dict[str, type[BaseModel]] = {
    "roles": RoleSpec, "changes": RoleChange, "allocation": AllocationSpec, "team": TeamRole,
    "verstetigung": VerstetigungSpec, "initiative_funding": FundingSpec, "area_index": AreaIndexSpec,
}


def validate_model[M: BaseModel](model: type[M], data: dict[str, Any], source: str,
                                 sections: dict[str, type[BaseModel]] | None = None) -> M:
    """Build a pydantic model from file data, turning every validation error into an InputError.

    Args:
        model: the model of the whole file (e.g. :class:`Scenario`).
        data: the parsed TOML table.
        source: the file, for messages.
        sections: models of nested tables by key, so an unknown key lists the fields known at its place.

    Raises:
        InputError: one problem; InputErrors: several, all reported.

    """
    try:
        return model(**data)
    except ValidationError as exc:
        problems = [_problem(source, err, model, sections or {}) for err in exc.errors()]
        raise problems[0] if len(problems) == 1 else InputErrors(source, problems) from None
    except TypeError as exc:
        raise InputError(source, "(top level)", f"a table of fields ({exc})") from None


def _model_at(loc: tuple, root: type[BaseModel], sections: dict[str, type[BaseModel]]) -> type[BaseModel]:
    """The model whose fields are valid at a location of the data (for 'known fields' hints)."""
    model = root
    for part in loc:
        model = sections.get(str(part), model)
    return model


def _problem(source: str, err: dict, root: type[BaseModel], sections: dict[str, type[BaseModel]]) -> InputError:
    loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("function-after", "list[")))
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        known = sorted(set(_model_at(err["loc"][:-1], root, sections).model_fields) - {"base_dir", "source_file"})
        expected = _EXPECTED[kind].format(known=", ".join(known))
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected', '')}"
    elif kind in _EXPECTED:
        expected = _EXPECTED[kind].format(**{k: v for k, v in ctx.items()}) if ctx else _EXPECTED[kind]
    elif kind == "value_error":
        error = ctx.get("error", err["msg"])
        expected = str(error)
        if isinstance(error, FieldError):
            loc = f"{loc}.{error.field}" if loc else error.field
    else:
        expected = err["msg"]
    got = err.get("input")
    if isinstance(got, dict | list) or kind == "missing":
        got = None
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
    """A TOML file's tables; a missing file, a directory or bad syntax is an InputError naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "(file)", f"an existing {what} (TOML)") from None
    except IsADirectoryError:
        raise InputError(path, "(file)", f"a {what} (TOML), not a directory") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, "(syntax)", f"valid TOML ({exc})") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    path = Path(path)
    data = read_toml(path, "scenario file")
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
    if key.isdigit() and int(key) < len(items):
        return items[int(key)]
    named = [x for x in items if isinstance(x, dict) and x.get("name") == key]
    if len(named) == 1:
        return named[0]
    names = [str(x.get("name")) for x in items if isinstance(x, dict) and x.get("name")]
    raise InputError(source, where, f"an index 0..{len(items) - 1} or the name of an item of "
                     f"{here.rsplit('.', 1)[0]}" + (f" ({'; '.join(names)})" if names else ""), key)


def resolve_scenario(scenario: str | Path | Scenario | None, **overrides: Any) -> Scenario:
    """A Scenario from a path, a bundled name, a Scenario, or None (the default), with overrides applied."""
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
    return result.with_overrides(**overrides) if overrides else result
