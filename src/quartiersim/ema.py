"""An EMA Workbench model of a scenario: ``ema_model("neckarvorstadt", ...)`` (needs the ``ema`` extra).

The parameter declarations (:data:`quartiersim.PARAMS`: bounds, integer or real) become EMA uncertainties, a
scenario's levers (its Verstetigung strategy and each role's posts, or any dotted path of an experiment file)
become EMA levers, and outcomes written as in experiment files become EMA scalar outcomes::

    from ema_workbench import SequentialEvaluator
    from quartiersim.ema import ema_model

    model = ema_model("verstetigung_funding_ends", uncertainties=["visit_base", "lonely_contagion"],
                      outcomes=[{"indicator": "lonely_adults", "year": 2030},
                                {"indicator": "cost_eur", "years": [2028, 2030], "aggregate": "sum"}],
                      seeds=3, scale=0.1)
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=20, policies=4)

Each experiment runs :func:`quartiersim.simulate` with the sampled values as overrides, once per seed (EMA's
replications, common random numbers across experiments), and reads each outcome with
:func:`quartiersim.outcome`; with several seeds an outcome is the mean over them. EMA names must be Python
identifiers, so a lever such as ``roles.Gemeinwesenarbeit Neckarvorstadt.fte`` is called
``fte_gemeinwesenarbeit_neckarvorstadt`` in EMA;
:attr:`QuarterFunction.paths` maps the names back. Runs in EMA's worker processes use one numba thread each
(:mod:`quartiersim.threads`). The run function is a picklable object, so the model works with EMA's
``MultiprocessingEvaluator`` too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quartiersim.experiments import OutcomeSpec, outcome, parameter_range
from quartiersim.outputs import CITY
from quartiersim.run import simulate
from quartiersim.spec import VERSTETIGUNG_STRATEGIES, Scenario, resolve_scenario

SOURCE = "ema_model()"


def ema_name(path: str) -> str:
    """An EMA name (a Python identifier) for a parameter or a dotted scenario path."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "roles":  # roles.NAME.field -> field_name
        text = f"{parts[2]}_{parts[1]}"
    elif len(parts) > 1:
        text = parts[-1] if parts[0] in ("verstetigung", "allocation") else "_".join(parts)
    else:
        text = path
    text = text.casefold().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    text = re.sub(r"\W+", "_", text).strip("_")
    return text if text.isidentifier() else f"p_{text}"


@dataclass
class QuarterFunction:
    """The function EMA calls: one run per call, overrides by EMA name, outcomes by label.

    Attributes:
        scenario: the scenario as data (``Scenario(**scenario)`` rebuilds it; plain data pickles everywhere).
        paths: EMA name -> the parameter name or dotted scenario path it sets.
        outcomes: EMA outcome name -> the outcome.
        fixed: overrides applied to every run (``scale``, ``end``, parameters, dotted paths).

    """

    scenario: dict[str, Any]
    paths: dict[str, str]
    outcomes: dict[str, OutcomeSpec]
    fixed: dict[str, Any] = field(default_factory=dict)

    def __call__(self, seed: int = 0, **values: Any) -> dict[str, float]:
        """Run the scenario with ``values`` (EMA names) and ``seed``; return every outcome."""
        overrides = dict(self.fixed)
        for name, value in values.items():
            overrides[self.paths[name]] = value.item() if hasattr(value, "item") else value
        table = simulate(Scenario(**self.scenario), seed=int(seed), **overrides)
        return {name: outcome(table, o.indicator, o.year if o.year is not None else tuple(o.years), o.stadtteil,
                              o.group, o.aggregate)
                for name, o in self.outcomes.items()}


def default_levers(spec: Scenario) -> dict[str, Any]:
    """A scenario's levers: its Verstetigung strategy (all strategies) and each role's posts (0 to twice, >= 1)."""
    levers: dict[str, Any] = {}
    if spec.verstetigung is not None:
        levers["verstetigung.strategy"] = list(VERSTETIGUNG_STRATEGIES)
    for role in spec.roles:
        levers[f"roles.{role.name}.fte"] = (0.0, max(2.0 * role.fte, 1.0))
    return levers


