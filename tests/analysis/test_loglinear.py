"""The log-linear ensemble, rolling-origin tuning, BH q-values and the scan's baseline helper."""

from __future__ import annotations

import numpy as np
import pytest

from qingzhi.analysis.ensemble import (
    KERNEL_FEATURES,
    SMOOTH_FEATURES,
    LogLinearEnsemble,
    fit_loglinear,
)
from qingzhi.analysis.evaluation import Period, evaluate
from qingzhi.analysis.events import EventTable
from qingzhi.analysis.forecast import series_on_grid
from qingzhi.analysis.grid import Grid
from qingzhi.analysis.hotspots import benjamini_hochberg, bh_qvalues
from qingzhi.analysis.methods import RECOMMENDED, make_forecaster, pooled, tune
from qingzhi.analysis.warning import scan_baseline

GRID = Grid(0.0, 0.0, 100.0, 20, 20)
T0 = float(np.datetime64("2023-01-01", "D").astype(np.int64))


def test_fit_loglinear_recovers_coefficients() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, (40000, 2))
    beta = np.array([-1.0, 0.8, -0.3])
    y = rng.poisson(np.exp(beta[0] + x @ beta[1:])).astype(float)
    assert np.allclose(fit_loglinear(x, y), beta, atol=0.03)


def test_fits_are_the_same_whatever_the_blas_threads() -> None:
    # Nearly collinear columns, as the surface features are; enough rows that OpenBLAS splits
    # its products over threads. The fits pin their own threads, so the caller's setting (the
    # machine's cores, a test worker, a loaded server) does not change a bit of the result.
    from threadpoolctl import threadpool_limits

    from qingzhi.analysis.ensemble import fit_mixture

    rng = np.random.default_rng(1)
    base = rng.gamma(0.3, 1.0, 200_000)
    x = np.log1p(np.column_stack([base * rng.uniform(0.9, 1.1, len(base)) for _ in range(8)]))
    y = rng.poisson(np.exp(-3 + 0.5 * x[:, 0] + 0.3 * x[:, 1])).astype(float)
    fits = []
    for threads in (1, 2):
        with threadpool_limits(threads, user_api="blas"):
            fits.append((fit_loglinear(x, y), fit_mixture(np.expm1(x), y)))
    assert np.array_equal(fits[0][0], fits[1][0])
    assert np.array_equal(fits[0][1], fits[1][1])


def _events(rng: np.random.Generator, n: int, hot_share: float, days: float) -> EventTable:
    hot = rng.random(n) < hot_share
    x = np.where(hot, 1050.0, rng.uniform(0, 2000, n))
    y = np.where(hot, 1050.0, rng.uniform(0, 2000, n))
    secs = ((T0 + rng.uniform(0, days, n)) * 86400).astype(np.int64)
    return EventTable(x, y, secs.astype("datetime64[s]"))


def test_loglinear_feature_sets_drop_context_without_one() -> None:
    rng = np.random.default_rng(2)
    ev = _events(rng, 300, 0.3, 100.0)
    plain = series_on_grid(ev, GRID)
    with_ctx = series_on_grid(ev, GRID, ev)
    day = int(T0) + 60
    ens = LogLinearEnsemble(SMOOTH_FEATURES).fit(plain, day - 30, 30)
    assert list(ens.params())[1:] == [f for f in SMOOTH_FEATURES if not f.startswith("x:")]
    assert ens.predict(plain.before(day), day).shape == (GRID.n_cells,)
    with pytest.raises(ValueError, match="context"):
        ens.predict(with_ctx.before(day), day)
    assert list(LogLinearEnsemble().fit(with_ctx, day - 30, 30).params())[1:] == list(
        KERNEL_FEATURES
    )


