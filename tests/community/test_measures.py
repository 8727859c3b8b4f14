"""The measures from the records, on a hand-computed station; and the command line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qingzhi.cli import app
from qingzhi.config import get_settings
from qingzhi.store.db import Database, migrate
from tests.community.conftest import Community
from tests.factories import Org, add_incident, build_org

T0 = dt.datetime(2026, 10, 5, 1, 0, tzinfo=dt.UTC)


def _mediated(client: TestClient, zone: int, day: int, minutes: float, to: str) -> int:
    start = T0 + dt.timedelta(days=day)
    r = client.post(
        "/api/community/disputes",
        json={
            "zone_id": zone,
            "reported_at": start.isoformat(),
            "location": {"lon": 107.001 + day * 0.01, "lat": 30.001},
        },
    )
    did = int(r.json()["id"])
    end = start + dt.timedelta(minutes=minutes)
    r = client.post(
        f"/api/community/disputes/{did}/sessions",
        json={"started_at": start.isoformat(), "ended_at": end.isoformat(), "outcome": "agreed"},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = {"to": to, "at": end.isoformat()}
    if to == "referred":
        body["referred_to"] = "人民法院"
    assert client.post(f"/api/community/disputes/{did}/transitions", json=body).status_code == 200
    return did


def test_station_measures_by_hand(
    as_user: Callable[[str], TestClient], db: Database, org: Org, community: Community
) -> None:
    """Three disputes in A-Z1: 20 min settled, 40 min settled (called again 10 days later from
    its place), 70 min referred. Median 40; within 30 min 1/3; in the community 2/3; repeat
    rate 1/2. Two household visits at two addresses and one business visit: coverage 2 of
    20,000 / 2.6 = 7,692 households."""
    client = as_user("chief_a")
    _mediated(client, community.zone1, 0, 20, "settled")
    _mediated(client, community.zone1, 1, 40, "settled")
    _mediated(client, community.zone1, 2, 70, "referred")
    add_incident(
        db,
        category="dispute",
        at=(T0 + dt.timedelta(days=11)).isoformat(),
        location=(107.0111, 30.0011),
    )
    for address, target in (
        ("人民路1号", "household"),
        ("人民路2号", "household"),
        ("人民路3号", "business"),
    ):
        r = client.post(
            "/api/community/visits",
            json={
                "zone_id": community.zone1,
                "address": address,
                "target": target,
                "visited_at": (T0 + dt.timedelta(days=3)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
    m = client.get(
        "/api/community/measures", params={"from": "2026-10-01", "to": "2026-10-31"}
    ).json()
    zone = next(r for r in m["rows"] if r["level"] == "zone" and r["unit_id"] == community.zone1)
    assert zone["disputes"] == 3 and zone["mediated"] == 3
    assert zone["median_minutes"] == 40.0
    assert zone["share_within_30"] == pytest.approx(1 / 3)
    assert zone["share_in_community"] == pytest.approx(2 / 3)
    assert (zone["repeat_within_30"], zone["settled"]) == (1, 2)
    assert zone["repeat_rate"] == 0.5
    assert zone["visits"] == 3 and zone["households_estimate"] == 7692
    assert zone["coverage"] == pytest.approx(2 / 7692)
    station = next(r for r in m["rows"] if r["level"] == "station")
    # the later call was linked to the second dispute, not opened as a fourth
    assert station["unit_id"] == org.id("A") and station["disputes"] == 3
    r = client.get("/api/community/measures", params={"from": "2026-10-31", "to": "2026-10-01"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "to"


def test_cli_measures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate(url)
    monkeypatch.setenv("QINGZHI_DATABASE_URL", url)
    get_settings.cache_clear()
    db = Database(url)
    with db.session(write=True) as session:
        build_org(session)
    add_incident(db, category="dispute", caller_phone="13900009999")
    db.dispose()
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "community",
            "measures",
            "--from",
            "2026-10-01",
            "--to",
            "2026-11-30",
            "--unit",
            "A",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert '"disputes": 1' in ok.output
    bad = runner.invoke(
        app,
        ["community", "measures", "--from", "2026-10-01", "--to", "2026-11-30", "--unit", "NOPE"],
    )
    assert bad.exit_code == 2 and "没有代码为 NOPE 的单位" in bad.output
    get_settings.cache_clear()
