"""Figures of runs, comparisons and sweeps (matplotlib), with one style throughout.

Every function takes the tidy tables the package writes (a run's ``results.parquet``, a comparison's
``differences``, ``yearly`` and ``cost_effectiveness`` tables) and returns a :class:`matplotlib.figure.Figure`
without touching pyplot's global state, so it works in scripts, notebooks and servers alike. Axes carry units;
German Stadtteil names are drawn as they are (DejaVu Sans has the umlauts and ß).

* :func:`indicator_over_time`: one indicator over time per scenario, the median of the runs with a 90 % band;
* :func:`scenario_differences`: paired differences to the reference scenario with their 90 % intervals;
* :func:`stadtteil_ranking`: an indicator per Stadtteil, grouped and coloured by Bezirk;
* :func:`loneliness_by_group`: the share of lonely adults in each population group;
* :func:`initiatives`: active initiatives and drop-outs over time;
* :func:`cost_against_outcome`: extra cost against the outcome gained per scenario;
* :func:`bezirk_tiles`: a map without geography: one tile per Stadtteil, a column per Bezirk;
* :func:`choropleth`: a map from Stadtteil boundaries (GeoJSON or GeoPackage; needs the ``maps`` extra);
* :func:`pareto_figure`: a plan search's front, cost against each effect, with the named strategies marked;
* :func:`plan_figure`: a chosen plan's Stadtteile on the Bezirk tiles and its yearly cost;
* :func:`prim_figure`: scenario discovery for a plan: PRIM's peeling trajectory and the box it chose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quartiersim.outputs import (
    CITY,
    GROUPS,
    INDICATORS,
    LABELS,
    RESIDENT_INDICATORS,
    STADTTEIL_INDICATORS,
    stat_label,
)

COLOURS = ["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb", "#000000"]
UNITS = {name: unit for name, _, _, unit, _ in RESIDENT_INDICATORS} | {n: u for n, u, _ in STADTTEIL_INDICATORS}
GROUP_LABELS = {"all": "all", "migration": "migration background", "no_migration": "no migration background",
                "low_income": "low income", "poor_health": "poor health", "stille_gruppe": "stille Gruppen",
                "age_65plus": "aged 65+", "health_very_good": "very good health",
                "health_very_poor": "very poor health"}
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.spines.top": False,
         "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "legend.frameon": False}


@contextmanager
def _style():
    """The package's style for the figures made inside (matplotlib's global settings are left alone)."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({**STYLE, "axes.prop_cycle": cycler(color=COLOURS)}):
        yield


def _figure(width: float = 7.0, height: float = 3.6, rows: int = 1, cols: int = 1) -> tuple[Any, np.ndarray]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def _unit(indicator: str) -> str:
    if indicator not in INDICATORS:
        raise ValueError(f"unknown indicator {indicator!r}; known: {', '.join(INDICATORS)}")
    return UNITS[indicator]


def place_label(table: pd.DataFrame, stadtteil: str = CITY) -> str:
    """How a figure names a place: the total of a one-Stadtteil run is that Stadtteil, not "Stuttgart".

    The results' ``Stuttgart`` rows are the total of the simulated Stadtteile; that is the city only when all
    of them were simulated, so a run of fewer says how many.
    """
    if stadtteil != CITY:
        return stadtteil
    others = [s for s in pd.unique(table["stadtteil"].astype(str)) if s != CITY]
    if len(others) == 1:
        return others[0]
    if len(others) == 0 or len(others) >= 152:
        return CITY
    return f"{len(others)} simulated Stadtteile"


def _select(table: pd.DataFrame, indicator: str, group: str, stadtteil: str) -> pd.DataFrame:
    t = table[(table["indicator"].astype(str) == indicator) & (table["group"].astype(str) == group)
              & (table["stadtteil"].astype(str) == stadtteil)]
    if t.empty:
        raise ValueError(f"no rows for {indicator}, group {group}, {stadtteil}")
    return t


