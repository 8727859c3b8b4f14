"""Reading incidents: the API view (``to_read``, the caller's phone masked unless unmasked and
then audited), one incident in scope (``visible``, ``get``) and its timeline (全溯源: lifecycle,
officers sent, audit records and linked calls, the links scoped as ``repeats`` says).
"""

from __future__ import annotations

import logging
from collections.abc import Container, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import NotFound, PermissionDenied
from qingzhi.incidents.enums import Priority, subtype_label
from qingzhi.incidents.lifecycle import Status, next_steps
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.incidents.repeats import (
    REPEAT_ELSEWHERE_LABEL,
    ids_in_scope,
    linked_ids,
    primaries_in_scope,
    scoped_links,
)
from qingzhi.incidents.routing import region_index
from qingzhi.incidents.schemas import IncidentRead, TimelineEntry
from qingzhi.incidents.scope import in_scope, scope_filter
from qingzhi.org.models import Officer
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)


def mask_phone(phone: str | None) -> str | None:
    """A phone number with its middle digits hidden (138****5678)."""
    if not phone:
        return phone
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) <= 4:
        return "*" * len(digits)
    keep = 3 if len(digits) >= 7 else 1
    return digits[:keep] + "*" * (len(digits) - keep - 4) + digits[-4:]


def unit_names(session: Session) -> dict[int, str]:
    """Every unit's name by id (for labelling incidents; kept with the routing index)."""
    return region_index(session).unit_names


def to_read(
    inc: Incident | SimpleNamespace,
    unit_names: dict[int, str],
    *,
    primaries: Container[int],
    unmask: bool = False,
) -> IncidentRead:
    """The API view of an incident (or of its row just written, as attributes).

    Repeat calls are linked bureau-wide (the matter is the same whoever took the call), but a
    caller sees the first call's id only if it is in ``primaries`` (``primaries_in_scope``);
    otherwise only the neutral flag ``repeat_elsewhere`` (此前有跨所报警)."""
    elsewhere = inc.repeat_of_id is not None and inc.repeat_of_id not in primaries
    response = handling = None
    if inc.arrived_at is not None:
        response = (inc.arrived_at - inc.received_at).total_seconds()
        if inc.resolved_at is not None:
            handling = (inc.resolved_at - inc.arrived_at).total_seconds()
    return read_of(
        IncidentRead,
        inc,
        category_label=inc.category.label,
        subtype_label=subtype_label(inc.category, inc.subtype),
        caller_phone=inc.caller_phone if unmask else mask_phone(inc.caller_phone),
        location=None if inc.lon is None or inc.lat is None else {"lon": inc.lon, "lat": inc.lat},
        priority_label=Priority(inc.priority).label,
        status_label=inc.status.label,
        unit_name=unit_names.get(inc.unit_id) if inc.unit_id else None,
        repeat_of_id=None if elsewhere else inc.repeat_of_id,
        repeat_elsewhere=elsewhere,
        repeat_elsewhere_label=REPEAT_ELSEWHERE_LABEL if elsewhere else None,
        response_seconds=response,
        handling_seconds=handling,
        # a row just written (attributes) may lack these
        result=getattr(inc, "result", None),
        next_steps=next_steps(Status(inc.status)),
        source_type=getattr(inc, "source_type", None),
        source_district=getattr(inc, "source_district", None),
        source_beat=getattr(inc, "source_beat", None),
        version=getattr(inc, "version", 1) or 1,
    )


def visible(session: Session, actor: Actor, incident_id: int) -> Incident:
    """The incident if it exists and is in the caller's scope (else 404, never 403)."""
    actor.require(Perm.incident_read)
    inc = session.get(Incident, incident_id)
    if inc is None or not in_scope(actor, inc):
        raise NotFound()
    return inc


# At most this many incident ids in one audit record of a read of personal data; a bigger read
# is recorded as several parts (one head lock, one insert).
PERSONAL_READ_IDS_PER_RECORD = 10_000


