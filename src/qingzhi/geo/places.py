"""A place's geography from the files GIS departments have, and what follows from it.

- ``read_layer``: the features of a GeoJSON, Shapefile or GeoPackage file (read by pyogrio, GDAL
  inside), in any CRS the file declares, reprojected to WGS-84 lon/lat; a file without a CRS is
  taken as WGS-84 only when its coordinates are lon/lat, else refused.
- ``utm_crs``: the UTM zone of a point (the centroid of the boundary): the projected CRS for
  metric work unless the bureau sets one; ``check_crs_covers`` refuses a projected CRS whose area
  of use (pyproj) does not cover the data, since metres from a far zone's projection are
  nonsense (every hotspot cell "hot" with one call).
- ``timezone_at``: the IANA time zone of a point (tzfpy, offline).
- ``derive_jurisdictions``: when a place has no jurisdiction polygons, each district's area from
  the calls' own district column: the Voronoi cells of the calls' points (in the projected CRS),
  dissolved by district and clipped to the boundary — an approximation, marked "derived".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

MAX_VORONOI_POINTS = 40_000
_SUFFIXES = (".geojson", ".json", ".shp", ".gpkg", ".zip")


@dataclass
class Feature:
    """One feature of a layer: its attributes and its geometry in WGS-84."""

    properties: dict[str, Any]
    geometry: BaseGeometry


def read_layer(path: Path, *, layer: str | None = None, field: str = "file") -> list[Feature]:
    """The polygon features of a vector file, in WGS-84 (ValidationFailed naming ``field``)."""
    import pyogrio
    from pyogrio.errors import DataSourceError

    if not path.exists():
        raise ValidationFailed.field(field, f"文件不存在：{path}")
    if path.suffix.lower() not in _SUFFIXES:
        raise ValidationFailed.field(
            field,
            f"不支持的文件类型 {path.suffix}（可用 GeoJSON、Shapefile .shp、GeoPackage .gpkg）",
        )
    try:
        meta, _, wkb, values = pyogrio.raw.read(path, layer=layer)
    except (DataSourceError, OSError, ValueError) as exc:
        raise ValidationFailed.field(field, f"无法读取 {path.name}：{exc}") from None
    geoms = shapely.from_wkb(wkb)
    names = list(meta["fields"])
    crs_text = meta.get("crs")
    if crs_text:
        try:
            crs = CRS.from_user_input(crs_text)
        except CRSError:
            raise ValidationFailed.field(
                field, f"{path.name} 的坐标系无法识别：{crs_text}"
            ) from None
        if not crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
            to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
            geoms = shapely.transform(geoms, lambda xy: np.column_stack(to_wgs.transform(*xy.T)))
    else:
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ValidationFailed.field(
                field, f"{path.name} 没有声明坐标系，且坐标不是经纬度：请附 .prj 或转换为 WGS-84"
            )
    out = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValidationFailed.field(
                field, f"{path.name} 第 {i + 1} 个要素不是面：{geom.geom_type}"
            )
        props = {n: _plain(values[k][i]) for k, n in enumerate(names)}
        out.append(Feature(props, shapely.make_valid(geom)))
    if not out:
        raise ValidationFailed.field(field, f"{path.name} 中没有面要素")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def utm_crs(lon: float, lat: float) -> str:
    """The WGS-84 UTM zone holding a point, as ``EPSG:326NN`` (north) or ``EPSG:327NN``."""
    zone = min(int((lon + 180) // 6) + 1, 60)
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def check_crs_covers(crs_name: str, bounds: Sequence[float], *, field: str = "crs") -> str:
    """``crs_name`` if it is a projected CRS whose area of use covers ``bounds`` (lon/lat
    min x, min y, max x, max y, a little slack); ValidationFailed naming ``field`` otherwise."""
    try:
        crs = CRS.from_user_input(crs_name)
    except CRSError:
        raise ValidationFailed.field(field, f"未知坐标系 {crs_name}") from None
    if not crs.is_projected:
        raise ValidationFailed.field(field, f"{crs_name} 不是投影坐标系（须以米为单位）")
    area = crs.area_of_use
    if area is not None:
        slack = 1.0  # degrees: a county straddling its zone's edge is still fine
        x0, y0, x1, y1 = bounds
        inside = (
            area.west - slack <= x0
            and x1 <= area.east + slack
            and area.south - slack <= y0
            and y1 <= area.north + slack
        )
        if not inside:
            raise ValidationFailed.field(
                field,
                f"{crs_name}（{crs.name}）的适用范围 {area.west:g}..{area.east:g}°E、"
                f"{area.south:g}..{area.north:g}°N 不覆盖本地 {x0:.2f}..{x1:.2f}°E、"
                f"{y0:.2f}..{y1:.2f}°N：在此投影下的米数无意义",
            )
    return crs_name


def timezone_at(lon: float, lat: float) -> str:
    """The IANA time zone at a point (offline)."""
    import tzfpy

    return str(tzfpy.get_tz(lon, lat))


def district_polygons(
    xy: NDArray[np.float64], names: Sequence[str], clip: BaseGeometry | None = None
) -> tuple[dict[str, BaseGeometry], BaseGeometry]:
    """One polygon per district (in the points' metres) tiling ``clip`` (default the points'
    convex hull), and that area. Deterministic:

    1. the points are reduced to their distinct places, each labelled with the district most of
       its points name (ties: the first name alphabetically);
    2. the Voronoi cells of those places, clipped to the area, are dissolved by district (a
       coverage union: the cells tile the area, so the result does too);
    3. a stray piece of a district (any part but its largest) joins the neighbour it shares the
       longest border with, so that each district is one polygon and they still tile the area.
    """
    hoods = sorted(set(names))
    if not hoods or len(xy) < 3:
        raise ValidationFailed.field("district", "须有至少三个带辖区名的警情点")
    index = {h: i for i, h in enumerate(hoods)}
    points, inverse = np.unique(xy, axis=0, return_inverse=True)
    counts = np.zeros((len(points), len(hoods)), dtype=np.int64)
    np.add.at(counts, (inverse.ravel(), np.array([index[n] for n in names])), 1)
    label = counts.argmax(axis=1)  # ties: the first name alphabetically

    cloud = shapely.multipoints(points)
    area = shapely.convex_hull(cloud) if clip is None else clip
    cells = shapely.get_parts(
        shapely.voronoi_polygons(cloud, extend_to=area.buffer(1_000.0), ordered=True)
    )
    cells = shapely.intersection(cells, area)
    parts: list[tuple[int, BaseGeometry]] = []
    for i in range(len(hoods)):
        dissolved = shapely.coverage_union_all(cells[label == i])
        parts.extend((i, p) for p in shapely.get_parts(dissolved) if not p.is_empty)
    return _join_strays(hoods, parts), area


def _join_strays(hoods: Sequence[str], parts: list[tuple[int, BaseGeometry]]) -> dict[str, Any]:
    """Keep each neighbourhood's largest part; any other part joins its longest-border neighbour."""
    largest: dict[int, int] = {}
    for k, (i, p) in enumerate(parts):
        if i not in largest or p.area > parts[largest[i]][1].area:
            largest[i] = k
    owner = [i for i, _ in parts]
    keep = set(largest.values())
    geoms = np.array([p for _, p in parts], dtype=object)
    tree = shapely.STRtree(geoms)
    # Smallest strays first, so that a stray inside another stray follows it.
    for k in sorted(set(range(len(parts))) - keep, key=lambda k: parts[k][1].area):
        stray = parts[k][1]
        best, best_len = None, 0.0
        for j in tree.query(stray, predicate="intersects").tolist():
            if j == k or owner[j] == owner[k]:
                continue
            shared = float(stray.boundary.intersection(parts[j][1].boundary).length)
            if shared > best_len:
                best, best_len = j, shared
        if best is not None:
            owner[k] = owner[best]
    out: dict[str, Any] = {}
    for i, h in enumerate(hoods):
        members = [parts[k][1] for k in range(len(parts)) if owner[k] == i]
        if members:
            out[h] = shapely.coverage_union_all(np.array(members, dtype=object))
    return out


