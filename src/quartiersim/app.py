"""An interactive app (Mesa's SolaraViz) for the Neckarvorstadt pilot quarter: ``quartiersim app``.

Sliders set the posts of Gemeinwesenarbeit and of the Vernetzungsstelle during the pilot, a menu the
Verstetigung strategy after 2027, and the seed; the plots of loneliness, participation and active initiatives
update as the model steps week by week. The scale (agents per resident) comes from ``QUARTIERSIM_APP_SCALE``
(default 0.25) so the app stays responsive.

Start it with ``solara run quartiersim.app:page`` (needs the ``app`` extra) and open the address it prints.
Importing this module builds the first model; the rest of the package never imports it.

Work in progress (issue 7): the controls and stepping work, but in this repository's environment (solara
1.64.1, Mesa 3.5.1, headless Chromium) the plot area stays empty, as it does for Mesa's own Boltzmann wealth
example; the browser test and the ``quartiersim app`` command follow once the plots render.
"""

from __future__ import annotations

import os
from typing import Any

from mesa.visualization import SolaraViz, make_plot_component
from mesa.visualization.user_param import Slider

from quartiersim.model import QuarterModel
from quartiersim.spec import VERSTETIGUNG_STRATEGIES, resolve_scenario

SCENARIO = "neckarvorstadt"
GWA_ROLE = "Gemeinwesenarbeit Neckarvorstadt"


class AppModel(QuarterModel):
    """The Neckarvorstadt scenario with the app's levers applied (what SolaraViz builds from the sliders)."""

    def __init__(self, gwa_fte: float = 1.0, vernetzung_fte: float = 0.5, strategy: str = "funding_ends",
                 seed: int = 1, rng: Any = None):
        base = resolve_scenario(SCENARIO)
        data = base.as_data()
        for role in data["roles"]:
            if role["name"] == GWA_ROLE:
                role["fte"] = float(gwa_fte)
            elif role["kind"] == "vernetzungsstelle":
                role["fte"] = float(vernetzung_fte)
        data["verstetigung"] = {**data["verstetigung"], "strategy": strategy}
        data["scale"] = float(os.environ.get("QUARTIERSIM_APP_SCALE", "0.25"))
        data["report"] = "weekly"
        data["spinup_weeks"] = 0
        super().__init__(type(base)(**data), rng=int(seed) if rng is None else rng)


MODEL_PARAMS = {
    "gwa_fte": Slider("Gemeinwesenarbeit: posts during the pilot", 1.0, 0.0, 3.0, 0.25),
    "vernetzung_fte": Slider("Vernetzungsstelle: posts during the pilot", 0.5, 0.0, 2.0, 0.25),
    "strategy": {"type": "Select", "value": "funding_ends", "values": list(VERSTETIGUNG_STRATEGIES),
                 "label": "Verstetigung after 2027"},
    "seed": {"type": "InputText", "value": 1, "label": "Seed"},
}
COMPONENTS = [
    make_plot_component({"lonely_share": "tab:red"}),
    make_plot_component({"participation_share": "tab:blue"}),
    make_plot_component({"active_initiatives": "tab:green"}),
]
page = SolaraViz(AppModel(), components=COMPONENTS, model_params=MODEL_PARAMS,
                 name="quartiersim: Neckarvorstadt")
