"""The tidy results table: what is reported, how it is computed, and how periods are labelled.

The table has the columns ``date, stadtteil, indicator, group, value``: one row per reporting period,
Stadtteil (plus the total of all simulated Stadtteile under ``Stuttgart``), indicator and group. Resident
indicators come in every group; Stadtteil-level indicators (initiatives, role hours, cost) in group ``all``.
Values are in persons (agents weighted by the persons they stand for). Stocks (shares, ties, active
initiatives) are the values at the end of the period; flows (visits, drop-outs, hours, cost) are sums over
the period. ``date`` is the last day of the period (or the scenario's end). A share is NaN where its group
has nobody in the Stadtteil (for example the three Stadtteile counted inside a neighbour).
"""

from __future__ import annotations

import datetime as dt
from calendar import monthrange

import numpy as np
import pandas as pd

GROUPS: tuple[str, ...] = ("all", "migration", "no_migration", "low_income", "poor_health", "stille_gruppe",
                           "age_65plus", "health_very_good", "health_very_poor")
CITY = "Stuttgart"

#: resident indicators as (name, numerator quantity, denominator quantity or None, unit, meaning)
RESIDENT_INDICATORS: tuple[tuple[str, int, int | None, str, str], ...] = (
    ("lonely_share", 2, 1, "share of adults", "share of adults (18+) who are lonely"),
    ("lonely_adults", 2, None, "persons", "adults (18+) who are lonely"),
    ("ties_per_resident", 3, 0, "ties", "mean number of social ties"),
    ("bridging_tie_share", 4, 3, "share of ties", "share of ties that link residents with and without "
     "migration background"),
    ("meeting_place_visits", 5, None, "visits per period", "visits to meeting places in the period, in persons"),
    ("participation_share", 7, 6, "share aged 14+", "share of residents aged 14+ who took part in at least one "
     "activity in the quarter in the last 12 months (a meeting-place offer, an initiative's meeting, a role's "
     "event or health offer), as a survey would ask it"),
    ("volunteer_share", 8, 6, "share aged 14+", "share of residents aged 14+ volunteering"),
    ("offer_coverage", 9, 0, "share", "share who know of an open offer they can use (barrier-free if in poor "
     "health, low-threshold if in a stille Gruppe)"),
    ("aware_share", 10, 0, "share", "share of residents who know the local offers"),
    ("programme_reach_share", 11, 6, "share aged 14+", "share of residents aged 14+ whom a municipal role "
     "reached in the last 12 months (an outreach contact, or at a role's event or health offer)"),
    ("programme_participation_share", 12, 6, "share aged 14+", "share of residents aged 14+ who took part in a "
     "role's event or health offer in the last 12 months"),
    ("programme_known_share", 13, 6, "share aged 14+", "share of residents aged 14+ who know the municipal roles' "
     "work (contacted, at their activities, or told by someone who knows it), as a survey asking whether they "
     "know the Quartiersmanagement would count them"),
)
#: Stadtteil indicators as (name, unit, meaning)
STADTTEIL_INDICATORS: tuple[tuple[str, str, str], ...] = (
    ("active_initiatives", "initiatives", "initiatives active at the end of the period"),
    ("initiative_dropouts", "initiatives per period", "initiatives that dropped out in the period"),
    ("role_hours", "hours per period", "hours the municipal roles worked in the Stadtteil in the period"),
    ("cost_eur", "EUR per period", "cost of the municipal roles attributed to the Stadtteil in the period"),
    ("grants_eur", "EUR per period", "grants to initiatives in the Stadtteil in the period"),
    ("funded_initiatives", "initiatives", "active initiatives holding a grant at the end of the period"),
    ("hosted_initiatives", "initiatives", "active initiatives hosted by a meeting place at the end of the period"),
    ("outreach_contacts", "persons per period", "outreach contacts of the municipal roles with residents in the "
     "period"),
    ("role_event_attendances", "persons per period", "attendances at the roles' events and health offers in the "
     "period"),
    ("residents_moved", "persons per period", "residents who left the Stadtteil (moved away or died) in the "
     "period, each replaced by a newcomer"),
    ("pilot_cohort_initiatives", "initiatives", "active initiatives founded on or before the scenario's pilot_end "
     "(the cohort followed after the pilot's funding ends)"),
    ("pilot_cohort_dropouts", "initiatives per period", "initiatives founded on or before the scenario's pilot_end "
     "that dropped out in the period"),
)
INDICATORS: tuple[str, ...] = tuple(x[0] for x in RESIDENT_INDICATORS) + tuple(x[0] for x in STADTTEIL_INDICATORS)
#: indicators summed over a period (the others are stocks: the value at the period's end)
FLOWS: tuple[str, ...] = ("meeting_place_visits", "initiative_dropouts", "role_hours", "cost_eur", "grants_eur",
                          "outreach_contacts", "role_event_attendances", "residents_moved", "pilot_cohort_dropouts")
