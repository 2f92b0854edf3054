"""Synthetic residents per Stadtteil, stored as a structure of arrays grouped by Stadtteil.

This module owns :class:`Residents` (the array-backed population, inspectable per resident) and
:func:`synthesise`, which draws it from the Stadtteile' populations and indicators:

* agents per Stadtteil: ``max(1, round(population * scale))`` for populated Stadtteile; every agent of
  Stadtteil s stands for ``population_s / agents_s`` persons (its weight), so outputs stay in persons;
* age: the Stadtteil's under-18 and 65+ shares; ages uniform within 0-17 and 18-64; 65 + an exponential
  with mean 11 years (capped at 100) above that, which gives the city's mean age of 42.3 with the city-wide
  shares;
* migration background, residence under 5 years: independent draws with the Stadtteil's shares;
* low income: the Stadtteil's low-income share; under-25s at least at its Bürgergeld-under-25 share;
* health limitation: the Stadtteil's share, spread over ages by a rising age profile rescaled to keep the
  share; limited residents rate their health fair, poor or very poor, others very good or good;
* stille Gruppen: a base chance raised for recent migrants, low income and poor health.

Draws use the run's ``population`` stream, so the same seed, Stadtteile and scale give the same residents
whatever the scenario's interventions.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

HEALTH_LEVELS = ("very good", "good", "fair", "poor", "very poor")
_AGE_PROFILE_EDGES = np.array([15, 30, 50, 65, 80])
_AGE_PROFILE = np.array([0.2, 0.4, 0.8, 1.3, 2.0, 3.0])


@dataclass
class Residents:
    """Residents as arrays; index ``i`` is one agent, grouped by Stadtteil (``st_off``).

    Attributes are fixed traits (age, migration, low_income, health, recent, stille, threshold) and state
    (lonely, aware, participating, volunteer, member_of, home_place, alt_place, visit_count, venue); ties live
    in ``tie_j``/``tie_w``/``tie_slot`` with ``deg`` counting them.
    """

    st_off: np.ndarray
    weight_s: np.ndarray
    stadtteil: np.ndarray
    age: np.ndarray
    migration: np.ndarray
    low_income: np.ndarray
    health: np.ndarray
    recent: np.ndarray
    stille: np.ndarray
    threshold: np.ndarray
    lonely: np.ndarray
    aware: np.ndarray
    participating: np.ndarray
    volunteer: np.ndarray
    member_of: np.ndarray
    home_place: np.ndarray
    alt_place: np.ndarray
    visit_count: np.ndarray
    venue: np.ndarray
    tie_j: np.ndarray
    tie_w: np.ndarray
    tie_slot: np.ndarray
    deg: np.ndarray

    _PER_RESIDENT = ("stadtteil", "age", "migration", "low_income", "health", "recent", "stille", "threshold",
                     "lonely", "aware", "participating", "volunteer", "member_of", "home_place", "visit_count",
                     "deg")

    def __len__(self) -> int:
        return int(self.st_off[-1])

    @property
    def weight(self) -> np.ndarray:
        """Persons each agent stands for (per resident)."""
        return self.weight_s[self.stadtteil]

    def __getitem__(self, i: int) -> dict:
        """One resident as a dict of its traits, state and ties (neighbour id and strength)."""
        if not 0 <= i < len(self):
            raise IndexError(f"resident {i} out of range 0..{len(self) - 1}")
        out = {name: getattr(self, name)[i].item() for name in self._PER_RESIDENT}
        out["weight"] = float(self.weight_s[self.stadtteil[i]])
        mask = self.tie_j[i] >= 0
        out["ties"] = list(zip(self.tie_j[i][mask].tolist(), self.tie_w[i][mask].round(4).tolist(), strict=True))
        return out

    def to_frame(self) -> pd.DataFrame:
        """All residents as a DataFrame (one row each, no ties)."""
        frame = pd.DataFrame({name: getattr(self, name) for name in self._PER_RESIDENT})
        frame["weight"] = self.weight
        return frame

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self))


def agents_per_stadtteil(population: np.ndarray, scale: float) -> np.ndarray:
    """Agents for each Stadtteil: ``max(1, round(pop * scale))`` where pop > 0, else 0."""
    n = np.rint(population * scale).astype(np.int64)
    n[(population > 0) & (n < 1)] = 1
    n[population <= 0] = 0
    return n


def synthesise(profile: pd.DataFrame, scale: float, params, rng: np.random.Generator, max_ties: int,
               city_migration_share: float) -> Residents:
    """Draw the residents of the Stadtteile in ``profile``.

    Args:
        profile: one row per Stadtteil in model order with ``population`` and every indicator column.
        scale: agents per resident (1.0 = one agent per resident).
        params: a :class:`~quartiersim.parameters.ParameterSet`.
        rng: the run's ``population`` generator.
        max_ties: tie slots per resident.
        city_migration_share: the city-wide migration share (sets the starting volunteer shares).

    Returns:
        The population, residents grouped by Stadtteil in profile order.

    """
    pop = profile["population"].to_numpy(dtype=np.float64)
    n_s = agents_per_stadtteil(pop, scale)
    st_off = np.zeros(len(n_s) + 1, dtype=np.int64)
    np.cumsum(n_s, out=st_off[1:])
    n = int(st_off[-1])
    weight_s = np.where(n_s > 0, pop / np.maximum(n_s, 1), 0.0)
    st = np.repeat(np.arange(len(n_s), dtype=np.int32), n_s)

    def per(col: str) -> np.ndarray:
        return profile[col].to_numpy(dtype=np.float64)[st]

    # age
    u18, o65 = per("age_under_18_share"), per("age_65plus_share")
    band = rng.random(n)
    age = np.where(band < u18, rng.integers(0, 18, n),
                   np.where(band < u18 + o65, 65 + np.minimum(rng.exponential(11.0, n).astype(np.int64), 35),
                            rng.integers(18, 65, n)))
    age = age.astype(np.uint8)
    migration = (rng.random(n) < per("migration_share")).astype(np.uint8)
    recent = (rng.random(n) < per("residence_under_5y_share")).astype(np.uint8)
    p_low = per("low_income_share")
    p_low = np.where(age < 25, np.maximum(p_low, per("buergergeld_u25_share")), p_low)
    low_income = (rng.random(n) < p_low).astype(np.uint8)
    # health: limitation share spread over ages, rescaled per Stadtteil to keep the share
    prof = _AGE_PROFILE[np.searchsorted(_AGE_PROFILE_EDGES, age, side="right")]
    mean_prof = np.bincount(st, weights=prof, minlength=len(n_s)) / np.maximum(n_s, 1)
    p_lim = np.clip(per("health_limitation_share") * prof / mean_prof[st], 0.0, 1.0)
    limited = rng.random(n) < p_lim
    u = rng.random(n)
    vg, poor, very_poor = params.health_very_good_share, params.health_poor_share, params.health_very_poor_share
    health = np.where(limited,
                      np.where(u < very_poor, 4, np.where(u < very_poor + poor, 3, 2)),
                      np.where(u < vg, 0, 1)).astype(np.uint8)
    # stille Gruppen
    p_stille = np.full(n, params.stille_base)
    p_stille = np.where((migration == 1) & (recent == 1), p_stille * params.stille_rr_recent_migrant, p_stille)
    p_stille = np.where(low_income == 1, p_stille * params.stille_rr_low_income, p_stille)
    p_stille = np.where(health >= 3, p_stille * params.stille_rr_poor_health, p_stille)
    stille = (rng.random(n) < np.minimum(p_stille, 1.0)).astype(np.uint8)
    # thresholds (Granovetter), starting awareness, participation and volunteering
    threshold = params.threshold_min + (1.0 - params.threshold_min) * rng.random(n)
    threshold = np.minimum(threshold + params.stille_threshold_shift * stille, 1.0).astype(np.float32)
    p_aware = params.awareness_initial * np.where(stille == 1, params.awareness_stille_factor, 1.0)
    aware = (rng.random(n) < p_aware).astype(np.uint8)
    participating = ((aware == 1) & (age >= 14) & (rng.random(n) < params.participation_initial)).astype(np.uint8)
    p_vol_no, p_vol_mig = volunteer_start_shares(params, city_migration_share)
    p_vol = np.where(migration == 1, p_vol_mig, p_vol_no)
    volunteer = ((age >= 14) & (rng.random(n) < p_vol)).astype(np.uint8)
    return Residents(
        st_off=st_off, weight_s=weight_s, stadtteil=st, age=age, migration=migration, low_income=low_income,
        health=health, recent=recent, stille=stille, threshold=threshold,
        lonely=np.zeros(n, dtype=np.uint8), aware=aware, participating=participating, volunteer=volunteer,
        member_of=np.full(n, -1, dtype=np.int32), home_place=np.full(n, -1, dtype=np.int32),
        alt_place=np.full(n, -1, dtype=np.int32), visit_count=np.zeros(n, dtype=np.uint16),
        venue=np.full(n, -1, dtype=np.int32),
        tie_j=np.full((n, max_ties), -1, dtype=np.int32), tie_w=np.zeros((n, max_ties), dtype=np.float32),
        tie_slot=np.full((n, max_ties), -1, dtype=np.int8), deg=np.zeros(n, dtype=np.int16),
    )


def volunteer_start_shares(params, migration_share: float) -> tuple[float, float]:
    """Starting volunteer shares without and with migration background.

    They keep the ratio ``volunteer_migration_ratio`` between the groups and give ``volunteer_initial``
    overall at the city-wide ``migration_share``.
    """
    ratio = params.volunteer_migration_ratio
    p_no = params.volunteer_initial / ((1.0 - migration_share) + migration_share * ratio)
    return min(p_no, 1.0), min(p_no * ratio, 1.0)