def indicator_over_time(runs: Mapping[str, Sequence[pd.DataFrame] | pd.DataFrame], indicator: str,
                        group: str = "all", stadtteil: str = CITY) -> Any:
    """One indicator over time per scenario: the median of its runs (seeds) and the band of 90 % of them."""
    with _style():
        fig, axes = _figure()
        ax = axes[0, 0]
        for k, (name, tables) in enumerate(runs.items()):
            tables = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
            wide = pd.concat([_select(t, indicator, group, stadtteil).set_index("date")["value"].rename(i)
                              for i, t in enumerate(tables)], axis=1).sort_index()
            values = wide.to_numpy(dtype=float)
            colour = COLOURS[k % len(COLOURS)]
            ax.plot(wide.index, np.nanmedian(values, axis=1), color=colour,
                    label=f"{name} ({len(tables)} run{'s' if len(tables) > 1 else ''})")
            if len(tables) > 1:
                ax.fill_between(wide.index, np.nanquantile(values, 0.05, axis=1),
                                np.nanquantile(values, 0.95, axis=1), color=colour, alpha=0.2, linewidth=0)
        first = next(iter(runs.values()))
        place = place_label(first if isinstance(first, pd.DataFrame) else first[0], stadtteil)
        ax.set_title(f"{LABELS.get(indicator, indicator)}, {GROUP_LABELS.get(group, group)}, {place}")
        ax.set_ylabel(f"{indicator} [{_unit(indicator)}]")
        ax.set_xlabel("date (end of reporting period)")
        ax.legend(title="median, band: 90 % of runs" if any(
            not isinstance(v, pd.DataFrame) and len(v) > 1 for v in runs.values()) else None)
    return fig


def scenario_differences(differences: pd.DataFrame, indicator: str, group: str = "all",
                         stadtteil: str = CITY) -> Any:
    """Paired differences of each scenario to the reference by year, with their 90 % intervals."""
    with _style():
        fig, axes = _figure()
        ax = axes[0, 0]
        d = differences[(differences["indicator"] == indicator) & (differences["group"] == group)
                        & (differences["stadtteil"].astype(str) == stadtteil)]
        if d.empty:
            raise ValueError(f"no differences for {indicator}, group {group}, {stadtteil}")
        for k, (name, rows) in enumerate(d.groupby("scenario", sort=False)):
            rows = rows.sort_values("year")
            colour = COLOURS[k % len(COLOURS)]
            ax.plot(rows["year"], rows["mean_difference"], marker="o", color=colour, label=name)
            ax.fill_between(rows["year"], rows["ci_low"], rows["ci_high"], color=colour, alpha=0.2, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8)
        reference = d["reference"].iloc[0]
        ax.set_title(f"{LABELS.get(indicator, indicator)}, {GROUP_LABELS.get(group, group)}, "
                     f"{place_label(differences, stadtteil)}: scenario minus {reference}")
        ax.set_ylabel(f"difference [{_unit(indicator)}]")
        ax.set_xlabel("year")
        ax.legend(title="mean paired difference, 90 % interval")
    return fig


def _at(table: pd.DataFrame, when: Any) -> pd.DataFrame:
    if "year" in table.columns:
        year = int(when) if when is not None else int(table["year"].max())
        return table[table["year"] == year].assign(when=str(year))
    date = pd.Timestamp(when) if when is not None else table["date"].max()
    return table[table["date"] == date].assign(when=str(date.date()))