#: flows that count whole initiatives: sums of integers, the same whatever the reporting periods
COUNT_FLOWS: tuple[str, ...] = ("initiative_dropouts", "pilot_cohort_dropouts")
#: which direction is better for the city's goals (+1 more, -1 fewer); indicators not named have none
BETTER: dict[str, int] = {
    "lonely_share": -1, "lonely_adults": -1, "ties_per_resident": 1, "bridging_tie_share": 1,
    "meeting_place_visits": 1, "participation_share": 1, "volunteer_share": 1, "offer_coverage": 1,
    "aware_share": 1, "programme_reach_share": 1, "programme_participation_share": 1, "programme_known_share": 1,
    "active_initiatives": 1, "initiative_dropouts": -1, "hosted_initiatives": 1, "pilot_cohort_initiatives": 1,
    "pilot_cohort_dropouts": -1,
}
#: a plan search's objectives (:mod:`quartiersim.optimise`) and their direction: +1 more is better, -1 less
OBJECTIVE_DIRECTION: dict[str, int] = {"lonely_adults_fewer": 1, "active_initiatives_more": 1, "extra_cost_eur": -1,
                                       "equity_share": 1}


def stat_label(name: str, how: str, q: float) -> str:
    """The column of an objective's robust statistic over the draws, e.g. ``lonely_adults_fewer_q10``."""
    if how == "mean":
        return f"{name}_mean"
    if how == "quantile":
        return f"{name}_q{round(100 * (q if OBJECTIVE_DIRECTION[name] > 0 else 1 - q)):02d}"
    return f"{name}_regret"


#: short names for figures, tables and reports, for readers who never see the column names
LABELS: dict[str, str] = {
    "lonely_share": "Lonely adults (share)", "lonely_adults": "Lonely adults", "ties_per_resident": "Social ties",
    "bridging_tie_share": "Bridging ties (share)", "meeting_place_visits": "Meeting-place visits",
    "participation_share": "Residents taking part (14+)", "volunteer_share": "Volunteers (14+)",
    "offer_coverage": "Residents reached by an open offer", "active_initiatives": "Active initiatives",
    "initiative_dropouts": "Initiatives dropped out", "role_hours": "Hours of the municipal roles",
    "cost_eur": "Cost of the municipal roles", "grants_eur": "Grants to initiatives",
    "funded_initiatives": "Initiatives with a grant", "aware_share": "Residents who know the local offers",
    "programme_reach_share": "Residents reached by a role (14+)",
    "programme_participation_share": "Residents at a role's activities (14+)",
    "programme_known_share": "Residents who know the roles' work (14+)",
    "hosted_initiatives": "Initiatives hosted by a meeting place", "outreach_contacts": "Outreach contacts",
    "role_event_attendances": "Attendances at role activities", "residents_moved": "Residents who moved or died",
    "pilot_cohort_initiatives": "Initiatives from the pilot phase",
    "pilot_cohort_dropouts": "Pilot-phase initiatives dropped out",
}


def indicator_table() -> dict[str, dict[str, str]]:
    """Every indicator with its label, unit, meaning and kind (stock or flow): one table for files and reports.

    It goes into each results file (Parquet schema metadata and ``metadata.json``) so the values carry their
    units, and feeds the figures' axes and the evaluation report's glossary.
    """
    rows = [(name, unit, meaning) for name, _, _, unit, meaning in RESIDENT_INDICATORS] + list(STADTTEIL_INDICATORS)
    return {name: {"label": LABELS[name], "unit": unit, "meaning": meaning,
                   "kind": "flow (sum over the period)" if name in FLOWS else "stock (value at the period's end)"}
            for name, unit, meaning in rows}


def is_share(indicator: str) -> bool:
    """Whether an indicator is a share (0 to 1), to be shown in per cent."""
    return indicator_table()[indicator]["unit"].startswith("share")


COLUMNS = ("date", "stadtteil", "indicator", "group", "value")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


