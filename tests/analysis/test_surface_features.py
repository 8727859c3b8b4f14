"""Named surface features (cell, neighbour rings, windows, decays, context) and the weighted fit."""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis.ensemble import fit_loglinear, surface_features
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import series_on_grid
from qingzhi.analysis.grid import Grid

GRID = Grid(0.0, 0.0, 100.0, 20, 20)
T0 = int(np.datetime64("2023-01-01", "D").astype(np.int64))


def _series() -> tuple[EventTable, EventTable]:
    # cell 0 twice (day 0 and day 1), cell 1 (day 1, 13:00), cell 22 = row 1, col 2 (day 0)
    t = np.array(
        ["2023-01-01T12:00", "2023-01-02T12:00", "2023-01-02T13:00", "2023-01-01T06:00"],
        "datetime64[s]",
    )
    own = EventTable(np.array([50.0, 50.0, 150.0, 250.0]), np.array([50.0, 50.0, 50.0, 150.0]), t)
    # context: the same four events plus four in the far corner cell 399
    far = np.full(4, 1950.0)
    ctx = EventTable(
        np.concatenate([own.x, far]),
        np.concatenate([own.y, far]),
        np.concatenate([t, np.full(4, np.datetime64("2023-01-01T00:00", "s"))]),
    )
    return own, ctx


def test_surface_features_by_hand() -> None:
    own, ctx = _series()
    s = series_on_grid(own, GRID, ctx)
    day = T0 + 3
    names = ["s:all:c", "s:all:r1", "s:all:r2", "s:w2:c", "s:d10:c", "x:all:c", "x:all:r1"]
    f = surface_features(s.before(day), day, names)
    assert f.shape == (GRID.n_cells, len(names))
    assert f[0, 0] == pytest.approx(np.log(3.0))
    # cell 21 (row 1, col 1): its 8 neighbours hold 2 + 1 + 1 events
    assert f[21, 1] == pytest.approx(np.log1p(4 / 8))
    # cell 0: of the cells at distance 2 only cell 22 is inside the grid with an event
    assert f[0, 2] == pytest.approx(np.log1p(1 / 16))
    # the last 2 days (from day 1 00:00): one event in cell 0
    assert f[0, 3] == pytest.approx(np.log(2.0))
    assert f[1, 4] == pytest.approx(np.log1p(np.exp(-(3.0 - (1.0 + 13 / 24)) / 10.0)))
    # context rescaled by 4 own / 8 context events
    assert f[399, 5] == pytest.approx(np.log1p(4 * 0.5))
    assert f[0, 5] == pytest.approx(np.log1p(2 * 0.5))
    assert f[378, 6] == pytest.approx(np.log1p(4 * 0.5 / 8))  # row 18, col 18 touches 399
    assert f[200, :].tolist() == [0.0] * len(names)


def test_surface_features_reject_bad_names() -> None:
    own, _ = _series()
    s = series_on_grid(own, GRID)
    with pytest.raises(ValueError, match="context"):
        surface_features(s, T0 + 3, ["x:all:c"])
    with pytest.raises(ValueError):
        surface_features(s, T0 + 3, ["s:all:r9"])
    with pytest.raises(ValueError):
        surface_features(s, T0 + 3, ["s:m3:c"])
    with pytest.raises(ValueError):
        surface_features(s, T0 + 3, ["q:all:c"])


def test_fit_loglinear_weights_and_ridge() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0.0, 1.0, (4000, 2))
    y = rng.poisson(np.exp(-0.5 + x @ np.array([0.7, -0.2]))).astype(float)
    w = (rng.random(4000) < 0.5).astype(float)
    keep = w > 0
    # zero weights drop rows; a weight of two counts a row twice
    assert np.allclose(fit_loglinear(x, y, w), fit_loglinear(x[keep], y[keep]), atol=1e-4)
    doubled = fit_loglinear(np.vstack([x, x[keep]]), np.concatenate([y, y[keep]]))
    assert np.allclose(fit_loglinear(x, y, 1.0 + w), doubled, atol=1e-4)
    plain = fit_loglinear(x, y)
    shrunk = fit_loglinear(x, y, ridge=10.0)
    assert np.all(np.abs(shrunk[1:]) < 0.2 * np.abs(plain[1:]))
