"""Every input and fault path (issue 16): bad input in every format, store damage, and real faults.

Bad input: every subcommand, driven through :func:`quartiersim.cli.main` with files in every format the project
reads (TOML, CSV, JSON, Parquet), bad arguments, unusable output paths and damaged stores. Each case asserts the
exit status (2), one message naming the file or field, no traceback or "unexpected error", and that nothing in
the case's directory was created or changed.

Faults, each with real processes: SIGKILL of sweep and compare (no worker or resource tracker left), SIGTERM,
a Dask scheduler killed mid-sweep (then an exact resume on a new scheduler), a full disk (a small tmpfs, when
the tests run as root), two sweeps on one store, damaged and foreign run files, and file modes under a umask.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psutil
import pytest

from quartiersim.cli import main
from quartiersim.compare import compare
from quartiersim.files import LOCK_FILE, check_store, remove_partials, safe_name
from quartiersim.sweeps import sweep

ROOT = Path(__file__).resolve().parents[1]

# --- small inputs ------------------------------------------------------------------------------------------------

SCENARIO = """name = "tiny"
start = 2024-01-01
end = 2024-12-31
stadtteile = [211]
scale = 0.1
spinup_weeks = 2
"""
ROLE = """
[[roles]]
name = "GWA"
kind = "gemeinwesenarbeit"
fte = 1.0
stadtteile = [211]
start = 2024-01-01
end = 2024-12-31
"""
EXPERIMENT = """name = "tinyexp"
scenario = "tiny.toml"
seeds = 2
[levers]
visit_base = [0.1, 0.2]
[[outcomes]]
indicator = "lonely_adults"
year = 2024
"""
CALIBRATION = """name = "cal"
scenario = "tiny.toml"
targets = "targets.toml"
[priors]
visit_base = [0.08, 0.16]
[abc]
population_size = 5
max_generations = 1
"""
TARGETS = """[[targets]]
name = "lonely_share"
value = 0.035
sd = 0.005
statistic = {indicator = "lonely_share", year = 2024}
source = "test"
kind = "assumption"
"""
PILOT_HEADER = "stadtteil,date,indicator,group,value,sample_size,std_error,source\n"
PILOT_ROW = "211,2024-06-30,lonely_share,all,0.04,300,,test survey\n"
INDICATOR_HEADER = "number,migration_share,source\n"


def _files(tmp: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _snapshot(tmp: Path) -> dict[str, tuple]:
    """Every path under ``tmp`` (hidden ones too) with its kind, size and modification time."""
    out = {}
    for p in sorted(tmp.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(tmp))] = (p.is_dir(), st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


# --- stores to damage (built once) -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """A tiny finished sweep store, run directory and comparison, to copy and damage."""
    base = tmp_path_factory.mktemp("stores")
    _files(base, {"tiny.toml": SCENARIO, "exp.toml": EXPERIMENT,
                  "other.toml": SCENARIO.replace('"tiny"', '"other"') + "[parameters]\nvisit_base = 0.2\n"})
    assert main(["sweep", str(base / "exp.toml"), "--out", str(base / "store"), "--no-progress"]) == 0
    assert main(["run", str(base / "tiny.toml"), "--out", str(base / "run"), "--no-progress"]) == 0
    compare([base / "tiny.toml", base / "other.toml"], seeds=2, out=base / "cmp")
    return {"base": base, "store": base / "store", "run": base / "run", "cmp": base / "cmp"}


def _copy_store(stores: dict[str, Path], tmp: Path, which: str = "store", name: str = "store") -> Path:
    shutil.copytree(stores[which], tmp / name)
    for toml in stores["base"].glob("*.toml"):
        shutil.copy(toml, tmp / toml.name)
    return tmp / name


@pytest.fixture
def readonly_dir(tmp_path) -> Path:
    """A directory nobody may write: a read-only tmpfs as root (root ignores permission bits), else mode 0555."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() == 0:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a read-only tmpfs: {done.stderr.decode().strip()}")
        yield path
        subprocess.run(["umount", str(path)], check=False)
    else:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)


# --- the cases: (id, set-up, argv, strings the message names) -----------------------------------------------------
# A set-up writes files into the case's directory (the current directory while the case runs) and may return
# extra argv; {tmp} in argv is the case's directory.

Setup = Callable[[Path], None] | dict[str, str | bytes] | None


def scenario(extra: str = "", text: str = SCENARIO) -> dict[str, str]:
    return {"s.toml": text + extra}


def replaced(old: str, new: str) -> dict[str, str]:
    assert old in SCENARIO
    return {"s.toml": SCENARIO.replace(old, new)}


def experiment(extra: str = "", text: str = EXPERIMENT, **more: str) -> dict[str, str]:
    return {"tiny.toml": SCENARIO, "e.toml": text + extra, **more}


def calibration(cal: str = CALIBRATION, targets: str = TARGETS) -> dict[str, str]:
    return {"tiny.toml": SCENARIO, "c.toml": cal, "targets.toml": targets}


