"""The vector base map's MapLibre style (GET /api/basemap/style): made from the file's
vector_layers, or a local style file pointed at the served tiles; no glyph or sprite server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qingzhi.store.db import Database
from tests.basemap.test_tiles import _client, _mbtiles
from tests.factories import Org
from tests.helpers import bearer

LAYERS = {
    "vector_layers": [
        {"id": "transportation", "fields": {"class": "String", "name": "String"}},
        {"id": "water", "fields": {"class": "String"}},
    ]
}


@pytest.fixture
def vector(tmp_path: Path) -> Path:
    return _mbtiles(
        tmp_path / "v.mbtiles",
        "pbf",
        {(0, 0, 0): b"\x1a\x00"},
        json=json.dumps(LAYERS),
        minzoom="6",
        maxzoom="14",
    )


def test_the_made_style_draws_every_layer_by_geometry(db: Database, org: Org, vector: Path) -> None:
    client = _client(db, vector)
    auth = bearer(db, "viewer")
    assert client.get("/api/basemap", headers=auth).json()["style_url"] == "/api/basemap/style"
    style = client.get("/api/basemap/style", headers=auth).json()
    ids = [layer["id"] for layer in style["layers"]]
    assert ids == [
        "background",
        "transportation-fill",
        "water-fill",
        "transportation-line",
        "water-line",
        "transportation-point",
        "water-point",
        "transportation-label-line",
        "transportation-label-point",  # only it has names
    ]
    source = style["sources"]["basemap"]
    assert source == {
        "type": "vector", "tiles": ["/tiles/{z}/{x}/{y}.pbf"], "minzoom": 6, "maxzoom": 14,
        "bounds": [107.2, 29.9, 107.7, 30.6], "attribution": "",
    }  # fmt: skip
    assert "glyphs" not in style and "sprite" not in style
    by_id = {layer["id"]: layer for layer in style["layers"]}
    assert by_id["water-fill"]["paint"]["fill-color"][1] == ["literal", True]  # water by name
    road_colour = by_id["transportation-line"]["paint"]["line-color"][3]
    # OSM's trunk, OpenMapTiles' "trunk" class and the demo's "national": the 国道 colour
    assert road_colour[0] == "match"
    national = next(i for i, arm in enumerate(road_colour) if arm == "national")
    assert road_colour[national + 1] == "#f08c3a"


def test_a_local_style_file_is_pointed_at_the_served_tiles(
    db: Database, org: Org, vector: Path, tmp_path: Path
) -> None:
    own = {
        "version": 8,
        "glyphs": "https://fonts.example.com/{fontstack}/{range}.pbf",
        "sprite": "https://sprites.example.com/s",
        "sources": {"omt": {"type": "vector", "url": "https://tiles.example.com/tiles.json"}},
        "layers": [
            {"id": "roads", "type": "line", "source": "omt", "source-layer": "transportation"}
        ],
    }  # fmt: skip
    path = tmp_path / "style.json"
    path.write_text(json.dumps(own), "utf-8")
    style = _client(db, vector, basemap_style=path).get(
        "/api/basemap/style", headers=bearer(db, "viewer")
    ).json()  # fmt: skip
    assert style["sources"]["omt"]["tiles"] == ["/tiles/{z}/{x}/{y}.pbf"]
    assert "url" not in style["sources"]["omt"]
    assert "glyphs" not in style and "sprite" not in style
    assert style["layers"] == own["layers"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "不存在"),
        ("{not json", "JSON"),
        ('{"version": 7, "sources": {}, "layers": []}', "version 8"),
        (
            '{"version": 8, "sources": {"sat": {"type": "raster",'
            ' "tiles": ["https://x/{z}/{x}/{y}"]}}, "layers": []}',
            "sat",
        ),
    ],
)
def test_a_bad_style_file_is_a_configuration_error_naming_it(
    db: Database, org: Org, vector: Path, tmp_path: Path, text: str | None, says: str
) -> None:
    path = tmp_path / "style.json"
    if text is not None:
        path.write_text(text, "utf-8")
    r = _client(db, vector, basemap_style=path).get(
        "/api/basemap/style", headers=bearer(db, "viewer")
    )
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "configuration_error"
    assert str(path) in r.json()["error"]["message"] and says in r.json()["error"]["message"]


def test_no_style_without_a_vector_base_map(db: Database, org: Org, tmp_path: Path) -> None:
    auth = bearer(db, "viewer")
    assert _client(db, None).get("/api/basemap/style", headers=auth).status_code == 404
    raster = _mbtiles(tmp_path / "r.mbtiles", "png", {})
    assert _client(db, raster).get("/api/basemap/style", headers=auth).status_code == 404
    assert "style_url" not in _client(db, raster).get("/api/basemap", headers=auth).json()
    assert _client(db, None).get("/api/basemap/style").status_code == 401
