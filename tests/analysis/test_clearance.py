"""Clearance and fast-clearance rates from counts: hand-computed cases and the Wilson interval."""

from __future__ import annotations

import math

import pytest

from qingzhi.analysis.clearance import CaseCounts, clearance_rates


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's interval written out by hand: (p + z²/2n ± z√(p(1-p)/n + z²/4n²)) / (1 + z²/n)."""
    p = k / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def test_hand_computed_line() -> None:
    """10 opened, 7 of them cleared so far; 8 cleared in the period (one opened before), 6 of
    them within 72 h: clearance 80%, cohort 70%, fast 75%."""
    r = clearance_rates(CaseCounts(10, 7, 8, 6, 50_000.0, 12_000.0), fast_hours=72)
    assert r.clearance == pytest.approx(0.8)
    assert r.cohort.estimate == pytest.approx(0.7)
    assert r.fast.estimate == pytest.approx(0.75)
    assert (r.cohort.low, r.cohort.high) == pytest.approx(_wilson(7, 10))
    assert (r.fast.low, r.fast.high) == pytest.approx(_wilson(6, 8))
    # 6 of 8: the textbook figures, 0.409 to 0.929
    assert r.fast.low == pytest.approx(0.4093, abs=1e-4)
    assert r.fast.high == pytest.approx(0.9285, abs=1e-4)
    assert r.fast_hours == 72


def test_a_small_station_carries_a_wide_interval() -> None:
    """3 of 3 cleared is not 100% with certainty: the interval reaches down to 44%."""
    small = clearance_rates(CaseCounts(3, 3, 3, 3), fast_hours=72)
    large = clearance_rates(CaseCounts(300, 252, 252, 230), fast_hours=72)
    assert small.cohort.low == pytest.approx(0.4385, abs=1e-4)
    assert small.cohort.high == 1.0
    assert large.cohort.high - large.cohort.low < 0.09
    assert small.cohort.high - small.cohort.low > 0.5


def test_period_clearance_may_exceed_one_and_nothing_opened_is_undefined() -> None:
    more = clearance_rates(CaseCounts(2, 1, 5, 5), fast_hours=24)
    assert more.clearance == 2.5
    none = clearance_rates(CaseCounts(0, 0, 0, 0), fast_hours=72)
    assert math.isnan(none.clearance) and math.isnan(none.cohort.estimate)
    assert (none.cohort.low, none.cohort.high) == (0.0, 1.0)


def test_impossible_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        clearance_rates(CaseCounts(2, 3, 0, 0), fast_hours=72)
    with pytest.raises(ValueError):
        clearance_rates(CaseCounts(2, 1, 1, 2), fast_hours=72)
