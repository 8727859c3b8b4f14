"""Plane geometry for the synthetic county: snapping, Lloyd-relaxed Voronoi partitions, blobs.

Regions are built in metres (a projected CRS) and stored in WGS-84 on a grid of
``COORD_DECIMALS`` decimals; ``adjacent`` is the org service's own rule for touching jurisdictions.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from qingzhi.demo.draws import FloatArray, points_in
from qingzhi.geo.distance import ADJACENCY_TOLERANCE_DEG
from qingzhi.geo.projection import unproject_geometry

log = logging.getLogger(__name__)

COORD_DECIMALS = 7  # about 1 cm
SEGMENT_M, SEGMENT_DEG = 200.0, 0.002  # longest edge while building (metres / degrees)


def polygons(geom: BaseGeometry) -> list[Polygon]:
    """The polygons of ``geom`` (any nesting of collections), in order."""
    if geom.geom_type == "Polygon":
        return [geom]
    if hasattr(geom, "geoms"):
        return [g for sub in geom.geoms for g in polygons(sub)]
    return []


def largest(geom: BaseGeometry) -> Polygon:
    """The largest polygon of ``geom`` (the first of equals)."""
    return max(polygons(geom), key=lambda p: p.area)


def snap(geom: BaseGeometry, grid: float = 10.0**-COORD_DECIMALS) -> Any:
    """``geom`` on a precision grid, repaired first when a reprojection left it invalid."""
    if not geom.is_valid:
        geom = unary_union(polygons(shapely.make_valid(geom)))
    out = shapely.set_precision(geom, grid)
    if out.geom_type == "MultiPolygon":
        out = largest(out)
    return out


def to_wgs84(poly_m: BaseGeometry, epsg: int) -> Polygon:
    """A polygon built in metres, snapped to the centimetre, back in WGS-84 on the stored grid."""
    return snap(unproject_geometry(snap(poly_m, 0.01), epsg))


def lloyd(region: BaseGeometry, k: int, rng: np.random.Generator, n_sample: int = 12_000) -> Any:
    """``k`` well-spread seeds in ``region``: k-means (Lloyd) on a uniform sample."""
    pts = points_in(region, n_sample, rng, batch=2 * n_sample)
    centres = pts[rng.choice(len(pts), size=k, replace=False)]
    for _ in range(40):
        _, label = cKDTree(centres).query(pts)
        new = np.array([pts[label == j].mean(axis=0) for j in range(k)])
        if np.allclose(new, centres, atol=1.0):
            centres = new
            break
        centres = new
    return centres


def partition(region: BaseGeometry, seeds: FloatArray) -> list[Polygon]:
    """Voronoi cells of ``seeds`` clipped to ``region``; stray pieces join their neighbour."""
    cells = shapely.voronoi_polygons(
        MultiPoint([tuple(p) for p in seeds]), extend_to=region.buffer(1000.0), ordered=True
    )
    parts = [c.intersection(region) for c in cells.geoms]
    main: list[BaseGeometry] = []
    strays: list[BaseGeometry] = []
    for p in parts:
        polys = sorted(polygons(p), key=lambda q: -q.area)
        main.append(polys[0])
        strays.extend(polys[1:])
    for piece in strays:
        shared = [float(piece.boundary.intersection(m.boundary).length) for m in main]
        j = int(np.argmax(shared))
        main[j] = unary_union([main[j], piece])
    out = []
    for m in main:
        polys = sorted(polygons(m), key=lambda q: -q.area)
        out.append(polys[0] if len(polys) == 1 else Polygon(polys[0].exterior))
    return out


def blob(center: tuple[float, float], area_m2: float, rng: np.random.Generator) -> Polygon:
    """A compact irregular polygon of about ``area_m2`` around ``center`` (metres)."""
    theta = np.linspace(0.0, 2.0 * np.pi, 73)[:-1]
    ph = rng.uniform(0.0, 2.0 * np.pi, size=3)
    r = 1.0 + 0.12 * np.sin(2 * theta + ph[0]) + 0.07 * np.sin(3 * theta + ph[1])
    r += 0.04 * np.sin(5 * theta + ph[2])
    poly = Polygon(np.column_stack([np.cos(theta) * r, np.sin(theta) * r]))
    scale = float(np.sqrt(area_m2 / poly.area))
    return Polygon(
        np.column_stack(
            [center[0] + np.cos(theta) * r * scale, center[1] + np.sin(theta) * r * scale]
        )
    )


def half_plane(center: tuple[float, float], angle: float, size: float = 1e6) -> Polygon:
    """The half plane to the left of the line through ``center`` at ``angle`` (radians)."""
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]])
    c = np.asarray(center)
    pts = [c - d * size, c + d * size, c + d * size + n * size, c - d * size + n * size]
    return Polygon(pts)


def adjacent(a: BaseGeometry, b: BaseGeometry) -> bool:
    """Whether two WGS-84 jurisdictions touch by check_bundle's rule (buffered union is one)."""
    merged = unary_union([a.buffer(ADJACENCY_TOLERANCE_DEG), b.buffer(ADJACENCY_TOLERANCE_DEG)])
    return bool(merged.geom_type == "Polygon")
