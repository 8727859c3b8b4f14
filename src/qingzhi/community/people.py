"""The station's three parts (两队一室) and the community's people: officers' teams, zones,
community roles (e.g. 村居组织副书记) and rota; community posts (社区警务室); partners
(community secretaries, grid workers, lawyers) as person records.

Community-team officers embedded in a zone leave the station's dispatch rota (退出大轮班) unless
set ``in_rota``, but take the incidents of their own zone (就近处警): ``rota_excluded`` is what
dispatch ranking and the live map ask.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community.enums import label
from qingzhi.community.models import CommunityOfficer, Partner, Post
from qingzhi.community.schemas import (
    OfficerCommunity,
    OfficerSetting,
    PartnerCreate,
    PartnerRead,
    PostCreate,
    PostRead,
    TeamRead,
)
from qingzhi.community.scope import View, view_of
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import LABELS as ORG_LABELS
from qingzhi.org.enums import Team
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.store.rows import read_of, snapshot

log = logging.getLogger(__name__)

# The columns a new post's and a new partner's audit record keeps.
POST_AUDITED = ("zone_id", "name", "address")
PARTNER_AUDITED = ("kind", "name", "organisation")


def rota_excluded(session: Session, officers: Iterable[Officer], zone_id: int | None) -> set[int]:
    """Of ``officers``, the ids not to offer for an incident in ``zone_id``: community-team
    officers embedded in a zone are out of the rota (unless set back in it), and are offered
    only for their own zone's incidents; one with no zone has no beat and stays in the rota."""
    community = [o for o in officers if o.team == Team.community and o.zone_id is not None]
    if not community:
        return set()
    in_rota = set(
        session.execute(
            select(CommunityOfficer.officer_id).where(
                CommunityOfficer.officer_id.in_([o.id for o in community]),
                CommunityOfficer.in_rota.is_(True),
            )
        ).scalars()
    )
    return {
        o.id for o in community if o.id not in in_rota and (zone_id is None or o.zone_id != zone_id)
    }


def _embedded(o: Officer) -> bool:
    """A community-team officer working from a zone (out of the rota by default)."""
    return o.team == Team.community and o.zone_id is not None


def _officer(o: Officer, c: CommunityOfficer | None) -> OfficerCommunity:
    return read_of(
        OfficerCommunity,
        o,
        officer_id=o.id,
        kind=str(o.kind),
        team_label=ORG_LABELS[o.team] if o.team else "未分队",
        role=c.role if c else "",
        in_rota=c.in_rota if c else not _embedded(o),
    )


def teams(*, session: Session, actor: Actor, unit_id: int) -> list[TeamRead]:
    """A station's three parts and their officers."""
    actor.require(Perm.community_read)
    if not org_scope.admits_unit(actor, unit_id) or session.get(Unit, unit_id) is None:
        raise NotFound()
    rows = session.execute(
        select(Officer, CommunityOfficer)
        .outerjoin(CommunityOfficer, CommunityOfficer.officer_id == Officer.id)
        .where(Officer.unit_id == unit_id, Officer.active.is_(True))
        .order_by(Officer.police_number)
    ).all()
    out = []
    for team in Team:
        people = [_officer(o, c) for o, c in rows if o.team == team]
        out.append(TeamRead(team=team, label=ORG_LABELS[team], officers=people))
    return out


def set_officer(
    *, session: Session, actor: Actor, officer_id: int, data: OfficerSetting
) -> OfficerCommunity:
    """Assign an officer to a team and zone, record their community role, put them in or out
    of the rota."""
    actor.require(Perm.community_manage)
    o = session.get(Officer, officer_id)
    if o is None or not org_scope.admits_officer(actor, o):
        raise NotFound()
    c = session.scalar(select(CommunityOfficer).where(CommunityOfficer.officer_id == o.id))
    before = {"team": o.team, "zone_id": o.zone_id, "role": c.role if c else "", "in_rota": None}
    if c is not None:
        before["in_rota"] = c.in_rota
    if data.zone_id is not None:
        zone = session.get(Zone, data.zone_id)
        if zone is None or zone.station_id not in (o.unit_id, _central(session, o.unit_id)):
            raise ValidationFailed.field("zone_id", "片区不存在或不属于该民警所在派出所")
        o.zone_id = zone.id
    if data.team is not None:
        o.team = data.team
    if c is None:
        c = CommunityOfficer(officer_id=o.id, role="", in_rota=not _embedded(o))
        session.add(c)
    if data.role is not None:
        c.role = data.role
    if data.in_rota is not None:
        c.in_rota = data.in_rota
    elif data.team is not None or data.zone_id is not None:
        c.in_rota = not _embedded(o)
    session.flush()
    after = {"team": o.team, "zone_id": o.zone_id, "role": c.role, "in_rota": c.in_rota}
    audit.record(
        session=session,
        actor=actor,
        action="officer.community",
        entity_kind="officer",
        entity_id=o.id,
        unit_id=o.unit_id,
        before={k: str(v) if v is not None else None for k, v in before.items()},
        after={k: str(v) if v is not None else None for k, v in after.items()},
    )
    return _officer(o, c)


