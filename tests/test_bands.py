"""The model against what evaluations and surveys report: each band of docs/ODD.md (section 7.12) as a test.

Every test states its band, its source and why its tolerance cannot be crossed by chance more than about one
time in a thousand; the seed-to-seed spreads quoted were measured with more seeds by ``benchmarks/bands.py``.
"""

from __future__ import annotations

import pytest

from quartiersim.patterns import baseline_runs, pilot_participation, post_funding_dropout


@pytest.fixture(scope="module")
def pilot():
    """Neckarvorstadt at full scale to the end of 2027: no roles, the pilot roles, a tenth of their posts."""
    return pilot_participation(range(4))


def test_pilot_roles_raise_participation_by_at_most_ten_points(pilot):
    """Band: absolute levels of involvement stay low and change slowly in area programmes (Lawless & Pearson
    2012; Difu, Soziale Stadt Endbericht 2003, section 8.3): the Neckarvorstadt pilot roles raise the share of
    residents 14+ who took part in an activity in the last 12 months by at most 10 points by the end of 2027.

    Tolerance: the paired effect is about 7.7 points with a seed-to-seed sd of about 0.4, so the mean of 4 seeds
    lies more than 10 standard errors below the bound (and every seed's effect is above zero).
    """
    assert (pilot["effect"] > 0).all(), pilot
    assert pilot["effect"].mean() <= 0.10, pilot


def test_a_tenth_of_the_posts_gives_at_most_a_quarter_of_the_effect(pilot):
    """Band: reach grows with the hours (a tenth of the hours reaches about a tenth of the people): with a tenth
    of every role's posts the participation effect is at most a quarter of the full one.

    Tolerance: the ratio of the mean paired effects is about 0.17 with a standard error over 4 seeds of about
    0.02, so 0.25 lies 4 standard errors above it.
    """
    full, tenth = pilot["effect"].mean(), pilot["effect_tenth"].mean()
    assert 0 < tenth <= 0.25 * full, pilot


@pytest.fixture(scope="module")
def baseline():
    """The no-programme city at scale 0.05, 2024-2035, 4 seeds."""
    return baseline_runs(range(4))


def test_the_no_programme_city_is_stationary(baseline):
    """Band: no programme, no trend. Over 2024 to 2035 participation moves by at most 1.5 points, the lonely
    share by at most 0.3 points and the active initiatives by at most 5 %; the spin-up that makes this so is
    chosen by benchmarks/stationarity.py (docs/ODD.md, section 5).

    Tolerance: with 4 seeds the mean drift's standard error is about 0.27 points for participation and 0.09
    points for loneliness (seed sd 0.53 and 0.19 over 8 seeds), with means near -0.5 and 0.0, so both bands lie
    more than 3.5 standard errors away. The city's ~600 initiatives fluctuate by chance (each lasts about ten
    years: a 12-year change has a seed sd of about 6.6 %), so with 4 seeds the band is 5 % plus 3.3 standard
    errors (16 %); the strict 5 % is held with 32 seeds by the slow test below.
    """
    assert abs(baseline.drift("participation_share").mean()) <= 0.015
    assert abs(baseline.drift("lonely_share").mean()) <= 0.003
    assert abs(baseline.drift("active_initiatives", relative=True).mean()) <= 0.05 + 3.3 * 0.066 / 2


@pytest.mark.slow  # 32 whole-city runs: CI runs it in its own step (pytest -m slow)
def test_the_number_of_initiatives_is_stationary_without_a_programme():
    """Band: the active initiatives of the no-programme city change by at most 5 % from 2024 to 2035.

    Tolerance: the mean over 32 seeds (seed sd about 6.6 %) has a standard error of about 1.2 %; the measured
    mean drift is near +1 %, so the band lies more than 3 standard errors away.
    """
    runs = baseline_runs(range(32))
    assert abs(runs.drift("active_initiatives", relative=True).mean()) <= 0.05


def test_loneliness_hardly_depends_on_age_and_rises_steeply_with_poor_health(baseline):
    """Bands (Stuttgarter Bürgerumfrage 2021: Statistisches Amt, Monatsheft 4/2022, p. 86; seed 004): 3-4 % of
    adults are lonely; loneliness is hardly age-dependent (the share at 65+ over all adults within 0.7-1.3); it
    runs from under 1 % at very good health to about 30 % at very poor health (here 20-40 %).

    Tolerance: means over 12 years and 4 seeds of a city of 30,000 agents, with standard errors of a few
    hundredths of a point for the shares and near 0.02 for the 65+ ratio. The lonely share of all adults is held
    to the survey's value within two of the sds the calibration was given (3.5 +- 0.5 %, so 2.5-4.5 %), not to the
    survey's 3-4 % itself: the calibrated model sits inside it (about 3.4 %; the calibration's predictive median
    is 3.41 %, z = -0.19, calibration/README.md), but its posterior allows 2.7-4.0 %, and a band edge a few
    standard errors from a value the calibration may move would fail for no fault of the model.
    """
    share = baseline.mean_share
    assert 0.025 <= share("all") <= 0.045
    assert 0.7 <= share("age_65plus") / share("all") <= 1.3
    assert share("health_very_good") < 0.01
    assert 0.2 <= share("health_very_poor") <= 0.4
    assert share("health_very_poor") > 10 * share("health_very_good")


@pytest.mark.slow  # 64 runs of Neckarvorstadt: CI runs it in its own step (pytest -m slow)
def test_after_funding_ends_about_a_third_of_the_initiatives_drop_out():
    """Band: when funding simply ends after 2027, 0.15 to 0.45 of the Neckarvorstadt initiatives active at its
    end drop out from 2028 to 2030 (Scheirer 2005: in 14 of 17 studies at least 60 % of sites kept a component,
    and up to 40 % of programmes end; Savaya & Spiro 2012: 73.1 % of 197 projects still operating); keeping the
    posts keeps more of them.

    Tolerance: over 32 seeds about 260 initiatives are followed, so the share (about 0.31) has a standard error
    near 0.03; both ends of the band lie more than 4.5 standard errors away. Permanent posts (about 0.16) lie 5
    standard errors of the difference below.
    """
    size, dropped = post_funding_dropout("funding_ends", range(32))
    kept_size, kept_dropped = post_funding_dropout("permanent_posts", range(32))
    assert size >= 150
    assert 0.15 <= dropped / size <= 0.45, (dropped, size)
    assert kept_dropped / kept_size < dropped / size
