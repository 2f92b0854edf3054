"""Calibration: resuming, the calibrated files, the shipped calibration's fit, bad files; and
evaluate on the example pilot data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quartiersim.calibration import (
    ABCSettings,
    Distance,
    Prior,
    Simulator,
    calibrate,
    identifiability,
    last_read,
    load_calibration,
    load_targets,
    stages,
    statistics,
    stop_reason,
)
from quartiersim.cli import main
from quartiersim.errors import InputError
from quartiersim.experiments import Uncertainty, load_experiment
from quartiersim.outputs import CITY, yearly
from quartiersim.run import simulate
from quartiersim.spec import load_scenario
from quartiersim.sweeps import sweep

ROOT = Path(__file__).resolve().parents[1]
TARGETS = """
[[targets]]
name = "lonely_share"
kind = "observed"
value = 0.035
sd = 0.006
statistic = {indicator = "lonely_share", year = 2025}
source = "fixed numbers for the resume test (the Bürgerumfrage 2021 level)"

[[targets]]
name = "volunteer_share"
kind = "observed"
value = 0.40
sd = 0.015
statistic = {indicator = "volunteer_share", year = 2025}
source = "fixed numbers for the resume test (the Freiwilligensurvey 2019 level)"
"""
CALIBRATION = """
name = "resume"
scenario = "neckarvorstadt"
targets = "targets.toml"
[set]
scale = 0.1
end = 2025-12-31
spinup_weeks = 13
[priors]
lonely_onset_base = {{low = 1e-5, high = 1.6e-4, scale = "log"}}
volunteer_quit_rate = [0.001, 0.012]
[abc]
population_size = {size}
max_generations = {generations}
min_epsilon = 0.0
predictive_draws = 4
seed = 3
"""


def write_targets(directory: Path) -> None:
    """targets.toml with fixed values (no statistical claim rests on them: see calibration/recovery_study.py)."""
    (directory / "targets.toml").write_text(TARGETS, encoding="utf-8")


def _generation_particles(out: Path, t: int) -> pd.DataFrame:
    import pyabc

    history = pyabc.History(f"sqlite:///{(out / 'calibration.db').resolve()}", _id=1)
    frame, weights = history.get_distribution(m=0, t=t)
    return frame.assign(weight=weights).sort_values(list(frame.columns)).reset_index(drop=True)


def test_calibration_resumes_where_it_stopped(tmp_path):
    """The resume mechanics with fixed numbers: a calibration stopped after 2 generations and resumed to 3 runs
    exactly one more generation, keeps the stored generations as they were, and writes a posterior of the last
    one. Whether posteriors cover true values is a statistical question for calibration/recovery_study.py, not
    for this test."""
    write_targets(tmp_path)
    cal_file = tmp_path / "resume.toml"
    cal_file.write_text(CALIBRATION.format(generations=2, size=12), encoding="utf-8")
    out = tmp_path / "out"
    first = calibrate(cal_file, out)
    assert first.ran_generations == 2 and first.generations["generation"].tolist() == [0, 1]
    before = [_generation_particles(out, t) for t in (0, 1)]
    eps_before = first.generations["epsilon"].tolist()
    # a second call with the same limit has nothing left to do and writes the same posterior
    again = calibrate(cal_file, out)
    assert again.ran_generations == 0
    pd.testing.assert_frame_equal(again.posterior, first.posterior)
    cal_file.write_text(CALIBRATION.format(generations=3, size=12), encoding="utf-8")
    seen = []
    result = calibrate(cal_file, out, progress=lambda t, eps, n: seen.append(t))
    assert result.ran_generations == 1 and result.generations["generation"].tolist() == [0, 1, 2]
    assert seen and max(seen) == 2
    assert result.generations["epsilon"].tolist()[:2] == eps_before  # stored generations untouched
    for t in (0, 1):
        pd.testing.assert_frame_equal(_generation_particles(out, t), before[t])
    eps = result.generations["epsilon"].to_numpy()
    # the threshold falls generation by generation, also across a resumed call (distances are continuous: a
    # median of the accepted distances equal to the threshold would need ties)
    assert np.all(np.diff(eps) < 0)
    posterior = pd.read_csv(out / "posterior.csv")
    assert len(posterior) == 12 and posterior["weight"].sum() == pytest.approx(1.0)
    assert posterior["generation"].eq(2).all()
    assert posterior["lonely_onset_base"].between(1e-5, 1.6e-4).all()
    assert posterior["volunteer_quit_rate"].between(0.001, 0.012).all()
    summary = result.summary.set_index("parameter")
    for name in ("lonely_onset_base", "volunteer_quit_rate"):
        row = summary.loc[name]
        assert row["q05"] <= row["median"] <= row["q95"]
    # the calibrated scenario runs, with the posterior medians
    scenario = load_scenario(out / "calibrated.toml")
    assert scenario.params.lonely_onset_base == pytest.approx(summary.loc["lonely_onset_base", "median"])
    assert main(["run", str(out / "calibrated.toml"), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    ensemble = load_experiment(out / "ensemble.toml")
    assert ensemble.method == "posterior" and ensemble.n_points == 20 and ensemble.resolution == "report"
    drawn = ensemble.design["lonely_onset_base"]
    assert drawn.isin(posterior["lonely_onset_base"]).all()
    for f in ("posterior_summary.csv", "generations.csv", "posterior.png"):
        assert (out / f).stat().st_size > 0
    # the posterior predictive check: each target's simulated median and 90 % interval against its value, with z
    predictive = pd.read_csv(out / "posterior_predictive.csv")
    assert predictive["target"].tolist() == ["lonely_share", "volunteer_share"]
    assert (predictive["draws"] == 4).all()
    assert (predictive["sim_q05"] <= predictive["sim_median"]).all()
    assert (predictive["sim_median"] <= predictive["sim_q95"]).all()
    assert np.allclose(predictive["z"], (predictive["sim_median"] - predictive["value"]) / predictive["sd"])
    report = (out / "calibration_report.md").read_text(encoding="utf-8")
    for heading in ("## Targets", "## Parameters", "## Posterior predictive check"):
        assert heading in report
    # another calibration in the same directory is refused
    cal_file.write_text(CALIBRATION.format(generations=3, size=12).replace("[0.001, 0.012]", "[0.002, 0.012]"))
    assert main(["calibrate", str(cal_file), "--out", str(out), "--no-progress"]) == 2


def test_identifiability_flags_a_parameter_the_targets_leave_as_uncertain_as_its_prior():
    """A posterior spread over its whole prior is not informed; one in a tenth of it is (on the log scale for a
    log prior)."""
    rng = np.random.default_rng(0)
    priors = [Prior(Uncertainty("lonely_onset_base", 1e-5, 1e-4, False), "log"),
              Prior(Uncertainty("host_effect", 0.0, 0.8, False), "linear"),
              Prior(Uncertainty("event_attendance", 4.0, 40.0, False), "linear")]
    n = 400
    posterior = pd.DataFrame({"lonely_onset_base": np.exp(rng.uniform(np.log(3e-5), np.log(3.8e-5), n)),
                              "host_effect": rng.uniform(0.0, 0.8, n),
                              "event_attendance": rng.uniform(10.0, 13.6, n), "weight": np.full(n, 1 / n)})
    summary = identifiability(pd.DataFrame({"parameter": [p.name for p in priors]}), posterior, priors)
    flags = summary.set_index("parameter")
    assert flags.loc["lonely_onset_base", "width_ratio"] < 0.15 and flags.loc["lonely_onset_base", "informed"]
    assert flags.loc["event_attendance", "width_ratio"] < 0.15 and flags.loc["event_attendance", "informed"]
    assert flags.loc["host_effect", "width_ratio"] > 0.9 and not flags.loc["host_effect", "informed"]


class _History:
    """What stop_reason reads of a pyabc history: the generations' thresholds and weights."""

    def __init__(self, eps: list[float], ess: list[float], size: int = 100, last_sims: int = 300):
        self.eps, self.ess, self.size = eps, ess, size
        self.samples = [300] * (len(eps) - 1) + [last_sims]
        self.max_t = len(eps) - 1
        self.total_nr_simulations = sum(self.samples)

    def get_all_populations(self) -> pd.DataFrame:
        return pd.DataFrame({"t": range(len(self.eps)), "epsilon": self.eps, "samples": self.samples})

    def get_distribution(self, m: int, t: int):
        # ess equal weights of 1 and the rest 0 give an effective sample size of exactly ess
        k = int(self.ess[t])
        return pd.DataFrame({"x": range(self.size)}), np.r_[np.ones(k), np.zeros(self.size - k)]


