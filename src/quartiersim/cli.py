"""The ``quartiersim`` command line. It parses arguments, calls the package and prints; no model logic here.

:func:`main` is the one error boundary. An expected failure prints one message, never a traceback:

* bad input (a scenario, data file or argument that cannot be used): the file, the field and what was
  expected; exit status 2, nothing written (every command checks everything it needs before it creates
  anything);
* a command that could not run or stopped (a store another process holds, a scheduler that went away, a full
  disk, a damaged store file): the file or address and what to do; exit status 2 when refused before anything
  was done, 1 when it failed while working (what finished is kept);
* Ctrl-C: 130; SIGTERM: 143 (worker processes are stopped with the command).

Anything else is a bug: one line saying so, and the traceback with ``--debug``.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from quartiersim.errors import CommandError, InputError

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
#: Seeds are stored as 32-bit integers in sweep stores and passed to numpy: 0 <= seed < 2**31 everywhere.
SEED_LIMIT = 2**31


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so worker processes are stopped and partial files removed."""


class _LazyBar:
    """A rich progress bar that appears with its first update.

    That is after the command's checks, so an early error is not printed under an empty bar.
    """

    def __init__(self, console: Console, disable: bool, unit: str, *extra: Any, **fields: Any):
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                                 *extra, TimeElapsedColumn(), TimeRemainingColumn(), console=console, disable=disable)
        self.fields = fields
        self.task: Any = None

    def update(self, description: str, **values: Any) -> None:
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(description, total=None, **self.fields)
        self.progress.update(self.task, **values)

    def __enter__(self) -> _LazyBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.progress.stop()


def _check_seed(seed: int, field: str = "--seed") -> int:
    if not 0 <= seed < SEED_LIMIT:
        raise InputError("argument", field, f"a seed with 0 <= seed < 2**31 ({SEED_LIMIT:,})", seed)
    return seed


def _check_count(value: int | None, field: str, low: int = 1, high: int = 1_000_000) -> int | None:
    if value is not None and not low <= value <= high:
        raise InputError("argument", field, f"a whole number from {low:,} to {high:,}", value)
    return value


def _parse_set(items: list[str]) -> dict[str, Any]:
    """``name=value`` pairs from ``--set``; values parsed as numbers where possible."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError("argument", f"--set {item}", "name=value, e.g. --set visit_base=0.2")
        name, _, text = item.partition("=")
        try:
            value: Any = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = text
        out[name.strip()] = value
    return out


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    """Run one scenario and write its results."""
    from quartiersim.files import check_output, safe_name
    from quartiersim.model import QuarterModel
    from quartiersim.run import metadata, write_results
    from quartiersim.spec import resolve_scenario

    _check_seed(args.seed)
    overrides = _parse_set(args.set)
    if args.scale is not None:
        overrides["scale"] = args.scale
    spec = resolve_scenario(args.scenario, **overrides)
    out = Path(args.out) if args.out else Path("runs") / f"{safe_name(spec.name)}_seed{args.seed}"
    check_output(out, "--out", "directory", overwrite=args.overwrite, needed_bytes=_run_bytes(spec))
    t0 = time.perf_counter()
    console.print(f"[bold]quartiersim run[/] scenario [cyan]{spec.name}[/], seed {args.seed}, "
                  f"{_count(_n_simulated(spec), 'Stadtteil', 'Stadtteile')}, scale {spec.scale}, "
                  f"{spec.start} to {spec.end}")
    _say_if_compiling(console)
    model = QuarterModel(spec, rng=args.seed)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("weeks"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                  disable=args.no_progress) as bar:
        task = bar.add_task("simulating", total=model.n_weeks)
        table = model.run(progress=lambda week, total: bar.update(task, completed=week))
    write_results(out, table, metadata(model), model.fallback_table(), overwrite=args.overwrite)
    elapsed = time.perf_counter() - t0
    _print_summary(console, table, model, out, elapsed)
    return 0


def _run_bytes(spec: Any) -> int:
    """A generous estimate of a run's results file: a row per report, place, indicator and group."""
    from quartiersim.data import load_stadtteile, simulated_rows
    from quartiersim.outputs import GROUPS, INDICATORS

    table = load_stadtteile(spec.path_of(spec.stadtteile_file))
    places = len(simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin)) + 1
    per_year = {"weekly": 53, "monthly": 12, "quarterly": 4, "yearly": 1}[spec.report]
    reports = (spec.end.year - spec.start.year + 1) * per_year
    return places * len(INDICATORS) * len(GROUPS) * reports * 16


def _print_summary(console: Console, table, model, out: Path, elapsed: float) -> None:
    from quartiersim.outputs import CITY

    city = table[(table["stadtteil"] == CITY) & (table["group"] == "all")]
    first, last = city["date"].min(), city["date"].max()
    pivot = city.pivot_table(index="indicator", columns="date", values="value", observed=True)
    summary = Table(title=f"Stuttgart (all simulated Stadtteile), group 'all': {first:%Y-%m} and {last:%Y-%m}")
    summary.add_column("indicator")
    summary.add_column(f"{first:%Y-%m}", justify="right")
    summary.add_column(f"{last:%Y-%m}", justify="right")
    for name in pivot.index:
        summary.add_row(str(name), _fmt(pivot.loc[name, first]), _fmt(pivot.loc[name, last]))
    console.print(summary)
    n_fallback = int(model.profile[[c for c in model.profile.columns if c.endswith("_fallback")]].any(axis=1).sum())
    console.print(f"{_count(model.n_st, 'Stadtteil', 'Stadtteile')}, {len(model.residents):,} agents for "
                  f"{model.pop_s.sum():,.0f} residents; {_count(n_fallback, 'Stadtteil uses', 'Stadtteile use')} "
                  "city-wide fallback values for some indicators (see stadtteil_inputs.csv).")
    console.print(f"wrote {len(table):,} rows to [green]{out}[/] in {elapsed:.1f} s")


def _print_fitting(console: Console, wide: Table, long: Any) -> None:
    """Print ``wide`` if it fits the terminal without cutting a cell, else the table ``long()`` builds.

    Rich shortens cells that do not fit to "fundin…"; a long table (one row per item and year or outcome) has
    few narrow columns and stays readable at 80 columns.
    """
    from rich.measure import Measurement

    # measured with room to spare: what the table needs without wrapping or shortening a cell
    if Measurement.get(console, console.options.update_width(10_000), wide).maximum <= console.width:
        console.print(wide)
    else:
        console.print(long())


