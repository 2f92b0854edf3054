"""Paired comparison of scenarios with common random numbers (``quartiersim compare``).

Every scenario runs with the same seeds. Because each random process draws from a counter-based stream keyed
by the seed (:mod:`quartiersim.rng`), resident 17's loneliness draw in week 40 of seed 3 is the same number in
every scenario: differences between scenarios with the same seed come from the scenarios, not from chance.
The comparison is therefore paired: per seed, scenario minus reference (the first scenario), and over the
seeds the mean difference with a 90 % t-interval (``mean +- t(0.95, n-1) * sd / sqrt(n)``), for every
indicator, group, Stadtteil and year.

Years: stocks (shares, ties, active initiatives, lonely adults) take the value at the end of the year; flows
(visits, drop-outs, role hours, cost, grants) the sum over the year's reporting periods.

Cost per unit of outcome, per scenario against the reference and year (city-wide, group ``all``):

* ``lonely_adults``: the year's extra cost (roles and grants) divided by the number of lonely adults fewer at
  the end of the year: EUR a year per lonely resident fewer.
* ``active_initiatives``: the extra cost spent from the start of the run to the end of the year divided by the
  number of initiatives more active at the end of that year: EUR per initiative still active.

The ratio is given where the outcome's 90 % interval excludes zero, with a 90 % interval from a paired
bootstrap over seeds; otherwise it is left empty (``clear_effect`` false), since a ratio to an effect that may
be zero is not a cost-effectiveness.

Everything lands in the output directory: each run's yearly table as soon as it finishes
(``runs/<scenario>/seed_<k>.parquet``, with the scenario's fingerprint, the seed and the version in its metadata,
so an interrupted comparison resumes where it stopped and never reuses a file of another run), then
``yearly.parquet``, ``differences.csv``/``.parquet``, ``cost_effectiveness.csv`` and ``compare.json``. A
``quartiersim.lock`` file keeps a second process out while one writes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from quartiersim.errors import CommandError, InputError
from quartiersim.executors import MAX_WORKERS, local_executor, run_jobs
from quartiersim.experiments import MAX_SEEDS, SEED_LIMIT
from quartiersim.files import (
    LOCK_FILE,
    DirectoryLock,
    check_output,
    check_run_file,
    reject,
    remove_partials,
    safe_name,
    write_atomic,
    write_run,
    write_text_atomic,
)
from quartiersim.outputs import BETTER, CITY, YEAR_KEYS, indicator_table, yearly
from quartiersim.posterior import Posterior, drawn_parameters, resolve_posterior
from quartiersim.run import INDICATORS_KEY, package_version, simulate, write_parquet
from quartiersim.spec import Scenario, resolve_scenario

KEYS = YEAR_KEYS  # yearly() lives in outputs and is imported here for compare's users
HEADLINE = ("lonely_share", "lonely_adults", "ties_per_resident", "participation_share", "volunteer_share",
            "active_initiatives", "cost_eur", "grants_eur")
MANIFEST = "compare.json"
#: Bytes a row of a yearly table may take in Parquet, generously (measured: about 3), for the free-space check.
BYTES_PER_ROW = 16


def _run_one(job: tuple[str, dict[str, Any], int]) -> pd.DataFrame:
    """Run one scenario with one seed and return its yearly table (a worker's task)."""
    _, data, seed = job
    return yearly(simulate(Scenario(**data), seed=seed))


def _with_draw(spec: Scenario, names: list[str], draw: dict[str, float]) -> dict[str, Any]:
    """A scenario's data with the drawn values of ``names`` as its parameters."""
    data = spec.as_data()
    data["parameters"] = {**(data.get("parameters") or {}), **{k: draw[k] for k in names}}
    return data


@dataclass
class Comparison:
    """The result of :func:`compare`: the yearly tables, paired differences and cost-effectiveness."""

    reference: str
    scenarios: list[str]
    seeds: list[int]
    yearly: pd.DataFrame
    differences: pd.DataFrame
    cost_effectiveness: pd.DataFrame
    posterior: dict[str, Any] | None = None  # where the seeds' parameter sets were drawn from (None: fixed)

    @property
    def place(self) -> str:
        """What the ``Stuttgart`` rows are: the city, one Stadtteil's name, or how many Stadtteile."""
        others = sorted(set(self.differences["stadtteil"].astype(str)) - {CITY})
        if len(others) == 1:
            return others[0]
        return CITY if len(others) >= 152 or not others else f"{len(others)} simulated Stadtteile"

    @property
    def too_few_seeds(self) -> str:
        """A caution when the seeds are too few to conclude anything (empty when they are enough)."""
        return too_few_seeds(len(self.seeds))

    def years_shown(self, most: int = 4) -> list[int]:
        """Up to ``most`` years to print: spread over the years in which the scenarios differ at all.

        Years in which every scenario equals the reference (before a strategy starts, after all has ended) show
        only zeros. The first and last differing years are always among them; none differing: the last year.
        """
        d = self.differences
        d = d[(d["stadtteil"] == CITY) & (d["group"] == "all") & d["indicator"].isin(HEADLINE)]
        moved = d.groupby("year")["mean_difference"].apply(lambda v: bool((v.abs() > 0).any()))
        years = [int(y) for y in moved.index[moved.to_numpy()]] or [int(d["year"].max())]
        if len(years) <= most:
            return years
        picks = np.linspace(0, len(years) - 1, most).round().astype(int)
        return [years[k] for k in sorted(set(picks))]

    def headline(self, scenario: str, years: Sequence[int] | None = None) -> pd.DataFrame:
        """City-wide differences of the main indicators (group ``all``) for a few years."""
        d = self.differences
        d = d[(d["scenario"] == scenario) & (d["stadtteil"] == CITY) & (d["group"] == "all")
              & d["indicator"].isin(HEADLINE)]
        if years is not None:
            d = d[d["year"].isin(years)]
        return d


#: Fewer seeds than this give intervals that cannot be trusted: the spread of the paired differences is
#: estimated from so few values that two seeds which happen to agree give an interval such as [2.0, 2.0].
MIN_SEEDS = 10


def too_few_seeds(n: int) -> str:
    """The caution printed and warned about when ``n`` seeds are too few to conclude ("" when enough)."""
    if n >= MIN_SEEDS:
        return ""
    return (f"only {n} seeds: the 90 % intervals and 'clear effects' rest on too few runs to conclude anything; "
            f"use {MIN_SEEDS} or more seeds (the default is 20) before reading effects from them")

#: The most scenarios one comparison may hold (each is compared with the first).
MAX_SCENARIOS = 50
#: Entries a comparison's directory may hold; a directory with only these is one to resume.
ENTRIES = {MANIFEST, "runs", "rejected", LOCK_FILE, "yearly.parquet", "differences.parquet", "differences.csv",
           "cost_effectiveness.csv"}


def compare(scenarios: Sequence[str | Path | Scenario], seeds: int | Sequence[int] = 20,
            out: str | Path | None = None, workers: int = 1, progress: Callable[[int, int], None] | None = None,
            posterior: str | Path | Posterior | bool | None = None, **overrides: Any) -> Comparison:
    """Run scenarios with the same seeds and compare each with the first (the reference).

    Everything is checked before anything is written: every scenario with the data files it names, the seeds,
    the workers and the output directory (writable, with room, not held by another process, new or holding
    this same comparison). Each run file is checked when a resumed comparison reads it; one of another run or
    a damaged one is moved to ``rejected/`` and run again.

    Args:
        scenarios: two or more scenario files, names or Scenario objects; the first is the reference.
        seeds: the number of seeds (0 .. n-1) or the seeds themselves.
        out: the output directory; runs already in it (from an interrupted comparison of the same scenarios)
            are reused. None keeps everything in memory.
        workers: local worker processes (1 runs in this process).
        progress: called as ``progress(done, total)`` after each run.
        posterior: where parameter sets are drawn from (:mod:`quartiersim.posterior`): None (the default) the
            bundled calibration's posterior, a calibration's directory or ``posterior.csv``, or False for fixed
            parameters. Each seed runs with one parameter set drawn by weight, the same for every scenario, for
            the posterior's parameters a scenario does not set itself; the differences' intervals then include
            the parameters' uncertainty.
        **overrides: scenario fields or parameters applied to every scenario (e.g. ``scale=0.1``).

    Raises:
        InputError: fewer than two scenarios, a bad scenario, duplicate names, bad seeds or workers, or an output
            directory that cannot be used or holds something else.
        CommandError: another process writes into the output directory.

    """
    if not 2 <= len(scenarios) <= MAX_SCENARIOS:
        raise InputError("argument", "scenarios", f"at least two scenarios (the first is the reference), at most "
                         f"{MAX_SCENARIOS}", len(scenarios))
    specs = [resolve_scenario(s, **overrides) for s in scenarios]
    names = [s.name for s in specs]
    if len({safe_name(n).casefold() for n in names}) < len(names):
        raise InputError("argument", "scenarios", "scenarios with different names", names)
    seed_list = _seed_list(seeds)
    check_workers(workers)
    post = resolve_posterior(posterior)
    drawn = {s.name: drawn_parameters(s.parameters, post) for s in specs} if post is not None else {}
    if post is not None and not any(drawn.values()):
        post = None  # every scenario sets the calibrated parameters itself
    draws = post.draws(seed_list) if post is not None else {}
    manifest = {"reference": names[0], "scenarios": {s.name: s.resolved() for s in specs}, "seeds": seed_list,
                "overrides": {k: str(v) for k, v in overrides.items()},
                "posterior": None if post is None else {"source": post.source, "digest": post.digest,
                                                         "drawn": drawn}}
    manifest = json.loads(json.dumps(manifest, default=str))
    out = Path(out) if out is not None else None
    lock = None
    if out is not None:
        check_output(out, "--out", "directory", resume=True,
                     needed_bytes=_bytes_needed(specs, len(seed_list)))
        _check_out(out, manifest)
        out.mkdir(parents=True, exist_ok=True)
        lock = DirectoryLock(out, "quartiersim compare").acquire()
        if lock.took_over:
            warnings.warn(lock.took_over, RejectedRunWarning, stacklevel=2)
    try:
        if out is not None:
            _check_out(out, manifest)  # again, now that no other process can write here
            started = dict(manifest, complete=False)
            write_text_atomic(out / MANIFEST, json.dumps(started, indent=2, default=str))
        if too_few_seeds(len(seed_list)):
            warnings.warn(too_few_seeds(len(seed_list)), UserWarning, stacklevel=2)
        tables = _run_all(specs, seed_list, out, workers, progress, drawn, draws)
        yearly_all = pd.concat([t.assign(scenario=name, seed=seed) for (name, seed), t in tables.items()],
                               ignore_index=True)
        diffs = differences(yearly_all, names[0], names[1:])
        cost = cost_effectiveness(yearly_all, names[0], names[1:])
        result = Comparison(names[0], names, seed_list, yearly_all, diffs, cost, manifest["posterior"])
        if out is not None:
            write_parquet(out / "yearly.parquet", yearly_all)
            write_parquet(out / "differences.parquet", diffs)
            write_atomic(out / "differences.csv", lambda p: diffs.to_csv(p, index=False))
            write_atomic(out / "cost_effectiveness.csv", lambda p: cost.to_csv(p, index=False))
            done = dict(manifest, complete=True, version=package_version(), caution=too_few_seeds(len(seed_list)))
            write_text_atomic(out / MANIFEST, json.dumps(done, indent=2, default=str))
    finally:
        if lock is not None:
            lock.release()
    return result


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    """The seeds of a comparison: 0..n-1 for a number, else the list; at least two, each 0 <= seed < 2**31."""
    expected = (f"a number of seeds from 2 to {MAX_SEEDS:,} (or at least 2 distinct seeds, each 0 <= seed < "
                "2**31)")
    if isinstance(seeds, bool) or (isinstance(seeds, int) and not 2 <= seeds <= MAX_SEEDS):
        raise InputError("argument", "--seeds", expected, seeds)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not 2 <= len(seed_list) <= MAX_SEEDS or len(set(seed_list)) < len(seed_list) or \
            any(not 0 <= s < SEED_LIMIT for s in seed_list):
        raise InputError("argument", "--seeds", expected, seeds if len(repr(seeds)) < 80 else None)
    return seed_list


def check_workers(workers: int, field: str = "--workers") -> int:
    """A number of local worker processes: 1 to :data:`MAX_WORKERS`."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise InputError("argument", field, f"a number of worker processes from 1 to {MAX_WORKERS}", workers)
    return workers


def _bytes_needed(specs: list[Scenario], n_seeds: int) -> int:
    """A generous estimate of what a comparison writes: every run's yearly table twice (its file, yearly.parquet).

    A yearly table has a row per Stadtteil (and Stuttgart), indicator, group and year; Parquet keeps a row in
    well under :data:`BYTES_PER_ROW` bytes.
    """
    from quartiersim.data import load_stadtteile, simulated_rows
    from quartiersim.outputs import GROUPS, INDICATORS

    total = 0
    for spec in specs:
        table = load_stadtteile(spec.path_of(spec.stadtteile_file))
        places = len(simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin)) + 1
        years = spec.end.year - spec.start.year + 1
        total += places * len(INDICATORS) * len(GROUPS) * years * n_seeds * BYTES_PER_ROW * 2
    return total


def _check_out(out: Path, manifest: dict[str, Any]) -> None:
    """Check that ``out`` is new, holds only a comparison's files, or holds this same comparison."""
    if not out.exists():
        return
    old_path = out / MANIFEST
    if not old_path.is_file():
        strange = sorted(p.name for p in out.iterdir() if p.name not in ENTRIES and not p.name.endswith(".partial")
                         and not p.name.startswith(MANIFEST))  # a damaged manifest moved aside, as advised
        if strange:
            raise InputError("argument", "--out", "a new directory, or one an earlier compare of the same scenarios "
                             f"and seeds wrote (this one holds {', '.join(strange[:3])})", str(out))
        return  # a comparison's files without its manifest: each run file is checked as it is read
    try:
        old = json.loads(old_path.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(old_path, f"this comparison's manifest is damaged ({exc})",
                           f"move it away (e.g. to {MANIFEST}.damaged) and run the same command: each run file in "
                           f"{out / 'runs'} is checked before it is reused", exit_status=2) from None
    new = json.loads(json.dumps(manifest["scenarios"], default=str))
    if old.get("scenarios") != new or list(old.get("scenarios", {})) != list(new) or \
            old.get("seeds") != manifest["seeds"]:
        raise InputError("argument", "--out", "a new directory; this one holds a compare that differs: "
                         + "; ".join(_differences(old, new, manifest["seeds"])), str(out))


def _differences(old: dict[str, Any], new: dict[str, Any], seeds: list[int], most: int = 4) -> list[str]:
    """What differs between an earlier comparison's manifest and this one, in words (the first few)."""
    out = []
    before = old.get("scenarios", {})
    if list(before) != list(new):
        out.append(f"scenarios {', '.join(before)} there, {', '.join(new)} now")
    if old.get("seeds") != seeds:
        out.append(f"seeds {_span(old.get('seeds', []))} there, {_span(seeds)} now")
    for name in [n for n in new if n in before]:
        a, b = before[name], new[name]
        for key in sorted(set(a) | set(b)):
            if key == "parameters":
                for p in sorted(set(a.get(key, {})) | set(b.get(key, {}))):
                    if a.get(key, {}).get(p) != b.get(key, {}).get(p):
                        out.append(f"{name}: parameter {p} {a.get(key, {}).get(p)!r} there, "
                                   f"{b.get(key, {}).get(p)!r} now")
            elif key not in ("base_dir", "source_file") and a.get(key) != b.get(key):
                shown = [repr(v) if len(repr(v)) <= 40 else "(different)" for v in (a.get(key), b.get(key))]
                out.append(f"{name}: {key} {shown[0]} there, {shown[1]} now")
    if len(out) > most:
        out = [*out[:most], f"and {len(out) - most} more"]
    return out or ["its files, written by another version"]


def _span(seeds: list[int]) -> str:
    return f"{seeds[0]}..{seeds[-1]}" if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) else str(seeds)


def _run_all(specs: list[Scenario], seeds: list[int], out: Path | None, workers: int,
             progress: Callable[[int, int], None] | None, drawn: dict[str, list[str]] | None = None,
             draws: dict[int, dict[str, float]] | None = None) -> dict[tuple[str, int], pd.DataFrame]:
    total = len(specs) * len(seeds)
    tables: dict[tuple[str, int], pd.DataFrame] = {}
    drawn, draws = drawn or {}, draws or {}
    digests = {spec.name: _digest(spec.resolved()) for spec in specs}
    version = package_version()

    def data_of(spec: Scenario, seed: int) -> dict[str, Any]:
        names = drawn.get(spec.name) or []
        return _with_draw(spec, names, draws[seed]) if names else spec.as_data()

    def path_of(name: str, seed: int) -> Path | None:
        return None if out is None else out / "runs" / safe_name(name) / f"seed_{seed}.parquet"

    def info_of(name: str, seed: int) -> dict[str, Any]:
        names = drawn.get(name) or []
        own = {k: draws[seed][k] for k in names} if names else {}
        digest = digests[name] if not own else _digest([digests[name], own])  # the run's own parameters
        return {"scenario": name, "scenario_digest": digest, "seed": seed, "version": version}

    if out is not None:
        for d in [out / "runs", *((out / "runs" / safe_name(spec.name)) for spec in specs)]:
            remove_partials(d)
    jobs = []
    for spec in specs:
        for seed in seeds:
            path = path_of(spec.name, seed)
            if path is not None and path.is_file():
                why = check_run_file(path, info_of(spec.name, seed))
                if why is None:
                    try:
                        tables[(spec.name, seed)] = pd.read_parquet(path)
                        continue
                    except (OSError, ValueError) as exc:
                        why = f"it cannot be read ({type(exc).__name__}: {exc})"
                moved = reject(path, out, why)
                warnings.warn(f"{path}: {why}; moved to {moved} and run again", RejectedRunWarning, stacklevel=2)
            jobs.append((spec.name, data_of(spec, seed), seed))
    if progress:
        progress(len(tables), total)

    def finished(job: tuple[str, dict[str, Any], int], table: pd.DataFrame) -> None:
        name, _, seed = job
        path = path_of(name, seed)
        if path is not None:
            write_run(path, table, info_of(name, seed), {INDICATORS_KEY: indicator_table()})
        tables[(name, seed)] = table
        if progress:
            progress(len(tables), total)

    def failed(job: tuple[str, dict[str, Any], int], exc: BaseException) -> None:
        raise exc

    with local_executor(workers if len(jobs) > 1 else 1) as executor:
        run_jobs(executor, _run_one, jobs, finished, failed, window=2 * workers)
    return {(spec.name, seed): tables[(spec.name, seed)] for spec in specs for seed in seeds}


class RejectedRunWarning(UserWarning):
    """A stored file that could not be used was left out or moved aside, or a dead process's lock was taken over."""


def _digest(value: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _paired(yearly_all: pd.DataFrame, reference: str, scenario: str) -> tuple[pd.DataFrame, np.ndarray,
                                                                              np.ndarray]:
    """Rows (KEYS) with values per seed of the reference and the scenario, aligned."""
    wide = yearly_all[yearly_all["scenario"].isin([reference, scenario])].set_index(
        [*KEYS, "scenario", "seed"])["value"].unstack(["scenario", "seed"])
    a = wide[reference].to_numpy(dtype=float)
    b = wide[scenario][wide[reference].columns].to_numpy(dtype=float)
    return wide.index.to_frame(index=False), a, b


def differences(yearly_all: pd.DataFrame, reference: str, others: Sequence[str], level: float = 0.90
                ) -> pd.DataFrame:
    """Per scenario, Stadtteil, indicator, group and year: mean paired difference with a t-interval."""
    frames = []
    for name in others:
        keys, a, b = _paired(yearly_all, reference, name)
        d = b - a
        n = np.sum(~np.isnan(d), axis=1)
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows with fewer than two values: NaN, as wanted
            mean_d = _nanmean(d)
            sd = np.nanstd(d, axis=1, ddof=1)
            half = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(np.maximum(n, 1))
        half[n < 2] = np.nan
        frame = keys.assign(scenario=name, reference=reference,
                            mean_reference=_nanmean(a), mean_scenario=_nanmean(b), mean_difference=mean_d,
                            ci_low=mean_d - half, ci_high=mean_d + half, sd_difference=sd, n_seeds=n)
        frame["prob_better"] = prob_better(frame["indicator"].to_numpy(), d)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    cols = ["scenario", "reference", *KEYS, "mean_reference", "mean_scenario", "mean_difference", "ci_low",
            "ci_high", "sd_difference", "n_seeds", "prob_better"]
    return out[cols]


def prob_better(indicators: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Per row, the share of seeds in which the scenario does better than the reference.

    Better follows :data:`quartiersim.outputs.BETTER` (fewer lonely adults, more taking part, ...); a tie
    counts half. NaN for indicators without a better direction (hours, cost, residents moved) and rows
    without values. With parameters drawn from a posterior, the seeds cover the parameters' uncertainty, so
    this is the probability, under what the calibration knows, that the scenario beats the reference.
    """
    sign = np.array([BETTER.get(str(i), 0) for i in indicators], dtype=float)
    better = np.where(np.isnan(d), np.nan, (np.sign(d) * sign[:, None] > 0) + 0.5 * (d == 0))
    with np.errstate(invalid="ignore"):
        out = _nanmean(better)
    out[sign == 0] = np.nan
    return out


def _nanmean(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        n = np.sum(~np.isnan(x), axis=1)
        s = np.nansum(x, axis=1)
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def cost_effectiveness(yearly_all: pd.DataFrame, reference: str, others: Sequence[str], level: float = 0.90,
                       n_boot: int = 2000) -> pd.DataFrame:
    """EUR per lonely adult fewer (yearly cost) and per initiative more (cumulative cost), city-wide."""
    city = yearly_all[(yearly_all["stadtteil"] == CITY) & (yearly_all["group"] == "all")]
    wide = city.pivot_table(index=["scenario", "seed", "year"], columns="indicator", values="value",
                            aggfunc="first")
    wide["total_cost"] = wide.get("cost_eur", 0.0) + wide.get("grants_eur", 0.0)
    wide["cumulative_cost"] = wide.groupby(level=["scenario", "seed"])["total_cost"].cumsum()
    rng = np.random.default_rng(0)
    rows = []
    ref = wide.loc[reference]
    seeds = sorted(ref.index.get_level_values("seed").unique())
    years = sorted(ref.index.get_level_values("year").unique())
    boot = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))
    for name in others:
        other = wide.loc[name]
        for year in years:
            a = ref.xs(year, level="year").loc[seeds]
            b = other.xs(year, level="year").loc[seeds]
            for outcome, sign, basis in (("lonely_adults", -1.0, "total_cost"),
                                         ("active_initiatives", 1.0, "cumulative_cost")):
                effect = (sign * (b[outcome] - a[outcome])).to_numpy(dtype=float)
                cost = (b[basis] - a[basis]).to_numpy(dtype=float)
                n = len(effect)
                mean_e, mean_c = float(effect.mean()), float(cost.mean())
                half = float(stats.t.ppf(0.5 + level / 2, n - 1) * effect.std(ddof=1) / np.sqrt(n)) if n > 1 \
                    else np.nan
                clear = bool(n > 1 and (mean_e - half > 0 or mean_e + half < 0))
                ratio = lo = hi = np.nan
                if clear:
                    ratio = mean_c / mean_e
                    with np.errstate(invalid="ignore", divide="ignore"):
                        ratios = cost[boot].mean(axis=1) / effect[boot].mean(axis=1)
                    lo, hi = np.quantile(ratios, [0.5 - level / 2, 0.5 + level / 2])
                rows.append({"scenario": name, "reference": reference, "year": int(year), "outcome": outcome,
                             "unit": "EUR per year per lonely adult fewer" if outcome == "lonely_adults"
                             else "EUR since the start per initiative more",
                             "cost_difference_eur": mean_c, "outcome_difference": mean_e,
                             "outcome_ci_low": mean_e - half, "outcome_ci_high": mean_e + half,
                             "clear_effect": clear, "eur_per_unit": ratio, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)
