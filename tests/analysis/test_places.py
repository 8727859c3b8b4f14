"""Actionable hotspot places on hand-computed grids: merging, ranking by excess over the
place's own expectation, the exact Poisson test, no overlap, the cap, the local mean."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qingzhi.analysis import places


def test_a_busy_place_at_its_usual_level_is_not_listed_but_a_rising_one_is() -> None:
    counts = np.zeros((7, 9))
    counts[1:4, 1:4] = 10.0  # "downtown": busy, as busy as always
    counts[4, 7] = 6.0  # a quiet corner that rose
    hot = counts > 0
    history = np.zeros((7, 9))
    history[1:4, 1:4] = 10.0 * 13  # 13 windows of history at the same level
    expected = places.expected_from_history(history, 13 * 28.0, 28.0)
    assert expected[2, 2] == pytest.approx((130 + 0.5) / 13)
    found = places.merge_places(counts, expected, hot, max_places=5)
    assert [p.centre for p in found] == [4 * 9 + 7]
    (p,) = found
    assert p.cells == (4 * 9 + 7,)
    assert p.observed == 6
    assert p.expected == pytest.approx(0.5 / 13)
    assert p.p_value == pytest.approx(stats.poisson.sf(5, 0.5 / 13))


def test_places_merge_neighbours_do_not_overlap_and_are_capped() -> None:
    counts = np.zeros((3, 12))
    counts[1, 1:4] = [3, 5, 3]  # one place of three cells around (1, 2)
    counts[1, 6] = 4  # 4 cells away: blocked (within 2r + 1 = 3? no: 4 > 3), its own place
    counts[1, 10] = 2
    hot = counts > 0
    expected = np.full(counts.shape, 0.1)
    found = places.merge_places(counts, expected, hot, radius=1, max_places=2)
    assert len(found) == 2
    first, second = found
    assert first.cells == (13, 14, 15) and first.observed == 11
    assert first.expected == pytest.approx(0.3)
    assert second.cells == (18,) and second.observed == 4
    # a seed within 3 cells of a kept centre is blocked
    near = np.zeros((3, 12))
    near[1, 2], near[1, 5] = 5, 4
    got = places.merge_places(near, expected, near > 0, radius=1)
    assert [p.centre for p in got] == [14]


def test_not_significant_places_are_left_out() -> None:
    counts = np.array([[0.0, 2.0, 0.0]])
    expected = np.array([[1.0, 1.5, 1.0]])
    assert places.merge_places(counts, expected, counts > 0) == []  # P(X ≥ 2 | 1.5) ≈ 0.44


def test_the_local_mean_counts_only_the_study_area() -> None:
    counts = np.zeros((5, 5))
    counts[2, 2] = 9.0
    area = np.ones((5, 5), dtype=bool)
    area[0, :] = False
    local = places.expected_local(counts, area, radius=1)
    assert local[2, 2] == pytest.approx(1.0)  # 9 over the 9 cells around it
    assert local[1, 1] == pytest.approx(9.0 / 6)  # 6 of its 9 neighbours are in the area
    assert local[4, 4] == pytest.approx(places.PRIOR / 9)  # nothing near: the floor, not 0
