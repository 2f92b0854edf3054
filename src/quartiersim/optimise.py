"""Robust allocation: search the Phase 3 plans within a budget over the calibrated uncertainty (``optimise``).

This module owns the plan space (the decisions a planner can vary, with bounds and constraints), the
objectives of a plan, their robustness over the parameters the calibration left uncertain, the search with a
multi-objective optimiser and its resumable store, the Pareto front beside the named strategies, and the
scenario discovery (PRIM) for a chosen plan.

A plan-space file (TOML, e.g. ``experiments/plan_spaces/rollout_plans.toml``)::

    name = "rollout_plans"
    description = "Which Phase 3 plan does best within 1.8 million EUR a year?"
    scenario = "rollout_needs_based"      # the base scenario every plan changes
    reference = "baseline"                # effects are measured against it (same draws and seeds)
    named = ["rollout_needs_based", "rollout_equal", "rollout_expression_of_interest"]

    [set]                                 # applied to the base, the reference and the named strategies
    scale = 0.05
    bezirke = ["Bad Cannstatt", "Mühlhausen"]
    end = 2031-12-31

    [decisions]                           # what the search varies: dotted paths of the base scenario
    "allocation.budget_eur_per_year" = {low = 200_000, high = 1_500_000, step = 100_000}
    "allocation.new_stadtteile_per_year" = {low = 1, high = 4}     # a whole number where the field is one
    "allocation.years_per_area" = {low = 4, high = 10, step = 1}
    "allocation.team.0.fte" = {low = 0.5, high = 2.0, step = 0.25}
    "verstetigung.strategy" = ["funding_ends", "meeting_places", "permanent_posts"]   # a list: choices
    "initiative_funding.budget_eur_per_year" = {low = 0, high = 300_000, step = 50_000}
    "area_index.weights.low_income_share" = {low = 0, high = 1}    # the order of the Stadtteile
    "area_index.weights.migration_share" = {low = 0, high = 1}

    [constraints]
    budget_eur_per_year = 1_800_000       # allocation and initiative funding budgets together at most
    max_posts = 20                        # every plan's allocation.max_posts: teams beyond it do not start
    max_new_stadtteile_per_year = 4       # the decision's bounds (or the base value) must keep to it

    [objectives]
    year = 2031                           # effects at the end of this year
    cost_years = [2028, 2031]             # extra cost summed over these years (default: phase 3 start to year)
    use = ["lonely_adults_fewer", "active_initiatives_more", "extra_cost_eur", "equity_share"]
    robustness = "mean"                   # mean | quantile | regret
    quantile = 0.1                        # the low quantile for robustness = "quantile"
    equity_effect = "reach"               # what the equity share divides: reach (default) or lonely_adults

    [uncertainty]
    draws = 3                             # K parameter sets from the posterior: draw k is posterior.draw(k)
    seeds = 2                             # S simulation seeds 0..S-1 with every draw
    posterior = "bundled"                 # "bundled", "fixed" (the scenarios' parameters) or a posterior path

    [search]
    trials = 48                           # plans to evaluate (more later resumes and goes on)
    population = 8                        # NSGA-II's population: the plans asked and evaluated together
    seed = 0

**How a point becomes a scenario.** A plan is the base scenario with ``[set]``, the constraint
``max_posts`` written into ``allocation.max_posts`` and each decision's value assigned at its dotted path
(:func:`quartiersim.spec.assign_path`, as in experiment files). The order in which the allocation takes the
Stadtteile is searched through the area index's weights (``area_index.weights.<indicator>``), not through
permutations. Each decision's bounds and choices are checked as scenarios before anything runs. The yearly
budget constraint spans two decisions (allocation and initiative funding): a point that breaks it is not
simulated; it is recorded as infeasible and NSGA-II's constrained domination ranks it below every feasible
plan.

**Objectives.** Against the reference, with common random numbers and common parameters: draw ``k``
(``posterior.draw(k)`` for ``k = 0..K-1``, the posterior's parameters a scenario does not set itself) runs
with seeds ``0..S-1``, the same for the reference, every plan and every named strategy.

* ``lonely_adults_fewer``: lonely adults in the reference minus in the plan at the end of ``year``
  (persons; more is better);
* ``active_initiatives_more``: active initiatives in the plan minus in the reference at the end of ``year``;
* ``extra_cost_eur``: the plan's roles and grants minus the reference's, summed over ``cost_years`` (less is
  better);
* ``equity_share``: the share of the plan's effect that reaches the Stadtteile in the top quartile of need (the
  base scenario's area index among the simulated Stadtteile): their effect over the whole effect, clipped to
  [0, 1], 0 without any effect. The effect is, by default (``equity_effect = "reach"``), the roles' outreach
  contacts and event attendances beyond the reference's, summed over ``cost_years``: exactly zero where no
  role works, so the share says where the plan's work lands. ``equity_effect = "lonely_adults"`` takes the
  lonely adults fewer instead; at the scales a search can afford that effect is mostly chance (a 20-post team
  in one Stadtteil at scale 0.2 moved it by -20 to +15 persons over four seeds), so its share is noisy.

Per draw, each objective is the mean over the seeds (the equity share the ratio of the seeds' sums): the seeds
average chance, the draws carry what the model does not know. Robustness over the K draws: ``mean``; a low
``quantile`` (the ``quantile`` of an effect, the ``1 - quantile`` of the cost: the bad side); or ``regret``
(per draw, how far the plan falls behind the best plan of that draw among everything evaluated, the named
strategies included; the worst draw's regret, to minimise). Regret depends on the other plans: the sampler is
told the regret against the named strategies, the earlier batches and the plan itself, and the front is
recomputed at the end against every plan.

**The search.** Optuna's NSGA-II sampler with its RDB storage (SQLite, ``study.db`` in the store): a
maintained multi-objective optimiser whose storage keeps every trial durably as it is told, and whose ask-and-
tell interface lets the store run the simulations on its own executors (local workers or Dask). Chosen over EMA
Workbench's optimisation (Platypus), which hands its evaluations back when the run ends and can at most start
again from a saved population: a killed search would lose what it had evaluated. Plans are asked in batches
of ``population`` (a generation), their runs go to the workers, and each plan is told as soon as its runs are
in. The sampler is re-seeded at every batch from the search seed and the number of plans finished, so the plans
asked are the same with any number of workers and in any order of completion (tested), and a search extended
with more trials later asks what one longer search would have (tested). After a SIGKILL the interrupted plans
are evaluated again with the same decision values; the generation they belong to is completed first, so the
search goes on as it would have unless the kill fell between two asks of one batch.

**The store** (``--out``)::

    optimise.json            the manifest: the plan space, what identifies it, the status
    study.db                 Optuna's storage: every trial with its decision values and objectives
    runs/<run>/d<k>_s<s>.parquet   each simulation's yearly table (lonely adults, active initiatives,
                             cost and grants per Stadtteil), written atomically as it finishes;
                             <run> is ``reference``, ``named_<name>`` or the plan's digest
    evaluations.csv          every trial: decisions, feasibility, each objective (robust statistic and mean)
    front.csv, named.csv     the Pareto front; the named strategies evaluated the same way
    plans/<plan>.toml        each front plan as a scenario file (``quartiersim run`` and ``compare`` take it)
    front.png                cost against each effect, the named strategies marked
    discovery/<plan>/        ``quartiersim discover``: PRIM's peeling trajectory, the box, a figure

**Resume.** Running the same command on the same ``--out`` goes on; a different plan space is refused with what
differs. A SIGKILL leaves the trials it was evaluating RUNNING in the storage: the next command (which holds
the store's lock, so no other process can be evaluating them) marks them failed and queues their decision
values again, and their finished runs are read back from ``runs/`` instead of being simulated again. Told
trials are never evaluated again.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quartiersim.compare import check_workers, yearly
from quartiersim.errors import CommandError, InputError
from quartiersim.executors import InProcessExecutor, dask_executor, local_executor, run_jobs
from quartiersim.experiments import SEED_LIMIT, base_scenario, checked
from quartiersim.files import (
    LOCK_FILE,
    REJECTED,
    DirectoryLock,
    check_output,
    check_run_file,
    check_store,
    reject,
    remove_partials,
    safe_name,
    toml_plain,
    write_atomic,
    write_run,
    write_text_atomic,
)
from quartiersim.outputs import CITY, OBJECTIVE_DIRECTION, stat_label
from quartiersim.parameters import PARAMS_BY_NAME
from quartiersim.posterior import Posterior, drawn_parameters, resolve_posterior
from quartiersim.run import package_version, simulate
from quartiersim.spec import (
    MAX_BUDGET_EUR,
    MAX_POSTS,
    FieldError,
    Scenario,
    assign_path,
    build_scenario,
    read_toml,
    validate_model,
)

MANIFEST = "optimise.json"
STUDY_DB = "study.db"
RUNS = "runs"
PLANS = "plans"
DISCOVERY = "discovery"
ENTRIES = {MANIFEST, STUDY_DB, RUNS, PLANS, DISCOVERY, REJECTED, LOCK_FILE, "evaluations.csv", "front.csv",
           "named.csv", "front.png"}
#: The indicators each run keeps (group ``all``): what the objectives, the figures and PRIM read.
KEPT = ("lonely_adults", "active_initiatives", "cost_eur", "grants_eur", "outreach_contacts", "role_event_attendances")
#: What the programme's reach counts: the roles' contacts and attendances with residents (persons).
REACH = ("outreach_contacts", "role_event_attendances")
OBJECTIVES = ("lonely_adults_fewer", "active_initiatives_more", "extra_cost_eur", "equity_share")
#: +1: more is better; -1: less is better.
DIRECTION = OBJECTIVE_DIRECTION
UNITS = {"lonely_adults_fewer": "persons", "active_initiatives_more": "initiatives", "extra_cost_eur": "EUR",
         "equity_share": "share of the effect"}
LABELS = {"lonely_adults_fewer": "lonely adults fewer", "active_initiatives_more": "active initiatives more",
          "extra_cost_eur": "extra cost", "equity_share": "share of the effect in the neediest quarter"}
#: The most plans one search may evaluate: each is K x S simulations.
MAX_TRIALS = 100_000
#: Share of need above which a Stadtteil is in the top quartile (:func:`quartiersim.areas.need_percentile`).
TOP_QUARTILE = 0.75


# ------------------------------------------------------------------------------------------------------------
# the plan-space file
# ------------------------------------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ConstraintsSpec(_Strict):
    """What every plan must keep to (the ``[constraints]`` table)."""

    budget_eur_per_year: float | None = Field(default=None, ge=0, le=MAX_BUDGET_EUR, description="allocation "
                                              "and initiative funding budgets together at most this")
    max_posts: float | None = Field(default=None, ge=0, le=MAX_POSTS)
    max_new_stadtteile_per_year: int | None = Field(default=None, ge=0, le=152)


class ObjectivesSpec(_Strict):
    """Which objectives, read in which year, with which robustness (the ``[objectives]`` table)."""

    year: int = Field(ge=2000, le=2100)
    cost_years: list[int] | None = None
    use: list[Literal["lonely_adults_fewer", "active_initiatives_more", "extra_cost_eur", "equity_share"]] = \
        Field(default_factory=lambda: list(OBJECTIVES), min_length=2)
    robustness: Literal["mean", "quantile", "regret"] = "mean"
    quantile: float = Field(default=0.1, gt=0, lt=0.5)
    equity_effect: Literal["reach", "lonely_adults"] = "reach"

    @model_validator(mode="after")
    def _check(self) -> ObjectivesSpec:
        if len(set(self.use)) < len(self.use):
            raise FieldError("use", "each objective once")
        if self.cost_years is not None and (len(self.cost_years) != 2 or self.cost_years[0] > self.cost_years[1]):
            raise FieldError("cost_years", "[from, to] with from <= to")
        return self


class UncertaintySpec(_Strict):
    """The posterior draws and seeds every plan runs with (the ``[uncertainty]`` table)."""

    draws: int = Field(default=3, ge=1, le=10_000)
    seeds: int = Field(default=2, ge=1, le=10_000)
    posterior: str = Field(default="bundled", min_length=1)


class SearchSpec(_Strict):
    """The optimiser's settings (the ``[search]`` table)."""

    trials: int = Field(default=48, ge=1, le=MAX_TRIALS)
    population: int = Field(default=8, ge=2, le=10_000)
    seed: int = Field(default=0, ge=0, lt=SEED_LIMIT)


