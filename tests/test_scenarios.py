"""Every scenario file runs from the command line and from ``quartiersim.simulate`` with the same result."""

from pathlib import Path

import numpy as np
import pytest

import quartiersim
from quartiersim.cli import main
from quartiersim.outputs import CITY
from quartiersim.run import read_results
from quartiersim.spec import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))
REQUIRED = {"baseline", "pilot_2024_2027", "neckarvorstadt", "rollout_needs_based", "rollout_equal",
            "rollout_expression_of_interest"} | {f"verstetigung_{s}" for s in (
                "funding_ends", "meeting_places", "permanent_posts", "welfare_handover", "self_organisation")}


def test_the_issue_lists_scenarios_exist_with_descriptions(capsys):
    names = {p.stem for p in SCENARIOS}
    assert REQUIRED <= names
    assert main(["scenarios"]) == 0
    listed = capsys.readouterr().out
    for path in SCENARIOS:
        scenario = load_scenario(path)
        assert scenario.description and scenario.name == path.stem
        assert path.stem in listed
        assert path.read_text(encoding="utf-8").lstrip().startswith("#")  # commented for planners


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_from_cli_and_simulate(path, tmp_path):
    scale = 0.01 if load_scenario(path).bezirke is None and load_scenario(path).stadtteile == "all" else 0.05
    out = tmp_path / "run"
    assert main(["run", str(path), "--scale", str(scale), "--seed", "5", "--out", str(out), "--no-progress"]) == 0
    written, meta = read_results(out)
    table = quartiersim.simulate(path, seed=5, scale=scale)
    np.testing.assert_array_equal(written["value"].to_numpy(), table["value"].to_numpy())
    assert meta["scenario"]["name"] == path.stem
    city = table[(table["stadtteil"] == CITY) & (table["group"] == "all")]
    cost = city[city["indicator"] == "cost_eur"]["value"].sum()
    lonely = city[city["indicator"] == "lonely_share"]["value"]
    assert lonely.between(0, 0.2).all()
    if path.stem == "baseline":
        assert cost == 0
    else:
        assert cost > 0
    if path.stem.startswith("rollout"):
        assert meta["plan"]["areas"], "a roll-out allocates project areas"
        grants = city[city["indicator"] == "grants_eur"]["value"].sum()
        assert grants > 0
