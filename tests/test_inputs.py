"""Bad input gets one clear message naming the file, the field and what was expected, and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from quartiersim.cli import main
from quartiersim.data import load_indicators, load_stadtteile
from quartiersim.errors import InputError
from quartiersim.spec import load_scenario, resolve_scenario

GOOD = """
name = "tiny"
start = 2024-01-01
end = 2024-03-31
stadtteile = [211]
scale = 0.2
spinup_weeks = 2
"""


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD_SCENARIOS = [
    ("unknown field", GOOD + 'colour = "red"\n', "colour", "no such field"),
    ("bad date", GOOD.replace("end = 2024-03-31", 'end = "March"'), "end", "a date"),
    ("dates out of order", GOOD.replace("end = 2024-03-31", "end = 2023-03-31"), "end",
     "at least one week after start"),
    ("scale out of range", GOOD.replace("scale = 0.2", "scale = 2.0"), "scale", "<= 1"),
    ("unknown parameter", GOOD + "[parameters]\nvisit_bas = 0.2\n", "parameters.visit_bas", "did you mean visit_base"),
    ("parameter out of bounds", GOOD + "[parameters]\nvisit_base = 1.5\n", "parameters.visit_base", "[0, 1]"),
    ("unknown Stadtteil", GOOD.replace("[211]", "[999]"), "stadtteile", "official Stadtteil numbers or names"),
    ("unknown role kind", GOOD + '[[roles]]\nname = "x"\nkind = "mayor"\nfte = 1\nstart = 2024-01-01\n'
     'end = 2024-02-01\n', "roles.0.kind", "one of"),
    ("role ends before it starts", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = 1\n'
     'start = 2024-03-01\nend = 2024-02-01\n', "roles.0.end", "an end not before the start"),
    ("negative posts", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = -1\n'
     'start = 2024-01-01\nend = 2024-02-01\n', "roles.0.fte", ">= 0"),
    ("task shares over 1", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = 1\n'
     'start = 2024-01-01\nend = 2024-02-01\ntasks = {outreach = 0.8, events = 0.5}\n', "roles.0",
     "add up to at most 1"),
    ("not TOML", "name = [unclosed\n", "(syntax)", "valid TOML"),
    # strategies (issue 4)
    ("unknown allocation strategy", GOOD + '[allocation]\nstrategy = "lottery"\nstart = 2024-02-01\n',
     "allocation.strategy", "one of 'needs_based'"),
    ("unknown Verstetigung strategy", GOOD + '[verstetigung]\nstrategy = "forever"\n', "verstetigung.strategy",
     "one of 'funding_ends'"),
    ("negative budget", GOOD + '[allocation]\nstrategy = "needs_based"\nstart = 2024-02-01\n'
     'budget_eur_per_year = -5\n', "allocation.budget_eur_per_year", ">= 0"),
    ("negative grant budget", GOOD + '[initiative_funding]\nstart = 2024-02-01\nbudget_eur_per_year = -1\n',
     "initiative_funding.budget_eur_per_year", ">= 0"),
    ("allocation starts after the run", GOOD + '[allocation]\nstrategy = "needs_based"\nstart = 2029-01-01\n',
     "allocation.start", "on or before the scenario's end"),
    ("phase 3 before the pilot ends", GOOD + "pilot_end = 2027-12-31\nphase3_start = 2027-01-01\n", "phase3_start",
     "a date after pilot_end"),
    ("grants end before they start", GOOD + "[initiative_funding]\nstart = 2024-03-01\nend = 2024-02-01\n",
     "initiative_funding.end", "not before the start"),
    ("role starts after it ends", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = 1\n'
     'start = 2025-03-01\nend = 2024-02-01\n', "roles.0.end", "an end not before the start"),
    ("role change outside the role", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = 1\n'
     'start = 2024-01-01\nend = 2024-02-01\nchanges = [{date = 2024-06-01, fte = 2}]\n', "roles.0",
     "change dates between"),
    ("unknown pay grade", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = 1\n'
     'start = 2024-01-01\nend = 2024-02-01\npay_grade = "A 16"\n', "roles.0.pay_grade", "a pay grade of the table"),
    ("role serves an unknown Stadtteil", GOOD + '[[roles]]\nname = "x"\nkind = "gemeinwesenarbeit"\nfte = 1\n'
     'start = 2024-01-01\nend = 2024-02-01\nstadtteile = ["Atlantis"]\n', "stadtteile",
     "official Stadtteil numbers or names"),
    ("expression of interest from an unknown Bezirk", GOOD + '[allocation]\nstrategy = "expression_of_interest"\n'
     'start = 2024-02-01\nbezirke = ["Bad Cannstatt", "Gotham"]\n', "allocation.bezirke",
     "names of Stuttgart's Stadtbezirke"),
    ("expression of interest without Bezirke", GOOD + '[allocation]\nstrategy = "expression_of_interest"\n'
     'start = 2024-02-01\n', "allocation", "needs the applying Bezirke"),
    ("pilot quarter that does not exist", GOOD + '[allocation]\nstrategy = "pilot_only"\nstart = 2024-02-01\n'
     "stadtteile = [999]\n", "allocation.stadtteile", "official Stadtteil numbers or names"),
    ("unknown Bezirk to simulate", GOOD.replace("stadtteile = [211]", 'bezirke = ["Gotham"]'), "bezirke",
     "names of Stuttgart's Stadtbezirke"),
    ("unknown index indicator", GOOD + "[area_index]\nweights = {noise_share = 1.0}\n", "area_index.weights",
     "indicator names out of"),
    ("zscore index without data", GOOD + '[area_index]\nmethod = "zscore"\n', "area_index", "at least 3"),
]


@pytest.mark.parametrize("label,text,field,expected", BAD_SCENARIOS, ids=[b[0] for b in BAD_SCENARIOS])
def test_bad_scenario_file_message_and_exit_status(tmp_path, capsys, label, text, field, expected):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        resolve_scenario(str(path)).params  # noqa: B018
        from quartiersim.model import QuarterModel

        QuarterModel(str(path), rng=1)
    message = str(info.value)
    assert str(path) in message and field in message and expected in message, message
    out = tmp_path / "out"
    status = main(["run", str(path), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert "error:" in err and field in err.replace("\n", "")
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))  # no partial directory either


def test_missing_scenario_file_and_unknown_name(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--no-progress"]) == 2
    assert "existing scenario file" in capsys.readouterr().err
    assert main(["run", "no_such_scenario", "--no-progress"]) == 2
    assert "neckarvorstadt" in capsys.readouterr().err


def test_bad_set_override(capsys, tmp_path):
    assert main(["run", "neckarvorstadt", "--set", "visit_base", "--out", str(tmp_path / "o")]) == 2
    assert "name=value" in capsys.readouterr().err
    assert main(["run", "neckarvorstadt", "--set", "visit_base=7", "--out", str(tmp_path / "o")]) == 2
    assert "parameters.visit_base" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_existing_out_directory_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["run", "neckarvorstadt", "--out", str(out)]) == 2
    assert (out / "keep.txt").exists()


# --- data files ---------------------------------------------------------------------------------------------

def test_bundled_stadtteile():
    table = load_stadtteile()
    assert len(table) == 152 and table["bezirk"].nunique() == 23 and table["number"].is_unique
    counted = table[table["counted_in"].notna()]
    assert set(counted["number"]) == {128, 191, 666}
    assert (counted["population"] == 0).all()
    assert table["population"].sum() == 612706
    assert table["source"].str.len().min() > 10
    assert table.set_index("number").loc[211, "stadtteil"] == "Neckarvorstadt"


def test_indicators_fall_back_and_say_so():
    ind = load_indicators().set_index("number")
    assert ind.loc[211, "migration_share"] == 0.739 and not ind.loc[211, "migration_share_fallback"]
    assert ind.loc[211, "net_income_index"] == 74
    assert ind.loc[211, "age_65plus_share_fallback"]
    assert ind.loc[101, "migration_share"] == 0.48 and ind.loc[101, "migration_share_fallback"]
    assert ind.drop(index=211)[[c for c in ind.columns if c.endswith("_fallback")]].all().all()


BAD_INDICATOR_ROWS = [
    ("999,0.5,,,,,,,,x\n", "number (line 2)", "an official Stadtteil number"),
    ("211,1.5,,,,,,,,x\n", "migration_share (line 2)", "[0, 1]"),
    ("211,abc,,,,,,,,x\n", "migration_share (line 2)", "a number"),
    ("211,0.5,,,,,,,,\n", "source (line 2)", "the source"),
    ("211,0.5,,,,,,,,x\n211,0.4,,,,,,,,x\n", "number (line 3)", "each Stadtteil once"),
    ("x1,0.5,,,,,,,,x\n", "number (line 2)", "a whole number"),
]


@pytest.mark.parametrize("rows,field,expected", BAD_INDICATOR_ROWS)
def test_bad_indicator_file(tmp_path, rows, field, expected):
    header = ("number,migration_share,low_income_share,buergergeld_u25_share,net_income_index,"
              "residence_under_5y_share,age_under_18_share,age_65plus_share,health_limitation_share,source\n")
    path = _write(tmp_path, header + rows, "ind.csv")
    with pytest.raises(InputError) as info:
        load_indicators(path)
    assert str(path) in str(info.value) and field in str(info.value) and expected in str(info.value)


def test_indicator_file_reports_all_problems_at_once(tmp_path):
    header = "number,migration_share,source\n"
    path = _write(tmp_path, header + "999,0.5,x\n211,7,x\n", "ind.csv")
    with pytest.raises(InputError) as info:
        load_indicators(path)
    assert "2 problem(s)" in str(info.value)


def test_bad_indicator_file_from_scenario_exits_2(tmp_path, capsys):
    _write(tmp_path, "number,colour,source\n211,red,x\n", "ind.csv")
    path = _write(tmp_path, GOOD + 'indicators_file = "ind.csv"\n')
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "ind.csv" in err and "colour" in err
    assert not (tmp_path / "o").exists()


def test_user_indicator_file_is_used(tmp_path):
    _write(tmp_path, "number,migration_share,source\n211,0.2,test figure\n", "ind.csv")
    path = _write(tmp_path, GOOD + 'indicators_file = "ind.csv"\n')
    spec = load_scenario(path)
    from quartiersim.model import QuarterModel

    model = QuarterModel(spec, rng=1)
    assert model.profile.loc[0, "migration_share"] == 0.2
    assert model.profile.loc[0, "indicator_source"] == "test figure"


def test_bad_stadtteile_file(tmp_path):
    path = _write(tmp_path, "number,stadtteil,bezirk,population,reference_date,counted_in,source\n"
                            "1,A,B,,2020,,s\n2,C,D,-5,2020,,s\n", "st.csv")
    with pytest.raises(InputError) as info:
        load_stadtteile(path)
    text = str(info.value)
    assert "population (line 2)" in text and "population (line 3)" in text


# --- the command line on good input -------------------------------------------------------------------------

def test_cli_run_writes_parquet_and_metadata(tmp_path, capsys):
    path = _write(tmp_path, GOOD)
    out = tmp_path / "run"
    assert main(["run", str(path), "--seed", "4", "--out", str(out), "--no-progress"]) == 0
    table = pd.read_parquet(out / "results.parquet")
    meta = json.loads((out / "metadata.json").read_text())
    assert list(table.columns) == ["date", "stadtteil", "indicator", "group", "value"]
    assert meta["seed"] == 4 and meta["scenario"]["stadtteile"] == [211]
    assert meta["scenario"]["parameters"]["visit_base"] > 0  # every parameter spelled out
    assert meta["version"] and "Neckarvorstadt" in meta["fallback_indicators"]
    assert meta["data_sources"]["city_indicators"]["migration_share"]["source"]
    inputs = pd.read_csv(out / "stadtteil_inputs.csv")
    assert inputs.loc[0, "migration_share"] == 0.739 and inputs.loc[0, "age_65plus_share_fallback"]
    printed = capsys.readouterr().out
    assert "lonely_share" in printed and "wrote" in printed
    # the resolved scenario in metadata.json reruns to the same table
    from quartiersim.run import simulate
    from quartiersim.spec import build_scenario

    again = simulate(build_scenario(meta["scenario"]), seed=meta["seed"])
    pd.testing.assert_frame_equal(again.reset_index(drop=True), table, check_categorical=False,
                                  check_dtype=False)


def test_cli_lists(capsys):
    assert main(["params", "--group", "loneliness"]) == 0
    assert "lonely_contagion" in capsys.readouterr().out
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "neckarvorstadt" in out
    assert main(["stadtteile"]) == 0
    assert "Neckarvorstadt" in capsys.readouterr().out
    assert main(["phases"]) == 0
    assert "encounters" in capsys.readouterr().out


def test_compare_and_areas_bad_input_exit_2_without_output(tmp_path, capsys):
    bad = _write(tmp_path, GOOD + '[verstetigung]\nstrategy = "forever"\n')
    good = _write(tmp_path, GOOD, name="good.toml")
    out = tmp_path / "cmp"
    assert main(["compare", str(good), str(bad), "--seeds", "2", "--out", str(out), "--no-progress"]) == 2
    assert "verstetigung.strategy" in capsys.readouterr().err and not out.exists()
    assert main(["compare", str(good), "--seeds", "2", "--out", str(out), "--no-progress"]) == 2
    assert "at least two scenarios" in capsys.readouterr().err and not out.exists()
    assert main(["compare", str(good), str(good), "--seeds", "2", "--out", str(out), "--no-progress"]) == 2
    assert "different names" in capsys.readouterr().err and not out.exists()
    ranking = tmp_path / "ranking.csv"
    assert main(["areas", "--weight", "noise_share=1", "--out", str(ranking)]) == 2
    assert "area_index.weights" in capsys.readouterr().err and not ranking.exists()
    assert main(["areas", "--method", "zscore", "--out", str(ranking)]) == 2
    assert "at least 3" in capsys.readouterr().err.replace("\n", "") and not ranking.exists()
