"""Maps for the documents, drawn offline by matplotlib from geometries (no tiles, no network).

``map_png`` draws, from shapely geometries in WGS-84 lon/lat: the county boundary, areas such as
station jurisdictions (outlined, labelled at a point inside each), coloured cells such as hotspot
grid cells (a sequential colour scale with its colour bar) and points by category (with a
legend), plus a scale bar and a north arrow. Geometries are projected to a Lambert azimuthal
equal-area plane centred on the drawing (pyproj), so that areas, distances and the scale bar are
true wherever the county is, without a configured CRS. The result is PNG bytes at print DPI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.patheffects import withStroke
from pyproj import CRS, Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from qingzhi.errors import ValidationFailed
from qingzhi.reports.render.charts import DPI, font, new_figure, png_bytes

log = logging.getLogger(__name__)

POINT_COLOURS = ("#c0392b", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
NICE_KM = (0.5, 1, 2, 5, 10, 20, 50, 100)


@dataclass(frozen=True)
class Area:
    """An outlined area (a station's jurisdiction, a zone) with an optional label."""

    geometry: BaseGeometry
    label: str | None = None


@dataclass(frozen=True)
class Cell:
    """A coloured cell (a hotspot grid cell) and its value (count, z-score, risk)."""

    geometry: BaseGeometry
    value: float


@dataclass(frozen=True)
class Spot:
    """A point (an incident, a station) with an optional category for its colour."""

    lon: float
    lat: float
    category: str | None = None


def _check(name: str, geom: BaseGeometry) -> None:
    if geom.is_empty:
        raise ValidationFailed.field(name, "几何为空")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValidationFailed.field(name, "坐标须为 WGS-84 经纬度")


def _transformer(lon: float, lat: float) -> Transformer:
    crs = CRS.from_proj4(f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m")
    return Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)


def _project(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, apply)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def _path(geom: BaseGeometry) -> MplPath | None:
    vertices: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    for polygon in _polygons(geom):
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)
            if len(xy) < 3:
                continue
            ring_codes = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            ring_codes[0] = MplPath.MOVETO
            ring_codes[-1] = MplPath.CLOSEPOLY
            vertices.append(xy)
            codes.append(ring_codes)
    if not vertices:
        return None
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


