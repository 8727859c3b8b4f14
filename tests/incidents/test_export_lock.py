"""No read, export or bulk holds the writer: writes go on while an unmasked export streams to a
client that stops reading or goes away and while an .xlsx is built, single calls are taken in
between a bulk's batches, and what an unmasked read shows is audited (exactly) and never cached.

The first three tests run against a real uvicorn server on a committed database (SQLite file or
a fresh PostgreSQL schema). A write that has not answered after ``HUNG`` seconds is taken as
hung: the deadline tells "never" from "slow", it is not a speed figure (those are in
``bench/write_latency.py``). The rest run in-process on the rolled-back test database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.incidents import exports, intake, reads, views
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.store.db import Database
from tests.conftest import PG_URL, _backends
from tests.factories import PASSWORD, Org, build_org
from tests.factories import incident_body as body
from tests.helpers import bearer
from tests.live.server import committed_database, serve

HUNG = 10.0  # seconds: far beyond any write's time, short of a test that never ends
ROWS = 4000
# 600 characters (1,800 bytes) a description: the export is ~8 MB, twice what the kernel may
# buffer for one loopback connection (tcp_wmem max 4 MiB; the client's receive buffer is set
# to 16 KiB), so the server is mid-stream when the client stops reading.
FILLER = "现场" * 300


def _bodies(n: int, prefix: str, **overrides: Any) -> list[dict[str, Any]]:
    """``n`` intake bodies in station A (unless overridden), a minute apart, each its own phone."""
    t0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    return [
        body(
            **{
                "source_id": f"{prefix}{i}",
                "received_at": (t0 + dt.timedelta(minutes=i)).isoformat(),
                "caller_phone": f"139{i:08d}",
                "location": {"lon": 107.01 + (i % 80) / 1000, "lat": 30.01 + (i % 70) / 1000},
                **overrides,
            }
        )
        for i in range(n)
    ]


def _items(n: int, prefix: str, **overrides: Any) -> list[IncidentCreate]:
    return [IncidentCreate.model_validate(b) for b in _bodies(n, prefix, **overrides)]


def _load(db: Database, items: list[IncidentCreate]) -> None:
    parts = [items[k : k + 2000] for k in range(0, len(items), 2000)]
    for _ in intake.intake_batches(
        db=db, actor=system_actor(), settings=Settings(), batches=parts, link_repeats=False
    ):
        pass


@pytest.fixture(params=_backends())
def live_org(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A committed database with the test org."""
    with committed_database(str(request.param), tmp_path, PG_URL) as db:
        with db.session(write=True) as session:
            build_org(session)
        yield db


@pytest.fixture
def store(live_org: Database) -> Database:
    """``live_org`` with ROWS long incidents in station A."""
    _load(live_org, _items(ROWS, "EXP-", description=FILLER))
    return live_org


def _personal_reads(db: Database) -> list[dict[str, Any]]:
    with db.session() as session:
        rows = session.execute(
            select(AuditRecord.diff)
            .where(AuditRecord.action == "incident.read_personal")
            .order_by(AuditRecord.seq)
        ).scalars()
        return [json.loads(d) for d in rows]


def _promptly(what: str, call: Callable[[], httpx.Response]) -> httpx.Response:
    try:
        return call()
    except httpx.TimeoutException:
        raise AssertionError(f"{what} hung (no answer within {HUNG} s)") from None


