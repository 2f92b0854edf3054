"""Parameter uncertainty in comparisons and sweeps: parameter sets drawn from a calibration's posterior.

A calibration (:mod:`quartiersim.calibration`) ends with a weighted sample of parameter sets, ``posterior.csv``.
A comparison or sweep that draws from it runs each seed with one parameter set drawn by weight, the same set for
every scenario (or design point) of that seed: common random numbers and common parameters, so differences
between scenarios stay paired while their spread over seeds now includes what the calibration left uncertain.

Which parameters are drawn: those of the posterior that a scenario does not set itself. A scenario that
leaves them at their defaults derives from the calibration (the bundled calibration's medians are the
defaults of the parameters it informs); one that sets a parameter keeps its own value for it.

The draw of seed ``s`` is a pure function of ``s`` and the posterior's content, so adding seeds later keeps the
earlier draws, and the same seed gives the same parameters in any process.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from quartiersim.errors import InputError
from quartiersim.parameters import PARAMS_BY_NAME

POSTERIOR_FILE = "posterior.csv"


@dataclass(frozen=True)
class Posterior:
    """A weighted sample of parameter sets, where it came from and a digest of its content."""

    frame: pd.DataFrame  # one column per parameter and ``weight`` (summing to 1)
    source: str
    digest: str

    @property
    def parameters(self) -> list[str]:
        """The parameters the sample holds."""
        return [c for c in self.frame.columns if c in PARAMS_BY_NAME]

    def draw(self, seed: int) -> dict[str, float]:
        """The parameter set of ``seed``: a particle drawn by weight with a generator keyed by seed and content."""
        key = int.from_bytes(hashlib.sha256(f"{self.digest}:{int(seed)}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(key)
        w = self.frame["weight"].to_numpy(dtype=float)
        k = int(rng.choice(len(w), p=w / w.sum()))
        row = self.frame.iloc[k]
        out = {}
        for name in self.parameters:
            value = float(row[name])
            out[name] = int(round(value)) if PARAMS_BY_NAME[name].integer else value
        return out

    def draws(self, seeds: list[int]) -> dict[int, dict[str, float]]:
        """The parameter set of each seed."""
        return {int(s): self.draw(s) for s in seeds}


def load_posterior(path: str | Path) -> Posterior:
    """Read a posterior sample: a ``posterior.csv`` or a calibration's output directory holding one.

    Raises:
        InputError: no such file, not a table of declared parameters with positive weights.

    """
    from quartiersim.data import read_csv_text

    path = Path(path)
    file = path / POSTERIOR_FILE if path.is_dir() else path
    if not file.is_file():
        raise InputError(path, "(file)", f"a calibration's {POSTERIOR_FILE}, or a directory holding one (what "
                         "'quartiersim calibrate' writes)")
    frame = read_csv_text(file)
    names = [c for c in frame.columns if c not in ("weight", "generation")]
    unknown = [c for c in names if c not in PARAMS_BY_NAME]
    if unknown:
        raise InputError(file, unknown[0], "columns of declared parameters (see 'quartiersim params'), a weight "
                         "column and optionally generation")
    if "weight" not in frame.columns or not names or frame.empty:
        raise InputError(file, "weight", "a column 'weight' beside at least one parameter column, and rows")
    values = frame[[*names, "weight"]].apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(values.to_numpy(dtype=float)).all() or (values["weight"] < 0).any() or \
            values["weight"].sum() <= 0:
        raise InputError(file, "weight", "finite numbers, weights >= 0 with a positive sum")
    for name in names:
        p = PARAMS_BY_NAME[name]
        if not values[name].between(p.low, p.high).all():
            raise InputError(file, name, f"values in the declared range [{p.low:g}, {p.high:g}] {p.unit}")
    values["weight"] = values["weight"] / values["weight"].sum()
    digest = hashlib.sha256(values.to_csv(index=False).encode()).hexdigest()[:16]
    return Posterior(values.reset_index(drop=True), str(file), digest)


def bundled_posterior_path() -> Path | None:
    """Where the bundled Stuttgart calibration's posterior lies (installed package or checkout), if anywhere."""
    candidates = [Path(str(resources.files("quartiersim"))) / "bundled_calibration" / POSTERIOR_FILE,
                  Path(__file__).resolve().parents[2] / "calibration" / "stuttgart" / POSTERIOR_FILE]
    return next((p for p in candidates if p.is_file()), None)


def resolve_posterior(posterior: str | Path | Posterior | bool | None) -> Posterior | None:
    """The posterior a command draws from.

    ``None`` or ``True``: the bundled calibration's (None if the package has none); ``False``: none (fixed
    parameters); a path: that one.
    """
    if posterior is False:
        return None
    if isinstance(posterior, Posterior):
        return posterior
    if posterior is None or posterior is True:
        path = bundled_posterior_path()
        return load_posterior(path) if path is not None else None
    return load_posterior(posterior)


def drawn_parameters(scenario_parameters: dict[str, Any], posterior: Posterior,
                     fixed: set[str] | None = None) -> list[str]:
    """The posterior's parameters a scenario takes from its draws: those it does not set itself (nor ``fixed``)."""
    own = set(scenario_parameters) | (fixed or set())
    return [name for name in posterior.parameters if name not in own]
