"""Projection of WGS-84 lon/lat to metres in a named EPSG coordinate system, and back.

Metric work (distances, areas, buffers, grids) happens in a projected CRS named explicitly; for
Chongqing that is UTM zone 48N (EPSG:32648), the default. A missing or unknown CRS raises
``ProjectionError``: there is never a silent fallback to degrees or to another CRS. Transformers
are cached per CRS and always use lon/lat (``always_xy``) axis order.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from qingzhi.errors import ConfigurationError

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
G = TypeVar("G", bound=BaseGeometry)

DEFAULT_EPSG = 32648  # WGS 84 / UTM zone 48N: covers Chongqing (102°E–108°E)
WGS84_EPSG = 4326


class ProjectionError(ConfigurationError):
    """A projected CRS is missing, unknown or not metric."""

    code = "projection_error"
    message = "投影坐标系缺失或无效"


def _epsg_code(epsg: int | str | None) -> int:
    if epsg is None or (isinstance(epsg, str) and not epsg.strip()):
        raise ProjectionError("未指定投影坐标系（EPSG 代码），无法进行米制计算")
    text = str(epsg).strip().upper().removeprefix("EPSG:")
    try:
        return int(text)
    except ValueError:
        raise ProjectionError(f"投影坐标系 {epsg!r} 不是 EPSG 代码") from None


@lru_cache(maxsize=16)
def _transformers(code: int) -> tuple[Transformer, Transformer]:
    try:
        crs = CRS.from_epsg(code)
    except CRSError:
        raise ProjectionError(f"未知的投影坐标系 EPSG:{code}") from None
    if not crs.is_projected:
        raise ProjectionError(f"EPSG:{code} 不是投影坐标系（单位不是米），不能用于米制计算")
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if unit not in ("metre", "meter"):
        raise ProjectionError(f"EPSG:{code} 的单位是 {unit!r}，不是米")
    wgs = CRS.from_epsg(WGS84_EPSG)
    forward = Transformer.from_crs(wgs, crs, always_xy=True)
    inverse = Transformer.from_crs(crs, wgs, always_xy=True)
    return forward, inverse


def check_crs(epsg: int | str | None) -> int:
    """The EPSG code of a valid metric projected CRS, or ProjectionError."""
    code = _epsg_code(epsg)
    _transformers(code)
    return code


def to_metres(
    lon: ArrayLike, lat: ArrayLike, epsg: int | str | None = DEFAULT_EPSG
) -> tuple[FloatArray, FloatArray]:
    """Projected x, y in metres of WGS-84 lon/lat points."""
    forward, _ = _transformers(_epsg_code(epsg))
    return _transform(forward, lon, lat)


def to_lonlat(
    x: ArrayLike, y: ArrayLike, epsg: int | str | None = DEFAULT_EPSG
) -> tuple[FloatArray, FloatArray]:
    """WGS-84 lon/lat of projected x, y points in metres."""
    _, inverse = _transformers(_epsg_code(epsg))
    return _transform(inverse, x, y)


def _transform(
    transformer: Transformer, a: ArrayLike, b: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Both coordinates of points through a pyproj transformer, as float arrays."""
    out_a, out_b = transformer.transform(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    )
    return np.asarray(out_a, dtype=np.float64), np.asarray(out_b, dtype=np.float64)


def _apply(geom: G, fn: Any) -> G:
    def _transform(coords: Any) -> Any:
        arr = np.asarray(coords, dtype=np.float64)
        a, b = fn(arr[:, 0], arr[:, 1])
        return np.column_stack([a, b])

    return shapely.transform(geom, _transform)  # type: ignore[no-any-return]


def project_geometry(geom: G, epsg: int | str | None = DEFAULT_EPSG) -> G:
    """A WGS-84 geometry projected to metres."""
    code = _epsg_code(epsg)
    return _apply(geom, lambda a, b: to_metres(a, b, code))


def unproject_geometry(geom: G, epsg: int | str | None = DEFAULT_EPSG) -> G:
    """A projected geometry (metres) back in WGS-84 lon/lat."""
    code = _epsg_code(epsg)
    return _apply(geom, lambda a, b: to_lonlat(a, b, code))


def area_km2(geom: BaseGeometry, epsg: int | str | None = DEFAULT_EPSG) -> float:
    """Area in square kilometres of a WGS-84 geometry, measured in the projected CRS."""
    return float(project_geometry(geom, epsg).area) / 1e6


def distance_m(
    lon1: ArrayLike,
    lat1: ArrayLike,
    lon2: ArrayLike,
    lat2: ArrayLike,
    epsg: int | str | None = DEFAULT_EPSG,
) -> FloatArray:
    """Planar distance in metres between WGS-84 points (element-wise), in the projected CRS."""
    x1, y1 = to_metres(lon1, lat1, epsg)
    x2, y2 = to_metres(lon2, lat2, epsg)
    return np.asarray(np.hypot(x2 - x1, y2 - y1), dtype=np.float64)