def _open_export(
    base: str, token: str, path: str, read: int = 100_000
) -> tuple[socket.socket, str]:
    """A raw HTTP GET of ``path`` with a small receive buffer; returns once ``read`` bytes have
    arrived, the socket still open and no longer read (and the response head)."""
    url = urlsplit(base)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.settimeout(HUNG)
    sock.connect((url.hostname or "127.0.0.1", url.port or 80))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: {token}\r\n\r\n".encode()
    )
    got = b""
    while len(got) < read:
        data = sock.recv(65536)
        assert data, f"the export ended after {len(got)} bytes"
        got += data
    head = got.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return sock, head


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_writes_go_on_while_an_unmasked_export_waits_and_after_its_client_leaves(
    store: Database, fmt: str
) -> None:
    officer = bearer(store, "officer_a")["Authorization"]  # station A, may read personal data
    dispatcher = bearer(store, "dispatcher")
    with serve(store) as base, httpx.Client(base_url=base, timeout=HUNG) as http:
        sock, head = _open_export(base, officer, f"/api/incidents/export.{fmt}?unmask=true")
        try:
            assert head.startswith("HTTP/1.1 200"), head
            assert "cache-control: no-store" in head.lower()
            # The export is mid-stream and its client is not reading: writes still go through.
            r = _promptly(
                "a POST during a stalled export",
                lambda: http.post("/api/incidents", json=body(source_id="W-1"), headers=dispatcher),
            )
            assert r.status_code == 201, r.text[:500]
            login = {"username": "chief_a", "password": PASSWORD}
            r = _promptly(
                "a login during a stalled export",
                lambda: http.post("/api/auth/login", json=login),
            )
            assert r.status_code == 200, r.text[:500]
        finally:
            sock.close()  # the client goes away mid-export
        r = _promptly(
            "a POST after the export's client left",
            lambda: http.post("/api/incidents", json=body(source_id="W-2"), headers=dispatcher),
        )
        assert r.status_code == 201, r.text[:500]
        iid = r.json()["incident"]["id"]
        r = _promptly(
            "a transition after the export's client left",
            lambda: http.post(
                f"/api/incidents/{iid}/transitions",
                json={"to": "resolved", "reason": "电话处置"},
                headers=dispatcher,
            ),
        )
        assert r.status_code == 200, r.text[:500]
        r = _promptly(
            "a login after the export's client left",
            lambda: http.post("/api/auth/login", json=login),
        )
        assert r.status_code == 200, r.text[:500]
    # The export was audited before it started, listing every incident it was to show.
    with store.session() as session:
        records = (
            session.execute(
                select(AuditRecord).where(
                    AuditRecord.action == "incident.read_personal",
                    AuditRecord.entity_kind == "incident_query",
                )
            )
            .scalars()
            .all()
        )
        in_a = set(
            session.execute(select(Incident.id).where(Incident.source_id.like("EXP-%"))).scalars()
        )
    audited = {i for rec in records for i in json.loads(rec.diff)["incident_ids"]}
    assert audited == in_a


def test_a_write_is_not_kept_waiting_while_an_unmasked_xlsx_is_built(store: Database) -> None:
    officer = bearer(store, "officer_a")
    dispatcher = bearer(store, "dispatcher")
    answered: list[str] = []
    outcome: dict[str, httpx.Response] = {}
    with serve(store) as base, httpx.Client(base_url=base, timeout=120) as http:

        def run_export() -> None:
            outcome["xlsx"] = http.get(
                "/api/incidents/export.xlsx", params={"unmask": True}, headers=officer
            )
            answered.append("xlsx")

        runner = threading.Thread(target=run_export)
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while not _personal_reads(store) and time.monotonic() < deadline:
                time.sleep(0.01)  # audited: the workbook is being built from here on
            assert _personal_reads(store), "the export was not audited"
            with httpx.Client(base_url=base, timeout=HUNG) as single:
                r = _promptly(
                    "a POST while an xlsx is built",
                    lambda: single.post(
                        "/api/incidents", json=body(source_id="X-1"), headers=dispatcher
                    ),
                )
            answered.append("single")
        finally:
            runner.join()
    assert r.status_code == 201, r.text[:500]
    assert answered == ["single", "xlsx"]
    assert outcome["xlsx"].status_code == 200
    assert outcome["xlsx"].headers["cache-control"] == "no-store"


def test_single_calls_are_taken_in_between_the_batches_of_a_bulk(live_org: Database) -> None:
    store = live_org
    dispatcher = bearer(store, "dispatcher")
    items = _bodies(10_000, "BULK-")
    answered: list[tuple[str, float]] = []
    outcome: dict[str, httpx.Response] = {}
    with serve(store) as base, httpx.Client(base_url=base, timeout=120) as http:

        def run_bulk() -> None:
            outcome["bulk"] = http.post(
                "/api/incidents/bulk", json={"items": items}, headers=dispatcher
            )
            answered.append(("bulk", time.monotonic()))

        runner = threading.Thread(target=run_bulk)
        runner.start()
        try:
            deadline = time.monotonic() + 120
            while True:  # until the bulk's first batch is committed
                with store.session() as session:
                    n = session.execute(
                        select(func.count()).where(Incident.source_id.like("BULK-%"))
                    ).scalar_one()
                if n or not runner.is_alive() or time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            assert 0 < n < len(items), f"{n} bulk items written when the single call was sent"
            with httpx.Client(base_url=base, timeout=HUNG) as single:
                r = _promptly(
                    "a POST during a bulk",
                    lambda: single.post(
                        "/api/incidents", json=body(source_id="ONE-1"), headers=dispatcher
                    ),
                )
            answered.append(("single", time.monotonic()))
        finally:
            runner.join()
    assert r.status_code == 201, r.text[:500]
    assert [who for who, _ in answered] == ["single", "bulk"]
    bulk = outcome["bulk"]
    assert bulk.status_code == 200, bulk.text[:500]
    assert bulk.json()["created"] == len(items)
    ids = bulk.json()["ids"]
    assert min(ids) < r.json()["incident"]["id"] < max(ids)  # written between two batches


