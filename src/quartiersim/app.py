"""An interactive app (Solara, with Mesa's model controller) for one or a few Stadtteile: ``quartiersim app``.

The sidebar has a slider for the weekly hours of each of the scenario's roles, a menu for the Verstetigung
strategy after the pilot, and the seed, each showing its value, range and unit. The plots of loneliness,
participation and active initiatives (shares in per cent) grow as the model steps week by week; beside each, a
grey dashed line shows the scenario as written (its own hours and strategy) with the same seed, run to its end,
so a lever's effect is the gap between the two lines. The status card lists the roles of the run, including
those the Verstetigung strategy continues or creates. As in Mesa's SolaraViz, a changed lever takes effect when
*Reset* rebuilds the model; Mesa's own interval sliders, thread switch, time counter and page tabs are left out.

The scenario (default ``neckarvorstadt``) and an optional scale come from the environment variables
``QUARTIERSIM_APP_SCENARIO`` and ``QUARTIERSIM_APP_SCALE``, which ``quartiersim app`` sets before it starts
``solara run quartiersim.app:Page``. Needs the ``app`` extra (``pip install -e ".[app]"``). Importing this module
reads the scenario; each browser session builds its own model. The rest of the package never imports it.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import numpy as np
import pandas as pd
import solara
from mesa.visualization.user_param import Slider
from mesa.visualization.utils import update_counter

from quartiersim.data import load_stadtteile, simulated_rows
from quartiersim.errors import InputError
from quartiersim.model import QuarterModel
from quartiersim.outputs import CITY, LABELS, indicator_table, is_share
from quartiersim.plots import indicator_over_time
from quartiersim.spec import ROLE_LABELS, VERSTETIGUNG_STRATEGIES, Scenario, resolve_scenario

ENV_SCENARIO = "QUARTIERSIM_APP_SCENARIO"
ENV_SCALE = "QUARTIERSIM_APP_SCALE"
DEFAULT_SCENARIO = "neckarvorstadt"
#: The app steps a model in the browser's session; beyond a few Stadtteile use ``quartiersim run`` or ``compare``.
MAX_STADTTEILE = 12
#: The plots: indicator and its title.
PLOTS = (("lonely_share", "Lonely adults"), ("participation_share", "Residents taking part (14+)"),
         ("active_initiatives", "Active initiatives"))
REFERENCE = "scenario as written"
#: Whom each plotted share counts (its denominator), for the axis label.
UNITS_OF_SHARES = {"lonely_share": "adults", "participation_share": "residents aged 14+",
                   "volunteer_share": "residents aged 14+", "bridging_tie_share": "ties", "offer_coverage": "residents"}
#: Reference runs kept in memory (per seed, shared by the sessions).
REFERENCES_KEPT = 8
CURRENT = "your levers"


def app_scenario(scenario: str | Scenario | None = None, scale: float | None = None) -> Scenario:
    """The scenario the app steps: reported weekly, optionally rescaled, at most :data:`MAX_STADTTEILE` Stadtteile.

    Raises:
        InputError: a scenario that cannot be used, naming its file and field.

    """
    overrides: dict[str, Any] = {"report": "weekly"}
    if scale is not None:
        overrides["scale"] = scale
    spec = resolve_scenario(scenario or DEFAULT_SCENARIO, **overrides)  # checked with the app's scale
    n = len(_simulated(spec))
    if n > MAX_STADTTEILE:
        raise InputError(spec.origin, "stadtteile", f"at most {MAX_STADTTEILE} Stadtteile for the interactive app "
                         "(use `quartiersim run` or `compare` for more)", f"{n} Stadtteile")
    return spec


def _simulated(spec: Scenario) -> list[str]:
    """The names of the Stadtteile ``spec`` simulates."""
    table = load_stadtteile(spec.path_of(spec.stadtteile_file))
    return table.iloc[simulated_rows(table, spec.stadtteile, spec.bezirke, spec.origin)]["stadtteil"].tolist()


def area_label(names: list[str]) -> str:
    """A title for the simulated Stadtteile: the name of one, or how many."""
    return names[0] if len(names) == 1 else f"{len(names)} Stadtteile"


def role_labels(roles: list[Any]) -> list[str]:
    """Short slider labels: the role's kind (the first word of its label), numbered when a kind repeats."""
    kinds = [ROLE_LABELS[role.kind].split()[0] for role in roles]
    return [f"{kind} {kinds[:i].count(kind) + 1}" if kinds.count(kind) > 1 else kind
            for i, kind in enumerate(kinds)]


