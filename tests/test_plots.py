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
           "extra cost in 2028 [EUR]", "[persons]", "verstetigung_permanent_posts")


def test_bezirk_tiles_map_without_boundaries(tmp_path):
    values = pd.Series({"Neckarvorstadt": 0.05, "Pragstraße": 0.02, "Hallschlag": 0.04})
    fig = plots.bezirk_tiles(values, "lonely share", "share of adults")
    _check(fig, tmp_path, "tiles", "lonely share", "share of adults")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"Bad Cannstatt", "Zuffenhausen", "Stuttgart-Mitte" if "Stuttgart-Mitte" in texts else "Mitte"} <= set(texts)
    assert len([t for t in texts if t.isdigit()]) == 152  # every Stadtteil has its tile


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
