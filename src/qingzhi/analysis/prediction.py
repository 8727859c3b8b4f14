"""Standard prospective hotspot forecasters: naive counts, time-decayed kernel density and the
prospective hotspot of Bowers, Johnson & Pease (2004).

* ``NaiveCounts`` scores a cell by its events in the last ``window`` days: the baseline every
  method must beat (it is how most crime maps are read).
* ``KernelDensity`` is a retrospective kernel density estimate (Gaussian or quartic kernel of
  bandwidth ``h``) in which an event ``a`` days old has weight ``exp(-a / tau)``: time decay turns
  the retrospective surface into a prospective one. Events are binned on a sub-grid of
  ``cell / sub`` metres, smoothed by convolution and each cell's score is the mean density over it.
* ``ProspectiveHotspot`` follows Bowers, Johnson & Pease (2004), "Prospective hot-spotting: the
  future of crime mapping?" (Brit. J. Criminol. 44:641): every event within ``bandwidth`` metres and
  ``window`` days adds ``1 / (1 + d) * 1 / (1 + w)`` to a cell, with ``d`` the distance in cell
  widths from the cell centre and ``w`` the age in whole weeks, so risk spreads to neighbours and
  fades over weeks, as burglary risk does (near-repeat victimisation).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy import signal

from qingzhi.analysis.forecast import FloatArray, Forecaster, SeriesData

log = logging.getLogger(__name__)


def _window(history: SeriesData, day: int, days: float | None) -> SeriesData:
    return history if days is None else history.since(day - days)


def _fine_counts(history: SeriesData, sub: int, weights: FloatArray | None = None) -> FloatArray:
    """Weighted counts on a sub-grid ``sub`` times finer than the grid, shape (ny*sub, nx*sub)."""
    g = history.grid
    fine = g.cell / sub
    col = np.floor((history.x - g.x0) / fine).astype(np.int64)
    row = np.floor((history.y - g.y0) / fine).astype(np.int64)
    nxf, nyf = g.nx * sub, g.ny * sub
    ok = (col >= 0) & (col < nxf) & (row >= 0) & (row < nyf)
    w = None if weights is None else weights[ok]
    flat = np.bincount(row[ok] * nxf + col[ok], weights=w, minlength=nxf * nyf)
    return flat.astype(np.float64).reshape(nyf, nxf)


def _cell_means(fine: FloatArray, sub: int) -> FloatArray:
    """Average a sub-grid surface over each grid cell; returns a flat array."""
    nyf, nxf = fine.shape
    means = fine.reshape(nyf // sub, sub, nxf // sub, sub).mean(axis=(1, 3))
    return np.asarray(means, dtype=np.float64).ravel()


def kernel_stencil(kind: str, bandwidth: float, spacing: float) -> FloatArray:
    """A 2-D kernel sampled at ``spacing`` metres (unnormalised shape; sums to one)."""
    if kind == "gaussian":
        reach = 3.0 * bandwidth
    elif kind == "quartic":
        reach = bandwidth
    else:
        raise ValueError(f"unknown kernel {kind!r}")
    r = max(1, math.ceil(reach / spacing))
    offs = np.arange(-r, r + 1) * spacing
    dx, dy = np.meshgrid(offs, offs)
    d2 = dx * dx + dy * dy
    if kind == "gaussian":
        k = np.exp(-0.5 * d2 / (bandwidth * bandwidth))
    else:
        u = d2 / (bandwidth * bandwidth)
        k = np.where(u < 1.0, (1.0 - u) ** 2, 0.0)
    total = float(k.sum())
    return np.asarray(k / total if total > 0 else k, dtype=np.float64)


def smooth(surface: FloatArray, stencil: FloatArray) -> FloatArray:
    """Convolve a 2-D surface with a stencil, same shape (zero outside)."""
    if stencil.size == 1:
        return surface * float(stencil.ravel()[0])
    out = np.asarray(signal.fftconvolve(surface, stencil, mode="same"), dtype=np.float64)
    # FFT round-off leaves tiny non-zeros where the exact result is zero; zero them so that
    # empty cells tie (and ties go to the lower index, as the protocol says).
    peak = float(np.abs(out).max()) if out.size else 0.0
    out[np.abs(out) <= 1e-10 * peak] = 0.0
    return out


class NaiveCounts(Forecaster):
    """Events per cell in the last ``window`` days (None: all history)."""

    def __init__(self, window: float | None = 365.0, name: str = "naive") -> None:
        self.window = window
        self.name = name

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Count of the window's events per cell."""
        return _window(history, day, self.window).counts()

    def params(self) -> dict[str, float | int | str]:
        """Settings."""
        return {"window_days": -1 if self.window is None else self.window}

    def history(self) -> dict[str, float | int | str]:
        """The days of history before each forecast day it counts (or all)."""
        return {"window_days": "all" if self.window is None else self.window}