def _central(session: Session, unit_id: int) -> int | None:
    return session.scalar(select(Unit.central_id).where(Unit.id == unit_id))


def _post(p: Post, zone_name: str) -> PostRead:
    return read_of(PostRead, p, zone_name=zone_name)


def create_post(*, session: Session, actor: Actor, data: PostCreate) -> PostRead:
    """Open a community post in a zone."""
    actor.require(Perm.community_manage)
    view = view_of(session, actor)
    zone = session.get(Zone, data.zone_id)
    if zone is None or not view.admits(zone.station_id, zone.id):
        raise ValidationFailed.field("zone_id", "片区不存在或不在您的权限范围内")
    p = Post(
        station_id=zone.station_id,
        zone_id=zone.id,
        name=data.name,
        address=data.address,
        phone=data.phone,
        lon=data.location.lon if data.location else None,
        lat=data.location.lat if data.location else None,
    )
    session.add(p)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="community_post.create",
        entity_kind="community_post",
        entity_id=p.id,
        unit_id=p.station_id,
        after=snapshot(p, POST_AUDITED),
    )
    return _post(p, zone.name)


def list_posts(
    *, session: Session, actor: Actor, zone_id: int | None = None, view: View | None = None
) -> list[PostRead]:
    """Posts in scope."""
    actor.require(Perm.community_read)
    view = view or view_of(session, actor)
    query = (
        select(Post, Zone.name)
        .join(Zone, Zone.id == Post.zone_id)
        .where(view.where(Post.station_id, Post.zone_id))
    )
    if zone_id is not None:
        query = query.where(Post.zone_id == zone_id)
    return [_post(p, name) for p, name in session.execute(query.order_by(Post.id))]


def _partner(p: Partner) -> PartnerRead:
    return read_of(PartnerRead, p, kind_label=label(p.kind))


def create_partner(*, session: Session, actor: Actor, data: PartnerCreate) -> PartnerRead:
    """Record a community partner of a zone (or of a station)."""
    actor.require(Perm.community_manage)
    view = view_of(session, actor)
    if data.zone_id is not None:
        zone = session.get(Zone, data.zone_id)
        if zone is None or not view.admits(zone.station_id, zone.id):
            raise ValidationFailed.field("zone_id", "片区不存在或不在您的权限范围内")
        station_id = zone.station_id
    elif data.station_id is not None:
        if not actor.scope.admits(data.station_id) or session.get(Unit, data.station_id) is None:
            raise ValidationFailed.field("station_id", "派出所不存在或不在您的权限范围内")
        station_id = data.station_id
    else:
        raise ValidationFailed.field("zone_id", "须指定片区或派出所")
    p = Partner(
        station_id=station_id,
        zone_id=data.zone_id,
        kind=data.kind,
        name=data.name,
        organisation=data.organisation,
        phone=data.phone,
    )
    session.add(p)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="community_partner.create",
        entity_kind="community_partner",
        entity_id=p.id,
        unit_id=station_id,
        after=snapshot(p, PARTNER_AUDITED),
    )
    return _partner(p)


def list_partners(
    *, session: Session, actor: Actor, zone_id: int | None = None, view: View | None = None
) -> list[PartnerRead]:
    """Partners in scope (a zone officer: their zone's and their station's)."""
    actor.require(Perm.community_read)
    view = view or view_of(session, actor)
    query = select(Partner).where(actor.scope.where(Partner.station_id))
    if view.zones is not None:
        query = query.where(Partner.zone_id.in_(sorted(view.zones)) | Partner.zone_id.is_(None))
    if zone_id is not None:
        query = query.where(Partner.zone_id == zone_id)
    return [_partner(p) for p in session.scalars(query.order_by(Partner.id))]
