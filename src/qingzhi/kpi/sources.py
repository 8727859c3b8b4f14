"""The evaluation's records from the other domains, one flag a record, by station: cases,
supervised tasks (督办), disputes (矛盾纠纷), the households of the stations' zones and special
operations (专项行动).

The definitions are the domains' own (``analysis.community`` for disputes and visits, the
reports' rule for a task closed on time), made per record so the scorer can bootstrap them:

* ``cases`` — opened in the period, at the station whose jurisdiction holds their first linked
  incident (a central station's cases count at its members): ``cleared``, ``fast_cleared``
  (cleared within the fast-clearance hours);
* ``tasks`` — issued (not cancelled) and due in the period, at their owner unit (a central
  station's own tasks at none): ``due``, ``on_time`` (verified by the deadline);
* ``disputes`` — reported in the period (the community measures' rule), at their station:
  ``concluded`` (reached an outcome: settled, partially settled, not settled or referred),
  ``settled_in_community`` (settled or partially settled: 小事不出社区), ``mediated`` (has a first
  session and a settlement time), ``mediated_30min`` (of those, settled within 30 minutes of the
  first session's start);
* ``households`` — the estimated households of the station's zones (registered population ÷
  ``community_household_size``), one record each: ``visited`` for as many as distinct households
  were visited (done household visits with an address) in the period, capped at the estimate;
* ``operations`` — special operations (专项行动, issued, not cancelled) whose last day falls in
  the period, at their owner unit, counted by ``tasks.operations.tally`` as at their end over
  the whole bureau (the scores are computed over all stations, then disclosed): ``effective``
  (the area's incidents fell significantly during against before and the ring's did not rise
  significantly: no displacement; the operation page's tests).

A source no station has a record of in the period is left out (``present``), so the scorer says
that its indicators have no data for the period instead of scoring every station on nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from qingzhi.analysis.community import OUTCOMES, SETTLED, TARGET_MINUTES, households
from qingzhi.auth.context import system_actor
from qingzhi.cases.lifecycle import CaseStatus
from qingzhi.cases.models import Case, CaseIncident
from qingzhi.community.enums import VisitStatus, VisitTarget
from qingzhi.community.models import Dispute, Visit
from qingzhi.config import Settings
from qingzhi.incidents.models import Incident
from qingzhi.intel.service import VERDICTS, local_midnight
from qingzhi.org.models import Zone
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.models import Task, TaskOperation
from qingzhi.tasks.operations import tally

log = logging.getLogger(__name__)

Flags = dict[int, dict[str, list[bool]]]  # station id -> column -> one flag a record

COLUMNS: dict[str, tuple[str, ...]] = {
    "cases": ("cleared", "fast_cleared"),
    "tasks": ("due", "on_time"),
    "disputes": ("concluded", "settled_in_community", "mediated", "mediated_30min"),
    "households": ("visited",),
    "operations": ("effective",),
}


def _flags(columns: Sequence[str]) -> Flags:
    return defaultdict(lambda: {c: [] for c in columns})


def cases(session: Session, start: dt.datetime, end: dt.datetime, fast_hours: float) -> Flags:
    """Cases opened in [start, end), by the station of their first linked incident."""
    first_station = (
        select(CaseIncident.case_id, func.min(Incident.station_id).label("station_id"))
        .join(Incident, Incident.id == CaseIncident.incident_id)
        .group_by(CaseIncident.case_id)
        .subquery()
    )
    rows = session.execute(
        select(first_station.c.station_id, Case.status, Case.hours_to_clear)
        .join(Case, Case.id == first_station.c.case_id)
        .where(Case.opened_at >= start, Case.opened_at < end)
    )
    out = _flags(COLUMNS["cases"])
    for station_id, status, hours in rows:
        cleared = status == CaseStatus.cleared
        out[station_id]["cleared"].append(cleared)
        out[station_id]["fast_cleared"].append(
            cleared and hours is not None and hours <= fast_hours
        )
    return out


def tasks(session: Session, start: dt.datetime, end: dt.datetime) -> Flags:
    """Supervised tasks due in [start, end) (issued, not cancelled), by owner unit."""
    rows = session.execute(
        select(Task.owner_unit_id, Task.status, Task.closed_at, Task.deadline).where(
            Task.deadline >= start,
            Task.deadline < end,
            Task.status.not_in([TaskStatus.draft, TaskStatus.cancelled]),
        )
    )
    out = _flags(COLUMNS["tasks"])
    for unit_id, status, closed_at, deadline in rows:
        on_time = status == TaskStatus.verified and closed_at is not None and closed_at <= deadline
        out[unit_id]["due"].append(True)
        out[unit_id]["on_time"].append(on_time)
    return out


def disputes(session: Session, start: dt.datetime, end: dt.datetime) -> Flags:
    """Disputes reported in [start, end), by station: outcome and mediation time."""
    rows = session.execute(
        select(
            Dispute.station_id, Dispute.outcome, Dispute.first_session_at, Dispute.settled_at
        ).where(
            Dispute.reported_at >= start,
            Dispute.reported_at < end,
            Dispute.station_id.is_not(None),
        )
    ).all()
    out = _flags(COLUMNS["disputes"])
    for station_id, status, first, settled in rows:
        if station_id is None:  # not selected; for the type checker
            continue
        outcome = str(status) if status is not None and settled is not None else None
        minutes = float("nan")
        if settled is not None and first is not None:
            minutes = (settled - first).total_seconds() / 60.0
        mediated = outcome is not None and first is not None
        flags = out[station_id]
        flags["concluded"].append(outcome in OUTCOMES)
        flags["settled_in_community"].append(outcome in SETTLED)
        flags["mediated"].append(mediated)
        flags["mediated_30min"].append(mediated and minutes <= TARGET_MINUTES)
    return out


def visited_households(
    session: Session,
    station_ids: Sequence[int],
    start: dt.datetime,
    end: dt.datetime,
    household_size: float,
) -> Flags:
    """The estimated households of each station's zones, flagged ``visited`` for the distinct
    households visited in [start, end) (summed over the zones, as the community measures do).
    No station has any when no household was visited in the period."""
    homes: dict[int, int] = defaultdict(int)
    for station_id, n in session.execute(
        select(
            Visit.station_id,
            func.count(func.distinct(Visit.address)).filter(
                and_(Visit.target == VisitTarget.household, Visit.address != "")
            ),
        )
        .where(
            Visit.status == VisitStatus.done,
            Visit.visited_at >= start,
            Visit.visited_at < end,
            Visit.station_id.in_(list(station_ids)),
        )
        .group_by(Visit.station_id, Visit.zone_id)
    ):
        homes[station_id] += int(n)
    out = _flags(COLUMNS["households"])
    if not any(homes.values()):
        return out
    population: dict[int, int | None] = {}
    for station_id, zone_pop in session.execute(
        select(Zone.station_id, Zone.population).where(Zone.station_id.in_(list(station_ids)))
    ):
        known = population.get(station_id, 0)
        population[station_id] = None if known is None or zone_pop is None else known + zone_pop
    for station_id, pop in population.items():
        estimate = households(pop or None, household_size)
        if estimate is None:
            continue
        seen = min(homes.get(station_id, 0), estimate)
        out[station_id]["visited"] = [True] * seen + [False] * (estimate - seen)
    return out


def operations(session: Session, settings: Settings, start: dt.datetime, end: dt.datetime) -> Flags:
    """Special operations (issued, not cancelled) whose last day is in [start, end) (local
    days), by owner unit: ``effective`` when, counted as at the operation's end, the area's
    incidents fell significantly during against before and the ring's did not rise
    significantly (``tasks.operations``' tests)."""
    zone = ZoneInfo(settings.timezone)
    rows = session.execute(
        select(Task.owner_unit_id, TaskOperation)
        .join(Task, Task.id == TaskOperation.task_id)
        .where(
            TaskOperation.ends_on >= start.astimezone(zone).date(),
            TaskOperation.ends_on < end.astimezone(zone).date(),
            Task.status.not_in([TaskStatus.draft, TaskStatus.cancelled]),
        )
        .order_by(TaskOperation.id)
    ).all()
    actor = system_actor("kpi")
    out = _flags(COLUMNS["operations"])
    for unit_id, op in rows:
        ended = local_midnight(op.ends_on + dt.timedelta(days=1), settings.timezone)
        got = tally(session=session, actor=actor, settings=settings, op=op, now=ended)
        area, ring = got.area_test, got.ring_test
        out[unit_id]["effective"].append(
            area is not None
            and ring is not None
            and area.verdict == VERDICTS["down"]
            and ring.verdict != VERDICTS["up"]
        )
    log.info("kpi: %d special operations ended in %s – %s", len(rows), start, end)
    return out


def present(flags: Flags) -> bool:
    """Whether any station has a record of this source."""
    return any(len(next(iter(cols.values()), [])) for cols in flags.values())


def arrays(flags: Flags, station_id: int, source: str) -> dict[str, NDArray[np.bool_]]:
    """One station's columns of a source as boolean arrays (empty without records)."""
    cols = flags.get(station_id, {})
    return {c: np.array(cols.get(c, []), dtype=np.bool_) for c in COLUMNS[source]}
