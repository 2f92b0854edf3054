"""Sweeps: the store loses nothing, resumes exactly, gives the same runs on every executor; summaries and
sensitivity indices."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from quartiersim.cli import main
from quartiersim.compare import yearly
from quartiersim.data import STADTTEIL_INDICATORS_CSV
from quartiersim.experiments import load_experiment
from quartiersim.posterior import resolve_posterior
from quartiersim.run import simulate
from quartiersim.spec import Scenario
from quartiersim.sweeps import collect_outcomes, open_store, read_run_info, run_data, sensitivity, summarise, sweep

HEAD = """
name = "tiny"
scenario = "neckarvorstadt"
seeds = 2

[set]
scale = 0.1
end = 2028-12-31
spinup_weeks = 13
"""
OUTCOMES = """
[[outcomes]]
indicator = "lonely_adults"
year = 2028

[[outcomes]]
indicator = "active_initiatives"
years = [2026, 2028]
aggregate = "mean"
stadtteil = 211
"""
FACTORIAL = """
[levers]
"verstetigung.strategy" = ["funding_ends", "permanent_posts"]

[uncertainties]
visit_base = [0.08, 0.16]

[design]
method = "full_factorial"
levels = 2
""" + OUTCOMES


def write_experiment(tmp_path: Path, body: str, head: str = HEAD, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(head + body, encoding="utf-8")
    return path


def run_tables(directory: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted((directory / "runs").glob("*.parquet"))}


def assert_same_runs(a: Path, b: Path) -> None:
    ta, tb = run_tables(a), run_tables(b)
    assert list(ta) == list(tb)
    for name in ta:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    """A finished factorial sweep (4 design points x 2 seeds), run in this process."""
    tmp = tmp_path_factory.mktemp("finished")
    exp = write_experiment(tmp, FACTORIAL)
    result = sweep(exp, tmp / "store")
    assert result.complete and result.ran == 8
    return exp, tmp / "store"


def test_store_layout_and_runs_match_simulate(finished):
    exp_path, store_dir = finished
    exp = load_experiment(exp_path)
    assert exp.n_points == 4 and exp.seeds == [0, 1]
    names = sorted(p.name for p in (store_dir / "runs").iterdir())
    assert names == [f"p{p:05d}_s{s}.parquet" for p in range(4) for s in (0, 1)]
    assert not list(store_dir.rglob("*.partial"))
    manifest = json.loads((store_dir / "sweep.json").read_text())
    assert manifest["status"]["complete"] and manifest["runs"] == 8
    design = pd.read_csv(store_dir / "design.csv")
    assert design["verstetigung.strategy"].tolist() == ["funding_ends"] * 2 + ["permanent_posts"] * 2
    assert design["visit_base"].tolist() == [0.08, 0.16, 0.08, 0.16]
    # one run, recomputed directly: the stored table is that run's yearly table (Stuttgart and 211 kept)
    data = exp.scenario_data(3)
    assert data["verstetigung"]["strategy"] == "permanent_posts" and data["parameters"]["visit_base"] == 0.16
    # the run itself drew the calibrated parameters it does not set for seed 1 (the bundled posterior)
    post = resolve_posterior(None)
    run = run_data(exp, 3, 1, post)
    assert run["parameters"]["visit_base"] == 0.16
    assert all(run["parameters"][k] == v for k, v in post.draw(1).items() if k != "visit_base")
    direct = yearly(simulate(Scenario(**run), seed=1))
    stored = pd.read_parquet(store_dir / "runs" / "p00003_s1.parquet")
    assert set(stored["stadtteil"]) == {"Stuttgart", "Neckarvorstadt"}
    pd.testing.assert_frame_equal(stored.drop(columns=["point", "seed"]),
                                  direct.reset_index(drop=True), check_exact=True)
    info = read_run_info(store_dir / "runs" / "p00003_s1.parquet")
    assert info["point"] == 3 and info["seed"] == 1 and info["seconds"] > 0
    outcomes = pd.read_csv(store_dir / "outcomes.csv")
    row = outcomes[(outcomes["point"] == 3) & (outcomes["seed"] == 1)].iloc[0]
    city = direct[(direct["stadtteil"] == "Stuttgart") & (direct["indicator"] == "lonely_adults")
                  & (direct["group"] == "all") & (direct["year"] == 2028)]["value"].iloc[0]
    assert row["lonely_adults_2028"] == pytest.approx(city, rel=1e-12)
    local = direct[(direct["stadtteil"] == "Neckarvorstadt") & (direct["indicator"] == "active_initiatives")
                   & direct["year"].between(2026, 2028)]["value"]
    assert row["active_initiatives_mean_2026_2028_211"] == pytest.approx(local.mean(), rel=1e-12)


def test_resume_of_a_finished_store_runs_nothing(finished, tmp_path):
    exp, store_dir = finished
    copy = tmp_path / "store"
    shutil.copytree(store_dir, copy)
    before = {p.name: p.stat().st_mtime_ns for p in (copy / "runs").iterdir()}
    result = sweep(exp, copy)
    assert result.ran == 0 and result.complete
    assert {p.name: p.stat().st_mtime_ns for p in (copy / "runs").iterdir()} == before


def test_more_seeds_later_runs_only_the_new_ones(finished, tmp_path):
    exp, store_dir = finished
    copy = tmp_path / "store"
    shutil.copytree(store_dir, copy)
    more = write_experiment(tmp_path, FACTORIAL, head=HEAD.replace("seeds = 2", "seeds = 3"))
    result = sweep(more, copy)
    assert result.ran == 4 and result.total == 12 and result.complete
    for name, table in run_tables(store_dir).items():
        pd.testing.assert_frame_equal(table, pd.read_parquet(copy / "runs" / f"{name}.parquet"))


def test_another_design_in_the_same_directory_is_refused(finished, tmp_path, capsys):
    _, store_dir = finished
    copy = tmp_path / "store"
    shutil.copytree(store_dir, copy)
    other = write_experiment(tmp_path, FACTORIAL.replace("[0.08, 0.16]", "[0.08, 0.2]"), name="other.toml")
    assert main(["sweep", str(other), "--out", str(copy), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "differs in: design" in err


def test_summary_by_hand(finished, tmp_path):
    _, store_dir = finished
    copy = tmp_path / "store"
    shutil.copytree(store_dir, copy)
    (copy / "runs" / "p00002_s1.parquet").unlink()  # a missing run is counted, not hidden
    table = summarise(copy)
    assert (copy / "summary.csv").is_file() and (copy / "summary.parquet").is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(copy / "summary.parquet"), table)
    outcomes = collect_outcomes(copy)
    for point in range(4):
        values = outcomes[outcomes["point"] == point]["lonely_adults_2028"].to_numpy()
        row = table[(table["point"] == point) & (table["outcome"] == "lonely_adults_2028")].iloc[0]
        assert row["seeds"] == len(values) and row["missing_seeds"] == 2 - len(values)
        assert row["mean"] == pytest.approx(values.mean())
        assert row["p05"] == pytest.approx(np.quantile(values, 0.05))
        assert row["p95"] == pytest.approx(np.quantile(values, 0.95))
        if len(values) == 2:
            half = stats.t.ppf(0.95, 1) * values.std(ddof=1) / np.sqrt(2)
            assert row["mean_ci_high"] - row["mean"] == pytest.approx(half)
        else:
            assert np.isnan(row["mean_ci_low"])
    assert table[table["point"] == 2]["seeds"].tolist() == [1, 1]
    # per lever combination, over the uncertainty samples and seeds together
    levers = pd.read_csv(copy / "summary_levers.csv")
    assert levers["verstetigung.strategy"].tolist() == ["funding_ends"] * 2 + ["permanent_posts"] * 2
    for lever_set in (0, 1):
        values = outcomes[outcomes["lever_set"] == lever_set]["lonely_adults_2028"].to_numpy()
        row = levers[(levers["lever_set"] == lever_set) & (levers["outcome"] == "lonely_adults_2028")].iloc[0]
        assert row["runs"] == len(values) == (4 if lever_set == 0 else 3)
        assert row["mean"] == pytest.approx(values.mean())
        assert row["p05"] == pytest.approx(np.quantile(values, 0.05))
        assert row["p95"] == pytest.approx(np.quantile(values, 0.95))
    assert main(["summarise", str(copy)]) == 0


def test_failed_runs_are_recorded_and_rerun_with_one_flag(tmp_path, capsys):
    """One data variant breaks after the experiment was checked (the file changes while the sweep waits): its runs
    fail with the data file's message, the others finish; the command line then refuses the broken file before
    running anything, and once it is fixed, --rerun-failed runs exactly the failed ones. Runs go through two
    worker processes."""
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    shutil.copy(STADTTEIL_INDICATORS_CSV, good)
    shutil.copy(STADTTEIL_INDICATORS_CSV, bad)
    text = STADTTEIL_INDICATORS_CSV.read_text(encoding="utf-8")
    exp = write_experiment(tmp_path, f"""