def _say_if_compiling(console: Console) -> None:
    """A first run waits about a minute for numba to compile the kernels: say so instead of sitting silent."""
    from quartiersim.run import COMPILING, kernels_compiled

    if kernels_compiled() is False:
        console.print(COMPILING)


def _n_simulated(spec: Any) -> int:
    """How many Stadtteile a scenario simulates (its list, its Bezirke, or all)."""
    from quartiersim.data import load_stadtteile, simulated_rows

    table = load_stadtteile(spec.path_of(spec.stadtteile_file))
    return len(simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin))


def _count(n: int, one: str, many: str) -> str:
    """``1 Stadtteil``, ``3 Stadtteile``."""
    return f"{n} {one if n == 1 else many}"


def _fmt(value: Any) -> str:
    if isinstance(value, str) or not isinstance(value, int | float):
        return str(value)
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def cmd_params(args: argparse.Namespace, console: Console) -> int:
    """List the declared parameters."""
    from rich.markup import escape

    from quartiersim.parameters import GROUP_TITLES, PARAMS

    if args.group and args.group not in GROUP_TITLES:
        raise InputError("argument", "--group", "one of the parameter groups: " + ", ".join(GROUP_TITLES),
                         args.group)
    # escaped: rich would take "[parameters]" for a style tag and drop it
    table = Table(title=escape("quartiersim parameters (set them under [parameters] in a scenario or with --set "
                               "name=value)"))
    for col in ("name", "default", "unit", "range", "meaning"):
        table.add_column(col, no_wrap=col in ("name", "default"))
    for p in PARAMS:
        if args.group and p.group != args.group:
            continue
        table.add_row(p.name, f"{p.default:g}", escape(p.unit), f"{p.low:g} .. {p.high:g}", escape(p.meaning))
    console.print(table)
    return 0


def cmd_stadtteile(args: argparse.Namespace, console: Console) -> int:
    """List the Stadtteile with their population and source."""
    import pandas as pd

    from quartiersim.data import load_stadtteile

    frame = load_stadtteile(args.file)
    n_bezirke = frame["bezirk"].nunique()
    table = Table(title=f"{_count(len(frame), 'Stadtteil', 'Stadtteile')} in "
                  f"{_count(n_bezirke, 'Bezirk', 'Bezirke')}")
    # five narrow columns fit 80 characters; the few notes go below the table instead of a sixth column
    for col in ("no.", "Stadtteil", "Bezirk", "residents", "as of"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("no.", "residents") else "left")
    notes = []
    for _, row in frame.iterrows():
        name = row["stadtteil"]
        if not pd.isna(row["counted_in"]):
            name += " *"
            notes.append(f"{row['stadtteil']} in no. {row['counted_in']}")
        table.add_row(str(row["number"]), name, row["bezirk"], f"{row['population']:,}", row["reference_date"])
    console.print(table)
    if notes:
        console.print("* residents counted in a neighbouring Stadtteil: " + "; ".join(notes))
    return 0


def cmd_scenarios(args: argparse.Namespace, console: Console) -> int:
    """List the scenario files with a one-line description."""
    from quartiersim.spec import load_scenario, scenario_dirs

    seen: dict[str, Path] = {}
    for d in scenario_dirs():
        for path in sorted(d.glob("*.toml")) if d.is_dir() else []:
            seen.setdefault(path.stem, path)
    table = Table(title="scenarios (quartiersim run NAME)")
    table.add_column("name")
    table.add_column("description")
    for name, path in sorted(seen.items()):
        description = load_scenario(path).description.strip()
        table.add_row(name, description.splitlines()[0] if description else "")
    console.print(table)
    return 0