class PlanSpaceFile(_Strict):
    """The tables of a plan-space file, as written."""

    name: str = Field(min_length=1)
    description: str = ""
    scenario: str = Field(min_length=1)
    reference: str = "baseline"
    named: list[str] = Field(default_factory=list)
    set: dict[str, Any] = Field(default_factory=dict)
    decisions: dict[str, Any] = Field(min_length=1)
    constraints: ConstraintsSpec = Field(default_factory=ConstraintsSpec)
    objectives: ObjectivesSpec
    uncertainty: UncertaintySpec = Field(default_factory=UncertaintySpec)
    search: SearchSpec = Field(default_factory=SearchSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        from quartiersim.files import check_name

        return check_name(v)


_SECTIONS: dict[str, type[BaseModel]] = {"constraints": ConstraintsSpec, "objectives": ObjectivesSpec,
                                         "uncertainty": UncertaintySpec, "search": SearchSpec}


@dataclass(frozen=True)
class Decision:
    """One decision variable: a dotted path with a range (real or whole numbers, optionally stepped) or choices."""

    path: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The Optuna distribution of the decision."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=int(self.step or 1))
        return FloatDistribution(float(self.low), float(self.high), step=self.step)

    def extremes(self) -> list[Any]:
        """The values that bound the decision: its choices, or its low and high ends."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the manifest."""
        return {"path": self.path, "kind": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "choices": list(self.choices)}


@dataclass
class PlanSpace:
    """A validated plan space: the scenarios, the decisions and how plans are judged.

    Attributes:
        base_data: the base scenario's data with ``[set]`` and the constraints applied; each plan assigns its
            decision values to a copy.
        top_quartile: names of the simulated Stadtteile in the top quartile of need (the equity objective).

    """

    name: str
    description: str
    source: str
    base: Scenario
    base_data: dict[str, Any] = field(repr=False)
    reference: Scenario = field(repr=False)
    named: list[Scenario] = field(repr=False)
    decisions: list[Decision] = field(repr=False)
    constraints: ConstraintsSpec = field(repr=False)
    objectives: ObjectivesSpec = field(repr=False)
    uncertainty: UncertaintySpec = field(repr=False)
    search: SearchSpec = field(repr=False)
    posterior: Posterior | None = field(repr=False)
    top_quartile: list[str] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    base_dir: str = ""

    @property
    def cost_years(self) -> tuple[int, int]:
        """The years the extra cost is summed over."""
        c = self.objectives.cost_years
        return (c[0], c[1]) if c else (self.base.phase3_start.year, self.objectives.year)

    @property
    def use(self) -> list[str]:
        """The objectives the search uses, in file order."""
        return list(self.objectives.use)

    def identity(self) -> dict[str, Any]:
        """What makes two searches the same (for resuming); the number of trials is not part of it."""
        ident = {"base": _without_origin(self.base_data), "reference": self.reference.resolved(),
                 "named": [s.resolved() for s in self.named], "decisions": [d.as_dict() for d in self.decisions],
                 "constraints": self.constraints.model_dump(), "objectives": self.objectives.model_dump(),
                 "uncertainty": {"draws": self.uncertainty.draws, "seeds": self.uncertainty.seeds},
                 "posterior": None if self.posterior is None else self.posterior.digest,
                 "search": {"population": self.search.population, "seed": self.search.seed}}
        return json.loads(json.dumps(ident, default=str))

    def plan_data(self, values: dict[str, Any]) -> dict[str, Any]:
        """The scenario data of the plan with these decision values."""
        data = copy.deepcopy(self.base_data)
        for path, value in values.items():
            assign_path(data, path, value, self.source, where=f"decisions.{path}")
        return data

    def violation(self, values: dict[str, Any]) -> tuple[float, str]:
        """How far a plan breaks the constraints that span decisions (0 when it keeps them), and why."""
        data = self.plan_data(values)
        alloc = data.get("allocation") or {}
        funding = data.get("initiative_funding") or {}
        limit = self.constraints.budget_eur_per_year
        if limit is not None:
            total = float(alloc.get("budget_eur_per_year", 0.0)) + float(funding.get("budget_eur_per_year", 0.0))
            if total > limit + 1e-6:
                return (total - limit) / max(limit, 1.0), (f"budgets {total:,.0f} EUR a year together, above the "
                                                           f"constraint {limit:,.0f}")
        if _no_weights(data):
            return 1.0, "every area-index weight is 0 (the index cannot order the Stadtteile)"
        return 0.0, ""

    def draw(self, spec: Scenario, k: int) -> dict[str, Any]:
        """The posterior's parameters of draw ``k`` that a scenario does not set itself."""
        if self.posterior is None:
            return {}
        values = self.posterior.draw(k)
        return {name: values[name] for name in drawn_parameters(spec.parameters, self.posterior)}


def _no_weights(data: dict[str, Any]) -> bool:
    """Whether a plan's area-index weights are all 0 (the index then orders nothing)."""
    weights = (data.get("area_index") or {}).get("weights") or {}
    return bool(weights) and sum(float(w) for w in weights.values()) <= 0


def _without_origin(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k not in ("base_dir", "source_file")}
    return json.loads(json.dumps(out, default=str))


def load_plan_space(path: str | Path) -> PlanSpace:
    """Read and check a plan-space file, with every scenario, decision and constraint, before anything runs.

    Raises:
        InputError: naming the file, the field and what was expected.

    """
    path = Path(path)
    raw = read_toml(path, "plan-space file")
    if "scenario" not in raw and "start" in raw:
        raise InputError(path, "(file)", "a plan-space file (scenario, decisions, objectives, ...); this is a "
                         "scenario file")
    raw.setdefault("name", path.stem)
    return build_plan_space(raw, str(path), path.parent.resolve())


def build_plan_space(raw: dict[str, Any], source: str, base_dir: Path) -> PlanSpace:
    """A plan space from a file's tables (``source`` names it in messages; relative paths start at ``base_dir``).

    Raises:
        InputError: naming the file, the field and what was expected.

    """
    spec = validate_model(PlanSpaceFile, raw, source, _SECTIONS)
    base = base_scenario(spec.scenario, spec.set, source, base_dir)
    if base.allocation is None:
        raise InputError(source, "scenario", "a base scenario with an [allocation] table (the plans change it)",
                         spec.scenario)
    reference = _other_scenario(spec.reference, spec.set, source, base_dir, "reference")
    named = [_other_scenario(text, spec.set, source, base_dir, f"named.{k}") for k, text in enumerate(spec.named)]
    names = [s.name for s in named]
    if len({safe_name(n).casefold() for n in names}) < len(names):
        raise InputError(source, "named", "named strategies with different names", names)
    data = base.as_data()
    constraints = spec.constraints
    decisions = [_decision(p, v, data, base, source) for p, v in spec.decisions.items()]
    by_path = {d.path: d for d in decisions}
    if constraints.max_posts is not None:
        d = by_path.get("allocation.max_posts")
        if d is not None and (d.kind == "categorical" or d.high > constraints.max_posts):
            raise InputError(source, "decisions.allocation.max_posts", f"a range up to the constraint max_posts "
                             f"({constraints.max_posts:g})", d.extremes())
        data["allocation"]["max_posts"] = constraints.max_posts
    if constraints.max_new_stadtteile_per_year is not None:
        limit = constraints.max_new_stadtteile_per_year
        d = by_path.get("allocation.new_stadtteile_per_year")
        if d is not None and max(d.extremes()) > limit:
            raise InputError(source, "decisions.allocation.new_stadtteile_per_year", f"values up to the constraint "
                             f"max_new_stadtteile_per_year ({limit})", d.extremes())
        if d is None and data["allocation"]["new_stadtteile_per_year"] > limit:
            raise InputError(source, "constraints.max_new_stadtteile_per_year", "a limit the base scenario keeps "
                             f"(it takes {data['allocation']['new_stadtteile_per_year']} a year; make it a "
                             "decision or change the base)", limit)
    space = PlanSpace(spec.name, spec.description, source, base, data, reference, named, decisions, constraints,
                      spec.objectives, spec.uncertainty, spec.search, None, [], json.loads(json.dumps(raw,
                                                                                                    default=str)))
    space.base_dir = str(base_dir)
    for d in decisions:  # every end of every decision, with the others at the base's values
        for value in d.extremes():
            if _no_weights(space.plan_data({d.path: value})):
                continue  # index weights all 0: a point the search records as infeasible, not a bad file
            _check_point(space, {d.path: value}, f"decisions.{d.path}", value)
    if constraints.budget_eur_per_year is not None:
        lowest = {d.path: min(d.extremes()) for d in decisions if d.kind != "categorical"}
        share, why = space.violation(lowest)
        if share > 0 and why.startswith("budgets"):
            raise InputError(source, "constraints.budget_eur_per_year", f"a budget some plan keeps: even the "
                             f"decisions' lowest values give {why}", constraints.budget_eur_per_year)
    _check_years(space)
    space.posterior = _posterior(spec.uncertainty, source, base_dir, [base, reference, *named])
    space.top_quartile = top_quartile(base)
    return space


def _other_scenario(text: str, fixed: dict[str, Any], source: str, base_dir: Path, where: str) -> Scenario:
    """The reference or a named strategy, with ``[set]`` applied; errors name the plan-space field."""
    try:
        return base_scenario(text, fixed, source, base_dir)
    except InputError as exc:
        if exc.source != source:
            raise
        field_name = exc.field if exc.field.startswith("set.") else where
        raise InputError(source, field_name, f"{exc.expected} (in {where} = {text!r})", exc.got) from None


def _value_at(data: dict[str, Any], path: str, base: Scenario) -> Any:
    """The base's value at a dotted path (as :func:`~quartiersim.spec.assign_path` reads them), or None."""
    parts = path.split(".")
    if len(parts) == 1 and parts[0] not in data:
        return base.params.as_dict().get(parts[0])
    node: Any = data
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                named = [x for x in node if isinstance(x, dict) and x.get("name") == part]
                node = named[0] if len(named) == 1 else None
        else:
            return None
        if node is None:
            return None
    return node


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _decision(path: str, value: Any, data: dict[str, Any], base: Scenario, source: str) -> Decision:
    """A decision from its entry in ``[decisions]``: a list of choices or ``{low, high, step}``."""
    where = f"decisions.{path}"
    probe = copy.deepcopy(data)
    assign_path(probe, path, _value_at(data, path, base), source, where=where)  # an unknown path fails here
    current = _value_at(data, path, base)
    if isinstance(value, list):
        if len(value) < 2 or len({json.dumps(v, default=str) for v in value}) < len(value) or \
                not all(isinstance(v, str | int | float | bool) for v in value):
            raise InputError(source, where, "a list of at least two different choices (text, numbers or true/false)",
                             value)
        return Decision(path, "categorical", choices=tuple(value))
    form = "{low = ..., high = ...} with an optional step, or a list of choices"
    if not isinstance(value, dict) or not {"low", "high"} <= set(value) or set(value) - {"low", "high", "step"} \
            or not all(_is_number(v) for v in value.values()):
        raise InputError(source, where, form, value if not isinstance(value, dict) else None)
    low, high, step = value["low"], value["high"], value.get("step")
    if not low < high:
        raise InputError(source, where, "low < high", [low, high])
    if step is not None and (step <= 0 or step > high - low):
        raise InputError(source, f"{where}.step", f"a step > 0 and at most high - low ({high - low:g})", step)
    whole = isinstance(current, int) and not isinstance(current, bool)
    if current is None and len(path.split(".")) == 1 and path in PARAMS_BY_NAME:
        whole = PARAMS_BY_NAME[path].integer
    if whole:
        if not all(float(v).is_integer() for v in (low, high, step or 1)):
            raise InputError(source, where, f"whole numbers (the field takes one; it is {current!r} in the base)",
                             value)
        if step is not None and (int(high) - int(low)) % int(step):
            raise InputError(source, f"{where}.step", "a step that divides high - low", step)
        return Decision(path, "int", int(low), int(high), int(step) if step is not None else None)
    if step is not None:
        n = (high - low) / step
        if abs(n - round(n)) > 1e-9:
            raise InputError(source, f"{where}.step", "a step that divides high - low", step)
    return Decision(path, "float", float(low), float(high), float(step) if step is not None else None)


def _check_point(space: PlanSpace, values: dict[str, Any], where: str, got: Any) -> Scenario:
    """The plan of ``values`` as a checked scenario; errors name ``where`` in the plan-space file."""
    data = space.plan_data(values)
    try:
        scenario = build_scenario(data, source=f"{space.source} ({where} = {got!r})")
    except InputError as exc:
        raise InputError(space.source, where, f"values that make a valid scenario; {exc.field}: {exc.expected}",
                         got) from None
    return checked(scenario, space.source, where, {})


def _check_years(space: PlanSpace) -> None:
    year = space.objectives.year
    first, last = space.cost_years
    for spec in (space.base, space.reference, *space.named):
        start, end = spec.start.year, spec.end.year
        if not start <= year <= end:
            raise InputError(space.source, "objectives.year", f"a year every scenario simulates ({spec.name}: "
                             f"{start} to {end})", year)
        if not (start <= first and last <= end):
            raise InputError(space.source, "objectives.cost_years", f"years every scenario simulates "
                             f"({spec.name}: {start} to {end})", [first, last])


def _posterior(spec: UncertaintySpec, source: str, base_dir: Path, scenarios: list[Scenario]) -> Posterior | None:
    """The posterior the draws come from: None for "fixed" or when every scenario sets its parameters."""
    text = spec.posterior
    if text == "fixed":
        post = None
    else:
        choice: Any = True if text == "bundled" else (Path(text) if Path(text).is_absolute() else base_dir / text)
        try:
            post = resolve_posterior(choice)
        except InputError as exc:
            raise InputError(source, "uncertainty.posterior", f"\"bundled\", \"fixed\" or {exc.expected}",
                             text) from None
    if post is not None and not any(drawn_parameters(s.parameters, post) for s in scenarios):
        post = None
    if post is None and spec.draws > 1:
        raise InputError(source, "uncertainty.draws", "1 draw with fixed parameters (every draw would be the "
                         "same); more seeds instead", spec.draws)
    return post


def top_quartile(spec: Scenario) -> list[str]:
    """The simulated Stadtteile in the top quartile of need by the scenario's area index (names)."""
    from quartiersim.areas import area_index, need_percentile
    from quartiersim.data import load_city_indicators, load_indicators, load_stadtteile, simulated_rows

    table = load_stadtteile(spec.path_of(spec.stadtteile_file))
    city = load_city_indicators()
    indicators = load_indicators(spec.path_of(spec.indicators_file), stadtteile=table, city=city)
    ranking = area_index(indicators, city, table, spec.area_index)
    simulated = set(table["number"].iloc[simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin)])
    ranking = ranking[ranking["number"].isin(simulated)]
    pct = need_percentile(ranking)
    names = dict(zip(ranking["number"], ranking["stadtteil"], strict=True))
    return sorted(names[n] for n, p in pct.items() if p >= TOP_QUARTILE - 1e-12)


