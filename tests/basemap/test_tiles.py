"""Serving a local MBTiles / PMTiles base map: tile bytes in XYZ order, 404s, auth, metadata."""

from __future__ import annotations

import gzip
import io
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from qingzhi.config import Settings
from qingzhi.store.db import Database
from qingzhi.web.app import create_app
from tests.factories import Org
from tests.helpers import bearer


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), color).save(buf, format="PNG")
    return buf.getvalue()


RED, BLUE, GREEN = _png((255, 0, 0)), _png((0, 0, 255)), _png((0, 255, 0))


def _mbtiles(path: Path, fmt: str, tiles: dict[tuple[int, int, int], bytes], **meta: str) -> Path:
    """An MBTiles file written with plain SQLite (rows in TMS order: row = 2^z - 1 - y)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
        " tile_data BLOB);"
    )
    rows = {
        "name": "test",
        "format": fmt,
        "bounds": "107.2,29.9,107.7,30.6",
        "minzoom": "0",
        "maxzoom": "1",
        **meta,
    }
    conn.executemany("INSERT INTO metadata VALUES (?, ?)", rows.items())
    for (z, x, y), data in tiles.items():
        conn.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    # z1: (0, 0) is the north-west tile, (0, 1) the south-west one.
    tiles = {(0, 0, 0): GREEN, (1, 0, 0): RED, (1, 0, 1): BLUE}
    return _mbtiles(tmp_path / "base.mbtiles", "png", tiles, attribution="测试底图")


def _client(db: Database, path: Path | None, **extra: object) -> TestClient:
    settings = Settings(database_url="sqlite://", basemap=path, **extra)  # type: ignore[arg-type]
    return TestClient(create_app(settings, db), base_url="http://testserver")


def test_tiles_are_served_in_xyz_order_with_cache_headers(
    db: Database, org: Org, raster: Path
) -> None:
    client = _client(db, raster)
    auth = bearer(db, "viewer")
    north = client.get("/tiles/1/0/0.png", headers=auth)
    assert north.status_code == 200
    assert north.content == RED
    assert north.headers["content-type"] == "image/png"
    assert "max-age" in north.headers["cache-control"]
    assert north.headers["cache-control"].startswith("private")
    south = client.get("/tiles/1/0/1.png", headers=auth)
    assert south.content == BLUE
    assert client.get("/tiles/0/0/0.png", headers=auth).content == GREEN
    again = client.get("/tiles/1/0/0.png", headers={**auth, "If-None-Match": north.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_missing_tiles_wrong_format_and_outside_the_pyramid_are_404(
    db: Database, org: Org, raster: Path
) -> None:
    client = _client(db, raster)
    auth = bearer(db, "viewer")
    for url in ("/tiles/1/1/1.png", "/tiles/1/2/0.png", "/tiles/1/0/0.jpg", "/tiles/9/0/0.png"):
        r = client.get(url, headers=auth)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "not_found"
    assert client.get("/tiles/99/0/0.png", headers=auth).status_code == 422
    assert client.get("/tiles/1/-1/0.png", headers=auth).status_code == 422


def test_tiles_and_metadata_need_a_signed_in_user(db: Database, org: Org, raster: Path) -> None:
    client = _client(db, raster)
    assert client.get("/tiles/1/0/0.png").status_code == 401
    assert client.get("/api/basemap").status_code == 401


def test_metadata_says_format_bounds_zooms_and_datum(db: Database, org: Org, raster: Path) -> None:
    client = _client(db, raster)
    info = client.get("/api/basemap", headers=bearer(db, "chief_a")).json()
    assert info["configured"] is True
    assert info["kind"] == "mbtiles"
    assert info["format"] == "png"
    assert info["vector"] is False
    assert info["bounds"] == [107.2, 29.9, 107.7, 30.6]
    assert (info["minzoom"], info["maxzoom"]) == (0, 1)
    assert info["datum"] == "wgs84"
    assert info["synthetic"] is False
    assert info["attribution"] == "测试底图"
    assert info["tile_url"] == "/tiles/{z}/{x}/{y}.png"
    # declared on GCJ-02 (a commercial map's tiles): the browser is told to shift them
    shifted = _client(db, raster, basemap_datum="gcj02").get(
        "/api/basemap", headers=bearer(db, "viewer", "t2")
    )
    assert shifted.json()["datum"] == "gcj02"


def test_without_a_base_map_the_metadata_says_so_and_tiles_are_404(db: Database, org: Org) -> None:
    client = _client(db, None)
    auth = bearer(db, "viewer")
    assert client.get("/api/basemap", headers=auth).json() == {"configured": False}
    assert client.get("/tiles/0/0/0.png", headers=auth).status_code == 404


def test_a_broken_file_is_a_clear_configuration_error(
    db: Database, org: Org, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.mbtiles"
    bad.write_bytes(b"not sqlite at all" * 100)
    r = _client(db, bad).get("/api/basemap", headers=bearer(db, "viewer"))
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "configuration_error"
    assert "MBTiles" in r.json()["error"]["message"]
    gone = _client(db, tmp_path / "missing.mbtiles").get(
        "/tiles/0/0/0.png", headers=bearer(db, "viewer", "t2")
    )
    assert gone.json()["error"]["code"] == "configuration_error"


def test_vector_tiles_keep_their_gzip_encoding(db: Database, org: Org, tmp_path: Path) -> None:
    body = b"\x1a\x05hello"  # any protobuf bytes: the server does not parse them
    path = _mbtiles(tmp_path / "v.mbtiles", "pbf", {(0, 0, 0): gzip.compress(body)})
    client = _client(db, path)
    auth = bearer(db, "viewer")
    assert client.get("/api/basemap", headers=auth).json()["vector"] is True
    r = client.get("/tiles/0/0/0.pbf", headers=auth)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    assert r.headers["content-encoding"] == "gzip"
    assert r.content == body  # the client undid the gzip encoding


def test_a_pmtiles_archive_serves_the_same_tiles(
    db: Database, org: Org, raster: Path, tmp_path: Path
) -> None:
    from pmtiles.convert import mbtiles_to_pmtiles

    pm = tmp_path / "base.pmtiles"
    mbtiles_to_pmtiles(str(raster), str(pm), maxzoom=1)
    client = _client(db, pm)
    auth = bearer(db, "viewer")
    info = client.get("/api/basemap", headers=auth).json()
    assert (info["kind"], info["format"], info["maxzoom"]) == ("pmtiles", "png", 1)
    assert client.get("/tiles/1/0/0.png", headers=auth).content == RED
    assert client.get("/tiles/1/0/1.png", headers=auth).content == BLUE
    assert client.get("/tiles/1/1/1.png", headers=auth).status_code == 404
