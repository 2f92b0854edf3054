"""The pilot-data format: the example file is valid; every kind of bad row is named with its line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from quartiersim.cli import main
from quartiersim.errors import InputError, InputErrors
from quartiersim.pilot import read_pilot_data

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "calibration" / "pilot_example.csv"
HEADER = "stadtteil,date,indicator,group,value,sample_size,std_error,source\n"
GOOD = "211,2026-06-30,lonely_share,all,0.04,350,,survey\n"
START, END = dt.date(2024, 1, 1), dt.date(2027, 12, 31)


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "pilot.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_example_file_is_valid_synthetic_and_typed():
    table = read_pilot_data(EXAMPLE, START, END)
    assert len(table) >= 10 and set(table["stadtteil"]) == {"Neckarvorstadt"}
    assert all(s.startswith("synthetic") for s in table["source"])
    shares = table[table["indicator"] == "lonely_share"]
    # a share with a sample size gets the binomial standard error
    p, n = shares["value"].iloc[0], shares["sample_size"].iloc[0]
    assert shares["std_error"].iloc[0] == pytest.approx((p * (1 - p) / n) ** 0.5)
    period = table[table["indicator"] == "meeting_place_visits"].iloc[0]
    assert period["start"] < period["end"]


BAD_ROWS = [
    ("unknown Stadtteil", "999,2026-06-30,lonely_share,all,0.04,350,,survey\n", "line 2, stadtteil",
     "an official Stadtteil number or name"),
    ("date outside the simulated period", "211,2029-06-30,lonely_share,all,0.04,350,,survey\n", "line 2, date",
     "a date in the simulated period 2024-01-01 to 2027-12-31"),
    ("not a date", "211,June 2026,lonely_share,all,0.04,350,,survey\n", "line 2, date", "a day YYYY-MM-DD"),
    ("period ending before it starts", "211,2026-06-30/2026-01-01,meeting_place_visits,all,5,,1,count\n",
     "line 2, date", "start before end"),
    ("unknown indicator", "211,2026-06-30,happiness,all,0.04,350,,survey\n", "line 2, indicator",
     "an indicator of the results table"),
    ("unknown group", "211,2026-06-30,lonely_share,pensioners,0.04,350,,survey\n", "line 2, group", "a group:"),
    ("group of a Stadtteil-level indicator", "211,2026-06-30,active_initiatives,migration,4,,1,count\n",
     "line 2, group", "'all'"),
    ("share outside [0, 1]", "211,2026-06-30,lonely_share,all,1.4,350,,survey\n", "line 2, value",
     "a share in [0, 1]"),
    ("negative count", "211,2026-06-30,active_initiatives,all,-3,,1,count\n", "line 2, value",
     "a count or sum >= 0"),
    ("not a number", "211,2026-06-30,lonely_share,all,many,350,,survey\n", "line 2, value", "a number"),
    ("missing uncertainty", "211,2026-06-30,lonely_share,all,0.04,,,survey\n", "line 2, sample_size/std_error",
     "an uncertainty"),
    ("count with only a sample size", "211,2026-06-30,active_initiatives,all,4,30,,count\n", "line 2, std_error",
     "a standard error"),
    ("bad sample size", "211,2026-06-30,lonely_share,all,0.04,0,,survey\n", "line 2, sample_size/std_error",
     "a sample size >= 1"),
    ("no source", "211,2026-06-30,lonely_share,all,0.04,350,,\n", "line 2, source", "who observed"),
    ("duplicate", GOOD + "Neckarvorstadt,2026-06-30,lonely_share,all,0.05,300,,other survey\n", "line 3, (row)",
     "line 2 has the same"),
]


@pytest.mark.parametrize("label,rows,field,expected", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_each_kind_of_bad_row(tmp_path, label, rows, field, expected):
    path = write(tmp_path, rows)
    with pytest.raises(InputError) as info:
        read_pilot_data(path, START, END)
    assert info.value.field == field and expected in info.value.expected, str(info.value)
    assert str(path) in str(info.value)


def test_all_problems_at_once_with_line_numbers_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, GOOD, "999,2026-06-30,lonely_share,all,0.04,350,,survey\n",
                 "211,2026-06-30,lonely_share,all,1.4,350,,survey\n", "211,2026-06-30,happiness,all,1,,1,x\n")
    with pytest.raises(InputErrors) as info:
        read_pilot_data(path, START, END)
    assert [p.field for p in info.value.problems] == ["line 3, stadtteil", "line 4, value", "line 5, indicator"]
    assert main(["pilot-data", str(path), "--scenario", "neckarvorstadt"]) == 2
    err = capsys.readouterr().err
    assert "3 problem(s)" in err and "line 4, value" in err


def test_missing_columns_and_only_simulated_stadtteile(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("stadtteil,date,value\n211,2026-01-01,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing: indicator, group, sample_size, std_error, source"):
        read_pilot_data(path, START, END)
    ok = write(tmp_path, "212,2026-06-30,lonely_share,all,0.04,350,,survey\n")
    assert len(read_pilot_data(ok, START, END)) == 1
    with pytest.raises(InputError, match="a Stadtteil the runs simulate"):
        read_pilot_data(ok, START, END, simulated=["Neckarvorstadt"])
    frame = read_pilot_data(write(tmp_path, "Stuttgart,2026-06-30,lonely_share,all,0.04,350,,survey\n"), START, END)
    assert frame["stadtteil"].tolist() == ["Stuttgart"] and isinstance(frame, pd.DataFrame)
