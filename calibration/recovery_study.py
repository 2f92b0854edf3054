"""Parameter recovery study: how often the calibration's posterior intervals hold known true values.

    python calibration/recovery_study.py [--repetitions 12] [--out calibration/recovery] [--workers 1]
                                         [--scale 0.25] [--population 60] [--generations 6]

Each repetition draws true values of two parameters from their priors (``lonely_onset_base`` log-uniform in
[2e-5, 1.2e-4], ``lonely_rr_very_poor`` uniform in [40, 300]), runs the model once with them (Neckarvorstadt
and Weilimdorf at scale 0.25 or --scale, 2024-2025, a seed of its own) to make synthetic pseudo-observations of the two
statistics they drive (the lonely share of all adults and of adults in very poor health, labelled synthetic in
the targets file), calibrates both parameters against them with ABC-SMC, and records whether the posterior's
50 % and 90 % intervals hold the true values. Over many repetitions a calibrated interval should hold the truth
about as often as its level says; ABC's finite tolerance makes posteriors wider, so coverage above the level is
expected and coverage well below it is a fault.

Writes ``recovery.csv`` (one row per repetition and parameter) and prints the coverage table that
``calibration/README.md`` quotes. At scale 0.25 with 6 generations one repetition makes about 1,200
simulations (about 12 minutes on one core); ``--scale 0.1 --generations 4`` takes about 2 minutes and gives
wider posteriors.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd

from quartiersim.calibration import calibrate, load_targets, statistics
from quartiersim.run import simulate

PRIORS = {"lonely_onset_base": (2e-5, 1.2e-4, "log"), "lonely_rr_very_poor": (40.0, 300.0, "linear")}
SETUP = {"stadtteile": [211, 801], "scale": 0.25, "end": "2025-12-31"}
TARGETS = """
[[targets]]
name = "lonely_share"
kind = "assumption"
value = {all}
sd = {sd_all}
statistic = {{indicator = "lonely_share", year = 2025}}
source = "synthetic: the model with {truth}, seed {seed} (recovery study)"