RUN = ["run", "s.toml", "--out", "o", "--no-progress"]
SWEEP = ["sweep", "e.toml", "--out", "o", "--no-progress"]
CAL = ["calibrate", "c.toml", "--out", "o", "--no-progress"]
BAD_UTF8 = "name = \"t\xe4st\"\n".encode("latin-1")
CASES: list[tuple[str, Setup, list[str], tuple[str, ...]]] = [
    # run: arguments
    ("run seed -1", scenario(), ["run", "s.toml", "--seed", "-1", "--no-progress"], ("--seed", "2**31")),
    ("run seed 2**31", scenario(), ["run", "s.toml", "--seed", "2147483648", "--no-progress"], ("--seed",)),
    ("run scale 0", scenario(), [*RUN, "--scale", "0"], ("scale", "> 0")),
    ("run scale nan", scenario(), [*RUN, "--scale", "nan"], ("scale", "finite")),
    ("run scale 1e-9", scenario(), [*RUN, "--scale", "1e-9"], ("scale", "at least 10 agents")),
    ("run --set inf", scenario(), [*RUN, "--set", "visit_base=inf"], ("parameters.visit_base",)),
    ("run --set without value", scenario(), [*RUN, "--set", "visit_base"], ("--set", "name=value")),
    ("run --set unknown", scenario(), [*RUN, "--set", "visit_bas=0.1"], ("parameters.visit_bas", "visit_base")),
    ("run out is a file", {**scenario(), "o": "x"}, RUN, ("--out", "not a file")),
    ("run out below a file", {**scenario(), "f": "x"}, ["run", "s.toml", "--out", "f/o", "--no-progress"],
     ("--out", "below")),
    ("run out exists", lambda t: (_files(t, scenario()), (t / "o").mkdir()), RUN, ("--out", "--overwrite")),
    ("run unknown name", None, ["run", "no_such_scenario", "--no-progress"], ("scenario", "neckarvorstadt")),
    ("run missing file", None, ["run", "missing.toml", "--no-progress"], ("missing.toml", "existing")),
    ("run a directory", lambda t: (t / "d.toml").mkdir(), ["run", "d.toml", "--no-progress"], ("d.toml",)),
    # run: the scenario file
    ("toml latin-1", {"s.toml": BAD_UTF8}, RUN, ("s.toml", "UTF-8")),
    ("toml utf-16", {"s.toml": SCENARIO.encode("utf-16")}, RUN, ("s.toml", "UTF-8")),
    ("toml binary", {"s.toml": bytes(range(256))}, RUN, ("s.toml",)),
    ("toml syntax", {"s.toml": "name = [unclosed\n"}, RUN, ("s.toml", "valid TOML")),
    ("toml empty name", replaced('"tiny"', '""'), RUN, ("name",)),
    ("stadtteile not a list", replaced("[211]", "211"), RUN, ("'stadtteile'", '"all" or a list')),
    ("stadtteile empty", replaced("[211]", "[]"), RUN, ("stadtteile", "at least one")),
    ("stadtteile unknown", replaced("[211]", '["Atlantis"]'), RUN, ("stadtteile", "Atlantis")),
    ("stadtteile odd items", replaced("[211]", "[211, 1.5]"), RUN, ("'stadtteile'",)),
    ("start 1800", replaced("start = 2024-01-01", "start = 1800-01-01"), RUN, ("start", "2000-01-01")),
    ("end 2400", replaced("end = 2024-12-31", "end = 2400-12-31"), RUN, ("end", "2100-12-31")),
    ("end too soon", replaced("end = 2024-12-31", "end = 2024-01-03"), RUN, ("end", "one week")),
    ("start a text", replaced("start = 2024-01-01", 'start = "soon"'), RUN, ("start", "a date")),
    ("scale 1e-9 in file", replaced("scale = 0.1", "scale = 1e-9"), RUN, ("scale", "at least 10 agents")),
    ("scale inf in file", replaced("scale = 0.1", "scale = inf"), RUN, ("scale", "finite")),
    ("scale nan in file", replaced("scale = 0.1", "scale = nan"), RUN, ("scale", "finite")),
    ("spinup negative", replaced("spinup_weeks = 2", "spinup_weeks = -1"), RUN, ("spinup_weeks", ">= 0")),
    ("name escapes runs/", replaced('"tiny"', '"../../x"'), ["run", "s.toml", "--no-progress"], ("name", "'/'")),
    ("report unknown", scenario('report = "daily"\n'), RUN, ("report", "one of")),
    ("unknown field", scenario('colour = "red"\n'), RUN, ("colour", "no such field")),
    ("roles a table", scenario('[roles]\nname = "x"\n'), RUN, ("roles",)),
    ("role cost inf", scenario(ROLE + "cost_per_fte_eur = inf\n"), RUN, ("roles.0.cost_per_fte_eur", "finite")),
    ("role cost huge", scenario(ROLE + "cost_per_fte_eur = 1e12\n"), RUN, ("roles.0.cost_per_fte_eur", "<=")),
    ("role fte nan", scenario(ROLE.replace("fte = 1.0", "fte = nan")), RUN, ("roles.0.fte", "finite")),
    ("role outside the run", scenario(ROLE.replace("stadtteile = [211]\nstart", "stadtteile = [212]\nstart")), RUN,
     ("roles.0.stadtteile", "GWA", "212 Pragstraße")),
    ("role change in 2200", scenario(ROLE + "changes = [{date = 2200-01-01, fte = 2}]\n"), RUN,
     ("roles.0.changes.0.date", "2100-12-31")),
    ("allocation budget inf", scenario('[allocation]\nstrategy = "needs_based"\nbudget_eur_per_year = inf\n'), RUN,
     ("allocation.budget_eur_per_year", "finite")),
    ("pilot quarter outside the run", scenario('[allocation]\nstrategy = "pilot_only"\nstart = 2024-06-01\n'
                                               "stadtteile = [101]\n"), RUN, ("allocation.stadtteile", "101")),
    ("grant nan", scenario("[initiative_funding]\nstart = 2024-02-01\ngrant_eur = nan\n"), RUN,
     ("initiative_funding.grant_eur", "finite")),
    ("parameter nan", scenario("[parameters]\nvisit_base = nan\n"), RUN, ("parameters.visit_base",)),
    ("indicators file missing", scenario('indicators_file = "none.csv"\n'), RUN, ("none.csv", "existing")),
    ("indicators file empty", {**scenario('indicators_file = "i.csv"\n'), "i.csv": ""}, RUN, ("i.csv", "empty")),
    ("indicators column twice", {**scenario('indicators_file = "i.csv"\n'),
                                 "i.csv": "number,migration_share,migration_share,source\n211,0.5,0.6,x\n"}, RUN,
     ("i.csv", "each column once", "migration_share")),
    ("stadtteile file not UTF-8", {**scenario('stadtteile_file = "st.csv"\n'), "st.csv": b"number,stadtteil\n1,\xe4\n"},
     RUN, ("st.csv", "UTF-8")),
    ("experiment given to run", experiment(), ["run", "e.toml", "--no-progress"], ("e.toml", "experiment file")),
    # compare
    ("compare second scenario bad", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"').replace(
        "[211]", "[999]")}, ["compare", "s.toml", "b.toml", "--seeds", "2", "--out", "c", "--no-progress"],
     ("b.toml", "stadtteile", "999")),
    ("compare workers 0", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"')},
     ["compare", "s.toml", "b.toml", "--seeds", "2", "--workers", "0", "--out", "c", "--no-progress"],
     ("--workers",)),
    ("compare workers -1", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"')},
     ["compare", "s.toml", "b.toml", "--seeds", "2", "--workers", "-1", "--out", "c", "--no-progress"],
     ("--workers",)),
    ("compare seeds 1e11", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"')},
     ["compare", "s.toml", "b.toml", "--seeds", "100000000000", "--out", "c", "--no-progress"], ("--seeds",)),
    ("compare seeds 1", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"')},
     ["compare", "s.toml", "b.toml", "--seeds", "1", "--out", "c", "--no-progress"], ("--seeds",)),
    ("compare out is a file", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"'), "c": "x"},
     ["compare", "s.toml", "b.toml", "--seeds", "2", "--out", "c", "--no-progress"], ("--out",)),
    ("compare names clash", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"Tiny"')},
     ["compare", "s.toml", "b.toml", "--seeds", "2", "--out", "c", "--no-progress"], ("different names",)),
    ("compare out holds other files", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"'), "c/keep.txt": "x"},
     ["compare", "s.toml", "b.toml", "--seeds", "2", "--out", "c", "--no-progress"], ("--out", "keep.txt")),
    ("compare --set scale tiny", {**scenario(), "b.toml": SCENARIO.replace('"tiny"', '"b"')},
     ["compare", "s.toml", "b.toml", "--seeds", "2", "--set", "scale=1e-9", "--out", "c", "--no-progress"],
     ("scale",)),
    # sweep: the experiment file
    ("experiment unknown Stadtteil in set", experiment("[set]\nstadtteile = [999]\n"), SWEEP,
     ("e.toml", "set.stadtteile", "999")),
    ("experiment unknown Stadtteil in levers", experiment(text=EXPERIMENT.replace(
        "visit_base = [0.1, 0.2]", "stadtteile = [[211], [999]]")), SWEEP,
     ("e.toml", "levers (stadtteile = [999])", "999")),
    ("experiment role outside a lever's run", experiment(text=EXPERIMENT.replace(
        "visit_base = [0.1, 0.2]", "stadtteile = [[211], [212]]"), **{"tiny.toml": SCENARIO + ROLE}), SWEEP,
     ("e.toml", "levers (stadtteile = [212])", "GWA")),
    ("experiment indicators file missing", experiment('[set]\nindicators_file = "none.csv"\n'), SWEEP,
     ("e.toml", "set.indicators_file", "none.csv")),
    ("experiment seeds 1e11", experiment(text=EXPERIMENT.replace("seeds = 2", "seeds = 100000000000")), SWEEP,
     ("e.toml", "seeds")),
    ("experiment seed 2**31", experiment(text=EXPERIMENT.replace("seeds = 2", "seeds = [0, 2147483648]")), SWEEP,
     ("e.toml", "seeds", "2**31")),
    ("experiment seed -1", experiment(text=EXPERIMENT.replace("seeds = 2", "seeds = [-1]")), SWEEP,
     ("e.toml", "seeds")),
    ("experiment design seed huge", experiment('[design]\nseed = 99999999999\n'), SWEEP, ("e.toml", "design.seed")),
    ("experiment lever on absent roles", experiment(text=EXPERIMENT.replace(
        "visit_base = [0.1, 0.2]", '"roles.0.fte" = [1.0]')), SWEEP, ("levers.roles.0.fte", "empty")),
    ("experiment too many runs", experiment(text=EXPERIMENT.replace(
        "[levers]\nvisit_base = [0.1, 0.2]", '[uncertainties]\nvisit_base = "declared"\nlonely_contagion = '
        '"declared"\ntie_half_life = "declared"\n[design]\nmethod = "full_factorial"\nlevels = 1000')), SWEEP,
     ("e.toml", "design", "1,000,000 runs")),
    ("experiment not UTF-8", {"e.toml": BAD_UTF8}, SWEEP, ("e.toml", "UTF-8")),
    ("experiment name with a slash", experiment(text=EXPERIMENT.replace('"tinyexp"', '"../x"')),
     ["sweep", "e.toml", "--no-progress"], ("e.toml", "name")),
    ("scenario given to sweep", scenario(), ["sweep", "s.toml", "--out", "o", "--no-progress"],
     ("s.toml", "scenario file")),
    ("experiment lever value inf", experiment(text=EXPERIMENT.replace("[0.1, 0.2]", "[0.1, inf]")), SWEEP,
     ("levers",)),
    # sweep: arguments
    ("sweep workers 0", experiment(), [*SWEEP, "--workers", "0"], ("--workers",)),
    ("sweep workers -1", experiment(), [*SWEEP, "--workers", "-1"], ("--workers",)),
    ("sweep workers 1e6", experiment(), [*SWEEP, "--workers", "1000000"], ("--workers",)),
    ("sweep http scheduler", experiment(), [*SWEEP, "--scheduler", "http://127.0.0.1:1"], ("--scheduler", "tcp://")),
    ("sweep scheduler nobody", experiment(), [*SWEEP, "--scheduler", "tcp://127.0.0.1:1"], ("--scheduler",)),
    ("sweep scheduler and workers", experiment(), [*SWEEP, "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"],
     ("--workers",)),
    ("sweep scheduler file missing", experiment(), [*SWEEP, "--scheduler-file", "none.json"],
     ("none.json", "--scheduler-file")),
    ("sweep scheduler file garbage", experiment(**{"sch.json": "{garbage"}), [*SWEEP, "--scheduler-file", "sch.json"],
     ("sch.json", "--scheduler-file")),
    ("sweep scheduler file no address", experiment(**{"sch.json": '{"type": "Scheduler"}'}),
     [*SWEEP, "--scheduler-file", "sch.json"], ("sch.json", "no address")),
    ("sweep out is a file", experiment(o="x"), SWEEP, ("--out", "not a file")),
    ("sweep out holds other files", experiment(**{"o/keep.txt": "x"}), SWEEP, ("--out", "keep.txt")),
    ("posterior garbage", experiment(text=EXPERIMENT.replace("[levers]\nvisit_base = [0.1, 0.2]",
                                                             '[design]\nmethod = "posterior"\nfile = "p.csv"'),
                                     **{"p.csv": b"\x00\xff\xfe garbage"}), SWEEP, ("p.csv",)),
    ("posterior empty", experiment(text=EXPERIMENT.replace("[levers]\nvisit_base = [0.1, 0.2]",
                                                           '[design]\nmethod = "posterior"\nfile = "p.csv"'),
                                   **{"p.csv": ""}), SWEEP, ("p.csv", "empty")),
    ("posterior column twice", experiment(text=EXPERIMENT.replace("[levers]\nvisit_base = [0.1, 0.2]",
                                                                  '[design]\nmethod = "posterior"\nfile = "p.csv"'),
                                          **{"p.csv": "visit_base,visit_base,weight\n0.1,0.2,1\n"}), SWEEP,
     ("p.csv", "each column once")),
    # damaged stores
    ("sweep.json garbage", lambda t, s: (_copy_store(s, t, name="o") / "sweep.json").write_text("{garbage"),
     ["sweep", "exp.toml", "--out", "o", "--no-progress"], ("sweep.json", "damaged", "move it away")),
    ("sweep.json truncated", lambda t, s: _truncate(_copy_store(s, t, name="o") / "sweep.json"),
     ["sweep", "exp.toml", "--out", "o", "--no-progress"], ("sweep.json", "damaged")),
    ("sweep.json not UTF-8", lambda t, s: (_copy_store(s, t, name="o") / "sweep.json").write_bytes(b"\xff\xfe{"),
     ["sweep", "exp.toml", "--out", "o", "--no-progress"], ("sweep.json", "damaged")),
    ("summarise sweep.json garbage", lambda t, s: (_copy_store(s, t) / "sweep.json").write_text("[1, 2"),
     ["summarise", "store"], ("sweep.json", "damaged")),
    ("summarise design.parquet garbage", lambda t, s: (_copy_store(s, t) / "design.parquet").write_bytes(b"PAR1xx"),
     ["summarise", "store"], ("store", "damaged")),
    ("summarise not a store", {"d/x.txt": "x"}, ["summarise", "d"], ("sweep.json",)),
    ("summarise top 0", lambda t, s: _copy_store(s, t), ["summarise", "store", "--top", "0"], ("--top",)),
    ("sensitivity sweep.json garbage", lambda t, s: (_copy_store(s, t) / "sweep.json").write_text("nul"),
     ["sensitivity", "store"], ("sweep.json", "damaged")),
    ("sweep store held by a live process", lambda t, s: _hold_lock(_copy_store(s, t, name="o")),
     ["sweep", "exp.toml", "--out", "o", "--no-progress"], ("o", f"process {os.getpid()}", "nothing was done")),
    ("compare.json garbage", lambda t, s: (_copy_store(s, t, "cmp", "c") / "compare.json").write_text("{"),
     ["compare", "tiny.toml", "other.toml", "--seeds", "2", "--out", "c", "--no-progress"],
     ("compare.json", "damaged")),
    ("plot results.parquet garbage", lambda t, s: (_copy_store(s, t, "run", "r") / "results.parquet").write_bytes(
        b"not parquet"), ["plot", "r", "--out", "figs"], ("results.parquet", "damaged")),
    ("plot results.parquet truncated", lambda t, s: _truncate(_copy_store(s, t, "run", "r") / "results.parquet"),
     ["plot", "r", "--out", "figs"], ("results.parquet", "damaged")),
    ("plot unfinished comparison", lambda t, s: (_copy_store(s, t, "cmp", "c") / "differences.parquet").unlink(),
     ["plot", "c", "--out", "figs"], ("differences.parquet", "missing")),
    ("plot out is a file", lambda t, s: (_copy_store(s, t, "run", "r"), (t / "figs").write_text("x")),
     ["plot", "r", "--out", "figs"], ("--out",)),
    ("plot not an output", {"d/x.txt": "x"}, ["plot", "d", "--out", "figs"], ("d", "a run")),
    # evaluate and pilot data
    ("evaluate out not a report", lambda t, s: _copy_store(s, t),
     ["evaluate", "--runs", "store", "--pilot-data", "p.csv", "--out", "r.txt"], ("--out", ".html")),
    ("evaluate runs not a store", {"d/x.txt": "x", "p.csv": PILOT_HEADER + PILOT_ROW},
     ["evaluate", "--runs", "d", "--pilot-data", "p.csv", "--out", "r.html"], ("sweep.json",)),
    ("pilot value twice", {"p.csv": PILOT_HEADER.replace("source", "value") + PILOT_ROW},
     ["pilot-data", "p.csv"], ("p.csv", "each column once", "value")),
    ("pilot empty", {"p.csv": ""}, ["pilot-data", "p.csv"], ("p.csv", "empty")),
    ("pilot binary", {"p.csv": bytes(range(256))}, ["pilot-data", "p.csv"], ("p.csv",)),
    ("pilot date 1800", {"p.csv": PILOT_HEADER + PILOT_ROW.replace("2024-06-30", "1800-06-30")},
     ["pilot-data", "p.csv"], ("p.csv", "line 2, date")),
    ("pilot value inf", {"p.csv": PILOT_HEADER + PILOT_ROW.replace("0.04", "inf")}, ["pilot-data", "p.csv"],
     ("p.csv", "line 2, value")),
    # areas and stadtteile
    ("areas indicators empty", {"i.csv": ""}, ["areas", "--indicators", "i.csv", "--out", "r.csv"], ("i.csv",)),
    ("areas indicators not UTF-8", {"i.csv": INDICATOR_HEADER.encode() + b"211,0.5,\xe4\n"},
     ["areas", "--indicators", "i.csv", "--out", "r.csv"], ("i.csv", "UTF-8")),
    ("areas out is a directory", lambda t: (t / "r").mkdir(), ["areas", "--out", "r", "--overwrite"],
     ("--out", "not a directory")),
    ("areas out below a file", {"f": "x"}, ["areas", "--out", "f/r.csv"], ("--out",)),
    ("areas unknown weight", None, ["areas", "--weight", "noise=1", "--out", "r.csv"], ("area_index.weights",)),
    ("areas top 0", None, ["areas", "--top", "0", "--out", "r.csv"], ("--top",)),
    ("areas stadtteile garbage", {"st.csv": "a,b\n1,2\n"}, ["areas", "--stadtteile", "st.csv", "--out", "r.csv"],
     ("st.csv",)),
    ("stadtteile file empty", {"st.csv": ""}, ["stadtteile", "--file", "st.csv"], ("st.csv", "empty")),
    # calibrate
    ("calibrate workers 0", calibration(), [*CAL, "--workers", "0"], ("--workers",)),
    ("calibrate out is a file", {**calibration(), "o": "x"}, CAL, ("--out",)),
    ("calibrate target sd 0", calibration(targets=TARGETS.replace("sd = 0.005", "sd = 0")), CAL,
     ("targets.toml", "sd")),
    ("calibrate target value inf", calibration(targets=TARGETS.replace("value = 0.035", "value = inf")), CAL,
     ("targets.toml", "value", "finite")),
    ("calibrate abc seed huge", calibration(cal=CALIBRATION + "seed = 99999999999\n"), CAL, ("c.toml", "abc.seed")),
    ("calibrate scheduler nobody", calibration(), [*CAL, "--scheduler", "tcp://127.0.0.1:1"], ("--scheduler",)),
    ("calibration not UTF-8", {"c.toml": BAD_UTF8}, CAL, ("c.toml", "UTF-8")),
    ("calibration.json garbage", {**calibration(), "o/calibration.json": "{"}, CAL,
     ("calibration.json", "damaged")),
    ("calibration name with a slash", calibration(cal=CALIBRATION.replace('"cal"', '"a/b"')), CAL, ("name",)),
    ("calibration unknown Stadtteil in set", calibration(cal=CALIBRATION + "[set]\nstadtteile = [999]\n"), CAL,
     ("c.toml", "set.stadtteile", "999")),
    ("calibration role outside the run", calibration(cal=CALIBRATION + "[set]\nstadtteile = [212]\n") | {
        "tiny.toml": SCENARIO + ROLE}, CAL, ("c.toml", "set", "GWA", "211 Neckarvorstadt")),
    # app (the arguments and the scenario are checked before the server starts)
    ("app port 0", None, ["app", "--port", "0"], ("--port",)),
    ("app port 70000", None, ["app", "--port", "70000"], ("--port",)),
    ("app scale 1e-9", None, ["app", "--scale", "1e-9"], ("scale",)),
    ("app too many Stadtteile", scenario(text=SCENARIO.replace("stadtteile = [211]", 'bezirke = ["Bad Cannstatt"]')),
     ["app", "s.toml"], ("s.toml", "at most 12")),
]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


