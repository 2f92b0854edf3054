"""Calibration against targets with ABC-SMC (pyabc): ``quartiersim calibrate``.

A **targets file** (``calibration/targets.toml``) lists what the model should reproduce, each with a value, an
uncertainty (``sd``), the statistic of the results it is compared with and its source::

    [[targets]]
    name = "lonely_share"
    value = 0.035
    sd = 0.005
    statistic = {indicator = "lonely_share", group = "all", year = 2025}
    source = "Bürgerumfrage 2021 (Statistisches Amt, Monatsheft 4/2022): 3-4 % of adults lonely"

    [[targets]]
    name = "lonely_ratio_migration"      # a ratio of two statistics
    value = 1.5
    sd = 0.4
    statistic = {indicator = "lonely_share", group = "migration", year = 2025}
    relative_to = {indicator = "lonely_share", group = "no_migration", year = 2025}
    source = "..."

A statistic is an outcome as in experiment files (indicator, group, Stadtteil, a year or an aggregate over
years; :class:`quartiersim.experiments.OutcomeSpec`). A **calibration file** names the base scenario, fixed
changes (``[set]``), the targets file, the priors of the parameters to calibrate (uniform over a range inside
the declared one, or log-uniform with ``scale = "log"``) and the ABC-SMC settings::

    name = "stuttgart"
    scenario = "verstetigung_funding_ends"
    targets = "targets.toml"                 # relative to this file
    use = ["lonely_share", "volunteer_share"]  # which of its targets (default: all)
    [set]
    scale = 0.2
    [priors]
    lonely_onset_base = {low = 1e-5, high = 1.6e-4, scale = "log"}
    lonely_rr_migration = [1.0, 3.0]
    [abc]
    population_size = 100                    # particles per generation
    max_generations = 6
    min_epsilon = 1.0                        # stop when the distance threshold reaches this
    max_simulations = 4000
    seed = 0
    early_rejection = true                   # stop a simulation once its finished targets rule it out

Each simulation runs the scenario with one parameter set and a seed drawn for it, and the distance to the
targets is the root mean square of ``(simulated - value) / sd`` over the targets (a simulation that cannot give
a statistic is rejected). A simulation whose finished targets (those of the years already simulated) put it
beyond the generation's threshold is stopped there, because it would be rejected anyway
(:mod:`quartiersim.abc_model`; ``early_rejection = false`` runs every simulation to its end). ABC-SMC (Toni et
al. 2009; Beaumont et al. 2009; pyabc: Schälte et al. 2022) keeps a weighted population of accepted parameter
sets and lowers the threshold generation by generation: the result is a weighted posterior sample, not a best
point.

The output directory holds ``calibration.db`` (pyabc's history: every generation; an interrupted calibration
resumes from the last finished generation), ``posterior.csv`` (the last generation: parameters and weights),
``posterior_summary.csv`` (weighted mean, SD, median and 5th/95th percentiles per parameter),
``generations.csv``, ``posterior.png``, ``calibrated.toml`` (the base scenario with the posterior medians: a
scenario file for ``run``, ``compare`` and ``sweep``) and ``ensemble.toml`` (an experiment running the
calibrated scenario with parameter sets drawn from the posterior, for ``quartiersim evaluate``).

With one worker the calibration is reproducible from its seed. With several (local processes through Dask,
or a Dask cluster with ``scheduler``) the order in which simulations finish decides which are accepted, so
two calibrations agree in distribution, not to the digit.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quartiersim.errors import CommandError, InputError
from quartiersim.experiments import (
    SEED_LIMIT,
    OutcomeSpec,
    Uncertainty,
    base_scenario,
    check_outcomes,
    key_columns,
    outcome_values_of,
    parameter_range,
    rows_of,
)
from quartiersim.files import LOCK_FILE, DirectoryLock, check_name, check_output, toml_plain, write_atomic
from quartiersim.model import QuarterModel
from quartiersim.outputs import COUNT_FLOWS, FLOWS
from quartiersim.run import package_version
from quartiersim.spec import Scenario, read_toml, validate_model

MANIFEST = "calibration.json"
DATABASE = "calibration.db"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TargetSpec(_Strict):
    """One calibration target: a value with its uncertainty, the statistic it matches, its source and standing.

    ``kind`` is ``"observed"`` for a published figure (``source`` names it with page or table; ``mapping`` says
    which statistic of the model measures the same thing) and ``"assumption"`` for a value the project chose
    because no figure was found (``source`` gives the reasoning, and ``sd`` should be wide).
    """

    name: str = Field(min_length=1)
    kind: Literal["observed", "assumption"]
    value: float
    sd: float = Field(gt=0)
    statistic: OutcomeSpec
    relative_to: OutcomeSpec | None = None
    relative_as: Literal["ratio", "difference"] = "ratio"
    source: str = Field(min_length=1)
    mapping: str = ""
    note: str = ""


class TargetsFile(_Strict):
    """The tables of a targets file."""

    targets: list[TargetSpec] = Field(min_length=1)


class ABCSettings(_Strict):
    """ABC-SMC settings, with the convergence criterion.

    A calibration stops when it has converged: after at least ``min_generations``, the last generation's
    effective sample size is at least ``min_ess_share`` of the population, and either its threshold fell by at
    most ``max_epsilon_change``, relatively, from the one before, or at most ``min_acceptance_rate`` of its
    simulations were accepted. Either way further generations would gain little: the threshold hardly moves, or
    the posterior's own proposals rarely get closer to the targets than it already is, because the simulations'
    noise is most of the distance that is left (the stopping rule of Lenormand, Jabot and Deffuant 2013,
    Computational Statistics 28: 2777-2796, at 0.05 in the R package EasyABC; pyabc's ``min_acceptance_rate``). It also
    stops when the threshold reaches ``min_epsilon``, or when ``max_generations`` or ``max_simulations`` are used
    up; the reason is recorded.
    """

    population_size: int = Field(default=100, ge=5, le=100_000)
    max_generations: int = Field(default=6, ge=1, le=100)
    min_epsilon: float = Field(default=1.0, ge=0)
    max_simulations: int = Field(default=5000, ge=1, le=10_000_000)
    seed: int = Field(default=0, ge=0, lt=SEED_LIMIT)
    min_generations: int = Field(default=3, ge=1, le=100)
    min_ess_share: float = Field(default=0.5, gt=0, le=1)
    max_epsilon_change: float = Field(default=0.05, ge=0, le=1)
    min_acceptance_rate: float = Field(default=0.05, ge=0, le=1)
    predictive_draws: int = Field(default=40, ge=0, le=10_000)
    early_rejection: bool = True


#: The settings that say when to stop, what to report and how fast to simulate, not what a generation samples: a
#: calibration resumed with other values of these continues the same history (early rejection gives up only on
#: simulations that would be rejected anyway, :class:`quartiersim.abc_model.EarlyRejection`).
STOPPING = frozenset({"max_generations", "max_simulations", "min_epsilon", "min_generations", "min_ess_share",
                      "max_epsilon_change", "min_acceptance_rate", "predictive_draws", "early_rejection"})


class CalibrationFile(_Strict):
    """The tables of a calibration file, as written."""

    name: str = Field(min_length=1)
    description: str = ""
    scenario: str = Field(min_length=1)
    targets: str = Field(min_length=1)
    use: list[str] | None = Field(default=None, min_length=1, description="the targets to use (default: all)")
    set: dict[str, Any] = Field(default_factory=dict)
    priors: dict[str, Any] = Field(min_length=1)
    abc: ABCSettings = Field(default_factory=ABCSettings)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)


@dataclass(frozen=True)
class Prior:
    """A calibrated parameter's prior: uniform or log-uniform over a range inside the declared one."""

    range: Uncertainty
    scale: Literal["linear", "log"]

    @property
    def name(self) -> str:
        """The parameter."""
        return self.range.name

    def value(self, z: float) -> float:
        """The parameter's value at ``z`` on the sampler's scale (a standard normal quantile of the prior)."""
        from scipy.special import ndtr

        u = float(np.clip(ndtr(z), 0.0, 1.0))
        lo, hi = self.range.low, self.range.high
        x = math.exp(math.log(lo) + u * math.log(hi / lo)) if self.scale == "log" else lo + u * (hi - lo)
        return float(min(max(x, lo), hi))  # rounding at the ends

    def normal(self, x: float) -> float:
        """The sampler's scale of value ``x`` (the inverse of :meth:`value`)."""
        from scipy.special import ndtri

        lo, hi = self.range.low, self.range.high
        u = math.log(x / lo) / math.log(hi / lo) if self.scale == "log" else (x - lo) / (hi - lo)
        return float(ndtri(min(max(u, 1e-12), 1 - 1e-12)))


#: How the sampler sees the parameters (part of a calibration's fingerprint: a stored history on another scale
#: is not resumed). Each parameter is sampled as z = the standard normal quantile of its prior's distribution
#: function, so its prior is N(0, 1) exactly, whether uniform or log-uniform; the perturbation kernel is a
#: normal per parameter. Uniform priors sampled directly, with one kernel over all twelve parameters, gave
#: effective sample sizes of 3-15 % of the population: the kernel density is lumpy in the dimensions the targets
#: do not inform and leaks over the prior's edges; on this scale with one kernel per parameter a test problem
#: of the same shape (6 informed, 6 uninformed parameters) kept 40-60 %.
SAMPLER_SCALE = "normal-quantile, kernel per parameter"


@dataclass
class Calibration:
    """A validated calibration: base scenario, targets with their statistics' Stadtteile, priors, settings."""

    name: str
    description: str
    source: str
    base: Scenario
    targets: list[TargetSpec]
    stadtteile: list[tuple[str, str | None]]
    priors: list[Prior]
    settings: ABCSettings
    targets_file: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def observed(self) -> dict[str, float]:
        """The target values by name."""
        return {t.name: t.value for t in self.targets}

    def simulator(self, threads: int | None = None) -> Simulator:
        """The simulator of this calibration: its base scenario, targets and the priors' integer parameters."""
        return Simulator(self.base.as_data(), self.targets, self.stadtteile,
                         {p.name: p.range.integer for p in self.priors}, threads=threads)

    def distance(self) -> Distance:
        """The distance of a simulation from this calibration's targets."""
        return Distance({t.name: t.sd for t in self.targets})

    def fingerprint(self) -> str:
        """What a resumed calibration must share with the one that started the directory."""
        base = self.base.resolved()
        # the priors' parameters take the sampled values in every simulation: their base values (the defaults,
        # which a shipped calibration itself sets) do not identify the calibration
        sampled = {p.name for p in self.priors}
        base["parameters"] = {k: v for k, v in (base.get("parameters") or {}).items() if k not in sampled}
        ident = {"base": base, "targets": [t.model_dump() for t in self.targets],
                 "priors": [(p.name, p.range.low, p.range.high, p.scale) for p in self.priors],
                 "abc": self.settings.model_dump(exclude=set(STOPPING)),
                 "sampler": SAMPLER_SCALE}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------------------------
# files
# ------------------------------------------------------------------------------------------------------------

def load_targets(path: str | Path) -> list[TargetSpec]:
    """Read and validate a targets file."""
    path = Path(path)
    spec = validate_model(TargetsFile, read_toml(path, "targets file"), str(path),
                          {"targets": TargetSpec, "statistic": OutcomeSpec, "relative_to": OutcomeSpec})
    names = [t.name for t in spec.targets]
    if len(set(names)) < len(names):
        raise InputError(path, "targets", "targets with distinct names", names)
    return list(spec.targets)


def load_calibration(path: str | Path) -> Calibration:
    """Read and validate a calibration file and its targets file."""
    path = Path(path)
    data = read_toml(path, "calibration file")
    data.setdefault("name", path.stem)
    source = str(path)
    spec = validate_model(CalibrationFile, data, source, {"abc": ABCSettings})
    base = base_scenario(spec.scenario, spec.set, source, path.parent)
    targets_path = Path(spec.targets) if Path(spec.targets).is_absolute() else path.parent / spec.targets
    targets = load_targets(targets_path)
    if spec.use is not None:
        known = [t.name for t in targets]
        for name in spec.use:
            if name not in known:
                raise InputError(source, "use", f"names of targets in {targets_path}: {', '.join(known)}", name)
        targets = [t for t in targets if t.name in spec.use]
    data_of = [base.as_data()]
    statistic_st = check_outcomes([t.statistic for t in targets], data_of, str(targets_path), "targets.statistic",
                                  distinct=False)
    relative = [t.relative_to for t in targets if t.relative_to is not None]
    relative_st = iter(check_outcomes(relative, data_of, str(targets_path), "targets.relative_to",
                                      distinct=False) if relative else [])
    stadtteile = [(st, next(relative_st) if t.relative_to is not None else None)
                  for t, st in zip(targets, statistic_st, strict=True)]
    priors = []
    for name, value in spec.priors.items():
        scale = "linear"
        if isinstance(value, dict) and "scale" in value:
            value = dict(value)
            scale = value.pop("scale")
            if scale not in ("linear", "log"):
                raise InputError(source, f"priors.{name}.scale", "'linear' or 'log'", scale)
        rng = parameter_range(name, value, source, section="priors")
        if scale == "log" and rng.low <= 0:
            raise InputError(source, f"priors.{name}", "a range above 0 for a log-uniform prior", [rng.low, rng.high])
        priors.append(Prior(rng, scale))
    return Calibration(spec.name, spec.description, source, base, targets, stadtteile, priors, spec.abc,
                       str(targets_path), data)


# ------------------------------------------------------------------------------------------------------------
# simulation and distance (module-level classes: workers unpickle them)
# ------------------------------------------------------------------------------------------------------------

def statistics(table: pd.DataFrame, targets: list[TargetSpec], stadtteile: list[tuple[str, str | None]]
               ) -> dict[str, float]:
    """The targets' statistics of one run (a tidy or yearly table).

    A tidy table is cut to the rows the targets read before it is made yearly: each statistic comes from the rows
    of its own Stadtteil, indicator and group alone, so the values are the same, and a run's table need not be
    summarised whole for a dozen numbers.
    """
    from quartiersim.outputs import yearly

    table = yearly(_rows_read(table, targets, stadtteile)) if "year" not in table.columns else table
    values = iter(outcome_values_of(table, list(_outcomes_read(targets, stadtteile))))
    out = {}
    for t in targets:  # in the order _outcomes_read gives them: each statistic, then what it is relative to
        value = next(values)
        if t.relative_to is not None:
            other = next(values)
            if t.relative_as == "difference":
                value = value - other
            else:
                value = value / other if other else math.nan
        out[t.name] = value
    return out


def _rows_read(table: pd.DataFrame, targets: list[TargetSpec], stadtteile: list[tuple[str, str | None]]
               ) -> pd.DataFrame:
    """The rows of a tidy table the targets' statistics read (their Stadtteil, indicator and group), no attrs."""
    wanted = {(name, o.indicator, o.group) for o, name in _outcomes_read(targets, stadtteile)}
    cols = key_columns(table)
    keep = np.zeros(len(table), dtype=bool)
    for key in wanted:
        keep |= rows_of(cols, key)
    rows = table[keep]
    rows.attrs = {}  # pandas would copy a run's scenario (attrs) deeply at every step that follows
    return rows


def _outcomes_read(targets: list[TargetSpec], stadtteile: list[tuple[str, str | None]]
                   ) -> Iterator[tuple[OutcomeSpec, str]]:
    """Each outcome the targets read (statistic, and the one it is relative to) with its Stadtteil or area."""
    for t, (st, rel_st) in zip(targets, stadtteile, strict=True):
        yield t.statistic, st
        if t.relative_to is not None:
            yield t.relative_to, rel_st or st


def seed_for(parameters: dict[str, float]) -> int:
    """A run's seed drawn from its parameter values: the same set always gets the same seed."""
    text = json.dumps({k: float(v) for k, v in sorted(parameters.items())})
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


@dataclass
class Simulator:
    """Runs the base scenario with one parameter set and returns the targets' statistics."""

    data: dict[str, Any]
    targets: list[TargetSpec]
    stadtteile: list[tuple[str, str | None]]
    integer: dict[str, bool]
    threads: int | None = None

    def __call__(self, parameters: dict[str, float], seed: int | None = None,
                 reject: Callable[[dict[str, float]], bool] | None = None) -> dict[str, float] | None:
        """One simulation (pyabc's model); its seed is drawn from the values unless given.

        With ``reject``, the run stops after each year in which some targets' statistics become final
        (:func:`stages`) and calls ``reject`` with those statistics; if it says yes, the simulation ends there and
        gives None. The statistics of a run that goes on are the same either way.
        """
        model = self.model(parameters, seed)
        if reject is not None:
            for year, targets, stadtteile in stages(self.targets, self.stadtteile):
                end = dt.date(year, 12, 31)
                while model.running and model.date <= end:
                    model.step()
                if reject(statistics(model.results(), targets, stadtteile)):
                    return None
        return statistics(model.run(), self.targets, self.stadtteile)

    def model(self, parameters: dict[str, float], seed: int | None = None) -> QuarterModel:
        """The model of one simulation, built and spun up, not yet run.

        It reports once a year unless a target reads a flow summed in floating point (the statistics are yearly:
        stocks at a year's end, flows summed over it, so for stocks and counted initiatives one report a year
        gives the values of twelve) and stops each Stadtteil after the last year the targets read
        (:func:`last_read`, ``QuarterModel.stop_after``); the statistics are those of the whole run.
        """
        if self.threads is not None:
            import numba

            numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        values = {k: (int(round(v)) if self.integer.get(k) else float(v)) for k, v in dict(parameters).items()}
        data = copy.deepcopy(self.data)
        data["parameters"] = {**data["parameters"], **values}
        if not any(o.indicator in FLOWS and o.indicator not in COUNT_FLOWS
                   for o, _ in _outcomes_read(self.targets, self.stadtteile)):
            data["report"] = "yearly"
        model = QuarterModel(Scenario(**data), rng=seed_for(values) if seed is None else seed)
        if model.funding is None:  # otherwise the Stadtteile share the funding rounds' budget to the end
            model.stop_after(last_read(self.targets, self.stadtteile, model.profile["stadtteil"].tolist(),
                                       model.spec.start))
        return model


def stages(targets: list[TargetSpec], stadtteile: list[tuple[str, str | None]]
           ) -> list[tuple[int, list[TargetSpec], list[tuple[str, str | None]]]]:
    """The years before the last after which some targets' statistics are final, each with those targets.

    A target is final once the last year it reads (its statistic's, and that of the one it is relative to) has
    been reported: later weeks do not change the rows of earlier years.
    """
    last = [max(o.last_year for o, _ in _outcomes_read([t], [st])) for t, st in zip(targets, stadtteile, strict=True)]
    out = []
    for year in sorted(set(last))[:-1]:
        keep = [k for k, y in enumerate(last) if y <= year]
        out.append((year, [targets[k] for k in keep], [stadtteile[k] for k in keep]))
    return out


def last_read(targets: list[TargetSpec], stadtteile: list[tuple[str, str | None]], simulated: list[str],
              start: dt.date) -> dict[str, dt.date]:
    """The last day each simulated Stadtteil's rows are read by the targets (for ``QuarterModel.stop_after``).

    A Stadtteil no target reads is needed for no day of the period (the day before ``start``); if a target
    reads the city's rows, every Stadtteil is needed to the end (an empty result).
    """
    last: dict[str, int] = {}
    for outcome, name in _outcomes_read(targets, stadtteile):
        last[name] = max(last.get(name, outcome.last_year), outcome.last_year)
    if any(name not in simulated for name in last):  # the city (or an area made of several Stadtteile)
        return {}
    before = start - dt.timedelta(days=1)
    return {name: dt.date(last[name], 12, 31) if name in last else before for name in simulated}


@dataclass
class OnNormalScale:
    """The simulator as pyabc calls it: parameters on the sampler's scale (:data:`SAMPLER_SCALE`)."""

    simulator: Simulator
    priors: list[Prior]

    def __call__(self, parameters: dict[str, float],
                 reject: Callable[[dict[str, float]], bool] | None = None) -> dict[str, float] | None:
        """One simulation with the parameters' values at the sampled ``z`` (``reject``: see :class:`Simulator`)."""
        return self.simulator(natural(dict(parameters), self.priors), reject=reject)


def perturbation(priors: list[Prior]) -> Any:
    """The sampler's perturbation kernel: a normal of its own for each parameter, on the sampler's scale."""
    import pyabc

    return pyabc.AggregatedTransition(mapping={p.name: pyabc.MultivariateNormalTransition() for p in priors})


def natural(z: dict[str, float], priors: list[Prior]) -> dict[str, float]:
    """Parameter values from the sampler's scale."""
    return {p.name: p.value(float(z[p.name])) for p in priors}


def natural_frame(frame: pd.DataFrame, priors: list[Prior]) -> pd.DataFrame:
    """A table of particles (pyabc's, on the sampler's scale) with the parameters' values."""
    out = frame.copy()
    for p in priors:
        out[p.name] = [p.value(float(z)) for z in frame[p.name]]
    return out


@dataclass
class Distance:
    """Root mean square of the targets' z-scores; infinite when a statistic is missing."""

    sd: dict[str, float]

    def __call__(self, simulated: dict[str, float], observed: dict[str, float]) -> float:
        """The distance of a simulation from the targets."""
        z = self._z(simulated, observed, self.sd)
        return math.inf if z is None else math.sqrt(sum(v * v for v in z) / len(z))

    def lower_bound(self, simulated: dict[str, float], observed: dict[str, float]) -> float:
        """What the distance of a simulation will be at least, from the statistics it has given so far.

        The targets still missing add squares, which are never negative, to the same mean: the distance can only
        grow from here. (Rounding can make the two differ in the last digits: :class:`EarlyRejection` leaves a
        margin far above that.)
        """
        z = self._z(simulated, observed, [k for k in self.sd if k in simulated])
        if z is None:
            return math.inf
        try:
            return math.sqrt(math.fsum(v * v for v in z) / len(self.sd))
        except OverflowError:  # squares beyond the largest float: the distance itself is infinite
            return math.inf

    def _z(self, simulated: dict[str, float], observed: dict[str, float], names: Any) -> list[float] | None:
        """The z-scores of the targets ``names``, in the order of ``sd``; None if one is not finite."""
        z = [(simulated[k] - observed[k]) / self.sd[k] for k in names]
        return None if any(not math.isfinite(v) for v in z) else z


# ------------------------------------------------------------------------------------------------------------
# running
# ------------------------------------------------------------------------------------------------------------

@dataclass
class CalibrationResult:
    """Where a calibration stands.

    Its generations, its weighted posterior sample and summary, why it stopped, and the posterior predictive
    check.
    """

    out: Path
    generations: pd.DataFrame
    posterior: pd.DataFrame
    summary: pd.DataFrame
    ran_generations: int
    stopped: str = ""
    predictive: pd.DataFrame | None = None


class _Progress(logging.Handler):
    """Turns pyabc's log lines on each generation into progress calls."""

    def __init__(self, callback: Callable[[int, float, int], None] | None):
        super().__init__(level=logging.INFO)
        self.callback = callback
        self.simulations = 0
        self.generation_ends = 0  # simulations as pyabc counts them at the end of each generation
        self.generation = 0
        self.epsilon = math.inf

    def simulated(self, total: int) -> None:
        """``total`` simulations have finished so far: report within a generation, not only at its end."""
        if total > self.simulations:
            self.simulations = total
            if self.callback:
                self.callback(self.generation, self.epsilon, self.simulations)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("t: ") and "eps:" in message:
            try:
                self.generation = int(message.split(",")[0].split(":")[1])
                self.epsilon = float(message.split("eps:")[1].strip().rstrip("."))
            except ValueError:
                return
        elif message.startswith("Accepted:"):
            try:
                self.generation_ends += int(message.split("/")[1].split(",")[0])
            except (IndexError, ValueError):
                return
            self.simulations = max(self.simulations, self.generation_ends)
        else:
            return
        if self.callback:
            self.callback(self.generation, self.epsilon, self.simulations)


class _FinishedTasks:
    """A Dask scheduler plugin counting finished tasks: the simulations that Dask workers have run."""

    name = "quartiersim-finished-tasks"

    def __init__(self) -> None:
        self.finished = 0

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        """Count a task that went from processing to memory (it finished)."""
        if start == "processing" and finish == "memory":
            self.finished += 1


def _finished_tasks(client: Any) -> int:
    """The tasks finished on the scheduler since :func:`_watch_dask` registered its plugin."""
    return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins[_FinishedTasks.name].finished)


