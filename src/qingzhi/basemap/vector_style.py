"""The MapLibre style of a vector base map: made from the file's ``vector_layers``, or a local
style file (``QINGZHI_BASEMAP_STYLE``) pointed at the served tiles.

**Made** (the default): for every layer of the file, polygons as fills, lines as lines, points as
circles, each filtered by geometry type (so a layer holding several kinds is drawn whole), and
labels from a ``name`` field. Colours follow the raster base map (``qingzhi.basemap.styles``):
roads by their class — ``road_class`` (the demo's and ``qingzhi.planning.roads``' classes), else
OpenStreetMap's ``highway`` (as ``planning.roads.classify``), else OpenMapTiles' ``class``
(``motorway`` … ``minor``, ``service``, ``track``, ``path``) — water in blue (a ``water``,
``waterway`` or ``river`` layer, or class, ``natural`` or ``landuse`` naming water), the rest in
the land's colour. Fills first, then lines, then points, then labels.

**A local style file**: a MapLibre style (version 8). Its vector sources are pointed at
``/tiles/{z}/{x}/{y}.pbf`` (their ``url`` dropped; one file is served), ``glyphs`` and ``sprite``
are dropped (no request may leave the server: labels are drawn in the browser from its own fonts,
and icons from a sprite are not shown), and a source of any other type that loads from a URL is
refused. A missing or broken file is a configuration error naming it.

**Labels without a glyph server**: a style without ``glyphs`` makes MapLibre GL (6.x) draw every
character locally with TinySDF from the font stack named by ``text-font``, as CSS font families;
``TEXT_FONT`` names the CJK fonts Debian ships and ``sans-serif``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qingzhi.basemap.styles import BACKGROUND, DRAW_ORDER, ROAD_STYLES
from qingzhi.basemap.tiles import BasemapInfo
from qingzhi.errors import ConfigurationError
from qingzhi.planning.roads import CLASSES, HIGHWAY_CLASS

SOURCE = "basemap"
TEXT_FONT = ["Noto Sans CJK SC", "FandolHei", "WenQuanYi Zen Hei", "sans-serif"]
WATER_COLOR = "#1d4f7a"
WATER_LINE = "#3f86c4"
POINT_COLOR = "#9fb4cc"
OTHER_FILL = "#1a3350"
# OpenMapTiles' transportation classes that are not OSM highway values
OMT_CLASS = {"minor": "village", "service": "other", "path": "other", "busway": "other"}
WATER_WORDS = ("water", "waterway", "river", "riverbank", "lake", "reservoir", "canal", "stream")
_CLASS_KEYS = ("road_class", "highway", "class")
# GL zoom = Leaflet zoom - 1 (512 px tiles): the raster styles' widths at Leaflet zooms 10 and 14
_GL_ZOOMS = (9, 13)
LINE_LABEL_MINZOOM = 11  # GL zooms: Leaflet 12
POINT_MINZOOM = 13  # Leaflet 14


def _road_class() -> list[Any]:
    """An expression: the feature's road class (national … other) from its attributes."""
    names: dict[str, list[str]] = {c: [c] for c in CLASSES}
    for value, cls in {**HIGHWAY_CLASS, **OMT_CLASS}.items():
        names[cls] += [value, value + "_link"]
    arms: list[Any] = []
    for cls in CLASSES:
        if cls != "other":
            arms += [sorted(set(names[cls])), cls]
    found: list[Any] = ["coalesce", *(["get", k] for k in _CLASS_KEYS), ""]
    return ["match", ["to-string", found], *arms, "other"]


def _by_class(pick: Any) -> list[Any]:
    """An expression choosing ``pick(style)`` by road class."""
    arms: list[Any] = []
    for cls in DRAW_ORDER:
        if cls != "other":
            arms += [cls, pick(ROAD_STYLES[cls])]
    return ["match", _road_class(), *arms, pick(ROAD_STYLES["other"])]


def _watery(layer_id: str) -> list[Any]:
    """An expression: whether a feature of this layer is water."""
    if any(w in layer_id.lower() for w in WATER_WORDS):
        return ["literal", True]
    keys = ("class", "natural", "landuse", "waterway", "water")
    checks = [["in", ["to-string", ["get", k]], ["literal", list(WATER_WORDS)]] for k in keys]
    return ["any", *checks, ["has", "waterway"]]


def _layer_ids(info: BasemapInfo) -> list[tuple[str, bool]]:
    """The file's layers (id, whether it has a ``name`` field)."""
    out = []
    for layer in info.extra.get("vector_layers") or []:
        if isinstance(layer, dict) and isinstance(layer.get("id"), str):
            fields = layer.get("fields")
            fields = fields if isinstance(fields, dict) else {}
            out.append((layer["id"], "name" in fields or "name:zh" in fields))
    return out


