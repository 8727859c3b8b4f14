"""Actionable hotspot places (治安乱点): significant grid cells merged into a few compact places,
ranked by their excess over their own expectation.

Gi* against the study area's mean (``hotspots.gi_star``) flags every cell of a busy town centre:
hundreds of significant cells that say "downtown", which no patrol can work. A brief needs a
handful of places, each small enough to act on, that are hotter than *they* usually are. So:

1. **Expectation of each cell.** With history (at least ``MIN_HISTORY_DAYS`` days before the
   window), a cell's own usual rate: ``E = (H + 0.5) / history_days × window_days`` where ``H`` is
   its count over the history (the ½ is the Jeffreys prior, so that a cell with no history is not
   infinitely surprising). Without enough history (a new system, a new station), the local mean:
   the mean count of the ``(2L+1)²`` cells around it in the window (``L = LOCAL_RADIUS``, cells
   outside the study area left out), as a local rather than county-wide Gi* would compare.
2. **Candidate places.** Every significant hot cell is a candidate centre; its place is the hot
   cells within ``radius`` cells (a ``(2r+1)²`` block: 450 m across on 150 m cells). Its observed
   count ``O`` and expectation ``E`` are the sums over those cells; excess ``O − E``.
3. **Greedy selection.** Candidates by excess, largest first; a place is kept when its one-sided
   exact Poisson test ``P(X ≥ O | E)`` is below ``alpha`` and its centre is not within
   ``2r + 1`` cells of a place already kept (so places do not overlap); at most ``max_places``.

This is the "place against its own history" comparison of exposure-based hotspot work (e.g.
Chainey & Ratcliffe 2005, ch. 7; Braga & Weisburd 2010 on hot spots policing at micro places),
expressed with the exact Poisson test the trends module uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage, stats

log = logging.getLogger(__name__)

MIN_HISTORY_DAYS = 28
LOCAL_RADIUS = 3
PRIOR = 0.5

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Place:
    """A compact place: its centre cell, its cells (flat indices), observed, expected, test."""

    centre: int
    cells: tuple[int, ...]
    observed: int
    expected: float
    p_value: float

    @property
    def excess(self) -> float:
        """Observed minus expected."""
        return self.observed - self.expected

    @property
    def ratio(self) -> float:
        """Observed over expected."""
        return self.observed / self.expected if self.expected > 0 else float("inf")


def expected_from_history(
    history: FloatArray, history_days: float, window_days: float
) -> FloatArray:
    """Each cell's expected count in the window from its own history (with the ½ prior)."""
    if history_days <= 0:
        raise ValueError("history_days must be positive")
    return (np.asarray(history, dtype=np.float64) + PRIOR) / history_days * window_days


def expected_local(
    counts: FloatArray, area: NDArray[np.bool_], radius: int = LOCAL_RADIUS
) -> FloatArray:
    """Each cell's expected count as the mean of the ``(2r+1)²`` cells around it in the study
    area (2-D arrays; cells outside the area count neither in the sum nor the number)."""
    size = 2 * radius + 1
    inside = area.astype(np.float64)
    total = ndimage.uniform_filter(counts * inside, size=size, mode="constant") * size**2
    n = ndimage.uniform_filter(inside, size=size, mode="constant") * size**2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0.5, total / np.maximum(n, 1.0), 0.0)
    return np.asarray(np.maximum(mean, PRIOR / size**2), dtype=np.float64)


def poisson_upper(observed: int, expected: float) -> float:
    """One-sided exact Poisson p-value P(X ≥ observed) for mean ``expected``."""
    if observed <= 0:
        return 1.0
    return float(stats.poisson.sf(observed - 1, max(expected, 1e-12)))


def merge_places(
    counts: FloatArray,
    expected: FloatArray,
    hot: NDArray[np.bool_],
    *,
    radius: int = 1,
    max_places: int = 10,
    alpha: float = 0.05,
) -> list[Place]:
    """At most ``max_places`` compact places of hot cells, by excess over expectation (2-D
    arrays of one grid's shape; flat indices in the result, row-major)."""
    if counts.shape != expected.shape or counts.shape != hot.shape:
        raise ValueError("counts, expected and hot must have the same shape")
    ny, nx = counts.shape
    size = 2 * radius + 1
    mask = hot.astype(np.float64)
    obs_sum = ndimage.uniform_filter(counts * mask, size=size, mode="constant") * size**2
    exp_sum = ndimage.uniform_filter(expected * mask, size=size, mode="constant") * size**2
    seeds = np.flatnonzero(hot.ravel())
    if len(seeds) == 0:
        return []
    o = np.rint(obs_sum.ravel()[seeds]).astype(np.int64)
    e = exp_sum.ravel()[seeds]
    order = np.lexsort((seeds, -(o - e)))  # largest excess first; ties to the lower index
    blocked = np.zeros((ny, nx), dtype=bool)
    taken = np.zeros((ny, nx), dtype=bool)
    out: list[Place] = []
    for k in order:
        if len(out) >= max_places or o[k] - e[k] <= 0:
            break
        seed = int(seeds[k])
        row, col = divmod(seed, nx)
        if blocked[row, col]:
            continue
        p = poisson_upper(int(o[k]), float(e[k]))
        if p >= alpha:
            continue
        r0, r1 = max(row - radius, 0), min(row + radius + 1, ny)
        c0, c1 = max(col - radius, 0), min(col + radius + 1, nx)
        block = hot[r0:r1, c0:c1] & ~taken[r0:r1, c0:c1]
        rows, cols = np.nonzero(block)
        cells = tuple(sorted(int((r + r0) * nx + c + c0) for r, c in zip(rows, cols, strict=True)))
        taken[r0:r1, c0:c1] |= hot[r0:r1, c0:c1]
        observed = round(sum(float(counts.ravel()[i]) for i in cells))
        exp = float(sum(float(expected.ravel()[i]) for i in cells))
        b0, b1 = max(row - size, 0), min(row + size + 1, ny)
        d0, d1 = max(col - size, 0), min(col + size + 1, nx)
        blocked[b0:b1, d0:d1] = True
        out.append(Place(seed, cells, observed, exp, poisson_upper(observed, exp)))
    return out
