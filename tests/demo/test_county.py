"""The demo county: real boundary and townships, the seed's magnitudes, a valid partition."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from typing import Any

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union
from sqlalchemy import func, select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.auth.models import User
from qingzhi.config import shared_data_dir
from qingzhi.demo import reference as cm
from qingzhi.demo.county import generate_county
from qingzhi.demo.loader import DEMO_ACCOUNTS, DEMO_PASSWORD, load_demo
from qingzhi.demo.organisation import build_organisation
from qingzhi.demo.orgbundle import build_county, bundle_files
from qingzhi.demo.reform import reformed
from qingzhi.geo.projection import area_km2
from qingzhi.kpi.service import list_reforms
from qingzhi.org import exchange
from qingzhi.org import service as org
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.store.db import Database
from tests.helpers import form_login

SHARED = shared_data_dir("dianjiang")


NOON = dt.datetime(2026, 6, 3, 4, tzinfo=dt.UTC)  # a Wednesday, 12:00 in Shanghai


def _units(files: dict[str, bytes]) -> list[dict[str, Any]]:
    return [f["properties"] | {"geometry": f["geometry"]} for f in _fc(files, "units.geojson")]


def _fc(files: dict[str, bytes], name: str) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads(files[name])["features"]
    return features


def _officers(files: dict[str, bytes]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files["officers.csv"].decode("utf-8"))))


@pytest.fixture(scope="module")
def bundle() -> dict[str, bytes]:
    return build_county(2026)


@pytest.fixture(scope="module")
def pre_reform() -> dict[str, bytes]:
    return build_county(2026, reform=False)


def test_packaged_data_matches_shared_reference() -> None:
    if not SHARED.exists():
        pytest.skip("shared/data is not beside the checkout")
    for name in (cm.BOUNDARY_FILE, cm.TOWNSHIPS_FILE):
        assert (cm.DATA_DIR / name).read_bytes() == (SHARED / name).read_bytes()


def test_boundary_area_within_1_percent_of_official() -> None:
    assert area_km2(cm.county_boundary()) == pytest.approx(1518.0, rel=0.01)


def test_townships_partition_the_county() -> None:
    county = generate_county(2026)
    assert len(county.townships) == 26
    polys = [t.polygon for t in county.townships]
    assert all(p.is_valid and p.geom_type == "Polygon" for p in polys)
    total = area_km2(county.boundary)
    assert sum(area_km2(p) for p in polys) == pytest.approx(total, rel=0.001)
    assert area_km2(unary_union(polys)) == pytest.approx(total, rel=0.001)
    overlap = sum(polys[i].intersection(polys[j]).area for i in range(26) for j in range(i + 1, 26))
    assert overlap < 1e-6 * county.boundary.area
    for t in county.townships:
        assert t.polygon.buffer(1e-6).contains(shape({"type": "Point", "coordinates": t.seat}))
    # The county seat is compact and around the DataV centre.
    seat = unary_union([county.township(c).polygon for c in cm.URBAN_CODES])
    assert 80 < area_km2(seat) < 160
    assert seat.distance(shape({"type": "Point", "coordinates": county.seat_center})) == 0


def test_same_seed_same_bytes_other_seed_other_county(bundle: dict[str, bytes]) -> None:
    generate_county.cache_clear()
    cm.county_boundary.cache_clear()
    assert build_county(2026) == bundle
    assert build_county(7)["units.geojson"] != bundle["units.geojson"]


def test_seed_magnitudes_in_the_bundle(bundle: dict[str, bytes]) -> None:
    bureau = json.loads(bundle["bureau.json"])
    assert bureau["synthetic"] is True and bureau["population"] == 935_000
    units = _units(bundle)
    kinds = Counter(u["kind"] for u in units)
    assert kinds["urban_station"] == 2 and kinds["rural_station"] == 24
    assert kinds["central_station"] == 8
    assert {"command_centre", "criminal_investigation", "traffic_squad"} <= set(kinds)
    stations = [u for u in units if u["kind"] in ("urban_station", "rural_station")]
    assert sum(u["population"] for u in stations) == 935_000
    assert sorted(u["code"] for u in stations) == sorted(r["code"] for r in cm.township_rows())
    members = Counter(u["central"] for u in units if u["central"])
    assert len(members) == 8 and sum(members.values()) == 17
    assert sorted(members.values()) == [2] * 7 + [3]
    assert all(u["kind"] == "rural_station" for u in units if u["central"])
    assert sum(u["traffic_integrated"] for u in units) == 15
    assert all(u["kind"] == "rural_station" for u in units if u["traffic_integrated"])
    assert all(u["synthetic"] for u in units)
    urban = {u["code"]: u["population"] for u in stations if u["kind"] == "urban_station"}
    rural_pop = [u["population"] for u in stations if u["kind"] == "rural_station"]
    assert min(urban.values()) > 3 * max(rural_pop)  # the county seat is far denser
    officers = _officers(bundle)
    assert sum(o["kind"] == "sworn" for o in officers) == 504
    assert all(o["synthetic"] == "true" for o in officers)
    assert all(2 <= len(o["name"]) <= 3 for o in officers)
    gy = [o for o in officers if o["unit"] == cm.GUIYANG_CODE and o["team"] == "community"]
    assert Counter(o["kind"] for o in gy) == {"sworn": 21, "auxiliary": 21}
    assert len({o["zone"] for o in gy}) == 8 and all(o["zone"] for o in gy)
    zones = _fc(bundle, "zones.geojson")
    assert len(zones) == 8 and all(z["properties"]["synthetic"] for z in zones)
    gy_poly = generate_county(2026).township(cm.GUIYANG_CODE).polygon
    zone_polys = [shape(z["geometry"]) for z in zones]
    assert all(p.is_valid for p in zone_polys)
    assert sum(p.area for p in zone_polys) == pytest.approx(gy_poly.area, rel=0.001)
    assert all(gy_poly.buffer(1e-6).contains(p) for p in zone_polys)
    # Without a time nobody is on duty; at a time, the roster's shifts decide (tests/duty).
    assert {o["duty_status"] for o in officers} == {"off_duty", "leave", "training"}
    at_noon = _officers(build_county(2026, at=NOON))
    duty = Counter(o["duty_status"] for o in at_noon)
    assert set(duty) == {"on_duty", "off_duty", "leave", "training"}
    assert 0.4 < duty["on_duty"] / len(at_noon) < 0.7  # a weekday noon: offices open too
    assert {o["team"] for o in officers} >= {"case", "community", "command"}


def test_pre_reform_organisation(pre_reform: dict[str, bytes], bundle: dict[str, bytes]) -> None:
    units = _units(pre_reform)
    assert not any(u["kind"] == "central_station" or u["central"] for u in units)
    assert not any(u["traffic_integrated"] for u in units)
    officers = _officers(pre_reform)
    squads = [u for u in units if u["kind"] == "traffic_squad" and u["code"] != "500231JX"]
    assert len(squads) == 5
    for s in squads:
        sworn = [o for o in officers if o["unit"] == s["code"] and o["kind"] == "sworn"]
        assert len(sworn) == 3
    assert sum(o["kind"] == "sworn" for o in officers) == 504
    # The same people, moved by the reform.
    assert {o["police_number"] for o in officers} == {o["police_number"] for o in _officers(bundle)}


def test_both_organisations_from_one_build(
    pre_reform: dict[str, bytes], bundle: dict[str, bytes]
) -> None:
    # A demo spanning the reform needs both organisations of one county at once: the reform
    # works on a copy and leaves the pre-reform organisation as it was.
    county = generate_county(2026)
    before = build_organisation(county, 2026)
    after = reformed(county, before)
    assert bundle_files(county, before) == pre_reform
    assert bundle_files(county, after) == bundle


def _load(db: Database, files: dict[str, bytes]) -> None:
    with db.session(write=True) as session:
        exchange.import_bundle(
            session=session, actor=system_actor("test"), bundle=exchange.parse_bundle(files)
        )


def test_import_and_org_summary(db: Database, bundle: dict[str, bytes]) -> None:
    _load(db, bundle)  # import_bundle runs check_bundle: every bundle is adjacent
    with db.session() as session:
        summary = org.summary(session=session, actor=system_actor("test"))
        assert summary.bureau.sworn == 504
        assert summary.bureau.population == 935_000
        assert summary.bureau.officers_per_10k == 5.39
        n_zones = session.execute(select(func.count()).select_from(Zone)).scalar_one()
        assert n_zones == 8
        centrals = (
            session.execute(select(Unit).where(Unit.kind == "central_station")).scalars().all()
        )
        assert len(centrals) == 8 and sum(len(c.members) for c in centrals) == 17


def test_demo_load_is_idempotent(db: Database) -> None:
    with db.session(write=True) as session:
        first = load_demo(session=session, actor=system_actor("demo"), seed=2026, now=NOON)
    assert sorted(first.created_users) == sorted(a.username for a in DEMO_ACCOUNTS)
    with db.session() as session:
        n_audit = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
        officer = session.execute(select(User).where(User.username == "officer")).scalar_one()
        assert officer.officer_id is not None
        reforms = {r.kind: r for r in list_reforms(session=session, actor=system_actor())}
    # the seed's reforms are recorded for the evaluation: 17 bundled members, 15 integrated
    assert len(reforms["bundling"].units) == 17 and reforms["bundling"].synthetic
    assert len(reforms["traffic_integration"].units) == 15
    with db.session(write=True) as session:
        second = load_demo(session=session, actor=system_actor("demo"), seed=2026, now=NOON)
    assert second.created_users == [] and len(second.skipped_users) == len(DEMO_ACCOUNTS)
    r = second.import_report
    assert sum(r.created.values()) == 0 and sum(r.updated.values()) == 0
    with db.session() as session:
        assert session.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == (
            n_audit
        )
        assert session.execute(select(func.count()).select_from(Officer)).scalar_one() == 908


def test_demo_accounts_can_log_in(client: Any, db: Database) -> None:
    with db.session(write=True) as session:
        load_demo(session=session, actor=system_actor("demo"), seed=2026)
    r = form_login(client, "chief_guiyang", DEMO_PASSWORD)
    assert r.status_code == 303
    page = client.get("/")
    assert page.status_code == 200 and "桂阳派出所" in page.text and "模拟" in page.text
