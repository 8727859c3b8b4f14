"""Intake: idempotency, routing by jurisdiction (交所合一, bundles), masking, repeats."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.incidents.models import Incident
from tests.factories import incident_body
from tests.helpers import rows


def test_intake_routes_to_station_and_is_idempotent(as_user, org, db):
    c = as_user("dispatcher")
    r = c.post("/api/incidents", json=incident_body())
    assert r.status_code == 201, r.text
    inc = r.json()["incident"]
    assert inc["unit_id"] == org.id("A")
    assert inc["status"] == "received"
    assert inc["caller_phone"] == "138****5678"
    assert inc["routed_by"] == "jurisdiction"
    audits = rows(db, AuditRecord)
    again = c.post("/api/incidents", json=incident_body(description="另一描述"))
    assert again.status_code == 200
    assert again.json()["incident"]["id"] == inc["id"]
    assert again.json()["created"] is False
    assert rows(db, Incident) == 1
    assert rows(db, AuditRecord) == audits


def test_bundled_member_goes_to_central_station(as_user, org):
    c = as_user("dispatcher")
    r = c.post("/api/incidents", json=incident_body(location={"lon": 107.05, "lat": 30.15}))
    inc = r.json()["incident"]
    assert inc["station_id"] == org.id("R1")
    assert inc["unit_id"] == org.id("C")


def test_outside_every_jurisdiction_goes_to_nearest_and_is_flagged(as_user, org):
    c = as_user("dispatcher")
    r = c.post("/api/incidents", json=incident_body(location={"lon": 107.45, "lat": 30.35}))
    inc = r.json()["incident"]
    assert inc["station_id"] == org.id("S")
    assert inc["routed_by"] == "nearest"
    assert inc["needs_review"] is True


def test_without_coordinates_matches_address_or_queues(as_user, org):
    c = as_user("dispatcher")
    r = c.post("/api/incidents", json=incident_body(location=None, address="丙镇场口菜市场"))
    assert r.json()["incident"]["station_id"] == org.id("S")
    assert r.json()["incident"]["routed_by"] == "address"
    r = c.post(
        "/api/incidents", json=incident_body(source_id="x2", location=None, address="某某地方")
    )
    inc = r.json()["incident"]
    assert inc["routed_by"] == "queue"
    assert inc["unit_id"] == org.id("CMD")
    assert inc["needs_review"] is True


def test_repeat_calls_link_to_the_first(as_user, org):
    c = as_user("dispatcher")
    first = c.post("/api/incidents", json=incident_body()).json()["incident"]
    same_caller = c.post(
        "/api/incidents",
        json=incident_body(
            source_id="r2",
            received_at="2026-11-01T10:20:00+08:00",
            location={"lon": 107.08, "lat": 30.08},
        ),
    ).json()["incident"]
    nearby = c.post(
        "/api/incidents",
        json=incident_body(
            source_id="r3",
            caller_phone="13900000000",
            received_at="2026-11-01T10:30:00+08:00",
            location={"lon": 107.0505, "lat": 30.0505},
        ),
    ).json()["incident"]
    far = c.post(
        "/api/incidents",
        json=incident_body(
            source_id="r4",
            caller_phone="13900000001",
            received_at="2026-11-01T10:30:00+08:00",
            location={"lon": 107.09, "lat": 30.09},
        ),
    ).json()["incident"]
    assert same_caller["repeat_of_id"] == first["id"]
    assert nearby["repeat_of_id"] == first["id"]
    assert far["repeat_of_id"] is None
    assert c.get(f"/api/incidents/{first['id']}").json()["repeat_count"] == 2
    timeline = c.get(f"/api/incidents/{first['id']}/timeline").json()
    assert sum(1 for e in timeline if e["kind"] == "linked_call") == 2


def _linked_records(session, incident_id):
    from qingzhi.audit.service import trail_of

    trail = trail_of(session=session, entity_kind="incident", entity_id=incident_id)
    return [e for e in trail if e.action == "incident.repeat_linked"]


def _add_user(db, username, unit):
    from qingzhi.auth import service as auth
    from qingzhi.auth.context import system_actor
    from qingzhi.auth.permissions import Role
    from tests.factories import PASSWORD

    with db.session(write=True) as s:
        auth.create_user(
            session=s,
            actor=system_actor(),
            username=username,
            password=PASSWORD,
            role=Role.station_chief,
            unit_code=unit,
        )


def test_repeat_links_across_stations_show_only_in_scope(as_user, org, db):
    """Repeat calls are linked bureau-wide, but a station sees the first call's id only when it
    is in its scope (else the neutral 此前有跨所报警), and the raised count of the other station's
    incident is audited there."""
    _add_user(db, "chief_b", "B")
    in_b = {"lon": 107.1005, "lat": 30.05}  # station B, 50 m from A's border
    in_a = {"lon": 107.0995, "lat": 30.05}  # station A, 100 m from the call in B
    first = (
        as_user("dispatcher")
        .post(
            "/api/incidents",
            json=incident_body(source_id="b-1", location=in_b, caller_phone="13700000001"),
        )
        .json()["incident"]
    )
    assert first["unit_id"] == org.id("B")
    chief = as_user("chief_a")
    # The same caller, 20 minutes later, in station A.
    r = chief.post(
        "/api/incidents",
        json=incident_body(
            source_id="a-1",
            received_at="2026-11-01T10:20:00+08:00",
            caller_phone="13700000001",
            location={"lon": 107.05, "lat": 30.05},
        ),
    )
    assert r.status_code == 201, r.text
    by_phone = r.json()["incident"]
    # Another caller, same category 100 m away across the border, 30 minutes later.
    by_place = chief.post(
        "/api/incidents",
        json=incident_body(
            source_id="a-2",
            received_at="2026-11-01T10:30:00+08:00",
            caller_phone="13900000009",
            location=in_a,
        ),
    ).json()["incident"]
    for repeat in (by_phone, by_place):
        assert repeat["unit_id"] == org.id("A")
        assert repeat["repeat_of_id"] is None
        assert repeat["repeat_elsewhere"] is True
        assert repeat["repeat_elsewhere_label"] == "此前有跨所报警"
        again = chief.get(f"/api/incidents/{repeat['id']}").json()
        assert (again["repeat_of_id"], again["repeat_elsewhere"]) == (None, True)
        timeline = chief.get(f"/api/incidents/{repeat['id']}/timeline").json()
        assert not [e for e in timeline if e["kind"] == "linked_call"]
        [created] = [e for e in timeline if e["title"] == "审计：登记警情"]
        assert created["detail"]["after"]["repeat_of_id"] is None
        assert created["detail"]["after"]["repeat_elsewhere"] is True
    listed = chief.get("/api/incidents").json()["items"]
    assert {(i["id"], i["repeat_of_id"], i["repeat_elsewhere"]) for i in listed} == {
        (by_phone["id"], None, True),
        (by_place["id"], None, True),
    }
    feature = chief.get(f"/ogc/collections/incidents/items/{by_phone['id']}").json()
    assert feature["properties"]["repeat_of_id"] is None
    exported = list(csv.DictReader(io.StringIO(chief.get("/api/incidents/export.csv").text)))
    assert [(r["\ufeff编号"], r["首报编号"]) for r in exported] == [
        (str(by_place["id"]), ""),
        (str(by_phone["id"]), ""),
    ]

    # The command centre sees the links themselves.
    c = as_user("dispatcher")
    for repeat in (by_phone, by_place):
        seen = c.get(f"/api/incidents/{repeat['id']}").json()
        assert (seen["repeat_of_id"], seen["repeat_elsewhere"]) == (first["id"], False)
    assert c.get(f"/api/incidents/{first['id']}").json()["repeat_count"] == 2

    # Station B: its incident's count rose, and each rise is audited there, by the caller who
    # linked it; the repeat calls, in A, are not named to B.
    with db.session() as s:
        linked = _linked_records(s, first["id"])
    assert [(e.actor, e.unit_id) for e in linked] == [("chief_a", org.id("B"))] * 2
    assert [e.diff["after"]["repeat_count"] for e in linked] == [1, 2]
    assert [e.diff["repeat_ids"] for e in linked] == [[by_phone["id"]], [by_place["id"]]]
    b = as_user("chief_b")
    assert b.get(f"/api/incidents/{first['id']}").json()["repeat_count"] == 2
    timeline = b.get(f"/api/incidents/{first['id']}/timeline").json()
    assert not [e for e in timeline if e["kind"] == "linked_call"]
    shown = [e["detail"] for e in timeline if e["title"] == "审计：关联重复报警"]
    assert [(d["repeat_ids"], d["repeats_elsewhere"]) for d in shown] == [([], 1), ([], 1)]
    # Bureau-wide, the timeline names them.
    timeline = as_user("dispatcher").get(f"/api/incidents/{first['id']}/timeline").json()
    assert sum(1 for e in timeline if e["kind"] == "linked_call") == 2


def test_gcj02_input_is_stored_as_wgs84(as_user):
    c = as_user("dispatcher")
    r = c.post(
        "/api/incidents",
        json=incident_body(location={"lon": 107.3487, "lat": 30.3300, "datum": "gcj02"}),
    )
    loc = r.json()["incident"]["location"]
    assert 0.002 < 107.3487 - loc["lon"] < 0.008
    assert loc["lat"] != 30.33


def test_unmasked_read_is_audited(as_user, db):
    c = as_user("dispatcher")
    iid = c.post("/api/incidents", json=incident_body()).json()["incident"]["id"]
    r = c.get(f"/api/incidents/{iid}?unmask=true")
    assert r.json()["caller_phone"] == "13812345678"
    with db.session() as s:
        actions = (
            s.execute(select(AuditRecord.action).where(AuditRecord.entity_id == str(iid)))
            .scalars()
            .all()
        )
    assert "incident.read_personal" in actions
    viewer = as_user("viewer")
    assert viewer.get(f"/api/incidents/{iid}?unmask=true").status_code in (403, 404)


def test_calls_posted_together_keep_their_own_callers(db, org, settings):
    """Concurrent POSTs are taken in by one ``intake_posted`` pass (group commit): each incident
    is audited under its own caller and request, a source id sent twice in the batch is created
    once, and an existing record the caller may not see is refused to that caller alone."""
    from qingzhi.auth import service as auth
    from qingzhi.auth.models import User
    from qingzhi.errors import NotFound
    from qingzhi.incidents import intake as service
    from qingzhi.incidents.schemas import IncidentCreate

    def actor(username, rid):
        with db.session() as s:
            user = s.execute(select(User).where(User.username == username)).scalar_one()
            return auth.actor_for(s, user, request_id=rid, via="test")

    dispatcher, chief = actor("dispatcher", "req-d"), actor("chief_a", "req-c")
    outside = incident_body(source_id="far", location={"lon": 107.45, "lat": 30.35})  # station S
    with db.session(write=True) as s:
        service.intake_posted(s, [(dispatcher, settings, IncidentCreate.model_validate(outside))])
    posted = [
        (dispatcher, settings, IncidentCreate.model_validate(incident_body(source_id="p1"))),
        (chief, settings, IncidentCreate.model_validate(incident_body(source_id="p2"))),
        (chief, settings, IncidentCreate.model_validate(incident_body(source_id="p1"))),
        (chief, settings, IncidentCreate.model_validate(outside)),
    ]
    with db.session(write=True) as s:
        answers = service.intake_posted(s, posted)
    first, second, again, hidden = answers
    assert not isinstance(first, Exception)
    assert not isinstance(second, Exception)
    assert not isinstance(again, Exception)
    assert first[1] is True and second[1] is True
    assert again[1] is False and again[0].id == first[0].id
    assert isinstance(hidden, NotFound)
    with db.session() as s:
        trail = {
            r.entity_id: (r.actor, r.request_id)
            for r in s.execute(select(AuditRecord).where(AuditRecord.action == "incident.create"))
            .scalars()
            .all()
        }
    assert trail[str(first[0].id)] == ("dispatcher", "req-d")
    assert trail[str(second[0].id)] == ("chief_a", "req-c")
    assert rows(db, Incident) == 3


def test_batches_link_repeats_across_batches_and_keep_their_order(db, org, settings):
    """``intake_batches`` (the importer's path): each batch its own transaction, results in
    order, a call of batch 2 linked to one of batch 1, a source id repeated later not duplicated,
    and the audit chain intact."""
    from qingzhi.audit.service import trail_of, verify
    from qingzhi.auth.context import system_actor
    from qingzhi.incidents import intake as service
    from qingzhi.incidents.schemas import IncidentCreate

    def item(sid, minute, phone):
        return IncidentCreate.model_validate(
            incident_body(
                source_id=sid,
                received_at=f"2026-11-01T10:{minute:02d}:00+08:00",
                caller_phone=phone,
            )
        )

    batches = [
        [item("b1", 0, "13800000001"), item("b2", 1, "13800000002")],
        [item("b3", 5, "13800000001"), item("b1", 0, "13800000001")],
    ]
    out = list(
        service.intake_batches(db=db, actor=system_actor(), settings=settings, batches=batches)
    )
    assert [[r.created for r in results] for results in out] == [[True, True], [True, False]]
    assert out[1][1].incident_id == out[0][0].incident_id
    with db.session() as s:
        third = s.get(Incident, out[1][0].incident_id)
        assert third is not None and third.repeat_of_id == out[0][0].incident_id
        # b2 (same place, a minute later) repeats b1 in its own batch: b1 is created with its
        # count; the later batch raises it, audited on b1
        trail = trail_of(session=s, entity_kind="incident", entity_id=out[0][0].incident_id)
        assert trail[0].diff["after"]["repeat_count"] == 1
        [linked] = _linked_records(s, out[0][0].incident_id)
        assert linked.diff == {
            "before": {"repeat_count": 1},
            "after": {"repeat_count": 2},
            "repeat_ids": [third.id],
        }
    assert rows(db, Incident) == 3
    with db.session() as s:
        assert verify(session=s).ok


def test_a_batch_routed_ahead_is_routed_again_if_the_org_changed(db, org, settings):
    """A batch prepared (routed) while the previous one commits is routed again when units moved
    in between: here R1 leaves its bundle, so its call goes to R1, not to central station C."""
    from qingzhi.auth.context import system_actor
    from qingzhi.incidents import intake as service
    from qingzhi.incidents.routing import region_index
    from qingzhi.incidents.schemas import IncidentCreate
    from qingzhi.org.models import Unit

    in_r1 = IncidentCreate.model_validate(incident_body(location={"lon": 107.05, "lat": 30.15}))
    with db.session() as s:
        stale = region_index(s)
    prepared = service._prepare([in_r1], stale)
    assert prepared.firsts[0].route is not None and prepared.firsts[0].route.unit_id == org.id("C")
    with db.session(write=True) as s:
        s.get(Unit, org.id("R1")).central_id = None
    with db.session(write=True) as s:
        [result], _, _ = service._intake(
            session=s,
            actors=[system_actor()],
            settings=settings,
            items=prepared,
            action="incident.create",
            link_repeats=True,
        )
    with db.session() as s:
        assert s.get(Incident, result.incident_id).unit_id == org.id("R1")


def test_text_index_follows_savepoints(db, org, settings):
    """Incidents are added to the text index when their transaction (or savepoint) commits: a
    savepoint rolled back leaves nothing behind, and a later call that reuses its id is indexed
    once."""
    import pytest

    from qingzhi.auth.context import system_actor
    from qingzhi.incidents import intake as service
    from qingzhi.incidents.schemas import IncidentCreate

    if db.dialect != "sqlite":
        pytest.skip("SQLite's FTS5 index (PostgreSQL's GIN index follows the table itself)")

    def take(s, sid, text):
        item = IncidentCreate.model_validate(incident_body(source_id=sid, description=text))
        [r] = service.intake_many(session=s, actor=system_actor(), settings=settings, items=[item])
        return r.incident_id

    with db.session(write=True) as s:
        with s.begin_nested():
            kept = take(s, "t1", "电动车被盗")
        with pytest.raises(RuntimeError), s.begin_nested():
            gone = take(s, "t2", "电动车被盗")
            raise RuntimeError("rolled back")
        reused = take(s, "t3", "电动车被盗")
    assert reused == gone  # the rolled-back id is drawn again
    with db.session() as s:
        found = s.connection().exec_driver_sql(
            "SELECT rowid FROM incident_fts WHERE incident_fts MATCH '\"电动 动车\"' ORDER BY rowid"
        )
        assert [r[0] for r in found] == [kept, reused]
