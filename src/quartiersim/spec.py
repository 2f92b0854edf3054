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
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from quartiersim.errors import InputError, InputErrors
from quartiersim.parameters import ParameterSet, validate_parameters

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

StadtteilRef = int | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSpec(_Strict):
    """One municipal role (post) in a scenario."""

    name: str = Field(min_length=1)
    kind: Literal["sozialplanung", "vernetzungsstelle", "gesundheitsfoerderung", "gemeinwesenarbeit",
                  "stadtteilassistenz"]
    fte: float = Field(ge=0, le=100, description="posts (full-time equivalents)")
    stadtteile: Literal["all"] | list[StadtteilRef] = "all"
    start: dt.date
    end: dt.date
    tasks: dict[Literal["outreach", "advice", "networking", "events", "health_network", "steering"],
                float] | None = None
    cost_per_fte_eur: float | None = Field(default=None, ge=0)
    quartierstreff: bool = False

    @model_validator(mode="after")
    def _check(self) -> RoleSpec:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        if self.tasks is not None:
            if any(v < 0 for v in self.tasks.values()):
                raise ValueError("task shares must be >= 0")
            if sum(self.tasks.values()) > 1.0 + 1e-9:
                raise ValueError(f"task shares must add up to at most 1, got {sum(self.tasks.values()):g}")
        return self

    def task_shares(self) -> dict[str, float]:
        """Share of working time per task (defaults by kind)."""
        shares = dict(self.tasks) if self.tasks is not None else dict(DEFAULT_TASKS[self.kind])
        return {t: float(shares.get(t, 0.0)) for t in TASKS}


class Scenario(_Strict):
    """A validated scenario. Construct with :func:`load_scenario` or directly from keyword arguments."""

    name: str = "default"
    description: str = ""
    start: dt.date = dt.date(2024, 1, 1)
    end: dt.date = dt.date(2035, 12, 31)
    stadtteile: Literal["all"] | list[StadtteilRef] = "all"
    scale: float = Field(default=1.0, gt=0, le=1.0, description="agents per resident")
    report: Literal["weekly", "monthly", "quarterly", "yearly"] = "monthly"
    spinup_weeks: int = Field(default=104, ge=0, le=1040,
                              description="weeks simulated before start, without roles or reports")
    indicators_file: str | None = None
    stadtteile_file: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    roles: list[RoleSpec] = Field(default_factory=list)
    base_dir: str | None = Field(default=None, exclude=True)
    source_file: str | None = Field(default=None, exclude=True)

    @field_validator("stadtteile")
    @classmethod
    def _non_empty(cls, v: Any) -> Any:
        if isinstance(v, list) and not v:
            raise ValueError("list at least one Stadtteil, or \"all\"")
        return v

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if self.end < self.start + dt.timedelta(days=6):
            raise ValueError(f"end ({self.end}) must be at least one week after start ({self.start})")
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

    def with_overrides(self, **overrides: Any) -> Scenario:
        """A copy with scenario fields or parameters replaced (names of parameters go into ``parameters``)."""
        fields = set(type(self).model_fields) - {"base_dir", "source_file"}
        data = self.model_dump()
        data["base_dir"] = self.base_dir
        data["source_file"] = self.source_file
        params = dict(data.get("parameters") or {})
        for key, value in overrides.items():
            if key in fields and key != "parameters":
                data[key] = value
            elif key == "parameters":
                params.update(value)
            else:
                params[key] = value
        data["parameters"] = params
        return build_scenario(data, source=f"{self.origin} with overrides")

    def resolved(self) -> dict[str, Any]:
        """The scenario as plain data with every parameter spelled out, for metadata and reruns."""
        data = self.model_dump(mode="json")
        data["parameters"] = self.params.as_dict()
        data["roles"] = [dict(r, tasks=RoleSpec(**r).task_shares()) for r in data["roles"]]
        return data


def build_scenario(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate scenario data (a parsed TOML table), raising InputError with file, field and expectation."""
    try:
        scenario = Scenario(**data)
    except ValidationError as exc:
        problems = [_problem(source, err) for err in exc.errors()]
        raise problems[0] if len(problems) == 1 else InputErrors(source, problems) from None
    except TypeError as exc:
        raise InputError(source, "(top level)", f"a table of scenario fields ({exc})") from None
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


def _problem(source: str, err: dict) -> InputError:
    loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("function-after", "list[")))
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        top = err["loc"][0] if len(err["loc"]) == 1 else None
        known = sorted(set(Scenario.model_fields) - {"base_dir", "source_file"}) if top else sorted(
            set(RoleSpec.model_fields))
        expected = _EXPECTED[kind].format(known=", ".join(known))
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected', '')}"
    elif kind in _EXPECTED:
        expected = _EXPECTED[kind].format(**{k: v for k, v in ctx.items()}) if ctx else _EXPECTED[kind]
    elif kind == "value_error":
        expected = str(ctx.get("error", err["msg"]))
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


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(path, "(file)", "an existing scenario file (TOML)") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(path, "(syntax)", f"valid TOML ({exc})") from None
    data.setdefault("name", path.stem)
    data["base_dir"] = str(path.parent.resolve())
    data["source_file"] = str(path)
    return build_scenario(data, source=str(path))


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
