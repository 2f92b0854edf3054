"""Running one scenario: the plain entry point :func:`simulate` and writing results to disk.

``simulate(scenario, seed=..., **overrides)`` returns the tidy table and is what notebooks, sweeps and tools
such as EMA Workbench call. :func:`write_results` writes a run's table as Parquet with ``metadata.json``
(package version, resolved scenario, seed, data sources, fallbacks, each indicator's unit and meaning)
atomically: everything is written into
a hidden temporary directory beside the target and renamed into place only when complete, so an interrupted
or failed run leaves no partial output. (:func:`write_atomic` and :func:`remove_partials` live in
:mod:`quartiersim.files` and are imported here for the modules that used them from here.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from quartiersim.data import CITY_INDICATORS_CSV, STADTTEIL_INDICATORS_CSV, STADTTEILE_CSV
from quartiersim.files import atomic_directory, remove_partials, write_atomic
from quartiersim.model import QuarterModel
from quartiersim.outputs import indicator_table
from quartiersim.spec import Scenario

__all__ = ["metadata", "package_version", "read_results", "remove_partials", "simulate", "write_atomic",
           "write_results"]

RESULTS_FILE = "results.parquet"
METADATA_FILE = "metadata.json"
INPUTS_FILE = "stadtteil_inputs.csv"


def package_version() -> str:
    """The installed quartiersim version."""
    try:
        return version("quartiersim")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0+unknown"


#: The kernels every run calls; the kernels they call are compiled and cached with them.
RUN_KERNELS = ("init_ties", "init_initiatives", "week_step", "group_stats")
#: What a first run says while numba compiles (measured on 2 cores: 51 s before a tiny run, about 80 s before the
#: whole city's; README).
COMPILING = "compiling the numba kernels once (about a minute; later runs load them from numba's cache)..."


def kernels_compiled() -> bool | None:
    """Whether numba's cache holds the kernels a run calls, compiled for this source, Python and numba.

    Reads the index files numba writes beside the kernels (or under ``NUMBA_CACHE_DIR``); numba itself discards
    an index whose source file changed, so a stale cache counts as not compiled. Returns None when the cache
    cannot be read this way (another numba layout): then nothing is claimed.
    """
    from quartiersim.kernels import core

    try:
        for name in RUN_KERNELS:
            kernel = getattr(core, name)
            # numba's own check: the index lists the compiled signatures, or nothing when missing or stale
            if not kernel._cache._cache_file._load_index():
                return False
    except (AttributeError, OSError, TypeError):  # pragma: no cover - a numba without this cache layout
        return None
    return True


def simulate(scenario: str | Path | Scenario | None = None, seed: int = 0,
             progress: Callable[[int, int], None] | None = None, **overrides: Any) -> pd.DataFrame:
    """Run one scenario and return its tidy table (``date, stadtteil, indicator, group, value``).

    Args:
        scenario: a scenario file, a bundled scenario name, a Scenario, or None for the default.
        seed: the run's seed; the same scenario and seed give the same table.
        progress: called as ``progress(week, n_weeks)`` after each week.
        **overrides: scenario fields or parameters, e.g. ``scale=0.1`` or ``visit_base=0.2``.

    Returns:
        The tidy table; ``table.attrs`` holds the seed and the resolved scenario.

    """
    model = QuarterModel(scenario, rng=seed, **overrides)
    table = model.run(progress=progress)
    table.attrs["seed"] = seed
    table.attrs["scenario"] = model.spec.resolved()
    return table


def metadata(model: QuarterModel) -> dict[str, Any]:
    """What makes a run reproducible and traceable."""
    spec = model.spec
    fallback_cols = [c for c in model.profile.columns if c.endswith("_fallback")]
    fallbacks = {
        str(row["stadtteil"]): [c[: -len("_fallback")] for c in fallback_cols if row[c]]
        for _, row in model.profile.iterrows()
    }
    return {
        "package": "quartiersim",
        "version": package_version(),
        "seed": model.seed,
        "scenario": spec.resolved(),
        "data_sources": {
            "stadtteile": str(spec.path_of(spec.stadtteile_file) or STADTTEILE_CSV.name),
            "stadtteil_indicators": str(spec.path_of(spec.indicators_file) or STADTTEIL_INDICATORS_CSV.name),
            "city_indicators": {
                name: {"value": float(row["value"]), "kind": row["kind"], "source": row["source"]}
                for name, row in model.city_indicators.iterrows()
            },
            "city_indicators_file": CITY_INDICATORS_CSV.name,
        },
        "fallback_indicators": {k: v for k, v in fallbacks.items() if v},
        "counted_in_neighbour": {
            str(row["stadtteil"]): int(row["counted_in"])
            for _, row in model.profile.iterrows() if pd.notna(row["counted_in"])
        },
        "residents": {"agents": len(model.residents), "persons": float(model.pop_s.sum()),
                      "scale": spec.scale},
        "plan": model.plan.as_records(),
        "funding_rounds": model.funding.history if model.funding is not None else [],
        "weeks": model.n_weeks,
        "report": spec.report,
        "columns": ["date", "stadtteil", "indicator", "group", "value"],
        "indicators": indicator_table(),
    }


def write_results(out: str | Path, table: pd.DataFrame, meta: dict[str, Any], inputs: pd.DataFrame | None = None,
                  overwrite: bool = False) -> Path:
    """Write a run's results atomically into the directory ``out``.

    Everything is written into a hidden temporary directory beside ``out`` and renamed into place when
    complete; leftovers of an earlier, killed write beside ``out`` are removed first.

    Args:
        out: the results directory; must not exist unless ``overwrite``.
        table: the tidy table.
        meta: the metadata to write as ``metadata.json``.
        inputs: per-Stadtteil input indicators with fallback flags, written as CSV.
        overwrite: replace an existing directory.

    Returns:
        The results directory.

    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; choose another --out or pass --overwrite")
    remove_partials(out.parent)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        write_parquet(tmp / RESULTS_FILE, table)
        if inputs is not None:
            inputs.to_csv(tmp / INPUTS_FILE, index=False)
        with (tmp / METADATA_FILE).open("w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2, ensure_ascii=False, default=str)
            fh.flush()
            os.fsync(fh.fileno())
    return out


#: The key of the indicator table (units and meanings) in the schema metadata of every results Parquet file.
INDICATORS_KEY = b"quartiersim.indicators"


def write_parquet(path: str | Path, frame: pd.DataFrame, extra: dict[bytes, Any] | None = None) -> Path:
    """Write a results table as Parquet, atomically, with every indicator's unit and meaning in its metadata.

    ``extra`` adds more schema metadata (values written as JSON). :func:`read_indicator_table` reads the units
    back; pandas and pyarrow read the table as usual.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from quartiersim.outputs import indicator_table

    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(arrow.schema.metadata or {})
    meta[INDICATORS_KEY] = json.dumps(indicator_table(), ensure_ascii=False).encode()
    for key, value in (extra or {}).items():
        meta[key] = json.dumps(value, default=str).encode()
    arrow = arrow.replace_schema_metadata(meta)
    return write_atomic(path, lambda p: pq.write_table(arrow, p))


def read_indicator_table(path: str | Path) -> dict[str, dict[str, str]]:
    """The indicators' labels, units, meanings and kinds stored in a results Parquet file ({} if none)."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(INDICATORS_KEY, b"{}"))


def read_results(path: str | Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a results directory back: the tidy table and its metadata."""
    path = Path(path)
    table = pd.read_parquet(path / RESULTS_FILE)
    with (path / METADATA_FILE).open(encoding="utf-8") as fh:
        meta = json.load(fh)
    return table, meta