def ema_model(scenario: str | Scenario = "neckarvorstadt", uncertainties: Iterable[str] | Mapping[str, Any] = (),
              levers: Mapping[str, Any] | None = None, outcomes: Sequence[Mapping[str, Any]] = (),
              seeds: int | Sequence[int] = 1, name: str = "quartiersim", **fixed: Any) -> Any:
    """An EMA Workbench model of ``scenario``.

    Args:
        scenario: a scenario file, bundled name or Scenario.
        uncertainties: declared parameter names (their declared bounds), or a mapping of name to bounds as in an
            experiment file (``[low, high]``, ``{"relative": 0.5}``, ``"declared"``).
        levers: dotted scenario paths or parameter names with a list of choices (categorical) or a ``(low,
            high)`` tuple (real); None takes :func:`default_levers`, ``{}`` none.
        outcomes: outcomes as in an experiment file's ``[[outcomes]]`` (``indicator``, ``year`` or ``years`` with
            ``aggregate``, ``stadtteil``, ``group``, ``name``); at least one.
        seeds: replications per experiment: a number (seeds 0..n-1) or the seeds. One seed gives an EMA
            ``Model`` (the seed a constant), more a ``ReplicatorModel``.
        name: the EMA model's name (a Python identifier).
        **fixed: overrides for every run (e.g. ``scale=0.1``, ``end="2030-12-31"``).

    Returns:
        An ``ema_workbench.Model`` or ``ema_workbench.ReplicatorModel``.

    Raises:
        ImportError: EMA Workbench is not installed (``pip install -e ".[ema]"``).
        InputError: an unknown parameter, a range outside the declared one, a bad lever path or value, or a bad
            outcome; each names the field.

    """
    try:
        import ema_workbench as ema
    except ImportError:
        raise ImportError("quartiersim.ema needs EMA Workbench: pip install -e '.[ema]'") from None
    from quartiersim.errors import InputError
    from quartiersim.experiments import check_outcomes
    from quartiersim.spec import validate_model

    spec = resolve_scenario(scenario, **fixed)
    base = resolve_scenario(scenario)
    if not outcomes:
        raise InputError(SOURCE, "outcomes", "at least one outcome, e.g. {'indicator': 'lonely_share', 'year': 2030}")
    specs = [validate_model(OutcomeSpec, dict(o), SOURCE, {}) for o in outcomes]
    places = check_outcomes(specs, [spec.as_data()], SOURCE)
    ranges = dict(uncertainties) if isinstance(uncertainties, Mapping) else {u: "declared" for u in uncertainties}
    paths: dict[str, str] = {}
    ema_uncertainties = []
    for pname, bounds in ranges.items():
        u = parameter_range(pname, bounds, SOURCE)
        key = _claim(paths, u.name, u.name)
        kind = ema.IntegerParameter if u.integer else ema.RealParameter
        ema_uncertainties.append(kind(key, int(u.low) if u.integer else u.low, int(u.high) if u.integer else u.high))
    ema_levers = []
    for path, choice in (default_levers(spec) if levers is None else levers).items():
        key = _claim(paths, ema_name(path), path)
        if isinstance(choice, tuple) and len(choice) == 2:
            low, high = float(choice[0]), float(choice[1])
            for value in (low, high):
                spec.with_overrides(**{path: value})  # a bad path or value fails here, naming the path
            ema_levers.append(ema.RealParameter(key, low, high))
        elif isinstance(choice, list) and len(choice) >= 2:
            for value in choice:
                spec.with_overrides(**{path: value})
            ema_levers.append(ema.CategoricalParameter(key, list(choice)))
        else:
            raise InputError(SOURCE, f"levers.{path}", "a list of at least two choices or a (low, high) tuple",
                             choice)
    outcome_specs = {}
    for o, place in zip(specs, places, strict=True):
        label = ema_name(o.label if place == CITY else o.label.replace(str(o.stadtteil), place))
        outcome_specs[label] = o.model_copy(update={"stadtteil": place})
    function = QuarterFunction(base.as_data(), paths, outcome_specs, dict(fixed))
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise InputError(SOURCE, "seeds", "at least one seed", seeds)
    if len(seed_list) == 1:
        model = ema.Model(name, function=function)
        model.constants = [ema.Constant("seed", seed_list[0])]
    else:
        model = ema.ReplicatorModel(name, function=function)
        model.replications = [{"seed": s} for s in seed_list]
    model.uncertainties = ema_uncertainties
    model.levers = ema_levers
    # with several seeds EMA hands each outcome over as one value per seed: their mean is the outcome
    reduce = None if len(seed_list) == 1 else np.mean
    model.outcomes = [ema.ScalarOutcome(label, function=reduce) for label in outcome_specs]
    return model


def _claim(paths: dict[str, str], key: str, path: str) -> str:
    """Register ``key`` for ``path``; two paths with one EMA name are an error."""
    from quartiersim.errors import InputError

    if key in paths and paths[key] != path:
        raise InputError(SOURCE, path, f"a lever or uncertainty whose EMA name differs from {paths[key]!r}'s", key)
    paths[key] = path
    return key