def stadtteil_ranking(table: pd.DataFrame, indicator: str, group: str = "all", when: Any = None,
                      stadtteile: pd.DataFrame | None = None) -> Any:
    """An indicator per Stadtteil (bars), grouped by Bezirk and coloured by it, at a date or year."""
    from quartiersim.data import load_stadtteile

    places = stadtteile if stadtteile is not None else load_stadtteile()
    t = _at(table[(table["indicator"].astype(str) == indicator) & (table["group"].astype(str) == group)
                  & (table["stadtteil"].astype(str) != CITY)], when)
    values = t.set_index(t["stadtteil"].astype(str))["value"]
    frame = places[places["stadtteil"].isin(values.index)][["stadtteil", "bezirk"]].copy()
    frame["value"] = frame["stadtteil"].map(values)
    frame = frame.sort_values(["bezirk", "value"], ascending=[True, False])
    bezirke = list(dict.fromkeys(frame["bezirk"]))
    with _style():
        fig, axes = _figure(7.0, max(2.5, 0.16 * len(frame) + 1.2))
        ax = axes[0, 0]
        colours = {b: COLOURS[k % len(COLOURS)] for k, b in enumerate(bezirke)}
        y = np.arange(len(frame))[::-1]
        ax.barh(y, frame["value"], color=[colours[b] for b in frame["bezirk"]])
        ax.set_yticks(y, [f"{s} ({b})" for s, b in zip(frame["stadtteil"], frame["bezirk"], strict=True)],
                      fontsize=7 if len(frame) > 30 else 9)
        ax.set_xlabel(f"{indicator} [{_unit(indicator)}]")
        ax.set_title(f"{indicator}, {GROUP_LABELS.get(group, group)}, per Stadtteil by Bezirk ({t['when'].iloc[0]})")
        ax.grid(axis="y", visible=False)
    return fig


def loneliness_by_group(table: pd.DataFrame, when: Any = None, stadtteil: str = CITY) -> Any:
    """The share of lonely adults in each population group."""
    t = _at(table[(table["indicator"].astype(str) == "lonely_share") & (table["stadtteil"].astype(str) == stadtteil)],
            when)
    values = t.set_index(t["group"].astype(str))["value"].reindex(list(GROUPS))
    with _style():
        fig, axes = _figure(7.0, 3.4)
        ax = axes[0, 0]
        ax.bar([GROUP_LABELS[g] for g in values.index], 100 * values.to_numpy(dtype=float), color=COLOURS[0])
        ax.set_ylabel("lonely adults [% of the group's adults]")
        ax.set_title(f"Loneliness by group, {place_label(table, stadtteil)} ({t['when'].iloc[0]})")
        ax.tick_params(axis="x", rotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    return fig


def initiatives(table: pd.DataFrame, stadtteil: str = CITY) -> Any:
    """Active initiatives (line, left axis) and drop-outs per reporting period (bars, right axis)."""
    active = _select(table, "active_initiatives", "all", stadtteil).set_index("date")["value"].sort_index()
    dropped = _select(table, "initiative_dropouts", "all", stadtteil).set_index("date")["value"].sort_index()
    with _style():
        fig, axes = _figure()
        ax = axes[0, 0]
        right = ax.twinx()
        right.bar(dropped.index, dropped.to_numpy(), width=20, color=COLOURS[1], alpha=0.6, label="dropped out")
        ax.plot(active.index, active.to_numpy(), color=COLOURS[0], label="active")
        ax.set_ylabel("active initiatives [initiatives]")
        right.set_ylabel("drop-outs [initiatives per period]")
        right.grid(False)
        ax.set_zorder(right.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.set_title(f"Initiatives, {place_label(table, stadtteil)}")
        handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], loc="upper left")
    return fig


def differing_years(differences: pd.DataFrame, outcome: str = "lonely_adults", stadtteil: str = CITY) -> list[int]:
    """The years in which some scenario's extra cost or change of ``outcome`` is not zero.

    In the other years the scenarios are the same (before a strategy starts, or after everything has ended), and
    a cost-against-outcome point there would sit at (0, 0) and say nothing.
    """
    d = differences[(differences["group"] == "all") & (differences["stadtteil"].astype(str) == stadtteil)
                    & differences["indicator"].isin(["cost_eur", "grants_eur", outcome])]
    moved = d.groupby("year")["mean_difference"].apply(lambda v: bool((v.abs() > 0).any()))
    return [int(y) for y in moved.index[moved.to_numpy()]]


