"""The city's strategies, turned into dated roles: Verstetigung after a funded term, and Phase 3 allocation.

A scenario states strategies; :func:`plan` turns them into the concrete list of roles the model runs (each
with its start, end, and dated changes of posts, tasks, cost and Quartierstreff). The plan is saved with
every run, so what a strategy meant in a run can be read without the code.

Verstetigung (the ``[verstetigung]`` table), applied to every role with ``verstetigung = true`` whose funded
term ends before the run does, and to every role an allocation creates when its term ends:

``funding_ends``
    The role ends on its end date; its Quartierstreff closes.
``meeting_places``
    Stadtteilhäuser, family centres and Begegnungsstätten take over coordination: from the day after the end,
    ``takeover_fte_share`` of the role's posts continue, paid at ``takeover_pay_grade``, spent on networking
    (40 %), events (40 %) and advice (20 %), with no outreach to stille Gruppen and no Quartierstreff of its
    own: the meeting places host, so initiatives hosted at the closing Quartierstreff move to a regular meeting
    place of their Stadtteil (``rehost``). Until the run ends.
``permanent_posts``
    The intermediary roles become permanent posts: the role continues unchanged until the run ends.
``welfare_handover``
    A welfare organisation takes over with project funding: after ``handover_gap_weeks`` without anyone, the
    role continues with ``handover_fte_share`` of its posts and the same tasks and Quartierstreff for
    ``project_years``, then ends.
``self_organisation``
    Residents organise themselves with tapering coaching: coaching posts start at ``coaching_start_share`` of
    the role's posts, spent on advice (60 %) and networking (40 %), and fall in equal quarterly steps to zero
    over ``taper_years``; no Quartierstreff.

City-wide roles (``stadtteile = "all"``, such as Sozialplanung) continue only under ``permanent_posts``; the
other strategies concern the intermediary work in the quarters.

Allocation (the ``[allocation]`` table) orders the eligible Stadtteile and, from ``start``, gives up to
``new_stadtteile_per_year`` of them a team (``[[allocation.team]]``) each year for ``years_per_area`` years,
as long as the teams at work fit the yearly budget and the number of posts:

``needs_based``: by the area index, highest need first.
``equal_per_bezirk``: Bezirke take turns (the Bezirk with the neediest Stadtteil first), each giving its
    neediest Stadtteil not yet served, so every Bezirk gets the same number of areas, budget permitting.
``expression_of_interest``: only Stadtteile of the Bezirke listed in ``bezirke`` (those that expressed
    interest), ranked by the index.
``pilot_only``: only the Stadtteile listed in ``stadtteile`` (the pilot quarters), all from ``start``.
``none``: no new areas.

Eligible are the ranked Stadtteile (those with residents of their own); with ``exclude_served`` (the default)
also not those a scenario role with a Stadtteil list still serves on the allocation's start date. Costs of
Verstetigung after a team's term are outside the allocation budget and show up in the run's ``cost_eur``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quartiersim.data import load_pay_grades, select_bezirke, select_stadtteile
from quartiersim.spec import (
    DEFAULT_PAY_GRADES,
    ROLE_LABELS,
    AllocationSpec,
    RoleSpec,
    Scenario,
    TeamRole,
    VerstetigungSpec,
    shares_of,
)

ONE_DAY = dt.timedelta(days=1)
TAKEOVER_TASKS = {"networking": 0.4, "events": 0.4, "advice": 0.2}
COACHING_TASKS = {"advice": 0.6, "networking": 0.4}


def annual_cost_per_fte(pay_grade: str, cost_per_fte_eur: float | None = None) -> float:
    """Yearly employer cost of one post: the explicit cost if given, else the pay-grade table's."""
    if cost_per_fte_eur is not None:
        return float(cost_per_fte_eur)
    return _annual_costs()[pay_grade]


@functools.cache
def _annual_costs() -> dict[str, float]:
    """The bundled pay-grade table's yearly cost per post, read once per process."""
    return {grade: float(v) for grade, v in load_pay_grades()["annual_cost_eur"].items()}


@dataclass
class Plan:
    """The roles a scenario's strategies produce, and the project areas its allocation chose.

    Attributes:
        roles: every role of the run, after Verstetigung and allocation.
        areas: one row per allocated project area (number, stadtteil, bezirk, rank, start, end, posts, cost).
        ranking: the area index ranking used (:func:`quartiersim.areas.area_index`).

    """

    roles: list[RoleSpec]
    areas: pd.DataFrame
    ranking: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def as_records(self) -> dict[str, Any]:
        """Plain data for metadata.json."""
        return {
            "roles": [r.model_dump(mode="json") for r in self.roles],
            "areas": self.areas.astype({"start": str, "end": str}).to_dict(orient="records"),
        }


@dataclass(frozen=True)
class RoleState:
    """What a role does from a date on: posts, task shares, yearly cost of one post, Quartierstreff open."""

    date: dt.date
    fte: float
    shares: dict[str, float]
    cost_per_fte: float
    quartierstreff: bool
    note: str = ""
    rehost: bool = False


