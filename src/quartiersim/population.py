"""Synthetic residents per Stadtteil, and the tables that keep the population stationary as it ages and moves.

This module owns :class:`Residents` (the array-backed population, inspectable per resident) and the
per-Stadtteil tables of :class:`~quartiersim.kernels.state.Demog`:

* **age structure** (:func:`age_distribution`): the Stadtteil's under-18 and 65+ shares; ages 0-17 and 18-64
  uniform, 65-100 falling by a factor e every 11 years (with the city-wide shares this gives the city's mean
  age of about 42, seed 003);
* **moving** (:func:`moving_rate`): a yearly hazard set so that the Stadtteil's share of residents living
  there for under 5 years comes out as its indicator says, births and deaths included (without them it would
  be ``-ln(1 - share) / 5``);
* **who leaves and who arrives** (:func:`demography_tables`): in each year of age a resident leaves (moves
  away or dies) with the larger of the moving chance and the chance that keeps the age structure as it is
  (mortality in old age), and newcomers arrive with the ages that replace them: births at age 0 and movers at
  every age, ``I(a) = N(a) - N(a-1) (1 - q(a-1))``. A Stadtteil whose residents age a year, leave and are
  replaced this way keeps its age structure, in expectation, for ever;
* **traits** (:func:`quartiersim.kernels.core.set_traits`): migration background with the Stadtteil's share;
  low income, health, stille Gruppen and threshold from latent quantiles that stay fixed while the resident
  ages, so each trait follows the profile for the resident's current age.

The starting population is drawn by the kernel :func:`quartiersim.kernels.core.synthesise` from the run's
``population`` stream, so the same seed, Stadtteile and scale give the same residents whatever the scenario's
interventions.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from quartiersim.kernels.state import NEVER, Demog, Pop, Ties, TraitPrm

HEALTH_LEVELS = ("very good", "good", "fair", "poor", "very poor")
AGE_PROFILE_EDGES = np.array([15, 30, 50, 65, 80], dtype=np.int64)
AGE_PROFILE = np.array([0.2, 0.4, 0.8, 1.3, 2.0, 3.0])  # relative health limitation by age band (RKI 2017 shape)
OLD_AGE_SCALE = 11.0  # years over which the number of residents above 65 falls by a factor e
MAX_AGE = 100


def age_distribution(under_18: float, over_65: float) -> np.ndarray:
    """Share of residents at each age 0..100: uniform below 18 and from 18 to 64, falling above 65."""
    n = np.zeros(MAX_AGE + 1)
    n[:18] = under_18 / 18.0
    n[18:65] = max(1.0 - under_18 - over_65, 0.0) / 47.0
    old = np.exp(-(np.arange(65, MAX_AGE + 1) - 65) / OLD_AGE_SCALE)
    n[65:] = over_65 * old / old.sum()
    return n / n.sum()


def recent_share(stock: np.ndarray, rate: float) -> float:
    """Share of residents living in the Stadtteil for under 5 years, with moving hazard ``rate``.

    In the stationary population of :func:`exit_and_entry`, of the residents aged ``a`` (5 or older) those who
    were there 5 years ago are the survivors of ``N(a - 5)``; everybody younger than 5 arrived (or was born)
    within 5 years.
    """
    q, _ = exit_and_entry(stock, rate)
    with np.errstate(divide="ignore"):
        log_keep = np.concatenate([[0.0], np.cumsum(np.log1p(-q[:-1]))])  # log of staying through ages 0..a-1
    a = np.arange(5, len(stock))
    stay = float((stock[a - 5] * np.exp(log_keep[a] - log_keep[a - 5])).sum())
    return 1.0 - stay / float(stock.sum())


def moving_rate(residence_under_5y_share: float, stock: np.ndarray) -> float:
    """Yearly moving hazard that gives ``share`` of residents living in the Stadtteil for under 5 years.

    Births, and deaths in old age, bring some turnover of their own, so the hazard is found by bisection
    (:func:`recent_share`); it is 0 when that turnover alone reaches the share.
    """
    return _moving_rate(float(residence_under_5y_share), tuple(np.round(stock, 15)))


@functools.lru_cache(maxsize=256)
def _moving_rate(residence_under_5y_share: float, stock_key: tuple[float, ...]) -> float:
    # most Stadtteile share the city-wide profile, so each distinct one is solved once per process
    stock = np.array(stock_key)
    share = min(max(residence_under_5y_share, 0.0), 0.99)
    low, high = 0.0, 5.0
    if recent_share(stock, low) >= share:
        return 0.0
    for _ in range(50):
        mid = 0.5 * (low + high)
        if recent_share(stock, mid) < share:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def exit_and_entry(stock: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Yearly chance of leaving at each age, and the age distribution of newcomers, for a stationary stock.

    ``q(a) = max(1 - exp(-rate), 1 - N(a + 1) / N(a))`` (at 100 everybody leaves), and newcomers
    ``I(0) = N(0)``, ``I(a) = N(a) - N(a - 1) (1 - q(a - 1))``, which is never negative by the choice of ``q``.
    """
    q = np.full(len(stock), 1.0 - math.exp(-rate))
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(stock[:-1] > 0, stock[1:] / stock[:-1], 1.0)
    q[:-1] = np.maximum(q[:-1], 1.0 - np.minimum(keep, 1.0))
    q[-1] = 1.0
    entry = np.empty(len(stock))
    entry[0] = stock[0]
    entry[1:] = stock[1:] - stock[:-1] * (1.0 - q[:-1])
    entry = np.maximum(entry, 0.0)
    return q, entry / entry.sum()


