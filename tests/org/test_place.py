"""The place setup (``qingzhi place init``): jurisdictions from a GeoJSON in a projected CRS and
from a Shapefile, or derived from a CAD export's district column (marked derived); the time zone
and UTM zone chosen from the place and used by the app; a CRS that does not cover the place
refused; and the calls routed to the new stations."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import select
from typer.testing import CliRunner, Result

from qingzhi.cli import app
from qingzhi.config import Settings, get_settings
from qingzhi.demo import cad_export
from qingzhi.errors import ValidationFailed
from qingzhi.geo.places import check_crs_covers, utm_crs
from qingzhi.org.models import Bureau, Unit
from qingzhi.org.service.place import apply_place
from qingzhi.store.db import Database, migrate

runner = CliRunner()
# Two stations side by side near Dianjiang (107.3°E, 30.3°N): UTM zone 48N.
WEST = [(107.2, 30.2), (107.3, 30.2), (107.3, 30.4), (107.2, 30.4)]
EAST = [(107.3, 30.2), (107.4, 30.2), (107.4, 30.4), (107.3, 30.4)]


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """An empty migrated store used by the CLI."""
    url = f"sqlite:///{tmp_path / 'place.db'}"
    migrate(url)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database(url)
    yield db
    db.dispose()
    get_settings.cache_clear()


def _polygons(path: Path, rings: list[list[tuple[float, float]]], crs: str, driver: str) -> None:
    """Station polygons (codes W and E) written by GDAL in ``crs``."""
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    geoms = [shapely.Polygon([to.transform(x, y) for x, y in ring]) for ring in rings]
    pyogrio.raw.write(
        path,
        geometry=shapely.to_wkb(geoms),
        field_data=[
            np.array(["W", "E"][: len(rings)]),
            np.array(["西城派出所", "东城派出所"][: len(rings)]),
        ],
        fields=["code", "name"],
        geometry_type="Polygon",
        crs=crs,
        driver=driver,
    )


def _init(*args: str) -> Result:
    return runner.invoke(app, ["place", "init", *args])


def _units(db: Database) -> dict[str, Unit]:
    with db.session() as s:
        units = {u.code: u for u in s.execute(select(Unit)).scalars()}
        for u in units.values():
            s.expunge(u)
        return units


def test_place_from_a_projected_geojson(cli_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "stations.geojson"
    _polygons(path, [WEST, EAST], "EPSG:4547", "GeoJSON")  # CGCS2000 / 3-degree GK CM 108E
    r = _init("--jurisdictions", str(path), "--bureau-code", "DJ", "--bureau-name", "垫江县公安局")
    assert r.exit_code == 0, r.output
    assert "Asia/Shanghai" in r.output and "EPSG:32648" in r.output
    units = _units(cli_db)
    assert set(units) == {"W", "E", "CMD"} and units["W"].name == "西城派出所"
    west = shapely.from_geojson(units["W"].jurisdiction)
    assert west.bounds == pytest.approx((107.2, 30.2, 107.3, 30.4), abs=1e-6)
    assert not units["W"].jurisdiction_derived
    with cli_db.session() as s:
        bureau = s.execute(select(Bureau)).scalar_one()
        boundary = shapely.from_geojson(bureau.boundary)
    assert (bureau.timezone, bureau.projected_crs) == ("Asia/Shanghai", "EPSG:32648")
    assert boundary.area == pytest.approx(0.2 * 0.2, rel=1e-4)


def test_place_from_a_shapefile_and_the_app_uses_its_zone(cli_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "stations.shp"
    _polygons(path, [WEST, EAST], "EPSG:4326", "ESRI Shapefile")
    r = _init(
        "--jurisdictions",
        str(path),
        "--bureau-code",
        "X",
        "--bureau-name",
        "某县公安局",
        "--timezone",
        "America/Chicago",
    )
    assert r.exit_code == 0, r.output
    assert set(_units(cli_db)) >= {"W", "E"}
    settings = apply_place(Settings(database_url=str(cli_db.engine.url)), cli_db)
    assert (settings.timezone, settings.projected_crs) == ("America/Chicago", "EPSG:32648")
    # the environment still wins
    explicit = apply_place(Settings(database_url="sqlite://", timezone="Asia/Urumqi"), cli_db)
    assert explicit.timezone == "Asia/Urumqi"


def test_place_derived_from_the_calls_district_column(cli_db: Database, tmp_path: Path) -> None:
    boundary = tmp_path / "county.geojson"
    ring = [(107.0, 30.0), (107.2, 30.0), (107.2, 30.2), (107.0, 30.2)]
    boundary.write_text(
        json.dumps(
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
            }
        ),
        encoding="utf-8",
    )
    calls = tmp_path / "calls.csv"
    shape = cad_export.Shape(107.0, 30.0, 107.2, 30.2, dt.date(2026, 10, 1), 5)
    table = cad_export.rows(400, shape, seed=2)
    for row in table:  # districts by quadrant, as a real district column follows the ground
        lat, lon = float(row[9]), float(row[10])
        row[6] = ("SOUTH" if lat < 30.1 else "NORTH") + ("WEST" if lon < 107.1 else "EAST")
    cad_export.write(calls, table)
    mapping = tmp_path / "m.toml"
    mapping.write_text(cad_export.MAPPING, encoding="utf-8")
    r = _init(
        "--boundary",
        str(boundary),
        "--derive-from",
        str(calls),
        "--mapping",
        str(mapping),
        "--bureau-code",
        "SA",
        "--bureau-name",
        "测试县公安局",
    )
    assert r.exit_code == 0, r.output
    assert "推算" in r.output
    units = {c: u for c, u in _units(cli_db).items() if c.startswith("D-")}
    assert set(units) == {"D-NORTHEAST", "D-NORTHWEST", "D-SOUTHEAST", "D-SOUTHWEST"}
    assert all(u.jurisdiction_derived for u in units.values())
    areas = {c: shapely.from_geojson(u.jurisdiction) for c, u in units.items()}
    total = shapely.union_all(list(areas.values()))
    assert total.area == pytest.approx(0.04, rel=1e-3)  # they tile the county
    assert sum(a.area for a in areas.values()) == pytest.approx(0.04, rel=1e-3)  # no overlap
    assert areas["D-SOUTHWEST"].contains(shapely.Point(107.03, 30.03))
    assert areas["D-NORTHEAST"].contains(shapely.Point(107.17, 30.17))


def test_a_crs_that_does_not_cover_the_place_is_refused(cli_db: Database, tmp_path: Path) -> None:
    assert utm_crs(107.3, 30.3) == "EPSG:32648" and utm_crs(-98.5, 29.4) == "EPSG:32614"
    assert utm_crs(151.2, -33.9) == "EPSG:32756"
    with pytest.raises(ValidationFailed) as exc:
        check_crs_covers("EPSG:32610", (107.2, 30.2, 107.4, 30.4))
    assert exc.value.details[0]["field"] == "crs" and "不覆盖" in exc.value.details[0]["message"]
    with pytest.raises(ValidationFailed):
        check_crs_covers("EPSG:4326", (107.2, 30.2, 107.4, 30.4))  # not projected
    path = tmp_path / "stations.geojson"
    _polygons(path, [WEST, EAST], "EPSG:4326", "GeoJSON")
    r = _init(
        "--jurisdictions",
        str(path),
        "--crs",
        "EPSG:32610",
        "--bureau-code",
        "X",
        "--bureau-name",
        "县局",
    )
    assert r.exit_code == 2 and "不覆盖" in r.output and "Traceback" not in r.output
    assert _units(cli_db) == {}  # nothing written


def test_the_pages_show_the_place_local_time(db: Database, org: object) -> None:
    from fastapi.testclient import TestClient

    from qingzhi.web.app import create_app

    with db.session(write=True) as s:
        s.execute(select(Bureau)).scalar_one().timezone = "America/Chicago"
    with TestClient(create_app(Settings(database_url="sqlite://"), db)) as client:
        page = client.get("/login")
    assert page.status_code == 200
    assert '<meta name="qz-timezone" content="America/Chicago">' in page.text
    js = (Path(__file__).parents[2] / "src/qingzhi/web/static/js/qz.js").read_text()
    assert 'meta[name="qz-timezone"]' in js  # the clock reads it, not a fixed zone
