"""The A/B statistics against closed forms, tables and hand-computed cases; the arm draw."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from app.routing.ab_stats import (
    mean_interval,
    proportion_test,
    t_quantile,
    t_sf,
    welch_test,
    wilson_interval,
)
from app.routing.experiment_arms import pick_arm


def test_t_tails_match_their_closed_forms() -> None:
    for t in (0.5, 1.0, 3.0, 10.0):
        assert t_sf(t, 1) == pytest.approx(0.5 - math.atan(t) / math.pi, abs=1e-9)  # Cauchy
        assert t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(2 + t * t)), abs=1e-9)


def test_t_quantiles_match_the_tables() -> None:
    assert t_quantile(1) == pytest.approx(12.7062, abs=1e-3)
    assert t_quantile(10) == pytest.approx(2.2281, abs=1e-4)
    assert t_quantile(1e6) == pytest.approx(1.95996, abs=1e-4)


def test_welch_matches_scipy() -> None:
    # scipy.stats.ttest_ind([1, 2, 3, 4, 5], [2, 3, 4, 5, 6], equal_var=False): p=0.34659
    test = welch_test([1, 2, 3, 4, 5], [2, 3, 4, 5, 6])
    assert test.difference == -1 and test.p_value == pytest.approx(0.346594, abs=1e-5)
    assert not test.significant
    # Unequal variances and sizes: by hand t = 2.0 / 0.6717 = 2.977 on 5.89 degrees of
    # freedom, between the 5% (2.45) and 2% (3.14) two-sided critical values for 6.
    a = [10.1, 11.3, 9.8, 10.7, 12.0, 10.9, 11.5]
    b = [8.2, 9.9, 7.1, 8.8, 10.5]
    test = welch_test(a, b)
    assert test.difference == pytest.approx(2.0) and 0.02 < (test.p_value or 1) < 0.05
    assert test.significant and test.low is not None and 0 < test.low < 2
    assert welch_test([1.0], b).p_value is None  # one observation: no test


def test_proportions_and_intervals() -> None:
    # Two-proportion z test, 10/100 vs 20/100: p=0.0477.
    assert proportion_test(10, 100, 20, 100).p_value == pytest.approx(0.0477, abs=1e-3)
    interval = wilson_interval(5, 10)
    assert (interval.low, interval.high) == pytest.approx((0.2366, 0.7634), abs=1e-3)
    assert wilson_interval(0, 20).low == 0 and wilson_interval(0, 20).high > 0
    estimate = mean_interval([2.0, 4.0, 6.0])
    assert estimate.mean == 4 and estimate.low == pytest.approx(4 - 4.302653 * 2 / 3**0.5)


def test_arms_are_drawn_by_weight_and_the_same_unit_gets_the_same_arm() -> None:
    arms = [{"name": "a", "weight": 1}, {"name": "b", "weight": 3}]
    drawn = Counter(pick_arm("exp", arms, f"user-{i}")["name"] for i in range(4000))
    assert 0.22 < drawn["a"] / 4000 < 0.28
    assert {pick_arm("exp", arms, "user-7")["name"] for _ in range(5)} == {
        pick_arm("exp", arms, "user-7")["name"]
    }
