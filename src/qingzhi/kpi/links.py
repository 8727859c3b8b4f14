"""The records behind each figure of a station's breakdown: one table from indicator to the
list that shows them, with the filters that list accepts (the one statement of it; the page
links it, the Word/PDF report leaves it out).

A link is given only when the caller may read that list (``incident.read``, ``case.read``,
``task.read``, ``community.read``): the list's own scope then filters what it shows, so a link
never opens more than the caller could list without it. Each link says, in ``records_note``
(the link's title), what the list holds against the figure:

* incident indicators open the desk (``/desk``) on the station's jurisdiction
  (``station_id``: where the call was, whoever handled it — the same rule as the scores), the
  period (local times, end exclusive) and valid calls; the desk lists exactly the records of
  the indicator's denominator where it can, and the nearest wider set where the figure's
  selection is one the desk cannot express (not a repeat; dispatched; in town), stated;
* case, task, dispute and visit indicators open their own lists with what those accept: the
  case page's statistics period (``/cases?start&end``, days both included), the zone board of
  the station (``/community?unit_id``, this month's visits), the dispute desk and the 督办
  board without station or period (their pages take no such filter; the caller's scope
  narrows them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.kpi.records import PREVENTION


@dataclass(frozen=True)
class Where:
    """What a link filters on: one station (its unit id) in a period (local start and
    exclusive end)."""

    unit_id: int
    start: dt.datetime
    end: dt.datetime


Params = Callable[[Where], list[tuple[str, str]]]


@dataclass(frozen=True)
class RecordsLink:
    """A list page, the permission to read it, its filters for a station, and what it shows
    against the figure (Chinese, the link's title)."""

    path: str
    perm: Perm
    params: Params
    note: str


def _minute(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _desk(*categories: str) -> Params:
    def params(w: Where) -> list[tuple[str, str]]:
        out = [("station_id", str(w.unit_id)), ("start", _minute(w.start))]
        out += [("end", _minute(w.end)), ("valid", "true")]
        return out + [("category", c) for c in categories]

    return params


def _case_days(w: Where) -> list[tuple[str, str]]:
    last = (w.end - dt.timedelta(days=1)).date()
    return [("start", w.start.date().isoformat()), ("end", last.isoformat())]


def _zone_board(w: Where) -> list[tuple[str, str]]:
    return [("unit_id", str(w.unit_id))]


def _none(w: Where) -> list[tuple[str, str]]:
    return []


_PREVENTION = tuple(c.value for c in PREVENTION)
_ALL_VALID = "警情台：本所辖区本期全部有效警情"
_DISPUTES = (
    "纠纷台不能按派出所、登记期筛选：列出您权限范围内的全部矛盾纠纷，本指标只计本所本期登记的"
)
_TASKS = "督办看板不能按考核期筛选：列出您权限范围内的督办事项，本指标只计本所本期到期的"
_CASES = (
    "案件页：本期的破案率统计（按单位）与最近案件；列表不按派出所筛选，"
    "本指标按案件首个关联警情的辖区计"
)

LINKS: dict[str, RecordsLink] = {
    "prevention_rate": RecordsLink(
        "/desk",
        Perm.incident_read,
        _desk(*_PREVENTION),
        "警情台：本所辖区本期有效刑事、治安警情；其中重复报警不计入本指标（警情台不能排除）",
    ),
    "prevention_change": RecordsLink(
        "/desk",
        Perm.incident_read,
        _desk(*_PREVENTION),
        "警情台：本所辖区本期有效刑事、治安警情（不含上年同期）；其中重复报警不计入本指标",
    ),
    "repeat_share": RecordsLink(
        "/desk",
        Perm.incident_read,
        _desk(),
        _ALL_VALID + "（本指标的分母）；其中重复报警（后来的那次报警）为分子",
    ),
    "dispatch_3min": RecordsLink(
        "/desk",
        Perm.incident_read,
        _desk(),
        _ALL_VALID + "；分母为其中已派警的，分子为接警后 3 分钟内派警的（警情台不能筛选）",
    ),
    "arrival_5min_town": RecordsLink(
        "/desk",
        Perm.incident_read,
        _desk(),
        _ALL_VALID
        + "；分母为其中城区已到场的（农村所为空），分子为 5 分钟内到场的（警情台不能筛选）",
    ),
    "disputes_settled": RecordsLink("/community/disputes", Perm.community_read, _none, _DISPUTES),
    "mediation_30min": RecordsLink("/community/disputes", Perm.community_read, _none, _DISPUTES),
    "visit_coverage": RecordsLink(
        "/community",
        Perm.community_read,
        _zone_board,
        "本所片区看板：本月走访（不按考核期）；户数为片区户籍人口的估计",
    ),
    "operation_effect": RecordsLink("/tasks", Perm.task_read, _none, _TASKS + "专项行动"),
    "clearance": RecordsLink("/cases", Perm.case_read, _case_days, _CASES),
    "fast_clearance": RecordsLink("/cases", Perm.case_read, _case_days, _CASES),
    "supervision_on_time": RecordsLink("/tasks", Perm.task_read, _none, _TASKS),
}


def records_url(indicator_id: str, where: Where) -> str | None:
    """The list of an indicator's records for a station and period (None: no list)."""
    link = LINKS.get(indicator_id)
    if link is None:
        return None
    query = urlencode(link.params(where))
    return link.path + ("?" + query if query else "")


def attach(actor: Actor, board: dict[str, Any], start: dt.datetime, end: dt.datetime) -> None:
    """Give each indicator row of the disclosed board its ``records_url`` and
    ``records_note``, where the caller may read the list (else both None)."""
    for station in board["stations"]:
        where = Where(station["unit_id"], start, end)
        for row in station["indicators"]:
            link = LINKS.get(row["indicator"])
            readable = link is not None and actor.can(link.perm)
            row["records_url"] = records_url(row["indicator"], where) if readable else None
            row["records_note"] = link.note if readable and link is not None else None
