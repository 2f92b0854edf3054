"""Stuttgart reference data shipped with the package, and the per-Stadtteil indicator format.

This module owns three tables:

* ``stuttgart_stadtteile.csv``: the 152 official Stadtteile with number, name, Bezirk, population,
  reference date, ``counted_in`` (for the three Stadtteile whose residents the statistics count inside a
  neighbour) and the source of each figure.
* ``city_indicators.csv``: one city-wide value per social indicator, each with its kind (official, derived,
  survey proxy, definition or assumption) and source. These are the fallbacks.
* ``stadtteil_indicators.csv``: per-Stadtteil indicators where a real figure is known (only Neckarvorstadt,
  Stadtteil 211, ships). Users supply the statistics office's table in the same format.

Per-Stadtteil indicator CSV format (one row per Stadtteil, any subset of Stadtteile, any subset of indicator
columns; an empty cell means "not known"):

=========================  ==========================================================  ===========
column                     meaning                                                     range
=========================  ==========================================================  ===========
number                     official Stadtteil number (required)                        101..999
migration_share            share of residents with migration background                [0, 1]
low_income_share           share of residents with low income (Bonuscard holders)      [0, 1]
buergergeld_u25_share      share of residents under 25 receiving Bürgergeld            [0, 1]
net_income_index           net household income index, city = 100                      (0, 400]
residence_under_5y_share   share of residents living in the Stadtteil under 5 years    [0, 1]
age_under_18_share         share of residents under 18                                 [0, 1]
age_65plus_share           share of residents aged 65 or older                         [0, 1]
health_limitation_share    share of residents limited in everyday activities by health [0, 1]
source                     where the row's figures come from (required if any value)   text
=========================  ==========================================================  ===========

Every missing value falls back to the city-wide value, and the loaded table says so in a
``<indicator>_fallback`` column, so results can mark them. Figures are never invented per Stadtteil.

A fourth table, ``pay_grades.csv``, costs posts by pay grade (TVöD-VKA, general and social-services tables).
The yearly employer cost of one full-time post is::

    monthly_eur * uprating * annual_factor * (1 + employer_on_cost)

with ``monthly_eur`` the table value at ``step`` (step 4 of 6, the middle of a career), ``uprating`` any
general pay rise agreed after that table, ``annual_factor`` 12 monthly payments plus the Jahressonderzahlung
(85 % of a month from 2026 under the 2025 TVöD-VKA agreement, so 12.85), and ``employer_on_cost`` the
employer's social-insurance and supplementary-pension contributions (0.28: statutory shares of about 21 % in
2025 plus about 7 % supplementary pension; an assumption until the city's own Personalkostensätze replace it).
Workplace overheads are not included.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quartiersim.errors import InputError, InputErrors


@dataclass(frozen=True)
class IndicatorSpec:
    """One per-Stadtteil social indicator."""

    name: str
    low: float
    high: float
    meaning: str


INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("migration_share", 0.0, 1.0, "share of residents with migration background"),
    IndicatorSpec("low_income_share", 0.0, 1.0, "share of residents with low income (Bonuscard holders)"),
    IndicatorSpec("buergergeld_u25_share", 0.0, 1.0, "share of residents under 25 receiving Bürgergeld"),
    IndicatorSpec("net_income_index", 1e-9, 400.0, "net household income index, city = 100"),
    IndicatorSpec("residence_under_5y_share", 0.0, 1.0, "share living in the Stadtteil for under 5 years"),
    IndicatorSpec("age_under_18_share", 0.0, 1.0, "share of residents under 18"),
    IndicatorSpec("age_65plus_share", 0.0, 1.0, "share of residents aged 65 or older"),
    IndicatorSpec("health_limitation_share", 0.0, 1.0, "share limited in everyday activities by health"),
)
INDICATOR_NAMES: tuple[str, ...] = tuple(s.name for s in INDICATORS)

STADTTEILE_COLUMNS = ("number", "stadtteil", "bezirk", "population", "reference_date", "counted_in", "source")


def _bundled(name: str) -> Path:
    return Path(str(resources.files("quartiersim.data").joinpath(name)))


STADTTEILE_CSV = _bundled("stuttgart_stadtteile.csv")
CITY_INDICATORS_CSV = _bundled("city_indicators.csv")
STADTTEIL_INDICATORS_CSV = _bundled("stadtteil_indicators.csv")
PAY_GRADES_CSV = _bundled("pay_grades.csv")
PAY_GRADE_COLUMNS = ("grade", "monthly_eur", "step", "valid_from", "uprating", "annual_factor", "employer_on_cost",
                     "source")


def read_csv_text(path: str | Path, what: str = "CSV file") -> pd.DataFrame:
    """A CSV file as text cells; every way it can be unusable is an InputError naming the file.

    A missing, unreadable, empty or non-UTF-8 file, bad CSV syntax, and a header naming a column twice (pandas
    would quietly rename the second and a value would be ignored) are refused.
    """
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "(file)", f"an existing {what}") from None
    except IsADirectoryError:
        raise InputError(path, "(file)", f"a {what}, not a directory") from None
    except PermissionError:
        raise InputError(path, "(file)", f"a {what} you may read (permission denied)") from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "(file)", f"a {what} with a header line (the file is empty)") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, "(encoding)", f"a {what} in UTF-8 (byte {exc.start} is not UTF-8: save it as "
                         "UTF-8)") from None
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        detail = " ".join(str(exc).split())
        raise InputError(path, "(file)", f"a {what} in UTF-8 with one header line ({detail})") from None
    header = _header(path)
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise InputError(path, "(header)", "each column once", twice[0])
    return table


def _header(path: Path) -> list[str]:
    import csv

    with path.open(encoding="utf-8", newline="") as fh:
        return [c.strip() for c in next(csv.reader(fh), [])]


def _read_csv(path: Path) -> pd.DataFrame:
    return read_csv_text(path)


def _read_with_columns(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A CSV that must have ``columns`` (the first missing one is named in the error)."""
    raw = _read_csv(path)
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise InputError(path, missing[0], f"the columns {', '.join(columns)}")
    return raw


