"""Exports state times in the place's zone and can head their columns with keys; an export read
back with the shipped mapping ``qingzhi_export.toml`` into a fresh store reproduces it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents import intake
from qingzhi.incidents.enums import SUBTYPES, Category
from qingzhi.incidents.importer import MAPPINGS_DIR, Mapping, import_file
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentImport
from qingzhi.store.db import Database, migrate
from tests.factories import build_org

CST = dt.timezone(dt.timedelta(hours=8))

CALLS = [
    # a closed call with its lifecycle, 23:59 local on 1 Nov = 15:59 UTC
    {
        "source_id": "RT-1",
        "received_at": dt.datetime(2026, 11, 1, 23, 59, tzinfo=CST),
        "dispatched_at": dt.datetime(2026, 11, 2, 0, 1, tzinfo=CST),
        "arrived_at": dt.datetime(2026, 11, 2, 0, 9, 30, tzinfo=CST),
        "resolved_at": dt.datetime(2026, 11, 2, 0, 40, tzinfo=CST),
        "closed_at": dt.datetime(2026, 11, 2, 1, 0, tzinfo=CST),
        "category": "criminal",
        "subtype": "burglary",
        "description": "居民家中被入室盗窃，丢失现金",
        "address": "城一社区人民路12号",
        "location": {"lon": 107.05, "lat": 30.05},
        "priority": 2,
        "source_type": "Burglary",
        "source_district": "NORTH",
        "source_beat": "N1",
    },
    # an open call without a subtype or a point
    {
        "source_id": "RT-2",
        "received_at": dt.datetime(2026, 11, 1, 8, 0, tzinfo=CST),
        "category": "dispute",
        "description": "邻居因噪音发生纠纷",
        "address": "丙镇场口",
        "priority": 3,
    },
    # a cancelled call
    {
        "source_id": "RT-3",
        "received_at": dt.datetime(2026, 11, 1, 9, 30, tzinfo=CST),
        "dispatched_at": dt.datetime(2026, 11, 1, 9, 32, tzinfo=CST),
        "cancelled": True,
        "category": "traffic",
        "subtype": "accident_property",
        "description": "两车追尾，无人受伤",
        "address": "商业街",
        "location": {"lon": 107.15, "lat": 30.05},
        "priority": 4,
    },
]

COMPARED = (
    "source_id",
    "received_at",
    "dispatched_at",
    "arrived_at",
    "resolved_at",
    "closed_at",
    "status",
    "category",
    "subtype",
    "description",
    "address",
    "lon",
    "lat",
    "priority",
    "source_type",
    "source_district",
    "source_beat",
)


def _facts(db: Database) -> dict[str, tuple[object, ...]]:
    columns = [getattr(Incident, name) for name in COMPARED]
    with db.session() as session:
        rows = session.execute(select(*columns)).all()
    return {r[0]: tuple(r) for r in rows}


def _load(db: Database) -> None:
    items = [IncidentImport.model_validate(c) for c in CALLS]
    with db.session(write=True) as session:
        intake.intake_many(session=session, actor=system_actor(), settings=Settings(), items=items)


def test_export_times_are_local_with_offset_and_headers_are_keys_or_chinese(db, as_user):
    _load(db)
    c = as_user("dispatcher")
    zh = list(csv.reader(io.StringIO(c.get("/api/incidents/export.csv").text.lstrip("\ufeff"))))
    assert zh[0][:3] == ["编号", "警情编号", "接警时间"]
    assert zh[0][-4:] == ["派警时间", "到场时间", "处置完毕时间", "结警时间"]
    keys = c.get("/api/incidents/export.csv", params={"header": "keys"})
    rows = list(csv.DictReader(io.StringIO(keys.text.lstrip("\ufeff"))))
    by_id = {r["source_id"]: r for r in rows}
    # the settings' zone (Asia/Shanghai): 15:59 UTC is 23:59 local, said with its offset
    assert by_id["RT-1"]["received_at"] == "2026-11-01T23:59:00+08:00"
    assert by_id["RT-1"]["arrived_at"] == "2026-11-02T00:09:30+08:00"
    assert by_id["RT-1"]["response_seconds"] == "630.0"  # 23:59:00 → 00:09:30
    assert by_id["RT-2"]["closed_at"] == ""
    sheet = load_workbook(
        io.BytesIO(c.get("/api/incidents/export.xlsx", params={"header": "keys"}).content)
    ).active
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["id", "source_id", "received_at"]
    geo = c.get("/api/incidents/export.geojson").json()
    times = {f["properties"]["source_id"]: f["properties"]["received_at"] for f in geo["features"]}
    assert times["RT-2"] == "2026-11-01T08:00:00+08:00"
    bad = c.get("/api/incidents/export.csv", params={"header": "english"})
    assert bad.status_code == 422


def test_an_export_imported_into_a_fresh_store_reproduces_its_incidents(db, as_user, tmp_path):
    _load(db)
    c = as_user("dispatcher")
    path = tmp_path / "export.csv"
    path.write_bytes(c.get("/api/incidents/export.csv", params={"header": "keys"}).content)
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    fresh = Database(url)
    try:
        with fresh.session(write=True) as session:
            build_org(session)
        mapping = Mapping.load(Path("qingzhi_export.toml"))
        summary = import_file(
            db=fresh, actor=system_actor(), settings=Settings(), path=path, mapping=mapping
        )
        assert (summary.created, summary.bad_rows) == (3, 0)
        before, after = _facts(db), _facts(fresh)
        assert after == before
        assert after["RT-3"][COMPARED.index("status")] == "cancelled"
        assert after["RT-1"][COMPARED.index("status")] == "closed"
    finally:
        fresh.dispose()


def test_the_export_mapping_knows_every_category_and_subtype() -> None:
    mapping = Mapping.load(MAPPINGS_DIR / "qingzhi_export.toml")
    for category in Category:
        assert mapping.categories[f"{category.label}/"] == (category.value, None)
        for code, label in SUBTYPES[category].items():
            assert mapping.categories[f"{category.label}/{label}"] == (category.value, code)
