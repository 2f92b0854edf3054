"""The model: construction, the weekly step, outputs, reproducibility, Mesa integration, regression baseline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

import quartiersim
from quartiersim.agents import Initiative, MeetingPlace, MunicipalRole
from quartiersim.errors import InputError
from quartiersim.model import QuarterModel
from quartiersim.outputs import CITY, GROUPS, INDICATORS, yearly
from quartiersim.spec import Scenario

SMALL = dict(stadtteile=[211, 101, 102], scale=0.5, start="2024-01-01", end="2025-06-30", spinup_weeks=8)
BASELINE = Path(__file__).parent / "data" / "regression_baseline.csv"


@pytest.fixture(scope="module")
def small_run():
    model = QuarterModel("neckarvorstadt", rng=5, **SMALL)
    table = model.run()
    return model, table


def test_table_has_every_indicator_group_and_stadtteil(small_run):
    model, table = small_run
    assert list(table.columns) == ["date", "stadtteil", "indicator", "group", "value"]
    assert set(table["indicator"].unique()) == set(INDICATORS)
    assert set(table["group"].unique()) == set(GROUPS)
    assert set(table["stadtteil"].unique()) == {"Neckarvorstadt", "Oberer Schlossgarten", "Rathaus", CITY}
    # monthly reports: 18 months
    assert table["date"].nunique() == 18
    assert table["date"].max() == pd.Timestamp("2025-06-30")
    shares = table[table["indicator"].str.endswith("_share") | (table["indicator"] == "offer_coverage")]
    assert shares["value"].dropna().between(0, 1).all()
    assert (table.loc[table["indicator"].isin(["role_hours", "cost_eur", "meeting_place_visits"]), "value"]
            .dropna() >= 0).all()


def test_city_total_is_the_sum_of_stadtteile(small_run):
    _, table = small_run
    visits = table[(table["indicator"] == "meeting_place_visits") & (table["group"] == "all")]
    by_date = visits.pivot_table(index="date", columns="stadtteil", values="value", observed=True)
    np.testing.assert_allclose(by_date.drop(columns=CITY).sum(axis=1), by_date[CITY])


def test_roles_work_and_cost_on_their_dates(small_run):
    model, table = small_run
    cost = table[(table["indicator"] == "cost_eur") & (table["stadtteil"] == "Neckarvorstadt")].set_index("date")
    assert cost.loc["2024-03-31", "value"] == 0  # pilot roles start on 1 July 2024
    assert cost.loc["2024-09-30", "value"] > 0
    hours = table[(table["indicator"] == "role_hours") & (table["stadtteil"] == "Neckarvorstadt")]
    # 1.0 FTE Vernetzungsstelle+Gesundheitsförderung at 39 h a week for July 2024 (5 weeks starting in July)
    assert hours.set_index("date").loc["2024-07-31", "value"] == pytest.approx(5 * 39.0 * 1.0)
    # Gemeinwesenarbeit (1.0) and Stadtteilassistenz (0.5) add 1.5 posts from July 2025: not yet in this run
    roles = list(model.agents_by_type[MunicipalRole])
    assert {r.kind for r in roles} == {"vernetzungsstelle", "gesundheitsfoerderung", "gemeinwesenarbeit",
                                       "stadtteilassistenz"}


def test_same_seed_same_table_and_other_seed_differs():
    a = quartiersim.simulate("neckarvorstadt", seed=11, **SMALL)
    b = quartiersim.simulate("neckarvorstadt", seed=11, **SMALL)
    c = quartiersim.simulate("neckarvorstadt", seed=12, **SMALL)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["value"].fillna(-1), c["value"].fillna(-1))


def test_regression_baseline():
    """A fixed-seed run against stored values; regenerate with `python tests/make_baseline.py` on purpose."""
    table = quartiersim.simulate("neckarvorstadt", seed=2024, **SMALL)
    got = table[(table["stadtteil"] == CITY)].reset_index(drop=True)
    expected = pd.read_csv(BASELINE, parse_dates=["date"])
    assert len(got) == len(expected)
    np.testing.assert_allclose(got["value"].to_numpy(), expected["value"].to_numpy(), rtol=1e-9, atol=1e-12,
                               equal_nan=True)
    assert (got["indicator"].astype(str).to_numpy() == expected["indicator"].to_numpy()).all()


def test_residents_can_be_inspected_one_by_one(small_run):
    model, _ = small_run
    r = model.residents
    i = int(r.st_off[1]) - 1
    person = r[i]
    assert person["stadtteil"] == 0 and set(person) >= {"age", "migration", "lonely", "ties", "weight"}
    for j, w in person["ties"]:
        assert r.stadtteil[j] == r.stadtteil[i] and 0 < w <= 1
    frame = r.to_frame()
    assert len(frame) == len(r)
    # weights keep the outputs in persons
    np.testing.assert_allclose(frame.groupby("stadtteil")["weight"].sum().to_numpy(),
                               model.profile["population"].to_numpy())
    with pytest.raises(IndexError):
        r[len(r)]


def test_scale_keeps_outputs_in_persons():
    full = QuarterModel("neckarvorstadt", rng=1, **dict(SMALL, scale=1.0))
    tenth = QuarterModel("neckarvorstadt", rng=1, **dict(SMALL, scale=0.1))
    assert len(tenth.residents) == pytest.approx(len(full.residents) / 10, rel=0.01)
    assert tenth.residents.weight.sum() == pytest.approx(full.residents.weight.sum())


def test_population_matches_indicators():
    model = QuarterModel("neckarvorstadt", rng=3, stadtteile=[211], scale=1.0, spinup_weeks=0,
                         end="2024-02-01")
    frame = model.residents.to_frame()
    assert len(frame) == 4180
    # the real Neckarvorstadt profile: 73.9 % migration, 20.9 % Bonuscard; binomial sd about 0.7 %
    assert frame["migration"].mean() == pytest.approx(0.739, abs=0.025)
    assert frame["low_income"].mean() >= 0.209 - 0.025
    assert frame["recent"].mean() == pytest.approx(0.458, abs=0.025)
    # city-wide fallbacks for age: mean age near the city's 42.3 years
    assert frame["age"].mean() == pytest.approx(42.3, abs=1.5)
    assert model.profile.loc[0, "age_65plus_share_fallback"]
    assert not model.profile.loc[0, "migration_share_fallback"]


def test_mesa_entities(small_run):
    model, _ = small_run
    places = list(model.agents_by_type[MeetingPlace])
    assert len(places) == model.n_places >= 3
    assert any(p.kind == "Quartierstreff" for p in places)  # the community worker's Treff
    inits = list(model.agents_by_type[Initiative])
    assert len(inits) == int(model.init_active.sum())
    # members in persons agree with the residents' memberships; champions are members; hosts are places
    weight = model.pop.weight_s
    for i in inits:
        agents = np.flatnonzero(model.pop.member_of == i.slot)
        assert i.members == pytest.approx(len(agents) * weight[i.slot // model.max_init])
        assert i.champion is None or i.champion in agents
        assert i.host is None or isinstance(i.host, MeetingPlace)
    assert sum(i.members > 0 for i in inits) > 0.8 * len(inits)
    for role in model.agents_by_type[MunicipalRole]:
        assert role.hours_per_week == pytest.approx(role.fte * 39.0)
        assert sum(role.hours_by_task().values()) <= role.hours_per_week + 1e-9


def test_step_runs_named_phases_in_order_with_dates():
    model = QuarterModel("neckarvorstadt", rng=1, **SMALL)
    assert model.date == dt.date(2024, 1, 1)
    model.step()
    assert model.date == dt.date(2024, 1, 8)
    assert list(model.phase_seconds) == ["roles", "residents", "report"]  # the fused week kernel
    model.time_phases = True
    model.phase_seconds.clear()
    model.step()
    assert list(model.phase_seconds) == list(QuarterModel.PHASES)
    assert all(v > 0 for v in model.phase_seconds.values())
    text = QuarterModel.describe_phases()
    assert [line.split("``")[1] for line in text.splitlines()] == list(QuarterModel.PHASES)


def test_model_warns_without_seed():
    with pytest.warns(UserWarning, match="without a seed"):
        QuarterModel("neckarvorstadt", **dict(SMALL, end="2024-01-20"))


def test_mesa_batch_run_works():
    results = mesa.batch_run(QuarterModel, parameters={"scenario": "neckarvorstadt", "end": "2024-03-31",
                                                       "stadtteile": [[211]], "scale": 0.3, "spinup_weeks": 2,
                                                       "visit_base": [0.05, 0.3]},
                             rng=[1], max_steps=100, display_progress=False)
    assert len(results) == 2
    assert all(0 <= row["lonely_share"] <= 1 for row in results)
    assert {row["visit_base"] for row in results} == {0.05, 0.3}
    assert all(row["Step"] >= 12 for row in results)


def test_scenario_object_and_overrides():
    spec = Scenario(stadtteile=["Neckarvorstadt"], scale=0.2, end="2024-03-31", spinup_weeks=0)
    model = QuarterModel(spec, rng=1, visit_base=0.3)
    assert model.params.visit_base == 0.3
    assert model.spec.stadtteile == ["Neckarvorstadt"] and model.n_st == 1


@pytest.mark.parametrize("threads", [1, 2])
def test_fused_week_gives_the_same_run_as_timed_phases(threads, monkeypatch):
    """The default fused week kernel, on one or two threads, reproduces the phase-by-phase run exactly."""
    import numba

    monkeypatch.setenv("QUARTIERSIM_THREADS", str(threads))  # the number asked for, even on busy cores

    by_phase = QuarterModel("neckarvorstadt", rng=5, **dict(SMALL, stadtteile=[211, 212, 101]))
    by_phase.time_phases = True
    expected = by_phase.run()
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        fused = QuarterModel("neckarvorstadt", rng=5, **dict(SMALL, stadtteile=[211, 212, 101]))
        got = fused.run()
    finally:
        numba.set_num_threads(previous)
    pd.testing.assert_frame_equal(got, expected)
    # on two threads the Stadtteile make at least four blocks a thread (numba gives each thread as many blocks)
    assert len(fused._blocks) - 1 == (1 if threads == 1 else 3)


def test_a_role_on_a_stadtteil_outside_the_run_is_an_error():
    """The default scenario's Neckarvorstadt roles in a run of two other Stadtteile would silently do nothing
    (hours 0, cost 0): the model refuses the scenario, naming the role and the Stadtteil."""
    with pytest.raises(InputError) as info:
        QuarterModel(None, rng=3, **dict(SMALL, stadtteile=[101, 102]))
    message = str(info.value)
    assert "roles.1.stadtteile" in message and "Vernetzungsstelle" in message and "211 Neckarvorstadt" in message


def test_pilot_cohort_indicators_follow_the_initiatives_of_the_pilot_phase():
    """pilot_cohort_initiatives and pilot_cohort_dropouts agree with following each Initiative agent by its id."""
    model = QuarterModel("neckarvorstadt", rng=3, end="2029-12-31", report="yearly")
    cohort = None
    while model.running:
        model.step()
        if cohort is None and model.date.year >= 2028:
            cohort = {agent.unique_id for agent in model.initiatives.values()}
    alive = {agent.unique_id for agent in model.initiatives.values()}
    table = model.results()
    city = table[(table["stadtteil"] == CITY) & (table["group"] == "all")].set_index(["indicator", "date"])["value"]
    assert city[("pilot_cohort_initiatives", pd.Timestamp("2027-12-31"))] == len(cohort) > 0
    lost = sum(city[("pilot_cohort_dropouts", pd.Timestamp(f"{y}-12-31"))] for y in (2028, 2029))
    assert lost == len(cohort - alive)
    assert city[("pilot_cohort_initiatives", pd.Timestamp("2029-12-31"))] == len(cohort & alive)


def test_a_stadtteil_stopped_early_reports_nan_and_the_others_are_exactly_those_of_the_whole_run():
    """``stop_after``: Weilimdorf stopped in mid-2025 is simulated to the end of 2025; Neckarvorstadt (with its pilot
    roles) gets every number of the whole run, Weilimdorf's rows are the whole run's to the end of 2025 and NaN
    after, as are the city's, so its yearly values for 2025 are whole."""
    spec = dict(stadtteile=[211, 801], scale=0.1, end="2026-12-31", spinup_weeks=13)
    whole = QuarterModel("neckarvorstadt", rng=3, **spec).run()
    model = QuarterModel("neckarvorstadt", rng=3, **spec)
    model.stop_after({801: dt.date(2025, 6, 10)})
    part = model.run()
    assert len(part) == len(whole)
    for col in ("date", "stadtteil", "indicator", "group"):
        assert (part[col] == whole[col]).all()
    late = (part["date"] > pd.Timestamp("2025-12-31")).to_numpy()
    kept = (part["stadtteil"] == "Neckarvorstadt").to_numpy() | ~late
    np.testing.assert_array_equal(part["value"].to_numpy()[kept], whole["value"].to_numpy()[kept])
    assert part["value"][~kept].isna().all() and whole["value"][~kept].notna().any()
    assert set(part["stadtteil"][~kept]) == {"Weilimdorf", CITY}
    assert np.isnan(model.latest["lonely_share"])
    by_year = yearly(part).set_index(["stadtteil", "indicator", "group", "year"])["value"]
    whole_by_year = yearly(whole).set_index(["stadtteil", "indicator", "group", "year"])["value"]
    for st in ("Weilimdorf", CITY):
        assert by_year.loc[st, :, :, 2025].equals(whole_by_year.loc[st, :, :, 2025])
        assert by_year.loc[st, :, :, 2026].isna().all()
    # a date before the start leaves the Stadtteil out from the start
    early = QuarterModel("neckarvorstadt", rng=3, **spec)
    early.stop_after({"Weilimdorf": dt.date(2023, 12, 31)})
    table = early.run()
    assert table["value"][(table["stadtteil"] == "Weilimdorf").to_numpy()].isna().all()


