"""Figures: every type from a small run, comparison or sweep, with units on the axes and German names intact."""

from __future__ import annotations

import pandas as pd
import pytest

from quartiersim import plots
from quartiersim.cli import main
from quartiersim.compare import compare
from quartiersim.run import simulate

SMALL = {"scale": 0.1, "end": "2028-12-31", "spinup_weeks": 13, "stadtteile": [211, 212, 213], "bezirke": None}


@pytest.fixture(scope="module")
def runs():
    return {name: [simulate(name, seed=s, **SMALL) for s in (0, 1)]
            for name in ("verstetigung_funding_ends", "verstetigung_permanent_posts")}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "cmp"
    return compare(["verstetigung_funding_ends", "verstetigung_permanent_posts"], seeds=2, out=out, **SMALL), out


def _check(fig, tmp_path, name, *texts):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 5_000
    labels = []
    for ax in fig.axes:
        labels += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        labels += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        legend = ax.get_legend()
        if legend:
            labels += [t.get_text() for t in legend.get_texts()]
    joined = " | ".join(labels)
    for text in texts:
        assert text in joined, (text, joined)
    return joined


def test_indicator_over_time_with_bands(runs, tmp_path):
    fig = plots.indicator_over_time(runs, "active_initiatives", stadtteil="Neckarvorstadt")
    _check(fig, tmp_path, "over_time", "[initiatives]", "verstetigung_permanent_posts (2 runs)")
    assert len(fig.axes[0].collections) == 2  # one 90 % band per scenario


def test_ranking_groups_by_bezirk_and_keeps_german_names(runs, tmp_path):
    table = runs["verstetigung_funding_ends"][0]
    joined = _check(plots.stadtteil_ranking(table, "lonely_share"), tmp_path, "ranking", "[share of adults]",
                    "Pragstraße (Bad Cannstatt)", "Neckarvorstadt (Bad Cannstatt)")
    assert "Stuttgart (" not in joined


def test_group_and_initiative_figures(runs, tmp_path):
    table = runs["verstetigung_funding_ends"][0]
    _check(plots.loneliness_by_group(table), tmp_path, "groups", "% of the group's adults", "very poor health")
    _check(plots.initiatives(table, "Neckarvorstadt"), tmp_path, "initiatives", "[initiatives]",
           "[initiatives per period]")


def test_comparison_figures(comparison, tmp_path):
    result, _ = comparison
    _check(plots.scenario_differences(result.differences, "active_initiatives"), tmp_path, "differences",
           "difference [initiatives]", "minus verstetigung_funding_ends")
    _check(plots.cost_against_outcome(result.differences, 2028, "lonely_adults"), tmp_path, "cost",
           "extra cost in the year [EUR]", "[persons]", "verstetigung_permanent_posts", "(2028; 90 % intervals)")


def test_bezirk_tiles_map_without_boundaries(tmp_path):
    values = pd.Series({"Neckarvorstadt": 0.05, "Pragstraße": 0.02, "Hallschlag": 0.04})
    fig = plots.bezirk_tiles(values, "lonely share", "share of adults")
    joined = _check(fig, tmp_path, "tiles", "lonely share", "share of adults", "no value (not simulated or no data)")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"Bad Cannstatt", "Zuffenhausen", "Stuttgart-Mitte" if "Stuttgart-Mitte" in texts else "Mitte"} <= set(texts)
    names = [t.replace("\n", " ") for t in texts]
    assert {"Neckarvorstadt", "Pragstraße", "Hallschlag"} <= set(names)  # each tile is named
    assert len(texts) == 152 + 23  # a name per Stadtteil, a title per Bezirk
    assert "no value" in joined
    # every Stadtteil with a value: no grey tiles, no legend for them
    from quartiersim.data import load_stadtteile

    full = pd.Series(0.03, index=load_stadtteile()["stadtteil"])
    assert plots.bezirk_tiles(full, "lonely share", "share of adults").axes[0].get_legend() is None


def test_sweep_figure_with_an_outcome_equal_in_every_seed(tmp_path):
    """The 5th percentile of equal values can lie a rounding error above their mean: no negative error bars."""
    summary = pd.DataFrame({"point": [0, 1], "outcome": ["role_hours_2024"] * 2, "mean": [1000.0, 1000.0],
                            "p05": [1000.0 + 6e-11, 1000.0], "p95": [1000.0 - 6e-11, 1000.0]})
    fig = plots.sweep_outcomes(summary, ["visit_base"])
    _check(fig, tmp_path, "sweep", "role_hours_2024")