def cmd_areas(args: argparse.Namespace, console: Console) -> int:
    """Rank the Stadtteile by the area-selection index, print and save the ranking."""
    import pandas as pd

    from quartiersim.areas import DEFAULT_WEIGHTS, area_index
    from quartiersim.data import load_city_indicators, load_indicators, load_stadtteile
    from quartiersim.files import check_output, remove_partials, write_atomic
    from quartiersim.spec import build_scenario

    weights = {**DEFAULT_WEIGHTS, **_parse_set(args.weight)}
    spec = build_scenario({"area_index": {"method": args.method, "weights": weights}}, source="argument").area_index
    _check_count(args.top, "--top", 1, 10_000)
    out = Path(args.out)
    check_output(out, "--out", "file", overwrite=args.overwrite)
    table = load_stadtteile(args.stadtteile)
    city = load_city_indicators()
    indicators = load_indicators(args.indicators, stadtteile=table, city=city)
    try:
        ranking = area_index(indicators, city, table, spec)
    except ValueError as exc:
        raise InputError(args.indicators or "bundled indicators", "--method", str(exc)) from None
    contrib = [c for c in ranking.columns if c.startswith("contrib_")]
    view = Table(title=f"Area-selection index ({spec.method}); rank 1 = highest need; all contributions in {out}")
    for col in ("rank", "number", "stadtteil", "bezirk", "score", "observed", "largest contributions"):
        view.add_column(col, justify="right" if col in ("rank", "number", "score", "observed") else "left")
    shown = ranking if args.top is None else ranking.head(args.top)
    for _, row in shown.iterrows():
        largest = sorted(contrib, key=lambda c: -abs(row[c]))[:3]
        view.add_row("" if pd.isna(row["rank"]) else str(row["rank"]), str(row["number"]), row["stadtteil"],
                     row["bezirk"], f"{row['score']:+.3f}", f"{row['observed_weight']:.0%}",
                     ", ".join(f"{c[8:]} {row[c]:+.3f}" for c in largest if row[c] != 0))
    console.print(view)
    remove_partials(out.absolute().parent)  # leftovers of a killed earlier write
    write_atomic(out, lambda p: ranking.to_csv(p, index=False))
    ranked = ranking[ranking["rank"].notna()]
    no_data = int((ranked["observed_weight"] == 0).sum())
    if no_data:
        console.print(f"[yellow]warning:[/] {no_data} of {len(ranked)} ranked Stadtteile have no figures of their "
                      "own and count as city average (score 0); equal scores are ordered by population, largest first. "
                      "Give the statistics office's table with --indicators.")
    console.print(f"wrote the ranking with each indicator's contribution to [green]{out}[/]")
    return 0


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    """Run scenarios with the same seeds and report paired differences and cost per unit of outcome."""
    from quartiersim.compare import compare

    overrides = _parse_set(args.set)
    if args.scale is not None:
        overrides["scale"] = args.scale
    t0 = time.perf_counter()
    _say_if_compiling(console)
    with _LazyBar(console, args.no_progress, "runs") as bar:
        with warnings.catch_warnings():  # the caution about too few seeds is printed below the tables instead
            warnings.filterwarnings("ignore", message="only [0-9]+ seeds", category=UserWarning)
            result = compare(args.scenarios, seeds=args.seeds, out=args.out, workers=args.workers,
                             progress=lambda done, total: bar.update("comparing", completed=done, total=total),
                             posterior=_posterior_choice(args), **overrides)
    console.print(_parameter_source(result.posterior, "scenario"))
    years = result.years_shown()
    for name in result.scenarios[1:]:
        title = (f"{name} minus {result.reference}: {result.place}, group 'all', mean paired difference [90 % "
                 f"interval] and the probability that {name} does better, {len(result.seeds)} seeds")
        head = result.headline(name, years)
        cells = {(str(r["indicator"]), int(r["year"])): (_fmt(r["mean_difference"]),
                                                         f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]"
                                                         + _chance(r["prob_better"]))
                 for _, r in head.iterrows()}
        indicators = list(dict.fromkeys(head["indicator"].astype(str)))
        wide = Table(title=title)
        wide.add_column("indicator", no_wrap=True)
        for y in years:
            wide.add_column(str(y), justify="right", no_wrap=True)
        for ind in indicators:
            wide.add_row(ind, *[" ".join(cells[(ind, y)]) if (ind, y) in cells else "" for y in years])

        def long(title: str = title, cells: dict = cells, indicators: list = indicators) -> Table:
            view = Table(title=title)
            for col in ("indicator", "year", "difference", "90 % interval, P(better)"):
                view.add_column(col, no_wrap=True, justify="left" if col == "indicator" else "right")
            for ind in indicators:
                for k, y in enumerate(years):
                    if (ind, y) in cells:
                        view.add_row(ind if k == 0 else "", str(y), *cells[(ind, y)], end_section=k == len(years) - 1)
            return view

        _print_fitting(console, wide, long)
        ce = result.cost_effectiveness
        for _, r in ce[(ce["scenario"] == name) & ce["year"].isin(years)].iterrows():
            text = (f"{_fmt(r['eur_per_unit'])} [{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]" if r["clear_effect"]
                    else "no clear effect")
            console.print(f"  {int(r['year'])} {r['unit']}: {text}")
    if result.too_few_seeds:
        console.print(f"[yellow]caution:[/] {result.too_few_seeds}")
    console.print(f"wrote differences.csv, cost_effectiveness.csv and the runs to [green]{args.out}[/] in "
                  f"{time.perf_counter() - t0:.1f} s")
    return 0


def _parameter_source(post: dict | None, unit: str) -> str:
    """Where a command's parameters came from, in a line."""
    if post:
        return (f"parameters: each seed with a parameter set drawn from {post['source']}, the same for every "
                f"{unit}: the intervals include the parameters' uncertainty")
    return ("parameters: fixed (as the scenarios set them): the intervals show the runs' chance variation only")


def _chance(p: float) -> str:
    """A probability of doing better, in per cent ("" where an indicator has no better direction)."""
    return "" if p != p else f" {p:.0%}"


def _posterior_choice(args: argparse.Namespace) -> str | bool | None:
    """--posterior PATH, --fixed-parameters (False), or neither (None: the bundled calibration's posterior)."""
    if getattr(args, "fixed_parameters", False):
        if getattr(args, "posterior", None):
            raise InputError("argument", "--fixed-parameters", "either --posterior or --fixed-parameters, not both")
        return False
    return getattr(args, "posterior", None)


def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    """Run or resume an experiment's design with every seed; each run is stored as it finishes."""
    from quartiersim.experiments import load_experiment
    from quartiersim.files import safe_name
    from quartiersim.sweeps import sweep

    if (args.scheduler or args.scheduler_file) and not getattr(args, "debug", False):
        _quiet_dask()
    exp = load_experiment(args.experiment)
    out = Path(args.out) if args.out else Path("sweeps") / safe_name(exp.name)
    where = (f"Dask scheduler {args.scheduler or args.scheduler_file}" if args.scheduler or args.scheduler_file
             else f"{args.workers} local worker{'s' if args.workers > 1 else ''}")
    console.print(f"[bold]quartiersim sweep[/] [cyan]{exp.name}[/]: {exp.n_points} design points "
                  f"({exp.method}) x {len(exp.seeds)} seeds = {exp.n_points * len(exp.seeds)} runs, on {where}, "
                  f"into {out}")
    _say_if_compiling(console)
    with _LazyBar(console, args.no_progress, "runs", TextColumn("[red]{task.fields[failed]} failed"),
                  failed=0) as bar:

        def progress(ran: int, to_run: int, failed: int) -> None:
            bar.update("sweeping", completed=ran, total=to_run, failed=failed)

        try:
            result = sweep(exp, out, workers=args.workers, scheduler=args.scheduler,
                           scheduler_file=args.scheduler_file, rerun_failed=args.rerun_failed, progress=progress,
                           posterior=_posterior_choice(args))
        except KeyboardInterrupt:
            _say(Console(stderr=True), f"interrupted: every finished run is kept in {out}; run the same command to "
                 "resume")
            return EXIT_INTERRUPTED
    err = Console(stderr=True)
    for note in result.notes:
        _say(err, f"note: {note}")
    for file, why in result.rejected:
        _say(err, f"warning: {file}: {why}")
    console.print(_parameter_source(result.posterior, "design point"))
    console.print(f"{result.ran} runs done now in {result.seconds:.1f} s; the store holds {result.finished} of "
                  f"{result.total} runs, {result.failed} failed. Outcomes: {out / 'outcomes.csv'}")
    if result.failed:
        from quartiersim.sweeps import open_store

        failures = open_store(out).failures()
        for _, row in failures.head(5).iterrows():
            console.print(f"  failed: point {row['point']} seed {row['seed']}: {row['error']}: {row['message']}",
                          markup=False, highlight=False)
        console.print(f"the errors are in {out / 'failed'}; run again with --rerun-failed to retry them")
    if result.lost:
        console.print(f"{result.lost} runs were not finished because a worker process died (out of memory?); run "
                      "the same command to resume")
    if not result.complete:
        return 1
    console.print(f"next: quartiersim summarise {out}")
    return 0


