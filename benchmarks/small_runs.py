"""Small runs, as a calibration makes them: simulations per hour in one worker, and a fresh worker's warm start.

    python benchmarks/small_runs.py [--runs 50] [--baseline SIMS_PER_HOUR] [--today REV ...] [--today-runs 40]
                                     [--no-today] [--early N]

The simulation is the calibration's (``calibration/stuttgart.toml``): its base scenario with its ``[set]``
changes, spin-up included, each run with a new parameter set drawn from the priors and its own seed, the way
pyabc asks for them. ``--runs`` of them run one after another in this process (one numba thread, as in a
worker), after one run that loads the compiled kernels, each through the calibration's own
:class:`~quartiersim.calibration.Simulator` (scenario from data, the run, the targets' statistics), as a
worker makes them. The simulator reports once a year and stops each Stadtteil after the last year the targets
read (``QuarterModel.stop_after``); the same parameter sets and seeds also run whole, monthly and every
Stadtteil to the end (as the simulator did before), alternating with them, and the statistics of both must be
identical. A few more runs split a simulation's time into setting the model up, its spin-up and stepping it
(with the statistics). Then a fresh Python process (a new worker, the kernels in numba's cache) imports
quartiersim and makes one tiny run: its wall time is the warm start, printed with its parts (the libraries'
imports, quartiersim's, building the model, the run).

Prints simulations per hour, both ways, with the median seconds per simulation and their ratio, the split, and
the warm start; with ``--baseline`` (simulations per hour measured before a change) also the ratio to it.

"Today" is measured in the same run (leave it out with ``--no-today``): the small run the performance issue
named (the whole city at scale 0.03, 2024 to 2025 after the scenario's spin-up, the ``default`` scenario, the
eight city-wide targets and six priors of the calibration of that time) made by the code of each commit of
``--today`` (its ``src/`` and ``scenarios/`` taken from git into a temporary folder; it compiles its kernels there
once) and by this code, in turns of runs in fresh worker processes with the same parameter sets and seeds. It
prints each code's rate and this code's ratio to it, with this code's simulation split into set-up, spin-up and
the period. One more run of each code, with every parameter at this code's default, says whether that code
computes this code's numbers. The commits, by default both:

- ``bb12f63``: the earliest commit that computes this code's numbers (with the same parameters) without the two
  slowdowns of that afternoon. The issue asked for its work to be done on the kernels of the
  credible-interventions issue, whose mechanisms (demography, the roles' countable outputs, champions, hosts,
  knowing the roles' work) also need 156 weeks of spin-up instead of 104; the ratio to ``bb12f63`` is the speed-up
  of the same simulations. ``c519c6a``, which completed those mechanisms, computes the same numbers but took
  4.25 s a simulation: the kernels' bundles (``8e2a6f0``) made a helper copy some thirty array structs per
  resident until ``292119d``, and building the demography tables took 2.8 s until ``bb12f63``. Measuring from it
  would flatter this code.
- ``e2343cf``, the code when the issue was filed: a smaller model with 104 weeks of spin-up, so the ratio to it
  mixes the speed-up with the cost of the new mechanisms.

``--early N`` times early rejection (``quartiersim.abc_model``) late in the shipped calibration: N proposals drawn
as its sampler would for a next generation, at its last threshold, each simulated whole and with early rejection.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from statistics import median as statistics_median
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_WARM = (
    "import time; t0 = time.perf_counter(); import numpy, pandas, mesa, numba, pydantic; t1 = time.perf_counter(); "
    "from quartiersim.model import QuarterModel; t2 = time.perf_counter(); "
    "m = QuarterModel(None, rng=0, stadtteile=[211], scale=0.05, end='2024-03-01', spinup_weeks=2); "
    "t3 = time.perf_counter(); m.run(); t4 = time.perf_counter(); "
    "print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)"
)
#: the parts of a warm start, as :data:`_WARM` prints them
WARM_PARTS = ("the libraries (numpy, pandas, Mesa, numba, pydantic)", "quartiersim's modules",
              "the model (data, the cached kernels loaded, numba's first-call set-up, spin-up)", "the run")


def warm_start() -> list[float]:
    """Seconds a new process takes for each of :data:`WARM_PARTS`, the kernels in numba's cache.

    The libraries are imported first only to time them apart: quartiersim imports them anyway.
    """
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _WARM], env=env, check=True, capture_output=True, text=True)
    return [float(x) for x in out.stdout.strip().splitlines()[-1].split()]


#: the calibration of the issue's time (whole city at scale 0.03 over 2024-2025), in a form both codes read
_TODAY_CALIBRATION = """name = "issue_small_run"
scenario = "default"
targets = "targets.toml"
[set]
scale = 0.03
end = 2025-12-31
[priors]
lonely_onset_base = {low = 1e-5, high = 1.6e-4, scale = "log"}
lonely_rr_very_poor = [20, 300]
lonely_rr_migration = [1.0, 4.0]
lonely_rr_low_income = [1.0, 4.0]
volunteer_quit_rate = [0.001, 0.012]
volunteer_participation_rr = [0.5, 6.0]
"""
#: its eight targets as (name, value, sd, group of lonely_share or volunteer_share, group it is relative to)
_TODAY_TARGETS = (("lonely_share", 0.035, 0.005, "lonely_share", "all", None),
                  ("lonely_share_very_good_health", 0.005, 0.003, "lonely_share", "health_very_good", None),
                  ("lonely_share_very_poor_health", 0.30, 0.06, "lonely_share", "health_very_poor", None),
                  ("lonely_ratio_migration", 1.5, 0.4, "lonely_share", "migration", "no_migration"),
                  ("lonely_ratio_low_income", 1.6, 0.4, "lonely_share", "low_income", "all"),
                  ("lonely_ratio_age_65plus", 1.0, 0.3, "lonely_share", "age_65plus", "all"),
                  ("volunteer_share", 0.397, 0.02, "volunteer_share", "all", None),
                  ("volunteer_ratio_migration", 0.61, 0.08, "volunteer_share", "migration", "no_migration"))
#: one worker's runs of that calibration, for either code: prints each run's seconds as JSON
_TODAY_WORKER = """
import json, sys, time
from pathlib import Path
import numba
numba.set_num_threads(1)
import numpy as np
from quartiersim.calibration import Simulator, TargetSpec, load_calibration
folder, runs, first = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
kind = 'kind = "assumption"\\n' if "kind" in TargetSpec.model_fields else ""  # a field of later versions
lines = []
for name, value, sd, indicator, group, relative in json.loads(sys.argv[4]):
    lines += ["[[targets]]", f'name = "{name}"', kind.strip(), f"value = {value}", f"sd = {sd}",
              f'statistic = {{indicator = "{indicator}", group = "{group}", year = 2025}}', 'source = "timing"']
    if relative:
        lines.append(f'relative_to = {{indicator = "{indicator}", group = "{relative}", year = 2025}}')
