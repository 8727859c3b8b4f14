"""The bulk paths the demo loads through (``mediation.record_many``, ``visits.create_many``)
write what the one-at-a-time services write: the same dispute fields, sessions and audit
actions in the same order; and refuse as they do, naming the field, with nothing written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.community import mediation, visits
from qingzhi.community.enums import DisputeStatus, VisitPurpose
from qingzhi.community.models import Dispute, MediationSession, Visit
from qingzhi.community.schemas import DisputeTransition, SessionCreate, VisitCreate
from qingzhi.config import Settings
from qingzhi.errors import InvalidTransition, NotFound, ValidationFailed
from qingzhi.store.db import Database
from tests.community.conftest import Community
from tests.factories import add_incident
from tests.helpers import rows

T0 = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)
SETTINGS = Settings(database_url="sqlite://")
ACTOR = system_actor("bulk")
FIELDS = mediation.FIELDS


def _dispute(db: Database, day: int) -> int:
    """A dispute opened at intake by a call ``day`` days after T0 (apart: not repeat calls)."""
    iid = add_incident(db, category="dispute", received_at=T0 + dt.timedelta(days=day))
    with db.session() as session:
        did = session.scalar(select(Dispute.id).where(Dispute.incident_id == iid))
    assert did is not None
    return did


def _plan(did: int, day: int = 0) -> mediation.Plan:
    """A 25-minute session with a package, settled, followed up 3 days later, closed."""
    start = T0 + dt.timedelta(days=day, minutes=20)
    end = start + dt.timedelta(minutes=25)
    return mediation.Plan(
        did,
        SessionCreate(
            package="police_lawyer",
            participants=["社区民警", "王律师"],
            started_at=start,
            ended_at=end,
            outcome="agreed",
            agreement="赔偿 300 元",
        ),
        [
            DisputeTransition(to=DisputeStatus.settled, at=end),
            DisputeTransition(to=DisputeStatus.followed_up, at=end + dt.timedelta(days=3)),
            DisputeTransition(to=DisputeStatus.closed, at=end + dt.timedelta(days=4)),
        ],
    )


def _state(db: Database, did: int) -> tuple[Any, ...]:
    with db.session() as session:
        d = session.get(Dispute, did)
        s = session.scalars(select(MediationSession).where(MediationSession.dispute_id == did))
        trail = session.scalars(
            select(AuditRecord.action)
            .where(AuditRecord.entity_kind == "dispute", AuditRecord.entity_id == str(did))
            .order_by(AuditRecord.seq)
        )
        sessions = [(x.package, x.participants, x.started_at, x.ended_at, x.outcome) for x in s]
        return tuple(getattr(d, f) for f in FIELDS), sessions, list(trail)


def test_record_many_writes_what_the_single_calls_write(db: Database, org: Any) -> None:
    one, many = _dispute(db, 0), _dispute(db, 10)
    plan = _plan(one)
    with db.session(write=True) as session:
        assert plan.session is not None
        mediation.add_session(
            session=session, actor=ACTOR, settings=SETTINGS, dispute_id=one, data=plan.session
        )
        for step in plan.steps:
            mediation.transition(
                session=session, actor=ACTOR, settings=SETTINGS, dispute_id=one, data=step
            )
    with db.session(write=True) as session:
        n = mediation.record_many(
            session=session, actor=ACTOR, settings=SETTINGS, plans=[_plan(many, 10)]
        )
    assert n == 1
    single, bulk = _state(db, one), _state(db, many)
    ten = dt.timedelta(days=10)
    moved = (
        tuple(v + ten if isinstance(v, dt.datetime | dt.date) else v for v in single[0]),
        [(p, who, a + ten, b + ten, o) for p, who, a, b, o in single[1]],
        single[2],
    )
    assert moved == bulk  # the same, ten days later
    fields, _, trail = bulk
    assert fields[0] == DisputeStatus.closed
    assert fields[4] == dt.date(2026, 11, 18)  # settled 10:45 Beijing on 11 Nov + 7 days
    assert trail == [
        "dispute.mediating",
        "dispute.session",
        "dispute.settled",
        "dispute.followed_up",
        "dispute.closed",
    ]


def test_record_many_refuses_with_nothing_written(db: Database, org: Any) -> None:
    good, bad = _dispute(db, 0), _dispute(db, 10)
    wrong = _plan(bad, 10)
    assert wrong.session is not None
    wrong.session.ended_at = wrong.session.started_at - dt.timedelta(minutes=1)
    skipping = mediation.Plan(good, steps=[DisputeTransition(to=DisputeStatus.closed, at=T0)])
    with db.session() as session:
        before = session.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    for plans, error, field in (
        ([_plan(good), wrong], ValidationFailed, "ended_at"),
        ([skipping], InvalidTransition, "closed"),  # reported may not be closed
        ([_plan(good), _plan(10_000)], NotFound, ""),
    ):
        with pytest.raises(error) as caught, db.session(write=True) as session:
            mediation.record_many(session=session, actor=ACTOR, settings=SETTINGS, plans=plans)
        assert field in str(caught.value.details) + str(caught.value)
    assert rows(db, MediationSession) == 0
    with db.session() as session:
        assert session.get(Dispute, good).status == DisputeStatus.reported  # type: ignore[union-attr]
        last = session.scalar(select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1))
    assert last == before


def test_create_many_is_create_for_each(db: Database, org: Any, community: Community) -> None:
    items = [
        VisitCreate(
            zone_id=community.zone1,
            officer_id=community.officer1,
            purpose=VisitPurpose.dispute_screening,
            visited_at=T0,
            address="人民路1号",
            findings="漏水",
        ),
        VisitCreate(  # the other zone: flagged, with its reason
            zone_id=community.zone2,
            officer_id=community.officer1,
            visited_at=T0 + dt.timedelta(hours=1),
            outside_reason="协助回访",
        ),
    ]
    with db.session(write=True) as session:
        singles = [visits.create(session=session, actor=ACTOR, data=d).id for d in items]
        ids = visits.create_many(session=session, actor=ACTOR, items=items)
    assert ids == [singles[-1] + 1, singles[-1] + 2]
    names = ("zone_id", "officer_id", "status", "purpose", "visited_at", "findings", "outside_zone")
    with db.session() as session:
        got = {v.id: tuple(getattr(v, n) for n in names) for v in session.scalars(select(Visit))}
        actions = list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity_kind == "visit")
                .order_by(AuditRecord.seq)
            )
        )
    assert [got[i] for i in singles] == [got[i] for i in ids]
    assert got[ids[1]][-1] is True
    assert actions == ["visit.done"] * 4
    # the second item lacking its reason: refused naming it, neither written
    items[1].outside_reason = ""
    with pytest.raises(ValidationFailed) as caught, db.session(write=True) as session:
        visits.create_many(session=session, actor=ACTOR, items=items)
    assert "outside_reason" in str(caught.value.details)
    assert rows(db, Visit) == 4
