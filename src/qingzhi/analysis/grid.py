"""The square evaluation grid: cells of a fixed size in a projected CRS, indexed row-major.

The origin is ``(floor(min x / cell) * cell, floor(min y / cell) * cell)`` over the events the
grid is built from, so grids built by different tools from the same events coincide. A cell's flat
index is ``row * nx + col`` (row counts up in y, col in x); ties in rankings go to the lower index.
``grid_for_extent`` builds the same kind of grid over a given extent (a study area's bounds), and
``extent_cells`` says how many cells a grid would have before anything is allocated, so a caller
can refuse a grid too large for its memory budget (one far-away point stretches a bounding box).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    """A square grid: origin (x0, y0) in metres, cell size, columns nx and rows ny."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int

    @property
    def n_cells(self) -> int:
        """Number of cells (nx * ny)."""
        return self.nx * self.ny

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape (ny, nx) of a surface on this grid."""
        return (self.ny, self.nx)

    def col_row(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Column and row of each point (may fall outside the grid)."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.cell).astype(np.int64)
        return col, row

    def flat_index(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        """Flat cell index row * nx + col of each point, or -1 outside the grid."""
        col, row = self.col_row(x, y)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return np.where(inside, row * self.nx + col, -1)

    def centres(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """x and y of every cell centre, by flat index."""
        cols = np.arange(self.n_cells) % self.nx
        rows = np.arange(self.n_cells) // self.nx
        xc = self.x0 + (cols + 0.5) * self.cell
        yc = self.y0 + (rows + 0.5) * self.cell
        return xc.astype(np.float64), yc.astype(np.float64)

    def cell_polygon(self, index: int) -> list[tuple[float, float]]:
        """Closed ring (counter-clockwise) of the cell with this flat index."""
        row, col = divmod(int(index), self.nx)
        xa, ya = self.x0 + col * self.cell, self.y0 + row * self.cell
        xb, yb = xa + self.cell, ya + self.cell
        return [(xa, ya), (xb, ya), (xb, yb), (xa, yb), (xa, ya)]


def extent_cells(xmin: float, ymin: float, xmax: float, ymax: float, cell: float) -> int:
    """How many cells ``grid_for_extent`` would give (nothing allocated)."""
    if cell <= 0 or not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise ValueError("need a positive cell size and a finite extent")
    x0 = math.floor(xmin / cell) * cell
    y0 = math.floor(ymin / cell) * cell
    return (math.floor((xmax - x0) / cell) + 1) * (math.floor((ymax - y0) / cell) + 1)


def grid_for_extent(xmin: float, ymin: float, xmax: float, ymax: float, cell: float) -> Grid:
    """The grid over ``[xmin, xmax] x [ymin, ymax]``, origin floored to the cell size."""
    if cell <= 0 or not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        raise ValueError("need a positive cell size and a finite extent")
    x0 = math.floor(xmin / cell) * cell
    y0 = math.floor(ymin / cell) * cell
    nx = math.floor((xmax - x0) / cell) + 1
    ny = math.floor((ymax - y0) / cell) + 1
    return Grid(x0, y0, float(cell), nx, ny)


def grid_for(x: NDArray[np.float64], y: NDArray[np.float64], cell: float = 150.0) -> Grid:
    """The grid whose origin is the floor of the minimum x and y to the cell size."""
    if len(x) == 0:
        raise ValueError("cannot build a grid from no events")
    if cell <= 0:
        raise ValueError("cell size must be positive")
    return grid_for_extent(
        float(np.min(x)), float(np.min(y)), float(np.max(x)), float(np.max(y)), cell
    )


def counts(grid: Grid, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Events per cell as a flat float array (points outside the grid are ignored)."""
    idx = grid.flat_index(x, y)
    idx = idx[idx >= 0]
    return np.bincount(idx, minlength=grid.n_cells).astype(np.float64)