@contextmanager
def _watch_dask(client: Any, progress: _Progress, every: float = 1.0) -> Iterator[None]:
    """Report the simulations the Dask workers finish, once a second, while the block runs."""
    from distributed.diagnostics.plugin import SchedulerPlugin

    plugin = type("FinishedTasks", (_FinishedTasks, SchedulerPlugin), {})()
    client.register_plugin(plugin)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every):
            try:
                progress.simulated(_finished_tasks(client))
            except Exception:  # noqa: BLE001 - progress is a nicety; a scheduler going away ends it
                return

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        try:  # the generation's last count (the poll may have missed the last second), then the plugin goes:
            # the next generation registers a fresh one (Dask warns on a name registered twice)
            progress.simulated(_finished_tasks(client))
            client.unregister_scheduler_plugin(_FinishedTasks.name)
        except Exception:  # noqa: BLE001 - a scheduler that went away took its plugins with it
            pass


def calibrate(calibration: str | Path | Calibration, out: str | Path, workers: int = 1,
              scheduler: str | None = None,
              progress: Callable[[int, float, int], None] | None = None) -> CalibrationResult:
    """Run (or resume) an ABC-SMC calibration and write its posterior, summary and calibrated scenario.

    Args:
        calibration: a calibration file or a loaded :class:`Calibration`.
        out: the output directory; one holding an unfinished calibration of the same file resumes.
        workers: worker processes (a local Dask cluster when > 1).
        scheduler: the address of a running dask.distributed scheduler instead.
        progress: called as ``progress(generation, epsilon, simulations)`` as each generation starts and ends,
            and as simulations finish within a generation (simulations: those run so far in this call).

    Raises:
        InputError: a bad file, or an output directory holding something else.

    """
    from quartiersim.compare import check_workers
    from quartiersim.executors import check_reachable

    cal = calibration if isinstance(calibration, Calibration) else load_calibration(calibration)
    out = Path(out)
    check_output(out, "--out", "directory", resume=True)
    check_out(out, cal)
    check_workers(workers)
    if scheduler is not None:
        check_reachable(scheduler)
    out.mkdir(parents=True, exist_ok=True)
    with DirectoryLock(out, "quartiersim calibrate"):
        resume = check_out(out, cal)  # again, now that no other process writes here
        return _calibrate(cal, out, resume, workers, scheduler, progress)