def _scale_bar(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    minx, miny, maxx, maxy = extent
    target_km = (maxx - minx) / 5000.0
    km = max([k for k in NICE_KM if k <= target_km] or [NICE_KM[0]])
    x0 = minx + (maxx - minx) * 0.04
    y0 = miny + (maxy - miny) * 0.04
    ax.plot([x0, x0 + km * 1000], [y0, y0], color="black", linewidth=2.0, solid_capstyle="butt")
    label = f"{km:g} 公里"
    ax.text(
        x0 + km * 500,
        y0 + (maxy - miny) * 0.015,
        label,
        ha="center",
        va="bottom",
        fontproperties=font(7),
    )


def _north_arrow(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    minx, miny, maxx, maxy = extent
    x = maxx - (maxx - minx) * 0.05
    tail = maxy - (maxy - miny) * 0.13
    head = maxy - (maxy - miny) * 0.06
    ax.annotate(
        "",
        xy=(x, head),
        xytext=(x, tail),
        arrowprops={"arrowstyle": "-|>", "color": "black", "linewidth": 1.0},
    )
    ax.text(x, head, "北", ha="center", va="bottom", fontproperties=font(8))


def map_png(
    *,
    boundary: BaseGeometry | None = None,
    areas: Sequence[Area] = (),
    cells: Sequence[Cell] = (),
    points: Sequence[Spot] = (),
    title: str | None = None,
    cell_label: str = "热点强度",
    width_mm: float = 150.0,
    height_mm: float | None = None,
    dpi: int = DPI,
) -> bytes:
    """A map of the boundary, labelled areas, coloured cells and points (lon/lat) as PNG."""
    layers: list[tuple[str, BaseGeometry]] = []
    if boundary is not None:
        layers.append(("boundary", boundary))
    layers += [(f"areas[{i}]", a.geometry) for i, a in enumerate(areas)]
    layers += [(f"cells[{i}]", c.geometry) for i, c in enumerate(cells)]
    for i, p in enumerate(points):
        if not (-180 <= p.lon <= 180 and -90 <= p.lat <= 90):
            raise ValidationFailed.field(f"points[{i}]", "坐标须为 WGS-84 经纬度")
    if not layers and not points:
        raise ValidationFailed.field("boundary", "地图上没有可画的内容")
    for name, geom in layers:
        _check(name, geom)
    geoms = [g for _, g in layers] + [shapely.Point(p.lon, p.lat) for p in points]
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geoms))
    transformer = _transformer((minx + maxx) / 2, (miny + maxy) / 2)
    step = max(maxx - minx, maxy - miny) / 16 or 1e-6
    frame = shapely.box(minx, miny, maxx, maxy).segmentize(step)
    pminx, pminy, pmaxx, pmaxy = _project(frame, transformer).bounds
    pad = max(pmaxx - pminx, pmaxy - pminy, 200.0) * 0.04
    extent = (pminx - pad, pminy - pad, pmaxx + pad, pmaxy + pad)
    aspect = (extent[3] - extent[1]) / (extent[2] - extent[0])
    extra_mm = (12.0 if title else 0.0) + (14.0 if cells else 0.0)
    if height_mm is None:
        height_mm = float(np.clip(width_mm * aspect + extra_mm, 60.0, 190.0))

    fig = new_figure(width_mm, height_mm)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlim(extent[0], extent[2])
    ax.set_ylim(extent[1], extent[3])

    if cells:
        values = np.array([c.value for c in cells], dtype=float)
        if not np.all(np.isfinite(values)):
            raise ValidationFailed.field("cells", "数值须为有限数")
        paths = [_path(_project(c.geometry, transformer)) for c in cells]
        keep = [i for i, p in enumerate(paths) if p is not None]
        patches = [PathPatch(paths[i]) for i in keep]  # type: ignore[arg-type]
        lo, hi = float(values.min()), float(values.max())
        norm = Normalize(vmin=lo, vmax=hi) if hi > lo else Normalize(vmin=lo - 1.0, vmax=lo)
        collection = PatchCollection(
            patches,
            cmap=colormaps["YlOrRd"],
            norm=norm,
            alpha=0.85,
            linewidth=0.2,
            edgecolor="#888888",
            zorder=2,
        )
        collection.set_array(values[keep])
        ax.add_collection(collection)
        bar = fig.colorbar(
            collection, ax=ax, orientation="horizontal", fraction=0.04, pad=0.02, shrink=0.6
        )
        bar.set_label(cell_label, fontproperties=font(8))
        bar.ax.tick_params(labelsize=7)

    for area in areas:
        path = _path(_project(area.geometry, transformer))
        if path is not None:
            ax.add_patch(
                PathPatch(path, facecolor="none", edgecolor="#555555", linewidth=0.6, zorder=3)
            )
    if boundary is not None:
        path = _path(_project(boundary, transformer))
        if path is not None:
            ax.add_patch(
                PathPatch(path, facecolor="none", edgecolor="black", linewidth=1.6, zorder=4)
            )
    halo = [withStroke(linewidth=2.0, foreground="white")]
    for area in areas:
        if area.label:
            spot = _project(area.geometry.representative_point(), transformer)
            ax.text(
                spot.x,
                spot.y,
                area.label,
                ha="center",
                va="center",
                zorder=6,
                fontproperties=font(6.5),
                path_effects=halo,
            )

    if points:
        categories = list(dict.fromkeys(p.category for p in points))
        lon = np.array([p.lon for p in points])
        lat = np.array([p.lat for p in points])
        x, y = transformer.transform(lon, lat)
        for k, category in enumerate(categories):
            mask = np.array([p.category == category for p in points])
            ax.scatter(
                np.asarray(x)[mask],
                np.asarray(y)[mask],
                s=7,
                color=POINT_COLOURS[k % len(POINT_COLOURS)],
                edgecolors="white",
                linewidths=0.3,
                zorder=5,
                label=category or "点位",
            )
        if any(c is not None for c in categories):
            ax.legend(
                prop=font(7), loc="lower right", frameon=True, framealpha=0.85, markerscale=1.6
            )

    _scale_bar(ax, extent)
    _north_arrow(ax, extent)
    if title:
        ax.set_title(title, fontproperties=font(11), pad=6)
    fig.tight_layout()
    return png_bytes(fig, dpi)
