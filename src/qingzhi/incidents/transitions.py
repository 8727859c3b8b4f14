"""Lifecycle transitions: the one place where an incident moves (dispatch included).

Transitions are decided on the incident's locked row (``_movable``), and officers to be sent on
their locked live rows (``live_hooks.officers_held``); only the handling unit (or the whole
bureau) moves an incident. The table of allowed steps and the times they set are
``lifecycle``'s; the units sent (several per incident, each with its own times) are
``assignments``'.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from qingzhi.incidents import assignments
from qingzhi.incidents.assignments import DispatchPolicy
from qingzhi.incidents.enums import RoutedBy
from qingzhi.incidents.lifecycle import (
    ASSIGNMENT,
    REINFORCEABLE,
    AssignmentStatus,
    Status,
    check_transition,
    stamp,
)
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.incidents.reads import to_read, unit_names
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.schemas import AssignmentStep, IncidentRead, Transition
from qingzhi.incidents.scope import handles, in_scope
from qingzhi.live import hooks as live_hooks
from qingzhi.live.enums import LiveStatus
from qingzhi.org.models import Unit
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)


def transition(
    *,
    session: Session,
    actor: Actor,
    incident_id: int,
    data: Transition,
    at: dt.datetime | None = None,
    policy: DispatchPolicy | None = None,
) -> IncidentRead:
    """Move an incident along its lifecycle; 409 naming both states when not allowed.

    The one place where an incident moves (dispatch comes through here too), decided on its
    locked row (``_movable``): of concurrent transitions exactly one applies, the others get
    the 409 naming the state they found. Officers to be sent are checked free on their locked
    live rows, so one officer is never on two active assignments.

    With several units: a dispatch of an incident already dispatched or arrived adds its
    officers (增援) without moving it; ``arrived`` marks the named officers (or every one on the
    way) arrived, the incident arriving with the first; ``resolved``, ``transferred`` and
    ``cancelled`` clear every active assignment at that time. ``policy`` (the dispatch
    settings) refuses sending only auxiliaries where a sworn officer is needed.
    """
    actor.require(Perm.incident_dispatch if data.to == Status.dispatched else Perm.incident_write)
    inc = _movable(session, actor, incident_id)
    at = at or utcnow()
    if data.to == Status.dispatched:
        _dispatch(session, actor, inc, data, at, policy)
    elif data.to == Status.arrived:
        _arrive(session, actor, inc, data.officer_ids, at, data.reason)
    else:
        _finish(session, actor, inc, data, at)
    return to_read(inc, unit_names(session), primaries=primaries_in_scope(session, actor, [inc]))


def assignment_step(
    *,
    session: Session,
    actor: Actor,
    incident_id: int,
    assignment_id: int,
    data: AssignmentStep,
    at: dt.datetime | None = None,
) -> IncidentRead:
    """One unit of an incident arrives or clears (撤离). The incident arrives with its first
    unit and is resolved when its last unit clears; the last unit on the way cannot be
    recalled (send another first, or cancel the incident): 409."""
    actor.require(Perm.incident_write)
    inc = _movable(session, actor, incident_id)
    at = at or utcnow()
    active = assignments.hold(session, inc)
    row = next((a for a in active if a.id == assignment_id), None)
    if row is None:
        known = session.get(IncidentAssignment, assignment_id)
        if known is None or known.incident_id != inc.id:
            raise NotFound()
        ASSIGNMENT.check(AssignmentStatus(known.status), data.to)
        raise AssertionError("unreachable: an inactive assignment has no next step")
    ASSIGNMENT.check(AssignmentStatus(row.status), data.to)  # 409 naming both states
    if data.to == AssignmentStatus.arrived:
        _arrive(session, actor, inc, [row.officer_id], at, data.reason, held=active)
        return to_read(
            inc, unit_names(session), primaries=primaries_in_scope(session, actor, [inc])
        )
    others = [a for a in active if a.id != row.id]
    arrived = inc.status == Status.arrived
    if not others and not arrived:
        raise Conflict(
            "这是本警情最后一支在途警力，不能撤回：请先增派其他警力，或撤销警情",
            details={"incident_id": inc.id, "status": str(inc.status)},
        )
    changes = assignments.step(
        session=session,
        actor=actor,
        inc=inc,
        rows=[row],
        target=AssignmentStatus.cleared,
        at=at,
        note=data.reason,
    )
    if not others:
        # The last unit has cleared: the incident is resolved, at that time.
        _move(session, actor, inc, Status.resolved, at, data.reason or "全部警力处置完毕撤离")
    live_hooks.incident_changed(session, actor, inc, changes)
    return to_read(inc, unit_names(session), primaries=primaries_in_scope(session, actor, [inc]))


def _dispatch(
    session: Session,
    actor: Actor,
    inc: Incident,
    data: Transition,
    at: dt.datetime,
    policy: DispatchPolicy | None,
) -> None:
    """Send officers: the first dispatch moves the incident; a later one reinforces it."""
    reinforce = inc.status in REINFORCEABLE
    if not reinforce:
        check_transition(inc.status, Status.dispatched)
    rows, _ = assignments.send(
        session=session,
        actor=actor,
        inc=inc,
        officer_ids=data.officer_ids,
        at=at,
        note=data.reason,
        policy=policy,
    )
    officers = [r.officer_id for r in rows]
    detail = {"officers": officers, "assignments": [r.id for r in rows]}
    if reinforce:
        audit.record(
            session=session,
            actor=actor,
            action="incident.reinforced",
            entity_kind="incident",
            entity_id=inc.id,
            unit_id=inc.unit_id,
            diff={"status": str(inc.status), "reason": data.reason, **detail},
        )
    else:
        _move(session, actor, inc, Status.dispatched, at, data.reason, detail)
    assignments.derive_times(session, inc)
    changes = [(oid, LiveStatus.dispatched, inc.id) for oid in officers]
    live_hooks.incident_changed(session, actor, inc, changes)


def _arrive(
    session: Session,
    actor: Actor,
    inc: Incident,
    officer_ids: Sequence[int],
    at: dt.datetime,
    note: str,
    held: list[IncidentAssignment] | None = None,
) -> None:
    """The named officers (none named: every one on the way) arrive; the incident arrives with
    the first of its units."""
    if inc.status not in REINFORCEABLE:
        check_transition(inc.status, Status.arrived)
    active = held if held is not None else assignments.hold(session, inc)
    on_way = [a for a in active if a.status == AssignmentStatus.dispatched]
    if officer_ids:
        wanted = set(officer_ids)
        rows = [a for a in on_way if a.officer_id in wanted]
        if len(rows) != len(wanted):
            raise ValidationFailed.field("officer_ids", "所列民警不在本警情的在途警力中")
    else:
        rows = on_way
    if not rows:
        check_transition(inc.status, Status.arrived)  # arrived → arrived: the 409
        raise Conflict("本警情没有在途警力", details={"incident_id": inc.id})
    changes = assignments.step(
        session=session,
        actor=actor,
        inc=inc,
        rows=rows,
        target=AssignmentStatus.arrived,
        at=at,
        note=note,
    )
    if inc.status == Status.dispatched:
        _move(session, actor, inc, Status.arrived, at, note, {"officers": officer_ids or None})
    assignments.derive_times(session, inc)
    live_hooks.incident_changed(session, actor, inc, changes)


def _finish(
    session: Session, actor: Actor, inc: Incident, data: Transition, at: dt.datetime
) -> None:
    """Resolve, close, transfer or cancel: every active unit clears at that time."""
    check_transition(inc.status, data.to)
    detail: dict[str, Any] = {}
    if data.to == Status.transferred:
        if not data.unit:
            raise ValidationFailed.field("unit", "移交须指定接收单位")
        if not data.reason:
            raise ValidationFailed.field("reason", "移交须说明原因")
        target = session.execute(select(Unit).where(Unit.code == data.unit)).scalar_one_or_none()
        if target is None:
            raise ValidationFailed.field("unit", f"单位代码 {data.unit} 不存在")
        if target.id == inc.unit_id:
            raise ValidationFailed.field("unit", "接收单位与当前处置单位相同")
        detail["from_unit"] = inc.unit_id
        inc.unit_id = target.id
        inc.routed_by = RoutedBy.manual
        detail["to_unit"] = target.id
    if data.to == Status.cancelled and not data.reason:
        raise ValidationFailed.field("reason", "撤销须说明原因")
    if data.to == Status.closed:
        if not data.result:
            raise ValidationFailed.field("result", "结警须填写处理结果")
        valid = inc.valid if data.valid is None else data.valid
        if not valid and data.invalid_reason is None:
            raise ValidationFailed.field("invalid_reason", "无效警情须说明原因")
        if valid and data.invalid_reason is not None:
            raise ValidationFailed.field("invalid_reason", "有效警情不应填写无效原因")
        detail["result"] = data.result
        if valid != inc.valid or (data.invalid_reason or None) != inc.invalid_reason:
            detail["validity"] = {
                "before": {"valid": inc.valid, "invalid_reason": inc.invalid_reason},
                "after": {"valid": valid, "invalid_reason": data.invalid_reason},
            }
        inc.result = data.result
        inc.valid = valid
        inc.invalid_reason = None if valid else str(data.invalid_reason)
    active = assignments.hold(session, inc)
    changes = assignments.step(
        session=session,
        actor=actor,
        inc=inc,
        rows=active,
        target=AssignmentStatus.cleared,
        at=at,
        note=data.reason,
    )
    _move(session, actor, inc, data.to, at, data.reason, detail)
    live_hooks.incident_changed(session, actor, inc, changes)


def _move(
    session: Session,
    actor: Actor,
    inc: Incident,
    to: Status,
    at: dt.datetime,
    note: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """The incident's lifecycle step (checked against the one table): its time, its event and
    its audit record ``incident.<to>`` with the status and handling unit before and after."""
    before = {"status": str(inc.status), "unit_id": (detail or {}).get("from_unit", inc.unit_id)}
    check_transition(inc.status, to)
    stamp(inc, to, at)
    session.add(
        IncidentEvent(
            incident_id=inc.id,
            at=at,
            from_status=str(inc.status),
            to_status=str(to),
            actor=actor.name,
            unit_id=inc.unit_id,
            note=note,
        )
    )
    inc.status = to
    session.flush()
    extra = {k: v for k, v in (detail or {}).items() if k != "from_unit" and v is not None}
    audit.record(
        session=session,
        actor=actor,
        action=f"incident.{to.value}",
        entity_kind="incident",
        entity_id=inc.id,
        unit_id=inc.unit_id,
        diff={
            "before": before,
            "after": {"status": str(inc.status), "unit_id": inc.unit_id},
            "reason": note,
            **extra,
        },
    )


_LOCK_ROW = (
    select(Incident)
    .where(Incident.id == bindparam("incident_id"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


def _movable(session: Session, actor: Actor, incident_id: int) -> Incident:
    """The incident's row, locked for the rest of the transaction, if the caller may move it.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE`` (a concurrent transition waits, then reads the
    state this one left; a repeat call pointing at the incident is not held up). SQLite: the
    write transaction holds the database's one writer lock from its ``BEGIN IMMEDIATE``; the row
    is read again inside it either way, never taken from an earlier read of the session.

    Only the handling unit (with its central station) or the whole bureau moves an incident. The
    station whose jurisdiction holds the place keeps reading it — after it transferred the
    incident away, or while its central station handles it — but 403 on any transition.
    """
    actor.require(Perm.incident_read)
    inc = session.execute(_LOCK_ROW, {"incident_id": incident_id}).scalar_one_or_none()
    if inc is None or not in_scope(actor, inc):
        raise NotFound()
    if not handles(actor, inc):
        handler = unit_names(session).get(inc.unit_id) if inc.unit_id else None
        raise PermissionDenied(
            f"该警情现由{handler or '其他单位'}处置，本单位只能查看，不能变更其状态",
            details={"incident_id": inc.id, "unit_id": inc.unit_id, "status": str(inc.status)},
        )
    return inc
