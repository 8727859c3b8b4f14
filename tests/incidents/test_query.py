"""The one-click query: filters, Chinese free text, space, keyset pages, facets, exports."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook

from tests.factories import incident_body

ROWS = [
    (
        "q1",
        "2026-11-01T08:00:00+08:00",
        "criminal",
        "burglary",
        "居民家中被入室盗窃，丢失现金",
        107.01,
        30.01,
    ),
    ("q2", "2026-11-01T09:00:00+08:00", "criminal", "theft", "电动车被盗窃", 107.02, 30.02),
    (
        "q3",
        "2026-11-01T10:00:00+08:00",
        "dispute",
        "neighbour_dispute",
        "邻居因噪音发生纠纷",
        107.15,
        30.05,
    ),
    (
        "q4",
        "2026-11-01T11:00:00+08:00",
        "traffic",
        "accident_property",
        "两车追尾，无人受伤",
        107.05,
        30.15,
    ),
    (
        "q5",
        "2026-11-01T12:00:00+08:00",
        "assistance",
        "missing_elderly",
        "老人走失，穿蓝色外套",
        107.32,
        30.32,
    ),
]


def _load(c):
    ids = {}
    for sid, at, cat, sub, desc, lon, lat in ROWS:
        r = c.post(
            "/api/incidents",
            json=incident_body(
                source_id=sid,
                received_at=at,
                category=cat,
                subtype=sub,
                description=desc,
                caller_phone=f"1390000000{sid[-1]}",
                location={"lon": lon, "lat": lat},
            ),
        )
        assert r.status_code == 201, r.text
        ids[sid] = r.json()["incident"]["id"]
    return ids


def test_free_text_in_chinese(as_user):
    c = as_user("dispatcher")
    ids = _load(c)
    got = {i["id"] for i in c.get("/api/incidents", params={"q": "盗窃"}).json()["items"]}
    assert got == {ids["q1"], ids["q2"]}
    got = {i["id"] for i in c.get("/api/incidents", params={"q": "入室盗窃"}).json()["items"]}
    assert got == {ids["q1"]}
    got = {i["id"] for i in c.get("/api/incidents", params={"q": "老人 蓝色"}).json()["items"]}
    assert got == {ids["q5"]}
    got = {i["id"] for i in c.get("/api/incidents", params={"q": "车"}).json()["items"]}
    assert got == {ids["q2"], ids["q4"]}
    assert c.get("/api/incidents", params={"q": "盗窃案件"}).json()["items"] == []


def test_filters_space_and_scope(as_user, org):
    c = as_user("dispatcher")
    ids = _load(c)
    r = c.get("/api/incidents", params={"category": ["criminal", "dispute"]}).json()
    assert {i["id"] for i in r["items"]} == {ids["q1"], ids["q2"], ids["q3"]}
    r = c.get("/api/incidents", params={"near": "107.01,30.01", "radius": 2000}).json()
    assert {i["id"] for i in r["items"]} == {ids["q1"], ids["q2"]}
    poly = {
        "type": "Polygon",
        "coordinates": [
            [[107.1, 30.0], [107.2, 30.0], [107.2, 30.1], [107.1, 30.1], [107.1, 30.0]]
        ],
    }
    r = c.get("/api/incidents", params={"polygon": json.dumps(poly)}).json()
    assert {i["id"] for i in r["items"]} == {ids["q3"]}
    r = c.get("/api/incidents", params={"unit_id": org.id("C")}).json()
    assert {i["id"] for i in r["items"]} == {ids["q4"]}
    r = c.get(
        "/api/incidents", params={"start": "2026-11-01T09:30:00", "end": "2026-11-01T11:30:00"}
    ).json()
    assert {i["id"] for i in r["items"]} == {ids["q3"], ids["q4"]}
    chief = as_user("chief_a")
    got = {i["id"] for i in chief.get("/api/incidents").json()["items"]}
    assert got == {ids["q1"], ids["q2"]}
    got = {i["id"] for i in as_user("chief_c").get("/api/incidents").json()["items"]}
    assert got == {ids["q4"]}


def test_keyset_pages_cover_everything_once_and_facets_count(as_user):
    c = as_user("dispatcher")
    _load(c)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = c.get("/api/incidents", params=params).json()
        seen += [i["source_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["q5", "q4", "q3", "q2", "q1"]
    r = c.get("/api/incidents", params={"facets": True, "count": True, "limit": 1}).json()
    assert r["total"] == 5
    assert r["facets"]["category"] == {"criminal": 2, "dispute": 1, "traffic": 1, "assistance": 1}


def test_exports_are_scoped_and_masked(as_user):
    c = as_user("dispatcher")
    _load(c)
    chief = as_user("chief_a")
    r = chief.get("/api/incidents/export.csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 3
    phone_col = rows[0].index("报警电话")
    assert all("****" in row[phone_col] for row in rows[1:])
    geo = chief.get("/api/incidents/export.geojson").json()
    assert len(geo["features"]) == 2
    x = chief.get("/api/incidents/export.xlsx")
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.active.max_row == 3
    unmasked = chief.get("/api/incidents/export.csv", params={"unmask": True})
    assert "13900000001" in unmasked.content.decode("utf-8-sig")
    assert (
        as_user("viewer").get("/api/incidents/export.csv", params={"unmask": True}).status_code
        == 403
    )


def test_open_incident_filter_uses_the_partial_index(db, org):
    import datetime as dt

    from sqlalchemy import text

    from qingzhi.auth.context import system_actor
    from qingzhi.config import Settings
    from qingzhi.incidents.intake import intake_many
    from qingzhi.incidents.lifecycle import OPEN_STATUS_SQL, OPEN_STATUSES
    from qingzhi.incidents.query import IncidentQuery, filtered
    from qingzhi.incidents.schemas import IncidentImport

    listed = "status IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES) + ")"
    assert listed == OPEN_STATUS_SQL  # the index's WHERE and the statuses agree
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    items = [
        IncidentImport(
            source_id=f"h{i}",
            received_at=t0 + dt.timedelta(hours=i),
            category="traffic",
            location={"lon": 107.05, "lat": 30.05},
            resolved_at=t0 + dt.timedelta(hours=i, minutes=20) if i % 50 else None,
            closed_at=t0 + dt.timedelta(hours=i, minutes=30) if i % 50 else None,
        )
        for i in range(400)
    ]
    with db.session(write=True) as s:
        intake_many(
            session=s, actor=system_actor(), settings=Settings(), items=items, link_repeats=False
        )
    db.analyze()
    with db.session() as s:
        query = IncidentQuery(statuses=list(OPEN_STATUSES))
        assert len(s.execute(filtered(s, system_actor(), query)).all()) == 8
        if s.get_bind().dialect.name != "sqlite":
            return
        compiled = (
            filtered(s, system_actor(), query)
            .order_by(text("received_at DESC"))
            .limit(50)
            .compile(compile_kwargs={"literal_binds": True})
        )
        plan = s.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    assert any("ix_incident_open" in str(row) for row in plan), plan


def test_pages_are_the_same_whichever_plan_finds_them(as_user, monkeypatch):
    """Free text and space first look among the newest RECENT_ROWS rows, then ask the index for
    the older ones: with a window of one row, a few, or all, every page is the same."""
    from qingzhi.incidents import query as iq

    c = as_user("dispatcher")
    _load(c)

    def pages(params):
        out = []
        while True:
            page = c.get("/api/incidents", params=params).json()
            out.append([i["source_id"] for i in page["items"]])
            if page["next_cursor"] is None:
                return out
            params = {**params, "cursor": page["next_cursor"]}

    cases = [
        {"q": "盗窃", "limit": 1},
        {"q": "车", "limit": 1},
        {"q": "老人 蓝色", "limit": 1},
        {"near": "107.01,30.01", "radius": 20000, "limit": 1},
        {"near": "107.01,30.01", "radius": 20000, "limit": 2, "sort": "received_at"},
        {"bbox": "107.0,30.0,107.2,30.2", "q": "盗窃", "limit": 1},
    ]
    expected = [pages(p) for p in cases]
    assert expected[0] == [["q2"], ["q1"]]
    assert expected[3] == [["q4"], ["q3"], ["q2"], ["q1"]]
    for window in (1, 2, 3):
        monkeypatch.setattr(iq, "RECENT_ROWS", window)
        assert [pages(p) for p in cases] == expected, window
