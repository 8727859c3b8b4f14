"""Briefs on the demo county (35 days to 30 November 2026): the brief's figures are the analysis
API's for the same period and scope; a station chief's brief holds nothing of other stations;
the .docx read back in the GB/T 9704 layout; the archive's hash verifies and regenerating makes
version 2; bad input is a 4xx naming the field; a period without incidents still yields a brief.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import docx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.demo.loader import load_demo, load_incidents
from qingzhi.org.models import Unit
from qingzhi.reports import service
from qingzhi.reports.enums import BriefFormat, BriefKind
from qingzhi.reports.render import pdf_available
from qingzhi.store.db import Database, migrate
from qingzhi.web.app import create_app
from tests.helpers import bearer

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
DAYS = 35
DAY = dt.date(2026, 11, 28)  # a Saturday
WEEK = dt.date(2026, 11, 23)  # Monday of the last whole week
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, Settings]]:
    """The demo county with 35 days of calls in a committed SQLite file (built once)."""
    folder = tmp_path_factory.mktemp("briefs")
    url = f"sqlite:///{folder / 'demo.db'}"
    migrate(url)
    settings = Settings(database_url=url, briefs_dir=folder / "archive")
    db = Database.from_settings(settings)
    actor = system_actor("demo")
    with db.session(write=True) as session:
        load_demo(session=session, actor=actor, seed=2026)
    load_incidents(db=db, actor=actor, settings=settings, days=DAYS, now=NOW, batch=5000)
    yield db, settings
    db.dispose()


@pytest.fixture(scope="module")
def client(demo: tuple[Database, Settings]) -> Iterator[TestClient]:
    """The app on the demo database."""
    db, settings = demo
    with TestClient(create_app(settings, db), base_url="http://testserver") as c:
        yield c


def _headers(demo: tuple[Database, Settings], user: str) -> dict[str, str]:
    return bearer(demo[0], user)


def _make(
    demo: tuple[Database, Settings], kind: BriefKind, day: dt.date, unit: str | None = None
) -> service.Prepared:
    db, settings = demo
    actor = system_actor("test")
    with db.session() as session:
        unit_id = service.resolve_unit(session, actor, unit)
        return service.prepare(
            session=session,
            actor=actor,
            settings=settings,
            kind=kind,
            day=day,
            unit_id=unit_id,
            formats=[BriefFormat.html, BriefFormat.docx],
            now=NOW,
        )


@pytest.fixture(scope="module")
def weekly(demo: tuple[Database, Settings]) -> service.Prepared:
    """The bureau's weekly review of 23–29 November."""
    return _make(demo, BriefKind.weekly, WEEK)