def cmd_optimise(args: argparse.Namespace, console: Console) -> int:
    """Search a plan space for the Pareto front of robust plans, beside the named strategies (resumable)."""
    from rich.markup import escape

    from quartiersim.files import safe_name
    from quartiersim.optimise import load_plan_space, optimise, stat_label

    if (args.scheduler or args.scheduler_file) and not getattr(args, "debug", False):
        _quiet_dask()
    space = load_plan_space(args.planspace)
    out = Path(args.out) if args.out else Path("optimise") / safe_name(space.name)
    trials = _check_count(args.trials, "--trials", 1, 100_000) or space.search.trials
    u, o = space.uncertainty, space.objectives
    where = (f"Dask scheduler {args.scheduler or args.scheduler_file}" if args.scheduler or args.scheduler_file
             else f"{args.workers} local worker{'s' if args.workers > 1 else ''}")
    console.print(f"[bold]quartiersim optimise[/] [cyan]{space.name}[/]: {len(space.decisions)} decisions, "
                  f"{trials} plans x {u.draws} posterior draws x {u.seeds} seeds, {o.robustness} of "
                  f"{', '.join(space.use)} in {o.year}, NSGA-II (population {space.search.population}), on {where}, "
                  f"into {out}")
    _say_if_compiling(console)
    with _LazyBar(console, args.no_progress, "", TextColumn("front {task.fields[front]}"), front=0) as bar:

        def progress(stage: str, done: int, total: int, front: int) -> None:
            what = "reference and named strategies (runs)" if stage == "runs" else "plans evaluated"
            bar.update(what, completed=done, total=total, front=front if stage == "plans" else "-")

        try:
            result = optimise(space, out, workers=args.workers, scheduler=args.scheduler,
                              scheduler_file=args.scheduler_file, trials=trials, progress=progress)
        except KeyboardInterrupt:
            _say(Console(stderr=True), f"interrupted: every finished evaluation is kept in {out}; run the same command "
                 "to resume")
            return EXIT_INTERRUPTED
    err = Console(stderr=True)
    for note in result.notes:
        _say(err, f"note: {note}")
    columns = [stat_label(n, o.robustness, o.quantile) for n in space.use]
    short = {"lonely_adults_fewer": "lonely", "active_initiatives_more": "initiatives", "extra_cost_eur": "MEUR",
             "equity_share": "equity"}
    stat = {"mean": "mean", "quantile": f"bad-side {o.quantile:g} quantile", "regret": "worst regret"}[o.robustness]
    view = Table(title=f"Pareto front of {space.name} ({len(result.front)} plans) and the named strategies: "
                 f"{stat} over {u.draws} draws x {u.seeds} seeds, against {space.reference.name}, {o.year}",
                 caption="lonely: lonely adults fewer; initiatives: active initiatives more; MEUR: extra cost in "
                 "million EUR; equity: share of the effect in the top quartile of need; budget: keeps the "
                 "plan space's yearly budget or not")
    # the names fold (a long strategy name takes two lines) so that the numbers are never cut
    view.add_column("plan", overflow="fold", max_width=20)
    for name in space.use:
        view.add_column(short[name], justify="right", no_wrap=True, min_width=len(short[name]))
    view.add_column("budget", no_wrap=True, min_width=6)

    def cells(row: Any) -> list[str]:
        values = [row[c] / 1e6 if n == "extra_cost_eur" else row[c] for n, c in zip(space.use, columns, strict=True)]
        return ["n/a" if v != v else f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}" for v in values]

    shown = result.front.head(args.top)
    for k, (_, row) in enumerate(shown.iterrows()):
        view.add_row(str(row["plan"]), *cells(row), "keeps", end_section=k == len(shown) - 1)
    for _, row in result.named.iterrows():
        view.add_row(f"[italic]{escape(str(row['strategy']))}[/]", *cells(row), "keeps" if row["feasible"]
                     else "over")
    console.print(view)
    if len(result.front) > args.top:
        console.print(f"(first {args.top} of {len(result.front)} front plans; all are in front.csv)")
    console.print(f"{result.ran} plans evaluated now ({result.simulations} simulations) in {result.seconds:.1f} s; "
                  f"the store holds {result.finished} of {result.trials}. Wrote front.csv, named.csv, "
                  f"evaluations.csv, front.png and plans/<plan>.toml in {out}")
    if result.finished < result.trials:
        return 1
    if len(result.front):
        console.print(f"next: quartiersim discover {out} --plan {result.front['plan'].iloc[0]} --below VALUE")
    return 0


def cmd_discover(args: argparse.Namespace, console: Console) -> int:
    """Scenario discovery for a plan of an optimise store: where it fails the threshold (PRIM)."""
    from quartiersim.optimise import discover

    console.print(f"[bold]quartiersim discover[/] {args.plan} of {args.directory}: {args.outcome} "
                  f"{'below' if args.below is not None else 'above'} "
                  f"{args.below if args.below is not None else args.above}, {args.draws} posterior draws")
    with _LazyBar(console, args.no_progress, "runs") as bar:
        result = discover(args.directory, args.plan, outcome=args.outcome, below=args.below, above=args.above,
                          draws=args.draws, workers=args.workers, scheduler=args.scheduler,
                          min_density=args.min_density,
                          progress=lambda done, total: bar.update("simulating", completed=done, total=total))
    fails = int(result.outcomes["fails"].sum())
    console.print(f"{fails} of {len(result.outcomes)} draws fail ({result.simulated} simulations run now)")
    if result.box is None:
        console.print("no box: PRIM needs some draws that fail and some that do not (choose another threshold)")
    else:
        chosen = result.peeling[result.peeling["chosen"]].iloc[0]
        view = Table(title=f"box {result.chosen}: coverage {chosen['coverage']:.0%}, density {chosen['density']:.0%} "
                     f"(where {result.outcome} fails)")
        for col in ("parameter", "low", "high", "drawn range"):
            view.add_column(col, justify="left" if col == "parameter" else "right")
        for _, r in result.box[result.box["restricted"]].iterrows():
            view.add_row(r["parameter"], _fmt(r["low"]), _fmt(r["high"]), f"{_fmt(r['full_low'])} .. "
                         f"{_fmt(r['full_high'])}")
        console.print(view)
    console.print(f"wrote outcomes.csv, peeling.csv, box.csv, prim.png and plan.png to {result.directory}")
    return 0