@pytest.mark.parametrize("eps,ess,last_sims,stops", [
    ([2.0, 1.5, 1.3, 1.25], [100, 60, 50, 45], 300, True),    # fell 3.8 %, ESS 45 %: converged
    ([2.0, 1.5, 1.3, 1.1], [100, 60, 50, 45], 300, False),    # fell 15 %: the threshold still falls fast
    ([2.0, 1.5, 1.3, 1.25], [100, 60, 50, 30], 300, False),   # ESS 30 %: too few particles' worth
    ([2.0, 1.9, 1.88], [100, 60, 50], 300, False),            # fell little, but fewer than min_generations
    ([2.0, 1.5, 1.3, 1.1], [100, 60, 50, 45], 2500, True),    # fell 15 %, but 4 % accepted: converged
    ([2.0, 1.5, 1.3, 1.1], [100, 60, 50, 45], 1900, False),   # fell 15 % and 5.3 % accepted: go on
    ([2.0, 1.5, 1.3, 1.1], [100, 60, 50, 30], 2500, False),   # 4 % accepted, but ESS 30 %
])
def test_convergence_needs_the_ess_and_a_small_fall_of_epsilon_or_few_accepted(eps, ess, last_sims, stops):
    settings = ABCSettings(population_size=100, min_generations=4, min_ess_share=0.4, max_epsilon_change=0.10,
                           min_acceptance_rate=0.05, max_generations=20, max_simulations=100_000)
    reason = stop_reason(_History(eps, ess, last_sims=last_sims), settings)
    assert (reason is not None and reason.startswith("converged")) == stops, reason
    if stops:
        assert ("accepted" in reason) == (last_sims > 300)


