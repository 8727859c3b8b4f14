"""Household and business visits (入户走访): planned and done, by zone, with purpose, notes and
findings (a finding opens a dispute: ``disputes.create`` with ``visit_id``; or a task:
``open_task``, through the tasks domain's ``create`` with the visit as its source). A visit
outside the officer's own zone is allowed with a reason, and answered with a warning.

Coverage of a zone over a period = households visited (done visits to households) / the zone's
households, an estimate: registered population / ``community_household_size``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi import lifecycle
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.models import User
from qingzhi.auth.permissions import Perm
from qingzhi.community.enums import VISIT, VisitStatus, label
from qingzhi.community.models import Dispute, Visit
from qingzhi.community.schemas import VisitCreate, VisitDone, VisitRead, VisitTask
from qingzhi.community.scope import View, view_of
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.org.models import Officer, Zone
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import allocate_ids, insert_rows
from qingzhi.store.rows import read_of
from qingzhi.tasks import scope as tasks_scope
from qingzhi.tasks import service as tasks
from qingzhi.tasks.lifecycle import SourceKind
from qingzhi.tasks.models import Task
from qingzhi.tasks.schemas import TaskCreate

log = logging.getLogger(__name__)

OUTSIDE_WARNING = "该走访不在民警本人片区"
_VISITS = table_of(Visit)
VISIT_TASK_DAYS = 3  # a task opened from a visit's finding is due this many days later


def _read(
    v: Visit,
    zone_name: str,
    officer_name: str | None,
    disputes: list[int],
    task_ids: list[int] | None = None,
) -> VisitRead:
    return read_of(
        VisitRead,
        v,
        zone_name=zone_name,
        officer_name=officer_name,
        status_label=VISIT.label(VisitStatus(v.status)),
        target_label=label(v.target),
        purpose_label=label(v.purpose),
        dispute_ids=disputes,
        task_ids=task_ids or [],
        warning=OUTSIDE_WARNING if v.outside_zone else None,
    )


def _own_officer(session: Session, actor: Actor) -> Officer | None:
    if actor.user_id is None:
        return None
    return session.scalar(
        select(Officer).join(User, User.officer_id == Officer.id).where(User.id == actor.user_id)
    )


class _Context:
    """What checking visits reads once for many: the caller's view and own officer record,
    and the zones and officers named (each looked up once)."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session, self.actor = session, actor
        self.zoned = view_of(session, actor).zones is not None
        self.own = _own_officer(session, actor)
        self.zones: dict[int, Zone | None] = {}
        self.officers: dict[int, Officer | None] = {}

    def zone(self, zone_id: int) -> Zone | None:
        if zone_id not in self.zones:
            self.zones[zone_id] = self.session.get(Zone, zone_id)
        return self.zones[zone_id]

    def officer(self, officer_id: int) -> Officer | None:
        if officer_id not in self.officers:
            self.officers[officer_id] = self.session.get(Officer, officer_id)
        return self.officers[officer_id]


def _prepare(
    ctx: _Context, data: VisitCreate, now: dt.datetime
) -> tuple[dict[str, Any], Zone, Officer | None]:
    """A new visit's row, checked (refusals name the field), with its zone and officer."""
    actor = ctx.actor
    # A zone officer may log a visit outside their zone (with a reason): the station's scope
    # is the limit here, the zone is checked against the officer below.
    zone = ctx.zone(data.zone_id)
    if zone is None or not actor.scope.admits(zone.station_id):
        raise ValidationFailed.field("zone_id", "片区不存在或不在您的权限范围内")
    if data.status == VisitStatus.cancelled:
        raise ValidationFailed.field("status", "新走访只能是计划（planned）或已走访（done）")
    if data.status == VisitStatus.planned and data.planned_for is None:
        raise ValidationFailed.field("planned_for", "计划走访须有计划日期")
    officer: Officer | None
    if data.officer_id is not None:
        officer = ctx.officer(data.officer_id)
        if officer is None or not actor.scope.admits(officer.unit_id):
            raise ValidationFailed.field("officer_id", "民警不存在或不在您的权限范围内")
        if ctx.zoned and (ctx.own is None or ctx.own.id != officer.id):
            raise ValidationFailed.field("officer_id", "社区民警只能登记本人的走访")
    else:
        officer = ctx.own
    outside = officer is not None and officer.zone_id is not None and officer.zone_id != zone.id
    if officer is None and ctx.zoned:
        outside = True
    if outside and not data.outside_reason.strip():
        raise ValidationFailed.field(
            "outside_reason", f"{OUTSIDE_WARNING}（{zone.name}）：请填写原因后再提交"
        )
    visited_at = data.visited_at or (now if data.status == VisitStatus.done else None)
    if visited_at is not None and visited_at > now + dt.timedelta(minutes=5):
        raise ValidationFailed.field("visited_at", "走访时间不能晚于当前时间")
    row = {
        "station_id": zone.station_id,
        "zone_id": zone.id,
        "officer_id": officer.id if officer else None,
        "status": data.status,
        "target": data.target,
        "purpose": data.purpose,
        "planned_for": data.planned_for,
        "visited_at": visited_at if data.status == VisitStatus.done else None,
        "address": data.address,
        "notes": data.notes,
        "findings": data.findings,
        "outside_zone": outside,
        "outside_reason": data.outside_reason if outside else "",
        "synthetic": False,
        "created_at": now,
    }
    return row, zone, officer


