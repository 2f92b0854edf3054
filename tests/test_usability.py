"""What a new user meets first: the command line at 80 columns, its messages, the compile notice, Mesa habits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from quartiersim import cli
from quartiersim.cli import main
from quartiersim.model import QuarterModel
from quartiersim.parameters import GROUP_TITLES

ROOT = Path(__file__).resolve().parents[1]
TINY = {"scale": 0.05, "end": "2024-03-31", "spinup_weeks": 2}


def _run_cli(argv: list[str], width: int = 80) -> tuple[int, str]:
    """The command's exit status and what it printed on a terminal ``width`` columns wide."""
    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 - closed with console
    args = cli.build_parser().parse_args(argv)
    try:
        status = args.func(args, console)
    finally:
        console.file.close()
    return status, console.export_text()


def _no_cut_cells(text: str) -> None:
    assert "…" not in text, text


def test_params_title_keeps_its_brackets_and_an_unknown_group_is_an_error(capsys):
    status, text = _run_cli(["params", "--group", "loneliness"])
    assert status == 0 and "[parameters]" in text and "lonely_onset_base" in text
    assert "visit_base" not in text
    assert main(["params", "--group", "foo"]) == 2
    err = capsys.readouterr().err
    assert "--group" in err and all(group in err for group in GROUP_TITLES)


def test_phases_are_printed_whole():
    status, text = _run_cli(["phases"], width=1000)
    lines = text.strip().splitlines()
    assert status == 0 and len(lines) == len(QuarterModel.PHASES)
    assert all(line.rstrip().endswith(".") for line in lines), lines  # no description cut mid-sentence
    assert "hours become countable outputs" in lines[0] and "recovery via ties." in lines[6]


def test_stadtteile_fit_80_columns():
    status, text = _run_cli(["stadtteile"])
    assert status == 0
    _no_cut_cells(text)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Stuttgart-Mitte" in text or "Oberer Schlossgarten" in text
    assert "Am Rosensteinpark *" in text and "residents counted in a neighbouring Stadtteil" in text


@pytest.fixture(scope="module")
def cmp_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "cmp"
    status, text = _run_cli(["compare", "verstetigung_funding_ends", "verstetigung_permanent_posts", "--seeds", "2",
                             "--scale", "0.03", "--set", "end=2031-12-31", "--set", "spinup_weeks=8", "--out",
                             str(out), "--no-progress"])
    assert status == 0
    return out, text


def test_compare_fits_80_columns_shows_differing_years_and_cautions(cmp_dir):
    out, text = cmp_dir
    _no_cut_cells(text)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "active_initiatives" in text and "│ 2028 │" in text and "│ 2031 │" in text
    assert "│ 2027 │" not in text  # before the pilot ends the strategies are the same scenario
    words = " ".join(text.split())
    assert "18 simulated Stadtteile" in words  # not "Stuttgart" for one Bezirk
    assert "caution:" in words and "only 2 seeds" in words
    assert "only 2 seeds" in json.loads((out / "compare.json").read_text())["caution"]
    _, wide = _run_cli(["compare", "verstetigung_funding_ends", "verstetigung_permanent_posts", "--seeds", "2",
                        "--scale", "0.03", "--set", "end=2031-12-31", "--set", "spinup_weeks=8", "--out", str(out),
                        "--no-progress"], width=200)
    header = next(line for line in wide.splitlines() if "┃ indicator" in line)
    assert "┃ indicator           ┃" in header and "2028" in header  # years as columns when they fit


