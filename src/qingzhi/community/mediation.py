"""Mediation (调解) of a dispute: sessions with a package (调解套餐: the people who took part,
start and end, outcome, agreement; several per dispute) and the dispute's steps along its one
lifecycle (``enums.DISPUTE``), decided on the locked row: a settlement sets the follow-up date
(回访) and the watch window for later calls (``links``); a follow-up may not come before it.

Duration of a dispute's mediation = first session's start to settlement.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select
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
from qingzhi.errors import ValidationFailed
from qingzhi.org.models import Officer
from qingzhi.store.base import utcnow


def add_session(
    *, session: Session, actor: Actor, settings: Settings, dispute_id: int, data: SessionCreate
) -> DisputeRead:
    """Record a mediation session; a dispute not yet mediating moves to mediating with it."""
    actor.require(Perm.community_write)
    view = view_of(session, actor)
    visible(session, view, dispute_id)
    if data.ended_at < data.started_at:
        raise ValidationFailed.field("ended_at", "结束时间不能早于开始时间")
    if data.package is not None and data.package not in settings.community_packages:
        names = "、".join(f"{k}（{v}）" for k, v in settings.community_packages.items())
        raise ValidationFailed.field("package", f"未知调解套餐；可选：{names}")
    d = lifecycle.locked(session, Dispute, dispute_id)
    assert d is not None
    if data.started_at < d.reported_at - dt.timedelta(minutes=5):
        raise ValidationFailed.field("started_at", "调解开始时间不能早于纠纷登记时间")
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
    if DisputeStatus(d.status) != DisputeStatus.mediating:
        lifecycle.move(
            session=session,
            actor=actor,
            lifecycle=DISPUTE,
            row=d,
            target=DisputeStatus.mediating,
            entity_kind="dispute",
            unit_id=d.station_id,
        )
        d.settled_at = d.watch_until = None
        d.follow_up_due = d.outcome = None
    s = MediationSession(
        dispute_id=d.id,
        package=data.package,
        participants=json.dumps(data.participants, ensure_ascii=False),
        partner_ids=json.dumps(data.partner_ids),
        officer_id=data.officer_id,
        started_at=data.started_at,
        ended_at=data.ended_at,
        outcome=data.outcome,
        agreement=data.agreement,
    )
    session.add(s)
    if d.first_session_at is None or data.started_at < d.first_session_at:
        d.first_session_at = data.started_at
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="dispute.session",
        entity_kind="dispute",
        entity_id=d.id,
        unit_id=d.station_id,
        after={
            "session_id": s.id,
            "package": data.package,
            "participants": data.participants,
            "partner_ids": data.partner_ids,
            "started_at": data.started_at.isoformat(),
            "ended_at": data.ended_at.isoformat(),
            "outcome": str(data.outcome),
        },
    )
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
    at = data.at or utcnow()
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
    lifecycle.move(
        session=session,
        actor=actor,
        lifecycle=DISPUTE,
        row=d,
        target=target,
        entity_kind="dispute",
        unit_id=d.station_id,
        detail=detail,
    )
    return to_read(session, d, settings, actor=actor, detail=True)
