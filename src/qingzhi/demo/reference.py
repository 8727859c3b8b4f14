"""The demo county's real reference data and the seed's facts about it.

Real, packaged under ``data/`` (see its README): Dianjiang's boundary (垫江县, Chongqing; Alibaba
DataV, GCJ-02, converted to WGS-84 here) and its 26 township-level units with their official names
and statistics codes. The seed's facts: the bureau's code and name, 935,000 registered residents,
and the two subdistricts 桂溪/桂阳 that make up the county seat. Local time is Asia/Shanghai.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from shapely.geometry import Polygon, shape

from qingzhi.config import shared_data_dir
from qingzhi.demo.shapes import largest, snap
from qingzhi.geo.datum import convert_geometry, gcj02_to_wgs84

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
BOUNDARY_FILE = "datav_500231_dianjiang.json"
TOWNSHIPS_FILE = "dianjiang_townships_statsgov_codes.csv"
# Where the reference copy lives when the repository is checked out beside shared/.
SHARED_DATA_DIR = shared_data_dir("dianjiang")

BUREAU_CODE = "500231"
BUREAU_NAME = "垫江县公安局"
POPULATION = 935_000  # registered residents (seed)
URBAN_CODES = ("500231001", "500231002")  # 桂溪街道, 桂阳街道: the county seat
GUIYANG_CODE = "500231002"
LOCAL_TZ_NAME = "Asia/Shanghai"
LOCAL_TZ = dt.timezone(dt.timedelta(hours=8), LOCAL_TZ_NAME)  # no daylight saving


def data_path(name: str) -> Path:
    """The packaged copy of a reference file (falls back to shared/ beside the repository)."""
    packaged = DATA_DIR / name
    return packaged if packaged.exists() else SHARED_DATA_DIR / name


def boundary_feature() -> dict[str, Any]:
    """The DataV boundary Feature of the county (GCJ-02 coordinates)."""
    doc = json.loads(data_path(BOUNDARY_FILE).read_text(encoding="utf-8"))
    feature = doc[0] if isinstance(doc, list) else doc
    if not isinstance(feature, dict):
        raise ValueError("boundary file holds no GeoJSON Feature")
    return feature


@lru_cache(maxsize=1)
def county_boundary() -> Polygon:
    """The county boundary in WGS-84 (the largest polygon of the DataV MultiPolygon)."""
    geom = shape(boundary_feature()["geometry"])
    wgs = convert_geometry(geom, source="gcj02", target="wgs84")
    if wgs.geom_type == "MultiPolygon":
        wgs = largest(wgs)
    return snap(wgs)


@lru_cache(maxsize=1)
def seat_center() -> tuple[float, float]:
    """The county seat's centre in WGS-84 (DataV's ``center`` of the county)."""
    lon, lat = boundary_feature()["properties"]["center"]
    x, y = gcj02_to_wgs84(lon, lat)
    return float(x), float(y)


def township_rows() -> list[dict[str, str]]:
    """The 26 township-level units: code (9 digits), short name, full name."""
    with data_path(TOWNSHIPS_FILE).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [{"code": r["id"], "short": r["name"], "full": r["ext_name"]} for r in rows]
