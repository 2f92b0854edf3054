"""Experiment files for ``quartiersim sweep``: a base scenario, levers, uncertainties, a design, seeds, outcomes.

An experiment file (TOML, in ``experiments/``)::

    name = "verstetigung_uncertainty"
    description = "Two Verstetigung strategies under uncertain visiting and contagion"
    scenario = "verstetigung_funding_ends"   # a bundled scenario name, or a file relative to this one
    seeds = 5                                 # replicate seeds 0..4 for every design point (or a list)
    store = "city"                            # what each run keeps: "city" (Stuttgart and the Stadtteile
                                              # the outcomes name) or "all" (every Stadtteil)

    [set]                                     # fixed changes to the base scenario: fields or parameters
    scale = 0.2

    [levers]                                  # what planners choose: a list of values each, all combined
    "verstetigung.strategy" = ["funding_ends", "permanent_posts"]
    "roles.Gemeinwesenarbeit Neckarvorstadt.fte" = [0.5, 1.0]   # a role by name (or index), a field
    place_capacity_factor = [0.5, 1.0]        # a parameter

    [uncertainties]                           # parameter ranges, inside the declared ranges
    visit_base = [0.08, 0.16]                 # low, high
    lonely_contagion = {relative = 0.5}       # the default +- 50 % (clipped to the declared range)
    tie_half_life = {low = 8, high = 26}

    [design]
    method = "latin_hypercube"                # full_factorial | latin_hypercube | sobol | morris
    samples = 20                              # see below
    seed = 0                                  # the sampling seed

    [[outcomes]]
    indicator = "lonely_adults"               # any indicator of the results table
    year = 2030                               # its value in 2030

    [[outcomes]]
    name = "cost_2028_2032"
    indicator = "cost_eur"
    years = [2028, 2032]
    aggregate = "sum"                         # sum | mean | min | max | change (last year minus first)
    stadtteil = "Stuttgart"                   # the default; or a simulated Stadtteil's number or name
    group = "all"                             # the default; or a population group

**Design points.** Every combination of lever values (a full factorial over the levers) is crossed with every
sample of the uncertainties, and each design point runs once per seed with common random numbers. Samples:

* ``full_factorial``: ``levels`` evenly spaced values (default 3) of each uncertainty, all combined (integer
  parameters: the distinct whole numbers among them). Without uncertainties, the lever combinations alone.
* ``latin_hypercube``: ``samples`` points (default 20), SALib's Latin hypercube.
* ``sobol``: Saltelli's scheme through SALib (``samples`` = N, a power of 2, default 64): N (D + 2) points for
  D uncertainties, N (2D + 2) with ``second_order = true``. For ``quartiersim sensitivity``.
* ``morris``: ``samples`` trajectories (default 10) on a grid of ``levels`` levels (default 4): N (D + 1)
  points. For ``quartiersim sensitivity``.

Integer parameters are sampled as real numbers and rounded to the nearest whole number when applied; the
design table lists the value as sampled. Outcome values follow :func:`quartiersim.outputs.yearly`: stocks at
the end of the year, flows summed over the year.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quartiersim.data import load_stadtteile, read_csv_text, select_stadtteile, simulated_rows
from quartiersim.errors import InputError
from quartiersim.files import check_name
from quartiersim.outputs import CITY, GROUPS, INDICATORS, STADTTEIL_INDICATORS, yearly
from quartiersim.parameters import PARAMS_BY_NAME, close_names
from quartiersim.spec import (
    FieldError,
    Scenario,
    assign_path,
    build_scenario,
    check_inputs,
    read_toml,
    resolve_scenario,
    validate_model,
)

METHODS = ("full_factorial", "latin_hypercube", "sobol", "morris", "posterior")
AGGREGATES = ("value", "sum", "mean", "min", "max", "change")
DEFAULT_SAMPLES = {"latin_hypercube": 20, "sobol": 64, "morris": 10, "posterior": 20}
DEFAULT_LEVELS = {"full_factorial": 3, "morris": 4}
_LOCAL_INDICATORS = {name for name, _, _ in STADTTEIL_INDICATORS}


#: Seeds are stored as 32-bit integers (the ``seed`` column of every run file) and passed to numpy and SALib:
#: 0 <= seed < 2**31 fits all of them.
SEED_LIMIT = 2**31
#: The most seeds per design point: replicates beyond a few hundred narrow nothing a planner reads, and each
#: is a full simulation.
MAX_SEEDS = 10_000
#: The most runs one sweep may hold (design points x seeds). At a second each that is eleven days on one
#: core; the store keeps one file per run, and the design table is built in memory.
MAX_RUNS = 1_000_000
#: The most values one lever may take.
MAX_LEVER_VALUES = 1_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OutcomeSpec(_Strict):
    """One outcome kept from every run: an indicator, group and Stadtteil, aggregated over years."""

    name: str | None = Field(default=None, min_length=1)
    indicator: str
    group: str = "all"
    stadtteil: int | str = CITY
    year: int | None = None
    years: list[int] | None = None
    aggregate: Literal["value", "sum", "mean", "min", "max", "change"] = "value"

    @model_validator(mode="after")
    def _check(self) -> OutcomeSpec:
        if self.indicator not in INDICATORS:
            raise FieldError("indicator", "an indicator of the results table: " + ", ".join(INDICATORS))
        if self.group not in GROUPS:
            raise FieldError("group", "a group: " + ", ".join(GROUPS))
        if self.indicator in _LOCAL_INDICATORS and self.group != "all":
            raise FieldError("group", f"'all' ({self.indicator} is a Stadtteil-level indicator)")
        if self.aggregate == "value":
            if self.year is None or self.years is not None:
                raise FieldError("year", "a year (e.g. year = 2030) for aggregate 'value'; or years = [from, to] "
                                 "with aggregate sum, mean, min, max or change")
        elif self.years is None or len(self.years) != 2 or self.years[0] > self.years[1] or self.year is not None:
            raise FieldError("years", f"years = [from, to] with from <= to for aggregate '{self.aggregate}'")
        return self

    @property
    def first_year(self) -> int:
        """The first year the outcome reads."""
        return self.year if self.year is not None else self.years[0]  # type: ignore[index]

    @property
    def last_year(self) -> int:
        """The last year the outcome reads."""
        return self.year if self.year is not None else self.years[1]  # type: ignore[index]

    @property
    def label(self) -> str:
        """The outcome's column name: ``name``, or one made from indicator, years, group and Stadtteil."""
        if self.name:
            return self.name
        when = str(self.year) if self.aggregate == "value" else f"{self.aggregate}_{self.first_year}_{self.last_year}"
        parts = [self.indicator, when]
        if self.group != "all":
            parts.append(self.group)
        if str(self.stadtteil) != CITY:
            parts.append(str(self.stadtteil).replace(" ", "_"))
        return "_".join(parts)


