"""The demo's mediation (``demo.community``): every dispute still reported is mediated the way
of its era — before the reform date the officer alone (median ``PRE_REFORM_MEDIAN_MIN`` ≈ 75
minutes, fewer settled, more referred), after it with a mediation package (the generator's
``outcomes.draw_mediation``: median 30 minutes) — through the community services; then the calls
made again about settled disputes (at ``PRE_REFORM_REPEAT`` or ``REFORM_REPEAT``) go through
intake, which links them, and the stored calls in settled disputes' windows are linked
(``links.link_existing``). Nothing here states a measure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select

from qingzhi.auth.context import Actor
from qingzhi.community import links, mediation
from qingzhi.community.enums import DisputeStatus, SessionOutcome
from qingzhi.community.models import Dispute
from qingzhi.community.schemas import DisputeTransition, SessionCreate
from qingzhi.config import Settings
from qingzhi.demo.outcomes import draw_mediation, draw_mediation_outcomes
from qingzhi.demo.reference import LOCAL_TZ
from qingzhi.incidents import intake
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentImport
from qingzhi.store.db import Database

PRE_REFORM_MEDIAN_MIN = 75.0
PRE_REFORM_SIGMA = 0.5
PRE_REFORM_MEDIATED = 0.72
PRE_REFORM_OUTCOMES = (("settled", 0.70), ("partial", 0.10), ("unresolved", 0.20))
PRE_REFORM_REPEAT = 0.22  # settled disputes called about again within 30 days
REFORM_REPEAT = 0.07
BATCH = 4000  # disputes mediated a transaction
OUTCOME_OF = {
    "settled": (SessionOutcome.agreed, DisputeStatus.settled),
    "partial": (SessionOutcome.partial, DisputeStatus.partially_settled),
    "unresolved": (SessionOutcome.failed, DisputeStatus.not_settled),
}


@dataclass
class Mediated:
    """What the demo's mediation did."""

    mediated: int = 0
    referred: int = 0
    repeat_calls: int = 0
    linked_existing: int = 0


def mediate(
    db: Database,
    actor: Actor,
    settings: Settings,
    rng: np.random.Generator,
    reform_date: dt.date,
    now: dt.datetime,
) -> Mediated:
    """Mediate every dispute still reported, the way of its era; then the repeat calls."""
    r = Mediated()
    reform_at = dt.datetime.combine(reform_date, dt.time(), tzinfo=LOCAL_TZ)
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
        return r
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
    plans: list[mediation.Plan] = []
    for k in range(n):
        did, reported_at, incident_id = rows[k]
        begin = (arrived.get(incident_id) if incident_id else None) or (
            reported_at + dt.timedelta(minutes=15)
        )
        if not mediated[k]:
            plans.append(mediation.Plan(did, steps=[_to(DisputeStatus.referred, begin, "司法所")]))
            r.referred += 1
            continue
        end = begin + dt.timedelta(minutes=float(minutes[k]))
        if end > now:
            continue
        session_outcome, status = OUTCOME_OF[str(outcome[k])]
        plan = mediation.Plan(
            did,
            SessionCreate(
                package=packages[int(rng.integers(len(packages)))] if after[k] else None,
                participants=["社区民警"] + (["社区书记"] if after[k] else []),
                started_at=begin,
                ended_at=end,
                outcome=session_outcome,
                agreement="（模拟）双方达成调解协议" if status != DisputeStatus.not_settled else "",
            ),
            [_to(status, end)],
        )
        plans.append(plan)
        r.mediated += 1
        follow = end + dt.timedelta(days=int(follow_days[k]))
        if follow < now:
            plan.steps.append(_to(DisputeStatus.followed_up, follow))
            if follow + dt.timedelta(days=1) < now:
                plan.steps.append(_to(DisputeStatus.closed, follow + dt.timedelta(days=1)))
        if repeat[k] and status != DisputeStatus.not_settled:
            again = end + dt.timedelta(days=float(repeat_after_days[k]))
            if again < now and incident_id is not None:
                repeats.append((incident_id, again))
    for start in range(0, len(plans), BATCH):
        with db.session(write=True) as session:
            mediation.record_many(
                session=session, actor=actor, settings=settings, plans=plans[start : start + BATCH]
            )
    r.repeat_calls = _repeat_calls(db, actor, settings, repeats)
    first = min(at for _, at, _ in rows)
    r.linked_existing = _link_stored(db, actor, settings, first, now)
    return r


def _to(status: DisputeStatus, at: dt.datetime, referred_to: str = "") -> DisputeTransition:
    return DisputeTransition(to=status, at=at, referred_to=referred_to)


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
