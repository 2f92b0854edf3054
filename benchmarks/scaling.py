"""How run time grows with population and with weeks: the scaling table in the README.

Usage: python benchmarks/scaling.py [--repeats 3] [--threads 1 2]

Population: the whole city (all 152 Stadtteile, default scenario, no spin-up) at the scales that give about
10,000, 100,000 and all 612,706 residents, 520 weeks each. Weeks: the 100,000-resident city over 104, 260
and 520 weeks. Prints a Markdown table of medians with resident-steps per second and the ratio of each
row's resident-steps per second to the first row's (1.00 means time grows exactly in proportion).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time

import numba

from quartiersim.model import QuarterModel

CITY = 612_706


def measure(scale: float, weeks: int, repeats: int) -> tuple[int, float]:
    """(residents, median run seconds) of the whole city at ``scale`` over ``weeks`` weeks."""
    end = dt.date(2024, 1, 1) + dt.timedelta(days=7 * weeks - 1)
    walls, n = [], 0
    for seed in range(repeats):
        model = QuarterModel(None, rng=seed, scale=scale, end=end, spinup_weeks=0)
        t0 = time.perf_counter()
        model.run()
        walls.append(time.perf_counter() - t0)
        n = len(model.residents)
    return n, statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    QuarterModel(None, rng=0, stadtteile=[211], scale=0.05, end="2024-03-01", spinup_weeks=2).run()  # warm-up
    cases = [(10_000 / CITY, 520), (100_000 / CITY, 520), (1.0, 520), (100_000 / CITY, 104), (100_000 / CITY, 260)]
    heads = " | ".join(f"{t} thread{'s' if t > 1 else ''}: s, res-steps/s, ratio" for t in args.threads)
    print(f"| residents | weeks | {heads} |")
    print("|---:|---:|" + "---|" * len(args.threads))
    first: dict[int, float] = {}
    for scale, weeks in cases:
        cells, n = [], 0
        for threads in args.threads:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            os.environ["QUARTIERSIM_THREADS"] = str(threads)  # exactly this many, even where the cores are busy
            n, wall = measure(scale, weeks, args.repeats)
            rate = n * weeks / wall
            first.setdefault(threads, rate)
            cells.append(f"{wall:.1f} s, {rate / 1e6:.2f} M, {rate / first[threads]:.2f}")
        print(f"| {n:,} | {weeks} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
