"""quartiersim optimise: plan spaces, the search and its store, the front beside the named strategies, discovery.

Every search here is small on purpose (a few plans, two Bezirke at scale 0.05, or one Bezirk with synthetic
indicators); the seeds of the sampler and of the runs are fixed, so each test's outcome is a function of the
code, not of chance or of the machine's speed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quartiersim.cli import main
from quartiersim.optimise import load_plan_space, open_plan_store, optimise, plan_details

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = "synthetic: constructed for the optimiser test (not real figures)"

# the small plan space: 2 Bezirke at scale 0.05, 3 posterior draws x 2 seeds; a short period and spin-up
SMALL = """
name = "small"
scenario = "rollout_needs_based"
reference = "baseline"
named = ["rollout_equal"]

[set]
scale = 0.05
bezirke = ["Bad Cannstatt", "Mühlhausen"]
end = 2029-12-31
spinup_weeks = 52
report = "quarterly"

[decisions]
"allocation.budget_eur_per_year" = {low = 200_000, high = 1_200_000, step = 100_000}
"allocation.new_stadtteile_per_year" = {low = 1, high = 3}
"verstetigung.strategy" = ["funding_ends", "permanent_posts"]
"initiative_funding.budget_eur_per_year" = {low = 0, high = 200_000, step = 50_000}
"area_index.weights.low_income_share" = {low = 0, high = 1}

[constraints]
budget_eur_per_year = 1_300_000
max_posts = 10
max_new_stadtteile_per_year = 3

[objectives]
year = 2029
cost_years = [2028, 2029]
robustness = "quantile"
quantile = 0.1

[uncertainty]
draws = 3
seeds = 2

[search]
trials = 6
population = 3
seed = 0
"""


def _env() -> dict[str, str]:
    """The environment of a command run as a subprocess: this checkout's package first on the path."""
    src = str(ROOT / "src")
    return dict(os.environ, PYTHONPATH=os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])]))


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "quartiersim.cli", *args]


def _complete(db: Path) -> list[int]:
    """Numbers of the trials the storage holds as complete (read with SQLite while the search writes)."""
    if not db.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
            return [n for (n,) in con.execute("SELECT number FROM trials WHERE state = 'COMPLETE'")]
    except sqlite3.OperationalError:  # the tables do not exist yet
        return []


def _trials(out: Path) -> pd.DataFrame:
    import optuna

    store = open_plan_store(out)
    study = optuna.load_study(study_name=store.space.name, storage=store.storage())
    return pd.DataFrame([{"number": t.number, "state": t.state.name, "params": json.dumps(t.params, sort_keys=True),
                          "values": t.values, "interrupted": bool(t.user_attrs.get("interrupted")),
                          "requeued_from": t.user_attrs.get("requeued_from")} for t in study.get_trials()])


