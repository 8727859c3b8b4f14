"""The demo's criminal cases (快侦快办), loaded through the cases and tasks services.

Every valid, first-call criminal incident of the demo year becomes a case opened 30 minutes after
the call (numbered by ``case_number_format``), with a loss drawn by subtype; the generator's own
outcome (``qingzhi.demo.outcomes``: clearance about 84%, 91.2% of them within 72 hours) is
applied as the case's clearing at its time, with suspects caught and loss recovered, unless that
time is still to come (the case stays open, as it is). Rapid cases (快侦快办: a loss of
``RAPID_LOSS`` yuan or more, or a robbery) get a team — the station leads, the criminal
investigation brigade and the command centre join — and a 督办 task issued by the command
centre with the case as its source, accepted by the station and, when the case was cleared,
submitted and verified at the clearing; one still running is left in progress.

Idempotent: incidents already in a case are skipped. One transaction per ``BATCH`` cases.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Role
from qingzhi.auth.scope import scope_for_unit
from qingzhi.cases import service as cases
from qingzhi.cases.lifecycle import CaseStatus
from qingzhi.cases.lifecycle import Role as TeamRole
from qingzhi.cases.models import CaseIncident
from qingzhi.cases.schemas import CaseCreate, MemberIn, Outcome
from qingzhi.config import Settings
from qingzhi.demo.incident_spec import IncidentSpec
from qingzhi.incidents.models import Incident
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit
from qingzhi.store.db import Database
from qingzhi.tasks import service as tasks
from qingzhi.tasks.lifecycle import SourceKind, TaskStatus
from qingzhi.tasks.schemas import TaskCreate

log = logging.getLogger(__name__)

BATCH = 500
OPEN_AFTER = dt.timedelta(minutes=30)
RAPID_LOSS = 50_000.0
TASK_HOURS = 72
# Median loss (元) by subtype, lognormal with sigma 1; the share recovered when cleared.
MEDIAN_LOSS = {
    "theft": 2_500.0,
    "burglary": 8_000.0,
    "vehicle_theft": 30_000.0,
    "theft_from_vehicle": 3_000.0,
    "pickpocketing": 1_500.0,
    "fraud": 15_000.0,
    "telecom_fraud": 40_000.0,
    "robbery": 3_000.0,
    "snatching": 2_000.0,
}
RECOVERED_SHARE = {"telecom_fraud": 0.35, "fraud": 0.5}
DEFAULT_RECOVERED = 0.75


@dataclass
class CaseLoadReport:
    """What a demo case load did."""

    opened: int = 0
    cleared: int = 0
    rapid: int = 0
    tasks: int = 0
    skipped: int = 0


def _unit_of_kind(session: Session, kind: UnitKind) -> int | None:
    return session.execute(
        select(Unit.id).where(Unit.kind == kind).order_by(Unit.code).limit(1)
    ).scalar_one_or_none()


def _acting_for(session: Session, unit_id: int, name: str, role: Role) -> Actor:
    return Actor(
        user_id=None,
        name=name,
        role=role,
        scope=scope_for_unit(session, unit_id),
        unit_id=unit_id,
        via="demo",
    )


def _rapid_case(
    session: Session,
    actor: Actor,
    case_id: int,
    unit_id: int,
    helpers: Sequence[int],
    opened: dt.datetime,
    cleared: dt.datetime | None,
    now: dt.datetime,
) -> bool:
    """The team and the 督办 task of a rapid case; True when a task was issued."""
    members = [MemberIn(unit_id=unit_id, role=TeamRole.lead)]
    members += [MemberIn(unit_id=u, role=TeamRole.member) for u in helpers if u != unit_id]
    cases.set_team(session=session, actor=actor, case_id=case_id, members=members)
    deadline = opened + dt.timedelta(hours=TASK_HOURS)
    if cleared is None and deadline <= now:
        return False  # an old case still open: its task would only be born overdue
    issuer = (
        _acting_for(session, helpers[-1], "演示·情指中心", Role.commander) if helpers else actor
    )
    task = tasks.create(
        session=session,
        actor=issuer,
        body=TaskCreate(
            title="快侦快办：限期破案攻坚",
            instructions="立即会商研判，组织刑侦、情报、辖区派出所合力攻坚，每日反馈进展。",
            source_kind=SourceKind.case,
            source_ref=str(case_id),
            owner_unit_id=unit_id,
            deadline=deadline,
            priority=1,
            feedback_hours=24,
        ),
        now=opened,
        synthetic=True,
    )
    owner = _acting_for(session, unit_id, "演示·所长", Role.station_chief)
    start = opened + dt.timedelta(minutes=20)
    for target in (TaskStatus.accepted, TaskStatus.in_progress):
        tasks.move(session=session, actor=owner, task_id=task.id, target=target, now=start)
    if cleared is not None:
        tasks.move(
            session=session,
            actor=owner,
            task_id=task.id,
            target=TaskStatus.submitted,
            note="已破案，嫌疑人已抓获",
            now=cleared,
        )
        tasks.move(
            session=session,
            actor=issuer,
            task_id=task.id,
            target=TaskStatus.verified,
            now=cleared + dt.timedelta(hours=1),
        )
    return True


def load_cases(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    specs: Sequence[IncidentSpec],
    seed: int = 2026,
    now: dt.datetime | None = None,
) -> CaseLoadReport:
    """Open, team and clear the demo's cases through the services (see the module)."""
    now = now or dt.datetime.now(dt.UTC)
    crimes = [
        s
        for s in specs
        if s.category == "criminal" and s.valid and s.received_at + OPEN_AFTER < now
    ]
    rng = np.random.default_rng(seed + 18)
    losses = rng.lognormal(0.0, 1.0, len(crimes))
    suspects = rng.integers(1, 3, len(crimes))
    report = CaseLoadReport()
    with db.session() as session:
        ids: dict[str, int] = {}
        for first in range(0, len(crimes), 10_000):
            chunk = [s.source_id for s in crimes[first : first + 10_000]]
            rows = session.execute(
                select(Incident.source_id, Incident.id).where(
                    Incident.source_id.in_(chunk), Incident.repeat_of_id.is_(None)
                )
            )
            ids.update((source, iid) for source, iid in rows)
        linked = set(session.scalars(select(CaseIncident.incident_id)))
        helpers = [
            u
            for u in (
                _unit_of_kind(session, UnitKind.criminal_investigation),
                _unit_of_kind(session, UnitKind.command_centre),
            )
            if u is not None
        ]
    todo = [
        (n, s, ids[s.source_id])
        for n, s in enumerate(crimes)
        if s.source_id in ids and ids[s.source_id] not in linked
    ]
    report.skipped = len(crimes) - len(todo)
    for first in range(0, len(todo), BATCH):
        with db.session(write=True) as session:
            for n, spec, incident_id in todo[first : first + BATCH]:
                opened = spec.received_at + OPEN_AFTER
                loss = round(MEDIAN_LOSS.get(spec.subtype or "", 0.0) * float(losses[n]), -1)
                case = cases.open_case(
                    session=session,
                    actor=actor,
                    settings=settings,
                    body=CaseCreate(incident_ids=[incident_id], opened_at=opened, loss_yuan=loss),
                    now=now,
                    synthetic=True,
                )
                report.opened += 1
                cleared = spec.cleared_at if spec.cleared and spec.cleared_at else None
                if cleared is not None and cleared > now:
                    cleared = None
                rapid = loss >= RAPID_LOSS or spec.subtype == "robbery"
                if rapid:
                    report.rapid += 1
                    report.tasks += _rapid_case(
                        session, actor, case.id, case.unit_id, helpers, opened, cleared, now
                    )
                if cleared is not None:
                    share = RECOVERED_SHARE.get(spec.subtype or "", DEFAULT_RECOVERED)
                    cases.set_outcome(
                        session=session,
                        actor=actor,
                        case_id=case.id,
                        body=Outcome(
                            status=CaseStatus.cleared,
                            at=cleared,
                            suspects_caught=int(suspects[n]),
                            recovered_yuan=round(loss * share, -1),
                        ),
                        now=now,
                    )
                    report.cleared += 1
    log.info(
        "demo cases: %d opened (%d cleared, %d rapid, %d tasks), %d skipped",
        report.opened,
        report.cleared,
        report.rapid,
        report.tasks,
        report.skipped,
    )
    return report
