"""Bad input gets one clear message naming the file, the field and what was expected, and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from quartiersim.cli import main
from quartiersim.data import load_indicators, load_stadtteile
from quartiersim.errors import InputError
from quartiersim.spec import load_scenario, resolve_scenario, scenario_inputs

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


# --- experiment files (issue 5) ---------------------------------------------------------------------------------

EXP_HEAD = """
name = "bad"
scenario = "neckarvorstadt"
seeds = 2
[set]
scale = 0.1
end = 2028-12-31
"""
EXP_LEVER = '[levers]\n"verstetigung.strategy" = ["funding_ends", "permanent_posts"]\n'
EXP_OUTCOME = '[[outcomes]]\nindicator = "lonely_adults"\nyear = 2028\n'
EXP_GOOD = EXP_HEAD + EXP_LEVER + EXP_OUTCOME

BAD_EXPERIMENTS = [
    ("unknown parameter", EXP_GOOD + "[uncertainties]\nvisti_base = [0.1, 0.2]\n", "uncertainties.visti_base",
     "did you mean visit_base"),
    ("bounds out of the declared range", EXP_GOOD + "[uncertainties]\nvisit_base = [0.1, 1.5]\n",
     "uncertainties.visit_base", "inside the declared range [0, 1]"),
    ("bounds in the wrong order", EXP_GOOD + "[uncertainties]\nvisit_base = [0.2, 0.1]\n",
     "uncertainties.visit_base", "low < high"),
    ("bounds in an unknown form", EXP_GOOD + '[uncertainties]\nvisit_base = "wide"\n', "uncertainties.visit_base",
     "[low, high]"),
    ("empty design", EXP_HEAD + EXP_OUTCOME, "design", "at least one lever or uncertainty"),
    ("empty lever", EXP_HEAD + '[levers]\nvisit_base = []\n' + EXP_OUTCOME, "levers.visit_base",
     "a list of 1 to 1,000 values"),
    ("unknown outcome", EXP_HEAD + EXP_LEVER + '[[outcomes]]\nindicator = "happiness"\nyear = 2028\n',
     "outcomes.0.indicator", "an indicator of the results table"),
    ("unknown outcome group", EXP_GOOD.replace("year = 2028", 'year = 2028\ngroup = "pensioners"'),
     "outcomes.0.group", "a group: all, migration"),
    ("outcome year not simulated", EXP_GOOD.replace("year = 2028", "year = 2031"), "outcomes.0.year",
     "years the scenario simulates (2024 to 2028)"),
    ("outcome Stadtteil not simulated", EXP_GOOD.replace("year = 2028", "year = 2028\nstadtteil = 212"),
     "outcomes.0.stadtteil", "a Stadtteil the scenario simulates"),
    ("outcome range without years", EXP_GOOD.replace("year = 2028", 'aggregate = "sum"'), "outcomes.0.years",
     "years = [from, to]"),
    ("no outcomes", EXP_HEAD + EXP_LEVER, "outcomes", "this field to be given"),
    ("unknown lever parameter", EXP_HEAD + '[levers]\nvisti_base = [0.1]\n' + EXP_OUTCOME, "levers.visti_base",
     "did you mean visit_base"),
    ("unknown lever field", EXP_HEAD + '[levers]\n"verstetigung.strategie" = ["x"]\n' + EXP_OUTCOME,
     "levers.verstetigung.strategie", "no such field"),
    ("bad lever value", EXP_HEAD + '[levers]\n"verstetigung.strategy" = ["forever"]\n' + EXP_OUTCOME,
     "levers.verstetigung.strategy", "one of 'funding_ends'"),
    ("lever on a table the scenario lacks", EXP_HEAD + '[levers]\n"allocation.budget_eur_per_year" = [1e6]\n'
     + EXP_OUTCOME, "levers.allocation.budget_eur_per_year", "it has no [allocation]"),
    ("lever on an unknown role", EXP_HEAD + '[levers]\n"roles.Mayor.fte" = [1.0]\n' + EXP_OUTCOME,
     "levers.roles.Mayor.fte", "the name of an item of roles"),
    ("parameter lever out of range", EXP_HEAD + '[levers]\nvisit_base = [0.1, 3]\n' + EXP_OUTCOME,
     "levers.visit_base", "[0, 1]"),
    ("Sobol samples not a power of 2", EXP_GOOD + '[uncertainties]\nvisit_base = [0.1, 0.2]\n'
     '[design]\nmethod = "sobol"\nsamples = 10\n', "design.samples", "a power of 2"),
    ("Sobol without uncertainties", EXP_GOOD + '[design]\nmethod = "sobol"\n', "uncertainties",
     "at least one parameter range"),
    ("unknown design method", EXP_GOOD + '[design]\nmethod = "random"\n', "design.method", "one of"),
    ("unknown base scenario", EXP_GOOD.replace('"neckarvorstadt"', '"atlantis"'), "scenario",
     "a scenario file or one of the names"),
    ("unknown key", EXP_GOOD + 'colour = "red"\n', "outcomes.0.colour", "no such field"),
    ("unknown top-level key", 'colour = "red"\n' + EXP_GOOD, "colour", "no such field"),
    ("no seeds", EXP_GOOD.replace("seeds = 2", "seeds = 0"), "seeds", "a number of seeds from 1 to 10,000"),
    ("a parameter both lever and uncertainty", EXP_HEAD + '[levers]\nvisit_base = [0.1]\n'
     '[uncertainties]\nvisit_base = [0.1, 0.2]\n' + EXP_OUTCOME, "uncertainties.visit_base", "not also a lever"),
    ("bad fixed change", EXP_GOOD.replace("scale = 0.1", "scale = 3"), "set.scale", "<= 1"),
    ("not TOML", "name = [unclosed\n", "(syntax)", "valid TOML"),
]


@pytest.mark.parametrize("label,text,field,expected", BAD_EXPERIMENTS, ids=[b[0] for b in BAD_EXPERIMENTS])
def test_bad_experiment_file_message_and_exit_status(tmp_path, capsys, label, text, field, expected):
    path = _write(tmp_path, text, "exp.toml")
    out = tmp_path / "out"
    status = main(["sweep", str(path), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.replace("\n", "")
    assert status == 2
    assert err.count("error:") == 1 and str(path) in err and f"'{field}'" in err and expected in err, err
    assert not out.exists()


def test_good_experiment_text_is_good(tmp_path):
    from quartiersim.experiments import load_experiment

    assert load_experiment(_write(tmp_path, EXP_GOOD, "exp.toml")).n_points == 2


def test_sweep_store_arguments(tmp_path, capsys):
    path = _write(tmp_path, EXP_GOOD, "exp.toml")
    assert main(["sweep", str(tmp_path / "none.toml"), "--no-progress"]) == 2
    assert "existing experiment file" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    assert main(["sweep", str(path), "--out", str(other), "--no-progress"]) == 2
    assert "a new or empty directory" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["keep.txt"]
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "0", "--no-progress"]) == 2
    assert "--workers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1",
                 "--no-progress"]) == 2
    assert "--scheduler" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["summarise", str(other)]) == 2
    assert "sweep.json" in capsys.readouterr().err


def test_scenario_inputs_are_read_once_and_handed_out_as_copies():
    """A loop of runs reads the files and ranks the city once; a caller changing its tables changes no later run."""
    spec = resolve_scenario("neckarvorstadt")
    table, city, indicators, ranking = scenario_inputs(spec)
    expected = [frame.copy() for frame in (table, city, indicators, ranking)]
    table.loc[0, "population"] = -1
    city.iloc[0, 0] = -1.0
    indicators.loc[0, "number"] = -1
    ranking.loc[0, "score"] = 99.0
    for got, want in zip(scenario_inputs(spec), expected, strict=True):
        pd.testing.assert_frame_equal(got, want)
