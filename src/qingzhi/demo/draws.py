"""The seeded draws both demo generators share: weighted picks, apportionment, points in a region.

Each helper makes exactly the draws it names, in a fixed order, so that a generator built from
them gives the same result for the same seed.
"""

from __future__ import annotations

import logging
from typing import Any, overload

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@overload
def pick(rng: np.random.Generator, weights: ArrayLike, size: None = None) -> int: ...
@overload
def pick(rng: np.random.Generator, weights: ArrayLike, size: int) -> IntArray: ...
def pick(rng: np.random.Generator, weights: ArrayLike, size: int | None = None) -> Any:
    """Indices drawn with probability proportional to ``weights`` (one index when no size)."""
    w = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(w), size=size, p=w / w.sum())


def apportion(weights: ArrayLike, total: int, minimum: int = 0) -> IntArray:
    """Integers summing to ``total``, proportional to ``weights``, each at least ``minimum``.

    The largest-remainder method (Hamilton): floors first, the leftover units to the largest
    fractional parts (ties in order).
    """
    w = np.asarray(weights, dtype=np.float64)
    n = len(w)
    base = np.full(n, minimum, dtype=np.int64)
    rest = total - minimum * n
    if rest < 0:
        raise ValueError("total below the minimum")
    share = w / w.sum() * rest
    floor = np.floor(share).astype(np.int64)
    left = rest - int(floor.sum())
    order = np.argsort(-(share - floor), kind="stable")
    floor[order[:left]] += 1
    return np.asarray(base + floor, dtype=np.int64)


def points_in(region: BaseGeometry, n: int, rng: np.random.Generator, *, batch: int) -> FloatArray:
    """``n`` uniform random points (x, y) inside ``region``, by rejection, ``batch`` a round."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    out: list[FloatArray] = []
    got = 0
    while got < n:
        pts = rng.uniform((minx, miny), (maxx, maxy), size=(batch, 2))
        keep = pts[shapely.contains_xy(region, pts[:, 0], pts[:, 1])]
        out.append(keep)
        got += len(keep)
    return np.asarray(np.concatenate(out)[:n], dtype=np.float64)
