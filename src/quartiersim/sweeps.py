"""Running an experiment's design (``quartiersim sweep``), the results store, summaries and sensitivity indices.

:func:`sweep` runs every design point of an experiment (:mod:`quartiersim.experiments`) with every seed on an
executor (:mod:`quartiersim.executors`: this process, local worker processes, or a Dask cluster) and writes
each run as soon as it returns. The store in the output directory::

    sweep.json                 the manifest: experiment, seeds, outcomes, what identifies the design, status
    design.csv, design.parquet the design points (point, lever_set, sample, one column per factor)
    runs/p00012_s3.parquet     one file per finished run: its yearly table (the Stadtteile the experiment
                               keeps) with ``point`` and ``seed`` columns, and in its metadata the point, seed,
                               design fingerprint and version; ``pd.read_parquet(DIR / "runs")`` reads them all
    failed/p00012_s3.json      one record per failed run: the error and its traceback
    outcomes.csv, .parquet     one row per finished run: point, seed, factors and the outcome values
    rejected/                  run files that could not be used (damaged, or of another run, design or version),
                               each with a ``.why.txt``; never used, never deleted
    quartiersim.lock           while a sweep writes: who (pid, host); a second sweep on the store is refused

Every file is written atomically (a hidden temporary file renamed into place), so a sweep killed at any moment
leaves each run either complete or absent. Running ``sweep`` again on the directory resumes: finished runs are
skipped, failed runs too unless ``rerun_failed``; a directory holding a different design is refused. Each run
file is checked before a resume counts it as finished: one that cannot be read, or whose point, seed, design or
version is not the one its name and the store say, is moved to ``rejected/``, reported, and run again. A run
that raises is recorded and the sweep goes on. A run's numbers depend only on its scenario and seed, not on the
executor or on which runs were done before.

:func:`summarise` gives, per design point and outcome, the mean over seeds, the 5th and 95th percentiles of
the seeds' values (the 90 % range of outcomes) and a 90 % t-interval of the mean; for designs with
uncertainties also per lever combination, over every sample and seed (``summary_levers.csv``).
:func:`sensitivity` computes Sobol or Morris indices with SALib for each lever combination, from the seed means
of a design made for it.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import os
import socket
import sys
import textwrap
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from quartiersim.compare import BYTES_PER_ROW, RejectedRunWarning, check_workers, yearly
from quartiersim.errors import CommandError, InputError
from quartiersim.executors import InProcessExecutor, dask_executor, local_executor, run_jobs, scheduler_answers
from quartiersim.experiments import Experiment, OutcomeSpec, load_experiment, outcome_values_of
from quartiersim.files import (
    LOCK_FILE,
    REJECTED,
    DirectoryLock,
    check_output,
    check_run_file,
    check_store,
    read_run_info,
    reject,
    remove_partials,
    write_atomic,
    write_run,
    write_text_atomic,
)
from quartiersim.outputs import GROUPS, INDICATORS, indicator_table
from quartiersim.posterior import Posterior, drawn_parameters, resolve_posterior
from quartiersim.run import INDICATORS_KEY, package_version, simulate
from quartiersim.spec import Scenario

MANIFEST = "sweep.json"
RUNS = "runs"
FAILED = "failed"
#: What a store directory may hold; a directory with nothing else (and no manifest) is one to rebuild.
ENTRIES = {MANIFEST, RUNS, FAILED, REJECTED, LOCK_FILE, "design.csv", "design.parquet", "outcomes.csv",
           "outcomes.parquet", "summary.csv", "summary.parquet", "summary_levers.csv", "summary_levers.parquet",
           "sensitivity.csv", "sensitivity.parquet", "sensitivity.png"}
__all__ = ["read_run_info", "write_run"]  # kept importable from here; they live in quartiersim.files


def run_name(point: int, seed: int) -> str:
    """The store's name of a run (without suffix)."""
    return f"p{point:05d}_s{seed}"


@dataclass(frozen=True)
class RunJob:
    """One run of a sweep, as sent to a worker."""

    point: int
    seed: int
    data: dict[str, Any]
    keep: list[str] | None
    threads: int | None
    resolution: str = "yearly"


