"""The big screen's figures: today's counted incidents (valid, a repeat call once through its
first call: ``incidents.scope.counted``, as the analysis counts them) against last week and last
year, open incidents, mean response time, officers on duty by live status, the 24-hour curve.

"Today" is the local (Asia/Shanghai) day up to now; the same day last week and last year are
compared over the same hours, so a morning is never held against a whole day.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.analysis.trends import change_test
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.duty import service as duty
from qingzhi.incidents.enums import Category
from qingzhi.incidents.models import Incident
from qingzhi.incidents.scope import counted, open_only, scope_filter
from qingzhi.intel.service import VERDICTS
from qingzhi.live.enums import LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.live.service import effective_status
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Officer
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _times(
    session: Session, actor: Actor, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, Category]]:
    query = scope_filter(select(Incident.received_at, Incident.category), actor).where(
        counted(), Incident.received_at >= start, Incident.received_at < end
    )
    return [(at, Category(cat)) for at, cat in session.execute(query)]


def figures(
    *, session: Session, actor: Actor, settings: Settings, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Every figure of the big screen, in the caller's scope."""
    actor.require(Perm.incident_read)
    tz = ZoneInfo(settings.timezone)
    now = (now or utcnow()).astimezone(tz)
    today = now.date()
    elapsed = now - dt.datetime.combine(today, dt.time(), tz)
    days = {
        "today": today,
        "last_week": today - dt.timedelta(days=7),
        "last_year": _year_before(today),
    }
    by_category: dict[str, dict[str, int]] = {}
    hourly: dict[str, list[int]] = {}
    for key, day in days.items():
        start = dt.datetime.combine(day, dt.time(), tz)
        rows = _times(session, actor, start, start + dt.timedelta(days=1))
        upto = [(at, cat) for at, cat in rows if at < start + elapsed]
        counts = Counter(cat for _, cat in upto)
        by_category[key] = {str(c): counts.get(c, 0) for c in Category}
        hours = [0] * 24
        for at, _ in rows if key != "today" else upto:
            hours[at.astimezone(tz).hour] += 1
        hourly[key] = hours

    open_query = scope_filter(select(func.count()).select_from(Incident), actor).where(
        Incident.valid.is_(True), open_only()
    )
    open_count = int(session.execute(open_query).scalar_one())

    since = now - dt.timedelta(hours=24)
    resp_query = scope_filter(select(Incident.received_at, Incident.arrived_at), actor).where(
        Incident.valid.is_(True), Incident.arrived_at >= since.astimezone(dt.UTC)
    )
    seconds = [(b - a).total_seconds() for a, b in session.execute(resp_query) if a and b]
    seconds = [s for s in seconds if s >= 0]

    officer_query = (
        select(Officer, OfficerLive, duty.dispatchable())
        .outerjoin(OfficerLive, OfficerLive.officer_id == Officer.id)
        .where(Officer.active.is_(True))
    )
    officer_query = org_scope.officers(officer_query, actor)
    # 在岗警力 counts street duty only (whom dispatch may send); office staff on duty apart.
    statuses: Counter[LiveStatus] = Counter()
    office = 0
    for o, live, street in session.execute(officer_query):
        status = effective_status(o, live)
        if street or status == LiveStatus.off_duty:
            statuses[status] += 1
        else:
            office += 1
    on_duty = sum(n for s, n in statuses.items() if s != LiveStatus.off_duty)
    today_total = sum(by_category["today"].values())
    week_total = sum(by_category["last_week"].values())
    year_total = sum(by_category["last_year"].values())
    return {
        "now": now.isoformat(),
        "categories": [{"key": str(c), "label": c.label} for c in Category],
        "by_category": by_category,
        "totals": {"today": today_total, "last_week": week_total, "last_year": year_total},
        "change": {
            "week": _change(today_total, week_total),
            "year": _change(today_total, year_total),
        },
        # The counts with the trends module's exact test, for small numbers where a percentage
        # misleads (3 against 1 is "+200%" and no evidence of anything).
        "compare": {
            "week": _compare(today_total, week_total),
            "year": _compare(today_total, year_total),
        },
        "open_incidents": open_count,
        "mean_response_seconds": round(sum(seconds) / len(seconds), 1) if seconds else None,
        "responses": len(seconds),
        "officers": {
            "on_duty": on_duty,
            "office": office,
            "by_status": {str(s): statuses.get(s, 0) for s in LiveStatus},
            "labels": {str(s): s.label for s in LiveStatus},
        },
        "hourly": hourly,
    }


def _compare(now: int, before: int) -> dict[str, Any]:
    """Two counts, the exact conditional test of their rates, and its verdict in Chinese."""
    test = change_test(now, before)
    return {
        "current": now,
        "previous": before,
        "p_value": round(test.p_value, 4),
        "direction": test.direction,
        "verdict": VERDICTS[test.direction],
    }


def _change(now: int, before: int) -> float | None:
    if before == 0:
        return None
    return round((now - before) / before * 100, 1)