def _calibrate(cal: Calibration, out: Path, resume: bool, workers: int, scheduler: str | None,
               progress: Callable[[int, float, int], None] | None) -> CalibrationResult:
    import pyabc

    from quartiersim.executors import dask_client

    manifest = {"name": cal.name, "calibration_file": cal.source, "targets_file": cal.targets_file,
                "fingerprint": cal.fingerprint(), "version": package_version(),
                "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "calibration": cal.raw}
    write_atomic(out / MANIFEST, lambda p: p.write_text(json.dumps(manifest, indent=2, default=str)))
    # every parameter on the sampler's scale (SAMPLER_SCALE): N(0, 1) there is the uniform or log-uniform prior
    prior = pyabc.Distribution(**{p.name: pyabc.RV("norm", 0.0, 1.0) for p in cal.priors})
    parallel = workers > 1 or scheduler is not None
    simulator = cal.simulator(threads=1 if parallel else None)
    distance = cal.distance()
    handler = _Progress(progress)
    loggers = [logging.getLogger(n) for n in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Epsilon")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    state = np.random.get_state()
    ran = 0
    try:
        for lg in loggers:  # pyabc's own console lines would break the progress bar: its log goes to the file
            lg.handlers = [h for h in lg.handlers if not isinstance(h, logging.StreamHandler)]
            lg.propagate = False
        file_log = logging.FileHandler(out / "calibration.log", encoding="utf-8")
        file_log.setLevel(logging.INFO)
        for lg in loggers[:1]:
            lg.setLevel(logging.INFO)
            lg.addHandler(handler)
            lg.addHandler(file_log)
        np.random.seed(cal.settings.seed)  # pyabc draws from numpy's global generator; restored below
        with dask_client(workers, scheduler) if parallel else _nothing() as client:
            sampler = (pyabc.sampler.DaskDistributedSampler(dask_client=client, batch_size=1) if parallel
                       else pyabc.sampler.SingleCoreSampler())
            from quartiersim.abc_model import EarlyRejection

            model = EarlyRejection(OnNormalScale(simulator, cal.priors), distance, cal.settings.early_rejection,
                                   counted=None if parallel else handler.simulated)
            db = f"sqlite:///{(out / DATABASE).resolve()}"

            def smc() -> Any:
                return pyabc.ABCSMC(model, prior, distance, population_size=cal.settings.population_size,
                                    sampler=sampler, transitions=perturbation(cal.priors))

            def loaded() -> tuple[Any, Any]:
                # A fresh ABCSMC per generation, loading the stored history: an ABCSMC object run again keeps
                # the threshold it computed from its first sample (pyabc 0.13 caches that population), so the
                # threshold would never fall; loaded afresh, it is the quantile of the last generation's
                # distances, exactly as in one uninterrupted run.
                abc = smc()
                try:
                    history = abc.load(db, 1)
                    history.max_t  # noqa: B018 - reads the database: a damaged one fails here
                except Exception as exc:  # noqa: BLE001 - sqlalchemy's and pyabc's errors for a damaged file
                    raise CommandError(out / DATABASE, f"the calibration's history cannot be read "
                                       f"({type(exc).__name__})", "move it away to start the calibration afresh, "
                                       "or use another --out", exit_status=2) from None
                return abc, history

            if resume:
                abc, history = loaded()
            else:
                abc = smc()
                history = abc.new(db, cal.observed)
            done = history.max_t + 1 if history.max_t is not None and history.max_t >= 0 else 0
            ran, stale = 0, False
            # one generation at a time, so the convergence criterion is checked after each
            while (reason := stop_reason(history, cal.settings)) is None:
                if stale:
                    abc, history = loaded()
                stale = True
                budget = cal.settings.max_simulations - (history.total_nr_simulations or 0)
                with _watch_dask(client, handler) if parallel and progress else _nothing():
                    history = abc.run(minimum_epsilon=cal.settings.min_epsilon, max_nr_populations=1,
                                      max_total_nr_simulations=budget)
                ran = (history.max_t + 1) - done
            if not parallel and model.simulations:  # the workers' own counts stay in the workers
                loggers[0].info(f"Early rejection: {model.stopped} of {model.simulations} simulations of this call "
                                "stopped before their last year")
            predictive = None
            if cal.settings.predictive_draws > 0:
                predictive = posterior_predictive(cal, history, simulator, client if parallel else None)
    finally:
        np.random.set_state(state)
        for lg, level, handlers, propagate in saved:
            lg.setLevel(level)
            lg.handlers = handlers
            lg.propagate = propagate
        if "file_log" in locals():
            file_log.close()
    return _write_outputs(out, cal, history, ran, reason, predictive)


def generation_table(history: Any) -> pd.DataFrame:
    """Per generation: its threshold (epsilon), simulations, and the effective sample size of its particles."""
    pops = history.get_all_populations()
    table = pops[pops["t"] >= 0][["t", "epsilon", "samples"]].rename(
        columns={"t": "generation", "samples": "simulations"}).reset_index(drop=True)
    ess = []
    for t in table["generation"]:
        _, w = history.get_distribution(m=0, t=int(t))
        w = np.asarray(w, dtype=float)
        ess.append(float(w.sum() ** 2 / np.sum(w * w)) if len(w) else 0.0)
    return table.assign(ess=ess)


def stop_reason(history: Any, settings: ABCSettings) -> str | None:
    """Why the calibration should stop now (None: run another generation); see :class:`ABCSettings`.

    Convergence is looked at first: a last allowed generation (``max_generations``, ``max_simulations``) that
    meets the criterion has converged, and is recorded so.
    """
    done = history.max_t + 1 if history.max_t is not None and history.max_t >= 0 else 0
    reason = _converged(history, settings, done) if done > 0 else None
    if reason is not None:
        return reason
    if done >= settings.max_generations:
        return f"max_generations ({settings.max_generations}) reached"
    if (history.total_nr_simulations or 0) >= settings.max_simulations:
        return f"max_simulations ({settings.max_simulations}) used up"
    return None


def _converged(history: Any, settings: ABCSettings, done: int) -> str | None:
    """The convergence criterion of :class:`ABCSettings` after ``done`` generations (None: not converged)."""
    gens = generation_table(history)
    eps = gens["epsilon"].to_numpy(dtype=float)
    if eps[-1] <= settings.min_epsilon:
        return f"converged: epsilon {eps[-1]:.3g} reached min_epsilon {settings.min_epsilon:g}"
    if done < max(settings.min_generations, 2):
        return None
    ess_share = float(gens["ess"].iloc[-1]) / settings.population_size
    if ess_share < settings.min_ess_share:
        return None
    change = (eps[-2] - eps[-1]) / eps[-2] if eps[-2] > 0 else 0.0
    state = (f"effective sample size {ess_share:.2f} of the population (at least {settings.min_ess_share:g}) and "
             f"epsilon fell by {100 * change:.1f} % in the last generation")
    if change <= settings.max_epsilon_change:
        return f"converged: {state} (at most {100 * settings.max_epsilon_change:g} %)"
    sims = float(gens["simulations"].iloc[-1])
    accepted = settings.population_size / sims if sims > 0 else 1.0
    if accepted <= settings.min_acceptance_rate:
        return (f"converged: {state}, but only {100 * accepted:.1f} % of its simulations were accepted (at most "
                f"{100 * settings.min_acceptance_rate:g} %)")
    return None


def posterior_predictive(cal: Calibration, history: Any, simulator: Simulator, client: Any = None
                         ) -> pd.DataFrame:
    """The posterior predictive check of a calibration against its targets.

    The targets' statistics are simulated with parameter sets drawn from the posterior by weight (each with a
    seed of its own) and set against the targets' values.

    Per target: its kind, value and sd, the simulated median and 5th/95th percentiles, ``z`` (the median's
    distance from the value in target sds) and whether the value lies inside the simulated 90 % interval.
    """
    names = [p.name for p in cal.priors]
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    frame = natural_frame(frame, cal.priors)
    w = np.asarray(weights, dtype=float)
    rng = np.random.default_rng(cal.settings.seed + 17)
    picks = rng.choice(len(frame), size=cal.settings.predictive_draws, p=w / w.sum())
    draws = [{**{n: float(frame[n].iloc[k]) for n in names}, "_draw": j} for j, k in enumerate(picks)]
    job = _PredictiveJob(simulator)
    if client is not None:
        results = client.gather(client.map(job, draws, pure=False))
    else:
        results = [job(d) for d in draws]
    sims = pd.DataFrame(results)
    rows = []
    for t in cal.targets:
        v = sims[t.name].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        q05, med, q95 = (np.quantile(v, [0.05, 0.5, 0.95]) if len(v) else (np.nan,) * 3)
        rows.append({"target": t.name, "kind": t.kind, "value": t.value, "sd": t.sd, "sim_median": med,
                     "sim_q05": q05, "sim_q95": q95, "z": (med - t.value) / t.sd,
                     "inside_90": bool(q05 <= t.value <= q95), "draws": len(v)})
    return pd.DataFrame(rows)


@dataclass
class _PredictiveJob:
    """One posterior-predictive simulation (module level, so Dask workers unpickle it)."""

    simulator: Simulator

    def __call__(self, draw: dict[str, float]) -> dict[str, float]:
        values = {k: v for k, v in draw.items() if k != "_draw"}
        # a seed of its own, apart from the calibration's seed for the same values
        return self.simulator(values, seed=seed_for({**values, "_predictive": float(draw["_draw"]) + 0.5}))


def identifiability(summary: pd.DataFrame, posterior: pd.DataFrame, priors: list[Prior]) -> pd.DataFrame:
    """Each calibrated parameter's posterior 90 % width relative to its prior's.

    On the log scale for log priors. A parameter whose ratio exceeds :data:`INFORMED_WIDTH` is one the targets
    do not inform.
    """
    rows = []
    for p in priors:
        v = posterior[p.name].to_numpy(dtype=float)
        w = posterior["weight"].to_numpy(dtype=float)
        q05, q95 = np.quantile(v, [0.05, 0.95], weights=w, method="inverted_cdf")
        if p.scale == "log":
            ratio = math.log(q95 / q05) / (0.9 * math.log(p.range.high / p.range.low))
        else:
            ratio = (q95 - q05) / (0.9 * (p.range.high - p.range.low))
        rows.append({"parameter": p.name, "width_ratio": float(ratio), "informed": bool(ratio <= INFORMED_WIDTH)})
    return summary.merge(pd.DataFrame(rows), on="parameter")


#: a posterior 90 % interval wider than this share of the prior's: the targets do not inform the parameter
INFORMED_WIDTH = 0.8


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _last_epsilon(history: Any) -> float | None:
    if history.max_t is None or history.max_t < 0:
        return None
    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0]
    return float(pops["epsilon"].iloc[-1]) if len(pops) else None


def check_out(out: Path, cal: Calibration) -> bool:
    """Whether ``out`` holds a calibration to resume.

    Raises:
        InputError: it holds something else. CommandError: its manifest is damaged.

    """
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise CommandError(manifest, f"the calibration's manifest is damaged ({type(exc).__name__}: {exc})",
                               "without it the history beside it cannot be checked: move the directory away or "
                               "choose another --out to calibrate afresh", exit_status=2) from None
        if old.get("fingerprint") != cal.fingerprint():
            raise InputError("argument", "--out", "a new directory, or one holding a calibration of the same "
                             "scenario, targets, priors and population size", str(out))
        return (out / DATABASE).is_file()
    if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()):  # a lock file of a killed calibrate
        raise InputError("argument", "--out", "a new or empty directory, or one an earlier calibrate wrote",
                         str(out))
    return False


