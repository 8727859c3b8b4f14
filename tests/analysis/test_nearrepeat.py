"""Knox test: finds contagion in simulated contagious data, none in a homogeneous Poisson."""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis.nearrepeat import knox_test


def _poisson(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return rng.uniform(0, 5000, n), rng.uniform(0, 5000, n), rng.uniform(0, 365, n)


def test_knox_hand_computed_counts() -> None:
    x = np.array([0.0, 50.0, 1000.0])
    y = np.zeros(3)
    t = np.array([0.0, 3.0, 10.0])
    r = knox_test(x, y, t, (0.0, 100.0), (0.0, 7.0, 14.0), permutations=9)
    assert r.observed.tolist() == [[1, 0]]  # one pair within 100 m, 3 days apart


def test_knox_finds_contagion() -> None:
    rng = np.random.default_rng(7)
    x, y, t = _poisson(rng, 400)
    # Each of 150 parents gets a near repeat within 50 m and 5 days.
    k = rng.choice(400, 150, replace=False)
    cx = x[k] + rng.uniform(-35, 35, 150)
    cy = y[k] + rng.uniform(-35, 35, 150)
    ct = t[k] + rng.uniform(0, 5, 150)
    r = knox_test(
        np.r_[x, cx], np.r_[y, cy], np.r_[t, ct], (0, 100, 200, 400), (0, 7, 14, 28), 99, seed=1
    )
    assert r.significant()[0, 0]
    assert r.ratio[0, 0] > 3
    assert not r.significant()[2, 2]


def test_knox_quiet_on_homogeneous_poisson() -> None:
    flagged = 0
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        x, y, t = _poisson(rng, 600)
        r = knox_test(x, y, t, (0, 100, 200, 400), (0, 7, 14, 28), 99, seed=seed)
        flagged += int(r.significant(0.05).sum())
        big = r.expected >= 30  # bands with enough pairs for the ratio to be stable
        assert big.any() and np.all(np.abs(r.ratio[big] - 1.0) < 0.3)
    # 5 runs x 9 bands at 5%: about 2 false flags expected by chance.
    assert flagged <= 6


def test_close_pairs_are_counted_as_the_test_lists_them() -> None:
    from qingzhi.analysis.nearrepeat import count_close_pairs

    x = np.array([0.0, 50.0, 1000.0, 1060.0, 5000.0])
    y = np.zeros(5)
    assert count_close_pairs(x, y, 100.0) == 2  # (0, 50) and (1000, 1060)
    assert count_close_pairs(x, y, 1060.0) == 6  # ... and 0-1000, 0-1060, 50-1000, 50-1060
    assert count_close_pairs(x[:1], y[:1], 100.0) == 0
    rng = np.random.default_rng(3)
    xs, ys, ts = _poisson(rng, 300)
    r = knox_test(xs, ys, ts, (0.0, 250.0, 500.0), (0.0, 400.0), permutations=9)
    assert int(r.observed.sum()) <= count_close_pairs(xs, ys, 500.0)
    with pytest.raises(ValueError, match="finite"):
        knox_test(xs, ys, ts, (0.0, float("inf")), (0.0, 7.0), permutations=9)
