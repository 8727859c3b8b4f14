"""The hotspot-forecast evaluation protocol (hit rate and PAI at fixed area coverage).

Protocol (fixed so results compare with other implementations):

* square cells (default 150 m) in a projected CRS with origin at the floor of the minimum x and y
  of all located events of the series (``grid.grid_for``);
* the study mask is the series' cells with at least one event before the evaluation start;
* one forecast per day D of the period from events before D 00:00 only;
* for each coverage k% the top ``ceil(k% * masked cells)`` cells by score are chosen (ties go to
  the lower flat index); hits are the events of day D in chosen cells, total the events of day D in
  masked cells;
* reported: pooled hit rate (sum of hits / sum of totals), PAI = hit rate / (k / 100)
  (Chainey, Tompson & Uhlig 2008), the mean of daily hit rates (days with events), the history
  each method used, and its times: the daily forecasts, the fit of a method that learns, and the
  tuning of its settings.

The hindsight bound (上限（事后）) ranks cells by the period's own counts: it is not a forecast
(it looks at the days it scores), but no forecast can do better with one fixed ranking, and it
shows how much of the gap a method closes. Its results are marked ``bound``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from qingzhi.analysis.forecast import Forecaster, SeriesData

log = logging.getLogger(__name__)

DEFAULT_COVERAGES: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0)


def n_selected(coverage_percent: float, n_masked: int) -> int:
    """Number of cells for a coverage: ceil(k% * masked cells), at least 1, exact for integers."""
    k = float(coverage_percent)
    if k.is_integer():
        n = (int(k) * n_masked + 99) // 100
    else:
        n = int(np.ceil(k * n_masked / 100.0 - 1e-9))
    return max(1, min(n, n_masked))


def rank_cells(scores: NDArray[np.float64], cells: NDArray[np.int64]) -> NDArray[np.int64]:
    """Order ``cells`` by descending score, ties by lower flat index (cells must be ascending)."""
    s = np.nan_to_num(scores[cells], nan=-np.inf)
    return cells[np.argsort(-s, kind="stable")]


@dataclass(frozen=True)
class MethodResult:
    """Per-day hits and totals of one method over the evaluation period."""

    name: str
    coverages: tuple[float, ...]
    days: tuple[str, ...]
    hits: NDArray[np.int64]  # (n_days, n_coverages)
    totals: NDArray[np.int64]  # (n_days,)
    n_masked: int
    wall_time: float  # the daily forecasts, seconds
    params: dict[str, float | int | str] = field(default_factory=dict)
    fit_time: float = 0.0  # fitting a learned method before the period
    tune_time: float = 0.0  # choosing its settings on validation periods
    history: dict[str, float | int | str] = field(default_factory=dict)
    bound: bool = False  # the hindsight bound, not a forecast

    @property
    def total_time(self) -> float:
        """Seconds for tuning, fitting and the daily forecasts."""
        return self.tune_time + self.fit_time + self.wall_time

    @property
    def hit_rate(self) -> NDArray[np.float64]:
        """Pooled hit rate per coverage: sum of hits over sum of totals."""
        total = int(self.totals.sum())
        if total == 0:
            return np.zeros(len(self.coverages))
        return np.asarray(self.hits.sum(axis=0) / total, dtype=np.float64)

    @property
    def pai(self) -> NDArray[np.float64]:
        """Predictive accuracy index per coverage: hit rate / area share."""
        return self.hit_rate / (np.asarray(self.coverages) / 100.0)

    @property
    def mean_daily_hit_rate(self) -> NDArray[np.float64]:
        """Mean over days with at least one event of the day's hit rate, per coverage."""
        ok = self.totals > 0
        if not ok.any():
            return np.zeros(len(self.coverages))
        return np.asarray((self.hits[ok] / self.totals[ok, None]).mean(axis=0), dtype=np.float64)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready summary with per-day hits and totals."""
        return {
            "method": self.name,
            "params": self.params,
            "coverages": list(self.coverages),
            "n_masked_cells": self.n_masked,
            "n_events": int(self.totals.sum()),
            "hit_rate": [round(float(v), 6) for v in self.hit_rate],
            "pai": [round(float(v), 4) for v in self.pai],
            "mean_daily_hit_rate": [round(float(v), 6) for v in self.mean_daily_hit_rate],
            "bound": self.bound,
            "history": self.history,
            "forecast_time_s": round(self.wall_time, 3),
            "fit_time_s": round(self.fit_time, 3),
            "tune_time_s": round(self.tune_time, 3),
            "wall_time_s": round(self.total_time, 3),
            "daily": [
                {"day": d, "total": int(tot), "hits": [int(h) for h in hits]}
                for d, tot, hits in zip(self.days, self.totals, self.hits, strict=True)
            ],
        }


@dataclass(frozen=True)
class Period:
    """An evaluation period: the first day (days since epoch) and the number of days."""

    start: int
    days: int

    @staticmethod
    def of(start: str, days: int) -> Period:
        """A period from an ISO date and a number of days."""
        return Period(int(np.datetime64(start, "D").astype(np.int64)), int(days))

    def labels(self) -> tuple[str, ...]:
        """ISO dates of the period's days."""
        return tuple(str(np.datetime64(self.start + i, "D")) for i in range(self.days))


def study_mask(series: SeriesData, start: int) -> NDArray[np.int64]:
    """Flat indices (ascending) of cells with at least one event before ``start``."""
    return np.flatnonzero(series.before(start).counts() > 0).astype(np.int64)


def _score_day(
    order: NDArray[np.int64],
    day_counts: NDArray[np.float64],
    n_sel: Sequence[int],
) -> NDArray[np.int64]:
    cum = np.cumsum(day_counts[order])
    return np.asarray([round(float(cum[n - 1])) for n in n_sel], dtype=np.int64)


def evaluate(
    series: SeriesData,
    forecaster: Forecaster,
    period: Period,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
) -> MethodResult:
    """Run the daily protocol for one forecaster over the period."""
    mask = study_mask(series, period.start)
    n_sel = [n_selected(k, len(mask)) for k in coverages]
    in_mask = np.zeros(series.grid.n_cells, dtype=bool)
    in_mask[mask] = True
    hits = np.zeros((period.days, len(coverages)), dtype=np.int64)
    totals = np.zeros(period.days, dtype=np.int64)
    began = time.perf_counter()
    for i in range(period.days):
        day = period.start + i
        today = series.before(day + 1).since(day)
        day_counts = today.counts()
        totals[i] = int(day_counts[mask].sum())
        scores = forecaster.predict(series.before(day), day)
        hits[i] = _score_day(rank_cells(scores, mask), day_counts, n_sel)
    wall = time.perf_counter() - began
    log.info("%s: %.1f s for %d days", forecaster.name, wall, period.days)
    return MethodResult(
        forecaster.name,
        tuple(float(k) for k in coverages),
        period.labels(),
        hits,
        totals,
        len(mask),
        wall,
        forecaster.params(),
        history=forecaster.history(),
    )


def evaluate_hindsight(
    series: SeriesData,
    period: Period,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
) -> MethodResult:
    """The hindsight bound: every day ranks cells by the whole period's own counts."""
    began = time.perf_counter()
    future = series.before(period.start + period.days).since(period.start).counts()

    class _Hindsight(Forecaster):
        name = "hindsight"

        def predict(self, history: SeriesData, day: int) -> NDArray[np.float64]:
            return future

    result = evaluate(series, _Hindsight(), period, coverages)
    return replace(
        result,
        wall_time=time.perf_counter() - began,
        params={},
        history={"window_days": 0, "uses": "the evaluation period's own events"},
        bound=True,
    )
