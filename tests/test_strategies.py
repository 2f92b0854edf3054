"""The strategy layer: area index by hand, Verstetigung and allocation plans, role changes, costs, funding.

Indicator tables here are synthetic test values, written by the tests and labelled so; they are not figures of
the city.
"""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import quartiersim
from quartiersim.areas import AreaIndexSpec, area_index, need_percentile
from quartiersim.data import load_city_indicators, load_indicators, load_pay_grades, load_stadtteile
from quartiersim.model import QuarterModel
from quartiersim.outputs import CITY
from quartiersim.spec import RoleSpec, VerstetigungSpec, build_scenario
from quartiersim.strategies import apply_verstetigung, plan, role_states

D = dt.date
CITY_VALUES = load_city_indicators()["value"]


def _indicators(tmp_path, rows):
    path = tmp_path / "indicators.csv"
    pd.DataFrame(rows).assign(source="synthetic test values").to_csv(path, index=False)
    return path


def _ranking(tmp_path, rows, spec=None):
    table = load_stadtteile()
    city = load_city_indicators()
    ind = load_indicators(_indicators(tmp_path, rows), stadtteile=table, city=city)
    return area_index(ind, city, table, spec)


# ------------------------------------------------------------------------------------------------------------
# the area-selection index
# ------------------------------------------------------------------------------------------------------------

SMALL_TABLE = [
    {"number": 211, "low_income_share": 0.209, "net_income_index": 74, "migration_share": 0.739},
    {"number": 101, "low_income_share": 0.10, "net_income_index": 120},
    {"number": 861, "low_income_share": 0.20, "net_income_index": 90, "migration_share": 0.40},
    {"number": 441, "low_income_share": 0.131},  # exactly the city value
]


def test_ratio_index_by_hand(tmp_path):
    weights = {"low_income_share": 2.0, "net_income_index": 1.0, "migration_share": 1.0}
    ranking = _ranking(tmp_path, SMALL_TABLE, AreaIndexSpec(weights=weights)).set_index("number")
    c = {k: float(CITY_VALUES[k]) for k in weights}
    # the documented formula: sum over indicators of w/sum(w) * direction * (x - city) / city
    by_hand = {
        211: 0.5 * (0.209 - c["low_income_share"]) / c["low_income_share"]
        + 0.25 * -(74 - 100) / 100 + 0.25 * (0.739 - c["migration_share"]) / c["migration_share"],
        101: 0.5 * (0.10 - c["low_income_share"]) / c["low_income_share"] + 0.25 * -(120 - 100) / 100,
        861: 0.5 * (0.20 - c["low_income_share"]) / c["low_income_share"] + 0.25 * -(90 - 100) / 100
        + 0.25 * (0.40 - c["migration_share"]) / c["migration_share"],
        441: 0.0,
    }
    for number, score in by_hand.items():
        assert ranking.loc[number, "score"] == pytest.approx(score, abs=1e-12)
    # migration for 101 is a fallback: it contributes exactly 0 and is listed as such
    assert ranking.loc[101, "contrib_migration_share"] == 0.0
    assert "migration_share" in ranking.loc[101, "fallback_indicators"]
    assert ranking.loc[101, "observed_weight"] == pytest.approx(0.75)
    # ranks follow the scores by hand; Stadtteile with no data score 0 and tie, the most populous first
    order = sorted(by_hand, key=lambda n: -by_hand[n])
    assert [int(ranking.loc[n, "rank"]) for n in order[:2]] == [1, 2]
    zero = ranking[(ranking["score"] == 0) & ranking["rank"].notna()].sort_values("rank")
    assert zero["tied"].all() and zero["population"].is_monotonic_decreasing
    assert ranking.loc[101, "rank"] == ranking["rank"].max()  # below average: last
    # Stadtteile counted inside a neighbour get no rank
    counted = load_stadtteile().dropna(subset=["counted_in"])["number"]
    assert ranking.loc[list(counted), "rank"].isna().all()


def test_zscore_index_by_hand(tmp_path):
    weights = {"low_income_share": 1.0}
    ranking = _ranking(tmp_path, SMALL_TABLE, AreaIndexSpec(method="zscore", weights=weights)).set_index("number")
    table = load_stadtteile().set_index("number")
    x = np.array([0.209, 0.10, 0.20, 0.131])
    pop = table.loc[[211, 101, 861, 441], "population"].to_numpy(dtype=float)
    mean = (x * pop).sum() / pop.sum()
    sd = np.sqrt(((x - mean) ** 2 * pop).sum() / pop.sum())
    for number, value in zip([211, 101, 861, 441], x, strict=True):
        assert ranking.loc[number, "score"] == pytest.approx((value - CITY_VALUES["low_income_share"]) / sd)
    with pytest.raises(ValueError, match="at least 3"):
        _ranking(tmp_path, SMALL_TABLE[:2], AreaIndexSpec(method="zscore", weights=weights))


def test_need_percentile_runs_from_one_to_zero(tmp_path):
    ranking = _ranking(tmp_path, SMALL_TABLE)
    need = need_percentile(ranking)
    assert need[211] == 1.0 and need[101] == 0.0
    assert len(need) == ranking["rank"].notna().sum()