[levers]
indicators_file = ["{good}", "{bad}"]
""" + OUTCOMES)
    checked = load_experiment(exp)
    bad.write_text(text.replace("211,0.739,", "211,1.739,"), encoding="utf-8")
    out = tmp_path / "store"
    result = sweep(checked, out, workers=2)
    assert result.failed == 2 and result.finished == 2 and not result.complete
    failures = open_store(out).failures()
    assert sorted(zip(failures["point"], failures["seed"], strict=True)) == [(1, 0), (1, 1)]
    assert set(failures["error"]) == {"InputError"}
    assert all("bad.csv" in m and "migration_share" in m for m in failures["message"])
    assert sorted(p.stem for p in (out / "runs").iterdir()) == ["p00000_s0", "p00000_s1"]
    # a plain resume does not retry them
    assert sweep(checked, out).ran == 0
    # the command line checks the files first: the broken one is refused, nothing runs
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    assert main(["sweep", str(exp), "--out", str(out), "--no-progress"]) == 2
    assert "bad.csv" in capsys.readouterr().err
    bad.write_text(text, encoding="utf-8")
    assert main(["sweep", str(exp), "--out", str(out), "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert "0 runs done now" in printed and "2 failed" in printed and "--rerun-failed" in printed
    assert main(["sweep", str(exp), "--out", str(out), "--rerun-failed", "--no-progress"]) == 0
    assert "2 runs done now" in capsys.readouterr().out
    assert not list((out / "failed").iterdir())
    assert sorted(p.stem for p in (out / "runs").iterdir()) == ["p00000_s0", "p00000_s1", "p00001_s0", "p00001_s1"]
    assert all((out / "runs" / n).stat().st_mtime_ns == t for n, t in before.items())
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["status"] == {**manifest["status"], "finished": 4, "failed": 0, "complete": True}


def test_killed_sweep_resumes_with_every_run_exactly_once(tmp_path):
    """SIGKILL of the sweep process partway, then resume: every run once, identical to an uninterrupted sweep."""
    exp = write_experiment(tmp_path, FACTORIAL.replace("levels = 2", "levels = 4"))  # 8 points x 2 seeds
    out = tmp_path / "killed"
    log = (tmp_path / "sweep.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "quartiersim.cli", "sweep", str(exp), "--out", str(out),
                             "--workers", "2", "--no-progress"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        while proc.poll() is None and len(list((out / "runs").glob("*.parquet"))) < 3:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the orphaned worker processes
        except ProcessLookupError:
            pass
        log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "sweep.log").read_text()
    survived = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert 3 <= len(survived) < 16, "the kill must come partway through the sweep"
    result = sweep(exp, out)
    assert result.complete and result.ran == 16 - len(survived)
    names = sorted(p.name for p in (out / "runs").iterdir())
    assert names == [f"p{p:05d}_s{s}.parquet" for p in range(8) for s in (0, 1)]
    assert not list(out.rglob("*.partial"))
    assert all((out / "runs" / n).stat().st_mtime_ns == t for n, t in survived.items())
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    assert len(outcomes) == 16 and not outcomes.duplicated(["point", "seed"]).any()
    reference = tmp_path / "reference"
    sweep(exp, reference)
    assert_same_runs(out, reference)
    pd.testing.assert_frame_equal(outcomes.drop(columns="seconds"),
                                  pd.read_parquet(reference / "outcomes.parquet").drop(columns="seconds"))


def _dask_cli() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


def _wait_for(predicate, what: str, limit: float = 180.0) -> None:
    """Poll for a process to come up; the limit only keeps a broken set-up from hanging the suite."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > limit:
            raise AssertionError(f"{what} did not come up")
        time.sleep(0.1)


