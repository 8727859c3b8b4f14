"""A raster base map from an OpenStreetMap extract, drawn offline (``qingzhi basemap osm``).

The extract's drivable roads are read and classed by ``qingzhi.planning.roads.read_osm_roads``
(国道 … 村道 from ``ref`` or ``highway``) and drawn with the base map's styles
(``qingzhi.basemap.styles``) by ``qingzhi.basemap.render`` into an MBTiles file over the roads'
bounds. OpenStreetMap is on WGS-84: the tiles need no datum shift. The attribution
"© OpenStreetMap contributors" (ODbL) is kept in the metadata and shown on the map.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import shapely

from qingzhi.basemap.render import Layer, TileRenderer, tile_range
from qingzhi.basemap.styles import BACKGROUND, DRAW_ORDER, ROAD_STYLES
from qingzhi.basemap.tiles import write_mbtiles
from qingzhi.errors import ValidationFailed
from qingzhi.planning.roads import read_osm_roads

log = logging.getLogger(__name__)

MAX_TILES = 60_000  # a county to zoom 16 is ~15,000 tiles
ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"


@dataclass(frozen=True)
class OsmBasemap:
    """What ``render_osm`` wrote."""

    path: Path
    tiles: int
    roads: int
    bounds: tuple[float, float, float, float]


def count_tiles(bounds: tuple[float, float, float, float], minzoom: int, maxzoom: int) -> int:
    """How many tiles the zoom range has over ``bounds``."""
    total = 0
    for z in range(minzoom, maxzoom + 1):
        cols, rows = tile_range(bounds, z)
        total += len(cols) * len(rows)
    return total


def render_osm(
    extract: Path, out: Path, *, minzoom: int = 10, maxzoom: int = 15, name: str | None = None
) -> OsmBasemap:
    """Draw the roads of an OSM extract into an MBTiles file of zooms ``minzoom``–``maxzoom``."""
    if not extract.is_file():
        raise ValidationFailed.field("extract", f"找不到 OpenStreetMap 数据文件：{extract}")
    if not 0 <= minzoom <= maxzoom <= 18:
        raise ValidationFailed.field("maxzoom", "缩放级别须满足 0 ≤ minzoom ≤ maxzoom ≤ 18")
    roads = read_osm_roads(extract)
    if not roads:
        raise ValidationFailed.field("extract", f"{extract.name} 中没有可通行道路（highway）")
    w, s, e, n = shapely.MultiLineString([r.geometry for r in roads]).bounds
    bounds = (round(w, 6), round(s, 6), round(e, 6), round(n, 6))
    total = count_tiles(bounds, minzoom, maxzoom)
    if total > MAX_TILES:
        raise ValidationFailed.field(
            "maxzoom", f"{total} 张瓦片超过上限 {MAX_TILES}：请降低 --maxzoom 或裁小数据范围"
        )
    layers = []
    for cls in DRAW_ORDER:
        geoms = [r.geometry for r in roads if r.road_class == cls]
        if geoms:  # no labels: an OSM way is a short piece, a label on each would be noise
            layers.append(Layer(f"road-{cls}", ROAD_STYLES[cls], list(geoms)))
    meta = {
        "name": name or extract.name.split(".")[0],
        "description": f"OpenStreetMap 数据 {extract.name} 的道路底图（{len(roads)} 条）",
        "attribution": ATTRIBUTION,
        "format": "png",
        "type": "baselayer",
        "version": "1",
        "bounds": ",".join(str(v) for v in bounds),
        "center": f"{(w + e) / 2:.6f},{(s + n) / 2:.6f},{minzoom}",
        "minzoom": str(minzoom),
        "maxzoom": str(maxzoom),
        "datum": "wgs84",
        "json": json.dumps({"generator": "qingzhi.basemap.osm", "source": extract.name}),
    }
    renderer = TileRenderer(layers, background=BACKGROUND, font=None)
    count = write_mbtiles(out, meta, renderer.tiles(bounds, minzoom, maxzoom))
    log.info("osm base map: %d roads, %d tiles into %s", len(roads), count, out)
    return OsmBasemap(out, count, len(roads), bounds)
