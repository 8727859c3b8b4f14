"""Parsing and validating GeoJSON geometries (WGS-84 lon/lat) with clear, field-named errors."""

from __future__ import annotations

import json
import logging
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

AREAL = ("Polygon", "MultiPolygon")


def parse_area(value: Any, field: str) -> BaseGeometry:
    """A valid Polygon/MultiPolygon in lon/lat from a GeoJSON geometry (dict or text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationFailed.field(field, f"不是合法的 GeoJSON：{exc.msg}") from None
        except RecursionError:  # e.g. [[[[...]]]] nested 20,000 deep
            raise ValidationFailed.field(field, "不是合法的 GeoJSON：嵌套过深") from None
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in AREAL:
        raise ValidationFailed.field(field, "须为 GeoJSON Polygon 或 MultiPolygon 几何")
    try:
        geom = shape(value)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        raise ValidationFailed.field(field, f"几何无法解析：{exc}") from None
    if geom.is_empty:
        raise ValidationFailed.field(field, "几何为空")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValidationFailed.field(field, "坐标超出经纬度范围（应为 WGS-84 经度、纬度）")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise ValidationFailed.field(field, f"几何无效：{reason}")
    return geom


def to_geojson_text(geom: BaseGeometry) -> str:
    """Compact GeoJSON text of a geometry, as stored."""
    return json.dumps(mapping(geom), separators=(",", ":"))


def load_geometry(text: str | None) -> BaseGeometry | None:
    """The shapely geometry of stored GeoJSON text."""
    if not text:
        return None
    return shape(json.loads(text))