def role_states(spec: RoleSpec) -> list[RoleState]:
    """The role's states in date order: the start, then one per dated change (fields not given carry over)."""
    grade, cost, tasks = spec.grade, spec.cost_per_fte_eur, spec.tasks
    state = RoleState(spec.start, spec.fte, shares_of(spec.kind, tasks), annual_cost_per_fte(grade, cost),
                      spec.quartierstreff)
    states = [state]
    for change in spec.changes:
        if change.pay_grade is not None or change.cost_per_fte_eur is not None:
            grade = change.pay_grade or grade
            cost = change.cost_per_fte_eur
        tasks = change.tasks if change.tasks is not None else tasks
        state = RoleState(change.date, state.fte if change.fte is None else change.fte, shares_of(spec.kind, tasks),
                          annual_cost_per_fte(grade, cost),
                          state.quartierstreff if change.quartierstreff is None else change.quartierstreff,
                          change.note, state.rehost if change.rehost is None else change.rehost)
        if states[-1].date == state.date:
            states[-1] = state
        else:
            states.append(state)
    return states


def apply_verstetigung(role: RoleSpec, spec: VerstetigungSpec, run_end: dt.date) -> RoleSpec:
    """The role as the Verstetigung strategy continues it after its end (unchanged where nothing follows)."""
    if not role.verstetigung or role.end >= run_end or spec.strategy == "funding_ends":
        return role
    citywide = role.stadtteile == "all"
    last = role_states(role)[-1]
    after = role.end + ONE_DAY
    data = role.model_dump()
    changes = list(data["changes"])
    if spec.strategy == "permanent_posts":
        changes.append({"date": after, "note": "permanent post"})
        end = run_end
    elif citywide:
        return role
    elif spec.strategy == "meeting_places":
        changes.append({"date": after, "fte": last.fte * spec.takeover_fte_share, "tasks": TAKEOVER_TASKS,
                        "pay_grade": spec.takeover_pay_grade, "cost_per_fte_eur": None, "quartierstreff": False,
                        "rehost": True,
                        "note": "meeting places take over coordination"})
        end = run_end
    elif spec.strategy == "welfare_handover":
        changes.append({"date": after, "fte": 0.0, "quartierstreff": False, "note": "hand-over gap"})
        begin = after + dt.timedelta(weeks=spec.handover_gap_weeks)
        if begin <= run_end:
            changes.append({"date": begin, "fte": last.fte * spec.handover_fte_share,
                            "quartierstreff": last.quartierstreff,
                            "note": "welfare organisation with project funding"})
        end = min(run_end, later(begin, spec.project_years) - ONE_DAY)
    else:  # self_organisation
        steps = max(1, math.ceil(spec.taper_years * 4))
        for k in range(steps):
            date = after + dt.timedelta(days=round(365.25 * spec.taper_years * k / steps))
            if date > run_end:
                break
            changes.append({"date": date, "fte": last.fte * spec.coaching_start_share * (1 - k / steps),
                            "tasks": COACHING_TASKS, "quartierstreff": False,
                            "note": f"coaching for self-organisation, step {k + 1} of {steps}"})
        end = min(run_end, later(after, spec.taper_years) - ONE_DAY)
    changes = [c for c in changes if c["date"] <= end]
    data.update(end=max(end, role.end), changes=changes)
    return RoleSpec(**data)


def plan(scenario: Scenario, stadtteile: pd.DataFrame, ranking: pd.DataFrame,
         simulated: Sequence[int] | None = None) -> Plan:
    """The roles of a run: the scenario's roles with Verstetigung, plus the teams of its allocation.

    Args:
        scenario: the scenario.
        stadtteile: the Stadtteile table (names, Bezirke).
        ranking: the area index ranking (:func:`quartiersim.areas.area_index`).
        simulated: numbers of the Stadtteile the run simulates; an allocation chooses only among them.

    Raises:
        InputError: an allocation naming an unknown Bezirk or Stadtteil.

    """
    run_end = scenario.end
    roles = [apply_verstetigung(r, scenario.verstetigung, run_end) for r in scenario.roles]
    areas = _empty_areas()
    alloc = scenario.allocation
    if alloc is not None and alloc.strategy != "none":
        eligible = ranking if simulated is None else ranking[ranking["number"].isin(list(simulated))]
        queue = _queue(alloc, scenario, stadtteile, eligible, roles)
        areas = _waves(alloc, queue, run_end)
        for _, area in areas.iterrows():
            for member in alloc.team:
                team_role = _team_role(member, area)
                roles.append(apply_verstetigung(team_role, scenario.verstetigung, run_end))
    return Plan(roles=roles, areas=areas, ranking=ranking)


