"""The brief's case, 督办 and dispute sections read their domains' own figures, in scope."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from qingzhi.auth.context import system_actor
from qingzhi.config import Settings
from qingzhi.reports import work
from qingzhi.reports.enums import BriefKind
from qingzhi.reports.periods import Period
from qingzhi.store.db import Database
from tests.factories import Org, add_incident
from tests.helpers import user_actor

LOCAL = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(database_url="sqlite://")


def test_sections_say_what_was_recorded(
    client: TestClient, admin: dict[str, str], db: Database, org: Org
) -> None:
    """A week with two cases opened in A (one cleared within the fast hours) and a task issued
    to A: the sentences carry those counts; station B's chief sees 尚无记录 for all three."""
    monday = dt.date(2026, 11, 2)
    at = dt.datetime.combine(monday, dt.time(9), tzinfo=LOCAL)
    ids = [add_incident(db, at=at + dt.timedelta(hours=k), category="criminal") for k in range(2)]
    for k, iid in enumerate(ids):
        opened = (at + dt.timedelta(hours=k, minutes=30)).isoformat()
        r = client.post(
            "/api/cases", json={"incident_ids": [iid], "opened_at": opened}, headers=admin
        )
        assert r.status_code == 201, r.text
        if k == 0:
            cleared = (at + dt.timedelta(hours=20)).isoformat()
            r = client.post(
                f"/api/cases/{r.json()['id']}/outcome",
                json={"status": "cleared", "at": cleared},
                headers=admin,
            )
            assert r.status_code == 200, r.text
    period = Period(BriefKind.weekly, monday, monday + dt.timedelta(days=7))
    with db.session() as session:
        bureau = work.sections(session, system_actor(), SETTINGS, period, None)
        other = work.sections(session, user_actor(session, "chief_c"), SETTINGS, period, None)
    assert "本期立案 2 起，破案 1 起" in bureau["cases"] and "快破 1 起" in bureau["cases"]
    assert bureau["tasks"].startswith("尚无记录")
    assert bureau["disputes"].startswith("尚无记录")
    assert other["cases"].startswith("尚无记录")