def execute(job: RunJob) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A worker's task: run one design point with one seed and return its yearly table and run information."""
    if job.threads is not None:
        import numba

        numba.set_num_threads(min(job.threads, numba.config.NUMBA_NUM_THREADS))
    t0 = time.perf_counter()
    table = simulate(Scenario(**job.data), seed=job.seed)
    table = yearly(table) if job.resolution == "yearly" else _plain(table)
    if job.keep is not None:
        table = table[table["stadtteil"].isin(job.keep)]
    table = table.reset_index(drop=True).assign(point=np.int32(job.point), seed=np.int32(job.seed))
    info = {"point": job.point, "seed": job.seed, "seconds": time.perf_counter() - t0, "host": socket.gethostname(),
            "pid": os.getpid(), "version": package_version(),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    return table, info


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """A tidy table by reporting period with plain text columns (for Parquet files read back alike)."""
    table = table.copy()
    table.attrs = {}
    for col in ("stadtteil", "indicator", "group"):
        table[col] = table[col].astype(str)
    return table


@dataclass
class SweepResult:
    """What a call of :func:`sweep` did and where the store stands."""

    out: Path
    total: int
    finished: int
    failed: int
    ran: int
    lost: int
    seconds: float
    outcomes: pd.DataFrame = field(repr=False)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    posterior: dict[str, Any] | None = None  # where the seeds' parameter sets were drawn from (None: fixed)

    @property
    def complete(self) -> bool:
        """Whether every run of the design has finished."""
        return self.finished == self.total


def sweep(experiment: str | Path | Experiment, out: str | Path, workers: int = 1,
          scheduler: str | None = None, scheduler_file: str | None = None, executor: Executor | None = None,
          rerun_failed: bool = False, progress: Callable[[int, int, int], None] | None = None,
          posterior: str | Path | Posterior | bool | None = None) -> SweepResult:
    """Run (or resume) every design point of an experiment with every seed and store each run as it finishes.

    Args:
        experiment: an experiment file or a loaded :class:`~quartiersim.experiments.Experiment`.
        out: the store directory; an existing store of the same experiment is resumed.
        workers: local worker processes (1 runs in this process).
        scheduler: the address of a running dask.distributed scheduler (``tcp://HOST:PORT``) instead.
        scheduler_file: a Dask scheduler file instead of the address.
        executor: any concurrent.futures executor instead (e.g. ``Client(cluster).get_executor()``).
        rerun_failed: run again the runs recorded as failed.
        progress: called as ``progress(ran, to_run, failed)`` before the first run and after each: runs done in
            this call, runs this call has to do, and failed runs in the store.
        posterior: where parameter sets are drawn from (:mod:`quartiersim.posterior`): None (the default) the
            bundled calibration's posterior, a calibration's directory or ``posterior.csv``, or False for fixed
            parameters. Each seed runs with one parameter set drawn by weight, the same at every design point,
            for the posterior's parameters a point's scenario does not set itself (levers and uncertainties
            keep their values). The posterior is part of the design: a store is resumed only with the same one.

    Returns:
        The counts and the outcome table of every finished run (also in ``outcomes.csv``/``.parquet``).

    Raises:
        InputError: a bad experiment, or an output directory holding something else.

    """
    t0 = time.perf_counter()
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    out = Path(out)
    if executor is None and scheduler is None and scheduler_file is None:
        check_workers(workers)
    wanted = [(int(p), s) for p in exp.design["point"] for s in exp.seeds]
    post = _sweep_posterior(exp, resolve_posterior(posterior))
    check_output(out, "--out", "directory", resume=True, needed_bytes=_bytes_needed(exp, len(wanted)))
    fingerprint = _check_store(out, exp, post)
    design_id = _digest(fingerprint)
    version = package_version()
    runs, failed_dir = out / RUNS, out / FAILED
    total = len(wanted)
    present = {p.stem for p in runs.glob("p*_s*.parquet")} | (set() if rerun_failed else
                                                               {p.stem for p in failed_dir.glob("p*_s*.json")})
    expected_jobs = sum(run_name(p, s) not in present for p, s in wanted)  # before the files are checked
    context, window, threads = _executor(workers, scheduler, scheduler_file, executor, expected_jobs)
    with context as ex:  # a bad executor argument or an unreachable scheduler fails here, before any writing
        out.mkdir(parents=True, exist_ok=True)
        with DirectoryLock(out, "quartiersim sweep") as lock:
            notes = [lock.took_over] if lock.took_over else []
            _check_store(out, exp, post)  # again: another sweep may have written the store before the lock was taken
            _create_store(out, exp, fingerprint, post)
            rejected = _check_runs(out, wanted, design_id, version)
            done = {p.stem for p in runs.glob("p*_s*.parquet")}
            failed = _failed_records(out, rejected)
            todo = [(p, s) for p, s in wanted
                    if run_name(p, s) not in done and (rerun_failed or run_name(p, s) not in failed)]
            state = {"finished": sum(run_name(p, s) in done for p, s in wanted), "ran": 0, "lost": 0,
                     "failed": {run_name(p, s) for p, s in wanted if run_name(p, s) in failed}}
            def report() -> None:
                if progress:
                    progress(state["ran"] + state["lost"], len(todo), len(state["failed"]))

            def finished(job: RunJob, result: tuple[pd.DataFrame, dict[str, Any]]) -> None:
                table, info = result
                name = run_name(job.point, job.seed)
                if info.get("version") != version:
                    failed_run(job, RuntimeError(f"the worker runs quartiersim {info.get('version')}, this sweep "
                                                 f"{version}; install the same version on every worker"))
                    return
                write_run(runs / f"{name}.parquet", table, {**info, "design": design_id},
                          {INDICATORS_KEY: indicator_table()})
                (failed_dir / f"{name}.json").unlink(missing_ok=True)
                state["failed"].discard(name)
                state["finished"] += 1
                state["ran"] += 1
                report()

            def failed_run(job: RunJob, exc: BaseException) -> None:
                if _lost(exc):  # a worker process or the scheduler went away: no fault of this run; resume retries it
                    state["lost"] += 1
                    report()
                    return
                name = run_name(job.point, job.seed)
                record = {"point": job.point, "seed": job.seed, "error": type(exc).__name__, "message": str(exc),
                          "traceback": "".join(traceback.format_exception(exc)),
                          "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
                write_text_atomic(failed_dir / f"{name}.json", json.dumps(record, indent=2))
                state["failed"].add(name)
                state["ran"] += 1
                report()

            keep = exp.keep()
            jobs = (RunJob(p, s, run_data(exp, p, s, post), keep, threads, exp.resolution) for p, s in todo)
            report()
            try:
                run_jobs(ex, execute, jobs, finished, failed_run, window=window)
            finally:
                try:
                    _update_manifest(out, exp, state["finished"], len(state["failed"]), total)
                except OSError:  # a full disk: the error that stopped the runs is the one to report
                    if sys.exc_info()[0] is None:
                        raise
            address = getattr(ex, "scheduler_address", None)
            if state["lost"] and address is not None and not scheduler_answers(address):
                raise CommandError(address, f"the Dask scheduler stopped answering during the sweep; {state['lost']} "
                                   f"runs were not finished", f"the {state['finished']} finished runs are kept in "
                                   f"{out}: start a scheduler and workers and run the same command with its address "
                                   "to resume", exit_status=1)
            outcomes = collect_outcomes(out)
            write_atomic(out / "outcomes.parquet", lambda p: outcomes.to_parquet(p, index=False))
            write_atomic(out / "outcomes.csv", lambda p: outcomes.to_csv(p, index=False))
    return SweepResult(out, total, state["finished"], len(state["failed"]), state["ran"], state["lost"],
                       time.perf_counter() - t0, outcomes, rejected, notes, _posterior_info(post))


def _sweep_posterior(exp: Experiment, post: Posterior | None) -> Posterior | None:
    """The posterior a sweep draws from: None when there is none or every point sets its parameters itself."""
    if post is None:
        return None
    drawn = any(drawn_parameters(exp.scenario_data(int(p))["parameters"], post) for p in exp.design["point"])
    return post if drawn else None


def _posterior_info(post: Posterior | None) -> dict[str, Any] | None:
    return None if post is None else {"source": post.source, "digest": post.digest, "parameters": post.parameters}


def run_data(exp: Experiment, point: int, seed: int, post: Posterior | None) -> dict[str, Any]:
    """The scenario data one run of a sweep simulates: the point's scenario with the seed's drawn parameters."""
    data = exp.scenario_data(point)
    if post is not None:
        draw = post.draw(seed)
        data["parameters"].update({k: draw[k] for k in drawn_parameters(data["parameters"], post)})
    return data


def _lost(exc: BaseException) -> bool:
    """Whether a run ended because its worker or the cluster went away, not because of the run itself."""
    import asyncio

    if isinstance(exc, BrokenProcessPool | cf.CancelledError | asyncio.CancelledError):
        return True
    # distributed's CancelledError, KilledWorker, CommClosedError and the like, without importing dask here
    return type(exc).__module__.split(".")[0] == "distributed"


def _bytes_needed(exp: Experiment, n_runs: int) -> int:
    """A generous estimate of what the sweep's run files take (see :func:`quartiersim.compare._bytes_needed`)."""
    from quartiersim.data import load_stadtteile, simulated_rows

    base = exp.base
    table = load_stadtteile(base.path_of(base.stadtteile_file))
    places = (len(simulated_rows(table, base.stadtteile, base.bezirke, base.origin)) + 1 if exp.store == "all"
              else len(exp.keep() or []))
    years = base.end.year - base.start.year + 1
    periods = years if exp.resolution == "yearly" else max((base.end - base.start).days // 7 + 1, years)
    return places * len(INDICATORS) * len(GROUPS) * periods * n_runs * BYTES_PER_ROW


def _check_runs(out: Path, wanted: list[tuple[int, int]], design_id: str, version: str) -> list[tuple[str, str]]:
    """Check every run file the design wants; move each that cannot be used to ``rejected/`` (it runs again).

    Returns:
        ``(file, reason)`` of each file moved aside.

    """
    rejected = []
    runs = out / RUNS
    for point, seed in wanted:
        path = runs / f"{run_name(point, seed)}.parquet"
        if not path.is_file():
            continue
        why = check_run_file(path, {"point": point, "seed": seed, "design": design_id, "version": version},
                             columns={"point": point, "seed": seed})
        if why is not None:
            moved = reject(path, out, why)
            rejected.append((str(path), f"{why}; moved to {moved} and run again"))
    return rejected


def _failed_records(out: Path, rejected: list[tuple[str, str]]) -> set[str]:
    """Names of the runs recorded as failed.

    A damaged record is moved to ``rejected/`` (its run runs again) and added to ``rejected``.
    """
    names = set()
    for path in sorted((out / FAILED).glob("p*_s*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or "error" not in record:
                raise ValueError("not a failure record")
        except (OSError, ValueError) as exc:
            why = f"a damaged failure record ({exc})"
            rejected.append((str(path), f"{why}; moved to {reject(path, out, why)}, and its run runs again"))
            continue
        names.add(path.stem)
    return names


def _executor(workers: int, scheduler: str | None, scheduler_file: str | None, executor: Executor | None,
              n_jobs: int) -> tuple[AbstractContextManager[Executor], int | None, int | None]:
    """The executor's context, the most jobs in flight, and the numba threads per run."""
    if executor is not None:
        return nullcontext(executor), (1 if isinstance(executor, InProcessExecutor) else None), 1
    if scheduler is not None or scheduler_file is not None:
        if workers != 1:
            raise InputError("argument", "--workers", "no --workers with --scheduler (the cluster's workers run "
                             "the sweep)", workers)
        return dask_executor(scheduler, scheduler_file), None, 1
    check_workers(workers)
    if workers == 1 or n_jobs <= 1:
        return local_executor(1), 1, None
    return local_executor(workers), 2 * workers, 1


# ------------------------------------------------------------------------------------------------------------
# the store
# ------------------------------------------------------------------------------------------------------------

def _fingerprint(exp: Experiment, post: Posterior | None = None) -> dict[str, Any]:
    ident = exp.identity()
    for data in ident["lever_data"]:
        data.pop("base_dir", None)
        data.pop("source_file", None)
    ident["posterior"] = None if post is None else post.digest
    return {key: _digest(value) for key, value in ident.items()}


def _digest(value: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check_store(out: Path, exp: Experiment, post: Posterior | None = None) -> dict[str, str]:
    """Check that ``out`` is new, empty, or a store of this experiment's design; returns the design's fingerprint.

    A store's files without a manifest (one moved away because it was damaged) are accepted: every run file is
    checked against the design before it is counted.

    Raises:
        InputError: a directory holding something else, or another design.
        CommandError: a damaged manifest (exit status 2; the message says how to go on).

    """
    fingerprint = _fingerprint(exp, post)
    check_store(out, MANIFEST, lambda: _read_manifest(out / MANIFEST), "fingerprint", fingerprint, ENTRIES,
                "a sweep of this same design", "an earlier sweep", moved_aside=True)
    return fingerprint


def _read_manifest(path: Path) -> dict[str, Any]:
    """A store's ``sweep.json``; a damaged one is a CommandError saying how to go on."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("fingerprint", {}), dict):
            raise ValueError("not a sweep manifest")
        return manifest
    except (OSError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CommandError(path, f"the store's manifest is damaged ({type(exc).__name__}: {exc})",
                           f"move it away (e.g. to {MANIFEST}.damaged) and run 'quartiersim sweep' with the "
                           "experiment again: each run file is checked against the design before it is kept",
                           exit_status=2) from None


def _create_store(out: Path, exp: Experiment, fingerprint: dict[str, str], post: Posterior | None = None) -> None:
    """Create the store (or tidy an existing one): directories, design files and the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    for d in (out, out / RUNS, out / FAILED):
        remove_partials(d)
    # written each time: they follow from the experiment (whose design the fingerprint matched), and a damaged
    # copy is repaired
    write_atomic(out / "design.parquet", lambda p: exp.design.to_parquet(p, index=False))
    write_atomic(out / "design.csv", lambda p: exp.design.to_csv(p, index=False))
    (out / RUNS).mkdir(exist_ok=True)
    _update_manifest(out, exp, None, None, len(exp.design) * len(exp.seeds), fingerprint, _posterior_info(post))


def _update_manifest(out: Path, exp: Experiment, finished: int | None, failed: int | None, total: int,
                     fingerprint: dict[str, Any] | None = None, posterior: dict[str, Any] | None = None) -> None:
    manifest_path = out / MANIFEST
    old = _read_manifest(manifest_path) if manifest_path.is_file() else {}
    manifest = {
        "name": exp.name, "description": exp.description, "experiment_file": exp.source,
        "experiment": exp.raw, "base_scenario": exp.base.resolved(), "method": exp.method,
        "settings": exp.settings, "seeds": exp.seeds, "levers": list(exp.levers),
        "uncertainties": [{"name": u.name, "low": u.low, "high": u.high, "integer": u.integer}
                          for u in exp.uncertainties],
        "outcomes": [o.model_dump() for o in exp.outcomes], "outcome_stadtteile": exp.outcome_stadtteile,
        "store": exp.store, "points": exp.n_points, "runs": total,
        "fingerprint": fingerprint or old.get("fingerprint"), "version": package_version(),
        "posterior": posterior if fingerprint else old.get("posterior"),
        "created": old.get("created", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
        "status": old.get("status", {}),
    }
    if finished is not None:
        manifest["status"] = {"finished": finished, "failed": failed, "missing": total - finished - (failed or 0),
                              "complete": finished == total,
                              "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False, default=str))


@dataclass
class Store:
    """A sweep's store read back: manifest, design, outcome definitions."""

    path: Path
    manifest: dict[str, Any]
    design: pd.DataFrame
    outcomes: list[OutcomeSpec]

    @property
    def seeds(self) -> list[int]:
        """The seeds of the sweep."""
        return [int(s) for s in self.manifest["seeds"]]

    @property
    def factors(self) -> list[str]:
        """Lever and uncertainty names."""
        return [*self.manifest["levers"], *(u["name"] for u in self.manifest["uncertainties"])]

    @property
    def design_id(self) -> str:
        """The fingerprint of the design that every run file of the store carries."""
        return _digest(self.manifest.get("fingerprint"))

    def failures(self) -> pd.DataFrame:
        """The failed runs with their errors (damaged records are left out)."""
        rows = []
        for p in sorted((self.path / FAILED).glob("p*_s*.json")):
            try:
                record = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict):
                rows.append(record)
        return pd.DataFrame(rows, columns=["point", "seed", "error", "message", "traceback", "time"])


def open_store(path: str | Path) -> Store:
    """Read a sweep directory's manifest and design.

    Raises:
        InputError: it is not a sweep's store.
        CommandError: its manifest or design file is damaged (the message says how to go on).

    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise InputError(path, MANIFEST, "a directory written by 'quartiersim sweep' (it has no sweep.json)")
    manifest = _read_manifest(manifest_path)
    try:
        design = pd.read_parquet(path / "design.parquet")
        outcomes = [OutcomeSpec(**o) for o in manifest["outcomes"]]
        for key in ("seeds", "levers", "uncertainties", "method", "outcome_stadtteile", "name"):
            manifest[key]  # noqa: B018 - each must be there
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(path, f"the store is damaged ({type(exc).__name__}: {exc})",
                           "run 'quartiersim sweep' with its experiment on it again: that rewrites the manifest and "
                           "the design and checks every run file", exit_status=2) from None
    return Store(path, manifest, design, outcomes)


def collect_outcomes(path: str | Path, skipped: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """One row per finished run of the store: point, seed, the factors, seconds and each outcome's value.

    A run file that cannot be used (damaged, or of another run or design) is left out and added to ``skipped``
    as ``(file, reason)``; the next ``quartiersim sweep`` on the store moves it aside and runs it again.
    """
    store = open_store(path)
    names = store.manifest["outcome_stadtteile"]
    design = store.design.set_index("point")
    rows = []
    for point in design.index:
        for seed in store.seeds:
            file = store.path / RUNS / f"{run_name(int(point), seed)}.parquet"
            if not file.is_file():
                continue
            why = check_run_file(file, {"point": int(point), "seed": seed, "design": store.design_id,
                                        "version": store.manifest.get("version")},
                                 columns={"point": int(point), "seed": seed})
            if why is None:
                try:
                    table = pd.read_parquet(file)
                except (OSError, ValueError) as exc:
                    why = f"it cannot be read ({type(exc).__name__}: {exc})"
            if why is not None:
                if skipped is not None:
                    skipped.append((str(file), why))
                continue
            row: dict[str, Any] = {"point": int(point), "seed": seed}
            values = outcome_values_of(table, list(zip(store.outcomes, names, strict=True)))
            row.update({o.label: v for o, v in zip(store.outcomes, values, strict=True)})
            row["seconds"] = read_run_info(file).get("seconds")
            rows.append(row)
    labels = [o.label for o in store.outcomes]
    frame = pd.DataFrame(rows, columns=["point", "seed", *labels, "seconds"])
    factors = store.design[["point", "lever_set", "sample", *store.factors]]
    return factors.merge(frame, on="point", how="inner")[["point", "seed", "lever_set", "sample", *store.factors,
                                                           *labels, "seconds"]]


# ------------------------------------------------------------------------------------------------------------
# summaries
# ------------------------------------------------------------------------------------------------------------

def _outcomes_warned(path: str | Path) -> pd.DataFrame:
    """:func:`collect_outcomes`, with a warning for each run file left out."""
    skipped: list[tuple[str, str]] = []
    outcomes = collect_outcomes(path, skipped)
    for file, why in skipped:
        warnings.warn(f"{file}: {why}; it is left out (the next 'quartiersim sweep' on the store moves it aside and "
                      "runs it again)", RejectedRunWarning, stacklevel=3)
    return outcomes


def summarise(path: str | Path, level: float = 0.90) -> pd.DataFrame:
    """Per design point and outcome: the seeds' mean, SD, 90 % range and a 90 % t-interval of the mean.

    ``p05``/``p95`` are the 5th and 95th percentiles of the seeds' values (where outcomes of single runs fall);
    ``mean_ci_low``/``mean_ci_high`` the t-interval of the mean over seeds (how well the mean is known).
    ``seeds`` counts the finished runs, ``missing_seeds`` the others. Written to ``summary.csv`` and
    ``summary.parquet`` in the store.
    """
    store = open_store(path)
    outcomes = _outcomes_warned(path)
    labels = [o.label for o in store.outcomes]
    long = outcomes.melt(id_vars=["point", "seed"], value_vars=labels, var_name="outcome")
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    rows = []
    for (point, outcome), group in long.groupby(["point", "outcome"], sort=False):
        v = group["value"].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        n = len(v)
        mean = float(v.mean()) if n else np.nan
        sd = float(v.std(ddof=1)) if n > 1 else np.nan
        half = float(stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
        rows.append({"point": point, "outcome": outcome, "seeds": n, "mean": mean, "sd": sd,
                     "p05": float(np.quantile(v, lo_q)) if n else np.nan,
                     "p95": float(np.quantile(v, hi_q)) if n else np.nan,
                     "mean_ci_low": mean - half, "mean_ci_high": mean + half})
    stats_table = pd.DataFrame(rows, columns=["point", "outcome", "seeds", "mean", "sd", "p05", "p95",
                                              "mean_ci_low", "mean_ci_high"])
    grid = store.design[["point", "lever_set", "sample", *store.factors]].merge(
        pd.DataFrame({"outcome": labels}), how="cross")
    table = grid.merge(stats_table, on=["point", "outcome"], how="left")
    table["seeds"] = table["seeds"].fillna(0).astype(int)
    table["missing_seeds"] = len(store.seeds) - table["seeds"]
    write_atomic(store.path / "summary.parquet", lambda p: table.to_parquet(p, index=False))
    write_atomic(store.path / "summary.csv", lambda p: table.to_csv(p, index=False))
    if store.manifest["uncertainties"]:
        levers = summarise_levers(store, outcomes, labels, lo_q, hi_q)
        write_atomic(store.path / "summary_levers.parquet", lambda p: levers.to_parquet(p, index=False))
        write_atomic(store.path / "summary_levers.csv", lambda p: levers.to_csv(p, index=False))
    return table


def summarise_levers(store: Store, outcomes: pd.DataFrame, labels: list[str], lo_q: float = 0.05,
                     hi_q: float = 0.95) -> pd.DataFrame:
    """Per lever combination and outcome, over every uncertainty sample and seed: runs, mean and 90 % range.

    How robust a choice is: where its outcome falls across the uncertain parameters and chance together.
    """
    levers = list(store.manifest["levers"])
    firsts = store.design.groupby("lever_set", sort=True)[levers].first().reset_index() if levers else \
        pd.DataFrame({"lever_set": sorted(store.design["lever_set"].unique())})
    rows = []
    for (lever_set, outcome), group in outcomes.melt(id_vars=["lever_set"], value_vars=labels,
                                                    var_name="outcome").groupby(["lever_set", "outcome"]):
        v = group["value"].to_numpy(dtype=float)
        v = v[~np.isnan(v)]
        rows.append({"lever_set": lever_set, "outcome": outcome, "runs": len(v),
                     "mean": float(v.mean()) if len(v) else np.nan,
                     "p05": float(np.quantile(v, lo_q)) if len(v) else np.nan,
                     "p95": float(np.quantile(v, hi_q)) if len(v) else np.nan})
    table = pd.DataFrame(rows, columns=["lever_set", "outcome", "runs", "mean", "p05", "p95"])
    order = {label: k for k, label in enumerate(labels)}
    table = firsts.merge(table, on="lever_set", how="left")
    return table.sort_values(["lever_set", "outcome"], key=lambda c: c.map(order) if c.name == "outcome" else c,
                             ignore_index=True)


def sensitivity(path: str | Path, outcomes: list[str] | None = None, plot: bool = True) -> pd.DataFrame:
    """Sobol or Morris indices (SALib) per lever combination and outcome, from the seed means of each point.

    Sobol: first-order ``S1`` and total ``ST`` indices with 95 % confidence half-widths (bootstrap). Morris:
    ``mu_star`` (mean absolute elementary effect, in the outcome's unit), ``mu`` and ``sigma``, with the 95 %
    half-width of ``mu_star``. ``rank`` orders the parameters by ``ST`` or ``mu_star`` (1 = most influential).
    Written to ``sensitivity.csv``/``.parquet`` and, with ``plot``, ``sensitivity.png`` in the store.

    Raises:
        InputError: the sweep's design is not Sobol or Morris, a design point has no finished run, or an outcome
            is unknown.

    """
    store = open_store(path)
    method = store.manifest["method"]
    if method not in ("sobol", "morris"):
        raise InputError(store.path, "design.method", "a sweep with design method 'sobol' or 'morris' for "
                         "sensitivity indices", method)
    labels = [o.label for o in store.outcomes]
    chosen = outcomes or labels
    for name in chosen:
        if name not in labels:
            raise InputError("argument", "--outcome", f"an outcome of this sweep: {', '.join(labels)}", name)
    uncertainties = store.manifest["uncertainties"]
    names = [u["name"] for u in uncertainties]
    problem = {"num_vars": len(names), "names": names, "bounds": [[u["low"], u["high"]] for u in uncertainties]}
    settings = store.manifest["settings"]
    runs = _outcomes_warned(path)
    means = runs.groupby("point")[chosen].mean()
    missing = sorted(set(store.design["point"]) - set(means.index))
    if missing:
        raise InputError(store.path, "runs", f"a finished run for every design point; {len(missing)} have none "
                         f"(e.g. point {missing[0]}): resume the sweep, or rerun failed runs with --rerun-failed")
    levers = list(store.manifest["levers"])
    frames = []
    for lever_set, points in store.design.groupby("lever_set", sort=True):
        points = points.sort_values("sample")
        x = points[names].to_numpy(dtype=float)
        for name in chosen:
            y = means.loc[points["point"], name].to_numpy(dtype=float)
            if np.isnan(y).any():
                raise InputError(store.path, f"outcomes.{name}", "a value in every run (some runs lack the "
                                 "outcome's year or Stadtteil)")
            frame = _indices(method, problem, x, y, settings)
            frame.insert(0, "outcome", name)
            frame.insert(0, "lever_set", int(lever_set))
            for lever in reversed(levers):
                frame.insert(1, lever, points[lever].iloc[0])
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    write_atomic(store.path / "sensitivity.parquet", lambda p: table.to_parquet(p, index=False))
    write_atomic(store.path / "sensitivity.csv", lambda p: table.to_csv(p, index=False))
    if plot:
        figure = sensitivity_figure(table, method, levers)
        write_atomic(store.path / "sensitivity.png", lambda p: figure.savefig(p, format="png", dpi=120))
    return table


def _indices(method: str, problem: dict[str, Any], x: np.ndarray, y: np.ndarray, settings: dict[str, Any]
             ) -> pd.DataFrame:
    names = problem["names"]
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=settings["levels"], conf_level=0.95, seed=0)
        frame = pd.DataFrame({"parameter": names, "mu_star": res["mu_star"], "mu_star_conf": res["mu_star_conf"],
                              "mu": res["mu"], "sigma": res["sigma"]})
        key = "mu_star"
    else:
        from SALib.analyze import sobol

        if np.var(y) == 0:  # no variance to decompose: every index is zero
            frame = pd.DataFrame({"parameter": names, "S1": 0.0, "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0})
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                res = sobol.analyze(problem, y, calc_second_order=settings["second_order"], conf_level=0.95, seed=0)
            frame = pd.DataFrame({"parameter": names, "S1": res["S1"], "S1_conf": res["S1_conf"], "ST": res["ST"],
                                  "ST_conf": res["ST_conf"]})
        key = "ST"
    frame["rank"] = frame[key].rank(ascending=False, method="min").astype(int)
    return frame


def wrap_name(name: str, width: int) -> str:
    """A long outcome name in lines of at most ``width`` characters, broken after ``_`` or a space.

    Outcome names such as ``active_initiatives_2030_Neckarvorstadt`` have no spaces, so a plain text wrap keeps
    them on one line, wider than the axes, and the figure cuts the title off.
    """
    import re

    lines = [""]
    for token in re.split(r"(?<=[_ ])", name):
        if lines[-1] and len(lines[-1]) + len(token) > width:
            lines.append("")
        lines[-1] += token
    return "\n".join(line.rstrip() for line in lines)


def sensitivity_figure(table: pd.DataFrame, method: str, levers: list[str]) -> Any:
    """Bars of each parameter's index per outcome (columns) and lever combination (rows)."""
    from matplotlib.figure import Figure

    key, conf, label = (("mu_star", "mu_star_conf", "Morris mu* (outcome units)") if method == "morris"
                        else ("ST", "ST_conf", "Sobol total index ST"))
    outcomes = list(dict.fromkeys(table["outcome"]))
    sets = sorted(table["lever_set"].unique())
    fig = Figure(figsize=(4.2 * len(outcomes), 0.45 * table["parameter"].nunique() * len(sets) + 1.5 * len(sets)),
                 layout="constrained")
    axes = fig.subplots(len(sets), len(outcomes), squeeze=False)
    for i, k in enumerate(sets):
        for j, name in enumerate(outcomes):
            ax = axes[i][j]
            rows = table[(table["lever_set"] == k) & (table["outcome"] == name)].sort_values(key)
            ax.barh(rows["parameter"], rows[key], xerr=rows[conf], color="#4477aa", capsize=2)
            if method == "sobol":
                ax.barh(rows["parameter"], rows["S1"], color="#ee6677", height=0.4, label="first order S1")
                ax.legend(fontsize=7, loc="lower right")
            ax.set_xlabel(label)
            if not (rows[key].abs() > 0).any():
                ax.set_xlim(0, 1)
                ax.text(0.5, 0.5, "all indices 0:\nno parameter changes\nthis outcome", ha="center", va="center",
                        fontsize=8, transform=ax.transAxes)
            if i == 0:
                ax.set_title(wrap_name(name, 30), fontsize=9)
            if j == 0 and levers and len(rows):
                text = "\n".join(textwrap.fill(f"{lv} = {rows.iloc[0][lv]}", 36) for lv in levers)
                ax.set_ylabel(text, fontsize=7)
    return fig