def test_loglinear_ensemble_forecasts_the_stable_hotspot() -> None:
    rng = np.random.default_rng(5)
    s = series_on_grid(_events(rng, 2000, 0.4, 300.0), GRID)
    ens = LogLinearEnsemble().fit(s, int(T0) + 200, 60)
    assert ens.coef is not None and ens.coef[1] > 0  # more past events, more risk
    assert list(ens.params())[:2] == ["intercept", "s:all:c"]
    r = evaluate(s, ens, Period(int(T0) + 260, 30), coverages=(1.0,))
    assert r.hit_rate[0] > 0.35  # 40% of events fall in the one hot cell
    with pytest.raises(RuntimeError):
        LogLinearEnsemble().predict(s, int(T0) + 10)


def test_tune_pools_several_validation_periods() -> None:
    rng = np.random.default_rng(6)
    s = series_on_grid(_events(rng, 1500, 0.3, 300.0), GRID)
    periods = [Period(int(T0) + 200, 20), Period(int(T0) + 220, 20)]
    params, result = tune("naive", s, periods)
    assert "window" in params
    assert len(result.days) == 40 and len(result.totals) == 40
    singles = [evaluate(s, make_forecaster("naive", 365.0, params), p) for p in periods]
    both = pooled(singles)
    assert np.array_equal(both.hits, result.hits)
    assert int(both.totals.sum()) == sum(int(r.totals.sum()) for r in singles)
    assert RECOMMENDED == "ensemble"
    with pytest.raises(ValueError):
        tune("naive", s, [])


def test_bh_qvalues_hand_computed() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 -> 0.04, 0.06, 0.0533, 0.5 -> step-up minimum 0.04, .0533 x2
    q = bh_qvalues(p)
    assert np.allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    for level in (0.01, 0.04, 0.05, 0.06, 0.6):
        assert np.array_equal(q <= level, benjamini_hochberg(p, level))


def test_scan_baseline_by_hand() -> None:
    # four cells, 14 history days (Mondays first): cell 0 has 3 events, cell 1 has 1, cells 2
    # and 3 none
    history = np.zeros((4, 14))
    history[0, [0, 7, 3]] = 1.0
    history[1, 7] = 1.0
    weekdays = np.arange(14) % 7
    base = scan_baseline(history.sum(axis=1), history.sum(axis=0), weekdays, np.array([0, 1]))
    rate = 4 / 14  # events per day
    monday = (3 + 1) / (rate * 2 + 1)  # two Mondays held 3 events (plus one pseudo-event)
    tuesday = 1 / (rate * 2 + 1)  # none on Tuesdays: shrunk, never zero
    # Good-Turing: 1 of the 4 events is alone in its cell, so a new event falls in a cell
    # without history with chance 1/4, shared by cells 2 and 3; cells 0 and 1 share 3/4.
    share = np.array([0.75 * 3 / 4, 0.75 * 1 / 4, 0.125, 0.125])
    assert np.allclose(base[:, 0], share * rate * monday)
    assert np.allclose(base[:, 1], share * rate * tuesday)
    assert float(base[:, 0].sum()) == pytest.approx(8 / 11)


def test_scan_baseline_shares_without_singletons() -> None:
    weekdays = np.zeros(2, dtype=np.int64)
    # no cell with exactly one event: one pseudo-event, 1 / (4 + 1), for the empty cell
    base = scan_baseline(np.array([2.0, 2.0, 0.0]), np.array([4.0, 0.0]), weekdays, weekdays[:1])
    assert np.allclose(base[:, 0] / base[:, 0].sum(), [0.4, 0.4, 0.2])
    # every cell has history: no share for new places
    base = scan_baseline(np.array([1.0, 3.0]), np.array([2.0, 2.0]), weekdays, weekdays[:1])
    assert np.allclose(base[:, 0] / base[:, 0].sum(), [0.25, 0.75])
    # no history at all: even shares at one event over the history's days
    base = scan_baseline(np.zeros(4), np.zeros(2), weekdays, weekdays[:1])
    assert np.allclose(base[:, 0], 0.125)
    with pytest.raises(ValueError, match="weekday"):
        scan_baseline(np.ones(2), np.ones(2), weekdays[:1], weekdays[:1])
    with pytest.raises(ValueError, match="same events"):
        scan_baseline(np.ones(2), np.ones(3), np.zeros(3, dtype=np.int64), weekdays[:1])
