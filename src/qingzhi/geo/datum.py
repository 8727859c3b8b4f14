"""Conversions between the datums used in China: WGS-84, GCJ-02 and BD-09.

GPS receivers and the bureau's storage use WGS-84. Chinese map apps, phone location services and
most published Chinese boundaries (Amap, Tencent, Alibaba DataV) use GCJ-02, the obfuscated
"Mars" datum: WGS-84 plus a smooth, non-linear offset of a few hundred metres. Baidu maps use
BD-09, a further rotation-and-shift of GCJ-02.

Method: the forward GCJ-02 offset is the publicly documented polynomial-plus-sine formula on the
Krasovsky 1940 ellipsoid (a = 6378245 m, e² = 0.00669342162296594323), applied only inside the
rough bounding box of mainland China (outside it GCJ-02 equals WGS-84). There is no closed-form
inverse; ``gcj02_to_wgs84`` solves ``forward(w) = g`` by fixed-point iteration
``w ← w − (forward(w) − g)``, which converges to below 1e-7 degrees (about 1 cm) in a few steps
because the offset varies slowly. BD-09 is the published polar shift of GCJ-02; its inverse is
refined the same way.

We implement the formulas here (vectorised with numpy) rather than depend on a PyPI package: the
packages found (eviltransform, prcoords, coord-convert, coordTransform ports) are scalar-only and
unmaintained since 2018–2020, and pinning one for ~40 lines of arithmetic is not worth it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
G = TypeVar("G", bound=BaseGeometry)

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323
# The rough box in which GCJ-02 applies an offset (outside it GCJ-02 == WGS-84).
CHINA_LON = (72.004, 137.8347)
CHINA_LAT = (0.8293, 55.8271)
# BD-09 constant.
_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006

INVERSE_TOLERANCE_DEG = 1e-9
INVERSE_MAX_ITER = 30


class Datum(StrEnum):
    """A geodetic datum that input coordinates may declare."""

    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"

    @property
    def label(self) -> str:
        """Chinese name of the datum."""
        return _LABELS[self]


_LABELS = {
    Datum.wgs84: "WGS-84（GPS）",
    Datum.gcj02: "GCJ-02（高德/腾讯）",
    Datum.bd09: "BD-09（百度）",
}


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"lon and lat differ in shape: {x.shape} vs {y.shape}")
    return x, y


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether each point lies in the box where GCJ-02 applies an offset."""
    x, y = _arrays(lon, lat)
    return (x >= CHINA_LON[0]) & (x <= CHINA_LON[1]) & (y >= CHINA_LAT[0]) & (y <= CHINA_LAT[1])


def _offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS-84 points."""
    x = lon - 105.0
    y = lat - 35.0
    sq = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq + common
    dlat += (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq + common
    dlon += (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    inside = in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 coordinates of WGS-84 points (the published forward formula)."""
    x, y = _arrays(lon, lat)
    dlon, dlat = _offset(x, y)
    return x + dlon, y + dlat


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    tx: FloatArray,
    ty: FloatArray,
    x: FloatArray,
    y: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """The points that ``forward`` maps onto (tx, ty), by fixed-point iteration from (x, y)
    until the largest error is below ``INVERSE_TOLERANCE_DEG``."""
    for _ in range(INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x, y = x - ex, y - ey
        if ex.size == 0 or max(float(np.max(np.abs(ex))), float(np.max(np.abs(ey)))) < (
            INVERSE_TOLERANCE_DEG
        ):
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS-84 coordinates of GCJ-02 points, by fixed-point iteration of the forward formula."""
    gx, gy = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, gx, gy, gx.copy(), gy.copy())


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 coordinates of GCJ-02 points."""
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 coordinates of BD-09 points (approximate inverse refined by iteration)."""
    bx, by = _arrays(lon, lat)
    x, y = bx - _BD_DLON, by - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, bx, by, z * np.cos(theta), z * np.sin(theta))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """BD-09 coordinates of WGS-84 points."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """WGS-84 coordinates of BD-09 points."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def parse_datum(value: Datum | str, field: str = "datum") -> Datum:
    """A Datum from its name; an unknown name is an error naming the field."""
    try:
        return Datum(str(value).strip().lower().replace("-", "").replace("_", ""))
    except ValueError:
        raise ValidationFailed.field(
            field, f"未知坐标系 {value!r}，可选：{', '.join(d.value for d in Datum)}"
        ) from None


def convert(
    lon: ArrayLike, lat: ArrayLike, *, source: Datum | str, target: Datum | str
) -> tuple[FloatArray, FloatArray]:
    """Coordinates converted from datum ``source`` to datum ``target``."""
    src, dst = parse_datum(source, "source"), parse_datum(target, "target")
    x, y = _arrays(lon, lat)
    if src == dst:
        return x.copy(), y.copy()
    if src == Datum.bd09:
        x, y = bd09_to_gcj02(x, y)
    elif src == Datum.wgs84:
        x, y = wgs84_to_gcj02(x, y)
    # now in GCJ-02
    if dst == Datum.bd09:
        return gcj02_to_bd09(x, y)
    if dst == Datum.wgs84:
        return gcj02_to_wgs84(x, y)
    return x, y


def convert_geometry(geom: G, *, source: Datum | str, target: Datum | str) -> G:
    """A shapely geometry with every vertex converted between datums (topology kept)."""

    def _transform(coords: Any) -> Any:
        arr = np.asarray(coords, dtype=np.float64)
        x, y = convert(arr[:, 0], arr[:, 1], source=source, target=target)
        return np.column_stack([x, y])

    return shapely.transform(geom, _transform)  # type: ignore[no-any-return]