class DesignSpec(_Strict):
    """How the uncertainties are sampled (the levers are always combined in full)."""

    method: Literal["full_factorial", "latin_hypercube", "sobol", "morris", "posterior"] = "full_factorial"
    file: str | None = Field(default=None, description="posterior: the posterior sample (CSV) to draw from")
    samples: int | None = Field(default=None, ge=1, le=1_000_000)
    levels: int | None = Field(default=None, ge=2, le=1000)
    second_order: bool = False
    seed: int = Field(default=0, ge=0, lt=SEED_LIMIT)


class ExperimentFile(_Strict):
    """The tables of an experiment file, as written."""

    name: str = Field(min_length=1)
    description: str = ""
    scenario: str = Field(min_length=1)
    seeds: int | list[int] = 5
    store: Literal["city", "all"] = "city"
    resolution: Literal["yearly", "report"] = "yearly"
    set: dict[str, Any] = Field(default_factory=dict)
    levers: dict[str, list[Any]] = Field(default_factory=dict)
    uncertainties: dict[str, Any] = Field(default_factory=dict)
    design: DesignSpec = Field(default_factory=DesignSpec)
    outcomes: list[OutcomeSpec] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)


_SECTIONS: dict[str, type[BaseModel]] = {"design": DesignSpec, "outcomes": OutcomeSpec}


@dataclass(frozen=True)
class Uncertainty:
    """A parameter range to sample."""

    name: str
    low: float
    high: float
    integer: bool

    def apply(self, value: float) -> float | int:
        """The value a run uses (integer parameters rounded)."""
        return int(round(value)) if self.integer else float(value)