def _quiet_dask() -> None:
    """Silence the Dask client's log (its reconnection attempts and lost results, with tracebacks).

    A scheduler that went away is said once, by the sweep. Dask sets its loggers' levels when it is imported, so
    this comes after the import.
    """
    import logging

    import distributed  # noqa: F401 - imported for its logging set-up, which the next lines override

    for name in ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    # a result still being fetched when the scheduler dies fails in the client's event loop, which tornado logs
    # with its traceback ("Exception in callback ... _cascade_future")
    logging.getLogger("tornado.application").setLevel(logging.CRITICAL)


def cmd_summarise(args: argparse.Namespace, console: Console) -> int:
    """Mean and 90 % range of each outcome per design point (and per lever combination)."""
    from quartiersim.sweeps import open_store, summarise

    _check_count(args.top, "--top", 1, 1_000_000)
    _check_store_writable(args.directory)
    table = summarise(args.directory)
    store = open_store(args.directory)
    labels = [o.label for o in store.outcomes]
    directory = Path(args.directory)
    if store.manifest["uncertainties"]:  # sampled designs: each lever combination over all samples and seeds
        import pandas as pd

        rows = pd.read_parquet(directory / "summary_levers.parquet")
        key, factors, title = "lever_set", list(store.manifest["levers"]), "per lever combination, over every " \
            "uncertainty sample and seed"
    else:
        rows, key, factors, title = table, "point", store.factors, "per design point, over seeds"
    caption = f"{store.manifest['name']}: mean [5th, 95th percentile] {title}"
    wide = Table(title=caption)
    wide.add_column(key, justify="right", no_wrap=True)
    for factor in factors:
        wide.add_column(factor, no_wrap=True)
    for label in labels:
        wide.add_column(label, justify="right", no_wrap=True)
    keys = list(dict.fromkeys(rows[key]))
    shown = []
    for k in keys[: args.top]:
        group = rows[rows[key] == k].set_index("outcome")
        cells = [f"{_fmt(group.loc[lb, 'mean'])} [{_fmt(group.loc[lb, 'p05'])}, {_fmt(group.loc[lb, 'p95'])}]"
                 for lb in labels]
        values = [_fmt(group[f].iloc[0]) for f in factors]
        wide.add_row(str(k), *values, *cells)
        shown.append((k, values, cells))

    def long() -> Table:  # one row per outcome; each point's factors in one cell, named by letters below
        letters = [chr(ord("A") + i) for i in range(len(factors))]
        legend = "; ".join(f"{a} = {f}" for a, f in zip(letters, factors, strict=True))
        view = Table(title=caption, caption=f"factors: {legend}" if factors else None)
        for col in (key, "factors", "outcome", "mean [5th, 95th]"):
            view.add_column(col, justify="right" if col in (key, "mean [5th, 95th]") else "left",
                            no_wrap=col != "factors", overflow="fold")
        for k, values, cells in shown:
            text = "\n".join(f"{a}: {v}" for a, v in zip(letters, values, strict=True))
            for j, (label, cell) in enumerate(zip(labels, cells, strict=True)):
                view.add_row(str(k) if j == 0 else "", text if j == 0 else "", label, cell,
                             end_section=j == len(labels) - 1)
        return view

    _print_fitting(console, wide, long)
    if len(keys) > args.top:
        console.print(f"(first {args.top} of {len(keys)}; all are in the files)")
    written = "summary.csv, summary_levers.csv" if store.manifest["uncertainties"] else "summary.csv"
    console.print(f"wrote {written} (and .parquet) in {directory}")
    return 0


def _check_store_writable(directory: str) -> None:
    """A store that summaries are written into: it must be a directory this user may write."""
    from quartiersim.files import check_output
    from quartiersim.sweeps import open_store

    open_store(directory)  # not a store, or a damaged one: said first
    check_output(Path(directory), "directory", "directory", resume=True)


def cmd_sensitivity(args: argparse.Namespace, console: Console) -> int:
    """Sobol or Morris indices of a sweep made for them."""
    from quartiersim.sweeps import open_store, sensitivity

    _check_store_writable(args.directory)
    table = sensitivity(args.directory, outcomes=args.outcome or None, plot=not args.no_plot)
    store = open_store(args.directory)
    method = store.manifest["method"]
    columns = ["mu_star", "mu_star_conf", "sigma"] if method == "morris" else ["S1", "S1_conf", "ST", "ST_conf"]
    levers = list(store.manifest["levers"])
    for (_, outcome), rows in table.groupby(["lever_set", "outcome"], sort=False):
        title = f"{outcome}" + (": " + ", ".join(f"{lv} = {rows[lv].iloc[0]}" for lv in levers) if levers else "")
        view = Table(title=f"{method} indices, {title}")
        for col in ["rank", "parameter", *columns]:
            view.add_column(col, justify="left" if col == "parameter" else "right")
        for _, r in rows.sort_values("rank").iterrows():
            view.add_row(str(r["rank"]), str(r["parameter"]), *[_fmt(r[c]) for c in columns])
        console.print(view)
    console.print(f"wrote sensitivity.csv{'' if args.no_plot else ' and sensitivity.png'} in {args.directory}")
    return 0


