"""Distances on the ground, once: the great-circle distance (haversine on the mean Earth radius)
and the local degrees-to-metres approximation used for boxes, grids and small steps.

Metric work over an area (grids, hotspots, planning) projects to a named CRS instead
(``geo.projection``); these are for point-to-point distances and for turning a radius into a
bounding box in degrees.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # the IUGG mean radius
METRES_PER_DEGREE = math.pi / 180 * EARTH_RADIUS_M  # along a meridian (about 111,195 m)
ADJACENCY_TOLERANCE_DEG = 0.0005  # about 50 m: hand-drawn jurisdictions rarely share edges


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres between two points (degrees)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def haversine_m_array(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Great-circle distance in metres, vectorised over numpy arrays (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def metres_to_degrees(metres: float, lat: float) -> tuple[float, float]:
    """A distance in metres as (degrees of longitude, degrees of latitude) at latitude ``lat``
    (longitude degrees shrink with cos(lat); clamped near the poles)."""
    dlat = metres / METRES_PER_DEGREE
    return dlat / max(math.cos(math.radians(lat)), 0.01), dlat


def box_around(lon: float, lat: float, metres: float) -> tuple[float, float, float, float]:
    """The (minlon, minlat, maxlon, maxlat) box that holds the circle of ``metres`` around a
    point (a prefilter; test the exact distance after)."""
    dlon, dlat = metres_to_degrees(metres, lat)
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point ``east_m`` metres east and ``north_m`` metres north of (lon, lat)."""
    per_lon, per_lat = metres_to_degrees(1.0, lat)
    return lon + east_m * per_lon, lat + north_m * per_lat
