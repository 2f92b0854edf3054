"""The area-selection instrument (*Gebietsauswahl*): a needs index that ranks the Stadtteile.

The framework concept asks for an instrument that selects project areas for social quarter development from
per-Stadtteil indicators (seed 001, Anlage 1; seed 003: "Analyse auf Stadtteilebene", project areas run for
about 8 to 10 years). quartiersim implements it as a weighted sum of standardised indicators.

The formula
-----------

For Stadtteil *s* and indicator *i* with value ``x[s, i]``, city-wide value ``c[i]``, direction ``d[i]``
(+1 where a higher value means more need, -1 for the net income index) and weight ``w[i]``::

    contribution[s, i] = (w[i] / sum(w)) * d[i] * (x[s, i] - c[i]) / scale[i]
    score[s] = sum over i of contribution[s, i]

* ``method = "ratio"`` (the default): ``scale[i] = c[i]``, so each term is the relative deviation from the city
  value (Neckarvorstadt's net income index 74 against 100 gives -0.26, times -1: +0.26 of need). It needs no
  cross-section and works with any number of Stadtteile known.
* ``method = "zscore"``: ``scale[i]`` is the standard deviation (population-weighted, ddof 0) of the observed
  values across Stadtteile; it needs observed values for at least three Stadtteile per indicator with weight.

Both centre on the city value, not on the mean of the Stadtteile given, so that

* **a fallback value contributes exactly 0**: a Stadtteil without a figure for an indicator counts as average
  on it, never as in need and never as well off. ``observed_weight`` says which share of the weight rests on
  real figures, and ``quartiersim areas`` warns when Stadtteile rely on fallbacks.

Ranks go from 1 (highest score, most need) down; equal scores are ordered by population, largest first (with
equal need, a team reaches more people there), then by number, and flagged in ``tied``. Stadtteile whose
residents are counted inside a neighbour (population 0) are not ranked.

The default weights (:data:`DEFAULT_WEIGHTS`) are an assumption: poverty indicators carry most weight, as in
the Neckarvorstadt profile the city presented (seed 003); planners set their own under ``[area_index]``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quartiersim.data import INDICATOR_NAMES

#: weight per indicator (relative; normalised to sum 1). Assumption: poverty first (Bonuscard, Bürgergeld
#: under 25, net income), then migration, fluctuation and health, a little for old age.
DEFAULT_WEIGHTS: dict[str, float] = {
    "low_income_share": 0.25,
    "buergergeld_u25_share": 0.20,
    "net_income_index": 0.20,
    "migration_share": 0.10,
    "residence_under_5y_share": 0.10,
    "health_limitation_share": 0.10,
    "age_65plus_share": 0.05,
    "age_under_18_share": 0.0,
}
#: +1: more of it means more need; -1: less of it means more need
DIRECTION: dict[str, int] = {name: (-1 if name == "net_income_index" else 1) for name in INDICATOR_NAMES}


class AreaIndexSpec(BaseModel):
    """How the area index is computed (the ``[area_index]`` table of a scenario)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["ratio", "zscore"] = "ratio"
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @field_validator("weights")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in v if k not in INDICATOR_NAMES]
        if unknown:
            raise ValueError(f"indicator names out of {', '.join(INDICATOR_NAMES)}; unknown: {', '.join(unknown)}")
        if any(w < 0 or not np.isfinite(w) for w in v.values()):
            raise ValueError("weights >= 0")
        if sum(v.values()) <= 0:
            raise ValueError("at least one weight > 0")
        return {name: float(v.get(name, 0.0)) for name in INDICATOR_NAMES}