@dataclass
class Experiment:
    """A validated experiment: the design points with the scenario each runs, the seeds and the outcomes.

    Attributes:
        design: one row per design point: ``point``, ``lever_set`` (the lever combination), ``sample`` (the
            uncertainty sample) and one column per lever and uncertainty.
        lever_data: the scenario data of each lever combination (the base with ``[set]`` and the levers).

    """

    name: str
    description: str
    source: str
    base: Scenario
    seeds: list[int]
    store: str
    resolution: str
    levers: dict[str, list[Any]]
    uncertainties: list[Uncertainty]
    method: str
    settings: dict[str, Any]
    outcomes: list[OutcomeSpec]
    outcome_stadtteile: list[str]
    design: pd.DataFrame
    lever_data: list[dict[str, Any]] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def n_points(self) -> int:
        """The number of design points."""
        return len(self.design)

    @property
    def labels(self) -> list[str]:
        """The outcome names."""
        return [o.label for o in self.outcomes]

    @property
    def factors(self) -> list[str]:
        """Lever and uncertainty names, in design-table order."""
        return [*self.levers, *(u.name for u in self.uncertainties)]

    def scenario_data(self, point: int) -> dict[str, Any]:
        """The data of the scenario a design point runs (``Scenario(**data)`` rebuilds it)."""
        row = self.design.iloc[point]
        data = copy.deepcopy(self.lever_data[int(row["lever_set"])])
        data["parameters"] = {**data["parameters"], **{u.name: u.apply(row[u.name]) for u in self.uncertainties}}
        return data

    def keep(self) -> list[str] | None:
        """The Stadtteile each run keeps (None: all of them)."""
        return None if self.store == "all" else sorted({CITY, *self.outcome_stadtteile})

    def problem(self) -> dict[str, Any]:
        """The uncertainties as a SALib problem."""
        return {"num_vars": len(self.uncertainties), "names": [u.name for u in self.uncertainties],
                "bounds": [[u.low, u.high] for u in self.uncertainties]}

    def identity(self) -> dict[str, Any]:
        """What makes two sweeps the same (for resuming): base scenario, design, outcomes and storage."""
        design = self.design.astype(object).where(self.design.notna(), None).to_dict(orient="records")
        ident = {"base": self.base.resolved(), "method": self.method, "settings": self.settings,
                 "design": design, "lever_data": self.lever_data, "outcomes": [o.model_dump() for o in self.outcomes],
                 "store": self.store, "resolution": self.resolution}
        return json.loads(json.dumps(ident, default=str))

    def outcome_values(self, table: pd.DataFrame) -> dict[str, float]:
        """The outcomes of one run from its yearly table (:func:`quartiersim.outputs.yearly`) or tidy table."""
        values = outcome_values_of(table, list(zip(self.outcomes, self.outcome_stadtteile, strict=True)))
        return {o.label: v for o, v in zip(self.outcomes, values, strict=True)}


def outcome_value(table: pd.DataFrame, outcome: OutcomeSpec, stadtteil: str) -> float:
    """One outcome from a yearly table: the year's value, or an aggregate over a range of years.

    A table by reporting period (with ``date``, as ``simulate`` returns it) is made yearly first.
    """
    return outcome_values_of(table, [(outcome, stadtteil)])[0]


def outcome_values_of(table: pd.DataFrame, wanted: Sequence[tuple[OutcomeSpec, str]]) -> list[float]:
    """Several outcomes of one run at once, each ``(outcome, Stadtteil name)`` as :func:`outcome_value` gives it.

    The table is made yearly once (if it is by reporting period) and searched once for each distinct
    Stadtteil, indicator and group; the aggregates are numpy's over the years, as pandas computes them.
    """
    if "year" not in table.columns:
        table = yearly(table)
    keys = key_columns(table)
    years = table["year"].to_numpy()
    values = table["value"].to_numpy(dtype=float)
    series: dict[tuple[str, str, str], dict[int, float]] = {}
    out = []
    for outcome, stadtteil in wanted:
        key = (stadtteil, outcome.indicator, outcome.group)
        if key not in series:
            rows = rows_of(keys, key)
            series[key] = dict(zip(years[rows].tolist(), values[rows].tolist(), strict=True))
        out.append(_aggregate(series[key], outcome))
    return out


