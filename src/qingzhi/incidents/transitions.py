"""Lifecycle transitions: the one place where an incident moves (dispatch included).

Transitions are decided on the incident's locked row (``_movable``), and officers to be sent on
their locked live rows (``live_hooks.officers_held``); only the handling unit (or the whole
bureau) moves an incident. The table of allowed steps and the times they set are
``lifecycle``'s.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import NotFound, PermissionDenied, ValidationFailed
from qingzhi.incidents.enums import RoutedBy
from qingzhi.incidents.lifecycle import Status, check_transition, stamp
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.incidents.reads import to_read, unit_names
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.schemas import IncidentRead, Transition
from qingzhi.incidents.scope import handles, in_scope
from qingzhi.live import hooks as live_hooks
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)


def transition(
    *,
    session: Session,
    actor: Actor,
    incident_id: int,
    data: Transition,
    at: dt.datetime | None = None,
) -> IncidentRead:
    """Move an incident along its lifecycle; 409 naming both states when not allowed.

    The one place where an incident moves (dispatch comes through here too), decided on its
    locked row (``_movable``): of concurrent transitions exactly one applies, the others get
    the 409 naming the state they found. Officers to be sent are checked free on their locked
    live rows, so one officer is never sent to two incidents at once.
    """
    actor.require(Perm.incident_dispatch if data.to == Status.dispatched else Perm.incident_write)
    inc = _movable(session, actor, incident_id)
    check_transition(inc.status, data.to)
    at = at or utcnow()
    before = {"status": str(inc.status), "unit_id": inc.unit_id}
    note = data.reason
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
        inc.unit_id = target.id
        inc.routed_by = RoutedBy.manual
        detail["to_unit"] = target.id
    if data.to == Status.cancelled and not data.reason:
        raise ValidationFailed.field("reason", "撤销须说明原因")
    if data.to == Status.dispatched:
        if not data.officer_ids:
            raise ValidationFailed.field("officer_ids", "派警须指定至少一名民警")
        officers = (
            session.execute(select(Officer).where(Officer.id.in_(data.officer_ids))).scalars().all()
        )
        found = {o.id: o for o in officers}
        for oid in data.officer_ids:
            o = found.get(oid)
            if o is None or not o.active or not org_scope.admits_officer(actor, o):
                raise ValidationFailed.field("officer_ids", f"民警 {oid} 不存在或不在权限范围内")
        if len(set(data.officer_ids)) != len(data.officer_ids):
            raise ValidationFailed.field("officer_ids", "同一民警不能重复指派")
        live_hooks.officers_held(session, inc.id, data.officer_ids)
        session.add_all(
            IncidentAssignment(incident_id=inc.id, officer_id=oid, assigned_at=at, actor=actor.name)
            for oid in data.officer_ids
        )
        detail["officers"] = list(data.officer_ids)
    else:
        live_hooks.officers_held(session, inc.id)
    stamp(inc, data.to, at)
    session.add(
        IncidentEvent(
            incident_id=inc.id,
            at=at,
            from_status=str(inc.status),
            to_status=str(data.to),
            actor=actor.name,
            unit_id=inc.unit_id,
            note=note,
        )
    )
    inc.status = data.to
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"incident.{data.to.value}",
        entity_kind="incident",
        entity_id=inc.id,
        unit_id=inc.unit_id,
        diff={
            "before": before,
            "after": {"status": str(inc.status), "unit_id": inc.unit_id},
            "reason": note,
            **detail,
        },
    )
    live_hooks.incident_changed(
        session, actor, inc, data.officer_ids if detail.get("officers") else ()
    )
    return to_read(inc, unit_names(session), primaries=primaries_in_scope(session, actor, [inc]))


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