# ------------------------------------------------------------------------------------------------------------
# runs and objectives
# ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunJob:
    """One simulation: a scenario's data with draw ``draw``'s parameters, run with ``seed``."""

    run: str
    draw: int
    seed: int
    data: dict[str, Any]
    threads: int | None = None


def execute_run(job: RunJob) -> pd.DataFrame:
    """A worker's task: the run's yearly table, the kept indicators of group ``all`` only."""
    if job.threads is not None:
        import numba

        numba.set_num_threads(min(job.threads, numba.config.NUMBA_NUM_THREADS))
    table = yearly(simulate(Scenario(**job.data), seed=job.seed))
    table = table[table["indicator"].isin(KEPT) & (table["group"] == "all")]
    return table.drop(columns="group").reset_index(drop=True)


def run_file(out: Path, run: str, draw: int, seed: int) -> Path:
    """Where a run's table lies in the store."""
    return out / RUNS / run / f"d{draw}_s{seed}.parquet"


@dataclass(frozen=True)
class RunMetrics:
    """What the objectives need from one run."""

    lonely: float
    lonely_top: float
    initiatives: float
    cost: float
    reach: float
    reach_top: float


def run_metrics(table: pd.DataFrame, year: int, cost_years: tuple[int, int], top: list[str]) -> RunMetrics:
    """One run's numbers for the objectives.

    The city's lonely adults and active initiatives at the end of ``year`` and the lonely adults of the
    Stadtteile in ``top``; the cost (roles and grants) and the reach (contacts and attendances) summed over
    ``cost_years``, the reach also in ``top``.
    """
    at = table[table["year"] == year]
    city = at[at["stadtteil"] == CITY].set_index("indicator")["value"]
    local = at[(at["indicator"] == "lonely_adults") & at["stadtteil"].isin(top)]["value"]
    span = table[table["year"].between(*cost_years)]
    at_city = span["stadtteil"] == CITY
    spent = span[at_city & span["indicator"].isin(["cost_eur", "grants_eur"])]["value"]
    reach = span[span["indicator"].isin(REACH)]
    return RunMetrics(float(city.get("lonely_adults", np.nan)), float(local.sum()),
                      float(city.get("active_initiatives", np.nan)), float(spent.sum()),
                      float(reach[reach["stadtteil"] == CITY]["value"].sum()),
                      float(reach[reach["stadtteil"].isin(top)]["value"].sum()))