def test_plot_command_on_a_sweep_with_a_constant_outcome(tmp_path):
    """The roles' hours do not depend on chance: the same in every seed, and `quartiersim plot` draws them."""
    experiment = tmp_path / "constant.toml"
    experiment.write_text('''
name = "constant"
scenario = "neckarvorstadt"
seeds = 3
[set]
scale = 0.05
end = 2024-12-31
spinup_weeks = 4
[levers]
visit_base = [0.1, 0.2]
[[outcomes]]
indicator = "role_hours"
year = 2024
[[outcomes]]
indicator = "lonely_share"
year = 2024
''')
    store = tmp_path / "store"
    assert main(["sweep", str(experiment), "--out", str(store), "--no-progress"]) == 0
    outcomes = pd.read_csv(store / "outcomes.csv")
    assert outcomes.groupby("point")["role_hours_2024"].nunique().eq(1).all()
    assert main(["plot", str(store), "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "outcomes.png").stat().st_size > 5_000


def test_cost_against_outcome_uses_the_years_the_scenarios_differ(comparison, tmp_path):
    """The two strategies are the same scenario until the pilot ends in 2027: only 2028 can differ."""
    result, _ = comparison
    d = result.differences
    assert plots.differing_years(d, "lonely_adults") == [2028]
    fig = plots.cost_against_outcome(d, outcome="lonely_adults")
    points = [t.get_text() for t in fig.axes[0].texts]
    assert points == ["2028"]
    assert "(2028; 90 % intervals)" in fig.axes[0].get_title()
    early = plots.cost_against_outcome(d, [2026, 2027], "lonely_adults")
    assert [t.get_text() for t in early.axes[0].texts] == ["2026", "2027"]
    assert all(t.xy == (0.0, 0.0) for t in early.axes[0].texts)  # the same scenario then: no extra cost, no change
    with pytest.raises(ValueError, match="the comparison has the years"):
        plots.cost_against_outcome(d, 2040)


def test_one_stadtteil_is_named_not_stuttgart(tmp_path):
    table = simulate("neckarvorstadt", seed=0, scale=0.05, end="2024-12-31", spinup_weeks=4)
    assert plots.place_label(table) == "Neckarvorstadt"
    for fig in (plots.indicator_over_time({"nv": table}, "lonely_share"), plots.loneliness_by_group(table),
                plots.initiatives(table)):
        assert "Neckarvorstadt" in fig.axes[0].get_title() and "Stuttgart" not in fig.axes[0].get_title()


def test_plot_command_for_a_run_a_comparison_and_bad_input(comparison, tmp_path, capsys):
    _, cmp_dir = comparison
    run_dir = tmp_path / "run"
    assert main(["run", "verstetigung_funding_ends", "--out", str(run_dir), "--no-progress", "--scale", "0.1",
                 "--set", "end=2028-12-31", "--set", "spinup_weeks=13"]) == 0
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "fig_run")]) == 0
    names = {p.name for p in (tmp_path / "fig_run").iterdir()}
    assert {"lonely_share_over_time.png", "loneliness_by_group.png", "initiatives.png", "lonely_share_map.png",
            "lonely_share_by_stadtteil.png"} <= names
    assert main(["plot", str(cmp_dir), "--out", str(tmp_path / "fig_cmp")]) == 0
    assert {"lonely_adults_differences.png", "cost_against_lonely_adults.png"} <= {
        p.name for p in (tmp_path / "fig_cmp").iterdir()}
    assert main(["plot", str(cmp_dir), "--out", str(tmp_path / "fig_2040"), "--year", "2040"]) == 2
    assert "--year" in capsys.readouterr().err
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "nothing")]) == 2
    assert "a run (results.parquet)" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def test_choropleth_from_boundaries(tmp_path):
    """A GeoJSON of three made-up squares named after Stadtteile (shapes, not the city's real boundaries)."""
    pytest.importorskip("geopandas")
    import json

    def square(x):
        return {"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]}

    features = [{"type": "Feature", "properties": {"STADTTEIL": name}, "geometry": square(k)}
                for k, name in enumerate(["Neckarvorstadt", "Pragstraße", "Hallschlag"])]
    path = tmp_path / "boundaries.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    values = pd.Series({"Neckarvorstadt": 0.05, "Pragstraße": 0.02})
    fig = plots.choropleth(values, path, "lonely share", "share of adults")
    _check(fig, tmp_path, "choropleth", "lonely share")
    with pytest.raises(ValueError, match="no column matches"):
        plots.choropleth(pd.Series({"Atlantis": 1.0}), path, "x", "y")


def test_sensitivity_titles_stay_inside_the_figure():
    """Long outcome names without spaces (the screening experiment's) are wrapped, not cut at the edge."""
    from quartiersim.sweeps import sensitivity_figure

    names = ["lonely_share_2030_Neckarvorstadt", "participation_share_2030_Neckarvorstadt",
             "active_initiatives_2030_Neckarvorstadt"]
    params = ["visit_base", "initiative_founding_rate", "initiative_dropout_base", "lonely_contagion"]
    table = pd.DataFrame([{"lever_set": 0, "outcome": o, "parameter": p, "mu_star": 0.01 * i, "mu_star_conf": 0.001,
                           "sigma": 0.01, "mu": 0.0} for o in names for i, p in enumerate(params)])
    fig = sensitivity_figure(table, "morris", [])
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays the figure out as savefig would
    renderer = canvas.get_renderer()
    width = fig.bbox.width
    for ax in fig.axes:
        box = ax.title.get_window_extent(renderer)
        assert 0 <= box.x0 and box.x1 <= width, (ax.title.get_text(), box, width)
    assert fig.axes[2].title.get_text().replace("\n", "") == names[2]
