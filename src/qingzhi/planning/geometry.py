"""Adjacency of jurisdictions, derived from their polygons with a tolerance.

Two stations are adjacent when their jurisdictions, each grown by ``ADJACENCY_TOLERANCE_DEG``
(about 50 m), overlap: the same rule as the org service's bundle check (``check_bundle``: the
buffered union of a bundle is one polygon), since hand-drawn jurisdictions rarely share edges.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import shapely
from shapely.geometry.base import BaseGeometry

from qingzhi.geo.distance import ADJACENCY_TOLERANCE_DEG

log = logging.getLogger(__name__)


class _HasJurisdiction(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def jurisdiction(self) -> BaseGeometry | None: ...


def adjacency(
    stations: Sequence[_HasJurisdiction], tolerance_deg: float = ADJACENCY_TOLERANCE_DEG
) -> dict[str, set[str]]:
    """For every station, the codes of the stations whose jurisdiction touches its own."""
    out: dict[str, set[str]] = {s.code: set() for s in stations}
    shaped = [s for s in stations if s.jurisdiction is not None]
    if not shaped:
        return out
    grown = [s.jurisdiction.buffer(tolerance_deg) for s in shaped if s.jurisdiction is not None]
    tree = shapely.STRtree(grown)
    left, right = tree.query(grown, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i != j:
            out[shaped[i].code].add(shaped[j].code)
    return out


def connected(codes: Sequence[str], adj: dict[str, set[str]]) -> bool:
    """Whether ``codes`` form one connected group under ``adj``."""
    if not codes:
        return True
    pool = set(codes)
    seen = {codes[0]}
    todo = [codes[0]]
    while todo:
        c = todo.pop()
        for n in adj.get(c, ()):
            if n in pool and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen == pool
