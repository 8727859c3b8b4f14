"""Several units per incident: the officers sent to it (出警任务), each with its own times.

An assignment is dispatched → arrived → cleared (``lifecycle.ASSIGNMENT``); an incident may have
many, sent at once or later as reinforcement (增援). The incident's own times follow from them
(``derive_times``): dispatched when the first was sent, arrived when the first arrived, resolved
when the last cleared. Everything here runs inside a transition that holds the incident's locked
row (``transitions._movable``), and an officer about to be sent is checked free on their locked
live row: free by live status and on no other active assignment (a unique partial index on the
active rows backs the rule). Writers lock in one order: the incident, officers' live rows by id,
the incident's assignment rows, then the audit chain's head and the bus.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi import lifecycle as lifecycles
from qingzhi.auth.context import Actor
from qingzhi.errors import Conflict, ValidationFailed
from qingzhi.incidents.enums import Category
from qingzhi.incidents.lifecycle import ACTIVE_ASSIGNMENT, ASSIGNMENT, AssignmentStatus
from qingzhi.incidents.models import Incident, IncidentAssignment
from qingzhi.live import hooks as live_hooks
from qingzhi.live.enums import LiveStatus
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import LABELS as ORG_LABELS
from qingzhi.org.enums import OfficerKind
from qingzhi.org.models import Officer

log = logging.getLogger(__name__)

# An officer's live status as their assignment moves.
LIVE_OF = {
    AssignmentStatus.dispatched: LiveStatus.dispatched,
    AssignmentStatus.arrived: LiveStatus.on_scene,
    AssignmentStatus.cleared: LiveStatus.available,
}
Change = tuple[int, LiveStatus, int | None]


@dataclass(frozen=True)
class DispatchPolicy:
    """Who may go alone: for calls of ``categories`` or of priority ≤ ``priority`` an
    auxiliary (辅警) does not go without a sworn officer (民警) going or already there."""

    categories: frozenset[str] = frozenset({Category.criminal.value})
    priority: int = 2

    @classmethod
    def of(cls, settings: Any) -> DispatchPolicy:
        """The policy of the settings (``dispatch_sworn_categories`` and ``_priority``)."""
        return cls(frozenset(settings.dispatch_sworn_categories), settings.dispatch_sworn_priority)

    def sworn_required(self, inc: Any) -> bool:
        """Whether this incident needs a sworn officer among those sent."""
        return str(inc.category) in self.categories or (
            self.priority > 0 and int(inc.priority) <= self.priority
        )


SWORN_RULE = "刑事或紧急警情不能只派辅警，须有民警同往或已在现场"


def locked_active(session: Session, incident_id: int) -> list[IncidentAssignment]:
    """The incident's active assignments, locked, in id order (read again, never cached)."""
    statement = (
        select(IncidentAssignment)
        .where(
            IncidentAssignment.incident_id == incident_id,
            IncidentAssignment.status.in_(ACTIVE_ASSIGNMENT),
        )
        .order_by(IncidentAssignment.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


def officers_on(session: Session, incident_id: int) -> list[int]:
    """Officers on the incident's active assignments (unlocked: which rows to lock)."""
    return list(
        session.execute(
            select(IncidentAssignment.officer_id).where(
                IncidentAssignment.incident_id == incident_id,
                IncidentAssignment.status.in_(ACTIVE_ASSIGNMENT),
            )
        ).scalars()
    )


def hold(session: Session, inc: Incident, sending: Sequence[int] = ()) -> list[IncidentAssignment]:
    """Lock the live rows of the officers on the incident and of those about to be sent (one
    pass, by id; 409 naming one to be sent who is not available), then its active assignments."""
    live_hooks.officers_held(session, inc.id, sending, attached=officers_on(session, inc.id))
    return locked_active(session, inc.id)


def send(
    *,
    session: Session,
    actor: Actor,
    inc: Incident,
    officer_ids: Sequence[int],
    at: dt.datetime,
    note: str,
    policy: DispatchPolicy | None,
) -> tuple[list[IncidentAssignment], list[IncidentAssignment]]:
    """New assignments of ``officer_ids`` to the locked incident (the officers' live rows are
    locked and checked here); the new rows and the incident's active rows before them."""
    if not officer_ids:
        raise ValidationFailed.field("officer_ids", "派警须指定至少一名民警")
    if len(set(officer_ids)) != len(officer_ids):
        raise ValidationFailed.field("officer_ids", "同一民警不能重复指派")
    officers = {
        o.id: o
        for o in session.execute(select(Officer).where(Officer.id.in_(list(officer_ids)))).scalars()
    }
    for oid in officer_ids:
        o = officers.get(oid)
        if o is None or not o.active or not org_scope.admits_officer(actor, o):
            raise ValidationFailed.field("officer_ids", f"民警 {oid} 不存在或不在权限范围内")
    active = hold(session, inc, officer_ids)
    busy = session.execute(
        select(IncidentAssignment.officer_id, IncidentAssignment.incident_id).where(
            IncidentAssignment.officer_id.in_(list(officer_ids)),
            IncidentAssignment.status.in_(ACTIVE_ASSIGNMENT),
        )
    ).first()
    if busy is not None:
        o = officers[busy[0]]
        where = "本警情" if busy[1] == inc.id else f"警情 #{busy[1]}"
        raise Conflict(
            f"民警 {o.name}（{o.police_number}）已在{where}执行任务，不能再派",
            details={"officer_id": o.id, "incident_id": busy[1]},
        )
    if policy is not None and policy.sworn_required(inc):
        kinds = {officers[oid].kind for oid in officer_ids}
        on_it = {a.officer_id for a in active}
        already: set[OfficerKind] = set()
        if on_it:
            kinds_on = select(Officer.kind).where(Officer.id.in_(list(on_it)))
            already = set(session.execute(kinds_on).scalars())
        if OfficerKind.sworn not in kinds and OfficerKind.sworn not in already:
            raise ValidationFailed.field("officer_ids", SWORN_RULE)
    rows = [
        IncidentAssignment(
            incident_id=inc.id,
            officer_id=oid,
            status=AssignmentStatus.dispatched,
            assigned_at=at,
            note=note,
            actor=actor.name,
        )
        for oid in officer_ids
    ]
    session.add_all(rows)
    session.flush()
    return rows, active


def step(
    *,
    session: Session,
    actor: Actor,
    inc: Incident,
    rows: Sequence[IncidentAssignment],
    target: AssignmentStatus,
    at: dt.datetime,
    note: str = "",
) -> list[Change]:
    """Move locked assignments to ``target`` (each through ``ASSIGNMENT``, audited as
    ``incident_assignment.<target>``) and set their time; the officers' live changes."""
    changes: list[Change] = []
    for row in rows:
        lifecycles.move(
            session=session,
            actor=actor,
            lifecycle=ASSIGNMENT,
            row=row,
            target=target,
            entity_kind="incident_assignment",
            unit_id=inc.unit_id,
            detail={"incident_id": inc.id, "officer_id": row.officer_id, "note": note},
        )
        if target == AssignmentStatus.arrived:
            row.arrived_at = at
        elif target == AssignmentStatus.cleared:
            row.cleared_at = at
        if note:
            row.note = note
        live_incident = inc.id if target != AssignmentStatus.cleared else None
        changes.append((row.officer_id, LIVE_OF[target], live_incident))
    session.flush()
    return changes


def derive_times(session: Session, inc: Incident) -> None:
    """The incident's dispatch and arrival times from its assignments: the first sent and the
    first arrived (an incident transferred and sent again was dispatched when it first was)."""
    rows = list(
        session.execute(
            select(IncidentAssignment.assigned_at, IncidentAssignment.arrived_at).where(
                IncidentAssignment.incident_id == inc.id
            )
        )
    )
    if not rows:
        return
    inc.dispatched_at = min(r[0] for r in rows)
    arrivals = [r[1] for r in rows if r[1] is not None]
    if arrivals:
        inc.arrived_at = min(arrivals)


def of_incident(session: Session, incident_id: int) -> list[dict[str, Any]]:
    """Every assignment of an incident (active first, then in the order sent), as shown."""
    out = []
    for a, o in session.execute(
        select(IncidentAssignment, Officer)
        .join(Officer, Officer.id == IncidentAssignment.officer_id)
        .where(IncidentAssignment.incident_id == incident_id)
        .order_by(IncidentAssignment.id)
    ):
        status = AssignmentStatus(a.status)
        out.append(
            {
                "id": a.id,
                "officer_id": o.id,
                "name": o.name,
                "police_number": o.police_number,
                "kind": str(o.kind),
                "kind_label": ORG_LABELS.get(str(o.kind), str(o.kind)),
                "unit_id": o.unit_id,
                "status": str(status),
                "status_label": status.label,
                "active": status in ACTIVE_ASSIGNMENT,
                "dispatched_at": a.assigned_at,
                "arrived_at": a.arrived_at,
                "cleared_at": a.cleared_at,
                "note": a.note,
                "actor": a.actor,
            }
        )
    out.sort(key=lambda r: (not r["active"], r["id"]))
    return out