def _write_outputs(out: Path, cal: Calibration, history: Any, ran: int, reason: str,
                   predictive: pd.DataFrame | None) -> CalibrationResult:
    names = [p.name for p in cal.priors]
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    frame = natural_frame(frame, cal.priors)
    posterior = frame[names].reset_index(drop=True).assign(weight=np.asarray(weights) / np.sum(weights),
                                                           generation=int(history.max_t))
    rows = []
    for p in cal.priors:
        v = posterior[p.name].to_numpy(dtype=float)
        w = posterior["weight"].to_numpy(dtype=float)
        mean = float(np.sum(w * v))
        rows.append({"parameter": p.name, "prior_low": p.range.low, "prior_high": p.range.high, "scale": p.scale,
                     "mean": mean, "sd": float(np.sqrt(np.sum(w * (v - mean) ** 2))),
                     # the inverse of the weighted empirical distribution function (numpy >= 2.0)
                     **dict(zip(("q05", "median", "q95"), (float(x) for x in np.quantile(
                         v, [0.05, 0.5, 0.95], weights=w, method="inverted_cdf")), strict=True))})
    summary = identifiability(pd.DataFrame(rows), posterior, cal.priors)
    generations = generation_table(history)
    converged = reason.startswith("converged")
    write_atomic(out / "posterior.csv", lambda p: posterior.to_csv(p, index=False))
    write_atomic(out / "posterior_summary.csv", lambda p: summary.to_csv(p, index=False))
    write_atomic(out / "generations.csv", lambda p: generations.to_csv(p, index=False))
    if predictive is not None:
        write_atomic(out / "posterior_predictive.csv", lambda p: predictive.to_csv(p, index=False))
    write_atomic(out / "calibration_report.md",
                 lambda p: p.write_text(report(cal, summary, generations, reason, predictive), encoding="utf-8"))
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest.update(stopped=reason, converged=converged, generations=len(generations),
                    simulations=int(generations["simulations"].sum()))
    write_atomic(manifest_path, lambda p: p.write_text(json.dumps(manifest, indent=2, default=str)))
    medians = {r["parameter"]: r["median"] for _, r in summary.iterrows() if r["informed"]}
    write_scenario(out / "calibrated.toml", cal, medians, summary)
    write_ensemble(out / "ensemble.toml", cal)
    figure = posterior_figure(posterior, summary)
    write_atomic(out / "posterior.png", lambda p: figure.savefig(p, format="png", dpi=110))
    return CalibrationResult(out, generations, posterior, summary, ran, reason, predictive)