#: the profile's columns the demography tables are made from
_TABLE_COLUMNS = ("age_under_18_share", "age_65plus_share", "residence_under_5y_share", "health_limitation_share",
                  "migration_share", "low_income_share", "buergergeld_u25_share")


def demography_tables(profile: pd.DataFrame) -> Demog:
    """The per-Stadtteil tables of ageing, moving and newcomers, from the profile's indicator columns.

    The tables depend on those columns only, so a process that builds many models of the same Stadtteile (a
    calibration's worker) computes them once; each model gets its own copies.
    """
    columns = np.column_stack([profile[name].to_numpy(dtype=np.float64) for name in _TABLE_COLUMNS])
    tables = _demography_tables(columns.tobytes(), len(profile))
    return Demog(*(np.array(a, copy=True) for a in tables))


@functools.lru_cache(maxsize=8)
def _demography_tables(columns_bytes: bytes, n_st: int) -> Demog:
    columns = np.frombuffer(columns_bytes, dtype=np.float64).reshape(n_st, len(_TABLE_COLUMNS))
    exit_prob = np.zeros((n_st, MAX_AGE + 1))
    exit_year = np.zeros((n_st, MAX_AGE + 1))
    entry_cdf = np.zeros((n_st, MAX_AGE + 1))
    stocks = np.zeros((n_st, MAX_AGE + 1))
    stock_cdf = np.zeros((n_st, MAX_AGE + 1))
    move = np.zeros(n_st)
    lim_coef = np.zeros(n_st)
    limitation_by_age = AGE_PROFILE[np.searchsorted(AGE_PROFILE_EDGES, np.arange(MAX_AGE + 1), side="right")]
    for s, (under_18, over_65, recent, limited, *_) in enumerate(columns.tolist()):
        stock = age_distribution(under_18, over_65)
        move[s] = moving_rate(recent, stock)
        q, entry = exit_and_entry(stock, move[s])
        exit_year[s] = q
        stocks[s] = stock
        exit_prob[s] = 1.0 - (1.0 - q) ** (1.0 / 52.0)  # the yearly chance spread over 52 weeks
        exit_prob[s, -1] = 1.0
        entry_cdf[s] = np.cumsum(entry)
        stock_cdf[s] = np.cumsum(stock)
        entry_cdf[s, -1] = stock_cdf[s, -1] = 1.0
        lim_coef[s] = limited / float((stock * limitation_by_age).sum())
    col = {name: columns[:, k] for k, name in enumerate(_TABLE_COLUMNS)}
    return Demog(exit_prob, entry_cdf, stocks, stock_cdf, exit_year, move, col["migration_share"],
                 col["low_income_share"], col["buergergeld_u25_share"], lim_coef)


def trait_parameters(params, city_migration_share: float) -> TraitPrm:
    """The trait rules' parameters (:class:`~quartiersim.kernels.state.TraitPrm`) from a ParameterSet."""
    p_no, p_mig = volunteer_start_shares(params, city_migration_share)
    return TraitPrm(AGE_PROFILE_EDGES, AGE_PROFILE, float(params.health_very_good_share),
                    float(params.health_poor_share), float(params.health_very_poor_share), float(params.stille_base),
                    float(params.stille_rr_recent_migrant), float(params.stille_rr_low_income),
                    float(params.stille_rr_poor_health), float(params.threshold_min),
                    float(params.stille_threshold_shift), float(params.awareness_initial),
                    float(params.awareness_stille_factor), float(params.participation_initial), p_no, p_mig)


def volunteer_start_shares(params, migration_share: float) -> tuple[float, float]:
    """Volunteering shares aged 14+ without and with migration background.

    They keep the ratio ``volunteer_migration_ratio`` between the groups and give ``volunteer_initial``
    overall at the city-wide ``migration_share``.
    """
    ratio = params.volunteer_migration_ratio
    p_no = params.volunteer_initial / ((1.0 - migration_share) + migration_share * ratio)
    return min(p_no, 1.0), min(p_no * ratio, 1.0)


def agents_per_stadtteil(population: np.ndarray, scale: float) -> np.ndarray:
    """Agents for each Stadtteil: ``max(1, round(pop * scale))`` where pop > 0, else 0."""
    n = np.rint(population * scale).astype(np.int64)
    n[(population > 0) & (n < 1)] = 1
    n[population <= 0] = 0
    return n