def per_draw(runs: dict[tuple[int, int], RunMetrics], reference: dict[tuple[int, int], RunMetrics],
             draws: int, seeds: int, equity_effect: str = "reach") -> dict[str, list[float]]:
    """Each objective per draw: the mean over the seeds of the effect against the reference.

    The equity share is the draw's effect in the top quartile over its whole effect (sums over the seeds),
    clipped to [0, 1], and 0 where the effect is 0. The effect is the extra reach (``reach``: the roles'
    contacts and attendances beyond the reference's) or the lonely adults fewer (``lonely_adults``).
    """
    out: dict[str, list[float]] = {name: [] for name in OBJECTIVES}
    for k in range(draws):
        fewer = [reference[(k, s)].lonely - runs[(k, s)].lonely for s in range(seeds)]
        if equity_effect == "reach":
            whole = [runs[(k, s)].reach - reference[(k, s)].reach for s in range(seeds)]
            top = [runs[(k, s)].reach_top - reference[(k, s)].reach_top for s in range(seeds)]
        else:
            whole = fewer
            top = [reference[(k, s)].lonely_top - runs[(k, s)].lonely_top for s in range(seeds)]
        out["lonely_adults_fewer"].append(float(np.mean(fewer)))
        out["active_initiatives_more"].append(float(np.mean([runs[(k, s)].initiatives
                                                              - reference[(k, s)].initiatives
                                                              for s in range(seeds)])))
        out["extra_cost_eur"].append(float(np.mean([runs[(k, s)].cost - reference[(k, s)].cost
                                                     for s in range(seeds)])))
        total = float(np.sum(whole))
        out["equity_share"].append(float(np.clip(np.sum(top) / total, 0.0, 1.0)) if total != 0 else 0.0)
    return out


def robust(values: dict[str, list[float]], how: str, q: float,
           best: dict[str, list[float]] | None = None) -> dict[str, float]:
    """Each objective's robust statistic over the draws.

    Args:
        values: per objective, one value per draw.
        how: ``mean``; ``quantile`` (the ``q`` quantile of what is better larger, the ``1 - q`` quantile of what
            is better smaller: the bad side); ``regret`` (the largest shortfall against ``best`` over the draws).
        q: the quantile.
        best: per objective and draw, the best value of any plan (``regret`` only).

    """
    out = {}
    for name, v in values.items():
        arr = np.asarray(v, dtype=float)
        if how == "mean":
            out[name] = float(arr.mean())
        elif how == "quantile":
            out[name] = float(np.quantile(arr, q if DIRECTION[name] > 0 else 1 - q))
        else:
            b = np.asarray((best or {})[name], dtype=float)
            out[name] = float(np.max(DIRECTION[name] * (b - arr))) + 0.0  # + 0.0: no "-0" for the best plan
    return out


def best_per_draw(evaluated: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per objective and draw, the best value among the evaluated plans (for regret)."""
    out = {}
    for name in OBJECTIVES:
        stack = np.array([e[name] for e in evaluated], dtype=float)
        out[name] = (stack.max(axis=0) if DIRECTION[name] > 0 else stack.min(axis=0)).tolist()
    return out


def pareto_front(points: np.ndarray, better: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` no other row dominates; ``better`` is +1 (larger is better) or -1 per column."""
    x = points * better
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = np.all(x >= x[i], axis=1) & np.any(x > x[i], axis=1)
        keep[i] = not dominated.any()
    return keep


# ------------------------------------------------------------------------------------------------------------
# the search
# ------------------------------------------------------------------------------------------------------------

@dataclass
class OptimiseResult:
    """What a call of :func:`optimise` did and what the store holds."""

    out: Path
    trials: int
    finished: int
    ran: int
    simulations: int
    seconds: float
    front: pd.DataFrame = field(repr=False)
    named: pd.DataFrame = field(repr=False)
    evaluations: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)


def optimise(space: str | Path | PlanSpace, out: str | Path, workers: int = 1, scheduler: str | None = None,
             scheduler_file: str | None = None, executor: Executor | None = None, trials: int | None = None,
             progress: Callable[[str, int, int, int], None] | None = None) -> OptimiseResult:
    """Search the plan space (or resume a search) and write the front, the named strategies and the figures.

    Args:
        space: a plan-space file or a loaded :class:`PlanSpace`.
        out: the store directory; an earlier search of the same plan space in it goes on.
        workers: local worker processes (1 runs in this process).
        scheduler: the address of a running dask.distributed scheduler instead.
        scheduler_file: a Dask scheduler file instead of the address.
        executor: any concurrent.futures executor instead.
        trials: the number of plans to evaluate in all (default: the file's ``search.trials``).
        progress: called as ``progress(stage, done, total, front)``: stage ``"runs"`` (the reference and named
            strategies, counted in simulations) or ``"plans"`` (plans evaluated, with the current front's size).

    Raises:
        InputError: a bad plan space, or a store of another plan space.
        CommandError: another process holds the store.

    """
    import optuna

    t0 = time.perf_counter()
    space = space if isinstance(space, PlanSpace) else load_plan_space(space)
    out = Path(out)
    n_trials = space.search.trials if trials is None else trials
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or not 1 <= n_trials <= MAX_TRIALS:
        raise InputError("argument", "--trials", f"a number of plans from 1 to {MAX_TRIALS:,}", n_trials)
    if executor is None and scheduler is None and scheduler_file is None:
        check_workers(workers)
    runs_per_plan = space.uncertainty.draws * space.uncertainty.seeds
    check_output(out, "--out", "directory", resume=True,
                 needed_bytes=(n_trials + len(space.named) + 1) * runs_per_plan * _bytes_per_run(space))
    identity = space.identity()
    _check_store(out, space, identity)
    context, window, threads = _executor(workers, scheduler, scheduler_file, executor)
    notes: list[str] = []
    with context as ex:
        out.mkdir(parents=True, exist_ok=True)
        with DirectoryLock(out, "quartiersim optimise") as lock:
            if lock.took_over:
                notes.append(lock.took_over)
            _check_store(out, space, identity)
            for d in (out, out / PLANS):
                remove_partials(d)
            store_id = _digest(identity)
            _write_manifest(out, space, identity, n_trials, None)
            search = _Search(space, out, store_id, ex, window, threads, progress)
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            storage = optuna.storages.RDBStorage(f"sqlite:///{(out / STUDY_DB).absolute()}")
            directions = ["minimize" if space.objectives.robustness == "regret" or DIRECTION[n] < 0 else "maximize"
                          for n in space.use]
            optuna.create_study(study_name=space.name, storage=storage, directions=directions, load_if_exists=True)
            notes += search.requeue_interrupted(storage)
            search.evaluate_fixed()
            search.search(storage, n_trials)
            front, named, evaluations = write_outputs(out, space, storage)
            finished = search.finished(storage)
            _write_manifest(out, space, identity, n_trials, {"finished": finished, "trials": n_trials,
                                                              "complete": finished >= n_trials,
                                                              "front": len(front)})
    return OptimiseResult(out, n_trials, finished, search.told, search.simulated, time.perf_counter() - t0,
                          front, named, evaluations, notes)