def cost_against_outcome(differences: pd.DataFrame, year: int | Sequence[int] | None = None,
                         outcome: str = "lonely_adults", stadtteil: str = CITY) -> Any:
    """Per scenario and year, the extra yearly cost (roles and grants) against the change of an outcome.

    Both are paired differences to the reference scenario, with 90 % intervals. Each scenario's years are
    joined by a line and labelled.

    Args:
        differences: :attr:`quartiersim.compare.Comparison.differences`.
        year: a year, several, or None for :func:`differing_years` (the last year if none differs).
        outcome: the indicator on the vertical axis.
        stadtteil: the place (default the total of the simulated Stadtteile).

    """
    if year is None:
        years = differing_years(differences, outcome, stadtteil) or [int(differences["year"].max())]
    else:
        years = [int(year)] if isinstance(year, int | np.integer) else [int(y) for y in year]
    d = differences[(differences["group"] == "all") & (differences["stadtteil"].astype(str) == stadtteil)
                    & differences["year"].isin(years)]
    if d.empty:
        raise ValueError(f"no differences for {stadtteil} in {years}; the comparison has the years "
                         f"{sorted(differences['year'].unique())}")
    with _style():
        fig, axes = _figure(6.5, 4.4)
        ax = axes[0, 0]
        for k, (name, rows) in enumerate(d.groupby("scenario", sort=False)):
            xs, ys, xerrs, yerrs, labels = [], [], [], [], []
            for y, at in rows.groupby("year"):
                cost = at[at["indicator"].isin(["cost_eur", "grants_eur"])]
                out = at[at["indicator"] == outcome]
                if cost.empty or out.empty:
                    continue
                xs.append(cost["mean_difference"].sum())
                ys.append(float(out["mean_difference"].iloc[0]))
                xerrs.append(float(np.sqrt(((cost["ci_high"] - cost["ci_low"]) / 2).pow(2).sum())))
                yerrs.append(float((out["ci_high"] - out["ci_low"]).iloc[0] / 2))
                labels.append(str(y))
            if not xs:
                continue
            colour = COLOURS[k % len(COLOURS)]
            ax.errorbar(xs, ys, xerr=np.nan_to_num(xerrs), yerr=np.nan_to_num(yerrs), fmt="o-", color=colour,
                        capsize=3, label=name, linewidth=0.8)
            for x, y, text in zip(xs, ys, labels, strict=True):
                ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=colour)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(0, color="black", linewidth=0.8)
        reference = d["reference"].iloc[0]
        span = str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
        ax.set_xlabel(f"extra cost in the year [EUR], against {reference}")
        ax.set_ylabel(f"change of {outcome} at the end of the year [{_unit(outcome)}]")
        ax.set_title(f"Cost against outcome, {place_label(differences, stadtteil)} ({span}; 90 % intervals)")
        ax.legend()
    return fig


def bezirk_tiles(values: pd.Series, title: str, unit: str, stadtteile: pd.DataFrame | None = None) -> Any:
    """A map without geography: one tile per Stadtteil, named, one column per Bezirk, coloured by value.

    ``values`` is indexed by Stadtteil name; Stadtteile without a value are grey (the legend says so).
    """
    from matplotlib.cm import ScalarMappable

    from quartiersim.data import load_stadtteile

    places = stadtteile if stadtteile is not None else load_stadtteile()
    bezirke = list(dict.fromkeys(places["bezirk"]))
    depth = int(places.groupby("bezirk").size().max())
    with _style():
        fig, axes = _figure(max(8.0, 0.95 * len(bezirke)), 0.42 * depth + 2.4)
        ax = axes[0, 0]
        norm, cmap = _tiles(ax, values, places)
        ax.set_title(title)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=unit, shrink=0.7)
    return fig


