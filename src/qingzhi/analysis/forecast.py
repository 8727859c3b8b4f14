"""Shared types for prospective hotspot forecasting: the event history on a grid and forecasters.

A ``SeriesData`` is one crime series already placed on a ``Grid``: times in fractional days since
1970-01-01 (local), sorted, with each event's flat cell index. A ``Forecaster`` turns the history
before a day into a score per cell for that day. The evaluation protocol hands each forecaster only
``history.before(day)``, so no method can see the day it forecasts.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qingzhi.analysis.events import EventTable
from qingzhi.analysis.grid import Grid

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SeriesData:
    """Time-sorted events on a grid: t in days since epoch, x, y in metres, flat cell index."""

    grid: Grid
    t: FloatArray
    x: FloatArray
    y: FloatArray
    cell: NDArray[np.int64]
    context: SeriesData | None = None

    def __len__(self) -> int:
        return len(self.t)

    def before(self, day: float) -> SeriesData:
        """The events strictly before ``day`` (and the context's, likewise)."""
        n = int(np.searchsorted(self.t, day, side="left"))
        ctx = None if self.context is None else self.context.before(day)
        return SeriesData(self.grid, self.t[:n], self.x[:n], self.y[:n], self.cell[:n], ctx)

    def since(self, day: float) -> SeriesData:
        """The events at or after ``day`` (context too)."""
        n = int(np.searchsorted(self.t, day, side="left"))
        ctx = None if self.context is None else self.context.since(day)
        return SeriesData(self.grid, self.t[n:], self.x[n:], self.y[n:], self.cell[n:], ctx)

    def counts(self, weights: FloatArray | None = None) -> FloatArray:
        """(Weighted) events per cell as a flat array; events outside the grid are ignored."""
        inside = self.cell >= 0
        w = None if weights is None else weights[inside]
        return np.bincount(self.cell[inside], weights=w, minlength=self.grid.n_cells).astype(
            np.float64
        )


def series_on_grid(events: EventTable, grid: Grid, context: EventTable | None = None) -> SeriesData:
    """Place an event table (and an optional context table) on a grid, sorted by time."""
    ev = events.sorted_by_time()
    ctx = None if context is None else series_on_grid(context, grid)
    return SeriesData(grid, ev.t_days, ev.x, ev.y, grid.flat_index(ev.x, ev.y), ctx)


class Forecaster(ABC):
    """A method that scores every cell of the grid for one day from the history before it."""

    name: str = "forecaster"

    @abstractmethod
    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Score per cell (flat, length grid.n_cells) for ``day``; history is before ``day``."""

    def params(self) -> dict[str, float | int | str]:
        """The method's settings, for reports."""
        return {}

    def history(self) -> dict[str, float | int | str]:
        """The history the method forecasts from, for reports: ``window_days`` (days before the
        forecast day, or ``"all"``) and, for a method that learns, ``fit_days`` (the days before
        the first forecast day its weights were fitted on)."""
        return {"window_days": "all"}
