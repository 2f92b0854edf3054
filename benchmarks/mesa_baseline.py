"""The numba core against the same rules written as plain Mesa agents, on the same 10,000-resident population.

Usage: python benchmarks/mesa_baseline.py [--weeks 52] [--mesa-weeks 8] [--repeats 3] [--threads 1]

The population is the Bezirk Hedelfingen at scale 1.0 (its Stadtteile have 10,396 residents, one agent
each), default scenario, no spin-up. Both models are built from the same state in this process and timed
over whole weekly steps (the roles phase included on both sides); the Mesa model runs fewer weeks because it
is slow. Prints resident-steps per second of each (medians of ``--repeats``) and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numba

from quartiersim.data import load_stadtteile
from quartiersim.mesa_baseline import MesaBaselineModel
from quartiersim.model import QuarterModel


def population() -> dict:
    table = load_stadtteile()
    numbers = table.loc[table["bezirk"] == "Hedelfingen", "number"].astype(int).tolist()
    # the default scenario's pilot roles serve Neckarvorstadt, which this population does not hold (a role
    # serving a Stadtteil outside the run is refused): no roles, as the roles had no residents here before
    return dict(stadtteile=numbers, scale=1.0, spinup_weeks=0, roles=[])


def rate(model, weeks: int) -> float:
    """Resident-steps per second over ``weeks`` steps of ``model``."""
    t0 = time.perf_counter()
    for _ in range(weeks):
        model.step()
    return n_residents(model) * weeks / (time.perf_counter() - t0)


def n_residents(model) -> int:
    return len(model.residents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weeks", type=int, default=52, help="weeks timed for the numba core")
    parser.add_argument("--mesa-weeks", type=int, default=8, help="weeks timed for the plain-Mesa model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    setup = population()
    QuarterModel(None, rng=0, **dict(setup, end="2024-02-01")).run()  # compile or load the cache
    fast, plain = [], []
    for seed in range(args.repeats):
        fast.append(rate(QuarterModel(None, rng=seed, **setup), args.weeks))
        plain.append(rate(MesaBaselineModel(QuarterModel(None, rng=seed, **setup), seed=seed), args.mesa_weeks))
    n = n_residents(QuarterModel(None, rng=0, **setup))
    f, p = statistics.median(fast), statistics.median(plain)
    print(f"Bezirk Hedelfingen at scale 1.0: {n:,} residents, default scenario, {args.threads} numba thread(s), "
          f"median of {args.repeats}")
    print(f"  numba core : {f:13,.0f} resident-steps/s  ({args.weeks} weeks per run)")
    print(f"  plain Mesa : {p:13,.0f} resident-steps/s  ({args.mesa_weeks} weeks per run)")
    print(f"  ratio numba / plain Mesa: {f / p:.0f}  (target >= 100)")


if __name__ == "__main__":
    main()