def _tiles(ax: Any, values: pd.Series, places: pd.DataFrame, cmap_name: str = "viridis",
           missing: str = "no value (not simulated or no data)") -> tuple[Any, Any]:
    """Draw the Bezirk tiles of ``places`` on ``ax``, coloured by ``values``; returns the norm and colour map."""
    import textwrap

    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch, Rectangle

    bezirke = list(dict.fromkeys(places["bezirk"]))
    depth = int(places.groupby("bezirk").size().max())
    v = values.reindex(places["stadtteil"]).to_numpy(dtype=float)
    finite = v[np.isfinite(v)]
    low, high = (finite.min(), finite.max()) if len(finite) else (0, 1)
    norm = Normalize(low, high if high > low else low + 1)
    cmap = colormaps[cmap_name]
    ax.grid(False)
    for col, bezirk in enumerate(bezirke):
        rows = places[places["bezirk"] == bezirk].reset_index(drop=True)
        ax.text(col + 0.45, depth + 0.4, bezirk, rotation=60, ha="left", va="bottom", fontsize=7)
        for r, (_, place) in enumerate(rows.iterrows()):
            value = values.get(place["stadtteil"], np.nan)
            colour = cmap(norm(value)) if np.isfinite(value) else "#dddddd"
            ax.add_patch(Rectangle((col, depth - r - 1), 0.94, 0.92, color=colour))
            # the name in two short lines (numbers alone would need a key to be read)
            name = "\n".join(textwrap.wrap(str(place["stadtteil"]), 14, break_on_hyphens=True)[:2])
            ax.text(col + 0.47, depth - r - 0.54, name, ha="center", va="center", fontsize=4.6,
                    linespacing=0.95, color="white" if np.isfinite(value) and norm(value) < 0.6 else "black")
    ax.set_xlim(-0.2, len(bezirke) + 0.2)
    ax.set_ylim(-0.2, depth + 3.5)
    ax.set_axis_off()
    if not np.isfinite(v).all():
        ax.legend(handles=[Patch(color="#dddddd", label=missing)], loc="lower right", fontsize=7)
    return norm, cmap


def choropleth(values: pd.Series, boundaries: str | Path, title: str, unit: str, key: str | None = None) -> Any:
    """A map of Stadtteil boundaries (GeoJSON or GeoPackage) coloured by value; needs geopandas.

    ``key`` is the boundaries' column with the Stadtteil's name or number (guessed when omitted).
    """
    try:
        import geopandas
    except ImportError:
        raise ImportError("maps from boundaries need geopandas: pip install -e '.[maps]'") from None
    shapes = geopandas.read_file(boundaries)
    candidates = [key] if key else [c for c in shapes.columns if c != "geometry"]
    index = {str(k).casefold(): v for k, v in values.items()}
    column = None
    for c in candidates:
        if shapes[c].astype(str).str.casefold().isin(index).sum() > 0:
            column = c
            break
    if column is None:
        raise ValueError(f"{boundaries}: no column matches the Stadtteile's names (give key=)")
    shapes["value"] = shapes[column].astype(str).str.casefold().map(index)
    with _style():
        fig, axes = _figure(7.0, 7.0)
        ax = axes[0, 0]
        shapes.plot(column="value", ax=ax, legend=True, legend_kwds={"label": unit, "shrink": 0.6},
                    missing_kwds={"color": "#dddddd"})
        ax.set_axis_off()
        ax.set_title(title)
    return fig


OBJECTIVE_LABELS = {"lonely_adults_fewer": "lonely adults fewer [persons]",
                    "active_initiatives_more": "active initiatives more [initiatives]",
                    "extra_cost_eur": "extra cost [million EUR]",
                    "equity_share": "share of the effect in the top quartile of need"}


def _objective_label(name: str, robustness: str, quantile: float) -> str:
    """An axis label: the objective with its unit and, on a second line, the statistic over the draws."""
    base = OBJECTIVE_LABELS.get(name, name)
    if robustness == "mean":
        return f"{base}\nmean over the draws"
    if robustness == "quantile":
        q = quantile if name != "extra_cost_eur" else 1 - quantile
        return f"{base}\n{round(100 * q)} % quantile over the draws"
    return f"{base.split(' [')[0]}\nregret: worst draw's shortfall"