# ------------------------------------------------------------------------------------------------------------
# roles: dated changes, pay grades, Verstetigung
# ------------------------------------------------------------------------------------------------------------

GWA = dict(name="GWA", kind="gemeinwesenarbeit", fte=1.0, stadtteile=[211], start=D(2025, 7, 1),
           end=D(2027, 12, 31), quartierstreff=True)
RUN_END = D(2035, 12, 31)


def _states(strategy, **kw):
    role = apply_verstetigung(RoleSpec(**GWA), VerstetigungSpec(strategy=strategy, **kw), RUN_END)
    return role, role_states(role)


def test_verstetigung_strategies_as_dated_states():
    grades = load_pay_grades()["annual_cost_eur"]
    role, states = _states("funding_ends")
    assert role.end == D(2027, 12, 31) and len(states) == 1
    role, states = _states("permanent_posts")
    assert role.end == RUN_END and states[-1].fte == 1.0 and states[-1].quartierstreff
    role, states = _states("meeting_places", takeover_fte_share=0.4)
    assert role.end == RUN_END
    assert states[-1].date == D(2028, 1, 1) and states[-1].fte == pytest.approx(0.4)
    assert states[-1].shares["outreach"] == 0 and not states[-1].quartierstreff
    assert states[-1].cost_per_fte == pytest.approx(grades["S 11b"])
    role, states = _states("welfare_handover", handover_gap_weeks=13, handover_fte_share=0.75, project_years=3)
    assert [s.fte for s in states] == [1.0, 0.0, 0.75]
    assert states[2].date == D(2028, 1, 1) + dt.timedelta(weeks=13) and states[2].quartierstreff
    assert role.end == D(2031, 4, 1) - dt.timedelta(days=1)  # three years after the hand-over on 1 April 2028
    role, states = _states("self_organisation", coaching_start_share=0.5, taper_years=2)
    fte = [s.fte for s in states[1:]]
    assert len(fte) == 8 and fte[0] == pytest.approx(0.5) and all(np.diff(fte) < 0)
    assert role.end == D(2029, 12, 31)
    assert all(s.shares["advice"] == pytest.approx(0.6) for s in states[1:])
    # a role marked verstetigung = false just ends
    fixed = RoleSpec(**GWA, verstetigung=False)
    assert apply_verstetigung(fixed, VerstetigungSpec(strategy="permanent_posts"), RUN_END) == fixed


def test_timeline_defaults_come_from_pilot_end_and_phase3_start():
    spec = build_scenario({"pilot_end": D(2026, 12, 31), "phase3_start": D(2027, 1, 1),
                           "roles": [{k: v for k, v in GWA.items() if k != "end"}],
                           "allocation": {"strategy": "needs_based"}})
    assert spec.roles[0].end == D(2026, 12, 31) and spec.allocation.start == D(2027, 1, 1)
    assert build_scenario({"roles": [{k: v for k, v in GWA.items() if k != "end"}]}).roles[0].end == D(2027, 12, 31)


def test_role_hours_and_cost_follow_dated_changes_and_pay_grade():
    spec = build_scenario({
        "stadtteile": [211], "scale": 0.2, "start": D(2025, 1, 1), "end": D(2025, 12, 31), "spinup_weeks": 2,
        "report": "monthly", "roles": [dict(GWA, start=D(2025, 1, 1), end=D(2025, 12, 31), pay_grade="S 14",
                                            changes=[{"date": D(2025, 7, 1), "fte": 0.5}])]})
    table = quartiersim.simulate(spec, seed=1)
    hours = table[(table["indicator"] == "role_hours") & (table["stadtteil"] == CITY)].set_index("date")["value"]
    cost = table[(table["indicator"] == "cost_eur") & (table["stadtteil"] == CITY)].set_index("date")["value"]
    # weeks start on Wednesdays from 1 January 2025: 5 in January, 5 in July (2, 9, 16, 23, 30)
    assert hours.loc["2025-01-31"] == pytest.approx(5 * 39.0)
    assert hours.loc["2025-07-31"] == pytest.approx(5 * 39.0 * 0.5)
    annual = load_pay_grades().loc["S 14", "annual_cost_eur"]
    assert cost.loc["2025-01-31"] == pytest.approx(5 * annual * 7 / 365.25)
    assert cost.loc["2025-07-31"] == pytest.approx(5 * 0.5 * annual * 7 / 365.25)


# ------------------------------------------------------------------------------------------------------------
# allocation
# ------------------------------------------------------------------------------------------------------------

# synthetic need: high in three Bad Cannstatt Stadtteile, moderate in one each of Mitte and Nord
NEED = [{"number": 211, "low_income_share": 0.30}, {"number": 215, "low_income_share": 0.28},
        {"number": 205, "low_income_share": 0.26}, {"number": 103, "low_income_share": 0.20},
        {"number": 124, "low_income_share": 0.18}]


