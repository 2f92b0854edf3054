"""Paired comparison: common random numbers, the t-interval, cost per unit, written files, resuming."""

import datetime as dt
import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quartiersim.cli import main
from quartiersim.compare import compare, cost_effectiveness, differences, yearly
from quartiersim.outputs import CITY
from quartiersim.spec import build_scenario

D = dt.date
BASE = {"stadtteile": [211, 214], "scale": 0.1, "start": D(2024, 1, 1), "end": D(2026, 12, 31),
        "spinup_weeks": 20, "report": "quarterly"}
ROLE = {"name": "GWA", "kind": "gemeinwesenarbeit", "fte": 1.0, "stadtteile": [211], "start": D(2024, 1, 1),
        "end": D(2026, 12, 31), "quartierstreff": True}


def test_yearly_takes_stocks_at_year_end_and_sums_flows():
    dates = pd.to_datetime(["2024-06-30", "2024-12-31", "2025-06-30"])
    table = pd.DataFrame({"date": np.repeat(dates, 2), "stadtteil": CITY, "group": "all",
                          "indicator": ["lonely_share", "cost_eur"] * 3, "value": [0.1, 5, 0.2, 7, 0.3, 11]})
    y = yearly(table).set_index(["indicator", "year"])["value"]
    assert y[("lonely_share", 2024)] == 0.2 and y[("cost_eur", 2024)] == 12 and y[("cost_eur", 2025)] == 11


def test_differences_are_paired_with_a_t_interval():
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 3, 6), rng.normal(10, 3, 6) + 1.0
    rows = [{"scenario": s, "seed": k, "stadtteil": CITY, "indicator": "x", "group": "all", "year": 2030, "value": v}
            for s, vals in (("A", a), ("B", b)) for k, v in enumerate(vals)]
    d = differences(pd.DataFrame(rows), "A", ["B"]).iloc[0]
    diff = b - a
    half = stats.t.ppf(0.95, 5) * diff.std(ddof=1) / np.sqrt(6)
    assert d["mean_difference"] == pytest.approx(diff.mean())
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert d["n_seeds"] == 6


def test_cost_per_unit_only_for_a_clear_effect():
    rows = []
    for k in range(5):
        for scenario, lonely, init, cost in (("A", 100 + k, 10, 0.0), ("B", 90 + k, 10 + (k % 2), 1000.0)):
            for indicator, value in (("lonely_adults", lonely), ("active_initiatives", init), ("cost_eur", cost),
                                     ("grants_eur", 0.0)):
                rows.append({"scenario": scenario, "seed": k, "stadtteil": CITY, "group": "all", "year": 2030,
                             "indicator": indicator, "value": value})
    ce = cost_effectiveness(pd.DataFrame(rows), "A", ["B"]).set_index("outcome")
    assert ce.loc["lonely_adults", "clear_effect"] and ce.loc["lonely_adults", "eur_per_unit"] == pytest.approx(100.0)
    # ten lonely adults fewer in every seed: the bootstrap interval is the point itself
    assert ce.loc["lonely_adults", "ci_low"] == pytest.approx(100.0)
    assert not ce.loc["active_initiatives", "clear_effect"] and np.isnan(ce.loc["active_initiatives", "eur_per_unit"])


def test_no_roles_equals_the_baseline_exactly():
    """A scenario whose strategies add nothing (no roles, allocation none, no grant budget) is the baseline."""
    baseline = build_scenario(dict(BASE, name="baseline"))
    empty = build_scenario(dict(BASE, name="nothing", verstetigung={"strategy": "permanent_posts"},
                                allocation={"strategy": "none"},
                                initiative_funding={"start": D(2024, 1, 1), "budget_eur_per_year": 0},
                                roles=[dict(ROLE, fte=0.0, quartierstreff=False)]))
    result = compare([baseline, empty], seeds=2)
    d = result.differences
    assert (d["mean_difference"].fillna(0) == 0).all() and (d["sd_difference"].fillna(0) == 0).all()


def test_common_random_numbers_leave_unserved_stadtteile_alike():
    """A role in 211 changes 211; Hallschlag (214) is not served and, with the same seed, draws the same random
    numbers in both scenarios, so its loneliness is identical run for run (paired differences exactly 0)."""
    a = build_scenario(dict(BASE, name="a"))
    b = build_scenario(dict(BASE, name="b", roles=[ROLE]))
    d = compare([a, b], seeds=2).differences
    served = d[(d["stadtteil"] == "Neckarvorstadt") & (d["indicator"] == "role_hours")]
    assert (served["mean_difference"] > 0).all()
    other = d[(d["stadtteil"] == "Hallschlag") & (d["indicator"] == "lonely_share")]
    assert (other["mean_difference"] == 0).all()


def test_cli_compare_writes_tables_and_resumes(tmp_path, capsys):
    a = tmp_path / "a.toml"
    b = tmp_path / "b.toml"
    header = ('start = 2024-01-01\nend = 2025-12-31\nstadtteile = [211]\nscale = 0.1\nspinup_weeks = 10\n'
              'report = "quarterly"\n')
    a.write_text('name = "a"\ndescription = "reference"\n' + header, encoding="utf-8")
    b.write_text('name = "b"\ndescription = "with a role"\n' + header + '[[roles]]\nname = "GWA"\n'
                 'kind = "gemeinwesenarbeit"\nfte = 1.0\nstadtteile = [211]\nstart = 2024-01-01\nend = 2025-12-31\n',
                 encoding="utf-8")
    out = tmp_path / "cmp"
    args = ["compare", str(a), str(b), "--seeds", "3", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "b minus a" in printed and "lonely_share" in printed
    for name in ("differences.csv", "differences.parquet", "cost_effectiveness.csv", "yearly.parquet",
                 "compare.json"):
        assert (out / name).is_file()
    runs = sorted((out / "runs").rglob("*.parquet"))
    assert len(runs) == 6 and not list(out.rglob("*.partial"))
    first = pd.read_csv(out / "differences.csv")
    cost = first[(first["indicator"] == "cost_eur") & (first["stadtteil"] == CITY) & (first["year"] == 2025)]
    assert cost["mean_difference"].iloc[0] > 0
    # an interrupted compare: one run missing; the rerun makes only that one and gives the same tables
    runs[0].unlink()
    kept = {p: p.stat().st_mtime_ns for p in runs[1:]}
    assert main(args) == 0
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items()) and runs[0].is_file()
    pd.testing.assert_frame_equal(pd.read_csv(out / "differences.csv"), first)
    # another comparison into the same directory is refused
    assert main(["compare", str(b), str(a), "--seeds", "3", "--out", str(out), "--no-progress"]) == 2
    assert "--out" in capsys.readouterr().err


def test_two_workers_give_the_same_results_as_one(tmp_path):
    a = build_scenario(dict(BASE, name="a", end=D(2024, 12, 31)))
    b = build_scenario(dict(BASE, name="b", end=D(2024, 12, 31), roles=[dict(ROLE, end=D(2024, 12, 31))]))
    one = compare([a, b], seeds=2, out=tmp_path / "one")
    two = compare([a, b], seeds=2, out=tmp_path / "two", workers=2)
    pd.testing.assert_frame_equal(one.differences, two.differences)
    assert sorted(os.listdir(tmp_path / "two" / "runs")) == sorted(os.listdir(tmp_path / "one" / "runs"))