def _bytes_per_run(space: PlanSpace) -> int:
    """A generous estimate of one run file: a row per place, kept indicator and year, 16 bytes each."""
    from quartiersim.data import load_stadtteile, simulated_rows

    base = space.base
    table = load_stadtteile(base.path_of(base.stadtteile_file))
    places = len(simulated_rows(table, base.stadtteile, base.bezirke, base.origin)) + 1
    return places * len(KEPT) * (base.end.year - base.start.year + 1) * 16 + 4096


def _executor(workers: int, scheduler: str | None, scheduler_file: str | None, executor: Executor | None
              ) -> tuple[AbstractContextManager[Executor], int | None, int | None]:
    """The executor's context, the most runs in flight, and the numba threads per run."""
    if executor is not None:
        return nullcontext(executor), (1 if isinstance(executor, InProcessExecutor) else None), 1
    if scheduler is not None or scheduler_file is not None:
        if workers != 1:
            raise InputError("argument", "--workers", "no --workers with --scheduler (the cluster's workers run "
                             "the simulations)", workers)
        return dask_executor(scheduler, scheduler_file), None, 1
    if workers == 1:
        return local_executor(1), 1, None
    return local_executor(workers), 2 * workers, 1


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check_store(out: Path, space: PlanSpace, identity: dict[str, Any]) -> None:
    """Check that ``out`` is new, empty, or a store of this same plan space."""
    check_store(out, MANIFEST, lambda: read_manifest(out), "identity", identity, ENTRIES,
                "a search of this same plan space", "an earlier 'quartiersim optimise'")


def read_manifest(out: str | Path) -> dict[str, Any]:
    """A store's ``optimise.json``; a damaged one is a CommandError saying how to go on."""
    path = Path(out) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("identity"), dict):
            raise ValueError("not an optimise manifest")
        return manifest
    except FileNotFoundError:
        raise InputError(out, MANIFEST, "a directory written by 'quartiersim optimise' (it has no "
                         f"{MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise CommandError(path, f"the store's manifest is damaged ({type(exc).__name__}: {exc})",
                           "move the directory away and start the search again with a new --out", exit_status=2
                           ) from None


def _write_manifest(out: Path, space: PlanSpace, identity: dict[str, Any], trials: int,
                    status: dict[str, Any] | None) -> None:
    old = json.loads((out / MANIFEST).read_text(encoding="utf-8")) if (out / MANIFEST).is_file() else {}
    manifest = {"name": space.name, "description": space.description, "plan_space_file": space.source,
                "plan_space": space.raw, "base_dir": space.base_dir, "identity": identity, "objectives": space.use,
                "robustness": space.objectives.robustness, "quantile": space.objectives.quantile,
                "top_quartile": space.top_quartile, "trials": trials, "version": package_version(),
                "posterior": None if space.posterior is None else {"source": space.posterior.source,
                                                                   "digest": space.posterior.digest,
                                                                   "parameters": space.posterior.parameters},
                "created": old.get("created", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
                "status": status if status is not None else old.get("status", {})}
    if status is not None:
        manifest["status"] = dict(status, updated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str))


def plan_key(values: dict[str, Any]) -> str:
    """The name of a plan's runs in the store: a digest of its decision values (a repeated plan reuses them)."""
    return "p" + _digest({k: values[k] for k in sorted(values)})[:12]


