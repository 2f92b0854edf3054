"""Small runs, as a calibration makes them: simulations per hour in one worker, and a fresh worker's warm start.

    python benchmarks/small_runs.py [--runs 50] [--baseline SIMS_PER_HOUR]

The simulation is the calibration's (``calibration/stuttgart.toml``): its base scenario with its ``[set]``
changes, spin-up included, each run with a new parameter set drawn from the priors and its own seed, the way
pyabc asks for them. ``--runs`` of them run one after another in this process (one numba thread, as in a
worker), after one run that loads the compiled kernels, each through the calibration's own
:class:`~quartiersim.calibration.Simulator` (scenario from data, the run, the targets' statistics), as a
worker makes them. A few more runs split a simulation's time into building the model (spin-up included) and
stepping it. Then a fresh Python process (a new worker, the kernels in numba's cache) imports quartiersim and
makes one tiny run: its wall time is the warm start.

Prints simulations per hour with the median seconds per simulation, the split, and the warm start; with
``--baseline`` (simulations per hour measured before a change) also the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
    from quartiersim.calibration import Simulator, load_calibration
    from quartiersim.model import QuarterModel

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

    def simulation(seed: int) -> float:
        t0 = time.perf_counter()
        simulator(draw(), seed=seed)
        return time.perf_counter() - t0

    def split(seed: int) -> tuple[float, float]:
        t0 = time.perf_counter()
        model = QuarterModel(cal.base.with_overrides(**draw()), rng=seed)
        t1 = time.perf_counter()
        model.run()
        return t1 - t0, time.perf_counter() - t1

    simulation(10_000)  # load the compiled kernels
    t0 = time.perf_counter()
    times = [simulation(seed) for seed in range(args.runs)]
    total = time.perf_counter() - t0
    per_hour = 3600 * args.runs / total
    splits = [split(seed) for seed in range(args.runs, args.runs + min(args.runs, 5))]
    build = statistics.median(t[0] for t in splits)
    run = statistics.median(t[1] for t in splits)
    warm = statistics.median(warm_start() for _ in range(3))
    spec = cal.base
    print(f"calibration simulation: {spec.name}, {len(spec.stadtteile) if spec.stadtteile != 'all' else 152} "
          f"Stadtteile at scale {spec.scale}, {spec.start} to {spec.end}, spin-up {spec.spinup_weeks} weeks")
    print(f"  {args.runs} runs in one process: {per_hour:,.0f} simulations per hour "
          f"(median {statistics.median(times):.2f} s a simulation, statistics included)")
    print(f"  a run's model: median {build:.2f} s building (spin-up included) + {run:.2f} s stepping "
          f"({len(splits)} runs)")
    print(f"  warm start of a new worker (import and a tiny run, kernels cached): {warm:.2f} s (target < 1.5 s)")
    if args.baseline:
        print(f"  ratio to the baseline of {args.baseline:,.0f} simulations per hour: {per_hour / args.baseline:.2f} "
              "(target >= 3)")


if __name__ == "__main__":
    main()