class KernelDensity(Forecaster):
    """Kernel density with exponential time decay (``tau`` days; inf: no decay)."""

    def __init__(
        self,
        bandwidth: float = 150.0,
        tau: float = math.inf,
        window: float | None = 365.0,
        kernel: str = "gaussian",
        sub: int = 3,
        name: str = "kde",
    ) -> None:
        self.bandwidth = bandwidth
        self.tau = tau
        self.window = window
        self.kernel = kernel
        self.sub = sub
        self.name = name
        self._stencil: FloatArray | None = None
        self._cell: float = 0.0

    def _kernel(self, cell: float) -> FloatArray:
        if self._stencil is None or self._cell != cell:
            self._stencil = kernel_stencil(self.kernel, self.bandwidth, cell / self.sub)
            self._cell = cell
        return self._stencil

    def surface(self, history: SeriesData, day: int) -> FloatArray:
        """Mean decayed density over each cell (flat)."""
        h = _window(history, day, self.window)
        w = None if math.isinf(self.tau) else np.exp(-(day - h.t) / self.tau)
        fine = _fine_counts(h, self.sub, w)
        return _cell_means(smooth(fine, self._kernel(h.grid.cell)), self.sub)

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Decayed kernel density per cell."""
        return self.surface(history, day)

    def params(self) -> dict[str, float | int | str]:
        """Settings."""
        return {
            "bandwidth_m": self.bandwidth,
            "tau_days": -1 if math.isinf(self.tau) else self.tau,
            "window_days": -1 if self.window is None else self.window,
            "kernel": self.kernel,
        }

    def history(self) -> dict[str, float | int | str]:
        """The days of history before each forecast day it counts (or all)."""
        return {"window_days": "all" if self.window is None else self.window}


class ProspectiveHotspot(Forecaster):
    """Bowers, Johnson & Pease (2004): 1/(1+cells away) * 1/(1+weeks ago) within a band."""

    def __init__(
        self, bandwidth: float = 400.0, window: float = 56.0, name: str = "prospective"
    ) -> None:
        self.bandwidth = bandwidth
        self.window = window
        self.name = name

    def _stencil(self, cell: float) -> FloatArray:
        r = max(0, math.floor(self.bandwidth / cell))
        offs = np.arange(-r, r + 1, dtype=np.float64)
        dx, dy = np.meshgrid(offs, offs)
        d = np.hypot(dx, dy)
        return np.where(d * cell <= self.bandwidth, 1.0 / (1.0 + d), 0.0)

    def predict(self, history: SeriesData, day: int) -> FloatArray:
        """Sum of distance- and age-weighted contributions per cell."""
        h = history.since(day - self.window)
        weeks = np.floor((day - h.t) / 7.0)
        w = 1.0 / (1.0 + weeks)
        surface = h.counts(w).reshape(h.grid.shape)
        return smooth(surface, self._stencil(h.grid.cell)).ravel()

    def params(self) -> dict[str, float | int | str]:
        """Settings."""
        return {"bandwidth_m": self.bandwidth, "window_days": self.window}

    def history(self) -> dict[str, float | int | str]:
        """The days of history before each forecast day it counts."""
        return {"window_days": self.window}
