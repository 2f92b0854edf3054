"""Small runs, as a calibration makes them: simulations per hour in one worker, and a fresh worker's warm start.

    python benchmarks/small_runs.py [--runs 50] [--baseline SIMS_PER_HOUR]

The simulation is the calibration's (``calibration/stuttgart.toml``): its base scenario with its ``[set]``
changes, spin-up included, each run with a new parameter set drawn from the priors and its own seed, the way
pyabc asks for them. ``--runs`` of them run one after another in this process (one numba thread, as in a
worker), after one run that loads the compiled kernels, each through the calibration's own
:class:`~quartiersim.calibration.Simulator` (scenario from data, the run, the targets' statistics), as a
worker makes them. The simulator reports once a year and stops each Stadtteil after the last year the targets
read (``QuarterModel.stop_after``); the same parameter sets and seeds also run whole, monthly and every
Stadtteil to the end (as the simulator did before), alternating with them, and the statistics of both must be
identical. A few more
runs split a simulation's time into building the model (spin-up included) and stepping it. Then a fresh Python
process (a new worker, the kernels in numba's cache) imports quartiersim and makes one tiny run: its wall
time is the warm start.

Prints simulations per hour, both ways, with the median seconds per simulation and their ratio, the split, and
the warm start; with ``--baseline`` (simulations per hour measured before a change) also the ratio to it.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median as statistics_median

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
_WARM = (
    "import time; t = time.perf_counter(); from quartiersim.model import QuarterModel; "
    "QuarterModel(None, rng=0, stadtteile=[211], scale=0.05, end='2024-03-01', spinup_weeks=2).run(); "
    "print(time.perf_counter() - t)"
)


def warm_start() -> float:
    """Seconds for a new process to import quartiersim and make one tiny run with the kernels cached."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _WARM], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Time the calibration's simulations and a worker's warm start."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--calibration", default=str(ROOT / "calibration" / "stuttgart.toml"))
    parser.add_argument("--baseline", type=float, default=None, help="simulations per hour before a change")
    args = parser.parse_args()
    import numba

    numba.set_num_threads(1)
    from quartiersim.calibration import Simulator, last_read, load_calibration, statistics
    from quartiersim.run import simulate

    cal = load_calibration(args.calibration)
    simulator = Simulator(cal.base.as_data(), cal.targets, cal.stadtteile,
                          {p.name: p.range.integer for p in cal.priors}, threads=1)
    rng = np.random.default_rng(0)

    def draw() -> dict[str, float]:
        out = {}
        for prior in cal.priors:
            low, high = prior.range.low, prior.range.high
            u = rng.random()
            out[prior.name] = float(low * (high / low) ** u if prior.scale == "log" else low + u * (high - low))
        return out

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

    def split(seed: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        model = simulator.model(draw(), seed)
        t1 = time.perf_counter()
        names[:] = model.profile["stadtteil"].tolist()
        model.run()
        return t1 - t0, time.perf_counter() - t1

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
    build = statistics_median(t[0] for t in splits)
    run = statistics_median(t[1] for t in splits)
    warm = statistics_median(warm_start() for _ in range(3))
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
    print(f"  a run's model: median {build:.2f} s building (spin-up included) + {run:.2f} s stepping "
          f"({len(splits)} runs)")
    print(f"  warm start of a new worker (import and a tiny run, kernels cached): {warm:.2f} s (target < 1.5 s)")
    if args.baseline:
        print(f"  ratio to the baseline of {args.baseline:,.0f} simulations per hour: {per_hour / args.baseline:.2f} "
              "(target >= 3)")
    if not same:
        sys.exit("the statistics of the runs that stop Stadtteile early differ from those of the whole runs")

if __name__ == "__main__":
    main()
