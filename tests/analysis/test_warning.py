"""Scan statistic power and false-alarm rate on simulations; control charts by hand."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import stats

from qingzhi.analysis.grid import Grid
from qingzhi.analysis.warning import (
    Baseline,
    control_chart,
    control_charts,
    poisson_cusum,
    poisson_upper_limit,
    scan_baseline,
    scan_on_grid,
    space_time_scan,
)

SIDE = 12
XY = np.array([(i % SIDE, i // SIDE) for i in range(SIDE * SIDE)], dtype=float) * 150.0
CLUSTER = [r * SIDE + c for r in range(4, 7) for c in range(4, 7)]


def _run(rng: np.random.Generator, inject: bool, seed: int) -> tuple[bool, set[int]]:
    base = np.full((SIDE * SIDE, 7), 0.3)
    rate = base.copy()
    if inject:
        rate[CLUSTER, -3:] *= 4.0
    counts = rng.poisson(rate).astype(float)
    r = space_time_scan(counts, base, XY, max_cells=12, max_days=5, simulations=49, seed=seed)
    return r.alarm, set(r.cells)


def test_scan_power_and_false_alarm_rate() -> None:
    rng = np.random.default_rng(11)
    runs = 30
    found = 0
    for i in range(runs):
        alarm, cells = _run(rng, True, i)
        found += int(alarm and len(cells & set(CLUSTER)) >= 3)
    false = sum(int(_run(rng, False, 1000 + i)[0]) for i in range(runs * 2))
    assert found / runs >= 0.9
    # At alpha 0.05 the false-alarm rate is 5%; 60 null runs allow up to 7 by chance (p ~ 0.95).
    assert false <= 7


def _token_baseline(cells: Any, days: Any, hw: Any, weekdays: Any) -> Any:
    """The baseline before Good-Turing: the cells without history share one pseudo-event."""
    base = scan_baseline(cells, days, hw, weekdays)
    share = (cells + 1.0 / len(cells)) / (cells.sum() + 1.0)
    return share[:, None] * base.sum(axis=0)[None, :]


def _from_history(
    rng: np.random.Generator, seed: int, inject: bool, baseline: Baseline = scan_baseline
) -> tuple[bool, set[int]]:
    """A county-like year: most of 900 cells of 500 m are quiet (many have no call in the year,
    so calls in new places are common); the baseline is estimated from the year by
    ``baseline``. With ``inject``, six extra calls in the last two days in four adjacent
    cells at a random place."""
    side = 30
    n = side * side
    xy = np.array([(i % side, i // side) for i in range(n)], dtype=float) * 500.0
    rate = rng.gamma(0.2, 0.11, n)  # calls per cell-day: about 20 a day in all
    history = rng.poisson(rate[:, None] * np.ones((1, 365))).astype(float)
    recent = rng.poisson(rate[:, None] * np.ones((1, 7))).astype(float)
    cluster: set[int] = set()
    if inject:
        centre = int(rng.integers(n))
        near = np.argsort(((xy - xy[centre]) ** 2).sum(axis=1), kind="stable")[:4]
        cluster = {int(c) for c in near}
        for k in range(6):
            recent[near[k % 4], 5 + k % 2] += 1.0
    weekdays = np.arange(372) % 7
    base = baseline(history.sum(axis=1), history.sum(axis=0), weekdays[:365], weekdays[365:])
    r = space_time_scan(recent, base, xy, max_cells=9, max_days=7, simulations=49, seed=seed)
    return r.alarm, set(r.cells) & cluster if inject else set(r.cells)


@pytest.mark.slow  # a simulation study: 40 quiet weeks and 20 with a cluster, scanned
def test_scan_with_a_baseline_from_history_keeps_its_false_alarm_rate() -> None:
    # Calls in places with no history must not alarm on their own: at alpha 0.05, 40 quiet weeks
    # give about 2 alarms (up to 6 by chance, p ~ 0.99). The token baseline alarms in most of
    # the same weeks (29 of 40), mostly on a single call.
    rng = np.random.default_rng(5)
    assert sum(int(_from_history(rng, i, False)[0]) for i in range(40)) <= 6
    token = np.random.default_rng(5)
    assert sum(int(_from_history(token, i, False, _token_baseline)[0]) for i in range(40)) >= 20
    # six calls in two days in a small area are still found, where they are
    found = [_from_history(rng, 100 + i, True) for i in range(20)]
    assert sum(int(alarm and len(hit) >= 2) for alarm, hit in found) >= 18


def test_scan_hand_computed_score() -> None:
    counts = np.zeros((3, 2))
    counts[0, 1] = 4.0
    base = np.full((3, 2), 1.0)
    xy = np.array([[0.0, 0.0], [1000.0, 0.0], [2000.0, 0.0]])
    r = space_time_scan(counts, base, xy, max_cells=1, max_days=1, simulations=19)
    assert np.isclose(r.score, 4 * np.log(4.0) + 1 - 4)
    assert r.cells == (0,) and r.days == 1 and r.observed == 4.0


def test_control_chart_hand_computed() -> None:
    assert poisson_upper_limit(4.0, 0.001) == int(stats.poisson.ppf(0.999, 4.0))
    path = poisson_cusum(np.array([5.0, 0.0, 9.0]), 2.0, 4.0)
    k = 2.0 / np.log(2.0)
    assert np.allclose(path, [5 - k, max(0, 5 - 2 * k), max(0, 5 - 2 * k) + 9 - k])
    c = control_chart([4, 4, 4, 4, 20, 4], baseline_periods=4, alpha=0.001)
    assert c.baseline_mean == 4.0 and c.shewhart_alarms == (4,)
    assert 4 in c.cusum_alarms


def test_control_charts_by_group() -> None:
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-03-01"))
    t = np.concatenate([days, *([days[-3:]] * 6)]).astype("datetime64[s]")
    g = np.array(["A"] * len(t))
    charts = control_charts(t, g, freq="W", baseline_periods=6)
    assert charts[0].group == "A"
    assert len(charts[0].shewhart_alarms) >= 1


def test_scan_on_grid_keeps_to_the_study_area() -> None:
    # A 10 x 10 grid of 100 m; the study area is the left half (columns 0-4). One quiet call a
    # day for 60 days spread over the area, then five calls on the last day at column 2, row 3.
    grid = Grid(0.0, 0.0, 100.0, 10, 10)
    area = (np.arange(100) % 10) < 5
    history = [(50.0 + 100 * (i % 5), 50.0 + 100 * (i // 5 % 10), 1000 + i) for i in range(60)]
    burst = [(250.0, 350.0, 1064)] * 5
    outside = [(950.0, 950.0, 1063)]  # a call outside the area is scanned in its own cell
    x, y, day = (np.array(v, dtype=float) for v in zip(*history, *burst, *outside, strict=False))
    r = scan_on_grid(
        grid,
        x,
        y,
        day.astype(np.int64),
        history_start=1000,
        recent_start=1060,
        end=1065,
        area=area,
        max_cells=4,
        simulations=49,
    )
    assert r.alarm and r.centre == 3 * 10 + 2 and r.observed >= 5
    assert all(c % 10 < 5 or c == 99 for c in r.cells)
    with pytest.raises(ValueError):
        scan_on_grid(grid, x, y, day.astype(np.int64), history_start=5, recent_start=5, end=6)


def test_scores_keep_the_maximum_and_its_region_of_the_full_formula() -> None:
    # The scan takes logarithms only where a region has more events than expected; the maximum
    # and where it is (first in flat order) are those of the formula over every region.
    from qingzhi.analysis.warning import _scores

    rng = np.random.default_rng(4)
    for trial in range(20):
        b = rng.uniform(0.01, 2.0, (30, 4, 5))
        c = rng.poisson(b * (1.0 + 2.0 * (trial % 2))).astype(float)
        c[0, 0, 0] = c[1, 0, 0] = 9.0  # a tie: the first wins
        b[0, 0, 0] = b[1, 0, 0] = 0.5
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(c > b, c * np.log(np.where(c > 0, c / b, 1.0)) + b - c, 0.0)
        flat = int(np.argmax(f))
        assert _scores(c, b) == (float(f.ravel()[flat]), *np.unravel_index(flat, f.shape))
    assert _scores(np.zeros((3, 2, 2)), np.ones((3, 2, 2))) == (0.0, 0, 0, 0)