(folder / "targets.toml").write_text("\\n".join(x for x in lines if x) + "\\n")
cal = load_calibration(folder / "calibration.toml")
data = cal.base.as_data() if hasattr(cal.base, "as_data") else cal.base.model_dump()
sim = Simulator(data, cal.targets, cal.stadtteile, {p.name: p.range.integer for p in cal.priors}, threads=1)
sys.path.insert(0, sys.argv[5])
from small_runs import draw_parameters
sim(draw_parameters(cal.priors, np.random.default_rng(10_000)))  # load the compiled kernels
seconds, parts = [], []
for k in range(first, first + runs):
    t = time.perf_counter()
    sim(draw_parameters(cal.priors, np.random.default_rng(k)))
    seconds.append(time.perf_counter() - t)
if sys.argv[6] == "split":  # this code: where a simulation's seconds go (set-up, spin-up, the period)
    from small_runs import time_parts
    for k in range(first, first + min(runs, 3)):
        parts.append(time_parts(sim, draw_parameters(cal.priors, np.random.default_rng(k)), k)[1])
print(json.dumps({"seconds": seconds, "parts": parts}))
"""


#: one seeded run of either code with the parameters given (those its code knows): a digest of its whole table
_SAME_WORKER = """
import hashlib, json, sys
import numba
numba.set_num_threads(1)
import quartiersim
from quartiersim.parameters import PARAMS_BY_NAME
pinned = {k: v for k, v in json.loads(sys.argv[1]).items() if k in PARAMS_BY_NAME}
table = quartiersim.simulate("default", seed=3, scale=0.03, end="2025-12-31", report="yearly", parameters=pinned)
table = table.sort_values(["date", "stadtteil", "indicator", "group"]).astype(str)
print(hashlib.sha256(table.to_csv(index=False).encode()).hexdigest())
"""


def draw_parameters(priors: list[Any], rng: np.random.Generator) -> dict[str, float]:
    """One parameter set from the priors (uniform, or log-uniform), the way a calibration's first generation draws.

    Used by this code and, in ``--today``, by a past code's worker (its priors have the same fields).
    """
    out = {}
    for prior in priors:
        low, high, u = prior.range.low, prior.range.high, rng.random()
        out[prior.name] = float(low * (high / low) ** u if prior.scale == "log" else low + u * (high - low))
    return out


def time_parts(simulator: Any, parameters: dict[str, float], seed: int) -> tuple[Any, tuple[float, float, float]]:
    """One simulation's model, and its seconds: set-up, spin-up, and stepping it with the targets' statistics."""
    from quartiersim.calibration import statistics

    model = simulator.model(parameters, seed)
    built = time.perf_counter()
    statistics(model.run(), simulator.targets, simulator.stadtteile)
    return model, (model.setup_seconds, model.spinup_seconds, time.perf_counter() - built)


#: "today" for the issue's goal of 3 times today's simulations per hour: the first code with this model (``bb12f63``)
#: and the code when the issue was filed (``e2343cf``; module docstring)
TODAY = ("bb12f63", "e2343cf")


def today(revs: list[str], runs: int) -> None:
    """Time the issue's small run on the code of each commit in ``revs`` and on this code, in turns; print the rates."""
    archives: dict[str, bytes] = {}
    for rev in revs:
        try:
            commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                                    check=True, capture_output=True, text=True).stdout.strip()
            archives[commit] = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src",
                                               "scenarios"], check=True, capture_output=True).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"--today: commit '{rev}' is not in this clone's history ({exc}); expected a commit of the "
                  "repository, e.g. e2343cf", file=sys.stderr)
            sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="quartiersim-today-") as tmp:
        codes: dict[str, Path] = {}
        for commit, archive in archives.items():
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(Path(tmp) / commit, filter="data")
            codes[commit] = Path(tmp) / commit / "src"
        codes["now"] = ROOT / "src"
        seconds: dict[str, list[float]] = {label: [] for label in codes}
        parts: list[tuple[float, float, float]] = []
        turns = 2
        for turn in range(turns):  # in turns, so that a drift of the machine's speed hits every code alike
            for label, src in codes.items():
                folder = Path(tmp) / f"{label}{turn}"
                folder.mkdir()
                (folder / "calibration.toml").write_text(_TODAY_CALIBRATION)
                env = dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONPATH=str(src))
                share = runs // turns + (turn < runs % turns)
                out = subprocess.run([sys.executable, "-c", _TODAY_WORKER, str(folder), str(share), str(turn * runs),
                                      json.dumps(_TODAY_TARGETS), str(Path(__file__).parent),
                                      "split" if label == "now" else "-"], env=env,
                                     capture_output=True, text=True, cwd=tmp)
                if out.returncode != 0:
                    sys.exit(f"--today: the {label} code's worker failed:\n{out.stderr}")
                result = json.loads(out.stdout.strip().splitlines()[-1])
                seconds[label] += result["seconds"]
                if label == "now":
                    parts += result["parts"]
        # whether each code computes this code's numbers: one run with every parameter at this code's default
        from quartiersim.parameters import PARAMS

        pinned = json.dumps({p.name: p.default for p in PARAMS})
        digest = {}
        for label, src in codes.items():
            out = subprocess.run([sys.executable, "-c", _SAME_WORKER, pinned], capture_output=True, text=True,
                                 env=dict(os.environ, NUMBA_NUM_THREADS="1", PYTHONPATH=str(src)), cwd=tmp)
            if out.returncode != 0:
                sys.exit(f"--today: the {label} code's run for the comparison of numbers failed:\n{out.stderr}")
            digest[label] = out.stdout.strip().splitlines()[-1]
    rate = {k: 3600 * len(v) / sum(v) for k, v in seconds.items()}
    print(f"the issue's small run (whole city at scale 0.03, 2024-2025, its spin-up, 8 city targets), "
          f"{runs} runs each in one worker:")
    for commit in archives:
        same = ("with the same parameters the same numbers as this code" if digest[commit] == digest["now"]
                else "with the same parameters other numbers than this code (another model)")
        print(f"  the code of {commit[:7]}: {rate[commit]:,.0f} simulations per hour "
              f"(median {statistics_median(seconds[commit]):.2f} s); {same}")
    print(f"  this code: {rate['now']:,.0f} simulations per hour (median {statistics_median(seconds['now']):.2f} s)")
    for commit in archives:
        print(f"  ratio to {commit[:7]}: {rate['now'] / rate[commit]:.2f} (target >= 3)")
    if parts:
        setup, spinup, period = (statistics_median(p[k] for p in parts) for k in range(3))
        print(f"  this code's simulation, median of {len(parts)}: {setup:.2f} s set-up, {spinup:.2f} s spin-up, "
              f"{period:.2f} s the period 2024-2025 with its statistics")
        for commit in archives:
            print(f"  3 times the rate of {commit[:7]} is {3 * rate[commit]:,.0f} an hour, "
                  f"{3600 / (3 * rate[commit]):.2f} s a simulation")