_HELD: list[int] = []


def _hold_lock(store: Path) -> None:
    """Hold the store's lock as a live sweep would (flock, with this process's pid in the file)."""
    fd = os.open(store / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": "quartiersim sweep",
                             "started": "now"}).encode())
    _HELD.append(fd)


@pytest.fixture(autouse=True)
def _release_held_locks():
    yield
    while _HELD:
        os.close(_HELD.pop())


def test_enough_bad_inputs():
    assert len(CASES) >= 80 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("label,setup,argv,named", CASES, ids=[c[0] for c in CASES])
def test_bad_input_exits_2_names_it_and_leaves_nothing(label, setup, argv, named, tmp_path, monkeypatch, capsys,
                                                       request):
    case = tmp_path / "case"
    case.mkdir()
    if isinstance(setup, dict):
        _files(case, setup)
    elif setup is not None:
        if setup.__code__.co_argcount == 2:
            setup(case, request.getfixturevalue("stores"))
        else:
            setup(case)
    monkeypatch.chdir(case)
    before = _snapshot(case)
    status = main(argv)
    captured = capsys.readouterr()
    text = (captured.out + captured.err).replace("\n", " ")
    assert status == 2, text
    assert "Traceback" not in text and "unexpected error" not in text, text
    assert len(re.findall(r"^error:", captured.err, flags=re.MULTILINE)) == 1, captured.err
    for part in named:
        assert part in text, f"{part!r} not in: {text}"
    assert _snapshot(case) == before, "the command created or changed files"


