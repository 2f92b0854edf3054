"""Parameter uncertainty in compare and sweep: each seed's parameter set drawn from a calibration's posterior."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from quartiersim.cli import main
from quartiersim.compare import compare, prob_better, yearly
from quartiersim.errors import InputError
from quartiersim.outputs import CITY
from quartiersim.posterior import bundled_posterior_path, load_posterior, resolve_posterior
from quartiersim.run import simulate
from quartiersim.spec import Scenario, build_scenario
from quartiersim.sweeps import run_data, sweep

D = dt.date
BASE = {"stadtteile": [211], "scale": 0.1, "start": D(2024, 1, 1), "end": D(2024, 12, 31), "spinup_weeks": 10,
        "report": "quarterly"}
ROLE = {"name": "GWA", "kind": "gemeinwesenarbeit", "fte": 1.0, "stadtteile": [211], "start": D(2024, 1, 1),
        "end": D(2024, 12, 31), "quartierstreff": True}
# three particles far apart, one of them unlikely
PARTICLES = pd.DataFrame({"lonely_onset_base": [2e-5, 8e-5, 1.5e-4], "peer_influence": [0.1, 0.9, 0.5],
                          "weight": [0.45, 0.45, 0.1], "generation": [5, 5, 5]})


@pytest.fixture
def posterior_csv(tmp_path):
    path = tmp_path / "calib" / "posterior.csv"
    path.parent.mkdir()
    PARTICLES.to_csv(path, index=False)
    return path


def test_draws_are_a_pure_function_of_seed_and_content(posterior_csv, tmp_path):
    post = load_posterior(posterior_csv.parent)  # a calibration's directory will do
    assert post.parameters == ["lonely_onset_base", "peer_influence"]
    assert post.draws([0, 1, 2]) == load_posterior(posterior_csv).draws([2, 1, 0])
    # every draw is one particle (parameters drawn together, not each on its own)
    rows = {tuple(r) for r in PARTICLES[post.parameters].itertuples(index=False)}
    draws = post.draws(list(range(400)))
    assert all((d["lonely_onset_base"], d["peer_influence"]) in rows for d in draws.values())
    # by weight: 400 draws of a particle with weight 0.1 give 40 expected; [15, 70] fails far below 1 in 1000
    assert 15 <= sum(d["peer_influence"] == 0.5 for d in draws.values()) <= 70
    # another content, other draws: the digest keys the generator
    other = tmp_path / "other.csv"
    PARTICLES.assign(weight=[0.1, 0.45, 0.45]).to_csv(other, index=False)
    assert load_posterior(other).digest != post.digest


@pytest.mark.parametrize(("change", "field"), [
    (lambda f: f.rename(columns={"peer_influence": "no_such_parameter"}), "no_such_parameter"),
    (lambda f: f.assign(weight=[-1.0, 0.5, 0.5]), "weight"),
    (lambda f: f.drop(columns="weight"), "weight"),
    (lambda f: f.assign(peer_influence=[0.1, 1.5, 0.5]), "peer_influence"),
    (lambda f: f.assign(peer_influence=["a", "b", "c"]), "weight"),
])
def test_a_bad_posterior_names_file_and_field(tmp_path, change, field):
    path = tmp_path / "posterior.csv"
    change(PARTICLES.copy()).to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_posterior(path)
    assert str(path) in str(info.value) and field in str(info.value)
    with pytest.raises(InputError, match="posterior.csv"):
        load_posterior(tmp_path / "missing")


def test_the_bundled_posterior_is_the_default():
    path = bundled_posterior_path()
    assert path is not None and path.is_file()
    assert resolve_posterior(None).digest == resolve_posterior(True).digest == load_posterior(path).digest
    assert resolve_posterior(False) is None


def test_compare_draws_one_parameter_set_per_seed_for_every_scenario(posterior_csv, tmp_path):
    a = build_scenario(dict(BASE, name="a"))
    b = build_scenario(dict(BASE, name="b", roles=[ROLE]))
    own = build_scenario(dict(BASE, name="own", roles=[ROLE], parameters={"peer_influence": 0.3}))
    out = tmp_path / "cmp"
    result = compare([a, b, own], seeds=[0, 1], out=out, posterior=posterior_csv)
    post = load_posterior(posterior_csv)
    manifest = json.loads((out / "compare.json").read_text())
    assert manifest["posterior"]["digest"] == post.digest == result.posterior["digest"]
    # a scenario that sets a parameter itself keeps it; the others take every drawn one
    assert manifest["posterior"]["drawn"] == {"a": ["lonely_onset_base", "peer_influence"],
                                              "b": ["lonely_onset_base", "peer_influence"],
                                              "own": ["lonely_onset_base"]}
    for seed in (0, 1):
        draw = post.draw(seed)
        for spec, params in ((b, draw), (own, {"lonely_onset_base": draw["lonely_onset_base"],
                                               "peer_influence": 0.3})):
            direct = yearly(simulate(Scenario(**dict(spec.as_data(), parameters=params)), seed=seed))
            stored = pd.read_parquet(out / "runs" / spec.name / f"seed_{seed}.parquet")
            pd.testing.assert_frame_equal(stored.reset_index(drop=True), direct.reset_index(drop=True),
                                          check_exact=True)
    # fixed parameters: the runs are the scenarios as written
    fixed = compare([a, b], seeds=[0, 1], posterior=False)
    assert fixed.posterior is None
    plain = yearly(simulate(b, seed=0))
    mine = fixed.yearly[(fixed.yearly["scenario"] == "b") & (fixed.yearly["seed"] == 0)]
    mine = mine.drop(columns=["scenario", "seed"])
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), plain.reset_index(drop=True), check_exact=True)
    # a changed posterior is another run: stored runs drawn from the old one are not reused
    PARTICLES.assign(weight=[0.1, 0.1, 0.8]).to_csv(posterior_csv, index=False)
    with pytest.warns(UserWarning, match="run again"):
        compare([a, b, own], seeds=[0, 1], out=out, posterior=posterior_csv)


def test_prob_better_follows_each_indicator_direction():
    d = np.array([[-1.0, -2.0, 1.0, 0.0], [1.0, 1.0, 1.0, -1.0], [1.0, 2.0, np.nan, np.nan], [3.0, 1.0, 1.0, 1.0]])
    p = prob_better(np.array(["lonely_share", "participation_share", "active_initiatives", "role_hours"]), d)
    assert p[0] == pytest.approx((1 + 1 + 0 + 0.5) / 4)  # fewer lonely adults are better; a tie counts half
    assert p[1] == pytest.approx(3 / 4)
    assert p[2] == pytest.approx(1.0)  # seeds without a value are left out
    assert np.isnan(p[3])  # staff hours have no better direction


def test_cli_compare_with_posterior_and_with_fixed_parameters(posterior_csv, tmp_path, capsys):
    header = ('start = 2024-01-01\nend = 2024-12-31\nstadtteile = [211]\nscale = 0.1\nspinup_weeks = 10\n'
              'report = "quarterly"\n')
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('name = "a"\n' + header, encoding="utf-8")
    b.write_text('name = "b"\n' + header + '[[roles]]\nname = "GWA"\nkind = "gemeinwesenarbeit"\nfte = 1.0\n'
                 'stadtteile = [211]\nstart = 2024-01-01\nend = 2024-12-31\n', encoding="utf-8")
    drawn = ["compare", str(a), str(b), "--seeds", "3", "--no-progress", "--posterior", str(posterior_csv),
             "--out", str(tmp_path / "drawn")]
    assert main(drawn) == 0
    printed = capsys.readouterr().out
    assert "drawn from" in printed and "does better" in " ".join(printed.split())
    table = pd.read_csv(tmp_path / "drawn" / "differences.csv")
    lonely = table[(table["indicator"] == "lonely_share") & (table["stadtteil"] == CITY)]
    assert lonely["prob_better"].between(0, 1).all()
    assert main(["compare", str(a), str(b), "--seeds", "3", "--no-progress", "--fixed-parameters",
                 "--out", str(tmp_path / "fixed")]) == 0
    assert "fixed" in capsys.readouterr().out
    assert json.loads((tmp_path / "fixed" / "compare.json").read_text())["posterior"] is None
    # both flags, or a posterior that is not one: status 2, a message naming the argument or file, nothing written
    assert main(["compare", str(a), str(b), "--posterior", str(posterior_csv), "--fixed-parameters",
                 "--out", str(tmp_path / "both")]) == 2
    assert "--fixed-parameters" in capsys.readouterr().err and not (tmp_path / "both").exists()
    assert main(["compare", str(a), str(b), "--posterior", str(a), "--out", str(tmp_path / "bad")]) == 2
    assert str(a) in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_sweep_draws_per_seed_and_resumes_only_with_the_same_posterior(posterior_csv, tmp_path):
    exp = tmp_path / "e.toml"
    exp.write_text('name = "e"\nscenario = "neckarvorstadt"\nseeds = 2\n[set]\nstadtteile = [211]\nscale = 0.1\n'
                   'spinup_weeks = 10\nend = 2024-12-31\n[uncertainties]\npeer_influence = [0.2, 0.4]\n'
                   '[design]\nmethod = "full_factorial"\nlevels = 2\n[[outcomes]]\nindicator = "lonely_share"\n'
                   'year = 2024\n', encoding="utf-8")
    store = tmp_path / "store"
    result = sweep(exp, store, posterior=posterior_csv)
    assert result.complete and result.posterior["digest"] == load_posterior(posterior_csv).digest
    manifest = json.loads((store / "sweep.json").read_text())
    assert manifest["posterior"]["source"] == str(posterior_csv)
    from quartiersim.experiments import load_experiment

    loaded, post = load_experiment(exp), load_posterior(posterior_csv)
    data = run_data(loaded, 1, 1, post)
    # the uncertainty keeps its design value; the other posterior parameter is the seed's draw
    assert data["parameters"]["peer_influence"] == loaded.scenario_data(1)["parameters"]["peer_influence"]
    assert data["parameters"]["lonely_onset_base"] == post.draw(1)["lonely_onset_base"]
    stored = pd.read_parquet(store / "runs" / "p00001_s1.parquet")
    direct = yearly(simulate(Scenario(**data), seed=1))
    kept = direct[direct["stadtteil"].isin(set(stored["stadtteil"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(stored.drop(columns=["point", "seed"]), kept, check_exact=True)
    # resuming with fixed parameters, or another posterior, would mix two designs: refused, nothing written
    before = sorted(p.name for p in (store / "runs").iterdir())
    with pytest.raises(InputError, match="posterior"):
        sweep(exp, store, posterior=False)
    assert sorted(p.name for p in (store / "runs").iterdir()) == before
    assert sweep(exp, store, posterior=posterior_csv).ran == 0