@pytest.mark.parametrize("budget", ["max_generations", "max_simulations"])
def test_a_last_allowed_generation_that_meets_the_criterion_has_converged(budget):
    """The budget and the criterion can both hold after a generation (a fresh run of the shipped calibration
    met the criterion in its ninth generation of nine): it stopped because it converged."""
    limits = {"max_generations": 4, "max_simulations": 100_000} if budget == "max_generations" else \
        {"max_generations": 20, "max_simulations": 2_800}
    settings = ABCSettings(population_size=100, min_generations=4, min_ess_share=0.4, max_epsilon_change=0.10,
                           min_acceptance_rate=0.05, **limits)
    met = stop_reason(_History([2.0, 1.5, 1.3, 1.1], [100, 60, 50, 45], last_sims=2500), settings)
    assert met is not None and met.startswith("converged") and "accepted" in met, met
    unmet = stop_reason(_History([2.0, 1.5, 1.3, 1.1], [100, 60, 50, 45], last_sims=1900), settings)
    assert unmet is not None and unmet.startswith(budget), unmet


def test_stopping_settings_leave_a_calibration_the_same(tmp_path):
    """The stopping rule and the number of predictive draws can change between runs of one history; the
    population size and the seed cannot."""
    write_targets(tmp_path)
    text = CALIBRATION.format(generations=2, size=12)
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    stopping = "predictive_draws = 3\nmin_acceptance_rate = 0.2\nmin_ess_share = 0.3\nmax_epsilon_change = 0.2"
    (tmp_path / "b.toml").write_text(text.replace("predictive_draws = 4", stopping), encoding="utf-8")
    (tmp_path / "c.toml").write_text(text.replace("population_size = 12", "population_size = 13"), encoding="utf-8")
    a, b, c = (load_calibration(tmp_path / f"{n}.toml") for n in "abc")
    assert b.settings.min_acceptance_rate == 0.2
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_parameter_defaults_follow_the_shipped_calibration():
    """Each parameter the shipped calibration informed takes its posterior median as default, with its interval
    in the source; the ones it did not inform are named as such and keep their prior's reasoning."""
    from quartiersim.parameters import CALIBRATED, NOT_INFORMED, PARAMS_BY_NAME

    summary = pd.read_csv(ROOT / "calibration" / "stuttgart" / "posterior_summary.csv").set_index("parameter")
    assert set(CALIBRATED) == set(summary.index[summary["informed"]])
    assert set(NOT_INFORMED) == set(summary.index[~summary["informed"]])
    for name, (median, q05, q95) in CALIBRATED.items():
        row = summary.loc[name]
        assert np.allclose([median, q05, q95], [row["median"], row["q05"], row["q95"]], rtol=1e-3)
        assert PARAMS_BY_NAME[name].default == median
        assert PARAMS_BY_NAME[name].source.startswith("calibrated")
    for name in NOT_INFORMED:
        assert "not informed" in PARAMS_BY_NAME[name].source
    others = [p for p in PARAMS_BY_NAME.values() if p.name not in CALIBRATED]
    assert not [p.name for p in others if p.source.startswith("calibrated")]