def _run_infos(out: Path) -> dict[str, tuple[int, int]]:
    """Each run file with the process that wrote it and its modification time."""
    from quartiersim.files import read_run_info

    return {str(p.relative_to(out)): (read_run_info(p)["pid"], p.stat().st_mtime_ns)
            for p in sorted((out / "runs").rglob("*.parquet"))}


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """The small plan space searched by `quartiersim optimise`, killed with SIGKILL after two plans, resumed."""
    base = tmp_path_factory.mktemp("small")
    space = base / "small.toml"
    space.write_text(SMALL, encoding="utf-8")
    out = base / "store"
    proc = subprocess.Popen(_command("optimise", str(space), "--out", str(out), "--no-progress"), env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while len(_complete(out / "study.db")) < 2:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    before = _trials(out)
    runs_before = _run_infos(out)
    resumed = subprocess.run(_command("optimise", str(space), "--out", str(out), "--no-progress"), env=_env(),
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return {"space": space, "out": out, "before": before, "runs_before": runs_before, "killed": proc.pid,
            "resumed": resumed, "after": _trials(out), "runs_after": _run_infos(out)}


def test_resume_after_sigkill_keeps_every_finished_evaluation_and_redoes_none(killed_and_resumed):
    k = killed_and_resumed
    before, after = k["before"], k["after"].set_index("number")
    done = before[before["state"] == "COMPLETE"]
    assert len(done) >= 2
    for _, t in done.iterrows():  # every plan told before the kill is still there, unchanged
        assert after.loc[t["number"], "state"] == "COMPLETE"
        assert after.loc[t["number"], "params"] == t["params"] and after.loc[t["number"], "values"] == t["values"]
    interrupted = before[before["state"] == "RUNNING"]
    assert len(interrupted) >= 1  # asked in a batch of three, the third was running when two were told
    for _, t in interrupted.iterrows():  # marked, and evaluated again with the same decision values
        assert after.loc[t["number"], "state"] == "FAIL" and after.loc[t["number"], "interrupted"]
        again = after[after["requeued_from"] == t["number"]]
        assert len(again) == 1 and again["state"].iloc[0] == "COMPLETE" and again["params"].iloc[0] == t["params"]
    evaluated = after[(after["state"] == "COMPLETE")]
    assert len(evaluated) == 6 and not evaluated["interrupted"].any()
    # no run was simulated twice: every file written before the kill is untouched, and the resumed search
    # simulated exactly the runs that were missing
    for path, info in k["runs_before"].items():
        assert k["runs_after"][path] == info
    new = {p for p, (pid, _) in k["runs_after"].items() if p not in k["runs_before"]}
    assert all(k["runs_after"][p][0] != k["killed"] for p in new)
    assert f"({len(new)} simulations)" in k["resumed"].stdout
    evaluations = pd.read_csv(k["out"] / "evaluations.csv")
    assert len(evaluations) == 6 and set(evaluations["state"]) == {"complete"}


def test_the_front_the_named_strategies_and_the_figure(killed_and_resumed):
    out = killed_and_resumed["out"]
    front = pd.read_csv(out / "front.csv")
    named = pd.read_csv(out / "named.csv")
    evaluations = pd.read_csv(out / "evaluations.csv")
    robust = ["lonely_adults_fewer_q10", "active_initiatives_more_q10", "extra_cost_eur_q90", "equity_share_q10"]
    assert len(front) >= 1 and set(robust) <= set(front.columns)
    assert set(front["plan"]) == set(evaluations.loc[evaluations["on_front"], "plan"])
    assert named["strategy"].tolist() == ["rollout_equal"] and named[robust].notna().all(axis=None)
    assert not named["feasible"].iloc[0]  # 2.5 million EUR a year with grants: above the plan space's budget
    # no front plan is dominated by another evaluated plan on the robust statistics
    better = pd.Series([1, 1, -1, 1], index=robust)
    for _, row in front.iterrows():
        x = evaluations[robust] * better
        mine = row[robust] * better
        assert not ((x >= mine).all(axis=1) & (x > mine).any(axis=1)).any()
    assert (out / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from quartiersim.spec import resolve_scenario

    for plan in front["plan"]:  # every front plan is a full scenario that passes the checks of `quartiersim run`
        scenario = resolve_scenario(out / "plans" / f"{plan}.toml")
        assert scenario.name == plan and scenario.allocation.max_posts == 10
    assert len(list((out / "plans").glob("*.toml"))) == len(front)


def test_a_front_plan_is_a_scenario_that_runs_and_compares(killed_and_resumed, tmp_path):
    out = killed_and_resumed["out"]
    plans = sorted((out / "plans").glob("*.toml"))
    assert main(["run", str(plans[0]), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert (tmp_path / "run" / "results.parquet").is_file()
    if len(plans) >= 2:
        assert main(["compare", str(plans[0]), str(plans[1]), "--seeds", "2", "--fixed-parameters", "--out",
                     str(tmp_path / "cmp"), "--no-progress"]) == 0


def test_another_plan_space_in_the_same_store_is_refused(killed_and_resumed, tmp_path, capsys):
    out = killed_and_resumed["out"]
    other = tmp_path / "small.toml"
    other.write_text(SMALL.replace("seed = 0", "seed = 1"), encoding="utf-8")
    manifest = (out / "optimise.json").read_bytes()
    assert main(["optimise", str(other), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "differs in: search" in err
    assert (out / "optimise.json").read_bytes() == manifest


def test_the_finished_search_prints_its_front_at_80_columns(killed_and_resumed):
    from rich.console import Console

    from quartiersim import cli

    k = killed_and_resumed
    console = Console(width=80, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 - closed below
    try:
        args = cli.build_parser().parse_args(["optimise", str(k["space"]), "--out", str(k["out"]), "--no-progress"])
        assert args.func(args, console) == 0
    finally:
        console.file.close()
    text = console.export_text()
    assert "…" not in text and "rollout_equal" in text and "over" in text and "0 plans evaluated now" in text


def test_plot_and_discover_for_a_chosen_plan(killed_and_resumed, tmp_path):
    out = killed_and_resumed["out"]
    plan = pd.read_csv(out / "front.csv")["plan"].iloc[0]
    assert main(["plot", str(out), "--plan", plan, "--out", str(tmp_path / "figs")]) == 0
    assert {p.name for p in (tmp_path / "figs").glob("*.png")} == {"front.png", f"{plan}.png"}
    details = plan_details(open_plan_store(out), plan)
    assert set(details.cost.columns) == {"year", "plan_roles_eur", "plan_grants_eur", "reference_eur"}
    # PRIM over 5 draws: the search's 3 are read back, 2 are run; then a threshold at the outcomes' median
    from quartiersim.optimise import discover

    first = discover(out, plan, "active_initiatives_more", below=0.0, draws=5)
    assert first.simulated == 2 * 2 * 2  # 2 new draws x 2 seeds, for the plan and the reference
    median = float(first.outcomes["active_initiatives_more"].median())
    second = discover(out, plan, "active_initiatives_more", below=median + 1e-9, draws=5)
    assert second.simulated == 0
    assert second.outcomes["fails"].any()
    directory = out / "discovery" / plan
    assert (directory / "prim.png").is_file() and (directory / "plan.png").is_file()
    if second.box is not None:
        chosen = second.peeling[second.peeling["chosen"]].iloc[0]
        assert chosen["density"] >= second.peeling["density"].iloc[0] - 1e-12
        assert (directory / "box.csv").is_file()


# ------------------------------------------------------------------------------------------------------------
# a synthetic city where the best plan is known by construction
# ------------------------------------------------------------------------------------------------------------

def _synthetic(tmp_path: Path, trials: int = 8) -> Path:
    """Bezirk Botnang with synthetic indicators: Botnang-West has overwhelming need (low income, the base index's
    only weight); Botnang-Nord is oldest, which an index weighting age would put first. The budget pays one
    team, so a plan serves the one Stadtteil its index weights put first, and the top quartile of need is
    Botnang-West alone: a plan that takes it first has all its reach there (equity share 1), one that takes
    another has none (0). The known best plan weights low income only."""
    rows = {292: (0.131, 0.30), 293: (0.131, 0.18), 294: (0.131, 0.18), 295: (0.60, 0.10)}
    lines = ["number,low_income_share,age_65plus_share,source"]
    lines += [f"{n},{li},{age},{SYNTHETIC}" for n, (li, age) in rows.items()]
    (tmp_path / "synthetic.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = """
name = "synthetic_base"
start = 2026-01-01
end = 2031-12-31
bezirke = ["Botnang"]
scale = 0.2
spinup_weeks = 52
report = "yearly"
indicators_file = "synthetic.csv"
[area_index]
weights = {low_income_share = 1.0}
[allocation]
strategy = "needs_based"
start = 2028-01-01
new_stadtteile_per_year = 1
years_per_area = 4
budget_eur_per_year = 200_000
"""
    (tmp_path / "base.toml").write_text(base, encoding="utf-8")
    (tmp_path / "reference.toml").write_text(base.replace('"needs_based"', '"none"').replace(
        "synthetic_base", "synthetic_reference"), encoding="utf-8")
    (tmp_path / "known_best.toml").write_text(base.replace("synthetic_base", "known_best").replace(
        "weights = {low_income_share = 1.0}", "weights = {low_income_share = 1.0, age_65plus_share = 0.0}"),
        encoding="utf-8")
    space = f"""
name = "synthetic"
scenario = "base.toml"
reference = "reference.toml"
named = ["known_best.toml"]
[decisions]
"area_index.weights.low_income_share" = {{low = 0, high = 1}}
"area_index.weights.age_65plus_share" = {{low = 0, high = 1}}
[objectives]
year = 2031
cost_years = [2028, 2031]
use = ["equity_share", "extra_cost_eur"]
[uncertainty]
draws = 1
seeds = 1
posterior = "fixed"
[search]
trials = {trials}
population = 4
seed = 0
"""
    (tmp_path / "space.toml").write_text(space, encoding="utf-8")
    return tmp_path / "space.toml"


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    base = tmp_path_factory.mktemp("synthetic")
    space = _synthetic(base)
    return space, optimise(space, base / "store", workers=1)


def test_the_optimiser_finds_a_plan_at_least_as_good_as_the_known_best(synthetic_store):
    space_file, result = synthetic_store
    known = result.named.set_index("strategy").loc["known_best"]
    assert known["equity_share_mean"] == 1.0  # the construction holds: all of the known plan's reach is there
    assert result.front["equity_share_mean"].max() >= known["equity_share_mean"]
    assert (result.front["extra_cost_eur_mean"] <= known["extra_cost_eur_mean"] + 1e-6).all()
    store = open_plan_store(result.out)
    best = result.front.sort_values("equity_share_mean").iloc[-1]["plan"]
    assert plan_details(store, best).areas["stadtteil"].tolist() == ["Botnang-West"]
    table = pd.read_csv(Path(space_file).parent / "synthetic.csv")
    assert table["source"].str.startswith("synthetic").all()


def test_same_plan_space_and_seed_give_the_same_trials_with_two_workers(synthetic_store, tmp_path):
    space_file, first = synthetic_store
    second = optimise(space_file, tmp_path / "store", workers=2)
    cols = ["trial", "area_index.weights.low_income_share", "area_index.weights.age_65plus_share",
            "equity_share_mean", "extra_cost_eur_mean"]
    pd.testing.assert_frame_equal(first.evaluations[cols].reset_index(drop=True),
                                  second.evaluations[cols].reset_index(drop=True))
    pd.testing.assert_frame_equal(first.front[cols].reset_index(drop=True), second.front[cols].reset_index(drop=True))


def test_more_plans_later_continue_the_search_as_if_it_had_not_stopped(synthetic_store, tmp_path):
    space_file, whole = synthetic_store
    optimise(space_file, tmp_path / "store", trials=4)  # one generation, then the rest in a second call
    resumed = optimise(space_file, tmp_path / "store", trials=8)
    assert resumed.ran == 4
    cols = ["trial", "area_index.weights.low_income_share", "area_index.weights.age_65plus_share"]
    pd.testing.assert_frame_equal(whole.evaluations[cols], resumed.evaluations[cols])


# ------------------------------------------------------------------------------------------------------------
# a plan-space file that cannot be used: one message, exit status 2, nothing written
# ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "field", "expected"), [
    ("low = 200_000, high = 1_200_000, step = 100_000", "low = 1_200_000, high = 200_000",
     "decisions.allocation.budget_eur_per_year", "low < high"),
    ("{low = 1, high = 3}", "{low = 1.5, high = 3}", "decisions.allocation.new_stadtteile_per_year",
     "whole numbers"),
    ('["funding_ends", "permanent_posts"]', '["funding_ends", "forever"]', "decisions.verstetigung.strategy",
     "values that make a valid scenario"),
    ('"area_index.weights.low_income_share"', '"allocation.budgett"', "decisions.allocation.budgett",
     "no such field"),
    ("max_new_stadtteile_per_year = 3", "max_new_stadtteile_per_year = 2",
     "decisions.allocation.new_stadtteile_per_year", "the constraint max_new_stadtteile_per_year"),
    ("year = 2029", "year = 2040", "objectives.year", "a year every scenario simulates"),
    ("draws = 3", 'draws = "three"', "uncertainty.draws", "a whole number"),
    ("budget_eur_per_year = 1_300_000", "budget_eur_per_year = 100_000", "constraints.budget_eur_per_year",
     "a budget some plan keeps"),
])
def test_a_bad_plan_space_names_the_file_and_field_and_writes_nothing(tmp_path, capsys, old, new, field, expected):
    assert SMALL.count(old) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace(old, new), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["optimise", str(bad), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and f"field '{field}'" in err and expected in err, err
    assert not out.exists()


def test_robust_statistics_per_draw_and_the_front():
    from quartiersim.optimise import RunMetrics, best_per_draw, pareto_front, per_draw, robust

    ref = {(k, s): RunMetrics(lonely=100.0, lonely_top=40.0, initiatives=10.0, cost=0.0, reach=0.0, reach_top=0.0)
           for k in range(2) for s in range(2)}
    plan = {(0, 0): RunMetrics(90.0, 35.0, 12.0, 1000.0, 50.0, 50.0), (0, 1): RunMetrics(94.0, 39.0, 12.0, 1000.0,
                                                                                        30.0, 10.0),
            (1, 0): RunMetrics(100.0, 40.0, 10.0, 1200.0, 0.0, 0.0), (1, 1): RunMetrics(98.0, 41.0, 11.0, 1200.0,
                                                                                       20.0, 0.0)}
    values = per_draw(plan, ref, 2, 2)
    assert values["lonely_adults_fewer"] == [8.0, 1.0]  # per draw the mean over the seeds
    assert values["active_initiatives_more"] == [2.0, 0.5]
    assert values["extra_cost_eur"] == [1000.0, 1200.0]
    assert values["equity_share"] == [0.75, 0.0]  # reach in the top quartile over the whole reach (sums)
    assert per_draw(plan, ref, 2, 2, "lonely_adults")["equity_share"] == [0.375, 0.0]  # 6/16; -1/2 clipped
    assert robust(values, "mean", 0.1)["lonely_adults_fewer"] == 4.5
    low = robust(values, "quantile", 0.1)
    assert low["lonely_adults_fewer"] == pytest.approx(1.7) and low["extra_cost_eur"] == pytest.approx(1180.0)
    other = {"lonely_adults_fewer": [2.0, 3.0], "active_initiatives_more": [0.0, 1.0],
             "extra_cost_eur": [500.0, 500.0], "equity_share": [1.0, 1.0]}
    best = best_per_draw([values, other])
    regret = robust(values, "regret", 0.1, best)
    assert regret == {"lonely_adults_fewer": 2.0, "active_initiatives_more": 0.5, "extra_cost_eur": 700.0,
                      "equity_share": 1.0}
    points = np.array([[1.0, 5.0], [2.0, 5.0], [0.5, 1.0], [2.0, 5.0]])
    assert pareto_front(points, np.array([1.0, -1.0])).tolist() == [False, True, True, True]
    assert pareto_front(points, np.array([1.0, 1.0])).tolist() == [False, True, False, True]


def test_the_bundled_plan_space_loads():
    space = load_plan_space(ROOT / "experiments" / "plan_spaces" / "rollout_plans.toml")
    assert [d.kind for d in space.decisions][:2] == ["float", "int"]
    assert space.top_quartile == ["Neckarvorstadt"]  # the only Stadtteil with figures in the bundled data