def key_columns(table: pd.DataFrame) -> list[Any]:
    """A results table's stadtteil, indicator and group columns as arrays, for :func:`rows_of`.

    Compared as arrays (categorical ones as their categories' codes): every pandas Series made from a run's table
    would copy its attrs (the run's scenario) deeply.
    """
    return [table[c].array if isinstance(table[c].dtype, pd.CategoricalDtype) else table[c].to_numpy()
            for c in ("stadtteil", "indicator", "group")]


def rows_of(keys: list[Any], key: tuple[str, str, str]) -> np.ndarray:
    """Which rows hold ``key`` (Stadtteil, indicator, group), from the columns :func:`key_columns` gives."""
    return np.logical_and.reduce([np.asarray(col == x, dtype=bool) for col, x in zip(keys, key, strict=True)])


def _aggregate(by_year: dict[int, float], outcome: OutcomeSpec) -> float:
    """An outcome's value from its row's values by year; NaN where a year it reads has none."""
    if outcome.aggregate == "value":
        return float(by_year.get(outcome.year, math.nan))  # type: ignore[arg-type]
    first, last = outcome.first_year, outcome.last_year
    if outcome.aggregate == "change":
        return float(by_year.get(last, math.nan) - by_year.get(first, math.nan))
    span = np.array([by_year.get(year, math.nan) for year in range(first, last + 1)])
    if np.isnan(span).any():
        return math.nan
    return float(getattr(np, outcome.aggregate)(span))


def outcome(table: pd.DataFrame, indicator: str, year: int | tuple[int, int] | None = None,
            stadtteil: int | str = CITY, group: str = "all", how: str = "value") -> float:
    """One number from a run's table, as an experiment file's outcome (for EMA Workbench, notebooks, scripts).

    Stocks (shares, ties, active initiatives) count at the end of a year, flows (visits, drop-outs, hours,
    cost) are summed over the year, as in :func:`quartiersim.outputs.yearly`.

    Args:
        table: the tidy table ``simulate`` returns (or its yearly table).
        indicator: an indicator of the table, e.g. ``"lonely_share"``.
        year: the year for ``how="value"`` (default: the table's last year), or ``(from, to)`` for the others.
        stadtteil: ``"Stuttgart"`` (the total of the simulated Stadtteile), or a simulated Stadtteil's name or
            number.
        group: a population group (resident indicators only).
        how: ``"value"`` (the year's value), or ``"sum"``, ``"mean"``, ``"min"``, ``"max"`` or ``"change"`` (last
            year minus first) over ``year = (from, to)``.

    Returns:
        The number; NaN where a year in range has no value.

    Raises:
        InputError: an unknown indicator, group, aggregate or Stadtteil, or years the table does not have.

    """
    if "year" not in table.columns:

        table = yearly(table)
    years = sorted(int(y) for y in pd.unique(table["year"]))
    if year is None:
        year = years[-1] if how == "value" else (years[0], years[-1])
    data: dict[str, Any] = {"indicator": indicator, "group": group, "stadtteil": stadtteil, "aggregate": how}
    if isinstance(year, tuple | list):
        data["years"] = [int(y) for y in year]
    else:
        data["year"] = int(year)
    spec = validate_model(OutcomeSpec, data, "outcome()", {})
    if not (years[0] <= spec.first_year and spec.last_year <= years[-1]):
        raise InputError("outcome()", "year", f"years the table has ({years[0]} to {years[-1]})", year)
    places = set(table["stadtteil"].astype(str))
    name = str(stadtteil)
    if isinstance(stadtteil, int) or name.isdigit():
        table_st = load_stadtteile()
        rows = select_stadtteile(table_st, [stadtteil], source="outcome()", field="stadtteil")
        name = str(table_st["stadtteil"].iloc[rows[0]])
    if name not in places:
        raise InputError("outcome()", "stadtteil", f"'{CITY}' or a Stadtteil in the table: "
                         + ", ".join(sorted(places - {CITY})), stadtteil)
    return outcome_value(table, spec, name)


# ------------------------------------------------------------------------------------------------------------
# reading and validating
# ------------------------------------------------------------------------------------------------------------

