"""Ship a finished Stuttgart calibration: its files into calibration/stuttgart/, its medians as the defaults.

    python calibration/ship.py DIR        # DIR: the --out of `quartiersim calibrate calibration/stuttgart.toml`

Copies the calibration's results (not its history: calibration.db, the log and the lock stay in DIR, where a
further run can continue from them) and rewrites ``CALIBRATED`` and ``NOT_INFORMED`` in
``src/quartiersim/parameters.py`` from DIR's ``posterior_summary.csv`` (four significant digits, as
``tests/test_calibration.py::test_parameter_defaults_follow_the_shipped_calibration`` expects). What changes with
the defaults is printed at the end: the regression baseline, the synthetic pilot example, the ODD's tables and the
bands are made again by their own scripts.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "calibration" / "stuttgart"
PARAMETERS = ROOT / "src" / "quartiersim" / "parameters.py"
HISTORY = {"calibration.db", "calibration.log", "quartiersim.lock"}
BLOCK = re.compile(r"CALIBRATED: dict\[str, tuple\[float, float, float\]\] = \{\n.*?\n\}\n(#:[^\n]*\n)"
                   r"NOT_INFORMED: tuple\[str, \.\.\.\] = \(.*?\)\n", re.S)


def _g(x: float) -> str:
    return f"{x:.4g}"


def _informed(summary: pd.DataFrame) -> pd.Series:
    """Which rows of a posterior summary the targets informed (the column read back as bool or as text)."""
    return summary["informed"].astype(str).str.lower() == "true"


def parameters_block(summary: pd.DataFrame, comment: str) -> str:
    """The ``CALIBRATED`` and ``NOT_INFORMED`` declarations for a posterior summary."""
    informed = summary[_informed(summary)]
    lines = ["CALIBRATED: dict[str, tuple[float, float, float]] = {"]
    lines += [f'    "{r.parameter}": ({_g(r.median)}, {_g(r.q05)}, {_g(r.q95)}),' for r in informed.itertuples()]
    lines.append("}")
    names = [f'"{n}"' for n in summary.loc[~summary.index.isin(informed.index), "parameter"]]
    body, row = [], "NOT_INFORMED: tuple[str, ...] = ("
    for i, name in enumerate(names):
        piece = name + ("," if i < len(names) - 1 or len(names) == 1 else "")
        if len(row) + len(piece) + 1 > 116:
            body.append(row.rstrip())
            row = " " * 33
        row += piece + " "
    body.append(row.rstrip() + ")")
    return "\n".join(lines) + "\n" + comment + "\n".join(body) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Copy the results and rewrite the defaults; 2 when DIR is not a finished calibration."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("directory", type=Path, help="the finished calibration's --out")
    args = ap.parse_args(argv)
    source = args.directory
    summary_path = source / "posterior_summary.csv"
    if not summary_path.is_file():
        print(f"{source}: no posterior_summary.csv (expected a finished calibration's --out)", file=sys.stderr)
        return 2
    summary = pd.read_csv(summary_path)
    text = PARAMETERS.read_text(encoding="utf-8")
    match = BLOCK.search(text)
    if match is None:
        print(f"{PARAMETERS}: the CALIBRATED and NOT_INFORMED declarations were not found", file=sys.stderr)
        return 2
    PARAMETERS.write_text(text[:match.start()] + parameters_block(summary, match.group(1)) + text[match.end():],
                          encoding="utf-8")
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name not in HISTORY and not path.name.endswith(".partial"):
            shutil.copy2(path, SHIPPED / path.name)
    informed = int(_informed(summary).sum())
    print(f"shipped {source} into {SHIPPED.relative_to(ROOT)}; {informed} of {len(summary)} parameters informed")
    print("next: python docs/update_odd.py; (cd tests && python make_baseline.py); python calibration/make_example.py;"
          " python benchmarks/bands.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