def cmd_calibrate(args: argparse.Namespace, console: Console) -> int:
    """Calibrate parameters against targets with ABC-SMC; resumable; writes the posterior and a scenario."""
    from quartiersim.calibration import calibrate, check_out, load_calibration
    from quartiersim.compare import check_workers
    from quartiersim.executors import check_reachable
    from quartiersim.files import check_output

    cal = load_calibration(args.calibration)
    out = Path(args.out)
    check_output(out, "--out", "directory", resume=True)
    check_out(out, cal)
    check_workers(args.workers)
    if args.scheduler is not None:
        check_reachable(args.scheduler)
    s = cal.settings
    console.print(f"[bold]quartiersim calibrate[/] [cyan]{cal.name}[/]: {len(cal.priors)} parameters against "
                  f"{len(cal.targets)} targets; ABC-SMC with {s.population_size} particles, up to "
                  f"{s.max_generations} generations or epsilon {s.min_epsilon:g}, into {out}")
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("generations"),
                  TextColumn("epsilon {task.fields[eps]}, {task.fields[sims]} simulations"), TimeElapsedColumn(),
                  console=console, disable=args.no_progress) as bar:
        task = bar.add_task("calibrating", total=s.max_generations, eps="-", sims=0)

        def progress(generation: int, eps: float, sims: int) -> None:
            bar.update(task, completed=generation, eps=f"{eps:.3g}", sims=sims)

        try:
            result = calibrate(cal, out, workers=args.workers, scheduler=args.scheduler, progress=progress)
        except KeyboardInterrupt:
            _say(Console(stderr=True), f"interrupted: finished generations are kept in {out}; run the same command "
                 "to resume")
            return EXIT_INTERRUPTED
    view = Table(title=f"posterior of {cal.name} (last generation, epsilon "
                 f"{result.generations['epsilon'].iloc[-1]:.3g})")
    for col in ("parameter", "prior", "median", "90 % interval", "mean"):
        view.add_column(col, justify="left" if col == "parameter" else "right")
    for _, r in result.summary.iterrows():
        view.add_row(r["parameter"], f"[{r['prior_low']:.3g}, {r['prior_high']:.3g}]", f"{r['median']:.4g}",
                     f"[{r['q05']:.4g}, {r['q95']:.4g}]", f"{r['mean']:.4g}")
    console.print(view)
    console.print(f"{result.ran_generations} generations run now. Wrote posterior.csv, posterior_summary.csv, "
                  f"posterior.png, calibrated.toml (a scenario) and ensemble.toml (an experiment) in {out}")
    return 0


def cmd_pilot_data(args: argparse.Namespace, console: Console) -> int:
    """Check a pilot-data file: every bad row at once, with line numbers."""
    from quartiersim.pilot import read_pilot_data
    from quartiersim.spec import resolve_scenario

    spec = resolve_scenario(args.scenario)
    table = read_pilot_data(args.file, spec.start, spec.end)
    console.print(f"{args.file}: {len(table)} observations, all valid for {spec.start} to {spec.end} "
                  f"({table['stadtteil'].nunique()} Stadtteile, {table['indicator'].nunique()} indicators)")
    return 0


def cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    """Compare an ensemble of runs with pilot data and write the report."""
    from quartiersim.evaluation import evaluate
    from quartiersim.files import check_output, remove_partials

    if Path(args.out).suffix not in (".html", ".md"):
        raise InputError("argument", "--out", "a report file ending in .html or .md", args.out)
    check_output(Path(args.out), "--out", "file", overwrite=True)
    remove_partials(Path(args.out).absolute().parent)  # leftovers of a killed earlier write
    result = evaluate(args.runs, args.pilot_data, args.out)
    view = Table(title=f"{len(result.observations)} observations against {result.runs} runs")
    for col in ("indicator", "group", "observations", "coverage_90", "bias", "crps"):
        view.add_column(col, justify="left" if col in ("indicator", "group") else "right")
    for _, r in result.summary.iterrows():
        view.add_row(str(r["indicator"]), str(r["group"]), str(r["observations"]), _fmt(r["coverage_90"]),
                     _fmt(r["bias"]), _fmt(r["crps"]))
    console.print(view)
    console.print(f"wrote {result.report} with its figures and observations table beside it")
    return 0


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    """Write the standard figures of a run, comparison or sweep directory."""
    from quartiersim.files import check_output, remove_partials
    from quartiersim.plots import standard_figures

    if not Path(args.directory).is_dir():
        raise InputError(args.directory, "(directory)", "a run, comparison or sweep directory")
    check_output(Path(args.out), "--out", "directory", resume=True)
    remove_partials(args.out)  # leftovers of a killed earlier write
    if (Path(args.directory) / "optimise.json").is_file():
        from quartiersim.optimise import store_figures
        from quartiersim.plots import write_figures

        written = write_figures(store_figures(args.directory, args.plan), args.out)
        console.print(f"wrote {len(written)} figures to {args.out}: " + ", ".join(p.name for p in written))
        return 0
    if args.plan is not None:
        raise InputError("argument", "--plan", "an optimise store as the directory (--plan names one of its plans)",
                         args.plan)
    try:
        written = standard_figures(args.directory, args.out, year=args.year)
    except ValueError as exc:
        if args.year is None:
            raise
        raise InputError("argument", "--year", str(exc), args.year) from None  # a year the comparison lacks
    console.print(f"wrote {len(written)} figures to {args.out}: " + ", ".join(p.name for p in written))
    return 0


def cmd_app(args: argparse.Namespace, console: Console) -> int:
    """Start the interactive app (SolaraViz) on one or a few Stadtteile."""
    import importlib.util
    import subprocess

    missing = [name for name in ("solara", "ipyvuetify") if importlib.util.find_spec(name) is None]
    if missing:
        Console(stderr=True).print(f"error: the app needs the app extra ({', '.join(missing)} missing): "
                                   "pip install -e \".[app]\"", markup=False, highlight=False)
        return EXIT_BAD_INPUT
    from quartiersim.app import ENV_SCALE, ENV_SCENARIO, app_scenario

    _check_count(args.port, "--port", 1, 65535)
    spec = app_scenario(args.scenario, args.scale)  # a bad scenario fails here, before the server starts
    scenario = args.scenario or spec.name
    if spec.source_file:
        scenario = str(Path(spec.source_file).resolve())
    env = dict(os.environ, **{ENV_SCENARIO: scenario})
    if args.scale is not None:
        env[ENV_SCALE] = str(args.scale)
    console.print(f"[bold]quartiersim app[/] scenario [cyan]{spec.name}[/] at http://{args.host}:{args.port} "
                  "(Ctrl-C stops it)")
    command = [sys.executable, "-m", "solara", "run", "quartiersim.app:Page", "--host", args.host,
               "--port", str(args.port), "--production", "--open" if args.open else "--no-open"]
    from quartiersim.executors import die_with_parent

    parent = os.getpid()
    server = subprocess.Popen(command, env=env, preexec_fn=lambda: die_with_parent(parent))
    try:
        return server.wait()
    finally:  # Ctrl-C, SIGTERM or an error here: the server goes too
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def cmd_phases(args: argparse.Namespace, console: Console) -> int:
    """Print the weekly phases in order."""
    from quartiersim.model import QuarterModel

    console.print(QuarterModel.describe_phases())
    return 0