def _api(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_headline_and_stations_equal_the_trends_api(
    demo: tuple[Database, Settings], client: TestClient, weekly: service.Prepared
) -> None:
    headers = _headers(demo, "analyst")
    week = {"start": "2026-11-23", "end": "2026-11-30"}
    by_cat = _api(client, headers, "/api/intel/trends", group_by="category", **week)
    head = weekly.content["headline"]
    assert head["total"] == by_cat["total"] > 0
    assert (
        head["period_over_period"]["current"] == by_cat["totals"]["period_over_period"]["current"]
    )
    api_rows = {c["group"]: c for c in by_cat["comparisons"]}
    assert {r["category"] for r in head["by_category"]} == set(api_rows)
    for row in head["by_category"]:
        api = api_rows[row["category"]]["period_over_period"]
        mine = row["period_over_period"]
        assert (mine["current"], mine["previous"], mine["change"], mine["p_value"]) == (
            api["current"],
            api["previous"],
            api["change"],
            api["p_value"],
        )
        assert mine["verdict"] == api["verdict"]  # the previous week has data every day
        # a year before there was no data at all: a feed gap, not a change
        assert row["year_on_year"]["verdict"] == "数据缺失"
    by_unit = _api(client, headers, "/api/intel/trends", group_by="unit", **week)
    api_units = {int(c["group"]): c["period_over_period"] for c in by_unit["comparisons"]}
    for row in weekly.content["by_unit"]:
        assert row["period_over_period"]["current"] == api_units[row["unit_id"]]["current"]
        assert row["period_over_period"]["verdict"] == api_units[row["unit_id"]]["verdict"]
    with demo[0].session() as session:
        pops = {r.id: r.population for r in session.execute(select(Unit.id, Unit.population))}
    first = weekly.content["by_unit"][0]
    assert first["per_10k"] == round(
        first["period_over_period"]["current"] / pops[first["unit_id"]] * 10_000, 2
    )
    assert sum(weekly.content["profiles"]["hours"]) == head["total"]
    assert sum(weekly.content["profiles"]["weekdays"]) == head["total"]


def test_hotspot_cells_and_warnings_equal_the_api(
    demo: tuple[Database, Settings], client: TestClient, weekly: service.Prepared
) -> None:
    headers = _headers(demo, "analyst")
    spots = weekly.content["hotspots"]
    api = _api(
        client,
        headers,
        "/api/intel/hotspots",
        start=spots["window"]["start"],
        end=spots["window"]["end"],
        cell=150,
        radius_cells=1.5,
        fdr=0.05,
    )
    api_hot = sorted(
        f["properties"]["cell"] for f in api["features"] if f["properties"]["kind"] == "hot"
    )
    assert sorted(c["cell"] for c in spots["hot_cells"]) == api_hot
    assert api["properties"]["n_hot"] == spots["n_hot"] > 10
    places = spots["places"]
    assert 1 <= len(places) <= 10
    assert all(set(p["cells"]) <= set(api_hot) for p in places)
    assert all(len(p["cells"]) <= 9 and p["excess"] > 0 and p["p_value"] < 0.05 for p in places)
    assert [p["excess"] for p in places] == sorted((p["excess"] for p in places), reverse=True)
    assert all(p["name"] and p["status"] == "新增" for p in places)
    warn = _api(client, headers, "/api/intel/warnings", end="2026-11-30", days=7)
    mine = weekly.content["warnings"]["scan"]
    assert mine["alarm"] == warn["scan"]["alarm"]
    if warn["scan"]["alarm"]:
        assert (mine["observed"], mine["p_value"]) == (
            warn["scan"]["observed"],
            warn["scan"]["p_value"],
        )


def test_station_chiefs_brief_holds_only_the_station(
    demo: tuple[Database, Settings], client: TestClient
) -> None:
    headers = _headers(demo, "chief_guiyang")
    r = client.post("/api/briefs", json={"kind": "daily", "date": DAY.isoformat()}, headers=headers)
    assert r.status_code == 201, r.text
    brief = _api(client, headers, f"/api/briefs/{r.json()['id']}")
    content = brief["content"]
    db, _ = demo
    with db.session() as session:
        units = {u.id: u for u in session.scalars(select(Unit))}
    own = brief["unit_id"]
    assert units[own].name == content["scope_name"] and "桂阳" in units[own].name
    api = _api(client, headers, "/api/intel/trends", start=DAY.isoformat(), end="2026-11-29")
    assert content["headline"]["total"] == api["total"]
    named = {r["unit_id"] for r in content["by_unit"] if r["unit_id"]}
    named |= {s["unit_id"] for s in content["service"]}
    named |= {c["unit_id"] for c in content["warnings"]["control_charts"]}
    assert named <= {own}
    html = client.get(brief["downloads"]["html"], headers=headers).text
    others = [
        u.name
        for uid, u in units.items()
        if uid != own and u.name in html and u.kind.startswith(("urban", "rural", "central"))
    ]
    assert others == []
    # another station's chief cannot see it (404), nor make one for Guiyang
    other = _headers(demo, "chief_central")
    assert client.get(f"/api/briefs/{brief['id']}", headers=other).status_code == 404
    code = units[own].code
    r = client.post(
        "/api/briefs", json={"kind": "daily", "date": DAY.isoformat(), "unit": code}, headers=other
    )
    assert r.status_code == 404


def test_docx_reads_back_in_the_official_layout(weekly: service.Prepared) -> None:
    doc = docx.Document(io.BytesIO(weekly.files[BriefFormat.docx]))
    section = doc.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [
        round(getattr(section, m).mm)
        for m in ("top_margin", "bottom_margin", "left_margin", "right_margin")
    ] == [37, 35, 28, 26]
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    for name, face in (
        ("Normal", "仿宋_GB2312"),
        ("Heading 1", "黑体"),
        ("Heading 2", "楷体_GB2312"),
    ):
        style = doc.styles[name]
        fonts = style.element.rPr.find(f"{ns}rFonts")
        assert fonts.get(f"{ns}eastAsia") == face, name
    assert doc.styles["Normal"].font.size.pt == 16
    texts = [p.text for p in doc.paragraphs]
    assert any("日研判" in t or "周会商" in t for t in texts[:5])
    headings = [p.text for p in doc.paragraphs if p.style and (p.style.name or "") == "Heading 1"]
    level2 = [p.text for p in doc.paragraphs if p.style and (p.style.name or "") == "Heading 2"]
    assert any("治安乱点" in h for h in level2) and any("预警" in h for h in level2)
    assert any("总体情况" in h for h in headings) and any("工作建议" in h for h in headings)
    assert any("p < 0.05" in t for t in texts)
    assert len(doc.tables) >= 4
    assert doc.tables[0].rows[0].cells[0].text == "类别"
    images = [r for r in doc.part.rels.values() if "image" in r.reltype]
    assert len(images) >= 4  # category bars, hours, weekdays, map
    for run in (r for p in doc.paragraphs for r in p.runs if r.text.strip()):
        fonts = run._element.rPr.find(f"{ns}rFonts") if run._element.rPr is not None else None
        assert fonts is None or fonts.get(f"{ns}eastAsia"), run.text
    assert "尚无记录" in "\n".join(texts)


@pytest.mark.skipif(not pdf_available(), reason="LibreOffice or the Fandol fonts are missing")
def test_pdf_page_rendered_for_a_person(weekly: service.Prepared, tmp_path: Path) -> None:
    import subprocess

    from qingzhi.reports.render import to_pdf

    pdf = to_pdf(weekly.files[BriefFormat.docx])
    for old in ARTIFACTS.glob("brief-weekly-page-*.png"):
        old.unlink()
    assert pdf.startswith(b"%PDF")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "brief-weekly.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "12",
            str(ARTIFACTS / "brief-weekly.pdf"),
            str(ARTIFACTS / "brief-weekly-page"),
        ],
        check=True,
    )
    pages = sorted(ARTIFACTS.glob("brief-weekly-page-*.png"))
    assert len(pages) >= 5 and all(p.stat().st_size > 10_000 for p in pages)


