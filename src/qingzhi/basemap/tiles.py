"""Reading (and writing) tile archives: MBTiles 1.3 and PMTiles 3.

An **MBTiles** file is SQLite: a ``metadata(name, value)`` table (``format`` png/jpg/webp/pbf,
``bounds`` "w,s,e,n", ``center`` "lon,lat,zoom", ``minzoom``, ``maxzoom``, ``attribution``, …)
and ``tiles(zoom_level, tile_column, tile_row, tile_data)`` whose rows count from the *south*
(TMS): the row of XYZ tile (z, x, y) is 2^z − 1 − y. It is opened read-only, one connection per
thread. A **PMTiles** file (protomaps' single-file archive) is read with the ``pmtiles`` package
through a memory map; its header gives the tile type, compression, bounds and zooms.

Vector tiles (``pbf``, Mapbox Vector Tile) are usually stored gzip-compressed in both formats:
``Tile.encoding`` says so, and the server sends them with ``Content-Encoding: gzip``.

Datum: web tiles are drawn in Web Mercator on some geodetic datum. OpenStreetMap data and an
intranet PGIS export (CGCS2000, within centimetres of WGS-84) line up with qingzhi's WGS-84
storage as they are; tiles cut from Chinese commercial maps are on GCJ-02 and must be shifted
(``QINGZHI_BASEMAP_DATUM=gcj02``; the browser moves each tile by the GCJ-02 offset at its centre,
see ``static/js/map_layers.js``). BD-09 tiles use another tiling and are refused.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from qingzhi.errors import ConfigurationError

log = logging.getLogger(__name__)

MAX_ZOOM = 24
MAX_TILE_BYTES = 4 * 1024 * 1024  # a tile larger than this is refused (no real tile is)
MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/x-protobuf",
}
RASTER = ("png", "jpg", "webp")
DATUMS = ("wgs84", "gcj02")
_FORMAT_ALIASES = {"jpeg": "jpg", "mvt": "pbf"}
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Tile:
    """One tile's bytes, media type and content encoding (``gzip`` or None)."""

    data: bytes
    media_type: str
    encoding: str | None = None


@dataclass(frozen=True)
class BasemapInfo:
    """What a tile archive says about itself (and the datum it is declared in)."""

    kind: str  # mbtiles | pmtiles
    format: str  # png | jpg | webp | pbf
    name: str
    bounds: tuple[float, float, float, float]  # west, south, east, north (degrees)
    center: tuple[float, float, float]  # lon, lat, zoom
    minzoom: int
    maxzoom: int
    attribution: str = ""
    description: str = ""
    synthetic: bool = False
    datum: str = "wgs84"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def vector(self) -> bool:
        """Vector tiles (Mapbox Vector Tile), which the browser must render itself."""
        return self.format == "pbf"

    def as_dict(self) -> dict[str, Any]:
        """The metadata endpoint's body."""
        out: dict[str, Any] = {
            "configured": True,
            "kind": self.kind,
            "format": self.format,
            "vector": self.vector,
            "name": self.name,
            "bounds": list(self.bounds),
            "center": list(self.center),
            "minzoom": self.minzoom,
            "maxzoom": self.maxzoom,
            "attribution": self.attribution,
            "description": self.description,
            "synthetic": self.synthetic,
            "datum": self.datum,
            "tile_url": f"/tiles/{{z}}/{{x}}/{{y}}.{self.format}",
        }
        if "vector_layers" in self.extra:
            out["vector_layers"] = self.extra["vector_layers"]
        return out


class TileSource(Protocol):
    """A tile archive opened for reading."""

    info: BasemapInfo

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at XYZ (z, x, y), or None when the archive has none there."""


def in_range(z: int, x: int, y: int) -> bool:
    """Whether (z, x, y) names a tile of the Web Mercator pyramid."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)


def _format(value: str, path: Path) -> str:
    fmt = _FORMAT_ALIASES.get(value.strip().lower(), value.strip().lower())
    if fmt not in MEDIA_TYPES:
        raise ConfigurationError(
            f"底图文件 {path} 的瓦片格式 {value!r} 不受支持（png、jpg、webp 或 pbf）"
        )
    return fmt


def _floats(text: str | None, n: int) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError:
        return None
    return parts if len(parts) == n else None


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes")


def _declared_datum(meta_datum: Any, configured: str | None, path: Path) -> str:
    datum = (configured or str(meta_datum or "wgs84")).strip().lower()
    if datum not in DATUMS:
        raise ConfigurationError(
            f"底图 {path} 的坐标系 {datum!r} 不受支持（wgs84 或 gcj02；百度 BD-09 瓦片分幅不同）"
        )
    return datum