def test_stop_after_refuses_what_it_cannot_do():
    """An unknown Stadtteil, a run already stepping, a scenario with funding rounds and timing each phase."""
    model = QuarterModel("neckarvorstadt", rng=1, stadtteile=[211, 801], scale=0.05, end="2024-03-31",
                         spinup_weeks=0)
    with pytest.raises(ValueError, match="not a simulated Stadtteil"):
        model.stop_after({"Hallschlag": dt.date(2024, 1, 31)})
    model.step()
    model.step()
    with pytest.raises(ValueError, match="before the first step"):
        model.stop_after({211: dt.date(2024, 1, 31)})
    timed = QuarterModel("neckarvorstadt", rng=1, stadtteile=[211, 801], scale=0.05, end="2025-03-31",
                         spinup_weeks=0)
    timed.stop_after({"Weilimdorf": dt.date(2024, 1, 31)})
    timed.time_phases = True
    with pytest.raises(ValueError, match="time_phases"):
        timed.step()
    funded = QuarterModel("rollout_equal", rng=1, scale=0.01, end="2028-06-30", spinup_weeks=0)
    with pytest.raises(ValueError, match="funding rounds"):
        funded.stop_after({int(funded.profile["number"].iloc[0]): dt.date(2024, 1, 31)})


def test_demography_tables_are_made_once_per_profile_and_each_model_gets_its_own_copy():
    from quartiersim import population

    profile = QuarterModel(None, rng=0, stadtteile=[211, 801], scale=0.02, end="2024-02-01", spinup_weeks=0).profile
    population._demography_tables.cache_clear()
    first = population.demography_tables(profile)
    second = population.demography_tables(profile)
    assert population._demography_tables.cache_info().hits == 1
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(first.mig_share, profile["migration_share"].to_numpy(dtype=float))
    first.exit_prob[:] = 0.0  # a model's tables are its own
    np.testing.assert_array_equal(population.demography_tables(profile).exit_prob, second.exit_prob)
    older = population.demography_tables(profile.assign(age_65plus_share=profile["age_65plus_share"] * 1.2))
    assert not np.array_equal(older.stock, second.stock)


def test_access_to_open_places_per_stadtteil_is_what_its_places_give():
    """The report's access flags (an open place; barrier-free; low-threshold; both) counted from cumulative sums
    over all places equal a check of each Stadtteil's own places, with places closed and Stadtteile without any."""
    model = QuarterModel("neckarvorstadt", rng=2, **dict(SMALL, stadtteile=[211, 212, 101, 128], end="2024-02-01"))
    gen = np.random.default_rng(0)
    model.place_cap[:] = np.where(gen.random(model.n_places) < 0.5, 0, model.place_cap)
    model.place_bf[:] = gen.random(model.n_places) < 0.4
    model.place_lt[:] = gen.random(model.n_places) < 0.4
    model._compute_stats()
    for s in range(model.n_st):
        lo, hi = model.pl_off[s], model.pl_off[s + 1]
        o, bf, lt = model.place_cap[lo:hi] > 0, model.place_bf[lo:hi] == 1, model.place_lt[lo:hi] == 1
        assert list(model.access_s[s]) == [o.any(), (o & bf).any(), (o & lt).any(), (o & bf & lt).any()]
    assert (np.diff(model.pl_off) == 0).any() and model.access_s.any() and not model.access_s.all()
