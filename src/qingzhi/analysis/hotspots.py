"""Retrospective hotspots (治安乱点): Getis-Ord Gi* with false-discovery-rate control, and KDE.

Gi* (Getis & Ord 1992; Ord & Getis 1995, "Local spatial autocorrelation statistics") compares the
sum of counts in a cell's neighbourhood (the cell itself included, binary weights within a
distance band) with what the study area's mean would give::

    Gi* = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n sum_j w_ij^2 - W_i^2) / (n - 1)))

with ``n`` cells, ``xbar`` and ``S`` the mean and standard deviation of all cells' counts and
``W_i = sum_j w_ij``. Gi* is approximately standard normal under no clustering. Testing every
cell at 5% would flag 5% of a quiet city, so significance is controlled by the Benjamini &
Hochberg (1995) step-up procedure on the one-sided p-values: among the cells called hotspots the
expected share of false ones is at most ``q`` (as ArcGIS's "FDR correction").

``density_surface`` is a plain kernel density (Gaussian or quartic) in events per km², for maps.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import signal, stats

from qingzhi.analysis.grid import Grid
from qingzhi.analysis.prediction import _cell_means, kernel_stencil, smooth

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]


def benjamini_hochberg(p: FloatArray, q: float = 0.05) -> NDArray[np.bool_]:
    """Which hypotheses the Benjamini-Hochberg step-up procedure rejects at FDR ``q``."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    out = np.zeros(m, dtype=bool)
    if m == 0:
        return out
    order = np.argsort(p, kind="stable")
    below = p[order] <= q * np.arange(1, m + 1) / m
    if below.any():
        k = int(np.flatnonzero(below).max())
        out[order[: k + 1]] = True
    return out


def bh_qvalues(p: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (q-values): rejected at FDR q exactly when <= q."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m, dtype=np.float64)
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass(frozen=True)
class GiStarResult:
    """Gi* z-scores, one-sided p-values and FDR-controlled hot and cold cells (2-D arrays)."""

    z: FloatArray
    p_hot: FloatArray
    hot: NDArray[np.bool_]
    cold: NDArray[np.bool_]
    q: float


def gi_star(
    counts: FloatArray,
    radius_cells: float = 1.5,
    study_area: NDArray[np.bool_] | None = None,
    q: float = 0.05,
) -> GiStarResult:
    """Gi* on a 2-D count grid with binary weights within ``radius_cells`` (1.5: 3x3 queen)."""
    x = np.asarray(counts, dtype=np.float64)
    area = np.ones_like(x, dtype=bool) if study_area is None else np.asarray(study_area, bool)
    n = int(area.sum())
    if n < 3:
        raise ValueError("Gi* needs at least three cells in the study area")
    r = math.floor(radius_cells)
    offs = np.arange(-r, r + 1)
    dx, dy = np.meshgrid(offs, offs)
    w = (np.hypot(dx, dy) <= radius_cells).astype(np.float64)
    xa = np.where(area, x, 0.0)
    inside = area.astype(np.float64)
    local = signal.convolve2d(xa, w, mode="same")
    wsum = signal.convolve2d(inside, w, mode="same")  # W_i (binary weights so also sum w^2)
    xbar = float(xa.sum()) / n
    s = math.sqrt(max(float((xa * xa).sum()) / n - xbar * xbar, 0.0))
    denom = s * np.sqrt(np.maximum(n * wsum - wsum * wsum, 0.0) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(denom > 0, (local - xbar * wsum) / denom, 0.0)
    z = np.where(area, z, np.nan)
    p_hot = np.where(area, stats.norm.sf(np.nan_to_num(z)), np.nan)
    p_cold = np.where(area, stats.norm.cdf(np.nan_to_num(z)), np.nan)
    hot = np.zeros_like(area)
    cold = np.zeros_like(area)
    hot[area] = benjamini_hochberg(p_hot[area], q)
    cold[area] = benjamini_hochberg(p_cold[area], q)
    log.debug("Gi*: %d hot and %d cold cells of %d at FDR %.2f", hot.sum(), cold.sum(), n, q)
    return GiStarResult(z, p_hot, hot, cold, q)


def density_surface(
    grid: Grid,
    x: FloatArray,
    y: FloatArray,
    bandwidth: float = 300.0,
    kernel: str = "quartic",
    sub: int = 3,
) -> FloatArray:
    """Kernel density in events per square kilometre on the grid, shape (ny, nx)."""
    fine = grid.cell / sub
    col = np.floor((np.asarray(x) - grid.x0) / fine).astype(np.int64)
    row = np.floor((np.asarray(y) - grid.y0) / fine).astype(np.int64)
    nxf, nyf = grid.nx * sub, grid.ny * sub
    ok = (col >= 0) & (col < nxf) & (row >= 0) & (row < nyf)
    h = np.bincount(row[ok] * nxf + col[ok], minlength=nxf * nyf).astype(np.float64)
    mass = smooth(h.reshape(nyf, nxf), kernel_stencil(kernel, bandwidth, fine))
    per_fine = _cell_means(mass, sub).reshape(grid.shape)
    return np.asarray(per_fine / (fine * fine) * 1e6, dtype=np.float64)
