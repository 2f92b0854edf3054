"""Write one figure of each type to docs/figures/ (the examples the README and the ODD point to).

Usage: python docs/make_figures.py

Small runs so that it takes about a minute: Bad Cannstatt at scale 0.1 to 2032 with three seeds per Verstetigung
strategy, and the whole city at scale 0.03 for the map. The numbers come from the defaults (the shipped
calibration's medians where it informed a parameter); the figures show what each plot looks like, not results.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from quartiersim import plots
from quartiersim.compare import compare
from quartiersim.run import simulate

OUT = Path(__file__).with_name("figures")
SETTINGS = {"scale": 0.1, "end": dt.date(2032, 12, 31)}


def main() -> None:
    """Run the small scenarios and save one figure of each type."""
    OUT.mkdir(exist_ok=True)
    result = compare(["verstetigung_funding_ends", "verstetigung_permanent_posts", "verstetigung_meeting_places"],
                     seeds=3, workers=2, **SETTINGS)
    runs = {name: [simulate(name, seed=s, **SETTINGS) for s in range(3)] for name in result.scenarios}
    figures = {
        "indicator_over_time": plots.indicator_over_time(runs, "active_initiatives", stadtteil="Neckarvorstadt"),
        "scenario_differences": plots.scenario_differences(result.differences, "lonely_adults"),
        "stadtteil_ranking": plots.stadtteil_ranking(runs["verstetigung_funding_ends"][0], "participation_share"),
        "loneliness_by_group": plots.loneliness_by_group(runs["verstetigung_funding_ends"][0]),
        "initiatives": plots.initiatives(runs["verstetigung_permanent_posts"][0], "Neckarvorstadt"),
        "cost_against_outcome": plots.cost_against_outcome(result.differences, 2032, "active_initiatives"),
    }
    city = simulate("default", seed=0, scale=0.03, end=dt.date(2025, 12, 31))
    last = city[(city["indicator"] == "lonely_share") & (city["group"] == "all") & (city["date"] == city["date"].max())
                & (city["stadtteil"].astype(str) != "Stuttgart")]
    figures["bezirk_tiles"] = plots.bezirk_tiles(last.set_index(last["stadtteil"].astype(str))["value"],
                                                 "Lonely adults per Stadtteil, end of 2025 (scale 0.03, defaults)",
                                                 "share of adults")
    for name, fig in figures.items():
        fig.savefig(OUT / f"{name}.png", dpi=100)
        print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