class Recorder:
    """Collects one block per reporting period and turns them into the tidy table.

    Args:
        stadtteile: names of the simulated Stadtteile in model order.
        interval: ``weekly``, ``monthly``, ``quarterly`` or ``yearly``.

    """

    CITY_REPORTERS: tuple[str, ...] = ("lonely_share", "ties_per_resident", "bridging_tie_share",
                                       "participation_share", "volunteer_share", "offer_coverage", "aware_share",
                                       "programme_reach_share", "active_initiatives")

    def __init__(self, stadtteile: list[str], interval: str):
        self.stadtteile = list(stadtteile)
        self.interval = interval
        self.dates: list[dt.date] = []
        self.blocks: list[np.ndarray] = []

    def period_end(self, date: dt.date, end: dt.date) -> dt.date:
        """Label of the period the week starting at ``date`` belongs to (its last day, at most ``end``)."""
        if self.interval == "weekly":
            label = date
        elif self.interval == "monthly":
            label = dt.date(date.year, date.month, monthrange(date.year, date.month)[1])
        elif self.interval == "quarterly":
            month = 3 * ((date.month - 1) // 3) + 3
            label = dt.date(date.year, month, monthrange(date.year, month)[1])
        else:
            label = dt.date(date.year, 12, 31)
        return min(label, end)

    def add(self, date: dt.date, stats: np.ndarray, *per_stadtteil: np.ndarray, stale: np.ndarray | None = None
            ) -> None:
        """Record one period: ``stats[s, g, q]`` from the stats kernel and per-Stadtteil flows and stocks.

        The per-Stadtteil arrays come in the order of :data:`STADTTEIL_INDICATORS`. Where ``stale[s]`` is true
        (a Stadtteil no longer simulated), its rows and the city's are NaN.
        """
        if len(per_stadtteil) != len(STADTTEIL_INDICATORS):
            raise ValueError(f"{len(STADTTEIL_INDICATORS)} per-Stadtteil arrays expected")
        n_st = stats.shape[0]
        full = np.concatenate([stats, stats.sum(axis=0, keepdims=True)], axis=0)  # + city total
        res = np.empty((n_st + 1, len(RESIDENT_INDICATORS), len(GROUPS)))
        for k, (_, num, den, _, _) in enumerate(RESIDENT_INDICATORS):
            res[:, k, :] = full[:, :, num] if den is None else _ratio(full[:, :, num], full[:, :, den])
        st_vals = np.stack(per_stadtteil, axis=1)
        st_vals = np.concatenate([st_vals, st_vals.sum(axis=0, keepdims=True)], axis=0)
        block = np.concatenate([res.reshape(n_st + 1, -1), st_vals], axis=1)
        if stale is not None and stale.any():
            block[np.flatnonzero(stale)] = np.nan
            block[-1] = np.nan
        self.dates.append(date)
        self.blocks.append(block)

    @staticmethod
    def city_values(stats: np.ndarray, active: np.ndarray) -> dict[str, float]:
        """City-wide values of the DataCollector's reporters."""
        tot = stats[:, 0, :].sum(axis=0)
        out = {}
        for name, num, den, _, _ in RESIDENT_INDICATORS:
            if name in Recorder.CITY_REPORTERS:
                out[name] = float(tot[num] / tot[den]) if den is not None and tot[den] > 0 else float("nan")
        out["active_initiatives"] = float(active.sum())
        return out

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (categorical columns for stadtteil, indicator and group)."""
        names = self.stadtteile + [CITY]
        n_rows_st = len(names)
        col_ind = [r[0] for r in RESIDENT_INDICATORS for _ in GROUPS] + [s[0] for s in STADTTEIL_INDICATORS]
        col_grp = [g for _ in RESIDENT_INDICATORS for g in GROUPS] + ["all"] * len(STADTTEIL_INDICATORS)
        n_cols = len(col_ind)
        n_periods = len(self.blocks)
        if n_periods == 0:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
                COLUMNS, ("datetime64[ns]", "category", "category", "category", "float64"), strict=True)})
        values = np.stack(self.blocks)  # (period, stadtteil, column)
        per_period = n_rows_st * n_cols
        frame = pd.DataFrame({
            "date": pd.to_datetime(np.repeat(np.array(self.dates, dtype="datetime64[D]"), per_period)),
            "stadtteil": pd.Categorical.from_codes(
                np.tile(np.repeat(np.arange(n_rows_st), n_cols), n_periods), categories=names),
            "indicator": pd.Categorical.from_codes(
                np.tile(np.array([INDICATORS.index(c) for c in col_ind]), n_periods * n_rows_st),
                categories=list(INDICATORS)),
            "group": pd.Categorical.from_codes(
                np.tile(np.array([GROUPS.index(g) for g in col_grp]), n_periods * n_rows_st),
                categories=list(GROUPS)),
            "value": values.reshape(-1),
        })
        return frame


#: the key columns of a yearly table
YEAR_KEYS = ["stadtteil", "indicator", "group", "year"]


def yearly(table: pd.DataFrame) -> pd.DataFrame:
    """A run's tidy table by calendar year: stocks at the year's last report, flows summed over the year."""
    t = table.assign(year=table["date"].dt.year)
    for col in ("stadtteil", "indicator", "group"):
        t[col] = t[col].astype(str)
    is_flow = t["indicator"].isin(FLOWS)
    last = t[~is_flow].sort_values("date").groupby(YEAR_KEYS, sort=False)["value"].last()
    summed = t[is_flow].groupby(YEAR_KEYS, sort=False)["value"].sum(min_count=1)
    return pd.concat([last, summed]).rename("value").reset_index()