def record_personal_read(
    *,
    session: Session,
    actor: Actor,
    incident_ids: Sequence[int],
    purpose: str,
    filters: dict[str, Any] | None = None,
) -> None:
    """Audit that the caller saw callers' phone numbers unmasked: one record for one incident,
    else records of the request listing every incident id (in parts of
    ``PERSONAL_READ_IDS_PER_RECORD``), the total and the query's ``filters`` when given."""
    if not actor.can(Perm.personal_read):
        raise PermissionDenied("您的角色不能查看报警人完整电话")
    if len(incident_ids) == 1 and filters is None:
        audit.record(
            session=session,
            actor=actor,
            action="incident.read_personal",
            entity_kind="incident",
            entity_id=incident_ids[0],
            unit_id=actor.unit_id,
            diff={"fields": ["caller_phone"], "purpose": purpose},
        )
        return
    ids = list(incident_ids)
    step = PERSONAL_READ_IDS_PER_RECORD
    starts = range(0, max(len(ids), 1), step)
    changes = []
    for k, start in enumerate(starts, start=1):
        diff: dict[str, Any] = {
            "fields": ["caller_phone"],
            "purpose": purpose,
            "incident_ids": ids[start : start + step],
            "count": len(ids),
        }
        if len(starts) > 1:
            diff["part"] = f"{k}/{len(starts)}"
        if filters is not None and k == 1:
            diff["filters"] = filters
        changes.append(
            audit.Change(
                action="incident.read_personal",
                entity_kind="incident_query",
                entity_id=actor.request_id or "-",
                unit_id=actor.unit_id,
                diff=diff,
            )
        )
    audit.record_many(session=session, actor=actor, changes=changes)


def get(*, session: Session, actor: Actor, incident_id: int, unmask: bool = False) -> IncidentRead:
    """One incident; with ``unmask`` the caller's phone is shown and the read audited."""
    inc = visible(session, actor, incident_id)
    if unmask and inc.caller_phone:
        record_personal_read(session=session, actor=actor, incident_ids=[inc.id], purpose="detail")
    primaries = primaries_in_scope(session, actor, [inc])
    return to_read(inc, unit_names(session), primaries=primaries, unmask=unmask)


def timeline(*, session: Session, actor: Actor, incident_id: int) -> list[TimelineEntry]:
    """Lifecycle, audit records, officers sent and linked calls of one incident, in time order."""
    inc = visible(session, actor, incident_id)
    names = unit_names(session)
    out: list[TimelineEntry] = []
    for ev in session.execute(
        select(IncidentEvent).where(IncidentEvent.incident_id == inc.id).order_by(IncidentEvent.id)
    ).scalars():
        title = Status(ev.to_status).label
        if ev.to_status == Status.transferred and ev.unit_id:
            title += f" → {names.get(ev.unit_id, ev.unit_id)}"
        out.append(
            TimelineEntry(
                at=ev.at,
                kind="lifecycle",
                title=title,
                actor=ev.actor,
                detail={"from": ev.from_status, "to": ev.to_status, "note": ev.note},
            )
        )
    for a, o in session.execute(
        select(IncidentAssignment, Officer)
        .join(Officer, Officer.id == IncidentAssignment.officer_id)
        .where(IncidentAssignment.incident_id == inc.id)
    ):
        who = f"{o.name}（{o.police_number}）"
        steps = [(a.assigned_at, "派警"), (a.arrived_at, "到场"), (a.cleared_at, "撤离")]
        for at, verb in steps:
            if at is not None:
                out.append(
                    TimelineEntry(
                        at=at,
                        kind="assignment",
                        title=f"{verb}：{who}",
                        actor=a.actor if verb == "派警" else None,
                        detail={"officer_id": o.id, "assignment_id": a.id},
                    )
                )
    trail = audit.trail_of(session=session, entity_kind="incident", entity_id=inc.id)
    shown = ids_in_scope(session, actor, (i for e in trail for i in linked_ids(e.diff)))
    for entry in trail:
        out.append(
            TimelineEntry(
                at=entry.at,
                kind="audit",
                title=f"审计：{audit.action_label(entry.action)}",
                actor=entry.actor,
                detail={"seq": entry.seq, **scoped_links(entry.diff, shown)},
            )
        )
    linked = (
        select(Incident)
        .where(
            or_(
                Incident.repeat_of_id == inc.id,
                Incident.id == inc.repeat_of_id if inc.repeat_of_id else Incident.id == -1,
            )
        )
        .order_by(Incident.received_at)
    )
    for other in session.execute(scope_filter(linked, actor)).scalars():
        kind = "首次报警" if other.id == inc.repeat_of_id else "重复报警"
        out.append(
            TimelineEntry(
                at=other.received_at,
                kind="linked_call",
                title=f"{kind}：{other.source_id}",
                actor=None,
                detail={"incident_id": other.id, "caller_phone": mask_phone(other.caller_phone)},
            )
        )
    out.sort(key=lambda e: (e.at, e.kind != "lifecycle"))
    return out
