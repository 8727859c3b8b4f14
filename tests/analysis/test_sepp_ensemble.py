"""The self-exciting point process recovers simulated parameters; the ensemble's mixture fit."""

from __future__ import annotations

import math

import numpy as np

from qingzhi.analysis.ensemble import FeatureSpec, LearnedEnsemble, features, fit_mixture
from qingzhi.analysis.evaluation import Period, evaluate
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import series_on_grid
from qingzhi.analysis.grid import Grid
from qingzhi.analysis.sepp import SelfExcitingForecaster, candidate_pairs, fit_sepp

GRID = Grid(0.0, 0.0, 100.0, 50, 50)
T0 = float(np.datetime64("2023-01-01", "D").astype(np.int64))


def simulate_hawkes(
    rng: np.random.Generator, mu: float, theta: float, omega: float, sigma: float, days: float
) -> EventTable:
    """Background Poisson(mu per day) uniform on 5 km square; offspring by branching."""
    n0 = rng.poisson(mu * days)
    xs = list(rng.uniform(0, 5000, n0))
    ys = list(rng.uniform(0, 5000, n0))
    ts = list(rng.uniform(0, days, n0))
    queue = list(range(n0))
    while queue:
        i = queue.pop()
        for _ in range(rng.poisson(theta)):
            t = ts[i] + rng.exponential(1 / omega)
            x = xs[i] + rng.normal(0, sigma)
            y = ys[i] + rng.normal(0, sigma)
            if t < days and 0 <= x < 5000 and 0 <= y < 5000:
                xs.append(x)
                ys.append(y)
                ts.append(t)
                queue.append(len(ts) - 1)
    seconds = np.round((np.asarray(ts) + T0) * 86400).astype(np.int64)
    return EventTable(np.asarray(xs), np.asarray(ys), seconds.astype("datetime64[s]"))


def test_candidate_pairs_by_hand() -> None:
    x = np.array([0.0, 10.0, 1000.0, 5.0])
    y = np.zeros(4)
    t = np.array([0.0, 1.0, 1.5, 40.0])
    i, j = candidate_pairs(x, y, t, 100.0, 30.0)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1)]


def test_sepp_em_recovers_parameters() -> None:
    rng = np.random.default_rng(5)
    ev = simulate_hawkes(rng, mu=4.0, theta=0.4, omega=0.25, sigma=60.0, days=365)
    s = series_on_grid(ev, GRID)
    fit = fit_sepp(
        s,
        start=T0,
        end=T0 + 365,
        bg_bandwidth=600.0,
        max_distance=400.0,
        max_days=60.0,
        min_sigma=5.0,
    )
    assert abs(fit.theta - 0.4) < 0.08, fit
    assert abs(1 / fit.omega - 4.0) < 1.2, fit
    assert abs(fit.sigma - 60.0) < 12.0, fit
    assert abs(fit.mu - 4.0) < 0.6, fit


def test_sepp_forecast_raises_risk_after_an_event() -> None:
    rng = np.random.default_rng(9)
    ev = simulate_hawkes(rng, mu=3.0, theta=0.5, omega=0.3, sigma=50.0, days=200)
    s = series_on_grid(ev, GRID)
    day = int(T0) + 200
    f = SelfExcitingForecaster(window=200, bg_bandwidth=600.0, max_distance=400.0)
    z = f.predict(s, day)
    # Expected count per cell: background mass sums to mu; triggered adds the last days' share.
    fit = f.fitted(s, day)
    assert math.isclose(float(z.sum()), fit.mu + _triggered_total(s.t, day, fit), rel_tol=0.05)
    last = s.cell[-1]
    assert z[last] > np.median(z)


def _triggered_total(t: np.ndarray, day: int, fit) -> float:
    age = day - t[t >= day - 60]
    return float((fit.theta * np.exp(-fit.omega * age) * (1 - math.exp(-fit.omega))).sum())


def test_fit_mixture_recovers_weights() -> None:
    rng = np.random.default_rng(2)
    x = rng.gamma(1.0, 1.0, (20000, 3))
    w = np.array([0.5, 0.0, 0.2])
    y = rng.poisson(x @ w).astype(float)
    est = fit_mixture(x, y)
    assert np.all(est >= 0)
    assert np.allclose(est, w, atol=0.03)


def test_ensemble_learns_and_forecasts_stable_hotspot() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    hot = rng.random(n) < 0.5
    x = np.where(hot, 1250.0, rng.uniform(0, 5000, n))
    y = np.where(hot, 1250.0, rng.uniform(0, 5000, n))
    secs = ((T0 + rng.uniform(0, 300, n)) * 86400).astype(np.int64)
    s = series_on_grid(EventTable(x, y, secs.astype("datetime64[s]")), GRID)
    spec = FeatureSpec(windows=(28.0, 0.0), scales=(0.0,), weekday_windows=(), decays=())
    assert features(s, int(T0) + 100, spec).shape == (GRID.n_cells, 2)
    ens = LearnedEnsemble(spec).fit(s, int(T0) + 200, 50)
    assert ens.coef is not None and np.all(ens.coef >= 0)
    r = evaluate(s, ens, Period(int(T0) + 250, 30), coverages=(1.0,))
    assert r.hit_rate[0] > 0.45  # half the events are in the one hot cell
