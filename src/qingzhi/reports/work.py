"""The brief's sections on case work, supervised tasks and disputes, from their own domains'
services (the same figures as ``/api/cases/rates``, the 督办 board and
``/api/community/measures``), in the brief's scope. A section whose records do not exist for the
period says 尚无记录; one the brief's maker may not read says so.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.cases import rates
from qingzhi.community import measures
from qingzhi.config import Settings
from qingzhi.reports.periods import Period
from qingzhi.tasks import scope as task_scope
from qingzhi.tasks.lifecycle import TaskStatus
from qingzhi.tasks.models import Task
from qingzhi.tasks.service import overdue_sql

log = logging.getLogger(__name__)

NONE = "尚无记录"
NOT_ALLOWED = "（本简报制作人无权查看此项）"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _cases(session: Session, actor: Actor, settings: Settings, period: Period) -> str:
    if not actor.can(Perm.case_read):
        return NOT_ALLOWED
    last_day = period.end - dt.timedelta(days=1)
    r = rates.compute(
        session=session,
        actor=actor,
        settings=settings,
        start=period.start,
        end=last_day,
        group_by="none",
    )
    t = r.total
    if t.opened == 0 and t.cleared == 0:
        return f"{NONE}（本期无立案、破案）"
    return (
        f"本期立案 {t.opened} 起，破案 {t.cleared} 起（破案率 {_pct(t.clearance)}，"
        f"按本期立案计的已破比例 {_pct(t.cohort.estimate)}）；{r.fast_hours} 小时内快破 "
        f"{t.fast} 起（快破率 {_pct(t.fast_rate.estimate)}）；涉案损失 {t.loss_yuan:,.0f} 元，"
        f"挽回 {t.recovered_yuan:,.0f} 元。"
    )


def _tasks(session: Session, actor: Actor, settings: Settings, period: Period) -> str:
    if not actor.can(Perm.task_read):
        return NOT_ALLOWED
    zone = ZoneInfo(settings.timezone)
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(period.end, dt.time(), tzinfo=zone)
    live = Task.status.not_in([TaskStatus.draft, TaskStatus.cancelled])
    on_time = (Task.status == TaskStatus.verified) & (Task.closed_at <= Task.deadline)
    due, done = session.execute(
        select(func.count(), func.count().filter(on_time)).where(
            task_scope.where(actor), live, Task.deadline >= start, Task.deadline < end
        )
    ).one()
    issued = session.execute(
        select(func.count()).where(
            task_scope.where(actor), live, Task.issued_at >= start, Task.issued_at < end
        )
    ).scalar_one()
    overdue = session.execute(
        select(func.count()).where(task_scope.where(actor), overdue_sql(min(end, _now())))
    ).scalar_one()
    if not (due or issued or overdue):
        return f"{NONE}（本期无下发或到期的督办事项）"
    share = f"，按期办结 {done} 件（{_pct(done / due)}）" if due else ""
    return f"本期下发督办 {issued} 件，到期 {due} 件{share}；期末逾期未结 {overdue} 件。"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _disputes(
    session: Session, actor: Actor, settings: Settings, period: Period, unit_id: int | None
) -> str:
    if not actor.can(Perm.community_read):
        return NOT_ALLOWED
    last_day = period.end - dt.timedelta(days=1)
    m = measures.compute(
        session=session,
        actor=actor,
        settings=settings,
        start=period.start,
        end=last_day,
        unit_id=unit_id,
    )
    total = next((r for r in m.rows if r.level == "scope"), None)
    if total is None or total.disputes == 0:
        return f"{NONE}（本期无矛盾纠纷记录）"
    median = "—" if total.median_minutes is None else f"{total.median_minutes:.0f} 分钟"
    return (
        f"本期登记矛盾纠纷 {total.disputes} 起，调解 {total.mediated} 起，调解时长中位数 {median}"
        f"（30 分钟内 {_pct(total.share_within_30)}），就地化解 {_pct(total.share_in_community)}，"
        f"化解后 30 天内再报警 {total.repeat_within_30} 起（{_pct(total.repeat_rate)}）；"
        f"入户走访 {total.visits} 户次。"
    )


def sections(
    session: Session, actor: Actor, settings: Settings, period: Period, unit_id: int | None
) -> dict[str, Any]:
    """The three sections' sentences, by key: cases, tasks, disputes."""
    return {
        "cases": _cases(session, actor, settings, period),
        "tasks": _tasks(session, actor, settings, period),
        "disputes": _disputes(session, actor, settings, period, unit_id),
    }
