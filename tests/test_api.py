"""The public helpers for tools around the model: outcome(), dotted overrides, the EMA Workbench model."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import quartiersim
from quartiersim.compare import yearly
from quartiersim.errors import InputError
from quartiersim.outputs import CITY

SMALL = {"scale": 0.05, "end": "2025-12-31", "spinup_weeks": 4}


@pytest.fixture(scope="module")
def table():
    return quartiersim.simulate("verstetigung_funding_ends", seed=1, stadtteile=[211, 212], bezirke=None, **SMALL)


def test_outcome_reads_stocks_at_the_year_end_and_sums_flows(table):
    by_year = yearly(table).set_index(["stadtteil", "indicator", "group", "year"])["value"]
    assert quartiersim.outcome(table, "lonely_share", 2024) == by_year[(CITY, "lonely_share", "all", 2024)]
    last = table[(table["indicator"] == "lonely_share") & (table["stadtteil"] == "Neckarvorstadt")
                 & (table["group"] == "migration")].sort_values("date")["value"].iloc[-1]
    assert quartiersim.outcome(table, "lonely_share", stadtteil="Neckarvorstadt", group="migration") == last
    cost = table[(table["indicator"] == "cost_eur") & (table["stadtteil"] == CITY)]["value"].sum()
    assert quartiersim.outcome(table, "cost_eur", (2024, 2025), how="sum") == pytest.approx(cost, rel=1e-12)
    change = by_year[(CITY, "active_initiatives", "all", 2025)] - by_year[(CITY, "active_initiatives", "all", 2024)]
    assert quartiersim.outcome(table, "active_initiatives", (2024, 2025), how="change") == change
    # a Stadtteil by number, and the yearly table gives the same numbers as the tidy one
    assert quartiersim.outcome(table, "lonely_adults", 2025, stadtteil=211) == \
        quartiersim.outcome(yearly(table), "lonely_adults", 2025, stadtteil="Neckarvorstadt")


def test_several_outcomes_at_once_are_pandas_aggregates_of_the_yearly_rows(table):
    from quartiersim.experiments import OutcomeSpec, outcome_values_of

    year_rows = yearly(table)
    wanted = [(OutcomeSpec(indicator="lonely_share", year=2025), CITY),
              (OutcomeSpec(indicator="lonely_share", group="migration", years=[2024, 2025], aggregate="mean"),
               "Neckarvorstadt")]
    wanted += [(OutcomeSpec(indicator="cost_eur", years=[2024, 2025], aggregate=how), st)
               for how in ("sum", "mean", "min", "max", "change") for st in (CITY, "Neckarvorstadt")]
    wanted.append((OutcomeSpec(indicator="cost_eur", years=[2024, 2026], aggregate="sum"), CITY))  # no 2026
    got = outcome_values_of(table, wanted)
    for (spec, st), value in zip(wanted, got, strict=True):
        rows = year_rows[(year_rows["stadtteil"] == st) & (year_rows["indicator"] == spec.indicator)
                         & (year_rows["group"] == spec.group)].set_index("year")["value"].sort_index()
        if spec.aggregate == "value":
            expected = rows[spec.year]
        elif spec.aggregate == "change":
            expected = rows[spec.last_year] - rows[spec.first_year]
        elif spec.last_year > rows.index.max():
            expected = math.nan
        else:
            expected = getattr(rows.loc[spec.first_year:spec.last_year], spec.aggregate)()
        assert value == expected or (math.isnan(value) and math.isnan(expected)), spec
        if spec.last_year <= 2025:  # outcome() refuses years the table does not have
            assert value == quartiersim.outcome(table, spec.indicator, spec.year or tuple(spec.years), stadtteil=st,
                                                group=spec.group, how=spec.aggregate)
    assert math.isnan(got[-1]) and not any(math.isnan(v) for v in got[:-1])


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"indicator": "lonely"}, "indicator"),
    ({"indicator": "lonely_share", "year": 2030}, "year"),
    ({"indicator": "lonely_share", "stadtteil": "Mitte"}, "stadtteil"),
    ({"indicator": "cost_eur", "group": "migration"}, "group"),
    ({"indicator": "cost_eur", "year": 2024, "how": "sum"}, "years"),
])
def test_outcome_names_what_is_wrong(table, kwargs, field):
    with pytest.raises(InputError) as info:
        quartiersim.outcome(table, **kwargs)
    assert info.value.field == field


def test_simulate_takes_the_experiment_files_dotted_paths():
    role = "Gemeinwesenarbeit Neckarvorstadt"
    spec = quartiersim.QuarterModel("verstetigung_funding_ends", rng=0, stadtteile=[211], bezirke=None, **SMALL,
                                    **{"verstetigung.strategy": "permanent_posts", f"roles.{role}.fte": 1.5}).spec
    assert spec.verstetigung.strategy == "permanent_posts"
    assert next(r.fte for r in spec.roles if r.name == role) == 1.5
    plain = quartiersim.simulate("verstetigung_funding_ends", seed=0, stadtteile=[211], bezirke=None, **SMALL)
    more = quartiersim.simulate("verstetigung_funding_ends", seed=0, stadtteile=[211], bezirke=None, **SMALL,
                                **{f"roles.{role}.fte": 1.5})
    hours = [quartiersim.outcome(t, "role_hours", 2025) for t in (plain, more)]
    assert hours[1] > hours[0]
    assert more.attrs["scenario"]["roles"][[r["name"] for r in more.attrs["scenario"]["roles"]].index(role)][
        "fte"] == 1.5
    with pytest.raises(InputError, match="roles.Nobody.fte"):
        quartiersim.simulate("verstetigung_funding_ends", seed=0, **{"roles.Nobody.fte": 1.0})
    with pytest.raises(InputError, match="strategy"):
        quartiersim.simulate("verstetigung_funding_ends", seed=0, **{"verstetigung.strategy": "hope"})


# ---------------------------------------------------------------------------------------------------------------
# EMA Workbench (the `ema` extra, which the test extra includes)
# ---------------------------------------------------------------------------------------------------------------

def test_ema_model_runs_experiments_and_matches_simulate():
    ema = pytest.importorskip("ema_workbench")
    from quartiersim.ema import ema_model

    outcomes = [{"indicator": "lonely_share", "year": 2025, "stadtteil": "Neckarvorstadt"},
                {"indicator": "cost_eur", "years": [2024, 2025], "aggregate": "sum"}]
    model = ema_model("verstetigung_funding_ends", uncertainties={"visit_base": [0.08, 0.16]},
                      levers={"verstetigung.strategy": ["funding_ends", "permanent_posts"],
                              "roles.Gemeinwesenarbeit Neckarvorstadt.fte": (0.5, 2.0)},
                      outcomes=outcomes, seeds=2, stadtteile=[211], bezirke=None, **SMALL)
    assert [u.name for u in model.uncertainties] == ["visit_base"]
    assert [lv.name for lv in model.levers] == ["strategy", "fte_gemeinwesenarbeit_neckarvorstadt"]
    assert [o.name for o in model.outcomes] == ["lonely_share_2025_neckarvorstadt", "cost_eur_sum_2024_2025"]
    with ema.SequentialEvaluator(model) as evaluator:
        experiments, results = evaluator.perform_experiments(scenarios=2, policies=2)
    assert len(experiments) == 4 and set(results) == {"lonely_share_2025_neckarvorstadt", "cost_eur_sum_2024_2025"}
    row = experiments.iloc[3]
    overrides = {"visit_base": float(row["visit_base"]), "verstetigung.strategy": str(row["strategy"]),
                 "roles.Gemeinwesenarbeit Neckarvorstadt.fte": float(row["fte_gemeinwesenarbeit_neckarvorstadt"])}
    # the outcome is the mean over the seeds of the very runs simulate gives
    runs = [quartiersim.simulate("verstetigung_funding_ends", seed=s, stadtteile=[211], bezirke=None, **SMALL,
                                 **overrides) for s in (0, 1)]
    expected = np.mean([quartiersim.outcome(t, "lonely_share", 2025, stadtteil="Neckarvorstadt") for t in runs])
    assert results["lonely_share_2025_neckarvorstadt"][3] == pytest.approx(expected, rel=1e-12)
    cost = np.mean([quartiersim.outcome(t, "cost_eur", (2024, 2025), how="sum") for t in runs])
    assert results["cost_eur_sum_2024_2025"][3] == pytest.approx(cost, rel=1e-12)
    assert all(math.isfinite(v) for v in results["cost_eur_sum_2024_2025"])


def test_ema_model_defaults_and_refusals():
    pytest.importorskip("ema_workbench")
    import pickle

    from quartiersim.ema import ema_model

    model = ema_model("verstetigung_funding_ends", uncertainties=["lonely_contagion", "max_ties"],
                      outcomes=[{"indicator": "lonely_adults", "year": 2030}])
    assert {type(u).__name__ for u in model.uncertainties} == {"RealParameter", "IntegerParameter"}
    strategy = next(lv for lv in model.levers if lv.name == "strategy")
    assert len(strategy.categories) == 5  # every Verstetigung strategy; and one posts lever per role
    assert sum(lv.name.startswith("fte_") for lv in model.levers) == 5
    assert model.constants[0].name == "seed"
    pickle.loads(pickle.dumps(model.function))  # EMA's worker processes receive it pickled
    with pytest.raises(InputError, match="declared"):
        ema_model("neckarvorstadt", uncertainties={"visit_base": [0.0, 5.0]}, outcomes=[{"indicator": "lonely_share",
                                                                                        "year": 2030}])
    with pytest.raises(InputError, match="outcomes"):
        ema_model("neckarvorstadt")
    with pytest.raises(InputError, match="levers.verstetigung.strategy"):
        ema_model("neckarvorstadt", levers={"verstetigung.strategy": "permanent_posts"},
                  outcomes=[{"indicator": "lonely_share", "year": 2030}])


def test_the_ema_example_runs(monkeypatch):
    pytest.importorskip("ema_workbench")
    import runpy
    from pathlib import Path

    monkeypatch.setenv("QUARTIERSIM_EXAMPLE_SMALL", "1")
    example = Path(__file__).resolve().parents[1] / "experiments" / "ema_example.py"
    namespace = runpy.run_path(str(example), run_name="__main__")
    assert len(namespace["experiments"]) == namespace["N_SCENARIOS"] * namespace["N_POLICIES"]
    assert set(namespace["outcomes"]) == {"lonely_adults_2030", "cost_eur_sum_2028_2030"}


def test_table_units_travel_with_the_results(table, tmp_path):
    from quartiersim.outputs import indicator_table
    from quartiersim.run import read_indicator_table

    assert isinstance(table, pd.DataFrame)
    info = indicator_table()
    assert info["lonely_share"]["unit"] == "share of adults" and "lonely" in info["lonely_share"]["meaning"]
    assert info["cost_eur"]["kind"].startswith("flow")
    from quartiersim.cli import main

    out = tmp_path / "run"
    assert main(["run", "neckarvorstadt", "--out", str(out), "--no-progress", "--scale", "0.05", "--set",
                 "end=2024-06-30", "--set", "spinup_weeks=2"]) == 0
    assert read_indicator_table(out / "results.parquet") == info
    import json

    assert json.loads((out / "metadata.json").read_text())["indicators"] == info