def test_shipping_a_calibration_writes_the_defaults_it_is_checked_against(tmp_path):
    """``calibration/ship.py`` writes CALIBRATED and NOT_INFORMED from a summary: from the shipped summary it
    writes exactly what parameters.py declares, and from another it writes that one's medians and standing."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ship", ROOT / "calibration" / "ship.py")
    ship = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ship)
    text = ship.PARAMETERS.read_text(encoding="utf-8")
    match = ship.BLOCK.search(text)
    summary = pd.read_csv(ROOT / "calibration" / "stuttgart" / "posterior_summary.csv")
    assert ship.parameters_block(summary, match.group(1)) == match.group(0)
    other = summary.copy()
    other["informed"] = [i < 2 for i in range(len(other))]
    other.loc[0, "median"] = 4.2e-5
    namespace: dict = {}
    exec(ship.parameters_block(other, match.group(1)), namespace)  # noqa: S102 - the block is plain literals
    assert list(namespace["CALIBRATED"]) == list(other["parameter"][:2])
    assert namespace["CALIBRATED"][other["parameter"][0]][0] == 4.2e-5
    assert namespace["NOT_INFORMED"] == tuple(other["parameter"][2:])
    (tmp_path / "nothing").mkdir()
    assert ship.main([str(tmp_path / "nothing")]) == 2
    assert ship.PARAMETERS.read_text(encoding="utf-8") == text


def test_a_calibration_is_identified_without_the_base_values_of_its_priors(tmp_path):
    """The priors' parameters take sampled values in every simulation, so their base values (the defaults, which
    a shipped calibration sets) do not change what a calibration is: its history resumes after they change.
    Any other parameter of the base does."""
    write_targets(tmp_path)
    text = CALIBRATION.format(generations=2, size=12)
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    (tmp_path / "b.toml").write_text(text.replace("[set]\n", "[set]\nlonely_onset_base = 9e-5\n"), encoding="utf-8")
    (tmp_path / "c.toml").write_text(text.replace("[set]\n", "[set]\nplace_capacity = 120.0\n"), encoding="utf-8")
    a, b, c = (load_calibration(tmp_path / f"{n}.toml").fingerprint() for n in "abc")
    assert a == b
    assert a != c


def test_shipped_calibration_fits_the_city_targets():
    """calibration/stuttgart/calibrated.toml (written by `quartiersim calibrate calibration/stuttgart.toml`):
    the share of lonely adults and its health gradient lie within two sds of the Bürgerumfrage 2021 targets
    (3.5 +- 0.5 %, 0.5 +- 0.3 % at very good, 30 +- 6 % at very poor health; calibration/targets.toml). The
    tolerance is the survey's, not the seeds': at full scale the two seeds' mean varies by about 0.1 points."""
    path = ROOT / "calibration" / "stuttgart" / "calibrated.toml"
    shares = []
    for seed in (0, 1):
        table = simulate(str(path), seed=seed)
        last = table[(table["stadtteil"] == "Stuttgart") & (table["indicator"] == "lonely_share")
                     & (table["date"] == table["date"].max())].set_index("group")["value"]
        shares.append(last)
    mean = pd.concat(shares, axis=1).mean(axis=1)
    assert 0.025 <= mean["all"] <= 0.045, mean.to_dict()
    assert mean["health_very_good"] <= 0.011 and 0.18 <= mean["health_very_poor"] <= 0.42, mean.to_dict()
    assert mean["health_very_poor"] > 10 * mean["health_very_good"]



def test_statistics_from_the_targets_rows_equal_those_of_the_whole_table():
    """A run's tidy table is cut to the targets' rows before it is made yearly: the statistics are exactly those of
    the whole yearly table, and the run's table keeps its attrs."""
    cal = load_calibration(ROOT / "calibration" / "stuttgart.toml")
    table = simulate(cal.base.with_overrides(scale=0.1, spinup_weeks=13), seed=1)
    got = statistics(table, cal.targets, cal.stadtteile)
    whole = statistics(yearly(table), cal.targets, cal.stadtteile)
    assert list(got) == list(whole) == [t.name for t in cal.targets]
    for name, value in got.items():
        assert value == whole[name] or (np.isnan(value) and np.isnan(whole[name])), name
    assert table.attrs["seed"] == 1


