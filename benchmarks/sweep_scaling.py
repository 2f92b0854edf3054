"""Sweep scaling: two local workers against one, and the Dask path against the local one.

Usage: python benchmarks/sweep_scaling.py [--samples 8] [--seeds 2] [--scale 0.15] [--tiny-runs 40] [--repeats 2]

The sweep is a Latin hypercube over two parameters of ``verstetigung_funding_ends`` (Bezirk Bad Cannstatt) at
``--scale`` 0.15, about 1.5 s a run on one core, ``samples x seeds`` runs. It runs three times, each on an
executor started and warmed up (every worker has loaded the compiled kernels) before the clock starts:

* one local worker process (the baseline),
* two local worker processes (the speed-up over one: the target is at least 1.8x on two cores),
* a Dask ``LocalCluster`` of two single-threaded worker processes on 127.0.0.1, reached through a client as a
  remote cluster would be: the Dask overhead per run is (Dask wall time - local wall time) / runs.

The overhead is measured again on ``--tiny-runs`` runs of a few hundredths of a second, where it is not hidden
behind the runs. Each sweep is timed ``--repeats`` times into fresh stores and the fastest is kept (the others
are the shared machine's noise). Every store of the same sweep is checked to hold identical runs. Prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from quartiersim.executors import one_numba_thread
from quartiersim.sweeps import sweep

MAIN = """
name = "scaling"
scenario = "verstetigung_funding_ends"
seeds = {seeds}
[set]
scale = {scale}
[uncertainties]
visit_base = [0.08, 0.16]
lonely_contagion = [0.3, 0.7]
[design]
method = "latin_hypercube"
samples = {samples}
[[outcomes]]
indicator = "lonely_adults"
year = 2030
"""
TINY = """
name = "tiny"
scenario = "neckarvorstadt"
seeds = {seeds}
[set]
scale = 0.05
end = 2025-06-30
spinup_weeks = 0
[uncertainties]
visit_base = [0.08, 0.16]
[design]
method = "latin_hypercube"
samples = {samples}
[[outcomes]]
indicator = "lonely_adults"
year = 2025
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def timed(experiment: Path, out: Path, executor: Executor, repeats: int, *warmups: Path) -> float:
    """Fastest wall seconds of a whole sweep on a started executor (warmed up by throw-away sweeps first)."""
    for k, warmup in enumerate(warmups):
        sweep(warmup, out.with_name(f"{out.name}_warmup{k}"), executor=executor)
    walls = []
    for r in range(repeats):
        store = out if r == 0 else out.with_name(f"{out.name}_repeat{r}")
        t0 = time.perf_counter()
        result = sweep(experiment, store, executor=executor)
        walls.append(time.perf_counter() - t0)
        assert result.complete and result.ran == result.total, f"{store}: {result.failed} runs failed"
    return min(walls)


def same_runs(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in (a / "runs").glob("*.parquet"))
    if names != sorted(p.name for p in (b / "runs").glob("*.parquet")):
        return False
    return all(pd.read_parquet(a / "runs" / n).equals(pd.read_parquet(b / "runs" / n)) for n in names)


def local_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=one_numba_thread)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.15)
    parser.add_argument("--tiny-runs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        main_exp = write(d, "main", MAIN.format(seeds=args.seeds, scale=args.scale, samples=args.samples))
        tiny_exp = write(d, "tiny", TINY.format(seeds=2, samples=max(1, args.tiny_runs // 2)))
        # the warm-up runs both base scenarios briefly, so every worker has loaded every kernel either sweep uses
        warm = write(d, "warm", TINY.replace('scenario = "neckarvorstadt"', 'scenario = "{scenario}"').format(
            seeds=2, samples=2, scenario="verstetigung_funding_ends"))
        warm_tiny = write(d, "warm_tiny", TINY.format(seeds=4, samples=1))
        runs = args.samples * args.seeds
        tiny_runs = 2 * max(1, args.tiny_runs // 2)
        walls: dict[str, float] = {}
        with local_pool(1) as pool:
            walls["local, 1 worker"] = timed(main_exp, d / "one", pool, args.repeats, warm, warm_tiny)
        with local_pool(2) as pool:
            walls["local, 2 workers"] = timed(main_exp, d / "two", pool, args.repeats, warm, warm_tiny)
            walls["tiny local, 2 workers"] = timed(tiny_exp, d / "tiny_two", pool, args.repeats, warm_tiny)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0") as cluster, Client(cluster.scheduler_address) as client:
            executor = client.get_executor(pure=False)
            walls["Dask, 2 workers"] = timed(main_exp, d / "dask", executor, args.repeats, warm, warm_tiny)
            walls["tiny Dask, 2 workers"] = timed(tiny_exp, d / "tiny_dask", executor, args.repeats, warm_tiny)
        identical = same_runs(d / "one", d / "two") and same_runs(d / "two", d / "dask") and \
            same_runs(d / "tiny_two", d / "tiny_dask")
    base = walls["local, 1 worker"]
    print(f"## Sweep scaling: {runs} runs of verstetigung_funding_ends at scale {args.scale}; {tiny_runs} tiny runs\n")
    print("| executor | runs | wall s | s per run | speed-up over 1 local worker |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("local, 1 worker", "local, 2 workers", "Dask, 2 workers"):
        print(f"| {name} | {runs} | {walls[name]:.1f} | {walls[name] / runs:.2f} | {base / walls[name]:.2f}x |")
    for name in ("tiny local, 2 workers", "tiny Dask, 2 workers"):
        print(f"| {name} | {tiny_runs} | {walls[name]:.2f} | {walls[name] / tiny_runs:.3f} | |")
    speedup = base / walls["local, 2 workers"]
    overhead = (walls["Dask, 2 workers"] - walls["local, 2 workers"]) / runs
    tiny_overhead = (walls["tiny Dask, 2 workers"] - walls["tiny local, 2 workers"]) / tiny_runs
    print(f"\nspeed-up of 2 local workers over 1: {speedup:.2f}x (target >= 1.8x: "
          f"{'met' if speedup >= 1.8 else 'NOT met'})")
    print(f"Dask overhead per run against local workers: {overhead * 1000:+.0f} ms on the {runs} main runs, "
          f"{tiny_overhead * 1000:+.1f} ms on the {tiny_runs} tiny runs")
    print(f"identical runs in every store: {identical}")


if __name__ == "__main__":
    main()