def _posterior_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posterior", metavar="DIR_OR_CSV",
                        help="draw each seed's parameters from this calibration's posterior (a calibrate output "
                             "directory or its posterior.csv; default: the bundled Stuttgart calibration)")
    parser.add_argument("--fixed-parameters", action="store_true",
                        help="run every seed with the parameters as the scenarios set them (no draws)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used for the README's usage text)."""
    parser = argparse.ArgumentParser(prog="quartiersim", description="Agent-based simulation of social quarter "
                                     "development in Stuttgart's 152 Stadtteile.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command")
    _add = sub.add_parser

    def add_parser(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return _add(name, parents=[common], **kwargs)

    sub.add_parser = add_parser  # type: ignore[method-assign]
    run = sub.add_parser("run", help="run one scenario and write results (Parquet + metadata.json)")
    run.add_argument("scenario", nargs="?", default=None,
                     help="scenario file (TOML) or bundled name; the whole-city default if omitted")
    run.add_argument("--seed", type=int, default=0, help="the run's seed (default 0)")
    run.add_argument("--out", help="results directory (default runs/<scenario>_seed<N>)")
    run.add_argument("--scale", type=float, help="agents per resident, overrides the scenario")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                     help="override a parameter or scenario field; repeatable")
    run.add_argument("--overwrite", action="store_true", help="replace an existing results directory")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
    params = sub.add_parser("params", help="list the model parameters with units, bounds and meaning")
    params.add_argument("--group", help="only one mechanism's parameters (e.g. loneliness)")
    params.set_defaults(func=cmd_params)
    st = sub.add_parser("stadtteile", help="list the 152 Stadtteile")
    st.add_argument("--file", help="a Stadtteile CSV instead of the bundled one")
    st.set_defaults(func=cmd_stadtteile)
    sc = sub.add_parser("scenarios", help="list the scenario files")
    sc.set_defaults(func=cmd_scenarios)
    ar = sub.add_parser("areas", help="rank the Stadtteile by the area-selection index (Gebietsauswahl)")
    ar.add_argument("--indicators", help="per-Stadtteil indicators CSV (format: docs/ODD.md); bundled if omitted")
    ar.add_argument("--stadtteile", help="a Stadtteile CSV instead of the bundled one")
    ar.add_argument("--method", choices=("ratio", "zscore"), default="ratio", help="standardisation (default ratio)")
    ar.add_argument("--weight", action="append", default=[], metavar="INDICATOR=WEIGHT",
                    help="set an indicator's weight (repeatable; the others keep theirs)")
    ar.add_argument("--out", default="area_ranking.csv", help="CSV to write (default area_ranking.csv)")
    ar.add_argument("--top", type=int, help="print only the first N")
    ar.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    ar.set_defaults(func=cmd_areas)
    cp = sub.add_parser("compare", help="run scenarios with the same seeds; paired differences and cost per unit")
    cp.add_argument("scenarios", nargs="+", help="two or more scenario files or names; the first is the reference")
    cp.add_argument("--seeds", type=int, default=20, help="number of seeds, 0..N-1 (default 20)")
    cp.add_argument("--out", required=True, help="output directory (an interrupted compare resumes in it)")
    cp.add_argument("--scale", type=float, help="agents per resident for every scenario")
    cp.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter or scenario field in every scenario; repeatable")
    cp.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    _posterior_arguments(cp)
    cp.add_argument("--no-progress", action="store_true", help="no progress bar")
    cp.set_defaults(func=cmd_compare)
    sw = sub.add_parser("sweep", help="run an experiment's design points with every seed (resumable)")
    sw.add_argument("experiment", help="experiment file (TOML), e.g. experiments/verstetigung_uncertainty.toml")
    sw.add_argument("--out", help="store directory (default sweeps/<experiment name>); an earlier sweep in it "
                    "resumes")
    sw.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    sw.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running dask.distributed scheduler")
    sw.add_argument("--scheduler-file", help="the scheduler file of a running dask.distributed scheduler")
    sw.add_argument("--rerun-failed", action="store_true", help="run again the runs recorded as failed")
    _posterior_arguments(sw)
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)
    op = sub.add_parser("optimise", aliases=["optimize"], help="search a plan space for robust Phase 3 plans: the "
                        "Pareto front beside the named strategies (resumable)")
    op.add_argument("planspace", help="plan-space file (TOML), e.g. "
                    "experiments/plan_spaces/rollout_plans.toml")
    op.add_argument("--out", help="store directory (default optimise/<plan space name>); an earlier search in it "
                    "resumes")
    op.add_argument("--trials", type=int, help="plans to evaluate in all (default: the file's search.trials)")
    op.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    op.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running dask.distributed scheduler")
    op.add_argument("--scheduler-file", help="the scheduler file of a running dask.distributed scheduler")
    op.add_argument("--top", type=int, default=20, help="front plans to print (default 20; all are written)")
    op.add_argument("--no-progress", action="store_true", help="no progress bar")
    op.set_defaults(func=cmd_optimise)
    di = sub.add_parser("discover", help="scenario discovery (PRIM) for a plan of an optimise store: under which "
                        "parameter values it fails a threshold")
    di.add_argument("directory", help="an optimise store")
    di.add_argument("--plan", required=True, help="the plan, e.g. plan_0012 (front.csv lists them)")
    di.add_argument("--outcome", default="lonely_adults_fewer", help="the objective to judge (default "
                    "lonely_adults_fewer)")
    di.add_argument("--below", type=float, help="the plan fails where the outcome falls below this")
    di.add_argument("--above", type=float, help="the plan fails where the outcome rises above this (e.g. cost)")
    di.add_argument("--draws", type=int, default=40, help="posterior draws to run the plan with (default 40)")
    di.add_argument("--min-density", type=float, default=0.8, help="the box chosen: the largest coverage with at "
                    "least this density (default 0.8)")
    di.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    di.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on a running dask.distributed scheduler")
    di.add_argument("--no-progress", action="store_true", help="no progress bar")
    di.set_defaults(func=cmd_discover)
    sm = sub.add_parser("summarise", aliases=["summarize"], help="mean and 90 %% range of each outcome per design "
                        "point of a sweep (CSV + Parquet)")
    sm.add_argument("directory", help="a sweep's store directory")
    sm.add_argument("--top", type=int, default=30, help="design points to print (default 30; all are written)")
    sm.set_defaults(func=cmd_summarise)
    se = sub.add_parser("sensitivity", help="Sobol or Morris indices of a sweep with such a design (table + plot)")
    se.add_argument("directory", help="a sweep's store directory")
    se.add_argument("--outcome", action="append", default=[], help="only this outcome (repeatable)")
    se.add_argument("--no-plot", action="store_true", help="no sensitivity.png")
    se.set_defaults(func=cmd_sensitivity)
    ca = sub.add_parser("calibrate", help="calibrate parameters against targets (ABC-SMC; resumable)")
    ca.add_argument("calibration", help="calibration file (TOML), e.g. calibration/stuttgart.toml")
    ca.add_argument("--out", required=True, help="output directory (an interrupted calibration resumes in it)")
    ca.add_argument("--workers", type=int, default=1, help="worker processes (a local Dask cluster when > 1)")
    ca.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the simulations on a Dask scheduler")
    ca.add_argument("--no-progress", action="store_true", help="no progress bar")
    ca.set_defaults(func=cmd_calibrate)
    pd_ = sub.add_parser("pilot-data", help="check a pilot-data file (format: calibration/README.md)")
    pd_.add_argument("file", help="the pilot-data CSV")
    pd_.add_argument("--scenario", default="pilot_2024_2027", help="the scenario whose period the dates must fall in "
                     "(default pilot_2024_2027)")
    pd_.set_defaults(func=cmd_pilot_data)
    ev = sub.add_parser("evaluate", help="compare an ensemble of runs with pilot data: coverage, bias, CRPS, report")
    ev.add_argument("--runs", required=True, help="a sweep store kept by reporting period (e.g. of ensemble.toml)")
    ev.add_argument("--pilot-data", required=True, help="the pilot-data CSV")
    ev.add_argument("--out", required=True, help="the report: REPORT.html or REPORT.md")
    ev.set_defaults(func=cmd_evaluate)
    pl = sub.add_parser("plot", help="write the standard figures of a run, comparison or sweep directory")
    pl.add_argument("directory", help="a run, compare or sweep output directory")
    pl.add_argument("--out", required=True, help="the folder for the PNG files")
    pl.add_argument("--year", type=int, help="a comparison's year for the cost-against-outcome figures (default: "
                    "every year in which the scenarios differ)")
    pl.add_argument("--plan", help="an optimise store's plan: also its Stadtteile on the Bezirk tiles and its yearly "
                    "cost")
    pl.set_defaults(func=cmd_plot)
    ap = sub.add_parser("app", help="start the interactive app (SolaraViz) for one or a few Stadtteile")
    ap.add_argument("scenario", nargs="?", default=None, help="scenario file or bundled name (default "
                    "neckarvorstadt); at most 12 Stadtteile")
    ap.add_argument("--scale", type=float, help="agents per resident, overrides the scenario")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    ap.add_argument("--open", action="store_true", help="open the app in the default browser")
    ap.set_defaults(func=cmd_app)
    ph = sub.add_parser("phases", help="print the weekly phases in order")
    ph.set_defaults(func=cmd_phases)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``quartiersim`` console script: the one error boundary (see the module docstring)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console()
    if args.version:
        from quartiersim.run import package_version

        console.print(package_version())
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    err = Console(stderr=True)
    debug = bool(getattr(args, "debug", False))
    previous_term = _on_sigterm()
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning(err)
            return int(args.func(args, console) or 0)
    except InputError as exc:
        _say(err, f"error: {exc}")
        return EXIT_BAD_INPUT
    except CommandError as exc:
        _say(err, f"error: {exc}")
        return exc.exit_status
    except KeyboardInterrupt:
        _say(err, "interrupted; finished work is kept and a command run again resumes")
        return EXIT_INTERRUPTED
    except Terminated:
        _say(err, "stopped (SIGTERM); finished work is kept and a command run again resumes")
        return EXIT_TERMINATED
    except MemoryError:
        if debug:
            raise
        _say(err, "error: out of memory; use a smaller scale, fewer Stadtteile, or fewer worker processes")
        return EXIT_FAILED
    except OSError as exc:
        if debug:
            raise
        _say(err, f"error: {_os_error(exc)}")
        return EXIT_FAILED
    except Exception as exc:
        if debug:
            raise
        _say(err, f"error: an unexpected error ({type(exc).__name__}: {exc}). This is a bug in quartiersim: run "
                  "the same command with --debug for the traceback, and report it with the command")
        return EXIT_FAILED
    finally:
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)


def _say(err: Console, text: str) -> None:
    err.print(text, highlight=False, markup=False, soft_wrap=True)


def _os_error(exc: OSError) -> str:
    """An operating-system error in words: which file, what happened, what to do."""
    where = exc.filename or ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what, todo = "the disk is full", "free some space and run the same command again (finished work is kept)"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what, todo = f"not allowed ({exc.strerror})", "check the permissions, or choose another place"
    else:
        what, todo = exc.strerror or str(exc), "check the file or directory, then run the same command again"
    return f"{where + ': ' if where else ''}{what}; {todo}"


def _show_warning(err: Console) -> Any:
    """Warnings as one line each (``warning: ...``), not as Python's two-line form with a source line."""
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        _say(err, f"warning: {message}")

    return show


def _on_sigterm() -> Any:
    """Turn SIGTERM into an exception that unwinds like Ctrl-C (worker processes stopped, partial files removed)."""
    def handler(signum: int, frame: Any) -> None:
        raise Terminated

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (main() called from a thread): leave SIGTERM as it is
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
