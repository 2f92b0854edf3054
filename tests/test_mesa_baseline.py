"""The plain-Mesa baseline implements the same rules: city-level outcomes agree with the numba core.

Test: on Stadtteile 211 and 214 at scale 0.25 (about 3,000 residents), from July 2025 when the pilot roles in
211 work, for each of 8 seeds both implementations start from the same state (the same QuarterModel build)
and run 30 weeks: residents age and move, outreach contacts and role events reach them, initiatives gain and
lose hosts and champions. For each outcome the paired differences d_k (numba minus Mesa) must satisfy
|mean d| <= 4 * sd(d) / sqrt(8) + slack, where slack is 0.004 for shares, 0.1 for ties per resident and 1.5 for
initiatives: the two use different random streams, so only noise may separate them (4 standard errors of a
t-distribution with 7 degrees of freedom are passed by chance about one time in 200 per outcome; the slack
makes it far rarer, as the seeds' outcomes are near-normal). The same check flags a baseline whose loneliness
onset is tripled, so it can fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from quartiersim.mesa_baseline import MesaBaselineModel, array_city
from quartiersim.model import QuarterModel

SETUP = dict(stadtteile=[211, 214], scale=0.25, spinup_weeks=0, start="2025-07-01", end="2026-12-31")
WEEKS = 30
SEEDS = range(8)
SLACK = {"lonely_share": 0.004, "ties_per_resident": 0.1, "aware_share": 0.004, "participation_share": 0.004,
         "volunteer_share": 0.004, "share_65plus": 0.004, "programme_known_share": 0.004, "active_initiatives": 1.5,
         "hosted_initiatives": 1.5}


def _outcomes(seed: int, **baseline_overrides):
    fast = QuarterModel(None, rng=seed, **SETUP)
    for _ in range(WEEKS):
        fast.step()
    plain = MesaBaselineModel(QuarterModel(None, rng=seed, **SETUP, **baseline_overrides), seed=seed)
    for _ in range(WEEKS):
        plain.step()
    return array_city(fast), plain.city()


def _disagreements(pairs) -> dict[str, tuple[float, float]]:
    """Outcomes whose mean paired difference exceeds 3 standard errors plus slack: {name: (mean, bound)}."""
    out = {}
    for name, slack in SLACK.items():
        d = np.array([a[name] - b[name] for a, b in pairs])
        bound = 4 * d.std(ddof=1) / math.sqrt(len(d)) + slack
        if abs(d.mean()) > bound:
            out[name] = (float(d.mean()), float(bound))
    return out


@pytest.fixture(scope="module")
def pairs():
    return [_outcomes(seed) for seed in SEEDS]


def test_mesa_baseline_agrees_with_the_numba_core(pairs):
    assert _disagreements(pairs) == {}
    # the runs moved away from the shared start (so agreement is not trivial)
    start = array_city(QuarterModel(None, rng=0, **SETUP))
    assert abs(pairs[0][0]["ties_per_resident"] - start["ties_per_resident"]) > 0.5


def test_the_equivalence_check_detects_a_different_rule(pairs):
    onset = QuarterModel(None, rng=0, **SETUP).params.lonely_onset_base
    altered = [_outcomes(seed, lonely_onset_base=3 * onset) for seed in SEEDS]
    # compare each numba run of the unchanged model with the altered baseline
    mixed = [(a, b) for (a, _), (_, b) in zip(pairs, altered, strict=True)]
    assert "lonely_share" in _disagreements(mixed)
