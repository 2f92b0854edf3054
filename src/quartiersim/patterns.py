"""Measurements of the patterns the model is checked against (docs/ODD.md, section 7.12).

Each function runs the bundled scenarios the way the band in the ODD describes it and returns the figures:
the tests (``tests/test_bands.py``) hold them to their bands with few seeds, ``benchmarks/bands.py`` measures
them with many and prints the seed-to-seed spread the tests' tolerances rest on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quartiersim.model import QuarterModel
from quartiersim.outputs import CITY
from quartiersim.run import simulate
from quartiersim.spec import Scenario, resolve_scenario


def city_series(table: pd.DataFrame, indicator: str, group: str = "all") -> pd.Series:
    """One indicator of the city total (all simulated Stadtteile) by date."""
    rows = table[(table["stadtteil"] == CITY) & (table["indicator"] == indicator) & (table["group"] == group)]
    return rows.set_index("date")["value"]


def with_posts(scenario: Scenario, factor: float) -> Scenario:
    """The scenario with every role's posts (and their dated changes) times ``factor``."""
    roles = []
    for role in scenario.roles:
        data = role.model_dump()
        data["fte"] *= factor
        data["changes"] = [dict(c, fte=None if c["fte"] is None else c["fte"] * factor) for c in data["changes"]]
        roles.append(data)
    return scenario.with_overrides(roles=roles)


def pilot_participation(seeds: range, scenario: str = "neckarvorstadt", end: str = "2027-12-31",
                        **overrides) -> pd.DataFrame:
    """Participation without roles, with the pilot roles and with a tenth of their posts, per seed.

    The share of residents 14+ who took part in an activity in the last 12 months at ``end``; the runs are
    paired (the same seeds), the effects are differences of shares.
    """
    pilot = resolve_scenario(scenario, end=end, **overrides)
    runs = {"none": pilot.with_overrides(roles=[]), "pilot": pilot, "tenth": with_posts(pilot, 0.1)}
    rows = []
    for seed in seeds:
        row = {"seed": seed}
        for name, spec in runs.items():
            row[name] = city_series(simulate(spec, seed=seed, report="yearly"), "participation_share").iloc[-1]
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["effect"] = frame["pilot"] - frame["none"]
    frame["effect_tenth"] = frame["tenth"] - frame["none"]
    return frame


@dataclass
class BaselineRuns:
    """Yearly tables of the no-programme city and the expected initiative flows at each year's end."""

    tables: list[pd.DataFrame]
    flows: list[pd.DataFrame]

    def drift(self, indicator: str, group: str = "all", relative: bool = False) -> np.ndarray:
        """Change from the first to the last year, per seed (relative for counts)."""
        out = []
        for table in self.tables:
            s = city_series(table, indicator, group)
            out.append(s.iloc[-1] / s.iloc[0] - 1 if relative else s.iloc[-1] - s.iloc[0])
        return np.array(out)

    def expected_initiative_drift(self) -> np.ndarray:
        """The systematic drift of the number of initiatives over the run, per seed, without chance.

        Expected foundings minus expected drop-outs a week, relative to the active initiatives, at each year's
        end, averaged and taken over the years of the run.
        """
        return np.array([((f["foundings"] - f["dropouts"]) / f["active"]).mean() * 52 * len(f) for f in self.flows])

    def mean_share(self, group: str = "all") -> float:
        """The lonely share of a group, mean over the years and seeds."""
        return float(np.mean([city_series(t, "lonely_share", group).mean() for t in self.tables]))


def baseline_runs(seeds: range, scale: float = 0.05, **overrides) -> BaselineRuns:
    """The no-programme city (bundled ``baseline``, 2024-2035) at ``scale`` for each seed."""
    tables, flows = [], []
    for seed in seeds:
        model = QuarterModel("baseline", rng=seed, scale=scale, report="yearly", **overrides)
        seen = []
        while model.running:
            model.step()
            if model.week % 52 == 0:
                seen.append(model.initiative_flows())
        tables.append(model.results())
        flows.append(pd.DataFrame(seen))
    return BaselineRuns(tables, flows)


def post_funding_dropout(strategy: str, seeds: range, scenario: str = "neckarvorstadt", **overrides
                         ) -> tuple[float, float]:
    """Initiatives active at the end of 2027 under a Verstetigung strategy, and how many dropped out by 2030.

    Summed over the seeds, from the indicators ``pilot_cohort_initiatives`` (at 2027-12-31, the scenario's
    ``pilot_end``) and ``pilot_cohort_dropouts`` (2028 to 2030).
    """
    cohort_size = dropped = 0.0
    for seed in seeds:
        table = simulate(scenario, seed=seed, end="2030-12-31", report="yearly",
                         verstetigung={"strategy": strategy}, **overrides)
        cohort = city_series(table, "pilot_cohort_initiatives")
        lost = city_series(table, "pilot_cohort_dropouts")
        cohort_size += float(cohort[cohort.index.year == 2027].iloc[0])
        dropped += float(lost[lost.index.year >= 2028].sum())
    return cohort_size, dropped