#: What planners call the Verstetigung strategies (the menu shows these, the scenario files the ids).
STRATEGY_LABELS = {"funding_ends": "Funding ends", "meeting_places": "Meeting places kept",
                   "permanent_posts": "Permanent posts", "welfare_handover": "Handover to welfare organisations",
                   "self_organisation": "Self-organisation of the initiatives"}
#: Mesa's own controls the app replaces: play and render intervals, threads, "Time", the page tabs.
MESA_CONTROLS = ("Play Interval", "Render Interval", "Use Threads", "Time:", "Page 0")


def model_params(spec: Scenario) -> dict[str, Any]:
    """The app's inputs: hours per week of each role (``hours_<i>``), the Verstetigung strategy and the seed."""
    hours_per_fte = spec.params.hours_per_fte
    params: dict[str, Any] = {}
    for i, (role, label) in enumerate(zip(spec.roles, role_labels(spec.roles), strict=True)):
        hours = round(role.fte * hours_per_fte, 1)
        top = float(np.ceil(max(2 * hours, hours_per_fte)))
        params[f"hours_{i}"] = Slider(f"{label} h/week", hours, 0.0, top, 0.5)
    params["strategy"] = {"type": "Select", "value": spec.verstetigung.strategy,
                          "values": list(VERSTETIGUNG_STRATEGIES), "label": f"Verstetigung after {spec.pilot_end}"}
    params["seed"] = {"type": "SliderInt", "value": 1, "min": 0, "max": 99, "step": 1, "label": "Seed"}
    return params


def default_levers(params: dict[str, Any]) -> dict[str, Any]:
    """The value each input of :func:`model_params` starts at (the first model's arguments)."""
    return {k: (v.value if isinstance(v, Slider) else v["value"]) for k, v in params.items()}


def input_label(name: str, options: Any, value: Any) -> str:
    """An input's label with its value and unit, always shown (a slider's thumb shows it only while dragged)."""
    if name.startswith("hours_"):
        return f"{options.label.removesuffix(' h/week')}: {float(value):.1f} h/week (0 to {options.max:g})"
    if name == "seed":
        return f"Seed: {int(value)} (0 to {options['max']})"
    return str(options["label"])


def with_levers(spec: Scenario, strategy: str | None = None, **hours: float) -> Scenario:
    """The scenario with the app's levers applied.

    ``hours_<i>`` sets role *i*'s posts from its start (hours / ``hours_per_fte``); the role's dated changes of
    posts are scaled by the same factor (or set to the new posts when the role had none), so a half-time cut
    written into the scenario stays a halving.
    """
    data = spec.as_data()
    hours_per_fte = spec.params.hours_per_fte
    for key, value in hours.items():
        index = int(key.removeprefix("hours_")) if key.startswith("hours_") else -1
        if not 0 <= index < len(data["roles"]):
            raise ValueError(f"unknown lever {key!r}: the scenario has {len(data['roles'])} roles (hours_0 ...)")
        role = data["roles"][index]
        if round(float(value), 1) == round(role["fte"] * hours_per_fte, 1):
            continue  # the slider where it started: the role exactly as written
        new = float(value) / hours_per_fte
        factor = new / role["fte"] if role["fte"] > 0 else None
        role["fte"] = new
        for change in role["changes"]:
            if change.get("fte") is not None:
                change["fte"] = change["fte"] * factor if factor is not None else new
    if strategy is not None:
        data["verstetigung"] = {**data["verstetigung"], "strategy": strategy}
    return type(spec)(**data)


