"""Corrections of an incident's facts by the desk (``PATCH /api/incidents/{id}``): audited
before/after as a new version, only by the handling unit, 404 outside scope, and of two
concurrent corrections from one version exactly one applies (threads, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.errors import Conflict
from qingzhi.incidents import corrections
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentCorrection
from qingzhi.store.db import Database
from tests.factories import add_incident, incident_body, inside


def test_the_handling_unit_corrects_an_incident_as_a_new_version(as_user, db) -> None:
    c = as_user("chief_a")
    created = c.post("/api/incidents", json=incident_body()).json()["incident"]
    iid = created["id"]
    assert created["version"] == 1
    lon, lat = inside("B")
    r = c.patch(
        f"/api/incidents/{iid}",
        json={
            "version": 1,
            "reason": "接警员录错类别与地点",
            "category": "dispute",
            "subtype": "neighbour_dispute",
            "location": {"lon": lon, "lat": lat},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["category"], body["subtype"]) == (
        2,
        "dispute",
        "neighbour_dispute",
    )
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.station_id != inc.unit_id  # the place moved, not the handler
        record = s.execute(
            select(AuditRecord).where(AuditRecord.action == "incident.corrected")
        ).scalar_one()
    diff = json.loads(record.diff)
    assert diff["before"]["category"] == "public_order" and diff["after"]["category"] == "dispute"
    assert diff["reason"] == "接警员录错类别与地点"
    stale = c.patch(f"/api/incidents/{iid}", json={"version": 1, "reason": "再改", "priority": 1})
    assert stale.status_code == 409 and stale.json()["error"]["details"]["version"] == 2


def test_a_correction_outside_scope_is_404_and_bad_input_names_the_field(as_user) -> None:
    iid = as_user("chief_a").post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    r = as_user("chief_c").patch(f"/api/incidents/{iid}", json={"version": 1, "reason": "改一改"})
    assert r.status_code == 404
    r = as_user("chief_a").patch(
        f"/api/incidents/{iid}",
        json={"version": 1, "reason": "改一改", "subtype": "noise", "category": "traffic"},
    )
    assert r.status_code == 422
    r = as_user("chief_a").patch(
        f"/api/incidents/{iid}", json={"version": 1, "reason": "改", "status": "closed"}
    )
    assert r.status_code == 422  # the lifecycle is not corrected here


def test_two_concurrent_corrections_of_one_version_one_applies(committed: Database) -> None:
    iid = add_incident(committed, unit="A")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def correct(priority: int) -> None:
        barrier.wait()
        try:
            with committed.session(write=True) as s:
                corrections.correct(
                    session=s,
                    actor=system_actor(),
                    incident_id=iid,
                    data=IncidentCorrection(version=1, reason="并发更正", priority=priority),
                )
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=correct, args=(p,)) for p in (1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    with committed.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.version == 2
        n = s.execute(select(AuditRecord).where(AuditRecord.action == "incident.corrected")).all()
    assert len(n) == 1