def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; every problem names the file, the field and what was expected."""
    path = Path(path)
    data = read_toml(path, "experiment file")
    if "scenario" not in data and {"start", "end", "stadtteile", "bezirke", "roles", "scale"} & set(data):
        raise InputError(path, "(file)", "an experiment file (scenario, levers, outcomes; see experiments/); this is "
                         "a scenario file: run it with 'quartiersim run', or name it in an experiment's 'scenario'")
    data.setdefault("name", path.stem)
    return build_experiment(data, source=str(path), base_dir=path.parent)


def build_experiment(data: dict[str, Any], source: str = "experiment", base_dir: str | Path = ".") -> Experiment:
    """Validate experiment data (a parsed TOML table) and lay out its design points."""
    spec = validate_model(ExperimentFile, data, source, _SECTIONS)
    seeds = _seeds(spec.seeds, source)
    base = base_scenario(spec.scenario, spec.set, source, Path(base_dir))
    uncertainties = [parameter_range(name, value, source) for name, value in spec.uncertainties.items()]
    posterior = None
    if spec.design.method == "posterior":
        if uncertainties:
            raise InputError(source, "uncertainties", "no uncertainties with design method 'posterior' (the "
                             "parameters come from the posterior file)")
        posterior = _posterior(spec.design, source, Path(base_dir))
        uncertainties = posterior[0]
    elif spec.design.file is not None:
        raise InputError(source, "design.file", "a file only with design method 'posterior'")
    for u in uncertainties:
        if u.name in spec.levers or f"parameters.{u.name}" in spec.levers:
            raise InputError(source, f"uncertainties.{u.name}", "a parameter that is not also a lever")
    for path, values in spec.levers.items():
        if not values or len(values) > MAX_LEVER_VALUES:
            raise InputError(source, f"levers.{path}", f"a list of 1 to {MAX_LEVER_VALUES:,} values", len(values))
    if not spec.levers and not uncertainties:
        raise InputError(source, "design", "at least one lever or uncertainty to vary (an experiment that varies "
                         "nothing is one scenario: use 'quartiersim run' or 'quartiersim compare --seeds')")
    method = spec.design.method
    settings = _settings(spec.design, uncertainties, source)
    n_combos = math.prod(len(v) for v in spec.levers.values())
    n_points = n_combos * _samples_count(uncertainties, method, settings)
    if n_points * len(seeds) > MAX_RUNS:
        raise InputError(source, "design", f"at most {MAX_RUNS:,} runs (design points x seeds); this design has "
                         f"{n_points:,} points x {len(seeds):,} seeds (fewer levels, samples, lever values or seeds)")
    base_data = base.as_data()
    for path, values in spec.levers.items():  # each value alone, so a bad one is named precisely
        for value in values:
            _scenario_with(base_data, {path: value}, source, f"levers.{path}", check=False)
    combos = list(itertools.product(*spec.levers.values())) if spec.levers else [()]
    lever_data = []
    for combo in combos:
        choice = dict(zip(spec.levers, combo, strict=True))
        lever_data.append(_scenario_with(base_data, choice, source, "levers").as_data())
    samples = posterior[1] if posterior is not None else _samples(uncertainties, method, settings)
    design = _design_table(spec.levers, combos, uncertainties, samples)
    outcome_stadtteile = check_outcomes(spec.outcomes, lever_data, source)
    return Experiment(name=spec.name, description=spec.description, source=source, base=base, seeds=seeds,
                      store=spec.store, resolution=spec.resolution, levers=dict(spec.levers),
                      uncertainties=uncertainties, method=method, settings=settings, outcomes=list(spec.outcomes),
                      outcome_stadtteile=outcome_stadtteile,
                      design=design, lever_data=lever_data, raw=data)


def _seeds(seeds: int | list[int], source: str) -> list[int]:
    expected = (f"a number of seeds from 1 to {MAX_SEEDS:,}, or a list of at most {MAX_SEEDS:,} distinct seeds, "
                f"each 0 <= seed < 2**31 ({SEED_LIMIT:,})")
    if isinstance(seeds, int) and not 1 <= seeds <= MAX_SEEDS:
        raise InputError(source, "seeds", expected, seeds)
    out = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not out or len(out) > MAX_SEEDS or any(not 0 <= s < SEED_LIMIT for s in out) or len(set(out)) < len(out):
        raise InputError(source, "seeds", expected, seeds if len(repr(seeds)) < 80 else None)
    return out


def base_scenario(text: str, fixed: dict[str, Any], source: str, base_dir: Path, check: bool = True) -> Scenario:
    """The scenario a file names (a bundled name, or a path relative to ``base_dir``) with ``[set]`` applied.

    Args:
        text: the ``scenario`` field.
        fixed: the ``[set]`` table.
        source: the experiment or calibration file, for messages.
        base_dir: where relative scenario paths start.
        check: check what the scenario needs from files (:func:`~quartiersim.spec.check_inputs`) with ``[set]``
            applied; an experiment with levers checks each lever combination instead.

    Raises:
        InputError: naming ``source`` and the field (``scenario``, ``set.<key>``), not the base scenario's file.

    """
    if text.endswith(".toml") or "/" in text:
        path = Path(text)
        scenario = resolve_scenario(path if path.is_absolute() else base_dir / path, check=False)
    else:
        try:
            scenario = resolve_scenario(text, check=False)
        except InputError as exc:
            raise InputError(source, "scenario", exc.expected, text) from None
    for key, value in fixed.items():
        try:
            scenario = scenario.with_overrides(**{key: value})
        except InputError as exc:
            raise InputError(source, f"set.{key}", exc.expected, value) from None
    if check:
        checked(scenario, source, "set" if fixed else "scenario", fixed)
    return scenario


def checked(scenario: Scenario, source: str, where: str, changed: dict[str, Any]) -> Scenario:
    """:func:`~quartiersim.spec.check_inputs` with errors named by the experiment's field that caused them.

    Args:
        scenario: the scenario with the experiment's changes applied.
        source: the experiment (or calibration) file.
        where: the field to blame: ``set``, ``scenario`` or a lever.
        changed: the changes applied (a change whose key the error names is blamed by name).

    """
    try:
        check_inputs(scenario)
    except InputError as exc:
        root = exc.field.split(".")[0]
        named = [k for k, v in changed.items() if isinstance(v, str) and Path(v).name == Path(exc.source).name]
        if where == "set" and named:  # a data file that [set] names
            root = named[0]
        field_name = f"{where}.{root}" if where == "set" and root in changed else where
        detail = f"{exc.field}: {exc.expected}" if field_name != f"{where}.{root}" else exc.expected
        if exc.source != scenario.origin and exc.source != source:
            detail += f" (in {exc.source})"
        raise InputError(source, field_name, detail, exc.got) from None
    return scenario


def parameter_range(name: str, value: Any, source: str, section: str = "uncertainties") -> Uncertainty:
    """A declared parameter's range from a file (``[low, high]``, ``{low, high}``, ``{relative}``, "declared")."""
    where = f"{section}.{name}"
    p = PARAMS_BY_NAME.get(name.removeprefix("parameters."))
    if p is None:
        close = close_names(name)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InputError(source, where, f"a declared parameter name{hint}; see 'quartiersim params'")
    form = "[low, high], {low = ..., high = ...}, {relative = r} (the default +- r) or \"declared\""
    if value == "declared":
        low, high = p.low, p.high
    elif isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value):
        low, high = float(value[0]), float(value[1])
    elif isinstance(value, dict) and set(value) == {"low", "high"} and all(_is_number(v) for v in value.values()):
        low, high = float(value["low"]), float(value["high"])
    elif isinstance(value, dict) and set(value) == {"relative"} and _is_number(value["relative"]) \
            and value["relative"] > 0:
        if p.default == 0:
            raise InputError(source, where, "bounds given as [low, high] (the default is 0, so a relative range is "
                             "empty)", value)
        r = float(value["relative"])
        low, high = sorted((p.default * (1 - r), p.default * (1 + r)))
        low, high = max(low, p.low), min(high, p.high)
    else:
        raise InputError(source, where, form, value)
    if not (p.low <= low < high <= p.high):
        raise InputError(source, where, f"bounds with low < high inside the declared range [{p.low:g}, {p.high:g}] "
                         f"{p.unit} of {p.name}", [low, high])
    return Uncertainty(p.name, low, high, p.integer)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _settings(design: DesignSpec, uncertainties: list[Uncertainty], source: str) -> dict[str, Any]:
    method = design.method
    if method != "full_factorial" and not uncertainties:
        raise InputError(source, "uncertainties", f"at least one parameter range for design method '{method}' "
                         "(or method = 'full_factorial' for levers alone)")
    if design.samples is not None and method == "full_factorial":
        raise InputError(source, "design.samples", "no samples for full_factorial (it uses 'levels')")
    if design.levels is not None and method in ("latin_hypercube", "sobol"):
        raise InputError(source, "design.levels", f"no levels for {method} (it uses 'samples')")
    if design.second_order and method != "sobol":
        raise InputError(source, "design.second_order", "second_order only with method 'sobol'")
    samples = design.samples or DEFAULT_SAMPLES.get(method)
    levels = design.levels or DEFAULT_LEVELS.get(method)
    if method == "sobol" and samples is not None and samples & (samples - 1):
        raise InputError(source, "design.samples", "a power of 2 for the Sobol design (e.g. 32, 64, 128)", samples)
    if method == "morris" and samples is not None and samples < 2:
        raise InputError(source, "design.samples", "at least 2 Morris trajectories", samples)
    if method == "posterior" and design.levels is not None:
        raise InputError(source, "design.levels", "no levels for posterior (it uses 'samples')")
    settings = {"samples": samples, "levels": levels, "second_order": design.second_order, "seed": design.seed}
    if method == "posterior":
        settings["file"] = design.file
    return settings


