"""The ``quartiersim`` command line. It parses arguments, calls the package and prints; no model logic here.

Bad input (a scenario, data file or argument that cannot be used) prints one message naming the file, the
field and what was expected, and exits with status 2 without writing anything.
"""

from __future__ import annotations

import argparse
import sys
import time
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

from quartiersim.errors import InputError

EXIT_BAD_INPUT = 2


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
    from quartiersim.model import QuarterModel
    from quartiersim.run import metadata, write_results
    from quartiersim.spec import resolve_scenario

    overrides = _parse_set(args.set)
    if args.scale is not None:
        overrides["scale"] = args.scale
    spec = resolve_scenario(args.scenario, **overrides)
    out = Path(args.out) if args.out else Path("runs") / f"{spec.name}_seed{args.seed}"
    if out.exists() and not args.overwrite:
        raise InputError("argument", "--out", "a directory that does not exist yet (or --overwrite)", str(out))
    t0 = time.perf_counter()
    console.print(f"[bold]quartiersim run[/] scenario [cyan]{spec.name}[/], seed {args.seed}, "
                  f"{'all' if spec.stadtteile == 'all' else len(spec.stadtteile)} Stadtteile, scale {spec.scale}, "
                  f"{spec.start} to {spec.end}")
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
    console.print(f"{model.n_st} Stadtteile, {len(model.residents):,} agents for {model.pop_s.sum():,.0f} residents; "
                  f"{n_fallback} Stadtteile use city-wide fallback values for some indicators "
                  f"(see stadtteil_inputs.csv).")
    console.print(f"wrote {len(table):,} rows to [green]{out}[/] in {elapsed:.1f} s")


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def cmd_params(args: argparse.Namespace, console: Console) -> int:
    """List the declared parameters."""
    from quartiersim.parameters import PARAMS

    table = Table(title="quartiersim parameters (set them under [parameters] or with --set name=value)")
    for col in ("name", "default", "unit", "range", "meaning"):
        table.add_column(col)
    for p in PARAMS:
        if args.group and p.group != args.group:
            continue
        table.add_row(p.name, f"{p.default:g}", p.unit, f"{p.low:g} .. {p.high:g}", p.meaning)
    console.print(table)
    return 0


def cmd_stadtteile(args: argparse.Namespace, console: Console) -> int:
    """List the Stadtteile with their population and source."""
    import pandas as pd

    from quartiersim.data import load_stadtteile

    frame = load_stadtteile(args.file)
    table = Table(title=f"{len(frame)} Stadtteile in {frame['bezirk'].nunique()} Bezirke")
    for col in ("number", "stadtteil", "bezirk", "population", "as of", "note"):
        table.add_column(col, no_wrap=col in ("stadtteil", "bezirk"))
    for _, row in frame.iterrows():
        note = "" if pd.isna(row["counted_in"]) else f"residents counted in {row['counted_in']}"
        table.add_row(str(row["number"]), row["stadtteil"], row["bezirk"], f"{row['population']:,}",
                      row["reference_date"], note)
    console.print(table)
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


def cmd_phases(args: argparse.Namespace, console: Console) -> int:
    """Print the weekly phases in order."""
    from quartiersim.model import QuarterModel

    console.print(QuarterModel.describe_phases())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used for the README's usage text)."""
    parser = argparse.ArgumentParser(prog="quartiersim", description="Agent-based simulation of social quarter "
                                     "development in Stuttgart's 152 Stadtteile.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
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
    ph = sub.add_parser("phases", help="print the weekly phases in order")
    ph.set_defaults(func=cmd_phases)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``quartiersim`` console script."""
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
    try:
        return int(args.func(args, console) or 0)
    except InputError as exc:
        err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        err.print("interrupted; nothing was written")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