def _created(visit_id: int, row: dict[str, Any]) -> audit.Change:
    return audit.Change(
        f"visit.{row['status']}",
        "visit",
        visit_id,
        row["station_id"],
        after={
            "zone_id": row["zone_id"],
            "officer_id": row["officer_id"],
            "purpose": str(row["purpose"]),
            "target": str(row["target"]),
            "outside_zone": row["outside_zone"],
            "outside_reason": row["outside_reason"],
        },
    )


def create(*, session: Session, actor: Actor, data: VisitCreate) -> VisitRead:
    """Log a visit (done, the default) or plan one. The officer is the caller's own unless
    named; a zone that is not the officer's needs ``outside_reason`` (then it is flagged)."""
    actor.require(Perm.community_write)
    row, zone, officer = _prepare(_Context(session, actor), data, utcnow())
    v = Visit(**row)
    session.add(v)
    session.flush()
    audit.record_many(session=session, changes=[_created(v.id, row)], actor=actor)
    return _read(v, zone.name, officer.name if officer else None, [])


def create_many(*, session: Session, actor: Actor, items: Sequence[VisitCreate]) -> list[int]:
    """Log many visits at once (the demo's year), each checked as ``create`` checks it (all or
    nothing); inserted in one statement, audited in one ``record_many``; their ids."""
    actor.require(Perm.community_write)
    if not items:
        return []
    ctx, now = _Context(session, actor), utcnow()
    rows = [_prepare(ctx, data, now)[0] for data in items]
    connection = session.connection()
    ids = allocate_ids(connection, _VISITS, len(rows))
    insert_rows(connection, _VISITS, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    changes = [_created(i, row) for i, row in zip(ids, rows, strict=True)]
    audit.record_many(session=session, changes=changes, actor=actor)
    return ids


def visible(session: Session, view: View, visit_id: int) -> Visit:
    """The visit if it exists and the caller may see it (else 404)."""
    view.actor.require(Perm.community_read)
    v = session.get(Visit, visit_id)
    if v is None or not view.admits_row(v):
        raise NotFound()
    return v


def get(*, session: Session, actor: Actor, visit_id: int) -> VisitRead:
    """One visit in scope, with the disputes and tasks its findings opened."""
    v = visible(session, view_of(session, actor), visit_id)
    return _detail(session, actor, v)


def _tasks_of(session: Session, actor: Actor, visit_ids: list[int]) -> dict[int, list[int]]:
    """The tasks opened from these visits that the caller may see, by visit."""
    found: dict[int, list[int]] = defaultdict(list)
    if not visit_ids or not actor.can(Perm.task_read):
        return found
    for tid, ref in session.execute(
        select(Task.id, Task.source_ref)
        .where(
            Task.source_kind == SourceKind.visit,
            Task.source_ref.in_([str(i) for i in visit_ids]),
            tasks_scope.where(actor),
        )
        .order_by(Task.id)
    ):
        found[int(ref or 0)].append(tid)
    return found


def _detail(session: Session, actor: Actor, v: Visit) -> VisitRead:
    zone = session.get(Zone, v.zone_id)
    officer = session.get(Officer, v.officer_id) if v.officer_id else None
    disputes = list(session.scalars(select(Dispute.id).where(Dispute.visit_id == v.id)))
    return _read(
        v,
        zone.name if zone else "",
        officer.name if officer else None,
        disputes,
        _tasks_of(session, actor, [v.id])[v.id],
    )


def open_task(*, session: Session, actor: Actor, visit_id: int, data: VisitTask) -> VisitRead:
    """Open a task (督办任务) from a visit's finding through the tasks domain's ``create``
    (which checks the caller may issue it to the owner, audits ``task.created`` and issues
    it): the visit is its source; the owner is the visit's station unless named, and its
    officer the visit's officer when of the owner unit. Audited on the visit (``visit.task``)."""
    actor.require(Perm.community_write)
    v = visible(session, view_of(session, actor), visit_id)
    title = data.title or (f"走访发现：{v.findings.strip()[:60]}" if v.findings.strip() else "")
    if not title:
        raise ValidationFailed.field("title", "该走访没有发现问题：请填写任务标题")
    owner_unit = data.owner_unit_id or v.station_id
    owner_officer = data.owner_officer_id
    if owner_officer is None and v.officer_id is not None:
        officer = session.get(Officer, v.officer_id)
        owner_officer = officer.id if officer and officer.unit_id == owner_unit else None
    zone = session.get(Zone, v.zone_id)
    where = "、".join(x for x in ((zone.name if zone else ""), v.address) if x)
    now = utcnow()
    task = tasks.create(
        session=session,
        actor=actor,
        body=TaskCreate(
            title=title,
            instructions=data.instructions
            if data.instructions is not None
            else f"{v.findings}\n（来源：走访 #{v.id}，{where}）",
            source_kind=SourceKind.visit,
            source_ref=str(v.id),
            owner_unit_id=owner_unit,
            owner_officer_id=owner_officer,
            deadline=data.deadline or now + dt.timedelta(days=VISIT_TASK_DAYS),
            priority=data.priority,
        ),
        now=now,
    )
    audit.record(
        session=session,
        actor=actor,
        action="visit.task",
        entity_kind="visit",
        entity_id=v.id,
        unit_id=v.station_id,
        after={"task_id": task.id, "owner_unit_id": owner_unit, "title": title},
    )
    return _detail(session, actor, v)


def finish(*, session: Session, actor: Actor, visit_id: int, data: VisitDone) -> VisitRead:
    """A planned visit made (done) or cancelled, on its locked row."""
    actor.require(Perm.community_write)
    visible(session, view_of(session, actor), visit_id)
    v = lifecycle.locked(session, Visit, visit_id)
    assert v is not None
    at = data.visited_at or utcnow()
    lifecycle.move(
        session=session,
        actor=actor,
        lifecycle=VISIT,
        row=v,
        target=data.to,
        entity_kind="visit",
        unit_id=v.station_id,
        detail={"at": at.isoformat()} if data.to == VisitStatus.done else None,
    )
    if data.to == VisitStatus.done:
        v.visited_at = at
        if data.notes is not None:
            v.notes = data.notes
        if data.findings is not None:
            v.findings = data.findings
    session.flush()
    return _detail(session, actor, v)


def list_visits(
    *,
    session: Session,
    actor: Actor,
    zone_id: int | None = None,
    unit_id: int | None = None,
    status: VisitStatus | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[VisitRead], int]:
    """Visits in scope, newest first (done by visit time, planned by plan date)."""
    actor.require(Perm.community_read)
    view = view_of(session, actor)
    query = select(Visit).where(view.where(Visit.station_id, Visit.zone_id))
    if zone_id is not None:
        query = query.where(Visit.zone_id == zone_id)
    if unit_id is not None:
        query = query.where(Visit.station_id == unit_id)
    if status is not None:
        query = query.where(Visit.status == status)
    if start is not None:
        query = query.where(Visit.visited_at >= start)
    if end is not None:
        query = query.where(Visit.visited_at < end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Visit.visited_at.desc(), Visit.id.desc()).limit(limit).offset(offset)
    ).all()
    zones = dict(session.execute(select(Zone.id, Zone.name)).all())
    ids = sorted({v.officer_id for v in rows if v.officer_id})
    names = dict(session.execute(select(Officer.id, Officer.name).where(Officer.id.in_(ids))).all())
    found: dict[int | None, list[int]] = defaultdict(list)
    for did, vid in session.execute(
        select(Dispute.id, Dispute.visit_id).where(Dispute.visit_id.in_([v.id for v in rows]))
    ):
        found[vid].append(did)
    opened = _tasks_of(session, actor, [v.id for v in rows])
    items = [
        _read(v, zones.get(v.zone_id, ""), names.get(v.officer_id or 0), found[v.id], opened[v.id])
        for v in rows
    ]
    return items, total