def area_index(indicators: pd.DataFrame, city: pd.DataFrame, stadtteile: pd.DataFrame,
               spec: AreaIndexSpec | None = None) -> pd.DataFrame:
    """Score and rank the Stadtteile.

    Args:
        indicators: per-Stadtteil indicators with ``<name>_fallback`` columns
            (:func:`quartiersim.data.load_indicators`).
        city: the city-wide values (:func:`quartiersim.data.load_city_indicators`).
        stadtteile: the Stadtteile table (population and ``counted_in``).
        spec: method and weights; the defaults if None.

    Returns:
        One row per Stadtteil, best-ranked first: ``rank`` (nullable int), ``number``, ``stadtteil``, ``bezirk``,
        ``population``, ``score``, ``contrib_<indicator>`` for each weighted indicator, ``observed_weight``,
        ``fallback_indicators`` and ``tied``.

    Raises:
        ValueError: for ``zscore`` when an indicator with weight has fewer than three observed Stadtteile.

    """
    spec = spec or AreaIndexSpec()
    weights = {k: w for k, w in spec.weights.items() if w > 0}
    total = sum(weights.values())
    frame = stadtteile[["number", "stadtteil", "bezirk", "population"]].merge(
        indicators.drop(columns=["stadtteil", "bezirk"]), on="number", how="left", validate="one_to_one")
    ranked = frame["population"].to_numpy() > 0
    pop = frame["population"].to_numpy(dtype=float)
    score = np.zeros(len(frame))
    observed = np.zeros(len(frame))
    out = frame[["number", "stadtteil", "bezirk", "population"]].copy()
    for name, w in weights.items():
        x = frame[name].to_numpy(dtype=float)
        fallback = frame[f"{name}_fallback"].to_numpy(dtype=bool)
        centre = float(city.loc[name, "value"])
        if spec.method == "ratio":
            scale = centre
        else:
            known = ~fallback & ranked
            if known.sum() < 3:
                raise ValueError(f"the zscore method needs per-Stadtteil values of {name} for at least 3 "
                                 f"Stadtteile, found {int(known.sum())}; use method \"ratio\"")
            mean = np.average(x[known], weights=pop[known])
            scale = float(np.sqrt(np.average((x[known] - mean) ** 2, weights=pop[known])))
            if scale <= 0:
                raise ValueError(f"the values of {name} do not vary across Stadtteile; give it weight 0")
        contrib = np.where(fallback, 0.0, (w / total) * DIRECTION[name] * (x - centre) / scale)
        out[f"contrib_{name}"] = contrib
        score += contrib
        observed += np.where(fallback, 0.0, w / total)
    out["score"] = score
    out["observed_weight"] = observed
    fallbacks = {n: frame[f"{n}_fallback"].to_numpy() for n in weights}  # by position: frame has a RangeIndex
    out["fallback_indicators"] = [", ".join(n for n in weights if fallbacks[n][k]) for k in range(len(frame))]
    order = np.lexsort((out["number"].to_numpy(), -pop, -np.where(ranked, score, -np.inf)))
    out = out.iloc[order].reset_index(drop=True)
    is_ranked = out["population"].to_numpy() > 0
    out.insert(0, "rank", pd.array(np.where(is_ranked, np.cumsum(is_ranked), 0), dtype="Int64"))
    out.loc[~is_ranked, "rank"] = pd.NA
    out["tied"] = is_ranked & out["score"].where(is_ranked).round(12).duplicated(keep=False).to_numpy()
    cols = ["rank", "number", "stadtteil", "bezirk", "population", "score"]
    cols += [f"contrib_{n}" for n in weights] + ["observed_weight", "fallback_indicators", "tied"]
    return out[cols]


def need_percentile(ranking: pd.DataFrame) -> dict[int, float]:
    """Each ranked Stadtteil's need as a share in [0, 1]: 1 for rank 1, 0 for the last rank (ties share)."""
    ranked = ranking[ranking["rank"].notna()]
    n = len(ranked)
    if n <= 1:
        return {int(k): 1.0 for k in ranked["number"]}
    # ties get the mean of their ranks' positions
    pos = ranked["score"].rank(method="average", ascending=False).to_numpy()
    return {int(k): float((n - p) / (n - 1)) for k, p in zip(ranked["number"], pos, strict=True)}