def test_the_simulator_stops_each_stadtteil_after_its_last_target_year_with_the_same_statistics():
    """The calibration's simulator runs Weilimdorf (read for 2025 only) no further than 2025 and Neckarvorstadt to
    2030: the targets' statistics are exactly those of the whole run, which simulates both to the end."""
    cal = load_calibration(ROOT / "calibration" / "stuttgart.toml")
    base = cal.base.with_overrides(scale=0.1, spinup_weeks=13)
    assert last_read(cal.targets, cal.stadtteile, ["Neckarvorstadt", "Weilimdorf"], base.start) == {
        "Neckarvorstadt": dt.date(2030, 12, 31), "Weilimdorf": dt.date(2025, 12, 31)}
    parameters = {"lonely_onset_base": 6e-5, "outreach_contacts_per_hour": 2.0}
    simulator = Simulator(base.as_data(), cal.targets, cal.stadtteile, {})
    model = simulator.model(parameters, seed=4)
    assert model.spec.report == "yearly" and model.last_week_s.min() == (dt.date(2025, 12, 29) - base.start).days // 7
    got = simulator(parameters, seed=4)
    whole = statistics(simulate(base.with_overrides(**parameters), seed=4), cal.targets, cal.stadtteile)
    assert list(got) == [t.name for t in cal.targets]
    for name, value in got.items():
        assert value == whole[name] or (np.isnan(value) and np.isnan(whole[name])), name
    assert sum(np.isfinite(v) for v in got.values()) >= len(got) - 1


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return list(a) == list(b) and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)


def _checked_stages(simulator: Simulator, parameters: dict[str, float], seed: int
                    ) -> tuple[list[dict[str, float]], dict[str, float]]:
    """The statistics a run shows at each stage, and its whole run's: the run with the checks gives the same
    statistics as without them, and each stage's are those of the whole run."""
    shown: list[dict[str, float]] = []
    checked = simulator(parameters, seed=seed, reject=lambda partial: shown.append(partial) or False)
    whole = simulator(parameters, seed=seed)
    assert _same(checked, whole)
    for partial in shown:
        assert _same(partial, {k: whole[k] for k in partial})
    return shown, whole


def test_a_simulation_checked_year_by_year_gives_the_same_statistics_and_stops_when_told():
    """Early rejection's half in the simulator: after 2025 (Weilimdorf's loneliness targets final) and 2027 (the
    pilot's targets) it shows the statistics so far, which are those of the whole run, and the run's statistics
    are the same as without the checks; told to stop, it stops with None."""
    cal = load_calibration(ROOT / "calibration" / "stuttgart.toml")
    base = cal.base.with_overrides(scale=0.1, spinup_weeks=13)
    simulator = Simulator(base.as_data(), cal.targets, cal.stadtteile, {})
    parameters = {"lonely_onset_base": 6e-5, "outreach_contacts_per_hour": 2.0}
    assert [(year, len(targets)) for year, targets, _ in stages(cal.targets, cal.stadtteile)] == [(2025, 5), (2027, 8)]
    shown, _ = _checked_stages(simulator, parameters, seed=4)
    assert [len(partial) for partial in shown] == [5, 8]
    assert simulator(parameters, seed=4, reject=lambda partial: True) is None


def test_the_distance_never_falls_below_its_bound_from_some_targets():
    """The bound early rejection stops a simulation at: from any subset of the targets' statistics it is at most
    the distance of all of them (up to rounding far below the margin it is used with), infinite when a known
    statistic is missing."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        k = int(rng.integers(1, 12))
        sd = {f"t{i}": float(10.0 ** rng.uniform(-4, 2)) for i in range(k)}
        observed = {name: float(rng.normal()) for name in sd}
        simulated = {name: observed[name] + float(rng.normal() * 10.0 ** rng.uniform(-6, 3)) for name in sd}
        distance = Distance(sd)
        full = distance(simulated, observed)
        some = {name: v for name, v in simulated.items() if rng.random() < 0.6}
        assert distance.lower_bound(some, observed) <= full * (1 + 1e-12)
        assert distance.lower_bound(simulated, observed) == pytest.approx(full, rel=1e-12)
    assert Distance({"a": 1.0, "b": 1.0}).lower_bound({"a": float("nan")}, {"a": 0.0, "b": 0.0}) == np.inf


MIXED_TARGETS = """
[[targets]]
name = "hours_2024"
kind = "assumption"
value = 500.0
sd = 100.0
statistic = {indicator = "role_hours", stadtteil = 211, year = 2024}
source = "a flow read in a year before the others (monthly reports)"