class AppModel(QuarterModel):
    """The app's scenario with the levers applied (what SolaraViz builds from the sidebar).

    Subclasses made by :func:`app_model_class` carry the scenario in ``base`` and cache the reference runs.
    """

    base: Scenario
    _references: dict[int, pd.DataFrame]

    def __init__(self, strategy: str | None = None, seed: int = 1, rng: Any = None, scenario: Any = None,
                 **hours: float):
        # ``scenario`` is the Mesa scenario object SolaraViz passes back on Reset; the seed lever decides the run
        self.levers = {"strategy": strategy, **hours}
        super().__init__(with_levers(self.base, strategy, **hours), rng=int(seed) if rng is None else rng)

    def reference(self) -> pd.DataFrame:
        """The tidy table of the scenario as written with this model's seed, run to the end (cached per seed)."""
        table = self._references.pop(self.seed, None)
        if table is None:
            table = QuarterModel(self.base, rng=self.seed).run()
        self._references[self.seed] = table  # most recently used last
        while len(self._references) > REFERENCES_KEPT:
            self._references.pop(next(iter(self._references)))
        return table

    def area(self) -> str:
        """The simulated Stadtteile, for titles."""
        return area_label(self.profile["stadtteil"].tolist())


def app_model_class(spec: Scenario) -> type[AppModel]:
    """An :class:`AppModel` subclass bound to ``spec`` (SolaraViz rebuilds the model from its class on Reset)."""
    return type("AppModel", (AppModel,), {"base": spec, "_references": {}, "__module__": __name__})


def lever_figure(model: AppModel, indicator: str, title: str) -> Any:
    """One indicator of the current run against the scenario as written, over the scenario's whole period.

    The pilot phase is shaded; the x-axis spans the period from the start so the line grows as the model steps.
    """
    current = model.results()
    runs = {CURRENT: current} if len(current) else {}
    runs[REFERENCE] = model.reference()
    fig = indicator_over_time(runs, indicator, stadtteil=CITY)
    ax = fig.axes[0]
    if is_share(indicator):  # shares as per cent, named in words rather than by the column's name
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
        ax.set_ylabel(f"{LABELS[indicator].removesuffix(' (share)')} [% of {UNITS_OF_SHARES[indicator]}]")
    else:
        ax.set_ylabel(f"{LABELS[indicator]} [{indicator_table()[indicator]['unit']}]")
    ax.set_xlabel("date")
    for line in ax.get_lines():
        if line.get_label().startswith(REFERENCE):
            line.set_color("#888888")
            line.set_linestyle("--")
    spec = model.spec
    ax.axvspan(pd.Timestamp(spec.start), pd.Timestamp(min(spec.pilot_end, spec.end)), color="#ccbb44", alpha=0.15,
               linewidth=0, label="pilot phase")
    ax.axvline(pd.Timestamp(model.date), color="black", linewidth=0.8)
    ax.set_xlim(pd.Timestamp(spec.start), pd.Timestamp(spec.end))
    ax.set_title(f"{title}, {model.area()}")
    ax.legend(loc="best", fontsize=8)
    return fig


def _plot_component(indicator: str, title: str):
    @solara.component
    def Plot(model):
        update_counter.get()
        solara.FigureMatplotlib(lever_figure(model, indicator, title), format="png", dependencies=[model,
                                                                                                  model.week])

    Plot.__name__ = f"Plot_{indicator}"
    return Plot


def status_lines(model: AppModel) -> list[str]:
    """The status card: where the model is, the roles the run has (the strategy's too), hours now, cost so far."""
    spec = model.spec
    week = max(0, min(model.week, model.n_weeks))
    last = spec.start + dt.timedelta(days=7 * week - 1) if week else None
    strategy = spec.verstetigung.strategy
    lines = [f"{model.area()}: seed {model.seed}, {len(model.residents):,} agents (scale {spec.scale})",
             f"Week {week} of {model.n_weeks}" + (f", simulated to {last}" if last else ", not started yet"),
             f"Verstetigung after {spec.pilot_end}: {STRATEGY_LABELS.get(strategy, strategy)}",
             "Roles in this run (hours per week as planned, from start to end; hours this week):"]
    hours_per_fte = spec.params.hours_per_fte
    written = {role.name: role for role in spec.roles}
    for role in model.roles:  # the plan's roles: the scenario's, as the strategy continued them, and new ones
        planned = role.spec
        note = ""
        if planned.name not in written:
            note = f" (created by the strategy {STRATEGY_LABELS.get(strategy, strategy)})"
        elif planned.end != written[planned.name].end:
            note = f" (to {written[planned.name].end} in the scenario; continued by the strategy)"
        lines.append(f"  {planned.name}: {planned.fte * hours_per_fte:.1f} h, {planned.start} to {planned.end}"
                     f"{note}; now {role.hours_per_week:.1f} h")
    cost = sum(role.cost_spent for role in model.roles)
    lines += [f"Cost of the roles so far: {cost:,.0f} EUR",
              "Change a lever, then press Reset to rebuild the model with it. Grey dashed lines: the scenario as "
              "written with the same seed."]
    return lines


