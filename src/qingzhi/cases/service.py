"""Cases (案件) and 快侦快办: open a case from criminal incidents, link more calls, build its
team from several units, notes, and its outcome (cleared, suspended, reopened) through the case
lifecycle on a locked row. Every change is audited in its transaction.

The case number is unique per bureau: one given is checked (409 naming ``number``), one not
given is made from ``case_number_format``. An incident belongs to at most one case. Loss and
recovered amounts are yuan with two decimals, never negative.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qingzhi import lifecycle
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.cases import scope
from qingzhi.cases.lifecycle import CASE, CATEGORY_LABELS, CaseStatus, Role, category_of
from qingzhi.cases.models import Case, CaseIncident, CaseMember, CaseNote
from qingzhi.cases.schemas import (
    CaseCreate,
    CasePage,
    CaseRead,
    LinkedIncident,
    MemberIn,
    MemberRead,
    NoteRead,
    Outcome,
)
from qingzhi.config import Settings
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.incidents.enums import Category, subtype_label
from qingzhi.incidents.models import Incident
from qingzhi.incidents.scope import in_scope
from qingzhi.org.models import Bureau, Officer, Unit
from qingzhi.store.base import utcnow
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)

CENT = Decimal("0.01")
MAX_PAGE = 200
SLACK = dt.timedelta(minutes=5)


def yuan(value: float) -> Decimal:
    """An amount of yuan to two decimals."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- reading


def visible(session: Session, actor: Actor, case_id: int, *, lock: bool = False) -> Case:
    """The case if it exists and is in the caller's scope (else 404)."""
    actor.require(Perm.case_read)
    case = lifecycle.locked(session, Case, case_id) if lock else session.get(Case, case_id)
    if case is None or not scope.admits(actor, case, scope.team_units(session, case_id)):
        raise NotFound()
    return case


def editable(session: Session, actor: Actor, case_id: int) -> Case:
    """The locked case, if the caller may edit it (its unit or its team in scope)."""
    case = visible(session, actor, case_id, lock=True)
    actor.require(Perm.case_write)
    return case


def to_read(session: Session, actor: Actor, case: Case, *, settings: Settings) -> CaseRead:
    """A case as the caller sees it: its incidents in scope (the others counted), its team."""
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    incidents = list(
        session.scalars(
            select(Incident)
            .join(CaseIncident, CaseIncident.incident_id == Incident.id)
            .where(CaseIncident.case_id == case.id)
            .order_by(Incident.received_at, Incident.id)
        )
    )
    shown = [i for i in incidents if in_scope(actor, i)]
    team = session.execute(
        select(CaseMember, Officer.name)
        .outerjoin(Officer, Officer.id == CaseMember.officer_id)
        .where(CaseMember.case_id == case.id)
        .order_by(CaseMember.role, CaseMember.id)
    ).all()
    hours = settings.fast_clear_hours
    return read_of(
        CaseRead,
        case,
        category_label=CATEGORY_LABELS.get(case.category, case.category),
        subtype_label=subtype_label(Category.criminal, case.subtype),
        unit_name=names.get(case.unit_id, ""),
        loss_yuan=float(case.loss_yuan),
        status=CaseStatus(case.status),
        status_label=CaseStatus(case.status).label,
        fast=None if case.hours_to_clear is None else case.hours_to_clear <= hours,
        fast_hours=hours,
        recovered_yuan=float(case.recovered_yuan),
        incidents=[
            LinkedIncident(
                id=i.id,
                source_id=i.source_id,
                received_at=i.received_at,
                subtype_label=subtype_label(Category(i.category), i.subtype),
                address=i.address,
                status_label=i.status.label,
            )
            for i in shown
        ],
        incidents_elsewhere=len(incidents) - len(shown),
        team=[
            MemberRead(
                unit_id=m.unit_id,
                unit_name=names.get(m.unit_id, ""),
                officer_id=m.officer_id,
                officer_name=officer_name,
                role=Role(m.role),
                role_label=Role(m.role).label,
            )
            for m, officer_name in team
        ],
        can_edit=actor.can(Perm.case_write),
    )


