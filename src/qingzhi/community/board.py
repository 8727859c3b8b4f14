"""The zone board (片区看板) of a station: its zones on the map with their posts and embedded
officers, this month's visits and coverage, open disputes and the follow-ups due."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.analysis.community import households
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community import disputes as dispute_service
from qingzhi.community import people
from qingzhi.community.disputes import LOCAL, local_today
from qingzhi.community.enums import SETTLEMENTS, DisputeStatus, VisitStatus
from qingzhi.community.models import CommunityOfficer, Dispute, Visit
from qingzhi.community.scope import view_of
from qingzhi.config import Settings
from qingzhi.errors import NotFound
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import Team
from qingzhi.org.models import Officer, Unit, Zone

log = logging.getLogger(__name__)

MAX_DISPUTES = 200
DUE_AHEAD_DAYS = 3


def board(*, session: Session, actor: Actor, settings: Settings, unit_id: int) -> dict[str, Any]:
    """Everything the zone board shows for one station in scope."""
    actor.require(Perm.community_read)
    unit = session.get(Unit, unit_id)
    if unit is None or not org_scope.admits_unit(actor, unit_id):
        raise NotFound()
    view = view_of(session, actor)
    stations = [unit_id, *session.scalars(select(Unit.id).where(Unit.central_id == unit_id))]
    zones = list(
        session.scalars(
            select(Zone)
            .where(Zone.station_id.in_(stations), view.where(Zone.station_id, Zone.id))
            .order_by(Zone.code)
        )
    )
    zone_ids = [z.id for z in zones]
    today = local_today()
    month_start = dt.datetime.combine(today.replace(day=1), dt.time(), tzinfo=LOCAL)
    visit_counts = dict(
        session.execute(
            select(Visit.zone_id, func.count())
            .where(
                Visit.zone_id.in_(zone_ids),
                Visit.status == VisitStatus.done,
                Visit.visited_at >= month_start,
            )
            .group_by(Visit.zone_id)
        ).all()
    )
    planned = dict(
        session.execute(
            select(Visit.zone_id, func.count())
            .where(Visit.zone_id.in_(zone_ids), Visit.status == VisitStatus.planned)
            .group_by(Visit.zone_id)
        ).all()
    )
    embedded: dict[int | None, list[dict[str, Any]]] = {z: [] for z in zone_ids}
    for o, c in session.execute(
        select(Officer, CommunityOfficer)
        .outerjoin(CommunityOfficer, CommunityOfficer.officer_id == Officer.id)
        .where(
            Officer.zone_id.in_(zone_ids),
            Officer.team == Team.community,
            Officer.active.is_(True),
        )
        .order_by(Officer.kind.desc(), Officer.police_number)
    ):
        embedded[o.zone_id].append(
            {
                "id": o.id,
                "name": o.name,
                "no": o.police_number,
                "kind": str(o.kind),
                "role": c.role if c else "",
            }
        )
    posts = people.list_posts(session=session, actor=actor, view=view)
    partners = people.list_partners(session=session, actor=actor, view=view)
    open_rows = session.scalars(
        select(Dispute)
        .where(
            Dispute.zone_id.in_(zone_ids),
            Dispute.status.not_in([DisputeStatus.closed, DisputeStatus.followed_up]),
        )
        .order_by(Dispute.reported_at.desc())
        .limit(MAX_DISPUTES)
    ).all()
    due_rows = session.scalars(
        select(Dispute)
        .where(
            Dispute.zone_id.in_(zone_ids),
            Dispute.status.in_(sorted(SETTLEMENTS)),
            Dispute.follow_up_due <= today + dt.timedelta(days=DUE_AHEAD_DAYS),
        )
        .order_by(Dispute.follow_up_due)
        .limit(MAX_DISPUTES)
    ).all()
    names = {z.id: z.name for z in zones}
    size = settings.community_household_size

    def brief(d: Dispute) -> dict[str, Any]:
        r = dispute_service.to_read(session, d, settings, actor=actor, zone_names=names)
        return r.model_dump(mode="json")

    return {
        "unit": {"id": unit.id, "name": unit.name},
        "month": today.strftime("%Y-%m"),
        "household_size": size,
        "zones": [
            {
                "id": z.id,
                "code": z.code,
                "name": z.name,
                "population": z.population,
                "households_estimate": households(z.population, size),
                "geometry": json.loads(z.geometry) if z.geometry else None,
                "visits_this_month": int(visit_counts.get(z.id, 0)),
                "visits_planned": int(planned.get(z.id, 0)),
                "officers": embedded[z.id],
                "partners": [p.model_dump(mode="json") for p in partners if p.zone_id == z.id],
                "open_disputes": sum(1 for d in open_rows if d.zone_id == z.id),
            }
            for z in zones
        ],
        "posts": [p.model_dump(mode="json") for p in posts if p.zone_id in names],
        "open_disputes": [brief(d) for d in open_rows],
        "follow_ups_due": [brief(d) for d in due_rows],
    }