def _number(value: str, path: Path, field: str, line: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(path, f"{field} (line {line})", "a whole number", value) from None


def load_stadtteile(path: str | Path | None = None) -> pd.DataFrame:
    """Load and validate the Stadtteile table.

    Args:
        path: a CSV in the format of the bundled ``stuttgart_stadtteile.csv``; the bundled file if None.

    Returns:
        One row per Stadtteil, sorted by number, with ``population`` as int (0 where the Stadtteil is
        counted inside a neighbour) and ``counted_in`` as nullable int.

    Raises:
        InputError: naming the file, the column and line, and what was expected.

    """
    path = Path(path) if path is not None else STADTTEILE_CSV
    raw = _read_with_columns(path, STADTTEILE_COLUMNS)
    problems: list[InputError] = []
    numbers, pops, counted = [], [], []
    for i, row in raw.iterrows():
        line = int(i) + 2
        try:
            n = _number(row["number"], path, "number", line)
        except InputError as e:
            problems.append(e)
            n = -1
        numbers.append(n)
        pop, into = row["population"].strip(), row["counted_in"].strip()
        if pop == "":
            if into == "":
                problems.append(InputError(path, f"population (line {line})",
                                           "a population, or counted_in naming the Stadtteil that includes it"))
            pops.append(0)
        else:
            try:
                p = _number(pop, path, "population", line)
                if p < 0:
                    raise InputError(path, f"population (line {line})", "a count >= 0", pop)
                pops.append(p)
            except InputError as e:
                problems.append(e)
                pops.append(0)
        if into:
            try:
                counted.append(_number(into, path, "counted_in", line))
            except InputError as e:
                problems.append(e)
                counted.append(None)
        else:
            counted.append(None)
        if not row["stadtteil"].strip():
            problems.append(InputError(path, f"stadtteil (line {line})", "a name"))
        if not row["bezirk"].strip():
            problems.append(InputError(path, f"bezirk (line {line})", "a Bezirk name"))
        if not row["source"].strip():
            problems.append(InputError(path, f"source (line {line})", "the source of the figure"))
    dupes = sorted({n for n in numbers if numbers.count(n) > 1 and n >= 0})
    if dupes:
        problems.append(InputError(path, "number", "each Stadtteil once", dupes))
    known = set(numbers)
    for n, c in zip(numbers, counted, strict=True):
        if c is not None and c not in known:
            problems.append(InputError(path, f"counted_in of {n}", "the number of a listed Stadtteil", c))
    if problems:
        raise problems[0] if len(problems) == 1 else InputErrors(path, problems)
    out = pd.DataFrame({
        "number": np.array(numbers, dtype=np.int64),
        "stadtteil": raw["stadtteil"].str.strip(),
        "bezirk": raw["bezirk"].str.strip(),
        "population": np.array(pops, dtype=np.int64),
        "reference_date": raw["reference_date"].str.strip(),
        "counted_in": pd.array(counted, dtype="Int64"),
        "source": raw["source"].str.strip(),
    })
    return out.sort_values("number", kind="stable").reset_index(drop=True)


def load_city_indicators(path: str | Path | None = None) -> pd.DataFrame:
    """Load the city-wide indicator values (the fallbacks), indexed by indicator name."""
    path = Path(path) if path is not None else CITY_INDICATORS_CSV
    raw = _read_csv(path)
    for col in ("indicator", "value", "kind", "source"):
        if col not in raw.columns:
            raise InputError(path, col, "the columns indicator, value, unit, kind, source")
    table = raw.set_index("indicator")
    values = []
    for spec in INDICATORS:
        if spec.name not in table.index:
            raise InputError(path, spec.name, f"a city-wide value for {spec.meaning}")
        values.append(_parse_value(table.loc[spec.name, "value"], spec, path, f"value of {spec.name}"))
    table = table.loc[list(INDICATOR_NAMES)].copy()
    table["value"] = np.array(values, dtype=float)
    return table


def _parse_value(text: str, spec: IndicatorSpec, path: Path, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, field, f"a number in [{spec.low:g}, {spec.high:g}]", text) from None
    if not np.isfinite(value) or not spec.low <= value <= spec.high:
        raise InputError(path, field, f"a number in [{spec.low:g}, {spec.high:g}] ({spec.meaning})", text)
    return value


def load_indicators(
    path: str | Path | None = None,
    stadtteile: pd.DataFrame | None = None,
    city: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Load per-Stadtteil indicators, filling gaps with city-wide values and marking them.

    Args:
        path: CSV in the documented format; the bundled file (Neckarvorstadt only) if None.
        stadtteile: the Stadtteile table the numbers must belong to (the bundled one if None).
        city: city-wide fallback values (the bundled ones if None).

    Returns:
        One row per Stadtteil (all of ``stadtteile``, sorted by number) with every indicator, a boolean
        ``<indicator>_fallback`` column per indicator and ``indicator_source``.

    Raises:
        InputErrors: every problem of the file at once, each with its line and column.

    """
    path = Path(path) if path is not None else STADTTEIL_INDICATORS_CSV
    stadtteile = stadtteile if stadtteile is not None else load_stadtteile()
    city = city if city is not None else load_city_indicators()
    raw = _read_csv(path)
    if "number" not in raw.columns:
        raise InputError(path, "number", "a column 'number' with official Stadtteil numbers")
    unknown_cols = [c for c in raw.columns if c not in ("number", "source", *INDICATOR_NAMES)]
    problems: list[InputError] = []
    if unknown_cols:
        problems.append(InputError(path, unknown_cols[0],
                                   f"one of the columns number, source, {', '.join(INDICATOR_NAMES)}"))
    known = set(stadtteile["number"].tolist())
    seen: set[int] = set()
    values: dict[int, dict[str, float]] = {}
    sources: dict[int, str] = {}
    for i, row in raw.iterrows():
        line = int(i) + 2
        try:
            n = _number(row["number"], path, "number", line)
        except InputError as e:
            problems.append(e)
            continue
        if n not in known:
            problems.append(InputError(path, f"number (line {line})", "an official Stadtteil number", n))
            continue
        if n in seen:
            problems.append(InputError(path, f"number (line {line})", "each Stadtteil once", n))
            continue
        seen.add(n)
        vals: dict[str, float] = {}
        for spec in INDICATORS:
            text = row.get(spec.name, "").strip() if spec.name in raw.columns else ""
            if text:
                try:
                    vals[spec.name] = _parse_value(text, spec, path, f"{spec.name} (line {line})")
                except InputError as e:
                    problems.append(e)
        if vals and not str(row.get("source", "")).strip():
            problems.append(InputError(path, f"source (line {line})", "the source of the row's figures"))
        values[n] = vals
        sources[n] = str(row.get("source", "")).strip()
    if problems:
        raise problems[0] if len(problems) == 1 else InputErrors(path, problems)
    out = stadtteile[["number", "stadtteil", "bezirk"]].copy()
    for spec in INDICATORS:
        given = [values.get(n, {}).get(spec.name) for n in out["number"]]
        fallback = float(city.loc[spec.name, "value"])  # looked up once, not once a Stadtteil
        out[f"{spec.name}_fallback"] = [g is None for g in given]
        out[spec.name] = [fallback if g is None else g for g in given]
    out["indicator_source"] = [sources.get(n, "") or "city-wide fallback values" for n in out["number"]]
    return out.reset_index(drop=True)


def load_pay_grades(path: str | Path | None = None) -> pd.DataFrame:
    """The pay-grade table with each grade's yearly employer cost of one full-time post.

    Args:
        path: a CSV with :data:`PAY_GRADE_COLUMNS`; the bundled ``pay_grades.csv`` if None.

    Returns:
        One row per grade, indexed by grade (e.g. ``"S 12"``), with ``annual_cost_eur`` added.

    """
    path = Path(path) if path is not None else PAY_GRADES_CSV
    raw = _read_with_columns(path, PAY_GRADE_COLUMNS)
    problems: list[InputError] = []
    numbers: dict[str, list[float]] = {c: [] for c in ("monthly_eur", "uprating", "annual_factor",
                                                       "employer_on_cost")}
    for i, row in raw.iterrows():
        for col in numbers:
            try:
                value = float(row[col])
                if not np.isfinite(value) or value < 0:
                    raise ValueError
            except ValueError:
                problems.append(InputError(path, f"{col} (line {int(i) + 2})", "a number >= 0", row[col]))
                value = float("nan")
            numbers[col].append(value)
        if not row["source"].strip():
            problems.append(InputError(path, f"source (line {int(i) + 2})", "the source of the rate"))
    grades = raw["grade"].str.strip()
    if grades.duplicated().any():
        problems.append(InputError(path, "grade", "each grade once", sorted(set(grades[grades.duplicated()]))))
    if problems:
        raise problems[0] if len(problems) == 1 else InputErrors(path, problems)
    out = raw.assign(grade=grades, **{c: np.array(v) for c, v in numbers.items()})
    out["annual_cost_eur"] = (out["monthly_eur"] * out["uprating"] * out["annual_factor"]
                              * (1.0 + out["employer_on_cost"]))
    return out.set_index("grade")


def select_stadtteile(table: pd.DataFrame, selection: Any, source: str, field: str = "stadtteile") -> np.ndarray:
    """Row positions in ``table`` of the Stadtteile a scenario names (numbers or names), in table order."""
    if selection == "all":
        return np.arange(len(table))
    by_number = {int(n): k for k, n in enumerate(table["number"])}
    by_name = {str(name).casefold(): k for k, name in enumerate(table["stadtteil"])}
    rows = []
    for ref in selection:
        k = by_number.get(ref) if isinstance(ref, int) else by_name.get(str(ref).strip().casefold())
        if k is None and isinstance(ref, str) and ref.strip().isdigit():
            k = by_number.get(int(ref))
        if k is None:
            raise InputError(source, field, "official Stadtteil numbers or names (see "
                             "'quartiersim stadtteile')", ref)
        rows.append(k)
    return np.array(sorted(set(rows)), dtype=np.int64)


def simulated_rows(table: pd.DataFrame, stadtteile: Any, bezirke: list[str] | None, source: str) -> np.ndarray:
    """Row positions of the Stadtteile a scenario simulates: those of its ``bezirke``, else its ``stadtteile``."""
    if bezirke is not None:
        return np.flatnonzero(table["bezirk"].isin(select_bezirke(table, bezirke, source, "bezirke")))
    return select_stadtteile(table, stadtteile, source=source)


def select_bezirke(table: pd.DataFrame, names: list[str], source: str, field: str) -> list[str]:
    """The official spelling of each Bezirk named (case and surrounding spaces do not matter)."""
    known = {b.casefold(): b for b in table["bezirk"].unique()}
    chosen = []
    for name in names:
        key = str(name).strip().casefold()
        if key not in known:
            raise InputError(source, field, "names of Stuttgart's Stadtbezirke: " + ", ".join(sorted(known.values())),
                             name)
        chosen.append(known[key])
    return chosen
