"""The community measures (``qingzhi.analysis.community``) from the records: disputes reported
in the period with their duration, outcome and the calls linked within the watch window after
settlement; done visits and the households they reached; by zone, station and the whole scope."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from qingzhi.analysis.community import DisputeFact, Summary, summarise
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community.disputes import LOCAL
from qingzhi.community.enums import VisitStatus, VisitTarget
from qingzhi.community.models import Dispute, DisputeCall, Visit
from qingzhi.community.schemas import MeasureRow, Measures
from qingzhi.community.scope import view_of
from qingzhi.config import Settings
from qingzhi.errors import NotFound, ValidationFailed
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Unit, Zone
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)

MAX_DAYS = 3 * 366


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    if end < start:
        raise ValidationFailed.field("to", "结束日期不能早于开始日期")
    if (end - start).days > MAX_DAYS:
        raise ValidationFailed.field("to", f"统计区间最长 {MAX_DAYS} 天")
    since = dt.datetime.combine(start, dt.time(), tzinfo=LOCAL)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=LOCAL)
    return since.astimezone(dt.UTC), until.astimezone(dt.UTC)


def compute(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.date,
    end: dt.date,
    unit_id: int | None = None,
) -> Measures:
    """The measures for local days ``start``..``end`` (inclusive) by zone, station and scope."""
    actor.require(Perm.community_read)
    since, until = _bounds(start, end)
    view = view_of(session, actor)
    if unit_id is not None and (
        not org_scope.admits_unit(actor, unit_id) or session.get(Unit, unit_id) is None
    ):
        raise NotFound()
    where = [view.where(Dispute.station_id, Dispute.zone_id)]
    if unit_id is not None:
        where.append(Dispute.station_id == unit_id)
    repeats = (
        select(DisputeCall.dispute_id, func.count().label("n"))
        .join(Dispute, Dispute.id == DisputeCall.dispute_id)
        .where(
            DisputeCall.received_at >= Dispute.settled_at,
            DisputeCall.received_at <= Dispute.watch_until,
        )
        .group_by(DisputeCall.dispute_id)
        .subquery()
    )
    called = (
        select(DisputeCall.dispute_id)
        .join(Dispute, Dispute.id == DisputeCall.dispute_id)
        .where(DisputeCall.received_at < Dispute.reported_at)
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(
            Dispute.station_id,
            Dispute.zone_id,
            Dispute.outcome,
            Dispute.first_session_at,
            Dispute.settled_at,
            Dispute.visit_id,
            Dispute.incident_id,
            func.coalesce(repeats.c.n, 0),
            called.c.dispute_id,
        )
        .outerjoin(repeats, repeats.c.dispute_id == Dispute.id)
        .outerjoin(called, called.c.dispute_id == Dispute.id)
        .where(Dispute.reported_at >= since, Dispute.reported_at < until, *where)
    ).all()
    by_zone: dict[tuple[int | None, int | None], list[DisputeFact]] = defaultdict(list)
    for station, zone, status, first, settled, visit, incident, n, was_called in rows:
        outcome = str(status) if status is not None and settled is not None else None
        minutes = (
            (settled - first).total_seconds() / 60.0
            if first is not None and settled is not None
            else None
        )
        fact = DisputeFact(
            outcome=outcome,
            minutes=minutes,
            repeat_calls=int(n),
            from_visit=visit is not None,
            called_before=was_called is not None or (visit is None and incident is not None),
        )
        by_zone[(station, zone)].append(fact)
    vwhere = [view.where(Visit.station_id, Visit.zone_id), Visit.status == VisitStatus.done]
    if unit_id is not None:
        vwhere.append(Visit.station_id == unit_id)
    visits: dict[tuple[int, int], tuple[int, int]] = {}
    for station, zone, n, homes in session.execute(
        select(
            Visit.station_id,
            Visit.zone_id,
            func.count(),
            func.count(func.distinct(Visit.address)).filter(
                and_(Visit.target == VisitTarget.household, Visit.address != "")
            ),
        )
        .where(Visit.visited_at >= since, Visit.visited_at < until, *vwhere)
        .group_by(Visit.station_id, Visit.zone_id)
    ):
        visits[(station, zone)] = (int(n), int(homes))
    zones = {
        z.id: z
        for z in session.scalars(
            select(Zone).where(view.where(Zone.station_id, Zone.id)).order_by(Zone.code)
        )
        if unit_id is None or z.station_id == unit_id
    }
    names = dict(session.execute(select(Unit.id, Unit.name)).all())
    size = settings.community_household_size
    out: list[MeasureRow] = []
    stations = sorted(
        {s for s, _ in by_zone if s is not None}
        | {s for s, _ in visits}
        | {z.station_id for z in zones.values()}
    )
    everything: list[DisputeFact] = []
    all_visits = all_homes = 0
    all_pop: int | None = 0
    for station in stations:
        s_facts: list[DisputeFact] = []
        s_visits = s_homes = 0
        s_pop: int | None = 0
        for zone in [z for z in zones.values() if z.station_id == station]:
            facts = by_zone.get((station, zone.id), [])
            n, homes = visits.get((station, zone.id), (0, 0))
            out.append(
                _row(
                    "zone",
                    zone.id,
                    zone.name,
                    summarise(
                        facts,
                        visits=n,
                        visited_households=homes,
                        population=zone.population,
                        household_size=size,
                    ),
                )
            )
            s_facts += facts
            s_visits += n
            s_homes += homes
            s_pop = None if s_pop is None or zone.population is None else s_pop + zone.population
        s_facts += by_zone.get((station, None), [])
        if view.zones is None:
            out.append(
                _row(
                    "station",
                    station,
                    names.get(station, ""),
                    summarise(
                        s_facts,
                        visits=s_visits,
                        visited_households=s_homes,
                        population=s_pop or None,
                        household_size=size,
                    ),
                )
            )
        everything += s_facts
        all_visits += s_visits
        all_homes += s_homes
        all_pop = None if all_pop is None or s_pop is None else all_pop + s_pop
    out.append(
        _row(
            "scope",
            unit_id,
            "合计",
            summarise(
                everything,
                visits=all_visits,
                visited_households=all_homes,
                population=all_pop or None,
                household_size=size,
            ),
        )
    )
    return Measures(start=start, end=end, household_size=size, rows=out)


def _row(level: str, unit_id: int | None, name: str, s: Summary) -> MeasureRow:
    return read_of(
        MeasureRow,
        s,
        level=level,
        unit_id=unit_id,
        name=name,
        median_minutes=None if s.median_minutes is None else round(s.median_minutes, 1),
    )