class MBTiles:
    """An MBTiles file opened read-only (one SQLite connection per thread)."""

    def __init__(self, path: Path, *, datum: str | None = None) -> None:
        self.path = path
        self._local = threading.local()
        try:
            rows = dict(self._db().execute("SELECT name, value FROM metadata").fetchall())
            self._db().execute("SELECT 1 FROM tiles LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:
            raise ConfigurationError(f"底图文件 {path} 不是有效的 MBTiles：{exc}") from None
        if "format" not in rows:
            raise ConfigurationError(f"底图文件 {path} 的元数据缺少 format")
        zooms = self._db().execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        minzoom = int(rows.get("minzoom", zooms[0] if zooms[0] is not None else 0))
        maxzoom = int(rows.get("maxzoom", zooms[1] if zooms[1] is not None else minzoom))
        bounds = _floats(rows.get("bounds"), 4) or (-180.0, -85.0511, 180.0, 85.0511)
        center = _floats(rows.get("center"), 3) or (
            (bounds[0] + bounds[2]) / 2,
            (bounds[1] + bounds[3]) / 2,
            float(minzoom),
        )
        extra: dict[str, Any] = {}
        if rows.get("json"):
            try:
                extra = dict(json.loads(rows["json"]))
            except (ValueError, TypeError):
                log.warning("basemap %s: metadata json is not a JSON object", path)
        self.info = BasemapInfo(
            kind="mbtiles",
            format=_format(rows["format"], path),
            name=rows.get("name", path.stem),
            bounds=(bounds[0], bounds[1], bounds[2], bounds[3]),
            center=(center[0], center[1], center[2]),
            minzoom=minzoom,
            maxzoom=maxzoom,
            attribution=rows.get("attribution", ""),
            description=rows.get("description", ""),
            synthetic=_truthy(rows.get("synthetic", "")),
            datum=_declared_datum(rows.get("datum"), datum, path),
            extra=extra,
        )

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=True
            )
            self._local.conn = conn
        return conn

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at XYZ (z, x, y) (stored at TMS row 2^z − 1 − y), or None."""
        if not in_range(z, x, y):
            return None
        row = (
            self._db()
            .execute(
                "SELECT length(tile_data), tile_data FROM tiles"
                " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            )
            .fetchone()
        )
        if row is None or row[0] is None:
            return None
        if row[0] > MAX_TILE_BYTES:
            log.warning("basemap %s: tile %d/%d/%d too large (%d B)", self.path, z, x, y, row[0])
            return None
        data = bytes(row[1])
        return _tile(self.info.format, data, gzip=data[:2] == GZIP_MAGIC)


def _tile(fmt: str, data: bytes, *, gzip: bool) -> Tile:
    return Tile(data=data, media_type=MEDIA_TYPES[fmt], encoding="gzip" if gzip else None)


# PMTiles 3 header codes (the spec's TileType and Compression enumerations).
_PM_TYPES = {1: "pbf", 2: "png", 3: "jpg", 4: "webp"}
_PM_GZIP = 2


class PMTiles:
    """A PMTiles 3 archive opened read-only through a memory map."""

    def __init__(self, path: Path, *, datum: str | None = None) -> None:
        from pmtiles.reader import Reader

        self.path = path
        try:
            with path.open("rb") as fh:
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            # pmtiles has no type hints
            self._reader = Reader(lambda o, n: self._map[o : o + n])  # type: ignore[no-untyped-call]
            header = self._reader.header()  # type: ignore[no-untyped-call]
            meta = self._reader.metadata()  # type: ignore[no-untyped-call]
        except Exception as exc:  # the library raises its own and struct/json errors
            raise ConfigurationError(f"底图文件 {path} 不是有效的 PMTiles：{exc}") from None
        tile_type = int(getattr(header["tile_type"], "value", header["tile_type"]))
        if tile_type not in _PM_TYPES:
            raise ConfigurationError(f"底图文件 {path} 的瓦片类型未知（{tile_type}）")
        self._gzip = int(getattr(header["tile_compression"], "value", 0)) == _PM_GZIP
        meta = meta if isinstance(meta, dict) else {}
        self.info = BasemapInfo(
            kind="pmtiles",
            format=_PM_TYPES[tile_type],
            name=str(meta.get("name", path.stem)),
            bounds=(
                header["min_lon_e7"] / 1e7,
                header["min_lat_e7"] / 1e7,
                header["max_lon_e7"] / 1e7,
                header["max_lat_e7"] / 1e7,
            ),
            center=(
                header["center_lon_e7"] / 1e7,
                header["center_lat_e7"] / 1e7,
                float(header["center_zoom"]),
            ),
            minzoom=int(header["min_zoom"]),
            maxzoom=int(header["max_zoom"]),
            attribution=str(meta.get("attribution", "")),
            description=str(meta.get("description", "")),
            synthetic=_truthy(meta.get("synthetic", "")),
            datum=_declared_datum(meta.get("datum"), datum, path),
            extra={k: meta[k] for k in ("vector_layers",) if k in meta},
        )

    def tile(self, z: int, x: int, y: int) -> Tile | None:
        """The tile at XYZ (z, x, y), or None."""
        if not in_range(z, x, y):
            return None
        data = self._reader.get(z, x, y)  # type: ignore[no-untyped-call]
        if data is None or len(data) > MAX_TILE_BYTES:
            return None
        return _tile(self.info.format, bytes(data), gzip=self._gzip or data[:2] == GZIP_MAGIC)


def open_basemap(path: Path, *, datum: str | None = None) -> TileSource:
    """The archive at ``path`` (opened again when the file changes), by its suffix."""
    try:
        st = os.stat(path)
    except OSError:
        raise ConfigurationError(f"底图文件不存在或无法读取：{path}") from None
    return _open(str(Path(path).resolve()), st.st_mtime_ns, st.st_size, datum)


@lru_cache(maxsize=4)
def _open(path: str, mtime_ns: int, size: int, datum: str | None) -> TileSource:
    p = Path(path)
    if p.suffix.lower() == ".pmtiles":
        return PMTiles(p, datum=datum)
    return MBTiles(p, datum=datum)


def write_mbtiles(
    path: Path, metadata: dict[str, str], tiles: Iterable[tuple[int, int, int, bytes]]
) -> int:
    """Write an MBTiles file of XYZ ``tiles`` (z, x, y, bytes) atomically; returns the count."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(tmp)
    n = 0
    try:
        conn.executescript(
            "CREATE TABLE metadata (name TEXT PRIMARY KEY, value TEXT);"
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
            " tile_data BLOB);"
            "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row);"
        )
        conn.executemany("INSERT INTO metadata VALUES (?, ?)", sorted(metadata.items()))
        for z, x, y, data in tiles:
            conn.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
            n += 1
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)
    return n