[[targets]]
name = "lonely_share_very_poor_health"
kind = "assumption"
value = {poor}
sd = {sd_poor}
statistic = {{indicator = "lonely_share", group = "health_very_poor", year = 2025}}
source = "synthetic: as above"
"""
CALIBRATION = """
name = "recovery_{rep}"
scenario = "neckarvorstadt"
targets = "targets.toml"
[set]
stadtteile = [211, 801]
scale = {scale}
end = 2025-12-31
[priors]
lonely_onset_base = {{low = 2e-5, high = 1.2e-4, scale = "log"}}
lonely_rr_very_poor = [40, 300]
[abc]
population_size = {size}
max_generations = {generations}
min_epsilon = 0.5
seed = {rep}
"""


def draw_truth(rng: np.random.Generator) -> dict[str, float]:
    """True values drawn from the priors."""
    out = {}
    for name, (low, high, scale) in PRIORS.items():
        u = rng.random()
        out[name] = float(math.exp(math.log(low) + u * math.log(high / low)) if scale == "log"
                          else low + u * (high - low))
    return out


def noise_sd(truth: dict[str, float], seeds: range) -> tuple[float, float]:
    """Seed-to-seed sd of the two statistics at the true values (the targets' sd is set from it)."""
    values = []
    for seed in seeds:
        table = simulate("neckarvorstadt", seed=seed, **SETUP, **truth)
        city = table[(table["stadtteil"] == "Stuttgart") & (table["indicator"] == "lonely_share")]
        last = city[city["date"] == city["date"].max()].set_index("group")["value"]
        values.append((last["all"], last["health_very_poor"]))
    arr = np.array(values)
    return float(arr[:, 0].std(ddof=1)), float(arr[:, 1].std(ddof=1))


def repetition(rep: int, out: Path, size: int, generations: int, workers: int) -> list[dict]:
    """One repetition: truth, pseudo-observations, calibration, interval checks."""
    rng = np.random.default_rng(1000 + rep)
    truth = draw_truth(rng)
    folder = out / f"rep{rep:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    sd_all, sd_poor = noise_sd(truth, range(100 + 10 * rep, 104 + 10 * rep))
    seed = 7_000 + rep
    (folder / "targets.toml").write_text(TARGETS.format(all=0, poor=0, sd_all=1, sd_poor=1, truth=truth, seed=seed),
                                         encoding="utf-8")
    table = simulate("neckarvorstadt", seed=seed, **SETUP, **truth)
    targets = load_targets(folder / "targets.toml")
    observed = statistics(table, targets, [("Stuttgart", None)] * len(targets))
    (folder / "targets.toml").write_text(TARGETS.format(
        all=observed["lonely_share"], poor=observed["lonely_share_very_poor_health"],
        sd_all=max(sd_all, 0.002), sd_poor=max(sd_poor, 0.02), truth=truth, seed=seed), encoding="utf-8")
    (folder / "recovery.toml").write_text(CALIBRATION.format(rep=rep, size=size, generations=generations,
                                                             scale=SETUP["scale"]),
                                          encoding="utf-8")
    result = calibrate(folder / "recovery.toml", folder / "out", workers=workers)
    post = result.posterior
    rows = []
    for name, value in truth.items():
        v, w = post[name].to_numpy(dtype=float), post["weight"].to_numpy(dtype=float)
        q = {p: float(np.quantile(v, p, weights=w, method="inverted_cdf")) for p in (0.05, 0.25, 0.5, 0.75, 0.95)}
        low, high = PRIORS[name][:2]
        rows.append({"repetition": rep, "parameter": name, "truth": value, "median": q[0.5],
                     "q05": q[0.05], "q25": q[0.25], "q75": q[0.75], "q95": q[0.95],
                     "in_50": q[0.25] <= value <= q[0.75], "in_90": q[0.05] <= value <= q[0.95],
                     "width_90_over_prior": (q[0.95] - q[0.05]) / (high - low),
                     "generations": len(result.generations),
                     "final_epsilon": float(result.generations["epsilon"].iloc[-1])})
    return rows


def main() -> None:
    """Run the repetitions and print the coverage table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=12)
    parser.add_argument("--out", default="calibration/recovery")
    parser.add_argument("--population", type=int, default=60)
    parser.add_argument("--generations", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scale", type=float, default=0.25, help="the two Stadtteile's agents per resident")
    parser.add_argument("--table-only", action="store_true", help="print the table of the recovery.csv in --out")
    args = parser.parse_args()
    SETUP["scale"] = args.scale
    out = Path(args.out)
    rows = []
    if args.table_only:
        rows = pd.read_csv(out / "recovery.csv").to_dict("records")
    for rep in range(0 if args.table_only else args.repetitions):
        rows += repetition(rep, out, args.population, args.generations, args.workers)
        frame = pd.DataFrame(rows)
        frame.to_csv(out / "recovery.csv", index=False)
        print(frame.tail(2).to_string(index=False), flush=True)
    frame = pd.DataFrame(rows)
    table = frame.groupby("parameter").agg(repetitions=("repetition", "count"), coverage_50=("in_50", "mean"),
                                           coverage_90=("in_90", "mean"),
                                           median_width_90=("width_90_over_prior", "median"))
    table.loc["all"] = [len(frame), frame["in_50"].mean(), frame["in_90"].mean(),
                        frame["width_90_over_prior"].median()]
    print(markdown(table))


def markdown(table: pd.DataFrame) -> str:
    """The coverage table as Markdown (without pandas' optional tabulate dependency)."""
    lines = ["| parameter | repetitions | 50 % interval holds the truth | 90 % interval holds the truth | "
             "median 90 % width / prior |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, r in table.iterrows():
        lines.append(f"| {name} | {int(r['repetitions'])} | {r['coverage_50']:.2f} | {r['coverage_90']:.2f} | "
                     f"{r['median_width_90']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
