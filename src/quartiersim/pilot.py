"""Pilot data: observations from the pilot quarters, their file format and its validator.

One CSV row per observation (format in ``calibration/README.md``)::

    stadtteil,date,indicator,group,value,sample_size,std_error,source
    211,2026-06-30,lonely_share,all,0.041,380,,Bürgerbefragung Neckarvorstadt 2026 (example)
    Neckarvorstadt,2026-01-01/2026-06-30,meeting_place_visits,all,5200,,400,Besucherzählung Quartierstreff

* ``stadtteil``: the official number or name of a Stadtteil, or ``Stuttgart`` for all simulated Stadtteile;
* ``date``: a day (``2026-06-30``: the state on that day) or a period (``2026-01-01/2026-06-30``: for flows the
  sum over it, for stocks the mean of the reports in it);
* ``indicator`` and ``group``: as in the results table (``quartiersim params`` and docs/ODD.md, section 6);
* ``value``: shares in [0, 1], counts and sums >= 0;
* ``sample_size`` (persons asked, for shares) or ``std_error`` (in the value's unit): at least one;
* ``source``: who observed it, how.

:func:`read_pilot_data` checks every row and reports every problem at once, each with its line number.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd

from quartiersim.data import load_stadtteile, read_csv_text
from quartiersim.errors import InputError, InputErrors
from quartiersim.outputs import CITY, GROUPS, INDICATORS, RESIDENT_INDICATORS, STADTTEIL_INDICATORS

COLUMNS = ("stadtteil", "date", "indicator", "group", "value", "sample_size", "std_error", "source")
SHARES = {name for name, _, _, unit, _ in RESIDENT_INDICATORS if unit.startswith("share")}
LOCAL = {name for name, _, _ in STADTTEIL_INDICATORS}


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text.strip())


def read_pilot_data(path: str | Path, start: dt.date, end: dt.date, simulated: list[str] | None = None,
                    stadtteile_file: str | Path | None = None) -> pd.DataFrame:
    """Read and check a pilot-data file.

    Args:
        path: the CSV file.
        start: the first simulated day; observations before it cannot be compared.
        end: the last simulated day.
        simulated: names of the Stadtteile the runs simulate (None: any Stadtteil of Stuttgart).
        stadtteile_file: a Stadtteile table instead of the bundled one.

    Returns:
        One row per observation: ``line, stadtteil`` (its name, or Stuttgart), ``start, end`` (equal for a day),
        ``indicator, group, value, sample_size, std_error`` (given, or from the sample size for shares:
        sqrt(p (1 - p) / n)), ``source``.

    Raises:
        InputErrors: every bad row at once, each with its line number, column and what was expected.

    """
    path = Path(path)
    table = read_csv_text(path, f"pilot-data file (CSV with the columns {', '.join(COLUMNS)})")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, "(header)", f"the columns {', '.join(COLUMNS)}; missing: {', '.join(missing)}")
    places = load_stadtteile(stadtteile_file)
    by_number = {str(int(n)): name for n, name in zip(places["number"], places["stadtteil"], strict=True)}
    by_name = {str(name).casefold(): name for name in places["stadtteil"]}
    problems: list[InputError] = []
    rows = []
    seen: dict[tuple, int] = {}

    def bad(line: int, column: str, expected: str, got: object = None) -> None:
        problems.append(InputError(path, f"line {line}, {column}", expected, got if got != "" else None))

    for k, rec in enumerate(table.to_dict(orient="records")):
        line = k + 2  # the header is line 1
        ok = True
        ref = rec["stadtteil"].strip()
        name = CITY if ref.casefold() == CITY.casefold() else by_number.get(ref) or by_name.get(ref.casefold())
        if name is None:
            bad(line, "stadtteil", f"an official Stadtteil number or name, or {CITY} (see 'quartiersim stadtteile')",
                ref)
            ok = False
        elif simulated is not None and name != CITY and name not in simulated:
            bad(line, "stadtteil", f"a Stadtteil the runs simulate ({', '.join(simulated)}) or {CITY}", ref)
            ok = False
        text = rec["date"].strip()
        try:
            first, _, last = text.partition("/")
            d0, d1 = _date(first), _date(last) if last else _date(first)
            if d1 < d0:
                raise ValueError
        except ValueError:
            bad(line, "date", "a day YYYY-MM-DD or a period YYYY-MM-DD/YYYY-MM-DD (start before end)", text)
            ok = False
        else:
            if d0 < start or d1 > end:
                bad(line, "date", f"a date in the simulated period {start} to {end}", text)
                ok = False
        indicator = rec["indicator"].strip()
        if indicator not in INDICATORS:
            bad(line, "indicator", "an indicator of the results table: " + ", ".join(INDICATORS), indicator)
            ok = False
        group = rec["group"].strip() or "all"
        if group not in GROUPS:
            bad(line, "group", "a group: " + ", ".join(GROUPS), group)
            ok = False
        elif indicator in LOCAL and group != "all":
            bad(line, "group", f"'all' ({indicator} is counted per Stadtteil, not per group)", group)
            ok = False
        try:
            value = float(rec["value"])
            if not math.isfinite(value):
                raise ValueError
        except ValueError:
            bad(line, "value", "a number", rec["value"])
            ok = False
            value = math.nan
        if not math.isnan(value) and indicator in INDICATORS:
            if indicator in SHARES and not 0 <= value <= 1:
                bad(line, "value", f"a share in [0, 1] ({indicator})", value)
                ok = False
            elif indicator not in SHARES and value < 0:
                bad(line, "value", f"a count or sum >= 0 ({indicator})", value)
                ok = False
        n = _optional(rec["sample_size"])
        se = _optional(rec["std_error"])
        if n is None and se is None:
            bad(line, "sample_size/std_error", "an uncertainty: the sample size (persons asked) or a standard "
                "error")
            ok = False
        elif (n is not None and (math.isnan(n) or n < 1)) or (se is not None and (math.isnan(se) or se < 0)):
            bad(line, "sample_size/std_error", "a sample size >= 1 or a standard error >= 0",
                rec["sample_size"] or rec["std_error"])
            ok = False
        elif se is None and indicator not in SHARES and indicator in INDICATORS:
            bad(line, "std_error", f"a standard error ({indicator} is not a share, so a sample size does not give "
                "one)")
            ok = False
        if not rec["source"].strip():
            bad(line, "source", "who observed the value, and how")
            ok = False
        if not ok:
            continue
        key = (name, d0, d1, indicator, group)
        if key in seen:
            bad(line, "(row)", f"one observation per Stadtteil, date, indicator and group (line {seen[key]} has the "
                "same)")
            continue
        seen[key] = line
        if se is None:
            se = math.sqrt(max(value * (1 - value), 0.25 / n) / n)  # never exactly 0 for shares of 0 or 1
        rows.append({"line": line, "stadtteil": name, "start": d0, "end": d1, "indicator": indicator,
                     "group": group, "value": value, "sample_size": n, "std_error": se,
                     "source": rec["source"].strip()})
    if problems:
        raise problems[0] if len(problems) == 1 else InputErrors(path, problems)
    if not rows:
        raise InputError(path, "(rows)", "at least one observation")
    out = pd.DataFrame(rows)
    out["sample_size"] = out["sample_size"].astype(float)
    out["std_error"] = out["std_error"].astype(float)
    return out


def _optional(text: str) -> float | None:
    text = str(text).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return np.nan
