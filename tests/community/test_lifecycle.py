"""The dispute and visit lifecycles: every allowed and refused pair, through the service on a
locked row (audited), and a real race of two settlements on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import select

from qingzhi.audit.models import AuditRecord
from qingzhi.auth.context import system_actor
from qingzhi.community import mediation
from qingzhi.community.enums import (
    DISPUTE,
    SETTLEMENTS,
    VISIT,
    DisputeStatus,
    VisitStatus,
)
from qingzhi.community.models import Dispute
from qingzhi.community.schemas import DisputeTransition
from qingzhi.config import Settings
from qingzhi.errors import InvalidTransition, QingzhiError
from qingzhi.store.db import Database
from tests.factories import add_incident

EXPECTED = {
    "reported": {"mediating", "referred"},
    "mediating": {"settled", "partially_settled", "not_settled", "referred"},
    "settled": {"followed_up"},
    "partially_settled": {"followed_up", "mediating"},
    "not_settled": {"followed_up", "mediating", "referred"},
    "referred": {"followed_up"},
    "followed_up": {"closed"},
    "closed": set(),
}
T0 = dt.datetime(2026, 11, 1, 2, 0, tzinfo=dt.UTC)


def test_dispute_table_is_the_declared_one() -> None:
    """Every pair: allowed exactly as the issue's lifecycle says; refusals name both states."""
    for current in DisputeStatus:
        assert {str(s) for s in DISPUTE.allowed(current)} == EXPECTED[current]
        for target in DisputeStatus:
            if str(target) in EXPECTED[current]:
                DISPUTE.check(current, target)
                continue
            with pytest.raises(InvalidTransition) as refused:
                DISPUTE.check(current, target)
            assert DISPUTE.label(current) in refused.value.message
            assert DISPUTE.label(target) in refused.value.message
    for visit_now in VisitStatus:
        for visit_next in VisitStatus:
            if visit_now == VisitStatus.planned and visit_next != VisitStatus.planned:
                VISIT.check(visit_now, visit_next)
            else:
                with pytest.raises(InvalidTransition):
                    VISIT.check(visit_now, visit_next)


def _put(db: Database, did: int, status: DisputeStatus) -> None:
    with db.session(write=True) as session:
        d = session.get(Dispute, did)
        assert d is not None
        d.status = status
        d.first_session_at = T0
        d.settled_at = T0 + dt.timedelta(minutes=20) if status in SETTLEMENTS else None


def _body(target: DisputeStatus) -> DisputeTransition:
    return DisputeTransition(
        to=target,
        at=T0 + dt.timedelta(hours=1),
        referred_to="司法所" if target == DisputeStatus.referred else "",
    )


def test_every_pair_through_the_service(db: Database, org: Any) -> None:
    """From each state, each target: moved and audited as ``dispute.<target>`` when allowed,
    else a 409 and the row and trail unchanged."""
    did = None
    iid = add_incident(db, category="dispute")
    with db.session() as session:
        did = session.scalar(select(Dispute.id).where(Dispute.incident_id == iid))
    assert did is not None
    settings = Settings(database_url="sqlite://")
    for current in DisputeStatus:
        for target in DisputeStatus:
            _put(db, did, current)
            with db.session() as session:
                seq = session.scalar(
                    select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1)
                )
            try:
                with db.session(write=True) as session:
                    shown = mediation.transition(
                        session=session,
                        actor=system_actor(),
                        settings=settings,
                        dispute_id=did,
                        data=_body(target),
                    )
            except InvalidTransition:
                assert str(target) not in EXPECTED[current], (current, target)
                with db.session() as session:
                    assert session.get(Dispute, did).status == current  # type: ignore[union-attr]
                    last = session.scalar(
                        select(AuditRecord.seq).order_by(AuditRecord.seq.desc()).limit(1)
                    )
                assert last == seq
                continue
            assert str(target) in EXPECTED[current], (current, target)
            assert shown.status == target
            with db.session() as session:
                record = session.scalars(
                    select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(1)
                ).one()
            assert record.action == f"dispute.{target}"
            assert f'"{current}"' in record.diff


def _race(db: Database, settings: Settings, did: int) -> list[str]:
    """Settle and refer the dispute from two threads at once; each one's outcome."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def settle(target: DisputeStatus) -> None:
        barrier.wait()
        try:
            with db.session(write=True) as session:
                mediation.transition(
                    session=session,
                    actor=system_actor(f"t-{target}"),
                    settings=settings,
                    dispute_id=did,
                    data=_body(target),
                )
            result = str(target)
        except QingzhiError as exc:
            result = f"{exc.status}"
        with lock:
            outcomes.append(result)

    threads = [
        threading.Thread(target=settle, args=(t,))
        for t in (DisputeStatus.settled, DisputeStatus.referred)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_two_settlements_at_once_one_wins(committed: Database) -> None:
    """Two requests settle the same mediating dispute at the same moment (two threads, two
    transactions): exactly one applies, the other is refused naming the state it found."""
    settings = Settings(database_url="sqlite://")
    for trial in range(4):
        # 1 km apart: a dispute call near a settled dispute is linked to it, not a new one
        place = (107.01 + 0.01 * trial, 30.05)
        iid = add_incident(committed, category="dispute", source_id=f"R-{trial}", location=place)
        with committed.session() as session:
            did = session.scalar(select(Dispute.id).where(Dispute.incident_id == iid))
        assert did is not None
        _put(committed, did, DisputeStatus.mediating)
        outcomes = _race(committed, settings, did)
        assert sorted(outcomes)[0] == "409", outcomes
        winner = next(o for o in outcomes if o != "409")
        with committed.session() as session:
            assert session.get(Dispute, did).status == winner  # type: ignore[union-attr]
            steps = session.scalars(
                select(AuditRecord.action).where(
                    AuditRecord.entity_kind == "dispute",
                    AuditRecord.entity_id == str(did),
                    AuditRecord.action.in_(["dispute.settled", "dispute.referred"]),
                )
            ).all()
        assert steps == [f"dispute.{winner}"]