def _plan(tmp_path, allocation, roles=(), end=RUN_END):
    ranking = _ranking(tmp_path, NEED, AreaIndexSpec(weights={"low_income_share": 1.0}))
    spec = build_scenario({"end": end, "roles": list(roles), "allocation": allocation})
    return plan(spec, load_stadtteile(), ranking)


TEAM = [{"kind": "gemeinwesenarbeit", "fte": 1.0, "pay_grade": "S 12"}]


def test_needs_based_takes_the_index_order_within_budget(tmp_path):
    cost = load_pay_grades().loc["S 12", "annual_cost_eur"]
    p = _plan(tmp_path, {"strategy": "needs_based", "new_stadtteile_per_year": 2, "years_per_area": 2,
                         "budget_eur_per_year": 3.5 * cost, "team": TEAM})
    a = p.areas
    assert list(a["number"][:5]) == [211, 215, 205, 103, 124]
    # two a year, but only three teams fit the budget at once: 2028 two, 2029 one, 2030 two (the first ended)
    assert list(a["start"][:5]) == [D(2028, 1, 1)] * 2 + [D(2029, 1, 1)] + [D(2030, 1, 1)] * 2
    assert a["end"].iloc[0] == D(2029, 12, 31)
    assert len(p.roles) == len(a) and all(r.kind == "gemeinwesenarbeit" for r in p.roles)
    for date in pd.date_range("2028-01-01", "2035-12-31", freq="MS").date:
        at_work = a[(a["start"] <= date) & (a["end"] >= date)]
        assert at_work["cost_eur_per_year"].sum() <= 3.5 * cost + 1e-6


def test_max_posts_limit_and_pilot_quarters_excluded(tmp_path):
    pilot = dict(GWA, end=D(2035, 12, 31))
    p = _plan(tmp_path, {"strategy": "needs_based", "new_stadtteile_per_year": 10, "budget_eur_per_year": 1e9,
                         "max_posts": 2, "team": TEAM}, roles=[pilot])
    assert 211 not in set(p.areas["number"])  # the pilot role still serves it
    assert list(p.areas["number"][:2]) == [215, 205] and (p.areas["start"] == D(2028, 1, 1)).sum() == 2


def test_equal_expression_of_interest_pilot_only_and_none(tmp_path):
    equal = _plan(tmp_path, {"strategy": "equal_per_bezirk", "new_stadtteile_per_year": 3,
                             "budget_eur_per_year": 1e9, "team": TEAM}).areas
    # Bezirke take turns, neediest first: Bad Cannstatt (211), Mitte (103), Nord (124), then the rest
    first = equal[equal["start"] == D(2028, 1, 1)]
    assert list(first["number"]) == [211, 103, 124]
    counts = equal.groupby("bezirk").size()
    assert counts.max() - counts.min() <= 1
    eoi = _plan(tmp_path, {"strategy": "expression_of_interest", "bezirke": ["Mitte", "nord"],
                           "budget_eur_per_year": 1e9, "team": TEAM}).areas
    assert set(eoi["bezirk"]) == {"Mitte", "Nord"} and list(eoi["number"][:2]) == [103, 124]
    pilot = _plan(tmp_path, {"strategy": "pilot_only", "stadtteile": [211, "Hallschlag"], "budget_eur_per_year": 1e9,
                             "team": TEAM}).areas
    assert sorted(pilot["number"]) == [211, 214] and (pilot["start"] == D(2028, 1, 1)).all()
    assert _plan(tmp_path, {"strategy": "none"}).areas.empty


# ------------------------------------------------------------------------------------------------------------
# funding of initiatives
# ------------------------------------------------------------------------------------------------------------


def test_funding_rounds_fund_the_best_scores_within_the_budget():
    spec = build_scenario({
        "bezirke": ["Bad Cannstatt"], "scale": 0.1, "start": D(2026, 1, 1), "end": D(2027, 6, 30),
        "spinup_weeks": 52, "report": "quarterly",
        "initiative_funding": {"start": D(2026, 1, 1), "budget_eur_per_year": 52_000, "grant_eur": 5_000,
                               "apply_share": 0.5}})
    model = QuarterModel(spec, rng=4)
    model.step()  # the first week holds the first round
    rounds = model.funding.history
    assert len(rounds) == 1 and rounds[0]["funded"] == 10  # 52,000 EUR buys 10 grants of 5,000
    funded = np.flatnonzero(model.init_rr < 1)
    assert len(funded) == 10 and np.allclose(model.init_rr[funded], 1 - model.params.grant_dropout_effect)
    last = model.funding.last
    assert set(last["funded"]) == set(funded) and set(funded) <= set(last["applicants"])
    assert 0.3 < len(last["applicants"]) / (model.init_active == 1).sum() < 0.7  # about half apply
    unfunded = np.setdiff1d(last["applicants"], funded)
    assert last["score"][funded].min() >= last["score"][unfunded].max()  # best scores first
    table = model.run()
    grants = table[(table["indicator"] == "grants_eur") & (table["stadtteil"] == CITY)]
    assert grants["value"].sum() == pytest.approx(2 * 50_000)  # rounds on 1 January 2026 and 2027
    assert model.funding.history[1]["date"] == "2027-01-01"