def allocate(population: np.ndarray, scale: float, max_ties: int) -> Residents:
    """Empty arrays for the agents of each Stadtteil (filled by the synthesis kernel)."""
    n_s = agents_per_stadtteil(population, scale)
    st_off = np.zeros(len(n_s) + 1, dtype=np.int64)
    np.cumsum(n_s, out=st_off[1:])
    n = int(st_off[-1])
    weight_s = np.where(n_s > 0, population / np.maximum(n_s, 1), 0.0)
    u8 = lambda: np.zeros(n, dtype=np.uint8)  # noqa: E731
    i32 = lambda fill: np.full(n, fill, dtype=np.int32)  # noqa: E731
    f32 = lambda: np.zeros(n, dtype=np.float32)  # noqa: E731
    pop = Pop(st_off=st_off, weight_s=weight_s, age=u8(), birthday=u8(), arrived=i32(0), mig=u8(), inc=u8(),
              health=u8(), stille=u8(), threshold=f32(), u_income=f32(), u_health=f32(), u_stille=f32(),
              u_threshold=f32(), aware=u8(), aware_new=u8(), lonely=u8(), lonely_new=u8(), ready=u8(),
              ready_new=u8(), volunteer=u8(), member_of=i32(-1), home_place=i32(-1), venue=i32(-1),
              visit_count=np.zeros(n, dtype=np.uint16), last_active=i32(NEVER), last_contact=i32(NEVER),
              last_role=i32(NEVER), last_health=i32(NEVER), knows_role=u8(), knows_new=u8(), order=i32(0))
    ties = Ties(np.full((n, max_ties), -1, dtype=np.int32), np.zeros((n, max_ties), dtype=np.float32),
                np.full((n, max_ties), -1, dtype=np.int8), np.zeros(n, dtype=np.int16))
    return Residents(pop, ties, np.repeat(np.arange(len(n_s), dtype=np.int32), n_s))


class Residents:
    """The residents as arrays; index ``i`` is one agent, grouped by Stadtteil (``st_off``).

    Holds the kernels' bundles :attr:`pop` (traits and state) and :attr:`ties`, and reads their fields as
    attributes (``residents.age``, ``residents.lonely``, ``residents.deg``, ...; ``migration``, ``low_income``,
    ``tie_j`` and ``tie_w`` are the planners' names of ``mig``, ``inc``, ``ties.j`` and ``ties.w``).
    ``residents[i]`` gives one resident as a dict; ``recent`` (under 5 years in the Stadtteil) and ``active``
    (took part in an activity in the last 12 months) are computed for the model's current week.
    """

    _ALIASES = {"migration": "mig", "low_income": "inc"}
    _TIES = {"tie_j": "j", "tie_w": "w", "tie_slot": "slot", "deg": "deg"}
    _PER_RESIDENT = ("stadtteil", "age", "migration", "low_income", "health", "recent", "stille", "threshold",
                     "arrived", "lonely", "aware", "ready", "active", "volunteer", "member_of", "home_place",
                     "visit_count", "last_active", "last_contact", "last_role", "knows_role", "deg")

    def __init__(self, pop: Pop, ties: Ties, stadtteil: np.ndarray, week: int = 0):
        self.pop = pop
        self.ties = ties
        self.stadtteil = stadtteil
        self.week = week  # the model's current week (the model keeps it up to date)

    @property
    def recent(self) -> np.ndarray:
        """Whether each resident has lived in its Stadtteil for under 5 years."""
        return (self.week - self.pop.arrived < 5 * 52).astype(np.uint8)

    @property
    def active(self) -> np.ndarray:
        """Whether each resident took part in an activity in the quarter in the last 12 months."""
        return (self.week - self.pop.last_active < 52).astype(np.uint8)

    def __getattr__(self, name: str) -> np.ndarray:
        if name in Residents._TIES:
            return getattr(self.ties, Residents._TIES[name])
        field = Residents._ALIASES.get(name, name)
        if field in Pop._fields:
            return getattr(self.pop, field)
        raise AttributeError(name)

    def __len__(self) -> int:
        return int(self.pop.st_off[-1])

    @property
    def weight(self) -> np.ndarray:
        """Persons each agent stands for (per resident)."""
        return self.pop.weight_s[self.stadtteil]

    def __getitem__(self, i: int) -> dict:
        """One resident as a dict of its traits, state and ties (neighbour id and strength)."""
        if not 0 <= i < len(self):
            raise IndexError(f"resident {i} out of range 0..{len(self) - 1}")
        out = {name: getattr(self, name)[i].item() for name in self._PER_RESIDENT}
        out["weight"] = float(self.pop.weight_s[self.stadtteil[i]])
        d = int(self.ties.deg[i])
        out["ties"] = list(zip(self.ties.j[i, :d].tolist(), self.ties.w[i, :d].round(4).tolist(), strict=True))
        return out

    def to_frame(self) -> pd.DataFrame:
        """All residents as a DataFrame (one row each, no ties)."""
        frame = pd.DataFrame({name: getattr(self, name) for name in self._PER_RESIDENT})
        frame["weight"] = self.weight
        return frame

    def nbytes(self) -> int:
        """Memory held by the arrays."""
        arrays = [x for x in (*self.pop, *self.ties, self.stadtteil) if isinstance(x, np.ndarray)]
        return sum(a.nbytes for a in arrays)