def test_archive_hash_verifies_and_regenerating_makes_version_2(
    demo: tuple[Database, Settings], client: TestClient
) -> None:
    headers = _headers(demo, "analyst")
    body = {"kind": "daily", "date": "2026-11-27", "formats": ["html", "docx"]}
    first = client.post("/api/briefs", json=body, headers=headers)
    second = client.post("/api/briefs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201, second.text
    a, b = first.json(), second.json()
    assert (a["version"], b["version"]) == (1, 2)
    assert a["files"]["docx"]["sha256"] != "" and a["downloads"] != b["downloads"]
    for brief in (a, b):
        check = _api(client, headers, f"/api/briefs/{brief['id']}/verify")
        assert check["ok"] and check["files"] == {"docx": True, "html": True}
    docx = client.get(a["downloads"]["docx"], headers=headers)
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    # the first version's files are untouched and read-only
    _, settings = demo
    path = settings.briefs_dir / json.loads(_row_files(demo, a["id"]))["docx"]["path"]
    assert not (path.stat().st_mode & 0o222)
    # tampering with a file is detected
    with demo[0].session() as session:
        audited = session.scalars(
            select(AuditRecord.action).where(
                AuditRecord.entity_kind == "brief", AuditRecord.entity_id == str(a["id"])
            )
        ).all()
    assert audited == ["brief.make"]
    listing = _api(client, headers, "/api/briefs", kind="daily", unit="bureau")
    assert {a["id"], b["id"]} <= {i["id"] for i in listing["items"]}
    assert client.get(f"/api/briefs/{a['id']}/files/pdf", headers=headers).status_code == 404


def _row_files(demo: tuple[Database, Settings], brief_id: int) -> str:
    from qingzhi.reports.models import Brief

    with demo[0].session() as session:
        row = session.get(Brief, brief_id)
        assert row is not None
        return row.files


TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "yearly", "date": "2026-11-28"}, 422, "kind"),
        ({"kind": "daily", "date": TODAY}, 422, "date"),  # today: not ended
        ({"kind": "monthly", "date": TODAY}, 422, "date"),
        ({"kind": "daily", "date": "2025-01-01"}, 422, "date"),  # before any data
        ({"kind": "daily", "date": "2026-11-28", "formats": ["odt"]}, 422, "formats"),
        ({"kind": "daily", "date": "2026-11-28", "unit": "NOPE"}, 404, "unit"),
    ],
)
def test_bad_input_names_the_field(
    demo: tuple[Database, Settings],
    client: TestClient,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    headers = _headers(demo, "analyst")
    r = client.post("/api/briefs", json=body, headers=headers)
    assert r.status_code == status, r.text
    assert field in json.dumps(r.json(), ensure_ascii=False)


def test_viewer_reads_but_cannot_make(demo: tuple[Database, Settings], client: TestClient) -> None:
    headers = _headers(demo, "viewer")
    assert client.get("/api/briefs", headers=headers).status_code == 200
    r = client.post("/api/briefs", json={"kind": "daily", "date": "2026-11-28"}, headers=headers)
    assert r.status_code == 403


def test_a_quiet_period_still_yields_a_brief(demo: tuple[Database, Settings]) -> None:
    # the command centre handles no calls: its brief says so (in words, not zeros in tables)
    db, _ = demo
    with db.session() as session:
        quiet = session.execute(select(Unit.code).where(Unit.kind == "command_centre")).scalar()
    assert quiet is not None
    prepared = _make(demo, BriefKind.daily, DAY, quiet)
    assert prepared.content["headline"]["total"] == 0
    assert "未接报有效警情" in prepared.content["narrative"][0]
    assert prepared.files[BriefFormat.docx][:2] == b"PK"
