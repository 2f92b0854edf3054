"""The whole city over a decade: wall time, resident-steps per second, peak memory, time per phase.

Usage: python benchmarks/city_decade.py [--scale 1.0] [--weeks 520] [--repeats 3] [--threads 1]

Compilation is measured separately (a tiny run first, which also fills numba's cache). Each repeat builds the
default scenario on all 152 Stadtteile and steps it ``--weeks`` weeks (no spin-up); the medians are printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import time

import numba

from quartiersim.model import QuarterModel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--weeks", type=int, default=520)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    t0 = time.perf_counter()
    QuarterModel(None, rng=0, stadtteile=[211], scale=0.05, end="2024-03-01", spinup_weeks=2).run()
    compile_s = time.perf_counter() - t0
    end = dt.date(2024, 1, 1) + dt.timedelta(days=7 * args.weeks - 1)
    walls, builds, phases = [], [], []
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        model = QuarterModel(None, rng=rep, scale=args.scale, end=end, spinup_weeks=0)
        builds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.run()
        walls.append(time.perf_counter() - t0)
        phases.append(dict(model.phase_seconds))
        n, weeks = len(model.residents), model.n_weeks
    wall = statistics.median(walls)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"whole city, scale {args.scale}: {n:,} residents x {weeks} weeks, {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"  compile (first call, fills the cache): {compile_s:.1f} s")
    print(f"  build: {statistics.median(builds):.1f} s   run: {wall:.1f} s")
    print(f"  resident-steps per second: {n * weeks / wall:,.0f}  (target 10,000,000: ratio "
          f"{n * weeks / wall / 1e7:.2f})")
    print(f"  peak memory (RSS): {peak_gib:.2f} GiB  (target < 3 GiB)")
    print("  time per phase (median s, share of run):")
    for name in phases[0]:
        sec = statistics.median(p[name] for p in phases)
        print(f"    {name:<14} {sec:7.2f}  {sec / wall:6.1%}")


if __name__ == "__main__":
    main()