[[targets]]
name = "participation_2024_to_2025"
kind = "assumption"
value = 1.0
sd = 0.1
statistic = {indicator = "participation_share", stadtteil = 211, year = 2024}
relative_to = {indicator = "participation_share", stadtteil = 211, year = 2025}
source = "a ratio whose second statistic is read a year later"

[[targets]]
name = "lonely_mean"
kind = "assumption"
value = 0.04
sd = 0.01
statistic = {indicator = "lonely_share", stadtteil = 211, years = [2024, 2025], aggregate = "mean"}
source = "a mean over two years"

[[targets]]
name = "lonely_2026"
kind = "assumption"
value = 0.04
sd = 0.01
statistic = {indicator = "lonely_share", stadtteil = 801, year = 2026}
source = "the last year, in another Stadtteil"
"""


def test_statistics_checked_year_by_year_with_monthly_reports_are_those_of_the_whole_run(tmp_path):
    """Early rejection's stages with monthly reports (a flow summed in floating point keeps them monthly), a ratio
    whose parts end in different years, a mean over years and a Stadtteil stopped before the other: each
    stage's statistics are final, and the run's are the same as without the checks."""
    (tmp_path / "targets.toml").write_text(MIXED_TARGETS, encoding="utf-8")
    (tmp_path / "mixed.toml").write_text(
        'name = "mixed"\nscenario = "neckarvorstadt"\ntargets = "targets.toml"\n[set]\nstadtteile = [211, 801]\n'
        'scale = 0.1\nend = 2026-12-31\nspinup_weeks = 13\n[priors]\nlonely_onset_base = [1e-5, 1.6e-4]\n',
        encoding="utf-8")
    cal = load_calibration(tmp_path / "mixed.toml")
    assert [(year, [t.name for t in targets]) for year, targets, _ in stages(cal.targets, cal.stadtteile)] == [
        (2024, ["hours_2024"]), (2025, ["hours_2024", "participation_2024_to_2025", "lonely_mean"])]
    simulator = Simulator(cal.base.as_data(), cal.targets, cal.stadtteile, {})
    model = simulator.model({"lonely_onset_base": 6e-5}, seed=2)
    assert model.spec.report == "monthly" and model.last_week_s.min() < model.last_week_s.max()
    shown, whole = _checked_stages(simulator, {"lonely_onset_base": 6e-5}, seed=2)
    assert all(np.isfinite(v) for v in whole.values())
    assert [list(partial) for partial in shown] == [["hours_2024"],
                                                   ["hours_2024", "participation_2024_to_2025", "lonely_mean"]]


EARLY_TARGETS = TARGETS.replace('statistic = {indicator = "lonely_share", year = 2025}',
                                'statistic = {indicator = "lonely_share", year = 2024}')


def test_early_rejection_leaves_a_calibration_exactly_as_it_was(tmp_path):
    """With one worker a calibration is reproducible: the same calibration with and without early rejection
    accepts the same particles with the same weights and thresholds, while early rejection stopped some of its
    simulations after 2024 (the loneliness target final, the volunteering one not yet)."""
    assert EARLY_TARGETS != TARGETS
    (tmp_path / "targets.toml").write_text(EARLY_TARGETS, encoding="utf-8")
    text = CALIBRATION.format(generations=3, size=12)
    results = {}
    for flag in ("true", "false"):
        cal_file = tmp_path / f"early_{flag}.toml"
        cal_file.write_text(text.replace("seed = 3", f"seed = 3\nearly_rejection = {flag}"), encoding="utf-8")
        out = tmp_path / f"out_{flag}"
        results[flag] = calibrate(cal_file, out)
        log = (out / "calibration.log").read_text(encoding="utf-8")
        counts = [line for line in log.splitlines() if line.startswith("Early rejection:")]
        stopped = int(counts[-1].split(":")[1].split()[0]) if counts else 0
        assert (stopped > 0) == (flag == "true"), counts
    on, off = results["true"], results["false"]
    pd.testing.assert_frame_equal(on.generations, off.generations)
    pd.testing.assert_frame_equal(on.posterior, off.posterior)
    for t in range(3):
        pd.testing.assert_frame_equal(_generation_particles(tmp_path / "out_true", t),
                                      _generation_particles(tmp_path / "out_false", t))


def test_last_read_keeps_every_stadtteil_when_a_target_reads_the_city(tmp_path):
    """A target on the city's rows needs every Stadtteil to the end; a Stadtteil no target reads is not needed."""
    cal = load_calibration(ROOT / "calibration" / "stuttgart.toml")
    names = ["Neckarvorstadt", "Weilimdorf", "Hallschlag"]
    start = dt.date(2024, 1, 1)
    assert last_read(cal.targets, cal.stadtteile, names, start)["Hallschlag"] == dt.date(2023, 12, 31)
    (tmp_path / "targets.toml").write_text(TARGETS, encoding="utf-8")
    city = load_targets(tmp_path / "targets.toml")
    assert last_read(city, [(CITY, None)] * len(city), names, start) == {}