def pareto_figure(evaluations: pd.DataFrame, front: pd.DataFrame, named: pd.DataFrame, use: Sequence[str],
                  robustness: str, quantile: float, title: str) -> Any:
    """A plan search's result: cost against each effect, every plan grey, the front joined, named strategies marked.

    Args:
        evaluations: every evaluated plan (``evaluations.csv`` of :func:`quartiersim.optimise.optimise`).
        front: the front plans (``front.csv``).
        named: the named strategies evaluated the same way (``named.csv``).
        use: the objectives the search used.
        robustness: ``mean``, ``quantile`` or ``regret``: which statistic the axes show.
        quantile: the quantile of ``quantile`` robustness.
        title: the plan space's name.

    """
    cost = "extra_cost_eur"
    effects = [n for n in use if n != cost] or [n for n in use]
    markers = ["s", "^", "D", "v", "P", "X", "*"]
    with _style():
        fig, axes = _figure(4.2 * len(effects), 4.0, cols=len(effects))
        for ax, effect in zip(axes[0], effects, strict=True):
            xcol, ycol = stat_label(cost, robustness, quantile), stat_label(effect, robustness, quantile)
            # the cost in millions: EUR in the millions print as 1e6 offsets that hide the axis' meaning
            scale = 1e6
            done = evaluations[evaluations[ycol].notna()]
            ax.scatter(done[xcol] / scale, done[ycol], s=12, color="#bbbbbb", label=f"plans evaluated ({len(done)})")
            f = front.sort_values(xcol)
            ax.plot(f[xcol] / scale, f[ycol], "o", color=COLOURS[0], markersize=5, label=f"Pareto front ({len(f)})")
            for k, (_, row) in enumerate(named.iterrows()):
                ax.scatter([row[xcol] / scale], [row[ycol]], marker=markers[k % len(markers)], s=60,
                           color=COLOURS[(k + 1) % len(COLOURS)], edgecolor="black", linewidth=0.5, zorder=3,
                           label=str(row["strategy"]))
            ax.set_xlabel(_objective_label(cost, robustness, quantile))
            ax.set_ylabel(_objective_label(effect, robustness, quantile))
        axes[0][0].legend(fontsize=7, loc="best")
        fig.suptitle(f"{title}: the plans evaluated, the front on {len(use)} objectives, the named strategies",
                     fontsize=10)
    return fig


def plan_figure(areas: pd.DataFrame, cost: pd.DataFrame, stadtteile: pd.DataFrame, title: str) -> Any:
    """A chosen plan: its project areas on the Bezirk tiles (by the year they start) and its yearly cost.

    Args:
        areas: the plan's project areas (:attr:`quartiersim.strategies.Plan.areas`).
        cost: per year the plan's roles and grants and the reference's cost (``plan_roles_eur``,
            ``plan_grants_eur``, ``reference_eur``; means over runs).
        stadtteile: the simulated Stadtteile (``stadtteil``, ``bezirk``), drawn as tiles.
        title: the plan's name.

    """
    from matplotlib.cm import ScalarMappable

    starts = pd.Series({str(r["stadtteil"]): float(pd.Timestamp(r["start"]).year) for _, r in areas.iterrows()},
                       dtype=float)
    bezirke = stadtteile["bezirk"].nunique()
    depth = int(stadtteile.groupby("bezirk").size().max())
    with _style():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(max(4.0, 0.95 * bezirke + 2.5) + 5.0, max(3.6, 0.3 * depth + 2.0)),
                     layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[max(2.0, 0.95 * bezirke + 1.5), 5.0])
        norm, cmap = _tiles(left, starts, stadtteile, "plasma", missing="no project area")
        left.set_title(f"{len(areas)} project areas", fontsize=9)
        if len(areas):
            bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=left, label="year the team starts",
                               shrink=0.7)
            bar.set_ticks(sorted({int(y) for y in starts}))
        fig.suptitle(title, fontsize=10)
        years = cost["year"].to_numpy()
        right.bar(years, cost["plan_roles_eur"] / 1e6, color=COLOURS[0], label="roles (posts)")
        right.bar(years, cost["plan_grants_eur"] / 1e6, bottom=cost["plan_roles_eur"] / 1e6, color=COLOURS[2],
                  label="grants to initiatives")
        right.plot(years, cost["reference_eur"] / 1e6, "k--", label="reference")
        right.set_xlabel("year")
        right.set_ylabel("cost in the year [million EUR], mean over runs")
        right.set_title("yearly cost")
        right.legend(fontsize=7)
    return fig


