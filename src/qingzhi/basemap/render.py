"""Drawing raster map tiles (XYZ, Web Mercator, 256 px PNG) from vector features with Pillow.

For a base layer made from data (the demo's synthetic county): layers of WGS-84 shapely
geometries, each with a style, are drawn in order onto every tile of a zoom range that meets the
given bounds. Each tile is drawn at ``SUPERSAMPLE`` times its size and reduced by averaging
(Pillow draws aliased lines; the reduction smooths them), then stored as a 64-colour PNG.
Each label is drawn once with its halo and pasted where it goes. Features are found per tile
with an STR-tree on their bounds widened by the label margin, and
drawn in absolute pixel coordinates, so a line or a label that crosses a tile edge is drawn on
both tiles and meets itself. Widths and radii are given at zooms 10 and 14 and interpolated
(linearly in zoom) between and beyond. The output is deterministic: the same features give the
same bytes.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

TILE = 256
SUPERSAMPLE = 2
LABEL_MARGIN_PX = 120  # a feature this close to a tile may draw a label into it
MAX_LAT = 85.05112878
CURVE_JOINTS_BELOW = 40  # round joints on lines of fewer vertices (dense lines need none)


@dataclass(frozen=True)
class Style:
    """How a layer is drawn: fill, line (with an optional casing), point marks and labels."""

    fill: str | None = None
    line: str | None = None
    width: tuple[float, float] = (1.0, 1.0)  # px at zoom 10 and at zoom 14
    casing: str | None = None
    casing_extra: float = 2.0  # px the casing shows on both sides together
    radius: tuple[float, float] | None = None  # point marks: px at zoom 10 and 14
    mark_outline: str | None = None
    minzoom: int = 0
    label_minzoom: int = 99
    label_size: tuple[float, float] = (12.0, 13.0)
    label_color: str = "#dfe8f3"
    label_halo: str = "#0b1828"
    label_at: tuple[float, ...] = (0.5,)  # line labels: positions along the line (fractions)


@dataclass
class Layer:
    """Geometries (WGS-84) with optional labels, drawn with one style."""

    name: str
    style: Style
    geoms: list[BaseGeometry]
    labels: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.labels:
            self.labels = [None] * len(self.geoms)
        self._tree = shapely.STRtree(self.geoms)

    def near(self, box: BaseGeometry) -> NDArray[np.int64]:
        """Indices of the geometries whose bounds meet ``box``."""
        return np.sort(self._tree.query(box))


def at_zoom(values: tuple[float, float], z: float) -> float:
    """A size given at zooms 10 and 14, interpolated (and extrapolated) linearly in zoom."""
    lo, hi = values
    return max(0.5, lo + (hi - lo) * (z - 10.0) / 4.0)


def lonlat_to_pixel(
    lon: NDArray[np.float64], lat: NDArray[np.float64], z: int
) -> NDArray[np.float64]:
    """Global pixel coordinates (x right, y down) of lon/lat at zoom ``z``."""
    world = TILE * (1 << z)
    lat = np.clip(lat, -MAX_LAT, MAX_LAT)
    x = (lon + 180.0) / 360.0 * world
    y = (1.0 - np.arcsinh(np.tan(np.radians(lat))) / math.pi) / 2.0 * world
    return np.column_stack([x, y])


def tile_range(bounds: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    """The tile columns and rows at zoom ``z`` that meet ``bounds`` (west, south, east, north)."""
    w, s, e, n = bounds
    px = lonlat_to_pixel(np.array([w, e]), np.array([n, s]), z) / TILE
    last = (1 << z) - 1
    x0, x1 = max(0, int(px[0, 0])), min(last, int(px[1, 0]))
    y0, y1 = max(0, int(px[0, 1])), min(last, int(px[1, 1]))
    return range(x0, x1 + 1), range(y0, y1 + 1)


def tile_lonlat_box(z: int, x: int, y: int, margin_px: float) -> BaseGeometry:
    """The lon/lat box of a tile widened by ``margin_px`` pixels."""
    world = TILE * (1 << z)

    def lon(px: float) -> float:
        return px / world * 360.0 - 180.0

    def lat(py: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * py / world))))

    x0, x1 = x * TILE - margin_px, (x + 1) * TILE + margin_px
    y0, y1 = y * TILE - margin_px, (y + 1) * TILE + margin_px
    return shapely.box(lon(x0), lat(min(world, y1)), lon(x1), lat(max(0.0, y0)))


class TileRenderer:
    """Draws the tiles of a list of layers (bottom first) on a background colour."""

    def __init__(self, layers: Sequence[Layer], *, background: str, font: Path | None) -> None:
        self.layers = list(layers)
        self.background = background
        self.font_path = font
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self._labels: dict[tuple[str, int, str, str], Image.Image] = {}

    def _font(self, size: float) -> ImageFont.FreeTypeFont | None:
        if self.font_path is None:
            return None
        key = round(size * SUPERSAMPLE)
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(str(self.font_path), key)
        return self._fonts[key]

    def _label(self, text: str, size: float, color: str, halo: str) -> Image.Image | None:
        """A label's image (RGBA, supersampled, with its halo), drawn once and reused."""
        key = (text, round(size * SUPERSAMPLE), color, halo)
        if key not in self._labels:
            font = self._font(size)
            if font is None:
                return None
            stroke = 2 * SUPERSAMPLE
            x0, y0, x1, y1 = (round(v) for v in font.getbbox(text, stroke_width=stroke))
            label = Image.new("RGBA", (x1 - x0, y1 - y0), (0, 0, 0, 0))
            ImageDraw.Draw(label).text(
                (-x0, -y0), text, font=font, fill=color, stroke_width=stroke, stroke_fill=halo
            )
            self._labels[key] = label
        return self._labels[key]

    def render(self, z: int, x: int, y: int) -> bytes:
        """The PNG of tile (z, x, y)."""
        size = TILE * SUPERSAMPLE
        img = Image.new("RGB", (size, size), self.background)
        draw = ImageDraw.Draw(img)
        origin = np.array([x * TILE, y * TILE], dtype=np.float64)
        box = tile_lonlat_box(z, x, y, LABEL_MARGIN_PX)
        labels: list[tuple[float, float, str, Style]] = []

        def pixels(coords: NDArray[np.float64]) -> NDArray[np.float64]:
            p: NDArray[np.float64] = (
                lonlat_to_pixel(coords[:, 0], coords[:, 1], z) - origin
            ) * SUPERSAMPLE
            return p

        for layer in self.layers:
            st = layer.style
            if z < st.minzoom:
                continue
            idx = layer.near(box)
            geoms = [layer.geoms[i] for i in idx]
            names = [layer.labels[i] for i in idx]
            width = at_zoom(st.width, z) * SUPERSAMPLE
            if st.fill is not None:
                for g in geoms:
                    part = shapely.clip_by_rect(g, *box.bounds)
                    for poly in getattr(part, "geoms", [part]):
                        if poly.geom_type == "Polygon" and not poly.is_empty:
                            ring = np.asarray(poly.exterior.coords)
                            draw.polygon(pixels(ring).ravel().tolist(), fill=st.fill)
            lines = [
                pixels(np.asarray(part.coords))
                for g in geoms
                if g.geom_type in ("LineString", "MultiLineString")
                for part in getattr(g, "geoms", [g])
            ]
            for passes in ((st.casing, width + st.casing_extra * SUPERSAMPLE), (st.line, width)):
                color, w = passes
                if color is None:
                    continue
                for pts in lines:
                    joint = "curve" if len(pts) < CURVE_JOINTS_BELOW else None
                    draw.line(pts.ravel().tolist(), fill=color, width=max(1, round(w)), joint=joint)
                    r = w / 2.0
                    for px, py in (pts[0], pts[-1]):  # round caps
                        draw.ellipse((px - r, py - r, px + r, py + r), fill=color)
            if st.radius is not None:
                r = at_zoom(st.radius, z) * SUPERSAMPLE
                for g in geoms:
                    if g.geom_type != "Point":
                        continue
                    px, py = (float(v) for v in pixels(np.array([[g.x, g.y]]))[0])
                    draw.ellipse(
                        (px - r, py - r, px + r, py + r),
                        fill=st.line or st.fill,
                        outline=st.mark_outline,
                        width=SUPERSAMPLE if st.mark_outline else 0,
                    )
            if z >= st.label_minzoom:
                for g, name in zip(geoms, names, strict=True):
                    if name:
                        labels.extend((*pt, name, st) for pt in _anchors(g, st, z, pixels))
        for px, py, text, st in labels:  # labels above every layer
            label = self._label(text, at_zoom(st.label_size, z), st.label_color, st.label_halo)
            if label is None:
                continue
            w, h = label.size
            left = px if st.radius is not None else px - w / 2.0
            img.paste(label, (round(left), round(py - h / 2.0)), label)
        small = img.reduce(SUPERSAMPLE)
        out = io.BytesIO()
        small.quantize(64, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            out, format="PNG"
        )
        return out.getvalue()

    def tiles(
        self, bounds: tuple[float, float, float, float], minzoom: int, maxzoom: int
    ) -> Iterator[tuple[int, int, int, bytes]]:
        """Every tile (z, x, y, png) of the zoom range that meets ``bounds``."""
        for z in range(minzoom, maxzoom + 1):
            cols, rows = tile_range(bounds, z)
            for x in cols:
                for y in rows:
                    yield z, x, y, self.render(z, x, y)


def _anchors(
    g: BaseGeometry,
    st: Style,
    z: int,
    to_px: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> list[tuple[float, float]]:
    """Where a feature's label goes (supersampled tile pixels): right of a point mark, at
    ``label_at`` fractions along a line."""
    if g.geom_type == "Point":
        gap = (at_zoom(st.radius or (0.0, 0.0), z) + 3.0) * SUPERSAMPLE
        px, py = to_px(np.array([[g.x, g.y]]))[0]
        return [(float(px) + gap, float(py))]
    if g.geom_type == "LineString":
        pts = [g.interpolate(f, normalized=True) for f in st.label_at]
        return [(float(a), float(b)) for a, b in to_px(np.array([[p.x, p.y] for p in pts]))]
    return []
