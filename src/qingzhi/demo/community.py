"""The demo's community work (两队一室), loaded through the community services: 桂阳's
community team in its 8 zones (posts, partners, officers' community roles, out of the dispatch
rota), a year of household visits, and the mediation of every dispute the intake opened from
the generator's dispute calls (clearly synthetic).

Mediation follows the reform date (``demo.community_mediation``): the officer alone before it,
a mediation package after it; the repeat calls go through intake, which links them. The
measures (``community.measures``) are computed from these records; nothing here states a figure.

The reform date: given, or — the incidents spanning 540 days or more (the two-year demo) — 365
days before the last stored call, else the middle of the stored calls (the one-year demo: half
before, half after). Idempotent: a second run finds the posts and the mediated disputes and adds
nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select

from qingzhi.auth.context import Actor
from qingzhi.community import disputes, people, visits
from qingzhi.community.enums import (
    PartnerKind,
    VisitPurpose,
    VisitStatus,
    VisitTarget,
)
from qingzhi.community.models import Post
from qingzhi.community.schemas import (
    DisputeCreate,
    OfficerSetting,
    PartnerCreate,
    PostCreate,
    VisitCreate,
)
from qingzhi.config import Settings
from qingzhi.demo.community_mediation import mediate
from qingzhi.demo.reference import GUIYANG_CODE, LOCAL_TZ
from qingzhi.demo.roster import GIVEN, SURNAMES
from qingzhi.geo.geometry import load_geometry
from qingzhi.incidents.models import Incident
from qingzhi.org.enums import OfficerKind, Team
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

VISITS_PER_OFFICER_DAY = 1.2  # working days
FINDS_DISPUTE = 0.03  # of dispute-screening visits
BATCH = 5000  # visits a transaction
ROLES = ("村居组织副书记", "社区党委副书记", "社区警务室负责人")
PURPOSES = (
    (VisitPurpose.prevention, 0.45),
    (VisitPurpose.dispute_screening, 0.25),
    (VisitPurpose.return_visit, 0.15),
    (VisitPurpose.key_person, 0.10),
    (VisitPurpose.other, 0.05),
)
NOTE = "（模拟）入户走访，宣传防诈骗、防盗"
FINDING = "（模拟）邻里因排水沟堵塞争执"
STREETS = [
    "人民路",
    "桂阳大道",
    "南华路",
    "新华街",
    "牡丹路",
    "文化路",
    "明月大道",
    "工农路",
    "滨湖路",
    "西环路",
]


@dataclass
class CommunityReport:
    """What the community demo load did."""

    reform_date: dt.date | None = None
    posts: int = 0
    partners: int = 0
    visits: int = 0
    disputes_from_visits: int = 0
    mediated: int = 0
    referred: int = 0
    repeat_calls: int = 0
    linked_existing: int = 0
    skipped: list[str] = field(default_factory=list)


def _name(rng: np.random.Generator) -> str:
    surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
    return surname + "".join(GIVEN[int(rng.integers(len(GIVEN)))] for _ in range(2))


def reform_date_of(db: Database, given: dt.date | None = None) -> dt.date | None:
    """The reform date: given, or from the stored calls' span (see the module docstring)."""
    if given is not None:
        return given
    with db.session() as session:
        span: tuple[dt.datetime | None, dt.datetime | None] = tuple(  # type: ignore[assignment]
            session.execute(
                select(func.min(Incident.received_at), func.max(Incident.received_at))
            ).one()
        )
    first, last = span
    if first is None or last is None:
        return None
    first_day, last_day = first.astimezone(LOCAL_TZ).date(), last.astimezone(LOCAL_TZ).date()
    if (last_day - first_day).days >= 540:
        return last_day - dt.timedelta(days=365)
    return first_day + dt.timedelta(days=(last_day - first_day).days // 2)


def load_community(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    seed: int = 2026,
    reform_date: dt.date | None = None,
    now: dt.datetime | None = None,
) -> CommunityReport:
    """Load the demo's community work (after the org and the incidents)."""
    rng = np.random.default_rng(seed + 19)
    now = now or utcnow()
    report = CommunityReport(reform_date=reform_date_of(db, reform_date))
    with db.session(write=True) as session:
        station = session.scalar(select(Unit).where(Unit.code == GUIYANG_CODE))
        if station is None:
            report.skipped.append("桂阳派出所不在此机构中")
            return report
        station_id = station.id
        if session.scalar(select(Post.id).where(Post.station_id == station_id).limit(1)):
            report.skipped.append("桂阳的社区警务已载入")
        else:
            _set_up_zones(session, actor, station_id, rng, report)
    if not report.skipped:
        _visits(db, actor, settings, station_id, rng, report, now)
    if report.reform_date is not None:
        done = mediate(db, actor, settings, rng, report.reform_date, now)
        report.mediated, report.referred = done.mediated, done.referred
        report.repeat_calls, report.linked_existing = done.repeat_calls, done.linked_existing
    return report


def _set_up_zones(
    session: object, actor: Actor, station_id: int, rng: np.random.Generator, r: CommunityReport
) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    zones = list(
        session.scalars(select(Zone).where(Zone.station_id == station_id).order_by(Zone.code))
    )
    for k, zone in enumerate(zones):
        geom = load_geometry(zone.geometry) if zone.geometry else None
        point = geom.representative_point() if geom is not None else None
        people.create_post(
            session=session,
            actor=actor,
            data=PostCreate(
                zone_id=zone.id,
                name=f"{zone.name}社区警务室",
                address=f"{STREETS[k % len(STREETS)]}{int(rng.integers(1, 300))}号",
                phone=f"023-7451{k:04d}",
                location={"lon": point.x, "lat": point.y} if point is not None else None,
            ),
        )
        r.posts += 1
        kinds = [PartnerKind.secretary, PartnerKind.grid_worker, PartnerKind.grid_worker]
        for kind in kinds:
            people.create_partner(
                session=session,
                actor=actor,
                data=PartnerCreate(
                    kind=kind,
                    name=_name(rng),
                    organisation=f"{zone.name}社区居委会",
                    phone=f"1{int(rng.integers(3, 9))}{int(rng.integers(0, 10**9)):09d}",
                    zone_id=zone.id,
                ),
            )
            r.partners += 1
    for k in range(2):
        people.create_partner(
            session=session,
            actor=actor,
            data=PartnerCreate(
                kind=PartnerKind.lawyer,
                name=_name(rng),
                organisation="垫江县法律援助中心" if k == 0 else "桂阳司法所",
                phone=f"139{int(rng.integers(0, 10**8)):08d}",
                station_id=station_id,
            ),
        )
        r.partners += 1
    officers = session.scalars(
        select(Officer).where(
            Officer.unit_id == station_id,
            Officer.team == Team.community,
            Officer.zone_id.is_not(None),
        )
    ).all()
    for o in officers:
        role = ROLES[int(rng.integers(len(ROLES)))] if o.kind == OfficerKind.sworn else ""
        people.set_officer(
            session=session,
            actor=actor,
            officer_id=o.id,
            data=OfficerSetting(role=role, in_rota=False),
        )


def _visits(
    db: Database,
    actor: Actor,
    settings: Settings,
    station_id: int,
    rng: np.random.Generator,
    r: CommunityReport,
    now: dt.datetime,
) -> None:
    """A year of visits up to yesterday by 桂阳's embedded officers; some findings open disputes."""
    with db.session() as session:
        officers = [
            (o.id, o.zone_id)
            for o in session.scalars(
                select(Officer).where(
                    Officer.unit_id == station_id,
                    Officer.team == Team.community,
                    Officer.zone_id.is_not(None),
                )
            )
        ]
    today = now.astimezone(LOCAL_TZ).date()
    days = [today - dt.timedelta(days=d) for d in range(365, 0, -1)]
    purposes, weights = zip(*PURPOSES, strict=True)
    pending: list[tuple[VisitCreate, bool]] = []
    for day in days:
        if day.weekday() >= 5:
            continue
        for officer_id, zone_id in officers:
            for _ in range(int(rng.poisson(VISITS_PER_OFFICER_DAY))):
                purpose = purposes[int(rng.choice(len(purposes), p=np.array(weights)))]
                at = dt.datetime.combine(
                    day,
                    dt.time(int(rng.integers(9, 18)), int(rng.integers(0, 60))),
                    tzinfo=LOCAL_TZ,
                )
                finds = purpose == VisitPurpose.dispute_screening and rng.random() < FINDS_DISPUTE
                street = STREETS[int(rng.integers(len(STREETS)))]
                pending.append(
                    (
                        VisitCreate(
                            zone_id=zone_id,
                            officer_id=officer_id,
                            status=VisitStatus.done,
                            target=VisitTarget.household
                            if rng.random() < 0.8
                            else VisitTarget.business,
                            purpose=purpose,
                            visited_at=at,
                            address=f"{street}{rng.integers(1, 400)}号{rng.integers(1, 30)}室",
                            notes=NOTE,
                            findings=FINDING if finds else "",
                        ),
                        finds,
                    )
                )
    for start in range(0, len(pending), BATCH):
        part = pending[start : start + BATCH]
        with db.session(write=True) as session:
            ids = visits.create_many(session=session, actor=actor, items=[d for d, _ in part])
            r.visits += len(ids)
            for vid, (data, finds) in zip(ids, part, strict=True):
                if finds:
                    disputes.create(
                        session=session,
                        actor=actor,
                        settings=settings,
                        data=DisputeCreate(
                            visit_id=vid,
                            kind="neighbour",
                            summary=data.findings,
                            reported_at=data.visited_at,
                        ),
                    )
                    r.disputes_from_visits += 1