def test_a_store_without_its_manifest_accepts_a_moved_aside_manifest_only_where_advised(tmp_path):
    """A sweep's damaged manifest may be moved aside (its message says so) and the store resumed; in a store whose
    message advises a new --out instead (optimise), the moved-aside file is something else and is refused."""
    from quartiersim.errors import InputError

    (tmp_path / "runs").mkdir()
    (tmp_path / "store.json.damaged").write_text("{", encoding="utf-8")

    def check(moved_aside: bool) -> None:
        check_store(tmp_path, "store.json", dict, "identity", {"design": 1}, {"runs"}, "this work", "an earlier run",
                    moved_aside=moved_aside)

    check(moved_aside=True)
    with pytest.raises(InputError, match="store.json.damaged"):
        check(moved_aside=False)


def test_bad_output_in_a_read_only_directory(readonly_dir, tmp_path, monkeypatch, capsys):
    """run, compare, sweep, areas, plot, evaluate and calibrate refuse an --out they cannot write, before any
    work (run would otherwise simulate first)."""
    _files(tmp_path, {"s.toml": SCENARIO, "b.toml": SCENARIO.replace('"tiny"', '"b"'), **experiment(),
                      **calibration()})
    monkeypatch.chdir(tmp_path)
    out = str(readonly_dir / "o")
    commands = [["run", "s.toml", "--out", out, "--no-progress"],
                ["compare", "s.toml", "b.toml", "--seeds", "2", "--out", out, "--no-progress"],
                ["sweep", "e.toml", "--out", out, "--no-progress"],
                ["areas", "--out", out + ".csv"],
                ["calibrate", "c.toml", "--out", out, "--no-progress"]]
    before = _snapshot(tmp_path)
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.replace("\n", " ")
        assert "--out" in err and ("read-only" in err or "permission" in err), err
    assert _snapshot(tmp_path) == before