def derive_jurisdictions(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    districts: Sequence[str],
    boundary: BaseGeometry,
    crs_name: str,
    *,
    seed: int = 16,
) -> dict[str, BaseGeometry]:
    """Each district's area (WGS-84) from its calls' points: Voronoi cells in ``crs_name``,
    dissolved by district and clipped to ``boundary`` (``district_polygons``, what the
    Vancouver demo derives its neighbourhoods with); at most ``MAX_VORONOI_POINTS`` points,
    drawn evenly at random."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    d = np.asarray(districts, dtype=object)
    keep = np.isfinite(x) & np.isfinite(y) & (d != "") & shapely.contains_xy(boundary, x, y)
    x, y, d = x[keep], y[keep], d[keep]
    if len(set(d.tolist())) < 1:
        raise ValidationFailed.field("district", "没有落在边界内、带辖区名的警情点")
    if len(x) > MAX_VORONOI_POINTS:
        pick = np.random.default_rng(seed).choice(len(x), MAX_VORONOI_POINTS, replace=False)
        x, y, d = x[pick], y[pick], d[pick]
    to_m = Transformer.from_crs("EPSG:4326", crs_name, always_xy=True)
    to_deg = Transformer.from_crs(crs_name, "EPSG:4326", always_xy=True)
    mx, my = to_m.transform(x, y)
    area = shapely.transform(boundary, lambda xy: np.column_stack(to_m.transform(*xy.T)))
    polygons, _ = district_polygons(np.column_stack([mx, my]), [str(n) for n in d], area)
    out = {
        name: shapely.make_valid(
            shapely.transform(geom, lambda xy: np.column_stack(to_deg.transform(*xy.T)))
        )
        for name, geom in polygons.items()
        if not geom.is_empty
    }
    log.info("derived %d jurisdictions from %d points", len(out), len(mx))
    return out