def early_rejection(runs: int) -> None:
    """Late in the shipped calibration: simulations per hour with early rejection and without.

    Proposals are drawn as the calibration's sampler draws them for a next generation (a particle of the shipped
    posterior by weight, perturbed on the sampler's scale by pyabc's normal kernel of each parameter, fitted to the
    posterior) and judged at the shipped last generation's threshold. Each is simulated whole and with early
    rejection, in alternating order; a simulation stopped early must be beyond the threshold when run whole.
    """
    import pandas as pd

    from quartiersim.abc_model import EarlyRejection
    from quartiersim.calibration import OnNormalScale, load_calibration, perturbation

    cal = load_calibration(ROOT / "calibration" / "stuttgart.toml")
    shipped = ROOT / "calibration" / "stuttgart"
    posterior = pd.read_csv(shipped / "posterior.csv")
    eps = float(pd.read_csv(shipped / "generations.csv")["epsilon"].iloc[-1])
    z = pd.DataFrame({p.name: [p.normal(float(v)) for v in posterior[p.name]] for p in cal.priors})
    transition = perturbation(cal.priors)
    transition.fit(z, (posterior["weight"] / posterior["weight"].sum()).to_numpy())
    np.random.seed(0)  # pyabc's kernels draw from numpy's global generator
    simulator = OnNormalScale(cal.simulator(threads=1), cal.priors)
    distance, observed = cal.distance(), cal.observed
    model = EarlyRejection(simulator, distance)
    simulator(dict(transition.rvs()))  # load the compiled kernels
    whole_s = early_s = 0.0
    stopped = accepted = 0
    consistent = True
    for k in range(runs):
        proposal = dict(transition.rvs())
        for turn in ((0, 1) if k % 2 else (1, 0)):
            t0 = time.perf_counter()
            if turn == 0:
                stats = simulator(proposal)
                whole_s += time.perf_counter() - t0
                d = distance(stats, observed)
            else:
                cut = simulator(proposal, reject=lambda partial: model.beyond(partial, observed, eps))
                early_s += time.perf_counter() - t0
        accepted += d <= eps
        if cut is None:
            stopped += 1
            consistent &= d > eps
    print(f"early rejection, late in the shipped calibration: {runs} proposals from its posterior at its last "
          f"threshold ({eps:.3f}), {accepted} accepted, {stopped} stopped early (each beyond the threshold when run "
          f"whole: {'yes' if consistent else 'NO'})")
    print(f"  whole: {3600 * runs / whole_s:,.0f} simulations per hour ({whole_s / runs:.2f} s); with early "
          f"rejection: {3600 * runs / early_s:,.0f} ({early_s / runs:.2f} s); ratio {whole_s / early_s:.2f}")
    if not consistent:
        sys.exit("early rejection stopped a simulation that its whole run accepts")


