"""The evaluator's report: runs set beside observations over the same period, readable labels, streamed reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quartiersim.evaluation import evaluate, read_series, simulated_values
from quartiersim.sweeps import sweep

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "calibration" / "pilot_example.csv"
ENSEMBLE = """
name = "ensemble"
scenario = "neckarvorstadt"
seeds = 1
store = "all"
resolution = "report"
[set]
scale = 0.1
end = 2027-12-31
spinup_weeks = 13
[uncertainties]
visit_base = [0.1, 0.14]
[design]
method = "latin_hypercube"
samples = 3
[[outcomes]]
indicator = "lonely_share"
year = 2027
"""


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    work = tmp_path_factory.mktemp("evaluation")
    (work / "ensemble.toml").write_text(ENSEMBLE, encoding="utf-8")
    sweep(work / "ensemble.toml", work / "runs")
    return work, evaluate(work / "runs", PILOT, work / "report.html")


def test_the_figure_sets_each_observation_beside_the_runs_over_its_period(evaluation):
    """Half-year visits beside each run's half-year sum (as the table), not beside monthly values."""
    _, result = evaluation
    obs = result.observations
    visits = obs[obs["indicator"] == "meeting_place_visits"].sort_values("start")
    assert len(visits) == 4 and (visits["start"] != visits["end"]).all()
    from quartiersim.evaluation import _figure

    fig = _figure(visits, "meeting_place_visits", "all")
    ax = fig.axes[0]
    medians = next(c for c in ax.collections if c.get_gid() == "median")
    drawn = [segment[0][1] for segment in medians.get_segments()]
    assert drawn == pytest.approx(visits["sim_median"].tolist(), rel=1e-12)
    # the observed half-year counts and the runs' half-year sums are of one size (monthly values were ~6x less)
    ratio = visits["value"].to_numpy() / visits["sim_median"].to_numpy()
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio
    assert "[visits per period]" in ax.get_ylabel() and "summed over each observation's period" in ax.get_title()
    shares = obs[obs["indicator"] == "lonely_share"]
    share_ax = _figure(shares, "lonely_share", "all").axes[0]
    assert "[% (share of adults)]" in share_ax.get_ylabel()


def test_the_report_speaks_to_evaluators(evaluation):
    work, result = evaluation
    text = result.report.read_text(encoding="utf-8")
    assert str(work) not in text and "/tmp" not in text  # no temporary paths
    for label in ("Meeting-place visits", "Lonely adults (share)", "expected range: low", "runs: median",
                  "Glossary", "visits per period", "share of adults"):
        assert label in text, label
    head = text.split("<h2>Glossary</h2>")[0]
    assert "pred_q05" not in head and "sim_median" not in head
    # the CSV beside it keeps the short column names for scripts
    csv = pd.read_csv(work / "report_observations.csv")
    assert {"pred_q05", "sim_median"} <= set(csv.columns)


def test_series_are_read_run_by_run_with_only_the_rows_needed(evaluation):
    work, result = evaluation
    files = sorted((work / "runs" / "runs").glob("p*_s*.parquet"))
    key = ("Neckarvorstadt", "lonely_share", "migration")
    series = read_series(files, {key})
    full = [pd.read_parquet(f) for f in files]
    expected = pd.concat([t[(t["stadtteil"] == key[0]) & (t["indicator"] == key[1]) & (t["group"] == key[2])]
                          .set_index("date")["value"].rename(k) for k, t in enumerate(full)], axis=1).sort_index()
    pd.testing.assert_frame_equal(series[key], expected, check_names=False, check_freq=False)
    one = simulated_values(series[key], pd.Timestamp("2026-01-01").date(), pd.Timestamp("2026-06-30").date(), False)
    assert one == pytest.approx(expected.loc["2026-01-01":"2026-06-30"].mean().to_numpy())
    assert np.isfinite(result.summary["crps"]).all()