def test_dask_cluster_gives_the_local_results_run_by_run(tmp_path):
    """A real scheduler and two workers on 127.0.0.1 (the commands the README shows), the sweep sent to them
    with --scheduler, and the same sweep with local worker processes: identical run by run."""
    from distributed import Client

    exp = write_experiment(tmp_path, FACTORIAL)
    scheduler_file = tmp_path / "scheduler.json"
    logs = [(tmp_path / f"{n}.log").open("w") for n in ("scheduler", "worker")]
    procs = [subprocess.Popen([*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        _wait_for(lambda: scheduler_file.is_file() and "address" in scheduler_file.read_text(), "the scheduler")
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen([*_dask_cli(), "worker", address, "--nworkers", "2", "--nthreads", "1",
                                       "--host", "127.0.0.1", "--no-dashboard"], stdout=logs[1],
                                      stderr=subprocess.STDOUT))
        with Client(address, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=180)
            worker_pids = set(client.run(os.getpid).values())
        assert main(["sweep", str(exp), "--scheduler", address, "--out", str(tmp_path / "dask"),
                     "--no-progress"]) == 0
        assert main(["sweep", str(exp), "--workers", "2", "--out", str(tmp_path / "local"), "--no-progress"]) == 0
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        for log in logs:
            log.close()
    assert_same_runs(tmp_path / "dask", tmp_path / "local")
    ran_on = {read_run_info(p)["pid"] for p in (tmp_path / "dask" / "runs").glob("*.parquet")}
    assert ran_on <= worker_pids and len(ran_on) == 2  # both Dask workers ran runs; none ran here
    assert os.getpid() not in ran_on


def test_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exp = write_experiment(tmp_path, FACTORIAL)
    code = main(["sweep", str(exp), "--scheduler", f"tcp://127.0.0.1:{port}", "--out", str(tmp_path / "o"),
                 "--no-progress"])
    assert code == 2
    assert "--scheduler" in capsys.readouterr().err


MORRIS = """
[uncertainties]
lonely_onset_base = [2e-5, 1.2e-4]
grant_dropout_effect = [0.0, 1.0]   # grants only act through funding, and the base scenario has none

[design]
method = "morris"
samples = 4
levels = 4

[[outcomes]]
indicator = "lonely_adults"
year = 2028
"""


@pytest.mark.slow  # a sensitivity study: CI runs it in its own step (pytest -m slow)
def test_morris_ranks_a_parameter_that_matters_above_one_that_cannot(tmp_path, capsys):
    exp = write_experiment(tmp_path, MORRIS, head=HEAD.replace("seeds = 2", "seeds = 1"))
    out = tmp_path / "morris"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    assert main(["sensitivity", str(out)]) == 0
    assert "lonely_onset_base" in capsys.readouterr().out
    table = pd.read_csv(out / "sensitivity.csv").set_index("parameter")
    assert table.loc["grant_dropout_effect", "mu_star"] == 0.0  # exactly: common random numbers, no grants
    assert table.loc["lonely_onset_base", "mu_star"] > 0
    assert table.loc["lonely_onset_base", "rank"] == 1 and table.loc["grant_dropout_effect", "rank"] == 2
    assert (out / "sensitivity.png").stat().st_size > 10_000


@pytest.mark.slow  # a sensitivity study: CI runs it in its own step (pytest -m slow)
def test_sobol_ranks_a_parameter_that_matters_above_one_that_cannot(tmp_path):
    body = MORRIS.replace('method = "morris"\nsamples = 4\nlevels = 4', 'method = "sobol"\nsamples = 8')
    exp = write_experiment(tmp_path, body, head=HEAD.replace("seeds = 2", "seeds = 1"))
    assert load_experiment(exp).n_points == 8 * (2 + 2)
    out = tmp_path / "sobol"
    sweep(exp, out, workers=2)
    table = sensitivity(out, plot=False).set_index("parameter")
    assert table.loc["grant_dropout_effect", "ST"] == pytest.approx(0.0, abs=1e-12)
    assert table.loc["lonely_onset_base", "ST"] > 0.5
    assert table.loc["lonely_onset_base", "rank"] == 1


def test_sensitivity_needs_a_design_made_for_it(finished, capsys):
    _, store_dir = finished
    assert main(["sensitivity", str(store_dir)]) == 2
    assert "design.method" in capsys.readouterr().err


EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_bundled_experiment_files_run(path):
    """Every experiment file in experiments/ is valid, and its first design point runs (at a small scale) to
    finite values of every outcome."""
    from quartiersim.sweeps import RunJob, execute

    exp = load_experiment(path)
    assert exp.n_points >= 2 and exp.description
    data = dict(exp.scenario_data(0), scale=0.02)
    table, info = execute(RunJob(0, 0, data, exp.keep(), None))
    values = exp.outcome_values(table)
    assert list(values) == exp.labels
    assert all(np.isfinite(v) for v in values.values()), values


def test_experiments_are_found():
    assert len(EXPERIMENTS) >= 3


def test_store_keeps_the_city_and_outcome_stadtteile_or_all(tmp_path):
    from quartiersim.sweeps import RunJob, execute

    head = HEAD.replace("spinup_weeks = 13", "spinup_weeks = 13\nstadtteile = [211, 212]")
    city = load_experiment(write_experiment(tmp_path, FACTORIAL, head=head))
    head_all = head.replace("seeds = 2", 'seeds = 2\nstore = "all"')
    every = load_experiment(write_experiment(tmp_path, FACTORIAL, head=head_all, name="all.toml"))
    assert city.keep() == ["Neckarvorstadt", "Stuttgart"] and every.keep() is None
    kept, _ = execute(RunJob(0, 0, city.scenario_data(0), city.keep(), None))
    full, _ = execute(RunJob(0, 0, every.scenario_data(0), every.keep(), None))
    assert set(kept["stadtteil"]) == {"Stuttgart", "Neckarvorstadt"}
    assert set(full["stadtteil"]) == {"Stuttgart", "Neckarvorstadt", "Pragstraße"}
    pd.testing.assert_frame_equal(kept.reset_index(drop=True),
                                  full[full["stadtteil"] != "Pragstraße"].reset_index(drop=True))