def get(*, session: Session, actor: Actor, settings: Settings, case_id: int) -> CaseRead:
    """One case."""
    return to_read(session, actor, visible(session, actor, case_id), settings=settings)


def list_cases(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    status: Sequence[CaseStatus] = (),
    unit_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CasePage:
    """The caller's cases, newest first (``q`` matches number or title)."""
    actor.require(Perm.case_read)
    terms = [scope.where(actor)]
    if status:
        terms.append(Case.status.in_(list(status)))
    if unit_id is not None:
        terms.append(Case.unit_id == unit_id)
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        terms.append(Case.number.like(like, escape="\\") | Case.title.like(like, escape="\\"))
    total = session.execute(select(func.count()).select_from(Case).where(*terms)).scalar_one()
    rows = session.scalars(
        select(Case)
        .where(*terms)
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .limit(min(limit, MAX_PAGE))
        .offset(offset)
    )
    return CasePage(
        items=[to_read(session, actor, c, settings=settings) for c in rows], total=int(total)
    )


def notes(*, session: Session, actor: Actor, case_id: int) -> list[NoteRead]:
    """The case room's notes, oldest first."""
    visible(session, actor, case_id)
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    return [
        NoteRead(
            id=n.id,
            at=n.at,
            text=n.text,
            unit_name=names.get(n.unit_id) if n.unit_id else None,
            author_name=n.author_name,
        )
        for n in session.scalars(
            select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.at, CaseNote.id)
        )
    ]


# ---------------------------------------------------------------- writing


def _criminal_incidents(
    session: Session, actor: Actor, ids: Sequence[int], case_id: int | None = None
) -> list[Incident]:
    """The incidents to link, each criminal, visible and in no other case (422/409 naming
    ``incident_ids``)."""
    unique = list(dict.fromkeys(ids))
    rows = {i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(unique)))}
    for iid in unique:
        inc = rows.get(iid)
        if inc is None or not in_scope(actor, inc):
            raise ValidationFailed.field("incident_ids", f"警情 {iid} 不存在或不在您的权限范围内")
        if inc.category != Category.criminal:
            raise ValidationFailed.field("incident_ids", f"警情 {iid} 不是刑事警情，不能立案")
    taken = session.execute(
        select(CaseIncident.incident_id, Case.number)
        .join(Case, Case.id == CaseIncident.case_id)
        .where(CaseIncident.incident_id.in_(unique))
    ).all()
    for iid, number in taken:
        raise Conflict(
            f"incident_ids：警情 {iid} 已属于案件 {number}",
            details=[{"field": "incident_ids", "message": f"警情 {iid} 已属于案件 {number}"}],
        )
    return [rows[i] for i in unique]


def next_number(session: Session, settings: Settings, bureau: Bureau, at: dt.datetime) -> str:
    """A new case number from ``case_number_format`` for a case opened at ``at``."""
    tz = ZoneInfo(settings.timezone)
    year = at.astimezone(tz).year
    start = dt.datetime(year, 1, 1, tzinfo=tz)
    end = dt.datetime(year + 1, 1, 1, tzinfo=tz)
    seq = session.execute(
        select(func.count())
        .select_from(Case)
        .where(Case.bureau_id == bureau.id, Case.opened_at >= start, Case.opened_at < end)
    ).scalar_one()
    try:
        return settings.case_number_format.format(bureau=bureau.code, year=year, seq=seq + 1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValidationFailed.field("case_number_format", f"案件编号格式有误：{exc}") from None


def _number_taken(session: Session, bureau_id: int, number: str) -> bool:
    found = session.execute(
        select(Case.id).where(Case.bureau_id == bureau_id, Case.number == number)
    ).first()
    return found is not None


def _taken(number: str) -> Conflict:
    return Conflict(
        f"number：案件编号 {number} 已被使用",
        details=[{"field": "number", "message": f"案件编号 {number} 已被使用"}],
    )


def _record(
    session: Session,
    actor: Actor,
    action: str,
    case: Case,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    diff: dict[str, Any] | None = None,
) -> None:
    """An event of a case in the audit trail (its unit the case's), in the caller's
    transaction."""
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_kind="case",
        entity_id=case.id,
        unit_id=case.unit_id,
        before=before,
        after=after,
        diff=diff,
    )