class _Search:
    """The search's state while the store is locked: runs on the executor, trials told to Optuna."""

    def __init__(self, space: PlanSpace, out: Path, store_id: str, executor: Executor, window: int | None,
                 threads: int | None, progress: Callable[[str, int, int, int], None] | None):
        self.space = space
        self.out = out
        self.store_id = store_id
        self.executor = executor
        self.window = window
        self.threads = threads
        self.progress = progress
        self.version = package_version()
        self.draws = space.uncertainty.draws
        self.seeds = space.uncertainty.seeds
        self.metrics: dict[tuple[str, int, int], RunMetrics] = {}
        self.named_values: dict[str, dict[str, list[float]]] = {}
        self.told = 0
        self.simulated = 0

    # the runs ---------------------------------------------------------------------------------------------

    def _info(self, run: str, k: int, s: int) -> dict[str, Any]:
        return {"run": run, "draw": k, "seed": s, "store": self.store_id, "version": self.version}

    def _stored(self, run: str, k: int, s: int) -> bool:
        """Whether a run's file is there and is this run's (one that is not is moved aside and runs again)."""
        path = run_file(self.out, run, k, s)
        if (run, k, s) in self.metrics:
            return True
        if not path.is_file():
            return False
        why = check_run_file(path, self._info(run, k, s))
        if why is None:
            try:
                self._keep(run, k, s, pd.read_parquet(path))
                return True
            except (OSError, ValueError) as exc:
                why = f"it cannot be read ({type(exc).__name__}: {exc})"
        reject(path, self.out, why)
        return False

    def _keep(self, run: str, k: int, s: int, table: pd.DataFrame) -> None:
        o = self.space.objectives
        self.metrics[(run, k, s)] = run_metrics(table, o.year, self.space.cost_years, self.space.top_quartile)

    def jobs_for(self, run: str, spec_data: dict[str, Any], spec: Scenario) -> list[RunJob]:
        """The runs of a scenario not in the store yet."""
        jobs = []
        remove_partials(self.out / RUNS / run)
        for k in range(self.draws):
            data = copy.deepcopy(spec_data)
            data["parameters"] = {**(data.get("parameters") or {}), **self.space.draw(spec, k)}
            for s in range(self.seeds):
                if not self._stored(run, k, s):
                    jobs.append(RunJob(run, k, s, data, self.threads))
        return jobs

    def run(self, jobs: list[RunJob], done: Callable[[RunJob], None] | None = None) -> None:
        """Simulate the jobs, store each as it finishes, call ``done`` after each."""
        def finished(job: RunJob, table: pd.DataFrame) -> None:
            write_run(run_file(self.out, job.run, job.draw, job.seed), table,
                      {**self._info(job.run, job.draw, job.seed), "pid": os.getpid(), "host": socket.gethostname(),
                       "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
            self._keep(job.run, job.draw, job.seed, table)
            self.simulated += 1
            if done is not None:
                done(job)

        def failed(job: RunJob, exc: BaseException) -> None:
            raise exc  # a run that fails is a bug or a lost worker: stop; what finished is kept

        run_jobs(self.executor, execute_run, jobs, finished, failed, window=self.window)

    def values_of(self, run: str) -> dict[str, list[float]]:
        """A run set's objectives per draw against the reference."""
        mine = {(k, s): self.metrics[(run, k, s)] for k in range(self.draws) for s in range(self.seeds)}
        ref = {(k, s): self.metrics[("reference", k, s)] for k in range(self.draws) for s in range(self.seeds)}
        return per_draw(mine, ref, self.draws, self.seeds, self.space.objectives.equity_effect)

    # the reference and the named strategies ---------------------------------------------------------------

    def evaluate_fixed(self) -> None:
        """Run the reference and every named strategy with every draw and seed (those not stored yet)."""
        jobs = self.jobs_for("reference", self.space.reference.as_data(), self.space.reference)
        for spec in self.space.named:
            jobs += self.jobs_for(named_run(spec.name), spec.as_data(), spec)
        total = (1 + len(self.space.named)) * self.draws * self.seeds
        count = [total - len(jobs)]

        def done(job: RunJob) -> None:
            count[0] += 1
            self._report("runs", count[0], total, 0)

        self._report("runs", count[0], total, 0)
        self.run(jobs, done)
        for spec in self.space.named:
            self.named_values[spec.name] = self.values_of(named_run(spec.name))

    def _report(self, stage: str, done: int, total: int, front: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total, front)

    # the plans --------------------------------------------------------------------------------------------

    def requeue_interrupted(self, storage: Any) -> list[str]:
        """Trials left RUNNING by a killed process: marked failed, their decision values queued again."""
        import optuna
        from optuna.trial import TrialState

        study = optuna.load_study(study_name=self.space.name, storage=storage)
        notes = []
        for t in study.get_trials(deepcopy=False, states=[TrialState.RUNNING]):
            storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            if t.params:
                study.enqueue_trial(t.params, user_attrs={"requeued_from": t.number}, skip_if_exists=False)
            notes.append(f"plan {t.number} was being evaluated when an earlier search stopped: it is evaluated "
                         "again (its finished runs are kept)")
        return notes

    def finished(self, storage: Any) -> int:
        """Plans evaluated: told trials (a failed one counts unless it was interrupted and queued again)."""
        import optuna
        from optuna.trial import TrialState

        study = optuna.load_study(study_name=self.space.name, storage=storage)
        return sum(1 for t in study.get_trials(deepcopy=False, states=[TrialState.COMPLETE, TrialState.FAIL])
                   if not t.user_attrs.get("interrupted"))

    def search(self, storage: Any, n_trials: int) -> None:
        """Ask plans in batches of the population, evaluate each batch on the executor, tell each as it ends."""
        import optuna
        from optuna.trial import TrialState

        space = self.space
        distributions = {d.path: d.distribution() for d in space.decisions}
        while True:
            done = self.finished(storage)
            sampler = optuna.samplers.NSGAIISampler(population_size=space.search.population,
                                                    seed=_batch_seed(space.search.seed, done))
            study = optuna.load_study(study_name=space.name, storage=storage, sampler=sampler)
            waiting = len(study.get_trials(deepcopy=False, states=[TrialState.WAITING]))
            size = waiting if waiting else min(space.search.population, n_trials - done)
            self._report("plans", done, n_trials, self._front_size(study))
            if size <= 0:
                return
            earlier = [t.user_attrs["per_draw"] for t in study.get_trials(deepcopy=False,
                                                                           states=[TrialState.COMPLETE])
                       if "per_draw" in t.user_attrs]
            batch = [study.ask(distributions) for _ in range(size)]
            self._evaluate_batch(study, batch, earlier, n_trials)

    def _evaluate_batch(self, study: Any, batch: list[Any], earlier: list[dict[str, list[float]]],
                        n_trials: int) -> None:
        space = self.space
        pending: dict[str, list[Any]] = {}
        jobs: list[RunJob] = []
        for trial in batch:
            values = dict(trial.params)
            trial.set_user_attr("plan", plan_key(values))
            share, why = space.violation(values)
            data = None
            if share == 0:
                try:
                    data = Scenario(**space.plan_data(values)).as_data()
                except (InputError, ValueError) as exc:  # a combination the single checks could not see
                    share, why = 1.0, f"not a valid scenario ({exc})"
            # every trial carries the constraint (NSGA-II's constrained domination needs it on all of them)
            trial.set_constraint("budget", share)
            if share > 0:
                trial.set_user_attr("infeasible", why)
                self._tell(study, trial, [0.0] * len(space.use), n_trials)
                continue
            key = plan_key(values)
            new = [] if key in pending else self.jobs_for(key, data, Scenario(**data))
            jobs += new
            pending.setdefault(key, []).append(trial)
        best = None
        if space.objectives.robustness == "regret" and (self.named_values or earlier):
            best = best_per_draw([*self.named_values.values(), *earlier])

        def complete(key: str) -> None:
            values = self.values_of(key)
            own = best_per_draw([values, best] if best is not None else [values])
            stats = robust(values, space.objectives.robustness, space.objectives.quantile, own)
            for trial in pending.pop(key):
                trial.set_user_attr("per_draw", values)
                self._tell(study, trial, [stats[n] for n in space.use], n_trials)

        left = {key: sum(1 for j in jobs if j.run == key) for key in pending}
        for key in [k for k, n in left.items() if n == 0]:
            complete(key)

        def done(job: RunJob) -> None:
            left[job.run] -= 1
            if left[job.run] == 0:
                complete(job.run)

        self.run(jobs, done)

    def _tell(self, study: Any, trial: Any, values: list[float], n_trials: int) -> None:
        study.tell(trial, values)
        self.told += 1
        self._report("plans", self.finished(study._storage), n_trials, self._front_size(study))

    def _front_size(self, study: Any) -> int:
        from optuna.trial import TrialState

        trials = [t for t in study.get_trials(deepcopy=False, states=[TrialState.COMPLETE])
                  if not t.user_attrs.get("infeasible")]
        if not trials:
            return 0
        points = np.array([t.values for t in trials], dtype=float)
        better = np.array([1 if d.name == "MAXIMIZE" else -1 for d in study.directions])
        return int(pareto_front(points, better).sum())


def named_run(name: str) -> str:
    """The store's name of a named strategy's runs."""
    return f"named_{safe_name(name)}"


def _batch_seed(seed: int, done: int) -> int:
    """The sampler's seed for the batch that starts after ``done`` finished plans: a pure function of both."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{done}".encode()).digest()[:4], "little")


# ------------------------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------------------------

def plan_name(number: int) -> str:
    """The name of trial ``number``'s plan (its scenario file is plans/<name>.toml)."""
    return f"plan_{number:04d}"


def evaluations_table(space: PlanSpace, storage: Any) -> tuple[pd.DataFrame, dict[str, dict[str, list[float]]]]:
    """Every trial as a row, and the per-draw values of each evaluated one (by plan name)."""
    import optuna

    study = optuna.load_study(study_name=space.name, storage=storage)
    rows, values = [], {}
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("interrupted"):
            continue
        row: dict[str, Any] = {"trial": t.number, "plan": plan_name(t.number), "runs": t.user_attrs.get("plan"),
                               "state": t.state.name.lower(),
                               "generation": t.system_attrs.get("NSGAIISampler:generation"),
                               "feasible": not t.user_attrs.get("infeasible"),
                               "why_infeasible": t.user_attrs.get("infeasible", "")}
        row.update({d.path: t.params.get(d.path) for d in space.decisions})
        rows.append(row)
        if "per_draw" in t.user_attrs:
            values[plan_name(t.number)] = t.user_attrs["per_draw"]
    columns = ["trial", "plan", "runs", "state", "generation", "feasible", "why_infeasible",
               *(d.path for d in space.decisions)]
    return pd.DataFrame(rows, columns=columns), values


def add_objectives(frame: pd.DataFrame, values: dict[str, dict[str, list[float]]], space: PlanSpace,
                   best: dict[str, list[float]] | None, key: str = "plan") -> pd.DataFrame:
    """Columns per objective: its robust statistic (the front's) and its mean over the draws."""
    o = space.objectives
    frame = frame.copy()
    for name in OBJECTIVES:
        cols = {stat_label(name, "mean", o.quantile)}
        if o.robustness != "mean":
            cols.add(stat_label(name, o.robustness, o.quantile))
        for col in sorted(cols):
            frame[col] = np.nan
    for i, plan in enumerate(frame[key]):
        if plan not in values:
            continue
        v = values[plan]
        means = robust(v, "mean", o.quantile)
        stats = robust(v, o.robustness, o.quantile, best)
        for name in OBJECTIVES:
            frame.loc[frame.index[i], stat_label(name, "mean", o.quantile)] = means[name]
            frame.loc[frame.index[i], stat_label(name, o.robustness, o.quantile)] = stats[name]
    return frame


def front_columns(space: PlanSpace) -> list[str]:
    """The columns the front is non-dominated on."""
    o = space.objectives
    return [stat_label(n, o.robustness, o.quantile) for n in space.use]


def front_better(space: PlanSpace) -> np.ndarray:
    """+1 where a front column is better larger, -1 where smaller."""
    if space.objectives.robustness == "regret":
        return -np.ones(len(space.use))
    return np.array([DIRECTION[n] for n in space.use], dtype=float)


def write_outputs(out: Path, space: PlanSpace, storage: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """evaluations.csv, front.csv, named.csv, plans/<plan>.toml for every front plan, and front.png."""
    evaluations, values = evaluations_table(space, storage)
    named_values = {}
    for spec in space.named:
        metrics = _read_metrics(out, space, named_run(spec.name))
        reference = _read_metrics(out, space, "reference")
        named_values[spec.name] = per_draw(metrics, reference, space.uncertainty.draws, space.uncertainty.seeds,
                                           space.objectives.equity_effect)
    best = best_per_draw([*values.values(), *named_values.values()]) if values or named_values else None
    evaluations = add_objectives(evaluations, values, space, best)
    cols = front_columns(space)
    ok = evaluations[(evaluations["state"] == "complete") & evaluations["feasible"]
                     & evaluations[cols].notna().all(axis=1)].drop_duplicates("runs")
    keep = pareto_front(ok[cols].to_numpy(dtype=float), front_better(space)) if len(ok) else np.zeros(0, bool)
    front = ok[keep].drop(columns=["state", "feasible", "why_infeasible"])
    front = front.sort_values(cols[0], ascending=front_better(space)[0] < 0, ignore_index=True)
    evaluations["on_front"] = evaluations["trial"].isin(front["trial"])
    named = pd.DataFrame({"strategy": [s.name for s in space.named]})
    for d in space.decisions:
        named[d.path] = [_value_at(s.as_data(), d.path, s) for s in space.named]
    named["feasible"] = [_named_feasible(space, s) for s in space.named]
    named = add_objectives(named, named_values, space, best, key="strategy")
    write_atomic(out / "evaluations.csv", lambda p: evaluations.to_csv(p, index=False))
    write_atomic(out / "front.csv", lambda p: front.to_csv(p, index=False))
    write_atomic(out / "named.csv", lambda p: named.to_csv(p, index=False))
    (out / PLANS).mkdir(exist_ok=True)
    for old in (out / PLANS).glob("plan_*.toml"):  # plans an earlier, shorter search had on its front
        if old.stem not in set(front["plan"]):
            old.unlink()
    for _, row in front.iterrows():
        values_of = {d.path: _python(row[d.path]) for d in space.decisions}
        write_plan(out / PLANS / f"{row['plan']}.toml", space, row["plan"], values_of, row)
    from quartiersim.plots import pareto_figure

    figure = pareto_figure(evaluations, front, named, space.use, space.objectives.robustness,
                           space.objectives.quantile, space.name)
    write_atomic(out / "front.png", lambda p: figure.savefig(p, format="png", dpi=120))
    return front, named, evaluations


def _named_feasible(space: PlanSpace, spec: Scenario) -> bool:
    """Whether a named strategy keeps the plan space's budget constraint."""
    data = spec.as_data()
    limit = space.constraints.budget_eur_per_year
    if limit is None:
        return True
    total = float((data.get("allocation") or {}).get("budget_eur_per_year", 0.0)) + \
        float((data.get("initiative_funding") or {}).get("budget_eur_per_year", 0.0))
    return total <= limit + 1e-6


def _python(value: Any) -> Any:
    """A table cell as a plain Python value (numpy numbers are not TOML)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_metrics(out: Path, space: PlanSpace, run: str) -> dict[tuple[int, int], RunMetrics]:
    o = space.objectives
    metrics = {}
    for k in range(space.uncertainty.draws):
        for s in range(space.uncertainty.seeds):
            table = pd.read_parquet(run_file(out, run, k, s))
            metrics[(k, s)] = run_metrics(table, o.year, space.cost_years, space.top_quartile)
    return metrics


def write_plan(path: Path, space: PlanSpace, name: str, values: dict[str, Any], row: pd.Series | None = None
               ) -> Scenario:
    """A plan as a full scenario file that ``quartiersim run`` and ``compare`` take; returns the scenario."""
    import tomli_w

    scenario = build_scenario(space.plan_data(values), source=space.source)
    data = toml_plain(scenario.model_dump(mode="python"))
    for key in ("indicators_file", "stadtteile_file"):  # data files stay where the base scenario found them
        if data.get(key):
            data[key] = str(scenario.path_of(data[key]).resolve())
    data["name"] = name
    data["description"] = f"Plan {name} of the plan space '{space.name}' (quartiersim optimise)"
    lines = [f"# Written by 'quartiersim optimise' ({package_version()}) from {space.source}:",
             f"# the base scenario '{space.base.name}' with [set] and these decision values:"]
    lines += [f"#   {path} = {value!r}" for path, value in values.items()]
    if row is not None:
        o = space.objectives
        lines.append(f"# objectives ({o.robustness} over {space.uncertainty.draws} posterior draws x "
                     f"{space.uncertainty.seeds} seeds, against '{space.reference.name}', {o.year}):")
        for n in OBJECTIVES:
            col = stat_label(n, o.robustness, o.quantile)
            lines.append(f"#   {col} = {row[col]:.6g}")
    text = "\n".join(lines) + "\n" + tomli_w.dumps(data)
    write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))
    return scenario


# ------------------------------------------------------------------------------------------------------------
# a finished store: a chosen plan, its figure, scenario discovery
# ------------------------------------------------------------------------------------------------------------

@dataclass
class PlanStore:
    """An optimise store read back: its manifest and the plan space rebuilt from it."""

    out: Path
    manifest: dict[str, Any]
    space: PlanSpace

    def trial_values(self, plan: str) -> dict[str, Any]:
        """A plan's decision values, exactly as the search asked them.

        Raises:
            InputError: no evaluated plan of that name (the message lists the front's plans).

        """
        import optuna
        from optuna.trial import TrialState

        study = optuna.load_study(study_name=self.space.name, storage=self.storage())
        by_name = {plan_name(t.number): t for t in study.get_trials(deepcopy=False, states=[TrialState.COMPLETE])
                   if "per_draw" in t.user_attrs}
        if plan not in by_name:
            front = pd.read_csv(self.out / "front.csv")["plan"].tolist() if (self.out / "front.csv").is_file() else []
            raise InputError("argument", "--plan", "an evaluated plan of the store, e.g. one of the front: "
                             + (", ".join(front[:12]) or "(none yet)"), plan)
        return dict(by_name[plan].params)

    def storage(self) -> Any:
        """The store's Optuna storage."""
        import optuna

        return optuna.storages.RDBStorage(f"sqlite:///{(self.out / STUDY_DB).absolute()}")


def open_plan_store(out: str | Path) -> PlanStore:
    """Read an optimise store and rebuild its plan space (the same files must still give the same plan space).

    Raises:
        InputError: not an optimise store, or its scenarios or data files changed since the search.

    """
    out = Path(out)
    manifest = read_manifest(out)
    if not (out / STUDY_DB).is_file():
        raise InputError(out, STUDY_DB, "the search's storage beside optimise.json (run 'quartiersim optimise' on "
                         "it again)")
    space = build_plan_space(manifest["plan_space"], manifest["plan_space_file"], Path(manifest["base_dir"]))
    identity = space.identity()
    differs = [k for k, v in identity.items() if manifest["identity"].get(k) != v]
    if differs:
        raise InputError(out, MANIFEST, "a store whose plan space, scenarios and data files are as the search found "
                         f"them; they differ now in: {', '.join(differs)}")
    return PlanStore(out, manifest, space)


@dataclass
class PlanDetails:
    """A chosen plan: its scenario, its project areas and its yearly cost beside the reference's."""

    name: str
    scenario: Scenario
    areas: pd.DataFrame
    cost: pd.DataFrame  # year, plan_roles_eur, plan_grants_eur, reference_eur (means over the stored runs)
    stadtteile: pd.DataFrame  # the simulated Stadtteile (number, stadtteil, bezirk)


def plan_details(store: PlanStore, plan: str) -> PlanDetails:
    """The project areas a plan chooses and its yearly cost (means over the runs the store holds)."""
    from quartiersim.areas import area_index
    from quartiersim.data import load_city_indicators, load_indicators, load_stadtteile, simulated_rows
    from quartiersim.strategies import plan as strategy_plan

    space = store.space
    values = store.trial_values(plan)
    scenario = build_scenario(space.plan_data(values), source=space.source)
    table = load_stadtteile(scenario.path_of(scenario.stadtteile_file))
    city = load_city_indicators()
    indicators = load_indicators(scenario.path_of(scenario.indicators_file), stadtteile=table, city=city)
    ranking = area_index(indicators, city, table, scenario.area_index)
    rows = simulated_rows(table, scenario.stadtteile, scenario.bezirke, scenario.origin)
    simulated = sorted(int(n) for n in table["number"].iloc[rows])
    areas = strategy_plan(scenario, table, ranking, simulated=simulated).areas
    key = plan_key(values)
    frames = []
    for run, who in ((key, "plan"), ("reference", "reference")):
        files = sorted((store.out / RUNS / run).glob("d*_s*.parquet"))
        if not files:
            raise InputError(store.out, f"{RUNS}/{run}", f"the runs of {plan} (the search did not keep them)")
        t = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        t = t[(t["stadtteil"] == CITY) & t["indicator"].isin(["cost_eur", "grants_eur"])]
        per_year = t.groupby(["year", "indicator"])["value"].mean().unstack("indicator").fillna(0.0)
        frames.append(per_year.add_prefix(f"{who}_"))
    cost = pd.concat(frames, axis=1).fillna(0.0).reset_index()
    cost["reference_eur"] = cost.get("reference_cost_eur", 0.0) + cost.get("reference_grants_eur", 0.0)
    cost = cost.rename(columns={"plan_cost_eur": "plan_roles_eur", "plan_grants_eur": "plan_grants_eur"})
    for col in ("plan_roles_eur", "plan_grants_eur"):
        if col not in cost:
            cost[col] = 0.0
    return PlanDetails(plan, scenario, areas, cost[["year", "plan_roles_eur", "plan_grants_eur", "reference_eur"]],
                       table.iloc[rows][["number", "stadtteil", "bezirk"]].reset_index(drop=True))


def store_figures(directory: str | Path, plan: str | None = None) -> dict[str, Any]:
    """The figures of an optimise store (``quartiersim plot DIR [--plan P]``).

    The front beside the named strategies and, for ``plan``, that plan's Stadtteile on the Bezirk tiles with its
    yearly cost.
    """
    from quartiersim.plots import pareto_figure, plan_figure

    directory = Path(directory)
    store = open_plan_store(directory)
    space = store.space
    figures: dict[str, Any] = {"front": pareto_figure(
        pd.read_csv(directory / "evaluations.csv"), pd.read_csv(directory / "front.csv"),
        pd.read_csv(directory / "named.csv"), space.use, space.objectives.robustness, space.objectives.quantile,
        space.name)}
    if plan is not None:
        details = plan_details(store, plan)
        figures[plan] = plan_figure(details.areas, details.cost, details.stadtteile, f"{plan} ({space.name})")
    return figures


def plan_figure_file(store: PlanStore, plan: str, path: Path) -> Path:
    """Write a plan's Stadtteile on the Bezirk tiles and its yearly cost as a PNG."""
    from quartiersim.plots import plan_figure

    details = plan_details(store, plan)
    figure = plan_figure(details.areas, details.cost, details.stadtteile, f"{plan} ({store.space.name})")
    return write_atomic(path, lambda p: figure.savefig(p, format="png", dpi=120))


@dataclass
class DiscoveryResult:
    """Scenario discovery for one plan: per draw the parameters and the outcome, and PRIM's box."""

    plan: str
    outcome: str
    threshold: float
    fails_below: bool
    outcomes: pd.DataFrame  # draw, the drawn parameters, the outcome, fails
    peeling: pd.DataFrame | None  # PRIM's peeling trajectory (coverage, density, mass, restricted dimensions)
    box: pd.DataFrame | None  # parameter, low, high, full range, restricted
    chosen: int | None
    directory: Path
    simulated: int


def discover(out: str | Path, plan: str, outcome: str = "lonely_adults_fewer", below: float | None = None,
             above: float | None = None, draws: int = 40, workers: int = 1, scheduler: str | None = None,
             min_density: float = 0.8, progress: Callable[[int, int], None] | None = None) -> DiscoveryResult:
    """Under which parameter values does a plan fail the planner's threshold? PRIM over posterior draws.

    The plan runs with draws ``0..draws-1`` of the posterior and the store's seeds (the draws the search
    evaluated are read back, the others simulated and kept), each draw's outcome is the mean over the seeds
    against the reference, and PRIM (EMA Workbench) finds the box of parameter values in which the outcome
    falls below ``below`` (or rises above ``above``, e.g. for the cost). The chosen box is the one with the
    largest coverage among those with a density of at least ``min_density`` (the densest if none reaches it).
    Writes ``discovery/<plan>/`` in the store: ``outcomes.csv``, ``peeling.csv``, ``box.csv``, ``prim.png``
    and ``plan.png`` (the plan's Stadtteile and yearly cost).

    Raises:
        InputError: a bad plan, outcome, threshold or number of draws, or a store with fixed parameters.

    """
    import importlib.util

    if importlib.util.find_spec("ema_workbench") is None:
        raise CommandError("quartiersim discover", "scenario discovery uses EMA Workbench's PRIM, which is not "
                           "installed", 'install the ema extra: pip install -e ".[ema]"', exit_status=2)
    store = open_plan_store(out)
    space = store.space
    if outcome not in OBJECTIVES:
        raise InputError("argument", "--outcome", f"one of {', '.join(OBJECTIVES)}", outcome)
    if (below is None) == (above is None):
        raise InputError("argument", "--below", "either --below (the outcome fails below it) or --above")
    threshold = float(below if below is not None else above)
    if not math.isfinite(threshold):
        raise InputError("argument", "--below" if below is not None else "--above", "a finite number", threshold)
    if isinstance(draws, bool) or not isinstance(draws, int) or not 4 <= draws <= 10_000:
        raise InputError("argument", "--draws", "a number of posterior draws from 4 to 10,000 (PRIM needs dozens)",
                         draws)
    if not 0 < min_density <= 1:
        raise InputError("argument", "--min-density", "a density in (0, 1]", min_density)
    if space.posterior is None:
        raise InputError(store.out, "uncertainty.posterior", "a search whose runs draw parameters from a posterior "
                         "(this one has fixed parameters: there is nothing to discover)")
    values = store.trial_values(plan)
    key = plan_key(values)
    scenario = Scenario(**space.plan_data(values))
    directory = store.out / DISCOVERY / safe_name(plan)
    check_output(directory, "--plan", "directory", resume=True)
    if scheduler is None:
        check_workers(workers)
    context, window, threads = _executor(workers, scheduler, None, None)
    with context as ex, DirectoryLock(store.out, "quartiersim discover"):
        remove_partials(directory)
        deep = PlanSpace(**{**space.__dict__, "uncertainty": space.uncertainty.model_copy(update={"draws": draws})})
        search = _Search(deep, store.out, _digest(store.manifest["identity"]), ex, window, threads, None)
        jobs = search.jobs_for("reference", space.reference.as_data(), space.reference)
        jobs += search.jobs_for(key, scenario.as_data(), scenario)
        total = len(jobs)

        def done(job: RunJob) -> None:
            if progress is not None:
                progress(search.simulated, total)

        if progress is not None:
            progress(0, total)
        search.run(jobs, done)
        per = search.values_of(key)
        x = pd.DataFrame([space.draw(scenario, k) for k in range(draws)], dtype=float)
        x = x.loc[:, x.nunique() > 1]
        y_values = np.asarray(per[outcome], dtype=float)
        fails = y_values < threshold if below is not None else y_values > threshold
        outcomes = x.assign(**{outcome: y_values, "fails": fails})
        outcomes.insert(0, "draw", range(draws))
        peeling = box = None
        chosen = None
        if fails.any() and not fails.all() and x.shape[1]:
            peeling, box, chosen = _prim(x, fails, min_density)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(directory / "outcomes.csv", lambda p: outcomes.to_csv(p, index=False))
        if peeling is not None:
            write_atomic(directory / "peeling.csv", lambda p: peeling.to_csv(p, index=False))
            write_atomic(directory / "box.csv", lambda p: box.to_csv(p, index=False))
        from quartiersim.plots import prim_figure

        figure = prim_figure(outcomes, outcome, threshold, below is not None, peeling, box, chosen, plan)
        write_atomic(directory / "prim.png", lambda p: figure.savefig(p, format="png", dpi=120))
        plan_figure_file(store, plan, directory / "plan.png")
    return DiscoveryResult(plan, outcome, threshold, below is not None, outcomes, peeling, box, chosen, directory,
                           search.simulated)


def _prim(x: pd.DataFrame, fails: np.ndarray, min_density: float) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """PRIM's peeling trajectory, the chosen box's limits and its index on the trajectory."""
    import logging

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # EMA Workbench's notes on optional packages it does not need here
        from ema_workbench.analysis import prim
        logging.getLogger("EMA").setLevel(logging.WARNING)
        found = prim.Prim(x, fails.astype(bool), peel_alpha=0.1, mass_min=0.05).find_box()
    trajectory = found.peeling_trajectory.reset_index(drop=True)
    dense = trajectory.index[trajectory["density"] >= min_density - 1e-12]
    chosen = int(trajectory.loc[dense, "coverage"].idxmax()) if len(dense) else int(trajectory["density"].idxmax())
    first, lims = found.box_lims[0], found.box_lims[chosen]
    box = pd.DataFrame({"parameter": list(x.columns),
                        "low": [float(lims[c].iloc[0]) for c in x.columns],
                        "high": [float(lims[c].iloc[1]) for c in x.columns],
                        "full_low": [float(first[c].iloc[0]) for c in x.columns],
                        "full_high": [float(first[c].iloc[1]) for c in x.columns]})
    box["restricted"] = (box["low"] > box["full_low"]) | (box["high"] < box["full_high"])
    peeling = trajectory[["coverage", "density", "mass", "res_dim"]].assign(box=range(len(trajectory)))
    peeling["chosen"] = peeling["box"] == chosen
    return peeling[["box", "coverage", "density", "mass", "res_dim", "chosen"]], box, chosen
