"""The evaluation protocol on a hand-computed case, and the naive and standard forecasters."""

from __future__ import annotations

import math

import numpy as np

from qingzhi.analysis.evaluation import (
    Period,
    evaluate,
    evaluate_hindsight,
    n_selected,
    rank_cells,
    study_mask,
)
from qingzhi.analysis.events import make_events
from qingzhi.analysis.forecast import FloatArray, Forecaster, SeriesData, series_on_grid
from qingzhi.analysis.grid import Grid
from qingzhi.analysis.prediction import (
    KernelDensity,
    NaiveCounts,
    ProspectiveHotspot,
    kernel_stencil,
)

GRID = Grid(0.0, 0.0, 100.0, 4, 1)  # four cells in a row: 0..3


def _series(xs: list[float], days: list[str]) -> SeriesData:
    return series_on_grid(make_events(xs, [50.0] * len(xs), days), GRID)


def test_n_selected_is_exact_ceiling() -> None:
    assert n_selected(1, 4470) == 45
    assert n_selected(1, 4400) == 44
    assert n_selected(5, 2680) == 134
    assert n_selected(1, 10) == 1
    assert n_selected(20, 3) == 1


def test_rank_ties_go_to_lower_index() -> None:
    scores = np.array([1.0, 3.0, 3.0, 0.0, 3.0])
    assert list(rank_cells(scores, np.array([0, 1, 2, 4]))) == [1, 2, 4, 0]


def test_protocol_hand_computed() -> None:
    # History: cell 1 has two events, cell 2 one; cell 3 only gets events in the period,
    # so it is outside the study mask.
    s = _series(
        [150.0, 160.0, 250.0, 350.0, 150.0, 250.0, 250.0, 50.0],
        [
            "2024-01-01T10:00",
            "2024-01-02T10:00",
            "2024-01-03T10:00",
            "2024-01-10T00:00",  # day 1 of the period, cell 3 (unmasked)
            "2024-01-10T05:00",  # day 1, cell 1
            "2024-01-10T23:59",  # day 1, cell 2
            "2024-01-11T00:00",  # day 2, cell 2
            "2024-01-11T12:00",  # day 2, cell 0 (masked? no: no history)
        ],
    )
    period = Period.of("2024-01-10", 2)
    assert list(study_mask(s, period.start)) == [1, 2]
    r = evaluate(s, NaiveCounts(365), period, coverages=(50.0, 100.0))
    # One cell at 50% of 2 masked cells. Day 1: naive ranks cell 1 (2 events) first -> 1 hit of
    # 2 masked events. Day 2: cell 1 has 3, cell 2 has 2 -> cell 1, 0 hits of 1.
    assert r.totals.tolist() == [2, 1]
    assert r.hits.tolist() == [[1, 2], [0, 1]]
    assert np.allclose(r.hit_rate, [1 / 3, 1.0])
    assert np.allclose(r.pai, [2 / 3, 1.0])
    assert np.allclose(r.mean_daily_hit_rate, [0.25, 1.0])
    h = evaluate_hindsight(s, period, coverages=(50.0,))
    # The period's own counts: cell 2 has 2, cell 1 has 1 -> cell 2 chosen: 1 + 1 hits of 3.
    assert h.hits[:, 0].tolist() == [1, 1]
    d = r.to_dict()
    assert d["daily"] == [
        {"day": "2024-01-10", "total": 2, "hits": [1, 2]},
        {"day": "2024-01-11", "total": 1, "hits": [0, 1]},
    ]


class _Peeker(Forecaster):
    name = "peeker"

    def __init__(self) -> None:
        self.latest: list[float] = []

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        self.latest.append(float(history.t.max()) - day)
        return np.zeros(history.grid.n_cells)


def test_forecasters_never_see_the_day() -> None:
    s = _series([150.0, 150.0, 150.0], ["2024-01-01", "2024-01-02T00:00", "2024-01-03T12:00"])
    peek = _Peeker()
    evaluate(s, peek, Period.of("2024-01-02", 2))
    assert all(v < 0 for v in peek.latest)


def test_naive_window() -> None:
    s = _series([50.0, 150.0, 150.0], ["2022-12-31T23:00", "2023-12-20", "2023-12-30"])
    day = Period.of("2024-01-01", 1).start
    assert NaiveCounts(365).predict(s, day).tolist() == [0.0, 2.0, 0.0, 0.0]
    assert NaiveCounts(5).predict(s, day).tolist() == [0.0, 1.0, 0.0, 0.0]
    assert NaiveCounts(None).predict(s, day).tolist() == [1.0, 2.0, 0.0, 0.0]


def test_prospective_hotspot_hand_computed() -> None:
    # One event in cell 1 ten days ago (week 1): own cell 1/(1+0)*1/2, neighbours 1/2*1/2,
    # two cells away 1/3*1/2 if the band reaches 200 m.
    s = _series([150.0], ["2023-12-22T06:00"])
    day = Period.of("2024-01-01", 1).start
    p = ProspectiveHotspot(bandwidth=200.0, window=56).predict(s, day)
    assert np.allclose(p, [0.25, 0.5, 0.25, 1 / 6])
    p = ProspectiveHotspot(bandwidth=100.0, window=56).predict(s, day)
    assert np.allclose(p, [0.25, 0.5, 0.25, 0.0])
    assert np.allclose(ProspectiveHotspot(400.0, window=7).predict(s, day), 0.0)


def test_kernel_stencil_and_kde_decay() -> None:
    k = kernel_stencil("quartic", 100.0, 50.0)
    assert k.shape == (5, 5) and math.isclose(float(k.sum()), 1.0)
    assert k[2, 2] == k.max() and k[0, 2] == 0.0  # quartic is zero at the bandwidth
    grid = Grid(0.0, 0.0, 100.0, 7, 7)
    ev = make_events([350.0, 50.0], [350.0, 50.0], ["2023-12-31", "2023-12-01"])
    s = series_on_grid(ev, grid)
    day = Period.of("2024-01-01", 1).start
    kde = KernelDensity(bandwidth=50.0, tau=10.0, kernel="gaussian", sub=1)
    z = kde.predict(s, day).reshape(7, 7)
    # Weights: exp(-1/10) at the centre, exp(-31/10) in the corner; the kernels (reach 3 h =
    # 150 m, two cells) do not overlap, and each peak is the stencil's centre value.
    centre = kernel_stencil("gaussian", 50.0, 100.0)
    c = centre[centre.shape[0] // 2, centre.shape[1] // 2]
    assert math.isclose(z[3, 3], math.exp(-0.1) * c, rel_tol=1e-9)
    assert math.isclose(z[0, 0], math.exp(-3.1) * c, rel_tol=1e-9)
    assert math.isclose(z[3, 2], z[2, 3]) and z[3, 2] < z[3, 3]
    assert z[3, 6] == 0.0
    flat = KernelDensity(bandwidth=50.0, sub=1).predict(s, day).reshape(7, 7)
    assert math.isclose(flat[3, 3], flat[0, 0], rel_tol=1e-9)
