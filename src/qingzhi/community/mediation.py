"""Mediation (调解) of a dispute: sessions with a package (调解套餐: the people who took part,
start and end, outcome, agreement; several per dispute) and the dispute's steps along its one
lifecycle (``enums.DISPUTE``), decided on the locked row: a settlement sets the follow-up date
(回访) and the watch window for later calls (``links``); a follow-up may not come before it.

Duration of a dispute's mediation = first session's start to settlement.

``record_many`` is the same for many disputes at once (the demo's year of mediation): the
disputes read locked in bulk, the same checks and steps (``lifecycle.step``), the sessions
inserted and the disputes updated in one statement each, the audit records in one
``record_many``, in the order the single calls would have written them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from qingzhi import lifecycle
from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community.disputes import LOCAL, to_read, visible
from qingzhi.community.enums import DISPUTE, SETTLEMENTS, DisputeStatus
from qingzhi.community.models import Dispute, MediationSession, Partner
from qingzhi.community.schemas import DisputeRead, DisputeTransition, SessionCreate
from qingzhi.community.scope import view_of
from qingzhi.config import Settings
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.org.models import Officer
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import allocate_ids, insert_rows

_DISPUTES = table_of(Dispute)
_SESSIONS = table_of(MediationSession)
# What mediation reads and writes of a dispute (``_Row`` holds them for ``record_many``).
FIELDS = (
    "status",
    "first_session_at",
    "settled_at",
    "watch_until",
    "follow_up_due",
    "outcome",
    "referred_to",
    "followed_up_at",
    "closed_at",
    "attention",
)


def _check_session(settings: Settings, data: SessionCreate) -> None:
    if data.ended_at < data.started_at:
        raise ValidationFailed.field("ended_at", "结束时间不能早于开始时间")
    if data.package is not None and data.package not in settings.community_packages:
        names = "、".join(f"{k}（{v}）" for k, v in settings.community_packages.items())
        raise ValidationFailed.field("package", f"未知调解套餐；可选：{names}")


def _check_people(session: Session, actor: Actor, data: SessionCreate) -> None:
    """The named partners and officer exist and are in the caller's scope (no look-up when
    none are named)."""
    if data.partner_ids:
        found = session.execute(
            select(Partner.id, Partner.station_id).where(Partner.id.in_(data.partner_ids))
        ).all()
        ok = {pid for pid, station in found if actor.scope.admits(station)}
        missing = [p for p in data.partner_ids if p not in ok]
        if missing:
            raise ValidationFailed.field("partner_ids", f"调解人员不存在或不在本所：{missing}")
    if data.officer_id is not None:
        officer = session.get(Officer, data.officer_id)
        if officer is None or not actor.scope.admits(officer.unit_id):
            raise ValidationFailed.field("officer_id", "民警不存在或不在您的权限范围内")


def _check_start(d: Any, data: SessionCreate) -> None:
    if data.started_at < d.reported_at - dt.timedelta(minutes=5):
        raise ValidationFailed.field("started_at", "调解开始时间不能早于纠纷登记时间")


def _session_row(dispute_id: int, data: SessionCreate, now: dt.datetime) -> dict[str, Any]:
    return {
        "dispute_id": dispute_id,
        "package": data.package,
        "participants": json.dumps(data.participants, ensure_ascii=False),
        "partner_ids": json.dumps(data.partner_ids),
        "officer_id": data.officer_id,
        "started_at": data.started_at,
        "ended_at": data.ended_at,
        "outcome": data.outcome,
        "agreement": data.agreement,
        "created_at": now,
    }


def _apply_session(d: Any, data: SessionCreate, session_id: int) -> list[audit.Change]:
    """A session on the locked dispute ``d``: mediating if it was not, the first session's
    time; the audit changes (the step, then the session)."""
    changes = []
    if DisputeStatus(d.status) != DisputeStatus.mediating:
        changes.append(
            lifecycle.step(
                lifecycle=DISPUTE,
                row=d,
                target=DisputeStatus.mediating,
                entity_kind="dispute",
                unit_id=d.station_id,
            )
        )
        d.settled_at = d.watch_until = None
        d.follow_up_due = d.outcome = None
    if d.first_session_at is None or data.started_at < d.first_session_at:
        d.first_session_at = data.started_at
    changes.append(
        audit.Change(
            "dispute.session",
            "dispute",
            d.id,
            d.station_id,
            after={
                "session_id": session_id,
                "package": data.package,
                "participants": data.participants,
                "partner_ids": data.partner_ids,
                "started_at": data.started_at.isoformat(),
                "ended_at": data.ended_at.isoformat(),
                "outcome": str(data.outcome),
            },
        )
    )
    return changes


def _apply_step(
    d: Any, data: DisputeTransition, at: dt.datetime, settings: Settings
) -> audit.Change:
    """A step of the locked dispute ``d`` (checked against the table first): a settlement sets
    the follow-up date and the watch window; the audit change."""
    target = data.to
    DISPUTE.check(DisputeStatus(d.status), target)
    if data.follow_up_due is not None and target not in SETTLEMENTS:
        raise ValidationFailed.field(
            "follow_up_due", "回访日期在调解结束（成功、部分、未成、移交）时设定"
        )
    detail: dict[str, Any] = {"at": at.isoformat()}
    if target in SETTLEMENTS:
        if target == DisputeStatus.referred and not data.referred_to:
            raise ValidationFailed.field(
                "referred_to", "移交须写明移交单位（如法院、司法所、劳动部门）"
            )
        if d.first_session_at is not None and at < d.first_session_at:
            raise ValidationFailed.field("at", "调解结束时间不能早于首次调解开始")
        day = at.astimezone(LOCAL).date()
        due = data.follow_up_due or day + dt.timedelta(days=settings.community_follow_up_days)
        if due < day:
            raise ValidationFailed.field("follow_up_due", "回访日期不能早于调解结束日期")
        d.settled_at, d.follow_up_due, d.outcome = at, due, target
        d.watch_until = at + dt.timedelta(days=settings.community_watch_days)
        d.referred_to = data.referred_to
        detail.update(follow_up_due=due.isoformat(), referred_to=data.referred_to)
    elif target == DisputeStatus.followed_up:
        if d.settled_at is not None and at < d.settled_at:
            raise ValidationFailed.field("at", "回访时间不能早于调解结束")
        d.followed_up_at = at
    elif target == DisputeStatus.closed:
        d.closed_at, d.attention = at, False
    if data.note:
        detail["note"] = data.note
    return lifecycle.step(
        lifecycle=DISPUTE,
        row=d,
        target=target,
        entity_kind="dispute",
        unit_id=d.station_id,
        detail=detail,
    )


def add_session(
    *, session: Session, actor: Actor, settings: Settings, dispute_id: int, data: SessionCreate
) -> DisputeRead:
    """Record a mediation session; a dispute not yet mediating moves to mediating with it."""
    actor.require(Perm.community_write)
    view = view_of(session, actor)
    visible(session, view, dispute_id)
    _check_session(settings, data)
    d = lifecycle.locked(session, Dispute, dispute_id)
    assert d is not None
    _check_start(d, data)
    _check_people(session, actor, data)
    s = MediationSession(**_session_row(d.id, data, utcnow()))
    session.add(s)
    session.flush()
    changes = _apply_session(d, data, s.id)
    session.flush()
    audit.record_many(session=session, changes=changes, actor=actor)
    return to_read(session, d, settings, actor=actor, detail=True)


def transition(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    dispute_id: int,
    data: DisputeTransition,
) -> DisputeRead:
    """Move a dispute along its lifecycle (decided on its locked row): a settlement sets the
    follow-up date (default ``community_follow_up_days`` later) and the watch window; a
    follow-up may not come before the settlement."""
    actor.require(Perm.community_write)
    view = view_of(session, actor)
    visible(session, view, dispute_id)
    d = lifecycle.locked(session, Dispute, dispute_id)
    assert d is not None
    change = _apply_step(d, data, data.at or utcnow(), settings)
    session.flush()
    audit.record_many(session=session, changes=[change], actor=actor)
    return to_read(session, d, settings, actor=actor, detail=True)


@dataclass
class Plan:
    """One dispute's mediation for ``record_many``: a session (or none), then its steps."""

    dispute_id: int
    session: SessionCreate | None = None
    steps: list[DisputeTransition] = field(default_factory=list)