@solara.component
def Status(model):
    """The status card (:func:`status_lines`)."""
    update_counter.get()
    with solara.Column(gap="2px", classes=["quartiersim-status"]):
        for line in status_lines(model):
            solara.Text(line, style={"white-space": "pre-wrap", "font-size": "0.9em"})


@solara.component
def Levers(params: dict[str, Any], values: solara.Reactive[dict[str, Any]]):
    """The sidebar's inputs, each with its value, range and unit always in view (and labels, not ids)."""
    current = values.value

    def setter(name: str):
        def on_value(value: Any) -> None:
            values.value = {**values.value, name: value}
        return on_value

    for name, options in params.items():
        value = current.get(name, default_levers({name: options})[name])
        label = input_label(name, options, value)
        # the label with value, range and unit on its own line: beside the slider it left the track no room
        if isinstance(options, Slider):
            solara.Text(label, classes=["quartiersim-input-label"])
            solara.SliderFloat("", value=float(value), min=options.min, max=options.max, step=options.step,
                               on_value=setter(name), thumb_label=False, tick_labels="end_points")
        elif options["type"] == "SliderInt":
            solara.Text(label, classes=["quartiersim-input-label"])
            solara.SliderInt("", value=int(value), min=options["min"], max=options["max"], step=options["step"],
                             on_value=setter(name), thumb_label=False, tick_labels="end_points")
        else:  # the strategy: labels in the menu, ids in the model
            labels = [STRATEGY_LABELS.get(v, v) for v in options["values"]]
            by_label = dict(zip(labels, options["values"], strict=True))
            solara.Select(label, values=labels, value=STRATEGY_LABELS.get(value, value),
                          on_value=lambda text, name=name, by_label=by_label: setter(name)(by_label[text]))


def make_page(spec: Scenario) -> Any:
    """The app for ``spec`` (see :func:`app_scenario`) as a Solara component.

    Each browser session gets its own model, so two planners (or two tabs) never step each other's model. The
    page uses Mesa's ``ModelController`` (Reset, play, Step) and lays out its own sidebar and plots: Mesa's
    interval sliders, thread switch, "Time" counter and page tabs mean nothing to a planner.
    """
    from mesa.visualization.solara_viz import ModelController

    cls = app_model_class(spec)
    params = model_params(spec)
    defaults = default_levers(params)
    plots = [_plot_component(ind, title) for ind, title in PLOTS]
    name = f"quartiersim: {area_label(_simulated(spec))}"

    @solara.component
    def Page():
        model = solara.use_reactive(solara.use_memo(lambda: cls(**defaults), []))
        levers = solara.use_reactive(dict(defaults))
        with solara.AppBar():
            solara.AppBarTitle(name)
        with solara.Sidebar(), solara.Column():
            with solara.Card("Run"):
                ModelController(model, model_parameters=levers, play_interval=solara.use_reactive(150),
                                render_interval=solara.use_reactive(1), use_threads=solara.use_reactive(False))
                solara.Text("Step runs one week, ▶ runs on; Reset rebuilds the model with the levers below.",
                            style={"font-size": "0.85em"})
            with solara.Card("Levers"):
                Levers(params, levers)
        # the status beside the first plot, the others below: a fixed grid, so nothing overlaps on first load
        with solara.Columns([1, 1], classes=["quartiersim-plots"]):
            with solara.Card("Where the run stands"):
                Status(model.value)
            plots[0](model.value)
        with solara.Columns([1, 1]):
            for plot in plots[1:]:
                plot(model.value)

    return Page


def _from_environment() -> Scenario:
    scale = os.environ.get(ENV_SCALE)
    return app_scenario(os.environ.get(ENV_SCENARIO) or None, float(scale) if scale else None)


#: What ``solara run quartiersim.app:Page`` serves.
Page = make_page(_from_environment())