# --- processes ---------------------------------------------------------------------------------------------------

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "quartiersim.cli", *args]


def _wait_for(predicate: Callable[[], bool], what: str, limit: float = 300.0) -> None:
    """Poll until something happens; the limit only keeps a broken set-up from hanging the suite."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > limit:
            raise AssertionError(f"{what} did not happen")
        time.sleep(0.05)


def _alive(processes: list[psutil.Process]) -> list[int]:
    alive = []
    for p in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p.pid)
    return alive


def _kill_and_count_orphans(argv: list[str], runs: Path, n_files: int, log: Path) -> list[int]:
    """Start a command, SIGKILL it once ``n_files`` run files exist, and return its descendants alive 10 s later."""
    with log.open("w") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: proc.poll() is not None or len(list(runs.rglob("*.parquet"))) >= n_files, "runs")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert proc.poll() is None, "the command ended before it could be killed: " + log.read_text()
        assert len(children) >= 3, children  # two workers and multiprocessing's resource tracker
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10.0
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        return _alive(children)
    finally:  # never leave anything behind, whatever happened
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in locals().get("children", []):
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


EXP_FAULTS = """name = "faults"
scenario = "tiny.toml"
seeds = 2
[levers]
visit_base = [0.08, 0.12, 0.16, 0.2]
[[outcomes]]
indicator = "lonely_adults"
year = 2024
"""
N_FAULT_RUNS = 8


@pytest.fixture(scope="module")
def fault_reference(tmp_path_factory) -> Path:
    """The fault tests' sweep, run once without a fault: what every interrupted and resumed sweep must equal."""
    base = tmp_path_factory.mktemp("reference")
    _files(base, {"tiny.toml": SCENARIO, "e.toml": EXP_FAULTS})
    assert sweep(base / "e.toml", base / "store").complete
    return base / "store"


def _assert_same_sweep(store: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(store / "outcomes.parquet").drop(columns="seconds"),
                                  pd.read_parquet(reference / "outcomes.parquet").drop(columns="seconds"))
    names = sorted(p.name for p in (reference / "runs").glob("*.parquet"))
    assert sorted(p.name for p in (store / "runs").glob("*.parquet")) == names and len(names) == N_FAULT_RUNS
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(store / "runs" / name),
                                      pd.read_parquet(reference / "runs" / name))


def test_sigkill_of_sweep_leaves_no_worker_process(tmp_path, fault_reference):
    _files(tmp_path, {"tiny.toml": SCENARIO, "e.toml": EXP_FAULTS})
    out = tmp_path / "store"
    orphans = _kill_and_count_orphans(_cli("sweep", str(tmp_path / "e.toml"), "--out", str(out), "--workers", "2",
                                           "--no-progress"), out / "runs", 2, tmp_path / "log")
    assert orphans == []
    # the lock of the killed sweep is taken over, and the sweep resumes
    assert (out / LOCK_FILE).is_file()
    result = sweep(tmp_path / "e.toml", out)
    assert result.complete and result.notes and "no longer runs" in result.notes[0]
    assert not (out / LOCK_FILE).exists()
    _assert_same_sweep(out, fault_reference)