def report(cal: Calibration, summary: pd.DataFrame, generations: pd.DataFrame, reason: str,
           predictive: pd.DataFrame | None) -> str:
    """The calibration in Markdown.

    Why it stopped, the targets by standing, the posterior with identifiability, and the posterior predictive
    check.
    """
    lines = [f"# Calibration '{cal.name}'", "", f"Stopped: {reason}.", "",
             f"{len(generations)} generations, {int(generations['simulations'].sum()):,} simulations; last "
             f"epsilon {generations['epsilon'].iloc[-1]:.3g}, effective sample size "
             f"{generations['ess'].iloc[-1]:.0f} of {cal.settings.population_size}.", "",
             "## Targets", "", "| target | kind | value | sd | source |", "| --- | --- | --- | --- | --- |"]
    for kind in ("observed", "assumption"):
        for t in cal.targets:
            if t.kind == kind:
                lines.append(f"| {t.name} | {t.kind} | {t.value:.4g} | {t.sd:.3g} | {t.source} |")
    lines += ["", "## Parameters", "",
              f"A parameter whose posterior 90 % interval is wider than {INFORMED_WIDTH:.0%} of its prior's is not "
              "informed by the targets: it is not calibrated, and its posterior is about its prior.", "",
              "| parameter | prior | median | 5 % | 95 % | width / prior | calibrated |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for _, r in summary.iterrows():
        prior = f"{r['prior_low']:.3g}-{r['prior_high']:.3g}{' (log)' if r['scale'] == 'log' else ''}"
        lines.append(f"| {r['parameter']} | {prior} | {r['median']:.4g} | {r['q05']:.4g} | {r['q95']:.4g} | "
                     f"{r['width_ratio']:.2f} | {'yes' if r['informed'] else 'no (not informed)'} |")
    if predictive is not None:
        lines += ["", "## Posterior predictive check", "",
                  f"Each target's statistic simulated with {int(predictive['draws'].max())} parameter sets drawn from "
                  "the posterior (each with a seed of its own): the median and 90 % interval against the target, "
                  "with z = (median - value) / sd.", "",
                  "| target | kind | value | simulated median | 90 % interval | z | inside |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for _, r in predictive.iterrows():
            lines.append(f"| {r['target']} | {r['kind']} | {r['value']:.4g} | {r['sim_median']:.4g} | "
                         f"{r['sim_q05']:.4g}-{r['sim_q95']:.4g} | {r['z']:+.2f} | "
                         f"{'yes' if r['inside_90'] else 'no'} |")
    return "\n".join(lines) + "\n"


def write_scenario(path: Path, cal: Calibration, values: dict[str, float], summary: pd.DataFrame) -> None:
    """The base scenario with calibrated parameter values, as a scenario file (TOML)."""
    import tomli_w

    integer = {p.name: p.range.integer for p in cal.priors}
    scenario = cal.base.with_overrides(**{k: int(round(v)) if integer[k] else v for k, v in values.items()})
    data = toml_plain(scenario.model_dump())
    for key in ("indicators_file", "stadtteile_file"):  # data files stay where the base scenario found them
        if data.get(key):
            data[key] = str(scenario.path_of(data[key]).resolve())
    data["name"] = f"{cal.name}_calibrated"
    data["description"] = f"{cal.base.name} with the posterior medians of calibration '{cal.name}'"
    lines = [f"# Written by 'quartiersim calibrate' ({package_version()}) from {cal.source}",
             f"# on {dt.date.today()}: the base scenario '{cal.base.name}' with the posterior median of each",
             "# calibrated parameter. The whole posterior (weighted parameter sets) is in posterior.csv beside",
             "# this file; ensemble.toml runs it. Posterior medians [5th, 95th percentile]; a parameter the",
             "# targets do not inform is left at its value in the base scenario (not calibrated):"]
    for _, r in summary.iterrows():
        note = "" if r.get("informed", True) else "  (not informed by the targets: not set here)"
        lines.append(f"#   {r['parameter']} = {r['median']:.6g} [{r['q05']:.6g}, {r['q95']:.6g}]{note}")
    text = "\n".join(lines) + "\n" + tomli_w.dumps(data)
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_ensemble(path: Path, cal: Calibration, samples: int = 20, seeds: int = 2) -> None:
    """An experiment running the calibrated scenario with parameter sets drawn from the posterior."""
    import tomli_w

    outcomes = []
    seen: set[str] = set()
    for t in cal.targets:
        for o in (t.statistic, t.relative_to):
            if o is not None and o.label not in seen:
                seen.add(o.label)
                outcomes.append(toml_plain(o.model_dump()))
    data = {"name": f"{cal.name}_ensemble",
            "description": f"The calibrated scenario of '{cal.name}' with {samples} parameter sets drawn from its "
                           f"posterior, {seeds} seeds each",
            "scenario": "calibrated.toml", "seeds": seeds, "store": "all", "resolution": "report",
            "design": {"method": "posterior", "file": "posterior.csv", "samples": samples, "seed": 0},
            "outcomes": outcomes}
    text = ("# Written by 'quartiersim calibrate'. Run it with 'quartiersim sweep ensemble.toml', then compare it\n"
            "# with pilot data: 'quartiersim evaluate --runs <its store> --pilot-data FILE --out report.html'.\n"
            "# The runs must cover the observations: to run past the calibrated period, add for example\n"
            "#   [set]\n#   end = 2027-12-31\n"
            + tomli_w.dumps(data))
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def posterior_figure(posterior: pd.DataFrame, summary: pd.DataFrame) -> Any:
    """Weighted histograms of the posterior of each parameter over its prior range."""
    from matplotlib.figure import Figure

    n = len(summary)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(4.0 * cols, 2.8 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, (_, r) in enumerate(summary.iterrows()):
        ax = axes[k // cols][k % cols]
        log = r["scale"] == "log"
        low, high = r["prior_low"], r["prior_high"]
        bins = np.geomspace(low, high, 21) if log else np.linspace(low, high, 21)
        ax.hist(posterior[r["parameter"]], bins=bins, weights=posterior["weight"], color="#4477aa")
        ax.axvline(r["median"], color="#ee6677", label="median")
        ax.axvspan(r["q05"], r["q95"], color="#ee6677", alpha=0.15, label="90 % interval")
        if log:
            ax.set_xscale("log")
        ax.set_xlim(low, high)
        ax.set_title(r["parameter"], fontsize=9)
        ax.set_xlabel("value (x-axis: the prior range)")
        ax.set_ylabel("posterior weight")
        if k == 0:
            ax.legend(fontsize=7)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    return fig
