"""Clearance and fast-clearance rates by unit, category or for the whole selection, over local
days (Asia/Shanghai), in the caller's scope: three grouped counts in SQL, the rates and their
Wilson intervals from ``qingzhi.analysis.clearance`` (definitions there and in ``DEFINITIONS``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from qingzhi.analysis.clearance import CaseCounts, clearance_rates
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.cases import scope
from qingzhi.cases.lifecycle import CATEGORY_LABELS, CaseStatus
from qingzhi.cases.models import Case
from qingzhi.cases.schemas import Interval, RateLine, Rates
from qingzhi.config import Settings
from qingzhi.errors import ValidationFailed
from qingzhi.org.models import Unit

log = logging.getLogger(__name__)

GroupBy = Literal["unit", "category", "none"]
MAX_DAYS = 366 * 10


def definitions(fast_hours: int) -> dict[str, str]:
    """The rates' definitions in words (shown on every page that shows them)."""
    return {
        "clearance": "破案率 = 期内破案数 ÷ 期内立案数（破案不限于期内立案，可超过 100%）",
        "cohort": "立案队列破案率 = 期内立案的案件中迄今已破案的比例（附 95% Wilson 区间）",
        "fast": f"快破率 = 期内破案中立案后 {fast_hours} 小时内破案的比例（附 95% Wilson 区间）",
        "recovered": "追赃挽损 = 期内破案案件挽回的损失（元）",
    }


def _interval(i: Any) -> Interval:
    return Interval(
        estimate=None if math.isnan(i.estimate) else round(i.estimate, 4),
        low=round(i.low, 4),
        high=round(i.high, 4),
    )


def _line(key: str, label: str, c: CaseCounts, fast_hours: int) -> RateLine:
    r = clearance_rates(c, fast_hours=fast_hours)
    return RateLine(
        key=key,
        label=label,
        opened=c.opened,
        cleared=c.cleared,
        cohort_cleared=c.cohort_cleared,
        fast=c.fast,
        clearance=None if math.isnan(r.clearance) else round(r.clearance, 4),
        cohort=_interval(r.cohort),
        fast_rate=_interval(r.fast),
        loss_yuan=round(c.loss_yuan, 2),
        recovered_yuan=round(c.recovered_yuan, 2),
    )


def compute(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    start: dt.date,
    end: dt.date,
    group_by: GroupBy = "unit",
    unit_id: int | None = None,
    category: str | None = None,
) -> Rates:
    """Rates for the local days ``start`` to ``end`` (both included)."""
    actor.require(Perm.case_read)
    if end < start:
        raise ValidationFailed.field("end", "结束日期早于开始日期")
    if (end - start).days > MAX_DAYS:
        raise ValidationFailed.field("end", "统计期不得超过 10 年")
    tz = ZoneInfo(settings.timezone)
    t0 = dt.datetime.combine(start, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    t1 = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    hours = settings.fast_clear_hours
    terms: list[ColumnElement[bool]] = [scope.where(actor)]
    if unit_id is not None:
        terms.append(Case.unit_id == unit_id)
    if category is not None:
        terms.append(Case.category == category)
    key: Any = {"unit": Case.unit_id, "category": Case.category}.get(group_by)
    keys = [key] if key is not None else []
    cleared = Case.status == CaseStatus.cleared
    opened_rows = session.execute(
        select(
            *keys,
            func.count(),
            func.count().filter(cleared),
            func.coalesce(func.sum(Case.loss_yuan), 0),
        )
        .where(*terms, Case.opened_at >= t0, Case.opened_at < t1)
        .group_by(*keys)
    ).all()
    cleared_rows = session.execute(
        select(
            *keys,
            func.count(),
            func.count().filter(Case.hours_to_clear <= hours),
            func.coalesce(func.sum(Case.recovered_yuan), 0),
        )
        .where(*terms, cleared, Case.cleared_at >= t0, Case.cleared_at < t1)
        .group_by(*keys)
    ).all()
    table: dict[Any, list[float]] = {}
    for row in opened_rows:
        k = row[0] if keys else None
        slot = table.setdefault(k, [0, 0, 0, 0, 0.0, 0.0])
        slot[0], slot[1], slot[4] = row[-3], row[-2], float(row[-1])
    for row in cleared_rows:
        k = row[0] if keys else None
        slot = table.setdefault(k, [0, 0, 0, 0, 0.0, 0.0])
        slot[2], slot[3], slot[5] = row[-3], row[-2], float(row[-1])
    names: dict[Any, str] = {}
    if group_by == "unit":
        names = dict(session.execute(select(Unit.id, Unit.name)).all())
    elif group_by == "category":
        names = dict(CATEGORY_LABELS)

    def counts(v: list[float]) -> CaseCounts:
        return CaseCounts(int(v[0]), int(v[1]), int(v[2]), int(v[3]), v[4], v[5])

    lines = [
        _line(str(k), names.get(k, "合计" if k is None else str(k)), counts(v), hours)
        for k, v in sorted(table.items(), key=lambda kv: (-kv[1][0], str(kv[0])))
    ]
    total = [sum(v[i] for v in table.values()) for i in range(6)]
    return Rates(
        start=start,
        end=end,
        group_by=group_by,
        fast_hours=hours,
        definitions=definitions(hours),
        total=_line("all", "合计", counts(total), hours),
        lines=lines if keys else [],
    )