def _posterior(design: DesignSpec, source: str, base_dir: Path) -> tuple[list[Uncertainty], np.ndarray]:
    """Parameter sets drawn (with replacement, by weight) from a posterior sample: ``calibrate``'s posterior.csv."""
    if design.file is None:
        raise InputError(source, "design.file", "the posterior sample to draw from (e.g. posterior.csv written by "
                         "'quartiersim calibrate') for design method 'posterior'")
    path = Path(design.file) if Path(design.file).is_absolute() else base_dir / design.file
    if not path.is_file() and not path.is_dir():
        raise InputError(source, "design.file", "an existing posterior sample (CSV)", str(path))
    table = read_csv_text(path, "posterior sample (CSV as 'quartiersim calibrate' writes it)")
    if "weight" not in table.columns or len(table) == 0:
        raise InputError(path, "weight", "a column of particle weights and at least one row")
    names = [c for c in table.columns if c not in ("weight", "generation", "particle")]
    if not names:
        raise InputError(path, "(columns)", "one column per calibrated parameter besides 'weight'")
    ranges = []
    numbers = pd.DataFrame({name: pd.to_numeric(table[name], errors="coerce") for name in names})
    for name in names:
        p = PARAMS_BY_NAME.get(name)
        values = numbers[name]
        if p is None:
            raise InputError(path, name, "declared parameter names as columns (see 'quartiersim params')")
        if values.isna().any() or (values < p.low).any() or (values > p.high).any():
            raise InputError(path, name, f"numbers in the declared range [{p.low:g}, {p.high:g}]")
        ranges.append(Uncertainty(name, float(values.min()), float(values.max()), p.integer))
    weights = pd.to_numeric(table["weight"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise InputError(path, "weight", "finite weights >= 0 with a positive sum")
    rng = np.random.default_rng(design.seed)
    rows = rng.choice(len(table), size=design.samples or DEFAULT_SAMPLES["posterior"], p=weights / weights.sum())
    return ranges, numbers.to_numpy(dtype=float)[rows]


def _samples_count(uncertainties: list[Uncertainty], method: str, settings: dict[str, Any]) -> int:
    """How many samples :func:`_samples` will draw, computed before drawing them (to refuse a huge design)."""
    d, n = len(uncertainties), settings["samples"]
    if not d:
        return 1
    if method == "full_factorial":
        return math.prod(len(np.unique(np.round(np.linspace(u.low, u.high, min(settings["levels"], 10_000)))))
                         if u.integer else settings["levels"] for u in uncertainties)
    if method == "sobol":
        return n * (2 * d + 2 if settings["second_order"] else d + 2)
    if method == "morris":
        return n * (d + 1)
    return n


def _samples(uncertainties: list[Uncertainty], method: str, settings: dict[str, Any]) -> np.ndarray:
    """The uncertainty samples, one row per sample (one empty row without uncertainties)."""
    if not uncertainties:
        return np.zeros((1, 0))
    problem = {"num_vars": len(uncertainties), "names": [u.name for u in uncertainties],
               "bounds": [[u.low, u.high] for u in uncertainties]}
    n, seed = settings["samples"], settings["seed"]
    if method == "full_factorial":
        grids = []
        for u in uncertainties:
            grid = np.linspace(u.low, u.high, settings["levels"])
            grids.append(np.unique(np.round(grid)) if u.integer else grid)
        return np.array(list(itertools.product(*grids)), dtype=float)
    if method == "latin_hypercube":
        from SALib.sample import latin

        return latin.sample(problem, n, seed=seed)
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, n, calc_second_order=settings["second_order"], seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, n, num_levels=settings["levels"], seed=seed)


def _design_table(levers: dict[str, list[Any]], combos: list[tuple], uncertainties: list[Uncertainty],
                  samples: np.ndarray) -> pd.DataFrame:
    rows = []
    for k, combo in enumerate(combos):
        for j, sample in enumerate(samples):
            row: dict[str, Any] = {"point": len(rows), "lever_set": k, "sample": j}
            row.update({path: _cell(v) for path, v in zip(levers, combo, strict=True)})
            row.update({u.name: float(x) for u, x in zip(uncertainties, sample, strict=True)})
            rows.append(row)
    table = pd.DataFrame(rows)
    for path, values in levers.items():  # a lever column keeps one type: numbers, or text
        if not all(_is_number(v) for v in values) and not all(isinstance(v, str) for v in values):
            table[path] = table[path].map(lambda v: v if isinstance(v, str) else json.dumps(v, default=str))
    return table


def _cell(value: Any) -> Any:
    return json.dumps(value, default=str) if isinstance(value, list | dict) else value


def _scenario_with(base_data: dict[str, Any], choice: dict[str, Any], source: str, where: str,
                   check: bool = True) -> Scenario:
    """The base scenario with lever values applied and validated (with its data files if ``check``).

    Errors name the lever, or the lever combination.
    """
    data = copy.deepcopy(base_data)
    for path, value in choice.items():
        assign_path(data, path, value, source, where=f"levers.{path}")
    field_name = where if where != "levers" else f"levers ({', '.join(f'{k} = {v!r}' for k, v in choice.items())})"
    try:
        scenario = build_scenario(data, source=f"{source} ({where})")
    except InputError as exc:
        raise InputError(source, field_name, f"{exc.field}: {exc.expected}", exc.got) from None
    return checked(scenario, source, field_name, {}) if check else scenario


def check_outcomes(outcomes: list[OutcomeSpec], lever_data: list[dict[str, Any]], source: str,
                   section: str = "outcomes", distinct: bool = True) -> list[str]:
    """Each outcome's Stadtteil as named in results, checked against every lever combination's scenario."""
    labels = [o.label for o in outcomes]
    if distinct and len(set(labels)) < len(labels):
        raise InputError(source, section, "outcomes with distinct names (set 'name' where two would "
                         "otherwise share one)", labels)
    names: list[str] = []
    tables: dict[str | None, pd.DataFrame] = {}
    for k, o in enumerate(outcomes):
        for data in lever_data:
            start, end = data["start"].year, data["end"].year
            if not (start <= o.first_year and o.last_year <= end):
                raise InputError(source, f"{section}.{k}.{'year' if o.year is not None else 'years'}",
                                 f"years the scenario simulates ({start} to {end})",
                                 o.year if o.year is not None else o.years)
        if str(o.stadtteil) == CITY:
            names.append(CITY)
            continue
        chosen = set()
        for data in lever_data:
            scenario = Scenario(**data)
            file = scenario.path_of(scenario.stadtteile_file)
            key = str(file) if file else None
            if key not in tables:
                tables[key] = load_stadtteile(file)
            table = tables[key]
            row = select_stadtteile(table, [o.stadtteil], source=source, field=f"{section}.{k}.stadtteil")[0]
            simulated = simulated_rows(table, scenario.stadtteile, scenario.bezirke, scenario.origin)
            if row not in set(simulated.tolist()):
                raise InputError(source, f"{section}.{k}.stadtteil", f"'{CITY}' or a Stadtteil the scenario "
                                 "simulates", o.stadtteil)
            chosen.add(str(table["stadtteil"].iloc[row]))
        names.append(chosen.pop())
    return names