def test_compare_says_what_differs_when_it_refuses(cmp_dir, capsys):
    out, _ = cmp_dir
    assert main(["compare", "verstetigung_funding_ends", "verstetigung_permanent_posts", "--seeds", "2", "--scale",
                 "0.04", "--set", "end=2031-12-31", "--set", "spinup_weeks=8", "--out", str(out),
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "scale 0.03 there, 0.04 now" in err and "other scenarios or seeds" not in err
    assert main(["compare", "verstetigung_funding_ends", "verstetigung_permanent_posts", "--seeds", "3", "--scale",
                 "0.03", "--set", "end=2031-12-31", "--set", "spinup_weeks=8", "--out", str(out),
                 "--no-progress"]) == 2
    assert "seeds 0..1 there, 0..2 now" in capsys.readouterr().err


def test_compare_warns_in_python_too():
    from quartiersim.compare import MIN_SEEDS, compare

    with pytest.warns(UserWarning, match="only 2 seeds"):
        result = compare(["verstetigung_funding_ends", "verstetigung_permanent_posts"], seeds=2,
                         stadtteile=[211], bezirke=None, **TINY)
    assert result.too_few_seeds and MIN_SEEDS == 10


def test_summarise_fits_80_columns(tmp_path):
    experiment = tmp_path / "levers.toml"
    experiment.write_text("""
name = "levers"
scenario = "verstetigung_funding_ends"
seeds = 2
[set]
scale = 0.02
end = 2028-12-31
spinup_weeks = 4
[levers]
"verstetigung.strategy" = ["funding_ends", "permanent_posts"]
"roles.Gemeinwesenarbeit Neckarvorstadt.fte" = [0.5, 1.0]
[[outcomes]]
indicator = "lonely_adults"
year = 2028
[[outcomes]]
indicator = "active_initiatives"
year = 2028
""")
    assert main(["sweep", str(experiment), "--out", str(tmp_path / "store"), "--no-progress"]) == 0
    status, text = _run_cli(["summarise", str(tmp_path / "store")])
    assert status == 0
    _no_cut_cells(text)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "permanent_posts" in text and "A = verstetigung.strategy" in text


def test_one_stadtteil_in_the_run_header(tmp_path):
    status, text = _run_cli(["run", "neckarvorstadt", "--out", str(tmp_path / "r"), "--no-progress",
                             "--set", "end=2024-03-31", "--set", "spinup_weeks=2", "--scale", "0.05"], width=200)
    assert status == 0 and "1 Stadtteil," in text and "1 Stadtteile" not in text


def test_a_cold_numba_cache_is_detected(tmp_path):
    """With an empty cache directory the kernels need compiling; here (the cache filled by now) they do not."""
    from quartiersim.run import kernels_compiled

    QuarterModel("neckarvorstadt", rng=0, **TINY).run()
    assert kernels_compiled() is True
    code = "from quartiersim.run import kernels_compiled; print(kernels_compiled())"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_compile_notice_is_printed_only_when_the_cache_is_cold(tmp_path):
    from quartiersim.run import COMPILING

    QuarterModel("neckarvorstadt", rng=0, **TINY).run()
    status, text = _run_cli(["run", "neckarvorstadt", "--out", str(tmp_path / "r"), "--no-progress",
                             "--set", "end=2024-03-31", "--set", "spinup_weeks=2", "--scale", "0.05"], width=200)
    assert status == 0 and COMPILING not in text


def test_an_older_python_is_told_what_it_needs(tmp_path):
    """Run from the source tree on Python 3.11 (when one is installed here): one clear sentence."""
    python = shutil.which("python3.11")
    if python is None or subprocess.run([python, "-c", "pass"], capture_output=True).returncode != 0:
        pytest.skip("no Python 3.11 here")
    out = subprocess.run([python, "-c", "import quartiersim"], env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 1
    assert "quartiersim needs Python 3.12 or newer" in out.stderr.splitlines()[-1]


# ---------------------------------------------------------------------------------------------------------------
# as a Mesa user expects
# ---------------------------------------------------------------------------------------------------------------

def test_a_step_after_the_end_changes_nothing():
    model = QuarterModel("neckarvorstadt", rng=1, **TINY)
    model.run()
    steps, time, week, rows = model.steps, model.time, model.week, len(model.results())
    assert steps == model.n_weeks and not model.running
    for _ in range(3):
        model.step()
    assert (model.steps, model.time, model.week, len(model.results())) == (steps, time, week, rows)


def test_the_datacollector_rows_have_dates():
    model = QuarterModel("neckarvorstadt", rng=1, **TINY)
    model.run()
    frame = model.datacollector.get_model_vars_dataframe()
    assert list(frame.columns)[0] == "date"
    reported = sorted(model.results()["date"].unique())
    assert list(frame["date"].iloc[1:]) == list(pd.to_datetime(reported))  # after the starting state
    assert frame["date"].iloc[0] == pd.Timestamp(model.spec.start)


def test_seed_is_accepted_as_mesa_accepts_it():
    model = QuarterModel("neckarvorstadt", seed=7, **TINY)  # Mesa's batch_run passes seed= when a model has it
    assert model.seed == 7
    assert model.run().equals(QuarterModel("neckarvorstadt", rng=7, **TINY).run())
    with pytest.raises(ValueError, match="either rng or seed"):
        QuarterModel("neckarvorstadt", rng=1, seed=2, **TINY)


def test_batch_run_with_dotted_paths_and_dates():
    import mesa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Mesa's own notices
        rows = mesa.batch_run(QuarterModel, parameters={"scenario": "verstetigung_funding_ends", **TINY,
                                                        "stadtteile": [[211]], "bezirke": [None],
                                                        "verstetigung.strategy": ["funding_ends", "permanent_posts"]},
                              rng=[1], number_processes=1, data_collection_period=-1, display_progress=False)
    frame = pd.DataFrame(rows)
    assert set(frame["verstetigung.strategy"]) == {"funding_ends", "permanent_posts"}
    assert (frame["date"] == pd.Timestamp("2024-03-31")).all()
    seeded = QuarterModel("verstetigung_funding_ends", rng=1, stadtteile=[211], bezirke=None, **TINY)
    seeded.run()
    assert frame.iloc[0]["lonely_share"] == seeded.datacollector.get_model_vars_dataframe()["lonely_share"].iloc[-1]