def test_sigkill_of_compare_leaves_no_worker_process(tmp_path):
    _files(tmp_path, {"a.toml": SCENARIO.replace('"tiny"', '"a"'),
                      "b.toml": SCENARIO.replace('"tiny"', '"b"') + "[parameters]\nvisit_base = 0.2\n"})
    out = tmp_path / "cmp"
    orphans = _kill_and_count_orphans(_cli("compare", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"), "--seeds",
                                           "4", "--workers", "2", "--out", str(out), "--no-progress"),
                                      out / "runs", 2, tmp_path / "log")
    assert orphans == []


def test_sigterm_stops_a_sweep_and_its_workers(tmp_path):
    _files(tmp_path, {"tiny.toml": SCENARIO, "e.toml": EXP_FAULTS})
    out = tmp_path / "store"
    proc = subprocess.Popen(_cli("sweep", str(tmp_path / "e.toml"), "--out", str(out), "--workers", "2",
                                 "--no-progress"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: proc.poll() is not None or len(list((out / "runs").glob("*.parquet"))) >= 1, "a run")
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 143, stdout + stderr
    assert "Traceback" not in stderr and "stopped (SIGTERM)" in stderr
    _wait_for(lambda: not _alive(children), "the workers to end", limit=10.0)
    assert not list(out.rglob("*.partial")) and not (out / LOCK_FILE).exists()


def test_sigterm_of_the_app_stops_its_server(tmp_path):
    pytest.importorskip("solara")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(_cli("app", "--port", str(port)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    server: list[psutil.Process] = []
    try:
        _wait_for(lambda: proc.poll() is not None or psutil.Process(proc.pid).children(), "the server to start")
        server = psutil.Process(proc.pid).children()
        assert server, proc.stderr.read() if proc.stderr else ""
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate()
        assert proc.returncode == 143 and "Traceback" not in stderr, stderr
        _wait_for(lambda: not _alive(server), "the server to end", limit=10.0)
    finally:  # only what this test started: the command and its server
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in server:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


def test_second_sweep_on_a_store_is_refused(tmp_path, capsys):
    """Two sweeps on one store: the second is refused at once (exit 2, the first's pid named), writes nothing,
    and the first finishes every run exactly once."""
    _files(tmp_path, {"tiny.toml": SCENARIO, "e.toml": EXP_FAULTS})
    out = tmp_path / "store"
    log = tmp_path / "first.log"
    with log.open("w") as fh:
        first = subprocess.Popen(_cli("sweep", str(tmp_path / "e.toml"), "--out", str(out), "--no-progress"),
                                 stdout=fh, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: first.poll() is not None or len(list((out / "runs").glob("*.parquet"))) >= 1, "a run")
        first.send_signal(signal.SIGSTOP)  # held still (with its lock) while the second tries
        assert first.poll() is None, log.read_text()
        before = _snapshot(out)
        status = main(["sweep", str(tmp_path / "e.toml"), "--out", str(out), "--no-progress"])
        err = capsys.readouterr().err.replace("\n", " ")
        assert status == 2 and f"process {first.pid}" in err and str(out) in err, err
        assert _snapshot(out) == before
    finally:
        first.send_signal(signal.SIGCONT)
        first.wait()
    assert first.returncode == 0, log.read_text()
    assert f"{N_FAULT_RUNS} runs done now" in log.read_text()  # the first did them all: the second ran none


def test_damaged_and_foreign_run_files_are_reported_moved_and_rerun(stores, tmp_path, capsys):
    """A truncated file, a garbage file, another run's file under this name and a file of another design with
    the right name: summarise leaves them out with a warning; sweep reports each by name, moves it to rejected/
    with the reason, runs it again, and the outcomes equal the uninterrupted sweep's."""
    store = _copy_store(stores, tmp_path)
    runs = store / "runs"
    _truncate(runs / "p00000_s0.parquet")
    (runs / "p00000_s1.parquet").write_bytes(b"garbage")
    shutil.copy(runs / "p00001_s0.parquet", runs / "p00001_s1.parquet")  # another run's file
    other = tmp_path / "other"
    _files(other, {"tiny.toml": SCENARIO, "exp.toml": EXPERIMENT.replace("[0.1, 0.2]", "[0.3, 0.2]")})
    sweep(other / "exp.toml", other / "store")
    shutil.copy(other / "store" / "runs" / "p00001_s0.parquet", runs / "p00001_s0.parquet")  # another design's
    damaged = ["p00000_s0", "p00000_s1", "p00001_s1", "p00001_s0"]
    (store / "failed").mkdir(exist_ok=True)
    (store / "failed" / "p00000_s0.json").write_text("{", encoding="utf-8")  # a damaged failure record
    assert main(["summarise", str(store)]) == 0
    err = capsys.readouterr().err
    assert all(name in err for name in damaged) and "left out" in err, err
    assert pd.read_csv(store / "summary.csv")["seeds"].sum() == 0  # every run of this store was damaged
    assert main(["sweep", str(tmp_path / "exp.toml"), "--out", str(store), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "4 runs done now" in captured.out
    for name in damaged:
        assert f"{name}.parquet" in captured.err
    assert "failed/p00000_s0.json: a damaged failure record" in captured.err
    assert (store / "rejected" / "failed").is_dir() and not list((store / "failed").iterdir())
    assert "Traceback" not in captured.err
    moved = sorted(p.name.split(".")[0] for p in (store / "rejected" / "runs").glob("*.parquet.*")
                   if not p.name.endswith(".why.txt"))
    assert moved == sorted(damaged)
    reasons = " ".join(p.read_text() for p in (store / "rejected" / "runs").glob("*.why.txt"))
    assert "cannot be read" in reasons and "its design is" in reasons and "its seed is 0" in reasons
    pd.testing.assert_frame_equal(pd.read_parquet(store / "outcomes.parquet").drop(columns="seconds"),
                                  pd.read_parquet(stores["store"] / "outcomes.parquet").drop(columns="seconds"))
    for name in damaged:
        pd.testing.assert_frame_equal(pd.read_parquet(runs / f"{name}.parquet"),
                                      pd.read_parquet(stores["store"] / "runs" / f"{name}.parquet"))


def test_damaged_and_foreign_compare_runs_are_moved_and_rerun(stores, tmp_path):
    cmp_dir = _copy_store(stores, tmp_path, "cmp", "cmp")
    shutil.copy(stores["base"] / "other.toml", tmp_path / "other.toml")
    runs = cmp_dir / "runs"
    (runs / "tiny" / "seed_0.parquet").write_bytes(b"garbage")
    shutil.copy(runs / "other" / "seed_0.parquet", runs / "tiny" / "seed_1.parquet")  # another scenario's run
    with pytest.warns(UserWarning) as caught:
        result = compare([tmp_path / "tiny.toml", tmp_path / "other.toml"], seeds=2, out=cmp_dir)
    said = " ".join(str(w.message) for w in caught)
    assert "tiny/seed_0.parquet" in said and "tiny/seed_1.parquet" in said
    assert len(list((cmp_dir / "rejected" / "runs" / "tiny").glob("*.why.txt"))) == 2
    pd.testing.assert_frame_equal(result.differences, pd.read_parquet(stores["cmp"] / "differences.parquet"))


def test_a_damaged_manifest_moved_away_resumes_from_the_checked_runs(stores, tmp_path, capsys):
    """The message for a damaged sweep.json says to move it away; done as it says, the sweep rebuilds the manifest
    and keeps every run file that belongs to the design (none runs again)."""
    store = _copy_store(stores, tmp_path)
    (store / "sweep.json").write_text("{", encoding="utf-8")
    assert main(["sweep", str(tmp_path / "exp.toml"), "--out", str(store), "--no-progress"]) == 2
    assert "move it away (e.g. to sweep.json.damaged)" in capsys.readouterr().err
    (store / "sweep.json").rename(store / "sweep.json.damaged")
    assert main(["sweep", str(tmp_path / "exp.toml"), "--out", str(store), "--no-progress"]) == 0
    assert "0 runs done now" in capsys.readouterr().out
    assert json.loads((store / "sweep.json").read_text())["status"]["complete"]


def _dask_cli() -> list[str]:
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


def _cluster(tmp: Path, name: str) -> tuple[list[subprocess.Popen], str]:
    """A scheduler and a single-threaded worker on 127.0.0.1; returns the processes and the address."""
    scheduler_file = tmp / f"{name}.json"
    log = (tmp / f"{name}.log").open("w")
    procs = [subprocess.Popen([*_dask_cli(), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(scheduler_file)], stdout=log, stderr=subprocess.STDOUT)]
    _wait_for(lambda: scheduler_file.is_file() and "address" in scheduler_file.read_text(), "the scheduler")
    address = json.loads(scheduler_file.read_text())["address"]
    procs.append(subprocess.Popen([*_dask_cli(), "worker", address, "--nworkers", "1", "--nthreads", "1", "--host",
                                   "127.0.0.1", "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT))
    from distributed import Client

    with Client(address, set_as_default=False) as client:
        client.wait_for_workers(1, timeout=300)
    return procs, address


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_scheduler_killed_mid_sweep_then_exact_resume_on_a_new_scheduler(tmp_path, fault_reference):
    _files(tmp_path, {"tiny.toml": SCENARIO, "e.toml": EXP_FAULTS})
    out = tmp_path / "store"
    procs, address = _cluster(tmp_path, "first")
    try:
        # Dask's connect timeout is also how long the client tries to reconnect before the sweep stops: 30 s by
        # default, 5 s here (loopback), set as a user would
        env = dict(os.environ, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT="5s")
        sweeping = subprocess.Popen(_cli("sweep", str(tmp_path / "e.toml"), "--scheduler", address, "--out",
                                         str(out), "--no-progress"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env)
        _wait_for(lambda: sweeping.poll() is not None or len(list((out / "runs").glob("*.parquet"))) >= 2, "runs")
        assert sweeping.poll() is None, sweeping.communicate()
        procs[0].kill()  # the scheduler dies
        try:
            stdout, stderr = sweeping.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            sweeping.kill()
            pytest.fail("the sweep did not stop within 3 minutes of its scheduler's death")
    finally:
        _stop(procs)
    assert sweeping.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr and stderr.count("error:") == 1, stderr
    assert address in stderr and "stopped answering" in stderr and "run the same command" in stderr
    kept = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert 2 <= len(kept) < N_FAULT_RUNS
    procs, address = _cluster(tmp_path, "second")
    try:
        assert main(["sweep", str(tmp_path / "e.toml"), "--scheduler", address, "--out", str(out),
                     "--no-progress"]) == 0
    finally:
        _stop(procs)
    assert all((out / "runs" / n).stat().st_mtime_ns == t for n, t in kept.items())  # kept runs not run again
    _assert_same_sweep(out, fault_reference)


def test_jobs_in_flight_end_as_cancelled_when_the_scheduler_stops_answering(monkeypatch):
    """``run_jobs`` does not wait for ever on jobs whose Dask scheduler went away: when none has finished for a
    while and nothing answers at the scheduler's address for Dask's connect timeout, they end as cancelled (Dask's
    client does this itself when it gives up reconnecting, but not always)."""
    import concurrent.futures as cf
    import threading

    import dask.config

    from quartiersim import executors

    with socket.socket() as sock:  # an address where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(executors, "WATCH_SECONDS", 0.2)
    release = threading.Event()
    errors, results = [], []
    with cf.ThreadPoolExecutor(2) as pool, dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        pool.scheduler_address = f"tcp://127.0.0.1:{port}"
        t0 = time.monotonic()
        executors.run_jobs(pool, lambda job: release.wait(60) and job, [1, 2, 3], lambda j, r: results.append(j),
                           lambda j, e: errors.append((j, e)), window=2)
        waited = time.monotonic() - t0
        release.set()
    # no result: it returned long before the jobs could end (60 s), and only after the connect timeout
    assert not results and [j for j, _ in errors] == [1, 2]
    assert all(isinstance(e, cf.CancelledError) and "stopped answering" in str(e) for _, e in errors)
    assert waited >= 1.0, waited


# --- a full disk -------------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of 20 MiB: a disk that can be filled (needs root to mount; skipped with the reason otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small tmpfs, and mounting one needs root")
    path = tmp_path / "disk"
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path) -> Path:
    """Fill the disk to the last byte; returns the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (2**20, 4096, 1):  # unbuffered: nothing is left to flush when the disk is full
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def _full_disk(argv: list[str], ready: Callable[[], bool], disk: Path) -> tuple[int, str]:
    """Run a command, fill the disk once ``ready()``, and return its exit status and output."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: proc.poll() is not None or ready(), "the command to start writing")
    assert proc.poll() is None, proc.communicate()[0]
    _fill(disk)
    output, _ = proc.communicate()
    return proc.returncode, output


def test_full_disk_during_a_sweep_then_resume(small_disk, tmp_path, fault_reference):
    _files(tmp_path, {"tiny.toml": SCENARIO, "e.toml": EXP_FAULTS})
    out = small_disk / "store"
    status, output = _full_disk(_cli("sweep", str(tmp_path / "e.toml"), "--out", str(out), "--no-progress"),
                                lambda: len(list((out / "runs").glob("*.parquet"))) >= 1, small_disk)
    assert status == 1, output
    assert "Traceback" not in output and "the disk is full" in output and str(out) in output, output
    assert not list(out.rglob("*.partial"))
    (small_disk / "filler").unlink()
    assert sweep(tmp_path / "e.toml", out).complete
    _assert_same_sweep(out, fault_reference)


def test_full_disk_during_compare_and_run(small_disk, tmp_path):
    _files(tmp_path, {"a.toml": SCENARIO.replace('"tiny"', '"a"'), "b.toml": SCENARIO.replace('"tiny"', '"b"'),
                      "s.toml": SCENARIO})
    out = small_disk / "cmp"
    status, output = _full_disk(_cli("compare", str(tmp_path / "a.toml"), str(tmp_path / "b.toml"), "--seeds", "4",
                                     "--out", str(out), "--no-progress"),
                                lambda: len(list((out / "runs").rglob("*.parquet"))) >= 1, small_disk)
    assert status == 1 and "Traceback" not in output and "the disk is full" in output, output
    assert not list(out.rglob("*.partial"))
    (small_disk / "filler").unlink()
    # run: the disk fills while it simulates, before it writes
    out = small_disk / "run"
    proc = subprocess.Popen(_cli("run", str(tmp_path / "s.toml"), "--out", str(out), "--no-progress"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    header = proc.stdout.readline()  # printed once the checks (free space among them) have passed
    assert "quartiersim run" in header, header + proc.communicate()[0]
    _fill(small_disk)
    output = header + proc.communicate()[0]
    assert proc.returncode == 1 and "Traceback" not in output and "the disk is full" in output, output
    assert not out.exists() and not list(small_disk.glob(".run*"))


def test_too_little_free_space_is_refused_before_anything(small_disk, tmp_path, capsys):
    _files(tmp_path, {"s.toml": SCENARIO})
    (small_disk / "filler").write_bytes(b"\0" * 10 * 2**20)  # 10 of 20 MiB left: less than a command asks for
    assert main(["run", str(tmp_path / "s.toml"), "--out", str(small_disk / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "--out" in err and "room on the disk" in err and "MiB free" in err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


# --- files: modes, partial leftovers, names ----------------------------------------------------------------------

def _modes(*paths: Path) -> tuple[set[int], set[int]]:
    """The permission bits of every file and of every directory under ``paths`` (themselves included)."""
    files, dirs = set(), set()
    for top in paths:
        for p in [top, *top.rglob("*")]:
            (dirs if p.is_dir() else files).add(p.stat().st_mode & 0o777)
    return files, dirs


def test_output_files_follow_the_umask(tmp_path, monkeypatch):
    """Under umask 022 every file a command writes is readable by group and others (0644, directories 0755);
    under 077 by the owner alone."""
    _files(tmp_path, {"tiny.toml": SCENARIO, "exp.toml": EXPERIMENT})
    monkeypatch.chdir(tmp_path)
    previous = os.umask(0o022)
    try:
        assert main(["run", "tiny.toml", "--out", "run", "--no-progress"]) == 0
        assert main(["sweep", "exp.toml", "--out", "store", "--no-progress"]) == 0
        assert main(["summarise", "store"]) == 0
        assert main(["areas", "--out", "ranking.csv"]) == 0
        assert main(["plot", "run", "--out", "figs"]) == 0
        os.umask(0o077)
        assert main(["run", "tiny.toml", "--out", "private", "--no-progress"]) == 0
    finally:
        os.umask(previous)
    files, dirs = _modes(tmp_path / "run", tmp_path / "store", tmp_path / "figs", tmp_path / "ranking.csv")
    assert files == {0o644} and dirs == {0o755}
    assert len(list((tmp_path / "store").rglob("*.parquet"))) >= 6 and len(list((tmp_path / "figs").iterdir())) >= 3
    assert _modes(tmp_path / "private") == ({0o600}, {0o700})


def test_a_killed_runs_partial_output_is_cleaned_on_the_next_start(tmp_path, monkeypatch):
    """Hidden partial directories of a dead process (and of older versions, without an owner) go on the next
    run; one of a live process stays."""
    _files(tmp_path, {"tiny.toml": SCENARIO})
    monkeypatch.chdir(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = __import__("quartiersim.files", fromlist=["_HOST"])._HOST
    leftovers = [tmp_path / "runs" / f".out.abc.{dead_pid}-{host}.partial", tmp_path / "runs" / ".out.old.partial"]
    live = tmp_path / "runs" / f".out.xyz.1-{host}.partial"  # pid 1 always runs
    for d in [*leftovers, live]:
        d.mkdir(parents=True)
        (d / "results.parquet").write_bytes(b"half")
    assert main(["run", "tiny.toml", "--out", "runs/out", "--no-progress"]) == 0
    assert not any(d.exists() for d in leftovers) and live.exists()
    assert remove_partials(tmp_path / "runs") == []


def test_default_output_names_stay_inside_their_folder():
    assert safe_name("../../x") == "x" and "/" not in safe_name("a/b\\c") and safe_name(".hidden") == "hidden"
    assert safe_name("Bad Cannstatt (2028)") == "Bad_Cannstatt_(2028)" and safe_name("Neckarvorstadt") == \
        "Neckarvorstadt"


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    """A real bug (one put in on purpose: resolving a scenario raises RuntimeError) is one line with exit status 1;
    with --debug (before or after the subcommand) the exception goes on, so Python prints its traceback."""
    import quartiersim.spec

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    _files(tmp_path, {"s.toml": SCENARIO})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(quartiersim.spec, "resolve_scenario", boom)
    assert main(["run", "s.toml", "--no-progress"]) == 1
    err = capsys.readouterr().err.replace("\n", " ")
    assert "unexpected error (RuntimeError: boom)" in err and "--debug" in err and "Traceback" not in err
    for argv in (["--debug", "run", "s.toml"], ["run", "s.toml", "--debug"]):
        with pytest.raises(RuntimeError, match="boom"):
            main([*argv, "--no-progress"])


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    """The same boundary in a real process: non-UTF-8 TOML, a garbage sweep.json."""
    _files(tmp_path, {"s.toml": BAD_UTF8, "store/sweep.json": "{garbage", "e.toml": EXPERIMENT, "tiny.toml": SCENARIO})
    for argv, named in ([("run", "s.toml", "--no-progress"), "s.toml"],
                        [("sweep", "e.toml", "--out", "store", "--no-progress"), "sweep.json"]):
        done = subprocess.run(_cli(*argv), capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 2 and "Traceback" not in done.stderr and named in done.stderr, done.stderr
