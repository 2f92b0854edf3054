"""EMA Workbench loops with quartiersim's own choice of numba threads against one thread set by hand.

Usage: python benchmarks/ema_threads.py [--runs 40] [--repeats 3]

An EMA-style loop of small runs (Bezirk Bad Cannstatt, 18 Stadtteile, at scale 0.05 to 2030; about half a
second each) through EMA Workbench's SequentialEvaluator and its MultiprocessingEvaluator with 2 processes, each
in a fresh Python process, under three settings:

* ``chosen``: quartiersim's choice (quartiersim.threads: threads that sleep between weeks instead of spinning;
  one thread in worker processes and where the other cores are busy, otherwise up to one per core);
* ``by hand``: ``NUMBA_NUM_THREADS=1``, what users had to set;
* ``numba default``: every run on all of numba's threads, spinning as GNU OpenMP does by default
  (``QUARTIERSIM_THREADS`` = the cores, ``GOMP_SPINCOUNT=300000``), as before.

Prints the seconds (the fastest of the repeats, ``by hand`` and ``chosen`` alternating so that other load on
the machine hits both alike) and the ratio of each setting to ``by hand`` (the target: ``chosen`` within 1.3).
Needs the ``ema`` extra.
"""

import argparse
import json
import os
import subprocess
import sys
import time

SCENARIO = "verstetigung_funding_ends"
SMALL = {"scale": 0.05, "end": "2030-12-31"}


def child(evaluator: str, runs: int) -> float:
    """One loop in this process; returns its seconds (the workers' start and cache loading included)."""
    import warnings

    warnings.simplefilter("ignore")  # EMA's notice about ipyparallel
    from ema_workbench import MultiprocessingEvaluator, SequentialEvaluator

    from quartiersim.ema import ema_model

    model = ema_model(SCENARIO, uncertainties=["visit_base"], levers={"roles.Gemeinwesenarbeit Neckarvorstadt.fte":
                                                                     (0.5, 2.0)},
                      outcomes=[{"indicator": "lonely_adults", "year": 2030}], **SMALL)
    if evaluator == "sequential":
        from quartiersim import simulate

        simulate(SCENARIO, seed=0, **SMALL)  # load the kernels before timing, as the workers do in theirs
        ev = SequentialEvaluator(model)
    else:  # no kernel call before the pool forks: EMA's users start their pools first too
        ev = MultiprocessingEvaluator(model, n_processes=2)
    with ev:
        t0 = time.perf_counter()
        ev.perform_experiments(scenarios=runs // 4, policies=4)
        return time.perf_counter() - t0


def measure(evaluator: str, setting: str, runs: int) -> float:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_NUM_THREADS", "QUARTIERSIM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    if setting == "by hand":
        env["NUMBA_NUM_THREADS"] = "1"
    elif setting == "numba default":  # as before: all threads, spinning as GNU OpenMP does by default
        env["QUARTIERSIM_THREADS"] = str(os.cpu_count() or 1)
        env["GOMP_SPINCOUNT"] = "300000"
    out = subprocess.run([sys.executable, __file__, "--child", evaluator, "--runs", str(runs)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per loop (a multiple of 4; default 40)")
    parser.add_argument("--repeats", type=int, default=3, help="loops of 'by hand' and 'chosen', alternating; the "
                        "fastest of each counts (default 3)")
    parser.add_argument("--child", choices=("sequential", "2 processes"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"seconds": child(args.child, args.runs)}))
        return
    print(f"{args.runs} runs of {SCENARIO} ({', '.join(f'{k}={v}' for k, v in SMALL.items())}), "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    for evaluator in ("sequential", "2 processes"):
        # by hand and chosen alternate, so a change in the machine's load between loops hits both alike
        times: dict[str, list[float]] = {"by hand": [], "chosen": []}
        for _ in range(args.repeats):
            for setting, found in times.items():
                found.append(measure(evaluator, setting, args.runs))
        seconds = {s: min(t) for s, t in times.items()}
        seconds["numba default"] = measure(evaluator, "numba default", args.runs)  # once: for the record
        base = seconds["by hand"]
        print(f"{evaluator:>12}: " + ", ".join(f"{s} {t:.1f} s ({t / base:.2f} x by hand)" for s, t in
                                                 seconds.items()))


if __name__ == "__main__":
    main()