BAD = [
    ("unknown prior parameter", "[priors]\nvisti_base = [0.1, 0.2]\n", "priors.visti_base", "did you mean"),
    ("prior out of range", "[priors]\nvisit_base = [0.1, 1.2]\n", "priors.visit_base", "declared range"),
    ("log prior from 0", '[priors]\nvisit_base = {low = 0.0, high = 0.2, scale = "log"}\n', "priors.visit_base",
     "above 0"),
    ("unknown target", 'use = ["happiness"]\n[priors]\nvisit_base = [0.1, 0.2]\n', "use", "names of targets"),
    ("no priors", "", "priors", "this field to be given"),
]


@pytest.mark.parametrize("label,body,field,expected", BAD, ids=[b[0] for b in BAD])
def test_bad_calibration_files(tmp_path, capsys, label, body, field, expected):
    head = f'name = "bad"\nscenario = "neckarvorstadt"\ntargets = "{ROOT / "calibration" / "targets.toml"}"\n'
    if body.startswith("use"):
        head, body = head + body.split("\n", 1)[0] + "\n", body.split("\n", 1)[1]
    path = tmp_path / "bad.toml"
    # the targets file's statistics read Neckarvorstadt (211) and Weilimdorf (801)
    path.write_text(head + "[set]\nstadtteile = [211, 801]\n" + body, encoding="utf-8")
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"'{field}'" in err and expected in err, err
    assert not (tmp_path / "out").exists()


def test_targets_file_names_its_sources_and_standing_and_loads():
    """Each target is observed (a publication with page or table, and how the model measures it) or an
    assumption (with the reasoning); the programme patterns are among them."""
    targets = load_targets(ROOT / "calibration" / "targets.toml")
    names = {t.name for t in targets}
    assert {"lonely_share", "lonely_share_very_good_health", "lonely_share_very_poor_health", "programme_known",
            "programme_participation", "initiatives_ending_after_funding"} <= names
    assert all(t.source for t in targets)
    observed = [t for t in targets if t.kind == "observed"]
    assert observed and all(t.mapping for t in observed)
    assert any(t.kind == "assumption" for t in targets)
    cal = load_calibration(ROOT / "calibration" / "stuttgart.toml")
    assert len(cal.targets) == len(targets) and len(cal.priors) >= 10


