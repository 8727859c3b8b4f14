"""Import and export of the organisation (zip of GeoJSON + CSV): round trip, all-or-nothing."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from qingzhi.audit.service import trail_of
from qingzhi.auth.models import User
from qingzhi.org import exchange
from qingzhi.org.models import Bureau, Officer, Unit, Zone
from qingzhi.store.db import Database
from tests.factories import Org, square
from tests.helpers import bearer, counts, unzip


def enrich(session: Session, org: Org) -> None:
    """Fill the optional fields so that the round trip covers them."""
    bureau = session.get(Bureau, org.bureau.id)
    assert bureau is not None
    bureau.boundary = square(106.9, 29.9, 0.6)
    session.get(Unit, org.id("B")).traffic_integrated = True  # type: ignore[union-attr]
    session.get(Unit, org.id("S")).service_window = False  # type: ignore[union-attr]
    session.get(Unit, org.id("S")).synthetic = True  # type: ignore[union-attr]
    zone = session.get(Zone, org.zones["A-Z1"].id)
    assert zone is not None
    zone.geometry = square(107.0, 30.0, 0.05)
    for number in ("A000", "A001", "A002"):
        session.get(Officer, org.officers[number].id).zone_id = zone.id  # type: ignore[union-attr]
    session.get(Officer, org.officers["B001"].id).active = False  # type: ignore[union-attr]


def wipe(session: Session) -> None:
    """Remove the organisation (users stay, detached from their units)."""
    session.execute(update(User).values(unit_id=None, officer_id=None))
    session.execute(delete(Officer))
    session.execute(delete(Zone))
    session.execute(update(Unit).values(central_id=None))
    session.execute(delete(Unit))
    session.execute(delete(Bureau))


def zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def _enriched(db: Database, org: Org) -> None:
    """Every test here starts from the enriched organisation."""
    with db.session(write=True) as session:
        enrich(session, org)


def test_export_contents(client: TestClient, admin: dict[str, str]) -> None:
    r = client.get("/api/org/export", headers=admin)
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    files = unzip(r.content)
    assert set(files) == {"bureau.json", "units.geojson", "zones.geojson", "officers.csv"}
    bureau = json.loads(files["bureau.json"])
    assert (bureau["code"], bureau["population"]) == ("TEST", 100_000)
    assert bureau["boundary"]["type"] == "Polygon"
    units = {f["properties"]["code"]: f for f in json.loads(files["units.geojson"])["features"]}
    assert set(units) == {"A", "B", "C", "R1", "R2", "S", "CMD"}
    assert units["R1"]["properties"]["central"] == "C"
    assert units["C"]["geometry"] is None
    assert units["B"]["properties"]["traffic_integrated"] is True
    rows = list(csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8"))))
    assert len(rows) == 56 + 22
    a0 = next(r for r in rows if r["police_number"] == "A000")
    assert (a0["unit"], a0["zone"], a0["kind"]) == ("A", "A-Z1", "sworn")
    assert next(r for r in rows if r["police_number"] == "B001")["active"] == "false"


def bureau_id(db: Database) -> int:
    """The id of the one bureau."""
    with db.session() as session:
        return int(session.execute(select(Bureau.id)).scalar_one())


def test_round_trip_into_a_fresh_state(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    first = client.get("/api/org/export", headers=admin).content
    with db.session(write=True) as session:
        wipe(session)
    assert counts(db)["unit"] == 0
    assert client.get("/api/org/summary", headers=admin).status_code == 404

    r = client.post(
        "/api/org/import", files={"file": ("org.zip", first, "application/zip")}, headers=admin
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["created"] == {"bureau": 1, "unit": 7, "zone": 2, "officer": 78}
    assert report["updated"] == {"bureau": 0, "unit": 0, "zone": 0, "officer": 0}
    with db.session() as session:  # the bureau's creation is in the audit trail too
        [made] = trail_of(session=session, entity_kind="bureau", entity_id=bureau_id(db))[-1:]
    assert made.action == "bureau.import" and made.diff["before"] is None

    second = client.get("/api/org/export", headers=admin).content
    assert unzip(second) == unzip(first)

    # importing the same bundle again changes nothing and records nothing
    before = counts(db)
    r = client.post(
        "/api/org/import", files={"file": ("org.zip", second, "application/zip")}, headers=admin
    )
    assert r.status_code == 200
    assert r.json()["created"] == {"bureau": 0, "unit": 0, "zone": 0, "officer": 0}
    assert r.json()["updated"] == {"bureau": 0, "unit": 0, "zone": 0, "officer": 0}
    assert r.json()["unchanged"] == 1 + 7 + 2 + 78
    assert counts(db) == before


def _edit_csv(data: bytes, extra: list[dict[str, str]]) -> bytes:
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows + extra)
    return buf.getvalue().encode("utf-8")


def test_import_with_bad_rows_reports_each_and_writes_nothing(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    files = unzip(client.get("/api/org/export", headers=admin).content)
    units = json.loads(files["units.geojson"])
    n_units = len(units["features"])
    units["features"][0]["properties"]["name"] = "改了名字"  # a good change that must not land
    units["features"] += [
        {
            "type": "Feature",
            "geometry": None,
            "properties": {"code": "X1", "name": "某", "kind": "castle"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [107, 30]},
            "properties": {"code": "X2", "name": "某", "kind": "other", "population": -5},
        },
    ]
    files["units.geojson"] = json.dumps(units).encode("utf-8")
    zones = json.loads(files["zones.geojson"])
    zones["features"].append(
        {
            "type": "Feature",
            "geometry": None,
            "properties": {"code": "Z9", "name": "某", "station": "NOPE"},
        }
    )
    files["zones.geojson"] = json.dumps(zones).encode("utf-8")
    blank = {k: "" for k in ("team", "zone", "duty_status", "active", "synthetic")}
    files["officers.csv"] = _edit_csv(
        files["officers.csv"],
        [
            {**blank, "police_number": "N1", "name": "甲", "kind": "sworn", "unit": "NOPE"},
            {**blank, "police_number": "N2", "name": "乙", "kind": "general", "unit": "A"},
            {**blank, "police_number": "A000", "name": "重复", "kind": "sworn", "unit": "A"},
            {
                **blank,
                "police_number": "N3",
                "name": "丙",
                "kind": "sworn",
                "unit": "B",
                "zone": "A-Z1",
            },
        ],
    )
    n_officers = 78
    before = counts(db)
    r = client.post(
        "/api/org/import",
        files={"file": ("org.zip", zip_of(files), "application/zip")},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    problems = {(d["file"], d["row"], d["field"]) for d in error["details"]}
    assert problems == {
        ("units.geojson", n_units + 1, "kind"),
        ("units.geojson", n_units + 2, "population"),
        ("units.geojson", n_units + 2, "geometry"),
        ("zones.geojson", 3, "station"),
        ("officers.csv", n_officers + 2, "unit"),
        ("officers.csv", n_officers + 3, "kind"),  # named as the API's schema names it
        ("officers.csv", n_officers + 4, "police_number"),
        ("officers.csv", n_officers + 5, "zone"),
    }
    assert all(d["message"] for d in error["details"])
    assert "8" in error["message"]  # "导入文件有 8 处错误"
    assert counts(db) == before
    with db.session() as session:
        names = set(session.execute(select(Unit.name)).scalars())
    assert "改了名字" not in names


def test_import_with_a_bad_bundle_writes_nothing(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    files = unzip(client.get("/api/org/export", headers=admin).content)
    units = json.loads(files["units.geojson"])
    for f in units["features"]:
        if f["properties"]["code"] == "S":
            f["properties"]["central"] = "C"  # S is not adjacent to R1/R2
    files["units.geojson"] = json.dumps(units).encode("utf-8")
    before = counts(db)
    r = client.post(
        "/api/org/import",
        files={"file": ("org.zip", zip_of(files), "application/zip")},
        headers=admin,
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "central"
    assert counts(db) == before


def test_import_needs_bureau_scope(client: TestClient, db: Database, admin: dict[str, str]) -> None:
    data = client.get("/api/org/export", headers=admin).content
    # a station chief lacks org.write altogether; a scoped admin account is refused by scope
    with db.session(write=True) as session:
        from qingzhi.auth import service as auth
        from qingzhi.auth.context import system_actor

        auth.create_user(
            session=session,
            actor=system_actor("test"),
            username="admin_a",
            password="long-enough-1",
            role="admin",
            unit_code="A",
        )
    scoped = bearer(db, "admin_a")
    before = counts(db)
    r = client.post(
        "/api/org/import", files={"file": ("org.zip", data, "application/zip")}, headers=scoped
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "bundle"
    assert counts(db) == before


def test_export_is_importable_as_a_folder(
    tmp_path: Any, db: Database, admin: dict[str, str]
) -> None:
    from qingzhi.auth.context import system_actor
    from qingzhi.org import exchange

    actor = system_actor("test")
    with db.session() as session:
        files = exchange.export_bundle(session=session, actor=actor)
    exchange.write_bundle(files, tmp_path / "org")
    exchange.write_bundle(files, tmp_path / "org.zip")
    assert exchange.read_bundle(tmp_path / "org") == files
    assert exchange.read_bundle(tmp_path / "org.zip") == files


def _fc(features: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode("utf-8")


MALFORMED = {
    "bureau is a list": ({"bureau.json": b"[]"}, ("bureau.json", None, "file")),
    "bureau without code": ({"bureau.json": b'{"name": "x"}'}, ("bureau.json", None, "code")),
    "unit properties not an object": (
        {"units.geojson": _fc([{"type": "Feature", "geometry": None, "properties": "x"}])},
        ("units.geojson", 1, "properties"),
    ),
    "unit feature not an object": ({"units.geojson": _fc([7])}, ("units.geojson", 1, "feature")),
    "zone properties a list": (
        {"zones.geojson": _fc([{"type": "Feature", "geometry": None, "properties": [1]}])},
        ("zones.geojson", 1, "properties"),
    ),
    "features not a list": (
        {"units.geojson": b'{"type": "FeatureCollection", "features": 5}'},
        ("units.geojson", None, "features"),
    ),
    "not a feature collection": (
        {"zones.geojson": b'{"type": "Feature"}'},
        ("zones.geojson", None, "file"),
    ),
    "zone in the command centre": (
        {
            "zones.geojson": _fc(
                [
                    {
                        "type": "Feature",
                        "geometry": None,
                        "properties": {"code": "QZ", "name": "q", "station": "CMD"},
                    }
                ]
            )
        },
        ("zones.geojson", 1, "station"),
    ),
    "officers not UTF-8": ({"officers.csv": b"\xff\xfe,,"}, ("officers.csv", None, "file")),
    "officers without the columns": (
        {"officers.csv": b"a,b\n1,2\n"},
        ("officers.csv", 1, "police_number,name,kind,unit"),
    ),
}


@pytest.mark.parametrize("files, problem", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bundles_are_reported_not_500(
    app: Any, db: Database, admin: dict[str, str], files: dict[str, bytes], problem: tuple[Any, ...]
) -> None:
    before = counts(db)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(
            "/api/org/import",
            files={"file": ("org.zip", zip_of(files), "application/zip")},
            headers=admin,
        )
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert problem in {(d["file"], d["row"], d["field"]) for d in details}
    assert "第None行" not in r.json()["error"]["message"]
    assert counts(db) == before


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """About half a megabyte of zip that inflates to 100 MiB of officers.csv (over the cap)."""
    buf = io.BytesIO()
    block = b"A000," * (1 << 18)
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        zf.open("officers.csv", "w", force_zip64=True) as member,
    ):
        for _ in range(100 * 1024 * 1024 // len(block)):
            member.write(block)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_within_bounded_memory(
    client: TestClient, db: Database, admin: dict[str, str], zip_bomb: bytes
) -> None:
    import tracemalloc

    assert len(zip_bomb) < 2 * 1024 * 1024
    before = counts(db)
    tracemalloc.start()
    try:
        r = client.post(
            "/api/org/import",
            files={"file": ("org.zip", zip_bomb, "application/zip")},
            headers=admin,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 422, r.text
    assert [d["field"] for d in r.json()["error"]["details"]] == ["bundle"]
    assert "officers.csv 解压后超过 64 MB" in r.json()["error"]["message"]
    # the member is read in 1 MiB chunks and dropped at the 64 MiB cap, not inflated whole
    assert peak < exchange.MAX_MEMBER_BYTES + 32 * 1024 * 1024, peak
    assert counts(db) == before


def _zip_entries(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in names:
            zf.writestr(name, b'{"type": "FeatureCollection", "features": []}')
    return buf.getvalue()


@pytest.mark.parametrize(
    "names, message",
    [
        ([f"junk-{i}.txt" for i in range(21)], "zip 内文件过多"),
        (["a/units.geojson", "b/units.geojson"], "zip 内有多个 units.geojson"),
    ],
)
def test_zip_entries_are_bounded_and_unambiguous(
    client: TestClient, db: Database, admin: dict[str, str], names: list[str], message: str
) -> None:
    before = counts(db)
    r = client.post(
        "/api/org/import",
        files={"file": ("org.zip", _zip_entries(names), "application/zip")},
        headers=admin,
    )
    assert r.status_code == 422, r.text
    assert message in r.json()["error"]["message"]
    assert counts(db) == before


def test_bundle_text_with_nul_or_deep_nesting_is_a_row_problem(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    before = counts(db)
    header = "police_number,name,kind,unit\n"
    for files in (
        {"officers.csv": f"{header}A900,张\x00三,sworn,A\n".encode()},
        {"units.geojson": b'{"type": "FeatureCollection", "features": [], "x": "\\u0000"}'},
        {"zones.geojson": b"[" * 100_000},
    ):
        r = client.post(
            "/api/org/import",
            files={"file": ("org.zip", zip_of(files), "application/zip")},
            headers=admin,
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"][0]["field"] == "file"
    assert counts(db) == before


# The bad unit of the redesign issue: the import stored what the API's UnitCreate refuses.
BAD_CODE = "XIANGZHEN PAICHUSUO/" + "A" * 27  # 47 characters, a space and a slash
BAD_NAME = "某" * 150


def _import(client: TestClient, files: dict[str, bytes], headers: dict[str, str]) -> Any:
    return client.post(
        "/api/org/import",
        files={"file": ("org.zip", zip_of(files), "application/zip")},
        headers=headers,
    )


def _with_unit(files: dict[str, bytes], props: dict[str, Any]) -> dict[str, bytes]:
    units = json.loads(files["units.geojson"])
    units["features"].append({"type": "Feature", "geometry": None, "properties": props})
    return {**files, "units.geojson": json.dumps(units).encode("utf-8")}


def test_the_issues_bad_unit_is_refused_naming_its_fields(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    assert len(BAD_CODE) == 47 and " " in BAD_CODE and "/" in BAD_CODE
    files = unzip(client.get("/api/org/export", headers=admin).content)
    n_units = len(json.loads(files["units.geojson"])["features"])
    bad = {"code": BAD_CODE, "name": BAD_NAME, "kind": "rural_station"}
    before = counts(db)
    r = _import(client, _with_unit(files, bad), admin)
    assert r.status_code == 422, r.text
    details = r.json()["error"]["details"]
    assert {(d["file"], d["row"], d["field"]) for d in details} == {
        ("units.geojson", n_units + 1, "code"),
        ("units.geojson", n_units + 1, "name"),
    }
    assert {d["type"] for d in details} == {"string_too_long"}
    assert f"units.geojson 第{n_units + 1}行" in r.json()["error"]["message"]
    assert counts(db) == before
    with db.session() as session:
        assert session.execute(select(Unit).where(Unit.name == BAD_NAME)).first() is None


# A unit row refused by the API is refused by the import, naming the same fields.
REFUSED_UNITS = {
    "code with a slash": {"code": "A/B", "name": "某所", "kind": "other"},
    "code of 33": {"code": "C" * 33, "name": "某所", "kind": "other"},
    "name of 101": {"code": "N1", "name": "所" * 101, "kind": "other"},
    "unknown kind": {"code": "K1", "name": "某所", "kind": "castle"},
    "population too large": {"code": "P1", "name": "某所", "kind": "other", "population": 10**9},
    "no name": {"code": "M1", "kind": "other"},
}


@pytest.mark.parametrize("props", REFUSED_UNITS.values(), ids=REFUSED_UNITS.keys())
def test_a_unit_the_api_refuses_the_import_refuses_alike(
    client: TestClient, db: Database, admin: dict[str, str], props: dict[str, Any]
) -> None:
    api = client.post("/api/units", json=props, headers=admin)
    assert api.status_code == 422, api.text
    api_fields = {(d["field"], d["message"]) for d in api.json()["error"]["details"]}
    files = unzip(client.get("/api/org/export", headers=admin).content)
    before = counts(db)
    r = _import(client, _with_unit(files, props), admin)
    assert r.status_code == 422, r.text
    assert {(d["field"], d["message"]) for d in r.json()["error"]["details"]} == api_fields
    assert counts(db) == before


def test_officer_and_zone_rows_meet_the_api_constraints(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    files = unzip(client.get("/api/org/export", headers=admin).content)
    blank = {k: "" for k in ("team", "zone", "duty_status", "active", "synthetic")}
    files["officers.csv"] = _edit_csv(
        files["officers.csv"],
        [
            {**blank, "police_number": "A 9/9", "name": "甲", "kind": "sworn", "unit": "A"},
            {**blank, "police_number": "N7", "name": "名" * 51, "kind": "sworn", "unit": "A"},
            {**blank, "police_number": "N8", "name": "乙", "kind": "sworn", "unit": "A"}
            | {"active": "maybe"},
        ],
    )
    zones = json.loads(files["zones.geojson"])
    zones["features"].append(
        {"type": "Feature", "geometry": None, "properties": {"code": "Z 1", "station": "A"}}
    )
    files["zones.geojson"] = json.dumps(zones).encode("utf-8")
    before = counts(db)
    r = _import(client, files, admin)
    assert r.status_code == 422, r.text
    problems = {(d["file"], d["row"], d["field"]) for d in r.json()["error"]["details"]}
    assert problems == {
        ("officers.csv", 80, "police_number"),
        ("officers.csv", 81, "name"),
        ("officers.csv", 82, "active"),
        ("zones.geojson", 3, "code"),
    }
    assert counts(db) == before


def test_cells_are_read_as_the_bundle_writes_them(
    client: TestClient, db: Database, admin: dict[str, str]
) -> None:
    """Booleans as 是/否 or yes/no, numbers as text, blanks for defaults, extra properties."""
    files = unzip(client.get("/api/org/export", headers=admin).content)
    props = {
        "code": "T9",
        "name": "新设所",
        "kind": "rural_station",
        "population": "12000",
        "traffic_integrated": "是",
        "service_window": "no",
        "central": "",
        "note": "not a bundle property",
    }
    r = _import(client, _with_unit(files, props), admin)
    assert r.status_code == 200, r.text
    assert r.json()["created"]["unit"] == 1
    with db.session() as session:
        unit = session.execute(select(Unit).where(Unit.code == "T9")).scalar_one()
        assert (unit.population, unit.traffic_integrated, unit.service_window) == (
            12000,
            True,
            False,
        )
        assert unit.central_id is None and unit.synthetic is False