def open_case(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    body: CaseCreate,
    now: dt.datetime | None = None,
    synthetic: bool = False,
) -> Case:
    """Open a case (立案) from criminal incidents in the caller's scope (audited
    ``case.opened``); its unit is the first incident's handling unit."""
    actor.require(Perm.case_write)
    now = now or utcnow()
    incidents = _criminal_incidents(session, actor, body.incident_ids)
    first = incidents[0]
    opened = (body.opened_at or now).astimezone(dt.UTC)
    if opened > now + SLACK:
        raise ValidationFailed.field("opened_at", "立案时间晚于当前时间")
    if opened < min(i.received_at for i in incidents) - SLACK:
        raise ValidationFailed.field("opened_at", "立案时间早于警情接警时间")
    unit_id = first.unit_id or first.station_id
    if unit_id is None:
        raise ValidationFailed.field("incident_ids", f"警情 {first.id} 尚未分派处置单位")
    unit = session.get(Unit, unit_id)
    assert unit is not None
    bureau = session.get(Bureau, unit.bureau_id)
    assert bureau is not None
    subtype = body.subtype or first.subtype
    category = body.category or category_of(subtype)
    if category not in CATEGORY_LABELS:
        raise ValidationFailed.field("category", f"可选值：{', '.join(CATEGORY_LABELS)}")
    number = (body.number or "").strip() or next_number(session, settings, bureau, opened)
    if _number_taken(session, bureau.id, number):
        raise _taken(number)
    label = subtype_label(Category.criminal, subtype) or CATEGORY_LABELS[category]
    case = Case(
        bureau_id=bureau.id,
        number=number,
        title=(body.title or f"{first.address or unit.name}{label}案").strip()[:200],
        category=category,
        subtype=subtype,
        unit_id=unit_id,
        opened_at=opened,
        loss_yuan=yuan(body.loss_yuan),
        rapid=body.rapid,
        status=CaseStatus.open,
        recovered_yuan=Decimal("0"),
        suspects_caught=0,
        synthetic=synthetic,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        raise _taken(number) from None
    session.add_all(CaseIncident(case_id=case.id, incident_id=i.id) for i in incidents)
    session.flush()
    _record(
        session,
        actor,
        "case.opened",
        case,
        after={
            "number": number,
            "category": category,
            "subtype": subtype,
            "opened_at": opened.isoformat(),
            "loss_yuan": str(case.loss_yuan),
            "rapid": case.rapid,
            "incident_ids": [i.id for i in incidents],
        },
    )
    return case


def link(*, session: Session, actor: Actor, case_id: int, incident_ids: Sequence[int]) -> Case:
    """Link more criminal incidents to a case (audited ``case.linked``)."""
    case = editable(session, actor, case_id)
    incidents = _criminal_incidents(session, actor, incident_ids, case.id)
    session.add_all(CaseIncident(case_id=case.id, incident_id=i.id) for i in incidents)
    session.flush()
    _record(
        session,
        actor,
        "case.linked",
        case,
        diff={"incident_ids": [i.id for i in incidents]},
    )
    return case


def set_team(*, session: Session, actor: Actor, case_id: int, members: Sequence[MemberIn]) -> Case:
    """Replace a case's team (快侦快办: units from across the bureau, exactly one lead;
    audited ``case.team`` with the team before and after)."""
    case = editable(session, actor, case_id)
    leads = [m for m in members if m.role == Role.lead]
    if len(leads) != 1:
        raise ValidationFailed.field("members", "专案组须有且只有一名主办")
    unit_ids = {m.unit_id for m in members}
    found = set(session.scalars(select(Unit.id).where(Unit.id.in_(sorted(unit_ids)))))
    seen: set[tuple[int, int | None]] = set()
    for n, m in enumerate(members):
        if m.unit_id not in found:
            raise ValidationFailed.field(f"members.{n}.unit_id", f"单位 {m.unit_id} 不存在")
        if m.officer_id is not None:
            officer = session.get(Officer, m.officer_id)
            if officer is None or officer.unit_id != m.unit_id:
                raise ValidationFailed.field(
                    f"members.{n}.officer_id", f"民警 {m.officer_id} 不存在或不属于该单位"
                )
        if (m.unit_id, m.officer_id) in seen:
            raise ValidationFailed.field(f"members.{n}", "重复的成员")
        seen.add((m.unit_id, m.officer_id))
    old = list(session.scalars(select(CaseMember).where(CaseMember.case_id == case.id)))
    before = [[o.unit_id, o.officer_id, str(o.role)] for o in old]
    for row in old:
        session.delete(row)
    session.flush()
    session.add_all(
        CaseMember(case_id=case.id, unit_id=m.unit_id, officer_id=m.officer_id, role=m.role)
        for m in members
    )
    case.rapid = True
    session.flush()
    _record(
        session,
        actor,
        "case.team",
        case,
        before={"team": before},
        after={"team": [[m.unit_id, m.officer_id, str(m.role)] for m in members]},
    )
    return case


def add_note(
    *, session: Session, actor: Actor, case_id: int, text: str, now: dt.datetime | None = None
) -> CaseNote:
    """A note in the case room (audited ``case.note``)."""
    case = editable(session, actor, case_id)
    note = CaseNote(
        case_id=case.id,
        at=now or utcnow(),
        text=text.strip(),
        unit_id=actor.unit_id,
        author_name=actor.name,
    )
    session.add(note)
    session.flush()
    _record(
        session,
        actor,
        "case.note",
        case,
        diff={"note_id": note.id, "chars": len(note.text)},
    )
    return note


def set_outcome(
    *, session: Session, actor: Actor, case_id: int, body: Outcome, now: dt.datetime | None = None
) -> Case:
    """Clear (破案), suspend or reopen a case through its lifecycle, on the locked row (409
    naming both states when the table refuses it; audited ``case.<status>``)."""
    now = now or utcnow()
    case = editable(session, actor, case_id)
    at = (body.at or now).astimezone(dt.UTC)
    if at > now + SLACK:
        raise ValidationFailed.field("at", "时间晚于当前时间")
    if at < case.opened_at:
        raise ValidationFailed.field("at", "时间早于立案时间")
    CASE.check(CaseStatus(case.status), body.status)
    detail: dict[str, object] = {"at": at.isoformat()}
    if body.status == CaseStatus.cleared:
        recovered = yuan(body.recovered_yuan)
        if recovered > case.loss_yuan:
            raise ValidationFailed.field("recovered_yuan", "挽回损失不能超过案件损失")
        case.cleared_at = at
        case.hours_to_clear = round((at - case.opened_at).total_seconds() / 3600.0, 3)
        case.suspects_caught = body.suspects_caught
        case.recovered_yuan = recovered
        detail |= {"suspects_caught": body.suspects_caught, "recovered_yuan": str(recovered)}
    elif body.status == CaseStatus.suspended:
        case.suspended_at = at
    else:
        case.suspended_at = None
    if body.note:
        detail["note"] = body.note
    case.updated_at = now
    lifecycle.move(
        session=session,
        actor=actor,
        lifecycle=CASE,
        row=case,
        target=body.status,
        entity_kind="case",
        unit_id=case.unit_id,
        detail=detail,
    )
    return case
