"""Write the figures of the README's section on `quartiersim optimise` to docs/figures/.

Usage: python docs/make_optimise_figures.py [STORE]

Runs the bundled plan space (experiments/plan_spaces/rollout_plans.toml: two Bezirke at scale 0.05, 3 posterior
draws x 2 seeds, 24 plans) into STORE (default optimise/rollout_plans; a finished store is read back, an interrupted one
resumed), then the scenario discovery of the front plan with the most active initiatives more on the bad side of
the draws, over 20 draws, with the draws' median as the threshold. A few minutes on two cores. The figures show
what each plot looks like; a plan space this small decides nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from quartiersim import plots
from quartiersim.optimise import discover, open_plan_store, optimise, plan_details

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("figures")


def main() -> None:
    """Search, choose a plan, discover where it fails, and save the three figures."""
    store_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "optimise" / "rollout_plans"
    result = optimise(ROOT / "experiments" / "plan_spaces" / "rollout_plans.toml", store_dir, workers=2)
    store = open_plan_store(store_dir)
    space = store.space
    front = result.front.sort_values("active_initiatives_more_q10")
    plan = front.iloc[-1]["plan"]
    figures = {"optimise_front": plots.pareto_figure(result.evaluations, result.front, result.named, space.use,
                                                     space.objectives.robustness, space.objectives.quantile,
                                                     space.name)}
    details = plan_details(store, plan)
    figures["optimise_plan"] = plots.plan_figure(details.areas, details.cost, details.stadtteile,
                                                 f"{plan} ({space.name})")
    first = discover(store_dir, plan, "active_initiatives_more", below=0.0, draws=20, workers=2)
    threshold = float(first.outcomes["active_initiatives_more"].median())
    found = discover(store_dir, plan, "active_initiatives_more", below=threshold, draws=20, workers=2)
    figures["optimise_prim"] = plots.prim_figure(found.outcomes, found.outcome, found.threshold, True, found.peeling,
                                                 found.box, found.chosen, plan)
    for name, fig in figures.items():
        fig.savefig(OUT / f"{name}.png", dpi=100)
        print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