def _empty_areas() -> pd.DataFrame:
    return pd.DataFrame({"number": pd.Series(dtype="int64"), "stadtteil": pd.Series(dtype=str),
                         "bezirk": pd.Series(dtype=str), "rank": pd.Series(dtype="Int64"),
                         "start": pd.Series(dtype=object), "end": pd.Series(dtype=object),
                         "posts": pd.Series(dtype=float), "cost_eur_per_year": pd.Series(dtype=float)})


def _queue(alloc: AllocationSpec, scenario: Scenario, stadtteile: pd.DataFrame, ranking: pd.DataFrame,
           roles: list[RoleSpec]) -> pd.DataFrame:
    """The eligible Stadtteile in the order the strategy takes them."""
    source = scenario.origin
    ranked = ranking[ranking["rank"].notna()].sort_values("rank")
    if alloc.exclude_served:
        served: set[int] = set()
        for role in roles:
            if role.stadtteile != "all" and role.end >= alloc.start:
                rows = select_stadtteile(stadtteile, role.stadtteile, source=source,
                                         field=f"roles ('{role.name}').stadtteile")
                served.update(int(n) for n in stadtteile["number"].iloc[rows])
        if alloc.strategy != "pilot_only":
            ranked = ranked[~ranked["number"].isin(served)]
    if alloc.strategy == "needs_based":
        return ranked
    if alloc.strategy == "pilot_only":
        rows = select_stadtteile(stadtteile, alloc.stadtteile, source=source, field="allocation.stadtteile")
        return ranked[ranked["number"].isin(stadtteile["number"].iloc[rows])]
    if alloc.strategy == "expression_of_interest":
        chosen = select_bezirke(stadtteile, alloc.bezirke, source, "allocation.bezirke")
        return ranked[ranked["bezirk"].isin(chosen)]
    # equal_per_bezirk: Bezirke take turns, neediest Bezirk first, each giving its neediest Stadtteil
    per_bezirk = [group for _, group in ranked.groupby("bezirk", sort=False)]
    per_bezirk.sort(key=lambda g: (int(g["rank"].iloc[0]), g["bezirk"].iloc[0]))
    order = []
    depth = max((len(g) for g in per_bezirk), default=0)
    for k in range(depth):
        order += [g.iloc[k] for g in per_bezirk if k < len(g)]
    return pd.DataFrame(order).reset_index(drop=True) if order else ranked.iloc[:0]


def _waves(alloc: AllocationSpec, queue: pd.DataFrame, run_end: dt.date) -> pd.DataFrame:
    """Start dates of the areas: each year up to the yearly number, while the teams at work fit the budget."""
    team_cost = sum(m.fte * annual_cost_per_fte(m.pay_grade or DEFAULT_PAY_GRADES[m.kind], m.cost_per_fte_eur)
                    for m in alloc.team)
    team_posts = sum(m.fte for m in alloc.team)
    per_year = len(queue) if alloc.strategy == "pilot_only" else alloc.new_stadtteile_per_year
    rows: list[dict[str, Any]] = []
    queue = queue.reset_index(drop=True)
    nxt = 0
    year = 0
    while nxt < len(queue):
        date = add_years(alloc.start, year)
        if date > run_end:
            break
        at_work = [r for r in rows if r["start"] <= date <= r["end"]]
        cost = sum(r["cost_eur_per_year"] for r in at_work)
        posts = sum(r["posts"] for r in at_work)
        added = 0
        while added < per_year and nxt < len(queue):
            if cost + team_cost > alloc.budget_eur_per_year + 1e-6:
                break
            if alloc.max_posts is not None and posts + team_posts > alloc.max_posts + 1e-9:
                break
            row = queue.iloc[nxt]
            rows.append({"number": int(row["number"]), "stadtteil": row["stadtteil"], "bezirk": row["bezirk"],
                         "rank": int(row["rank"]), "start": date,
                         "end": min(run_end, later(date, alloc.years_per_area) - ONE_DAY),
                         "posts": team_posts, "cost_eur_per_year": team_cost})
            cost += team_cost
            posts += team_posts
            nxt += 1
            added += 1
        year += 1
    return pd.DataFrame(rows) if rows else _empty_areas()


def _team_role(member: TeamRole, area: pd.Series) -> RoleSpec:
    return RoleSpec(name=f"{ROLE_LABELS[member.kind]} {area['stadtteil']} (project area from "
                    f"{area['start']:%Y})", kind=member.kind, fte=member.fte, stadtteile=[int(area["number"])],
                    start=area["start"], end=area["end"], tasks=member.tasks, pay_grade=member.pay_grade,
                    cost_per_fte_eur=member.cost_per_fte_eur, quartierstreff=member.quartierstreff)


def later(date: dt.date, years: float) -> dt.date:
    """``years`` after ``date``: calendar years when whole, else 365.25 days a year."""
    if float(years).is_integer():
        return add_years(date, int(years))
    return date + dt.timedelta(days=round(365.25 * years))


def add_years(date: dt.date, years: int) -> dt.date:
    """The same day ``years`` later (28 February for 29 February in a common year)."""
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February
        return date.replace(year=date.year + years, day=28)
