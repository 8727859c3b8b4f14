"""Gi* and the Benjamini-Hochberg procedure on hand-computed cases; kernel density mass."""

from __future__ import annotations

import math

import numpy as np

from qingzhi.analysis.grid import Grid
from qingzhi.analysis.hotspots import benjamini_hochberg, density_surface, gi_star


def test_benjamini_hochberg_hand_computed() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.20, 0.001])
    # Sorted: 0.001, 0.01, 0.03, 0.04, 0.20 against q*i/m = 0.01, 0.02, 0.03, 0.04, 0.05:
    # the largest i with p_(i) <= q*i/m is 4, so the four smallest are rejected.
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True, True, False, True]
    assert not benjamini_hochberg(np.array([0.5, 0.06]), 0.05).any()


def test_gi_star_hand_computed() -> None:
    x = np.zeros((5, 5))
    x[2, 2] = 9.0
    r = gi_star(x, radius_cells=1.5)
    n = 25
    xbar = 9 / n
    s = math.sqrt(81 / n - xbar**2)
    w = 9  # the centre's 3x3 neighbourhood lies inside the grid
    expected = (9 - xbar * w) / (s * math.sqrt((n * w - w * w) / (n - 1)))
    assert math.isclose(r.z[2, 2], expected)
    corner_w = 4
    corner = (0 - xbar * corner_w) / (s * math.sqrt((n * corner_w - corner_w**2) / (n - 1)))
    assert math.isclose(r.z[0, 0], corner)


def test_gi_star_fdr_finds_planted_hotspot_only() -> None:
    rng = np.random.default_rng(3)
    x = rng.poisson(2.0, (40, 40)).astype(float)
    x[10:13, 10:13] += 12
    r = gi_star(x, radius_cells=1.5, q=0.05)
    assert r.hot[11, 11]
    far = r.hot.copy()
    far[8:15, 8:15] = False
    assert far.sum() <= 3  # FDR 5%: hardly any false hot cells away from the planted one
    quiet = gi_star(rng.poisson(2.0, (40, 40)).astype(float), q=0.05)
    assert quiet.hot.sum() <= 3


def test_density_surface_integrates_to_events() -> None:
    g = Grid(0.0, 0.0, 100.0, 30, 30)
    xs = np.array([1500.0, 1520.0, 900.0])
    ys = np.array([1500.0, 1480.0, 1000.0])
    d = density_surface(g, xs, ys, bandwidth=200.0, kernel="quartic")
    total = float(d.sum()) * (100.0 * 100.0) / 1e6  # per km² times km² per cell
    assert math.isclose(total, 3.0, rel_tol=1e-6)
    assert d[15, 15] == d.max()