def main() -> None:
    """Time the calibration's simulations and a worker's warm start."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--calibration", default=str(ROOT / "calibration" / "stuttgart.toml"))
    parser.add_argument("--baseline", type=float, default=None, help="simulations per hour before a change")
    parser.add_argument("--today", metavar="REV", nargs="+", default=list(TODAY),
                        help="time the issue's small run on the code of these commits and on this code (default: "
                        + " and ".join(TODAY) + ")")
    parser.add_argument("--no-today", action="store_true", help="leave that comparison out")
    parser.add_argument("--today-runs", type=int, default=40)
    parser.add_argument("--early", type=int, default=0, metavar="N",
                        help="also time N proposals late in the shipped calibration with and without early rejection")
    args = parser.parse_args()
    if args.today_runs < 2:
        parser.error(f"--today-runs: expected at least 2 (a run in each turn of both codes), got {args.today_runs}")
    if not args.no_today:
        today(args.today, args.today_runs)
    import numba

    numba.set_num_threads(1)
    from quartiersim.calibration import last_read, load_calibration, statistics
    from quartiersim.run import simulate

    cal = load_calibration(args.calibration)
    simulator = cal.simulator(threads=1)
    rng = np.random.default_rng(0)

    def draw() -> dict[str, float]:
        return draw_parameters(cal.priors, rng)

    def whole(parameters: dict[str, float], seed: int) -> dict[str, float]:
        """The simulation with every Stadtteil to the end, as the simulator made it before it stopped any."""
        values = {k: (int(round(v)) if prior.range.integer else float(v))
                  for prior, (k, v) in zip(cal.priors, parameters.items(), strict=True)}
        return statistics(simulate(cal.base.with_overrides(**values), seed=seed), cal.targets, cal.stadtteile)

    def timed(f, *args) -> tuple[float, dict[str, float]]:
        t0 = time.perf_counter()
        out = f(*args)
        return time.perf_counter() - t0, out

    names: list[str] = []

    def split(seed: int) -> tuple[float, float, float]:
        model, seconds = time_parts(simulator, draw(), seed)
        names[:] = model.profile["stadtteil"].tolist()
        return seconds

    simulator(draw(), seed=10_000)  # load the compiled kernels
    now, before, same = [], [], True
    for seed in range(args.runs):  # alternately, so that a drift of the machine's speed hits both alike
        parameters = draw()
        t_now, got = timed(simulator, parameters, seed)
        t_before, expected = timed(whole, parameters, seed)
        now.append(t_now)
        before.append(t_before)
        same &= all(got[k] == expected[k] or (math.isnan(got[k]) and math.isnan(expected[k])) for k in got)
    per_hour = 3600 * args.runs / sum(now)
    per_hour_before = 3600 * args.runs / sum(before)
    splits = [split(seed) for seed in range(args.runs, args.runs + min(args.runs, 5))]
    setup, spinup, run = (statistics_median(t[k] for t in splits) for k in range(3))
    starts = [warm_start() for _ in range(3)]
    warm = statistics_median(sum(parts) for parts in starts)
    spec = cal.base
    print(f"calibration simulation: {spec.name}, {len(spec.stadtteile) if spec.stadtteile != 'all' else 152} "
          f"Stadtteile at scale {spec.scale}, {spec.start} to {spec.end}, spin-up {spec.spinup_weeks} weeks")
    print(f"  {args.runs} runs in one process, yearly reports, each Stadtteil to the last year the targets read: "
          f"{per_hour:,.0f} simulations per hour (median {statistics_median(now):.2f} s a simulation, statistics "
          "included)")
    print(f"  the same {args.runs} runs whole ({spec.report} reports, every Stadtteil to {spec.end}): "
          f"{per_hour_before:,.0f} simulations "
          f"per hour (median {statistics_median(before):.2f} s); ratio {per_hour / per_hour_before:.2f}; "
          f"statistics identical: {'yes' if same else 'NO'}")
    horizon = last_read(cal.targets, cal.stadtteile, names, spec.start)
    if horizon:
        print("  last year read: " + ", ".join(f"{k} {v.year}" for k, v in horizon.items()))
    print(f"  a run's model: median {setup:.2f} s set-up + {spinup:.2f} s spin-up + {run:.2f} s stepping with the "
          f"statistics ({len(splits)} runs)")
    print(f"  warm start of a new worker (import and a tiny run, kernels cached): {warm:.2f} s (target < 1.5 s), "
          f"median of {len(starts)} new processes: " + ", ".join(
              f"{statistics_median(p[k] for p in starts):.2f} s {what}" for k, what in enumerate(WARM_PARTS)))
    if args.baseline:
        print(f"  ratio to the baseline of {args.baseline:,.0f} simulations per hour: {per_hour / args.baseline:.2f} "
              "(target >= 3)")
    if not same:
        sys.exit("the statistics of the runs that stop Stadtteile early differ from those of the whole runs")
    if args.early:
        early_rejection(args.early)

if __name__ == "__main__":
    main()
