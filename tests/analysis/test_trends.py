"""Trends: hand-computed counts and change tests, and calibration on simulated Poisson counts."""

from __future__ import annotations

import numpy as np
from scipy import stats

from qingzhi.analysis.trends import change_test, compstat, count_table, hour_of_week


def test_change_test_hand_computed() -> None:
    r = change_test(30, 10)
    # Under no change, 30 of 40 is Binomial(40, 1/2): two-sided p = 2 * P(X >= 30).
    assert np.isclose(r.p_value, 2 * stats.binom.sf(29, 40, 0.5))
    assert r.significant and r.direction == "up" and np.isclose(r.change, 2.0)
    r = change_test(12, 10)
    assert not r.significant and r.direction == "flat"
    # Exposure: 14 days against 7 days with 20 vs 10 events is no change at all.
    r = change_test(20, 10, current_exposure=14, previous_exposure=7)
    assert r.change == 0.0 and r.p_value == 1.0
    assert change_test(0, 0).p_value == 1.0


def test_change_test_calibrated_on_poisson() -> None:
    rng = np.random.default_rng(1)
    for mean in (3.0, 20.0, 100.0):
        a = rng.poisson(mean, 2000)
        b = rng.poisson(mean, 2000)
        false_alarms = np.mean(
            [change_test(int(x), int(y)).significant for x, y in zip(a, b, strict=True)]
        )
        # The exact test never exceeds 5% (plus simulation noise); it is conservative for small
        # counts and close to the nominal level for large ones.
        assert false_alarms <= 0.06, (mean, false_alarms)
        if mean >= 100:
            assert false_alarms >= 0.03, (mean, false_alarms)
    a = rng.poisson(80.0, 500)
    b = rng.poisson(40.0, 500)
    power = np.mean([change_test(int(x), int(y)).significant for x, y in zip(a, b, strict=True)])
    assert power > 0.9  # the normal approximation gives about 0.94 for 80 against 40


def test_count_table_and_compstat() -> None:
    t = np.array(
        ["2024-01-01T10", "2024-01-02T11", "2024-01-08T00", "2024-03-01T05"], dtype="datetime64[s]"
    )
    table = count_table(t, "M", ["A", "B", "A", "A"])
    assert table.groups == ("A", "B")
    assert [str(p) for p in table.periods] == ["2024-01", "2024-02", "2024-03"]
    assert table.counts.tolist() == [[2, 1], [0, 0], [1, 0]]
    weeks = count_table(t, "W")
    assert str(weeks.periods[0]) == "2024-01-01"  # a Monday
    assert weeks.counts[:2, 0].tolist() == [2, 1]
    rows = compstat(t, "2024-01-09")  # last 7 days: 01-02 to 01-08; the 7 before hold 01-01
    assert rows[0].days == 7 and rows[0].current == 2 and rows[0].period_over_period.previous == 1
    assert rows[1].current == 3 and rows[1].year_on_year.previous == 0


def test_hour_of_week() -> None:
    t = np.array(["2024-01-01T00:30", "2024-01-07T23:59", "2024-01-03T13:00"], "datetime64[s]")
    h = hour_of_week(t)  # 2024-01-01 was a Monday
    assert h[0] == 1 and h[167] == 1 and h[2 * 24 + 13] == 1 and h.sum() == 3
