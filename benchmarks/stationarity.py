"""Stationarity check of the no-programme city, and the spin-up it needs.

For each candidate spin-up length, runs the bundled ``baseline`` scenario (no programme) for the whole city at
scale 0.05 from 2024 to 2035 with two seeds, and reports the drift of the city-wide yearly values (mean of the
seeds): the change from the first to the last year of participation, loneliness, awareness and volunteering
(in points) and of the active initiatives (in %). A spin-up is long enough when every drift lies inside the
bands of the no-programme baseline (participation at most 1.5 points, active initiatives at most 5 %, the
lonely share at most 0.3 points); docs/ODD.md (Initialisation) quotes the result, and ``spinup_weeks``
defaults to the shortest length that passes with room to spare. With two or more seeds it also prints each
drift's standard error over the seeds and how many of them the nearest band edge lies away (``margin_se``): a
12-year change in the number of initiatives has a seed sd of about 6.6 %, so a few seeds cannot tell close
spin-ups apart (``--seeds 32`` can).

    python benchmarks/stationarity.py [--spinups 52,104,156,208] [--seeds 2] [--scale 0.05]
"""

from __future__ import annotations

import argparse
import math

import pandas as pd

import quartiersim
from quartiersim.outputs import CITY

SHARES = ("participation_share", "lonely_share", "aware_share", "volunteer_share")
BANDS = {"participation_share": 1.5, "lonely_share": 0.3, "active_initiatives": 5.0}


def _drifts(frame: pd.DataFrame) -> dict[str, float]:
    """Change from the first to the last year of one city table (points; % for initiatives)."""
    out = {name: 100 * float(frame[name].iloc[-1] - frame[name].iloc[0]) for name in SHARES}
    init = frame["active_initiatives"]
    out["active_initiatives"] = 100 * float(init.iloc[-1] / init.iloc[0] - 1)
    return out


def drift(spinup: int, seeds: int, scale: float) -> dict[str, float]:
    """Change from 2024 to 2035 of the city-wide values, mean of the seeds (points; % for initiatives).

    With two or more seeds also each drift's standard error (``<name>_se``, from the seeds' own drifts) and
    ``margin_se``: how many standard errors the nearest band edge lies from its drift.
    """
    frames = []
    for seed in range(seeds):
        table = quartiersim.simulate("baseline", seed=seed, scale=scale, report="yearly", spinup_weeks=spinup)
        city = table[(table["stadtteil"] == CITY) & (table["group"] == "all")]
        frames.append(city.pivot_table(index="date", columns="indicator", values="value", observed=True))
    out = _drifts(sum(frames) / len(frames))
    if seeds >= 2:
        each = pd.DataFrame([_drifts(frame) for frame in frames])
        se = each.std(ddof=1) / math.sqrt(seeds)
        out.update({f"{name}_se": float(se[name]) for name in out})
        out["margin_se"] = float(min((band - abs(out[k])) / se[k] for k, band in BANDS.items()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spinups", default="52,104,156,208")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.05)
    args = parser.parse_args()
    rows = []
    for spinup in (int(x) for x in args.spinups.split(",")):
        row = {"spinup_weeks": spinup, **drift(spinup, args.seeds, args.scale)}
        row["passes"] = all(abs(row[k]) <= band for k, band in BANDS.items())
        rows.append(row)
        print(row, flush=True)
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:+.2f}"))
    print("bands: " + ", ".join(f"{k} within {v:g}" for k, v in BANDS.items()) + " (points; % for initiatives)")


if __name__ == "__main__":
    main()