# ---------------------------------------------------------------- in-process (TestClient)


def test_unmasked_export_audits_exactly_what_it_shows(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    _load(db, _items(3, "A-") + _items(2, "B-", location={"lon": 107.15, "lat": 30.05}))
    chief = as_user("chief_a")  # sees station A's three, not B's two
    r = chief.get("/api/incidents/export.csv", params={"unmask": True, "category": "public_order"})
    assert r.status_code == 200, r.text[:500]
    assert r.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert sorted(row["报警电话"] for row in rows) == ["13900000000", "13900000001", "13900000002"]
    (record,) = _personal_reads(db)
    assert sorted(record["incident_ids"]) == sorted(int(row["编号"]) for row in rows)
    assert record["count"] == 3 and record["purpose"] == "export"
    assert record["filters"]["categories"] == ["public_order"]
    masked = chief.get("/api/incidents/export.geojson")
    assert masked.headers["cache-control"] == "no-store"
    assert len(masked.json()["features"]) == 3
    assert len(_personal_reads(db)) == 1  # a masked export is no read of personal data


def test_unmasked_export_beyond_the_maximum_is_refused_naming_unmask(
    as_user: Callable[[str], TestClient], db: Database, org: Org, app: FastAPI, settings: Settings
) -> None:
    _load(db, _items(4, "A-"))
    c = as_user("dispatcher")
    app.state.settings = settings.model_copy(update={"export_unmasked_max_rows": 3})
    r = c.get("/api/incidents/export.csv", params={"unmask": True})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "unmask"
    assert _personal_reads(db) == []
    assert c.get("/api/incidents/export.csv").status_code == 200  # masked: no such bound
    narrower = c.get(
        "/api/incidents/export.csv", params={"unmask": True, "start": "2026-10-01T08:01:00"}
    )
    assert narrower.status_code == 200
    assert len(narrower.content.decode("utf-8-sig").strip().splitlines()) == 1 + 3


def test_exports_follow_the_query_exactly_across_batches(
    as_user: Callable[[str], TestClient], db: Database, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(db, _items(30, "A-"))  # along a diagonal, ~150 m apart
    monkeypatch.setattr(exports, "BATCH", 4)
    c = as_user("dispatcher")
    for params in (
        {"near": "107.02,30.02", "radius": 1000, "sort": "received_at"},  # 13 of 19 in its box
        {"start": "2026-10-01T08:05:00", "end": "2026-10-01T08:20:00"},
    ):
        page = c.get("/api/incidents", params={**params, "limit": 500}).json()
        listed = [i["id"] for i in page["items"]]
        assert 4 < len(listed) < 30
        for unmask in (False, True):
            r = c.get("/api/incidents/export.csv", params={**params, "unmask": unmask})
            rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
            assert [int(row["编号"]) for row in rows] == listed
            geo = c.get("/api/incidents/export.geojson", params={**params, "unmask": unmask})
            assert [f["id"] for f in geo.json()["features"]] == listed


def test_unmasked_list_and_detail_are_audited_and_not_cached(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    _load(db, _items(2, "A-"))
    c = as_user("officer_a")
    page = c.get("/api/incidents", params={"unmask": True})
    assert page.headers["cache-control"] == "no-store"
    items = page.json()["items"]
    assert {i["caller_phone"] for i in items} == {"13900000000", "13900000001"}
    one = c.get(f"/api/incidents/{items[0]['id']}", params={"unmask": True})
    assert one.headers["cache-control"] == "no-store"
    assert one.json()["caller_phone"] == items[0]["caller_phone"]
    listed, detail = _personal_reads(db)
    assert sorted(listed["incident_ids"]) == sorted(i["id"] for i in items)
    assert detail == {"fields": ["caller_phone"], "purpose": "detail"}
    assert "cache-control" not in c.get("/api/incidents").headers
    viewer = as_user("viewer")
    assert viewer.get("/api/incidents", params={"unmask": True}).status_code == 403
    assert viewer.get(f"/api/incidents/{items[0]['id']}", params={"unmask": True}).status_code in (
        403,
        404,
    )
    assert len(_personal_reads(db)) == 2


def test_a_large_personal_read_lists_every_id_in_parts(db: Database, org: Org) -> None:
    ids = list(range(1, 25_001))
    actor = system_actor("test", request_id="req-1")
    with db.session(write=True) as session:
        reads.record_personal_read(
            session=session, actor=actor, incident_ids=ids, purpose="export", filters={}
        )
    parts = _personal_reads(db)
    assert [p["part"] for p in parts] == ["1/3", "2/3", "3/3"]
    assert [i for p in parts for i in p["incident_ids"]] == ids
    assert {p["count"] for p in parts} == {25_000}


def test_xlsx_export_leaves_no_file_behind(
    as_user: Callable[[str], TestClient],
    db: Database,
    org: Org,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tempfile

    from openpyxl import load_workbook

    _load(db, _items(3, "A-"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    c = as_user("dispatcher")
    r = c.get("/api/incidents/export.xlsx", params={"unmask": True})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert load_workbook(io.BytesIO(r.content)).active.max_row == 4
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 2)  # a sheet too small: refused mid-build
    r = c.get("/api/incidents/export.xlsx")
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "format"
    assert list(tmp_path.iterdir()) == []


def test_bulk_failing_midway_reports_what_was_written_and_can_be_resent(
    as_user: Callable[[str], TestClient], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = as_user("dispatcher")
    items = _bodies(1200, "M-")
    items[700]["category"] = "alien"  # a bad item: reported by index either way
    real = intake._intake_prepared
    calls = [0]

    def second_batch_fails(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real(*args, **kwargs)

    monkeypatch.setattr(intake, "_intake_prepared", second_batch_fails)
    r = c.post("/api/incidents/bulk", json={"items": items})
    assert r.status_code == 503, r.text[:500]
    error = r.json()["error"]
    assert error["code"] == "bulk_incomplete"
    first = views.BULK_FIRST  # the first batch was written, the second failed
    ids = error["details"]["ids"]
    assert all(isinstance(i, int) for i in ids[:first]) and ids[first:] == [None] * (1200 - first)
    unwritten = {e["index"] for e in error["details"]["errors"] if e["field"] == "item"}
    assert unwritten == set(range(first, 1200)) - {700}
    assert any(e["index"] == 700 and e["field"] == "category" for e in error["details"]["errors"])
    with db.session() as session:
        n = session.execute(select(func.count()).where(Incident.source_id.like("M-%"))).scalar_one()
    assert n == first
    monkeypatch.setattr(intake, "_intake_prepared", real)
    again = c.post("/api/incidents/bulk", json={"items": items})
    assert again.status_code == 200, again.text[:500]
    assert (again.json()["created"], again.json()["existing"]) == (1199 - first, first)
    assert again.json()["ids"][:first] == ids[:first]


def test_spreadsheets_never_evaluate_a_callers_text(
    as_user: Callable[[str], TestClient], db: Database, org: Org
) -> None:
    from openpyxl import load_workbook

    formula = '=HYPERLINK("http://x.example/","点击")'
    _load(db, _items(1, "A-", description=formula, address="+86 某路"))
    c = as_user("dispatcher")
    (row,) = csv.DictReader(io.StringIO(c.get("/api/incidents/export.csv").text.lstrip("\ufeff")))
    assert (row["简要警情"], row["地址"], row["有效"]) == ("'" + formula, "'+86 某路", "是")
    sheet = load_workbook(io.BytesIO(c.get("/api/incidents/export.xlsx").content)).active
    header, values = (list(r) for r in sheet.iter_rows(values_only=True))
    assert values[header.index("简要警情")] == "'" + formula
    (feature,) = c.get("/api/incidents/export.geojson").json()["features"]
    assert feature["properties"]["description"] == formula  # data, not a spreadsheet
    assert feature["properties"]["valid"] is True


def test_bulk_bodies_that_are_not_a_bulk_are_refused_naming_the_field(
    as_user: Callable[[str], TestClient], db: Database
) -> None:
    c = as_user("dispatcher")
    cases = [
        (b"{not json", "body"),
        (b"{}", "items"),
        (json.dumps({"items": [], "extra": 1}).encode(), "extra"),
        (json.dumps({"items": [{}] * 10_001}).encode(), "items"),
    ]
    for data, field in cases:
        r = c.post(
            "/api/incidents/bulk", content=data, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422, (data[:40], r.text[:300])
        assert r.json()["error"]["details"][0]["field"] == field, r.text[:300]
    with db.session() as session:
        assert session.execute(select(func.count(Incident.id))).scalar_one() == 0
    spec = c.get("/api/openapi.json").json()["paths"]["/api/incidents/bulk"]["post"]
    assert "items" in spec["requestBody"]["content"]["application/json"]["schema"]["properties"]