def default_style(info: BasemapInfo) -> dict[str, Any]:
    """A style that draws every layer of a vector base map."""
    if not info.vector:
        raise ConfigurationError("底图不是矢量瓦片，没有矢量样式")
    ids = _layer_ids(info)
    if not ids:
        raise ConfigurationError(
            "矢量底图的元数据没有 vector_layers，无法生成样式（可指定 QINGZHI_BASEMAP_STYLE）"
        )
    line_color = _by_class(lambda s: s.line)
    fills, lines, points, labels = [], [], [], []
    for lid, named in ids:
        water = _watery(lid)
        common = {"source": SOURCE, "source-layer": lid}
        fills.append({
            "id": f"{lid}-fill", "type": "fill", **common,
            "filter": ["==", "$type", "Polygon"],
            "paint": {"fill-color": ["case", water, WATER_COLOR, OTHER_FILL], "fill-opacity": 0.85},
        })  # fmt: skip
        lines.append({
            "id": f"{lid}-line", "type": "line", **common,
            "filter": ["==", "$type", "LineString"],
            "layout": {"line-cap": "round", "line-join": "round"},
            "paint": {
                "line-color": ["case", water, WATER_LINE, line_color],
                "line-width": [
                    "interpolate", ["exponential", 1.6], ["zoom"],
                    _GL_ZOOMS[0], ["case", water, 1.2, _by_class(lambda s: s.width[0])],
                    _GL_ZOOMS[1], ["case", water, 2.5, _by_class(lambda s: s.width[1])],
                ],
            },
        })  # fmt: skip
        # points (an OSM extract has a node for every crossing and shop): named ones only, at
        # street zoom, so that they do not bury the map
        points.append({
            "id": f"{lid}-point", "type": "circle", **common, "minzoom": POINT_MINZOOM,
            "filter": ["all", ["==", "$type", "Point"], *([["has", "name"]] if named else [])],
            "paint": {"circle-radius": 2.5, "circle-color": POINT_COLOR,
                      "circle-stroke-color": BACKGROUND, "circle-stroke-width": 1},
        })  # fmt: skip
        if named:
            labels += [_label(lid, "line"), _label(lid, "point")]
    background = {
        "id": "background",
        "type": "background",
        "paint": {"background-color": BACKGROUND},
    }
    return {
        "version": 8,
        "name": info.name,
        "sources": {SOURCE: _source(info)},
        "layers": [background, *fills, *lines, *points, *labels],
    }


def _label(lid: str, placement: str) -> dict[str, Any]:
    """Names along lines, or under points and at polygons (from street zooms)."""
    kinds = ["LineString"] if placement == "line" else ["Point", "Polygon"]
    return {
        "id": f"{lid}-label-{placement}",
        "type": "symbol",
        "source": SOURCE,
        "source-layer": lid,
        "minzoom": LINE_LABEL_MINZOOM if placement == "line" else POINT_MINZOOM,
        "filter": ["in", "$type", *kinds],
        "layout": {
            "text-field": ["coalesce", ["get", "name:zh"], ["get", "name"]],
            "text-font": TEXT_FONT,
            "text-size": 12,
            "symbol-placement": placement,
            "text-max-width": 8,
            **({} if placement == "line" else {"text-anchor": "top", "text-offset": [0, 0.6]}),
        },
        "paint": {"text-color": "#dfe8f3", "text-halo-color": "#0b1828", "text-halo-width": 1.2},
    }


def _source(info: BasemapInfo) -> dict[str, Any]:
    return {
        "type": "vector",
        "tiles": [info.as_dict()["tile_url"]],
        "minzoom": info.minzoom,
        "maxzoom": info.maxzoom,
        "bounds": list(info.bounds),
        "attribution": info.attribution,
    }


def local_style(path: Path, info: BasemapInfo) -> dict[str, Any]:
    """The style file at ``path``, its vector sources pointed at the served tiles."""
    try:
        style = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigurationError(f"底图样式文件不存在或无法读取：{path}") from None
    except ValueError as exc:
        raise ConfigurationError(f"底图样式文件 {path} 不是有效的 JSON：{exc}") from None
    if not isinstance(style, dict) or style.get("version") != 8:
        raise ConfigurationError(f"底图样式文件 {path} 不是 MapLibre 样式（须为 version 8 的对象）")
    sources = style.get("sources")
    if not isinstance(sources, dict) or not isinstance(style.get("layers"), list):
        raise ConfigurationError(f"底图样式文件 {path} 缺少 sources 或 layers")
    for name, source in sources.items():
        if not isinstance(source, dict):
            raise ConfigurationError(f"底图样式文件 {path} 的数据源 {name} 无效")
        if source.get("type") == "vector":
            source.pop("url", None)
            source.update(
                {k: v for k, v in _source(info).items() if k not in source or k == "tiles"}
            )
        elif "url" in source or "tiles" in source or isinstance(source.get("data"), str):
            raise ConfigurationError(
                f"底图样式文件 {path} 的数据源 {name}（{source.get('type')}）从网址加载："
                "只支持矢量底图文件本身和内嵌数据"
            )
    style.pop("glyphs", None)  # labels are drawn in the browser from its own fonts
    style.pop("sprite", None)  # no sprite server: icons are not drawn
    return style


def style_of(info: BasemapInfo, path: Path | None) -> dict[str, Any]:
    """The base map's style: the local file when one is set, else one made from its layers."""
    if not info.vector:
        raise ConfigurationError("底图不是矢量瓦片，没有矢量样式")
    return local_style(path, info) if path is not None else default_style(info)