@dataclass
class _Row:
    """A locked dispute as mediation reads and changes it."""

    id: int
    station_id: int | None
    zone_id: int | None
    reported_at: dt.datetime
    status: DisputeStatus
    first_session_at: dt.datetime | None
    settled_at: dt.datetime | None
    watch_until: dt.datetime | None
    follow_up_due: dt.date | None
    outcome: DisputeStatus | None
    referred_to: str
    followed_up_at: dt.datetime | None
    closed_at: dt.datetime | None
    attention: bool


_READ = (
    select(*(_DISPUTES.c[n] for n in ("id", "station_id", "zone_id", "reported_at", *FIELDS)))
    .where(_DISPUTES.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_DISPUTES.c.id)
    .with_for_update(key_share=True)
)
_WRITE = (
    update(_DISPUTES)
    .where(_DISPUTES.c.id == bindparam("_id"))
    .values({n: bindparam(f"_{n}") for n in (*FIELDS, "updated_at")})
)


def record_many(
    *, session: Session, actor: Actor, settings: Settings, plans: Sequence[Plan]
) -> int:
    """Mediate many disputes at once, as ``add_session`` and ``transition`` would one by one
    (the same checks, all or nothing: a refusal names the field and writes nothing); the
    number of sessions recorded. Out of scope or missing disputes: 404."""
    actor.require(Perm.community_write)
    if not plans:
        return 0
    view = view_of(session, actor)
    connection = session.connection()
    ids = sorted({p.dispute_id for p in plans})
    rows: dict[int, _Row] = {}
    for start in range(0, len(ids), 500):
        for r in connection.execute(_READ, {"ids": ids[start : start + 500]}):
            row = _Row(**r._mapping)
            if view.admits_row(row):
                rows[row.id] = row
    if len(rows) != len(ids):
        raise NotFound(f"矛盾纠纷不存在或不在您的权限范围内：{sorted(set(ids) - set(rows))[:10]}")
    now = utcnow()
    session_ids = iter(
        allocate_ids(connection, _SESSIONS, sum(1 for p in plans if p.session is not None))
    )
    sessions: list[dict[str, Any]] = []
    changes: list[audit.Change] = []
    for plan in plans:
        d = rows[plan.dispute_id]
        if plan.session is not None:
            _check_session(settings, plan.session)
            _check_start(d, plan.session)
            _check_people(session, actor, plan.session)
            sid = next(session_ids)
            sessions.append({"id": sid, **_session_row(d.id, plan.session, now)})
            changes += _apply_session(d, plan.session, sid)
        for data in plan.steps:
            changes.append(_apply_step(d, data, data.at or now, settings))
    insert_rows(connection, _SESSIONS, sessions)
    touched = sorted({p.dispute_id for p in plans})
    connection.execute(
        _WRITE,
        [
            {"_id": i, "_updated_at": now, **{f"_{n}": getattr(rows[i], n) for n in FIELDS}}
            for i in touched
        ],
    )
    audit.record_many(session=session, changes=changes, actor=actor)
    return len(sessions)