def test_a_target_without_its_standing_is_refused(tmp_path, capsys):
    path = tmp_path / "targets.toml"
    path.write_text(TARGETS.replace('kind = "observed"\n', "", 1), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_targets(path)
    assert "kind" in str(info.value)


ENSEMBLE = """
name = "ensemble"
scenario = "neckarvorstadt"
seeds = 2
store = "all"
resolution = "report"
[set]
scale = 0.2
end = 2027-12-31
[uncertainties]
visit_base = [0.1, 0.14]
[design]
method = "latin_hypercube"
samples = 3
[[outcomes]]
indicator = "lonely_share"
year = 2027
"""


def test_evaluate_writes_the_report_on_the_example_pilot_data(tmp_path, capsys):
    exp = tmp_path / "ensemble.toml"
    exp.write_text(ENSEMBLE, encoding="utf-8")
    store = tmp_path / "runs"
    sweep(exp, store, workers=2)
    report = tmp_path / "report.html"
    pilot = ROOT / "calibration" / "pilot_example.csv"
    assert main(["evaluate", "--runs", str(store), "--pilot-data", str(pilot), "--out", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "Coverage" in text and "CRPS" in text and text.count("data:image/png;base64,") >= 6
    observations = pd.read_csv(tmp_path / "report_observations.csv")
    assert len(observations) == 13 and observations["runs"].eq(6).all()
    assert observations["crps"].ge(0).all() and observations["inside_90"].isin([True, False]).all()
    figures = sorted(p.name for p in (tmp_path / "report_figures").iterdir())
    assert "coverage.png" in figures and "lonely_share_all.png" in figures
    # one observation by hand: the lonely share on 2025-06-30 is the June 2025 report of each run
    row = observations[(observations["indicator"] == "lonely_share") & (observations["start"] == "2025-06-30")]
    values = []
    for f in sorted((store / "runs").glob("*.parquet")):
        t = pd.read_parquet(f)
        v = t[(t["stadtteil"] == "Neckarvorstadt") & (t["indicator"] == "lonely_share") & (t["group"] == "all")
              & (t["date"] == pd.Timestamp("2025-06-30"))]["value"]
        values.append(float(v.iloc[0]))
    assert row["sim_median"].iloc[0] == pytest.approx(np.median(values))
    # the Markdown report, and a store kept by year is refused
    assert main(["evaluate", "--runs", str(store), "--pilot-data", str(pilot), "--out",
                 str(tmp_path / "report.md")]) == 0
    assert "![coverage](data:image/png;base64," in (tmp_path / "report.md").read_text(encoding="utf-8")
    yearly_exp = tmp_path / "yearly.toml"
    yearly_exp.write_text(ENSEMBLE.replace('resolution = "report"\n', "").replace("samples = 3", "samples = 1")
                          .replace("seeds = 2", "seeds = 1"), encoding="utf-8")
    sweep(yearly_exp, tmp_path / "yearly")
    capsys.readouterr()
    assert main(["evaluate", "--runs", str(tmp_path / "yearly"), "--pilot-data", str(pilot), "--out",
                 str(tmp_path / "r.html")]) == 2
    assert "resolution" in capsys.readouterr().err


def test_progress_is_reported_within_the_first_generation(tmp_path):
    """One call per finished simulation, long before the generation ends (its first epsilon is known only then)."""
    write_targets(tmp_path)
    cal_file = tmp_path / "one.toml"
    cal_file.write_text(CALIBRATION.format(generations=1, size=6), encoding="utf-8")
    seen = []
    result = calibrate(cal_file, tmp_path / "out", progress=lambda t, eps, n: seen.append((t, n)))
    counts = [n for t, n in seen if t == 0]
    total = int(result.generations["simulations"].iloc[0])
    assert counts[:6] == [1, 2, 3, 4, 5, 6]  # the first simulations, each as it finished
    # every simulation counts, also those pyabc runs before generation 0 to set its first epsilon
    assert max(counts) >= total >= 6


def test_finished_dask_tasks_are_counted_on_the_scheduler():
    """What the progress of a calibration on Dask workers reads: each finished task once."""
    import warnings

    from quartiersim.calibration import _finished_tasks, _Progress, _watch_dask
    from quartiersim.executors import dask_client

    with dask_client(2) as client:
        with _watch_dask(client, _Progress(None), every=3600):
            futures = [client.submit(pow, k, 2, pure=False) for k in range(5)]
            assert client.gather(futures) == [0, 1, 4, 9, 16]
            assert _finished_tasks(client) == 5
        # the next generation watches afresh, without Dask's warning of a plugin registered twice
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _watch_dask(client, _Progress(None), every=3600):
                assert client.gather([client.submit(pow, 3, 2, pure=False)]) == [9]
                assert _finished_tasks(client) == 1
        assert not [w for w in caught if "already contains a plugin" in str(w.message)]

        def shown(message: str) -> bool:  # by the workers' log of task states
            import logging

            log = logging.getLogger("distributed.worker.state_machine")
            return log.filter(logging.LogRecord(log.name, logging.WARNING, "", 0, message, None, None)) is not False

        # a task cancelled while it ran (pyabc cancels those of a finished generation) is no warning in our
        # workers' output; other warnings are
        cancelled = "Async instruction for <Task cancelled name='x'> ended with CancelledError"
        assert set(client.run(shown, cancelled).values()) == {False}
        assert set(client.run(shown, "another warning").values()) == {True}


def test_calibration_on_a_local_dask_cluster(tmp_path):
    """The same calibration with two worker processes (pyabc's Dask sampler on a local cluster), with a target
    final after 2024, so that simulations stopped early come back from the workers too."""
    (tmp_path / "targets.toml").write_text(EARLY_TARGETS, encoding="utf-8")
    cal_file = tmp_path / "parallel.toml"
    cal_file.write_text(CALIBRATION.format(generations=1, size=10), encoding="utf-8")
    seen = []
    result = calibrate(cal_file, tmp_path / "out", workers=2, progress=lambda t, eps, n: seen.append(n))
    assert max(seen) >= 10  # simulations counted on the scheduler as the workers finish them
    assert result.ran_generations == 1 and len(result.posterior) == 10
    assert result.posterior["weight"].sum() == pytest.approx(1.0)