def prim_figure(outcomes: pd.DataFrame, outcome: str, threshold: float, below: bool,
                peeling: pd.DataFrame | None, box: pd.DataFrame | None, chosen: int | None, plan: str) -> Any:
    """Scenario discovery: PRIM's peeling trajectory (coverage against density) and the chosen box's limits.

    Without a box (no draw fails, or every draw does) the figure shows the outcome per draw and says so.
    """
    with _style():
        fig, axes = _figure(10.0, 4.0, cols=2)
        left, right = axes[0]
        word = "below" if below else "above"
        fails = int(outcomes["fails"].sum())
        if peeling is None or box is None:
            left.hist(outcomes[outcome], bins=min(20, max(5, len(outcomes) // 3)), color=COLOURS[0])
            left.axvline(threshold, color="black", linestyle="--")
            left.set_xlabel(f"{outcome} per draw")
            left.set_ylabel("draws")
            right.set_axis_off()
            right.text(0.5, 0.5, f"{fails} of {len(outcomes)} draws fail ({word} {threshold:g}):\nno box to find",
                       ha="center", va="center", transform=right.transAxes)
        else:
            points = left.scatter(peeling["coverage"], peeling["density"], c=peeling["res_dim"], cmap="viridis",
                                  s=18)
            c = peeling[peeling["chosen"]].iloc[0]
            left.scatter([c["coverage"]], [c["density"]], s=120, facecolor="none", edgecolor="red",
                         label=f"chosen box {chosen}")
            left.set_xlabel("coverage (share of the failing draws inside the box)")
            left.set_ylabel("density (share of the box's draws that fail)")
            left.legend(fontsize=7)
            fig.colorbar(points, ax=left, label="restricted parameters")
            shown = box[box["restricted"]] if box["restricted"].any() else box
            y = np.arange(len(shown))
            span = (shown["full_high"] - shown["full_low"]).replace(0, 1).to_numpy(dtype=float)
            lo = ((shown["low"] - shown["full_low"]) / span).to_numpy(dtype=float)
            hi = ((shown["high"] - shown["full_low"]) / span).to_numpy(dtype=float)
            right.barh(y, hi - lo, left=lo, color=COLOURS[1], height=0.5)
            for k, (_, r) in enumerate(shown.iterrows()):
                right.text(1.02, k, f"{r['low']:.3g} .. {r['high']:.3g}", va="center", fontsize=7)
            right.set_yticks(y, shown["parameter"])
            right.set_xlim(0, 1.35)
            right.set_xlabel("box within each parameter's drawn range\n(0 = lowest draw, 1 = highest)")
            right.set_title(f"box {chosen}: coverage {c['coverage']:.0%}, density {c['density']:.0%}")
        fig.suptitle(f"{plan}: where {outcome} falls {word} {threshold:g} ({fails} of {len(outcomes)} draws)",
                     fontsize=10)
    return fig


def sweep_outcomes(summary: pd.DataFrame, factors: Sequence[str]) -> Any:
    """Each outcome's mean over seeds per design point, with the 5th-95th percentile range (``summarise``)."""
    outcomes = list(dict.fromkeys(summary["outcome"]))
    with _style():
        fig, axes = _figure(7.0, 2.6 * len(outcomes), rows=len(outcomes))
        for ax, name in zip(axes[:, 0], outcomes, strict=True):
            rows = summary[summary["outcome"] == name].sort_values("point")
            # an outcome equal in every seed has p05 a rounding error above the mean: clip the bars at 0
            low = np.clip((rows["mean"] - rows["p05"]).to_numpy(dtype=float), 0.0, None)
            high = np.clip((rows["p95"] - rows["mean"]).to_numpy(dtype=float), 0.0, None)
            ax.errorbar(rows["point"], rows["mean"], yerr=[low, high], fmt="o", markersize=3, capsize=2,
                        color=COLOURS[0])
            ax.set_title(name)
            ax.set_ylabel("mean over seeds")
        axes[-1, 0].set_xlabel("design point (factors: " + ", ".join(factors) + "; see design.csv)")
    return fig


def _dated(yearly_table: pd.DataFrame) -> pd.DataFrame:
    """A yearly table with a date (the year's last day) for the time-series figures."""
    return yearly_table.assign(date=pd.to_datetime(yearly_table["year"].astype(int).astype(str) + "-12-31"))


def write_figures(figures: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Write each figure as ``out/NAME.png``; returns the paths."""
    from quartiersim.run import write_atomic

    written = []
    for name, fig in figures.items():
        path = Path(out) / f"{name}.png"
        write_atomic(path, lambda p, fig=fig: fig.savefig(p, format="png", dpi=120))
        written.append(path)
    return written


def standard_figures(directory: str | Path, out: str | Path, year: int | None = None) -> list[Path]:
    """Write the standard figures of a run, a comparison or a sweep directory; returns their paths.

    An optimise store's figures: :func:`quartiersim.optimise.store_figures` with :func:`write_figures`.

    Args:
        directory: a run, comparison or sweep directory.
        out: the folder for the PNG files.
        year: a comparison's year for the cost-against-outcome figures (default: the years the scenarios differ).

    """
    from quartiersim.errors import InputError

    directory, out = Path(directory), Path(out)
    figures: dict[str, Any] = {}

    def read(path: Path) -> pd.DataFrame:
        try:
            return pd.read_parquet(path)
        except FileNotFoundError:
            raise InputError(path, "(file)", "a finished output: this file is missing (the command that writes it "
                             "did not finish; run it again to resume)") from None
        except (OSError, ValueError) as exc:  # damaged or truncated (pyarrow's ArrowInvalid is a ValueError)
            raise InputError(path, "(file)", f"a Parquet file as quartiersim writes it ({type(exc).__name__}); it "
                             "is damaged: run the command that wrote it again") from None

    if (directory / "results.parquet").is_file():
        table = read(directory / "results.parquet")
        for indicator in ("lonely_share", "participation_share", "active_initiatives"):
            figures[f"{indicator}_over_time"] = indicator_over_time({directory.name: table}, indicator)
        figures["loneliness_by_group"] = loneliness_by_group(table)
        figures["initiatives"] = initiatives(table)
        places = table["stadtteil"].astype(str).unique()
        if len(places) > 2:
            figures["lonely_share_by_stadtteil"] = stadtteil_ranking(table, "lonely_share")
            last = table[(table["indicator"].astype(str) == "lonely_share") & (table["group"].astype(str) == "all")
                         & (table["date"] == table["date"].max()) & (table["stadtteil"].astype(str) != CITY)]
            figures["lonely_share_map"] = bezirk_tiles(last.set_index(last["stadtteil"].astype(str))["value"],
                                                       f"{LABELS['lonely_share']}, {last['date'].max().date()}",
                                                       UNITS["lonely_share"])
    elif (directory / "compare.json").is_file():
        differences = read(directory / "differences.parquet")
        yearly_all = _dated(read(directory / "yearly.parquet"))
        runs = {name: [g for _, g in rows.groupby("seed")] for name, rows in yearly_all.groupby("scenario",
                                                                                                 sort=False)}
        for indicator in ("lonely_adults", "active_initiatives", "participation_share"):
            figures[f"{indicator}_differences"] = scenario_differences(differences, indicator)
            figures[f"{indicator}_over_time"] = indicator_over_time(runs, indicator)
        figures["cost_against_lonely_adults"] = cost_against_outcome(differences, year, "lonely_adults")
        figures["cost_against_initiatives"] = cost_against_outcome(differences, year, "active_initiatives")
    elif (directory / "sweep.json").is_file():
        from quartiersim.sweeps import open_store, summarise

        store = open_store(directory)
        summary = summarise(directory)
        figures["outcomes"] = sweep_outcomes(summary, store.factors)
        if store.manifest["method"] in ("sobol", "morris"):
            from quartiersim.sweeps import sensitivity

            sensitivity(directory, plot=True)
    else:
        raise InputError(directory, "(directory)", "a run (results.parquet), a comparison (compare.json), a sweep "
                         "(sweep.json) or an optimise (optimise.json) directory")
    written = write_figures(figures, out)
    if (directory / "sensitivity.png").is_file() and (directory / "sweep.json").is_file():
        import shutil

        shutil.copyfile(directory / "sensitivity.png", out / "sensitivity.png")
        written.append(out / "sensitivity.png")
    return written
