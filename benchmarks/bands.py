"""The patterns of docs/ODD.md (section 7.12) measured with many seeds: the figures and spreads the band tests rest on.

    python benchmarks/bands.py [--seeds 8] [--cohort-seeds 32] [--baseline-seeds 8]

Prints, with mean, seed sd and standard error: the Neckarvorstadt pilot's participation effect at the end of
2027 and that of a tenth of its posts; the no-programme city's drift over 2024-2035 (participation, loneliness,
initiatives realised and expected), the lonely shares by age and health; and the share of initiatives active at
the end of 2027 that drop out in 2028-2030 under each Verstetigung strategy.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from quartiersim.patterns import baseline_runs, pilot_participation, post_funding_dropout
from quartiersim.spec import VERSTETIGUNG_STRATEGIES


def line(label: str, values, scale: float = 1.0, unit: str = "") -> None:
    v = np.asarray(values, dtype=float) * scale
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    print(f"  {label:48s} mean {v.mean():8.3f}{unit}  sd {v.std(ddof=1):7.3f}  se {se:7.3f}  (n = {len(v)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="paired seeds of the pilot comparison")
    parser.add_argument("--baseline-seeds", type=int, default=8)
    parser.add_argument("--cohort-seeds", type=int, default=32)
    args = parser.parse_args()
    pilot = pilot_participation(range(args.seeds))
    print("Neckarvorstadt, participation (14+, last 12 months) at the end of 2027, band: effect <= 10 points")
    line("without roles", pilot["none"], 100, " %")
    line("pilot roles: effect", pilot["effect"], 100, " pt")
    line("a tenth of the posts: effect", pilot["effect_tenth"], 100, " pt")
    ratio = pilot["effect_tenth"].mean() / pilot["effect"].mean()
    print(f"  ratio tenth / full: {ratio:.3f} (band: <= 0.25)")
    base = baseline_runs(range(args.baseline_seeds))
    print("No-programme city at scale 0.05, 2024-2035; bands: 1.5 pt, 0.3 pt, 5 %")
    line("participation drift", base.drift("participation_share"), 100, " pt")
    line("lonely share drift", base.drift("lonely_share"), 100, " pt")
    realised = base.drift("active_initiatives", relative=True)
    line("active initiatives drift (realised)", realised, 100, " %")
    line("active initiatives drift (expected)", base.expected_initiative_drift(), 100, " %")
    share = base.mean_share
    print(f"  lonely share: all {100 * share():.2f} %, 65+ / all {share('age_65plus') / share():.3f}, "
          f"very good health {100 * share('health_very_good'):.2f} %, "
          f"very poor health {100 * share('health_very_poor'):.1f} %")
    print(f"Initiatives of Neckarvorstadt active at the end of 2027 dropping out 2028-2030 ({args.cohort_seeds} "
          "seeds); band for funding_ends: 0.15-0.45")
    for strategy in VERSTETIGUNG_STRATEGIES:
        size, dropped = post_funding_dropout(strategy, range(args.cohort_seeds))
        share = dropped / size
        se = math.sqrt(share * (1 - share) / size)
        print(f"  {strategy:20s} {dropped:4.0f} of {size:4.0f} = {share:.3f}  (se {se:.3f})")


if __name__ == "__main__":
    main()
