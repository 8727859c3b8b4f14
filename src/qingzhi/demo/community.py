"""The demo's community work (两队一室), loaded through the community services: 桂阳's
community team in its 8 zones (posts, partners, officers' community roles, out of the dispatch
rota), a year of household visits, and the mediation of every dispute the intake opened from
the generator's dispute calls (clearly synthetic).

Mediation follows the reform date: a dispute reported before it is mediated the pre-reform way
(the officer alone, median ``PRE_REFORM_MEDIAN_MIN`` ≈ 75 minutes: "disputes that took over an
hour"), one after it with a mediation package (民警+社区书记 / 网格员 / 律师; the generator's
``outcomes.draw_mediation``: median 30 minutes). Outcomes: the generator's (``outcomes``) after
the reform; before it fewer settled and more referred. Settled disputes are called about again
within 30 days at the pre-reform rate ``PRE_REFORM_REPEAT`` or the reformed ``REFORM_REPEAT``
(the seed's "fewer repeat calls"): those calls go through intake, which links them to the
dispute; calls already stored in a dispute's window are linked afterwards
(``links.link_existing``). The measures (``community.measures``) are computed from these records;
nothing here states a figure.

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
from qingzhi.community import disputes, links, people, visits
from qingzhi.community.enums import (
    DisputeStatus,
    PartnerKind,
    SessionOutcome,
    VisitPurpose,
    VisitStatus,
    VisitTarget,
)
from qingzhi.community.models import Dispute, Post
from qingzhi.community.schemas import (
    DisputeCreate,
    DisputeTransition,
    OfficerSetting,
    PartnerCreate,
    PostCreate,
    SessionCreate,
    VisitCreate,
)
from qingzhi.config import Settings
from qingzhi.demo.outcomes import draw_mediation, draw_mediation_outcomes
from qingzhi.demo.reference import GUIYANG_CODE, LOCAL_TZ
from qingzhi.demo.roster import GIVEN, SURNAMES
from qingzhi.geo.geometry import load_geometry
from qingzhi.incidents import intake
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentImport
from qingzhi.org.enums import OfficerKind, Team
from qingzhi.org.models import Officer, Unit, Zone
from qingzhi.store.base import utcnow
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

PRE_REFORM_MEDIAN_MIN = 75.0
PRE_REFORM_SIGMA = 0.5
PRE_REFORM_MEDIATED = 0.72
PRE_REFORM_OUTCOMES = (("settled", 0.70), ("partial", 0.10), ("unresolved", 0.20))
PRE_REFORM_REPEAT = 0.22  # settled disputes called about again within 30 days
REFORM_REPEAT = 0.07
VISITS_PER_OFFICER_DAY = 1.2  # working days
FINDS_DISPUTE = 0.03  # of dispute-screening visits
BATCH = 400
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
OUTCOME_OF = {
    "settled": (SessionOutcome.agreed, DisputeStatus.settled),
    "partial": (SessionOutcome.partial, DisputeStatus.partially_settled),
    "unresolved": (SessionOutcome.failed, DisputeStatus.not_settled),
}


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
        _mediate(db, actor, settings, rng, report, now)
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
        with db.session(write=True) as session:
            for data, finds in pending[start : start + BATCH]:
                v = visits.create(session=session, actor=actor, data=data)
                r.visits += 1
                if finds:
                    disputes.create(
                        session=session,
                        actor=actor,
                        settings=settings,
                        data=DisputeCreate(
                            visit_id=v.id,
                            kind="neighbour",
                            summary=data.findings,
                            reported_at=data.visited_at,
                        ),
                    )
                    r.disputes_from_visits += 1


def _mediate(
    db: Database,
    actor: Actor,
    settings: Settings,
    rng: np.random.Generator,
    r: CommunityReport,
    now: dt.datetime,
) -> None:
    """Mediate every dispute still reported, the way of its era; then the repeat calls."""
    assert r.reform_date is not None
    reform_at = dt.datetime.combine(r.reform_date, dt.time(), tzinfo=LOCAL_TZ)
    with db.session() as session:
        rows = session.execute(
            select(Dispute.id, Dispute.reported_at, Dispute.incident_id)
            .where(
                Dispute.status == DisputeStatus.reported,
                Dispute.synthetic.is_(True) | Dispute.visit_id.is_not(None),
            )
            .order_by(Dispute.id)
        ).all()
        arrived = (
            dict(
                session.execute(
                    select(Incident.id, Incident.arrived_at).where(
                        Incident.id.in_([i for _, _, i in rows if i is not None])
                    )
                ).all()
            )
            if rows
            else {}
        )
    n = len(rows)
    if not n:
        return
    after = np.array([at >= reform_at for _, at, _ in rows])
    reformed = draw_mediation(rng, np.ones(n, dtype=bool))
    pre_minutes = PRE_REFORM_MEDIAN_MIN * rng.lognormal(0.0, PRE_REFORM_SIGMA, n)
    mediated = np.where(after, reformed.mediated, rng.random(n) < PRE_REFORM_MEDIATED)
    minutes = np.where(after, reformed.minutes, pre_minutes)
    outcome_after = draw_mediation_outcomes(rng, n)
    pre_p = [p for _, p in PRE_REFORM_OUTCOMES]
    outcome_before = np.array([o for o, _ in PRE_REFORM_OUTCOMES], dtype=object)[
        rng.choice(len(pre_p), size=n, p=np.array(pre_p))
    ]
    outcome = np.where(after, outcome_after, outcome_before)
    repeat = rng.random(n) < np.where(after, REFORM_REPEAT, PRE_REFORM_REPEAT)
    packages = list(settings.community_packages)
    follow_days = rng.integers(2, 10, n)
    repeat_after_days = rng.uniform(1.0, settings.community_watch_days - 1.0, n)
    repeats: list[tuple[int, dt.datetime]] = []
    for start in range(0, n, BATCH):
        with db.session(write=True) as session:
            for k in range(start, min(n, start + BATCH)):
                did, reported_at, incident_id = rows[k]
                begin = (arrived.get(incident_id) if incident_id else None) or (
                    reported_at + dt.timedelta(minutes=15)
                )
                if not mediated[k]:
                    _step(session, actor, settings, did, DisputeStatus.referred, begin, "司法所")
                    r.referred += 1
                    continue
                end = begin + dt.timedelta(minutes=float(minutes[k]))
                if end > now:
                    continue
                session_outcome, status = OUTCOME_OF[str(outcome[k])]
                disputes.add_session(
                    session=session,
                    actor=actor,
                    settings=settings,
                    dispute_id=did,
                    data=SessionCreate(
                        package=packages[int(rng.integers(len(packages)))] if after[k] else None,
                        participants=["社区民警"] + (["社区书记"] if after[k] else []),
                        started_at=begin,
                        ended_at=end,
                        outcome=session_outcome,
                        agreement="（模拟）双方达成调解协议"
                        if status != DisputeStatus.not_settled
                        else "",
                    ),
                )
                _step(session, actor, settings, did, status, end)
                r.mediated += 1
                follow = end + dt.timedelta(days=int(follow_days[k]))
                if follow < now:
                    _step(session, actor, settings, did, DisputeStatus.followed_up, follow)
                    if follow + dt.timedelta(days=1) < now:
                        _step(
                            session,
                            actor,
                            settings,
                            did,
                            DisputeStatus.closed,
                            follow + dt.timedelta(days=1),
                        )
                if repeat[k] and status != DisputeStatus.not_settled:
                    again = end + dt.timedelta(days=float(repeat_after_days[k]))
                    if again < now and incident_id is not None:
                        repeats.append((incident_id, again))
    r.repeat_calls = _repeat_calls(db, actor, settings, repeats)
    first = min(at for _, at, _ in rows)
    r.linked_existing = _link_stored(db, actor, settings, first, now)


def _step(
    session: object,
    actor: Actor,
    settings: Settings,
    did: int,
    to: DisputeStatus,
    at: dt.datetime,
    referred_to: str = "",
) -> None:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    disputes.transition(
        session=session,
        actor=actor,
        settings=settings,
        dispute_id=did,
        data=DisputeTransition(to=to, at=at, referred_to=referred_to),
    )


def _repeat_calls(
    db: Database, actor: Actor, settings: Settings, repeats: list[tuple[int, dt.datetime]]
) -> int:
    """The calls made again about settled disputes, through intake (which links them)."""
    if not repeats:
        return 0
    with db.session() as session:
        first_calls = {
            inc.id: inc
            for inc in session.scalars(
                select(Incident).where(Incident.id.in_([i for i, _ in repeats]))
            )
        }
        items = []
        for iid, at in sorted(repeats, key=lambda x: x[1]):
            inc = first_calls[iid]
            items.append(
                IncidentImport.model_validate(
                    {
                        "source_id": f"CMTY-R-{iid}",
                        "received_at": at,
                        "category": "dispute",
                        "subtype": inc.subtype,
                        "description": "（模拟）调解后再次报警：" + (inc.description or "")[:100],
                        "address": inc.address,
                        "caller_phone": inc.caller_phone,
                        "location": {"lon": inc.lon, "lat": inc.lat}
                        if inc.lon is not None
                        else None,
                        "priority": 3,
                        "dispatched_at": at + dt.timedelta(minutes=2),
                        "arrived_at": at + dt.timedelta(minutes=12),
                        "resolved_at": at + dt.timedelta(minutes=40),
                        "closed_at": at + dt.timedelta(minutes=45),
                        "synthetic": True,
                    }
                )
            )
    created = 0
    batches = [items[i : i + 2000] for i in range(0, len(items), 2000)]
    for results in intake.intake_batches(
        db=db, actor=actor, settings=settings, batches=batches, action="incident.import"
    ):
        created += sum(1 for x in results if x.created)
    return created


def _link_stored(
    db: Database, actor: Actor, settings: Settings, first: dt.datetime, now: dt.datetime
) -> int:
    """Link the stored calls that fell in settled disputes' windows (a month at a time)."""
    total = 0
    start = first
    while start < now:
        end = min(now, start + dt.timedelta(days=30))
        with db.session(write=True) as session:
            total += links.link_existing(
                session=session, actor=actor, settings=settings, since=start, until=end
            )
        start = end
    return total
