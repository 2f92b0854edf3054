"""The whole city over a decade: wall time, resident-steps per second, peak memory, time per phase.

Usage: python benchmarks/city_decade.py [--scale 1.0] [--weeks 520] [--repeats 3] [--threads 1 2]

Compilation is measured first, in a fresh numba cache directory (a tiny run compiles every kernel), then
again with that cache filled, as a later run sees it. Each repeat builds the default scenario on all 152
Stadtteile (no spin-up) and steps it ``--weeks`` weeks with the fused week kernel; medians per thread count
are printed with the ratio to the 10 million resident-steps per second target. One more run with
``time_phases`` on shows where the time goes, phase by phase (single thread).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 1e7

_COMPILE = (
    "import time; t = time.perf_counter(); from quartiersim.model import QuarterModel; "
    "QuarterModel(None, rng=0, stadtteile=[211], scale=0.05, end='2024-03-01', spinup_weeks=2).run(); "
    "print(time.perf_counter() - t)"
)


def compile_seconds(cache_dir: str) -> float:
    """Seconds for import plus a tiny run in a new process using numba cache directory ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", _COMPILE], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def run_once(scale: float, weeks: int, seed: int, time_phases: bool = False):
    """Build and run the whole city once; (residents, weeks, build s, run s, phase seconds)."""
    from quartiersim.model import QuarterModel

    end = dt.date(2024, 1, 1) + dt.timedelta(days=7 * weeks - 1)
    t0 = time.perf_counter()
    model = QuarterModel(None, rng=seed, scale=scale, end=end, spinup_weeks=0)
    model.time_phases = time_phases
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.run()
    return len(model.residents), model.n_weeks, build, time.perf_counter() - t0, dict(model.phase_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-phases", action="store_true", help="skip the phase-by-phase run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = compile_seconds(cache)
        warm = compile_seconds(cache)
    print(f"compile: {cold:.1f} s with an empty numba cache, {warm:.1f} s with the cache filled "
          "(import and a tiny run in a new process)")

    import numba

    from quartiersim.model import QuarterModel

    QuarterModel(None, rng=0, stadtteile=[211], scale=0.05, end="2024-03-01", spinup_weeks=2).run()  # warm-up
    first = None
    for threads in args.threads:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        os.environ["QUARTIERSIM_THREADS"] = str(threads)  # exactly this many, even where the cores are busy
        runs = [run_once(args.scale, args.weeks, seed) for seed in range(args.repeats)]
        n, weeks = runs[0][0], runs[0][1]
        wall = statistics.median(r[3] for r in runs)
        rate = n * weeks / wall
        first = first or rate
        print(f"whole city, scale {args.scale}: {n:,} residents x {weeks} weeks, {threads} thread(s), "
              f"median of {args.repeats}")
        print(f"  build {statistics.median(r[2] for r in runs):.1f} s, run {wall:.1f} s "
              f"(runs: {', '.join(f'{r[3]:.1f}' for r in runs)})")
        print(f"  resident-steps per second: {rate:,.0f}  ratio to target 10,000,000: {rate / TARGET:.2f}  "
              f"speed-up over {args.threads[0]} thread(s): {rate / first:.2f}")
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory (RSS): {peak_gib:.2f} GiB  (target < 3 GiB)")
    if args.no_phases:
        return
    numba.set_num_threads(1)
    n, weeks, _, wall, phases = run_once(args.scale, args.weeks, 0, time_phases=True)
    print(f"time per phase, one run phase by phase on 1 thread ({n * weeks / wall:,.0f} resident-steps/s):")
    for name, sec in phases.items():
        print(f"  {name:<14} {sec:7.2f} s  {sec / wall:6.1%}  {sec / (n * weeks) * 1e9:6.1f} ns per resident-step")


if __name__ == "__main__":
    main()
