"""Station indicators (考核指标) as data: definition, direction, family and data availability.

Each indicator is computed from one station's **records** for a period, given as boolean columns
(one flag per record) grouped by source. The kpi service builds them from the store; this module
only says which sources and columns each indicator reads. Three kinds of measure:

* ``rate``  — records flagged ``numerator`` per 10,000 residents of the station;
* ``share`` — records flagged ``numerator`` among those flagged ``denominator`` (all records of
  the source when ``denominator`` is ``None``);
* ``ratio`` — records flagged ``numerator`` in ``source`` over the same in ``baseline`` (the same
  period a year earlier): a year-on-year rate ratio (1.0 = no change, 0.8 = down 20%).

Sources and columns the service fills (a record is one row of the named kind in the period):

=====================  ==========================================================================
source                 columns (bool, one per record)
=====================  ==========================================================================
``incidents``          valid incidents (有效警情) of the station: ``prevention`` (criminal or
                       public order), ``repeat`` (a repeat call: ``repeat_of`` set),
                       ``dispatched``, ``dispatched_3min`` (dispatched ≤ 180 s after reception),
                       ``town_arrived`` (arrived, at a place in the town: 城区/集镇),
                       ``town_arrived_5min`` (of those, arrived ≤ 300 s after reception)
``incidents_last_year`` the same columns for the same months a year earlier
``disputes``           矛盾纠纷 reported in the period: ``concluded`` (reached an outcome:
                       settled, partially settled, not settled, referred),
                       ``settled_in_community`` (settled or partially settled: 就地化解),
                       ``mediated`` (a first session and a settlement time),
                       ``mediated_30min`` (of those, settled ≤ 30 min after the first session)
``households``         estimated households of the station's zones (registered population ÷
                       household size): ``visited`` (a distinct household visited, 走访)
``operations``         special operations (专项行动) whose last day falls in the period, at
                       their owner unit: ``effective`` (the area's valid incidents fell
                       significantly during the operation against the as long period before,
                       and the ring around it did not rise significantly)
``cases``              criminal cases: ``cleared`` (破案), ``fast_cleared`` (快破)
``tasks``              supervised tasks (督办) due in the period: ``due``, ``on_time``
=====================  ==========================================================================

``available`` says whether the store holds the data today; an indicator that is not available
takes no weight (a scheme that weighs it is refused) and says why in ``data_note``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

log = logging.getLogger(__name__)

Direction = Literal["higher", "lower"]
Family = Literal["prevention", "service", "case", "follow_up"]
MeasureKind = Literal["rate", "share", "ratio"]

FAMILY_NAMES: dict[str, str] = {
    "prevention": "主防",
    "service": "服务",
    "case": "办案",
    "follow_up": "督办",
}

# The record sources in words, for the reason an indicator is left out.
SOURCE_NAMES: dict[str, str] = {
    "incidents": "警情",
    "incidents_last_year": "上年同期警情",
    "disputes": "矛盾纠纷",
    "households": "走访",
    "operations": "专项行动",
    "cases": "案件",
    "tasks": "督办",
}


@dataclass(frozen=True)
class Measure:
    """How an indicator is computed from a station's records (see the module docstring)."""

    kind: MeasureKind
    source: str
    numerator: str
    denominator: str | None = None  # share only; None = all records of the source
    baseline: str | None = None  # ratio only: the source of the comparison period

    @property
    def sources(self) -> tuple[str, ...]:
        """The record sources this measure reads."""
        return (self.source,) if self.baseline is None else (self.source, self.baseline)


@dataclass(frozen=True)
class Indicator:
    """One station indicator: what it means, which way is better, where its data comes from."""

    id: str
    name: str  # Chinese, as shown
    definition: str  # Chinese, the stated definition
    family: Family
    direction: Direction  # the default: "lower" = fewer is better
    measure: Measure
    available: bool
    data_note: str  # Chinese: the data source, or why it is not available yet
    unit: str = ""  # Chinese unit for display ("件/万人", "%", "倍")


_INCIDENTS = "数据来源：警情库（有效警情）"
_CASES = "数据来源：案件库（立案、破案时间；快破时限为设置 fast_clear_hours）"
_DISPUTES = "数据来源：社区警务矛盾纠纷登记与调解记录（本期登记的纠纷）"
_VISITS = (
    "数据来源：社区警务走访记录；户数为片区户籍人口 ÷ 户均人口"
    "（QINGZHI_COMMUNITY_HOUSEHOLD_SIZE）的估计"
)
_TASKS = "数据来源：督办事项（截止时间、核验办结时间）"
_OPERATIONS = (
    "数据来源：督办专项行动（区域、行动期、周边环带），本期内结束、未取消的行动，按责任单位计；"
    "检验为行动期间与行动前同长时段日均警情的精确泊松检验（p < 0.05）。"
    "行动前不是对照：因警情高而选定的乱点本会回落（均值回归），成效可能偏高"
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "prevention_rate",
        "刑事治安警情万人比",
        "本期有效刑事、治安警情数 ÷ 辖区户籍人口 × 10,000",
        "prevention",
        "lower",
        Measure("rate", "incidents", "prevention"),
        True,
        _INCIDENTS,
        "件/万人",
    ),
    Indicator(
        "prevention_change",
        "刑事治安警情同比",
        "本期有效刑事、治安警情数 ÷ 上年同期数（1.0 为持平，0.8 为下降 20%）",
        "prevention",
        "lower",
        Measure("ratio", "incidents", "prevention", baseline="incidents_last_year"),
        True,
        _INCIDENTS + "，需上年同期数据",
        "倍",
    ),
    Indicator(
        "repeat_share",
        "重复报警占比",
        "本期有效警情中重复报警（同一事由、地点或报警人再次报警）所占比例",
        "prevention",
        "lower",
        Measure("share", "incidents", "repeat"),
        True,
        _INCIDENTS,
        "%",
    ),
    Indicator(
        "disputes_settled",
        "矛盾纠纷就地化解率",
        "本期登记并已有调处结果的矛盾纠纷中，调解成功或部分调解（未移交、未调解不成）的比例",
        "prevention",
        "higher",
        Measure("share", "disputes", "settled_in_community", "concluded"),
        True,
        _DISPUTES,
        "%",
    ),
    Indicator(
        "visit_coverage",
        "走访覆盖率",
        "本期辖区片区估计户数中民警、辅警走访到户（不同住户地址）的比例，最高 100%",
        "prevention",
        "higher",
        Measure("share", "households", "visited"),
        True,
        _VISITS,
        "%",
    ),
    Indicator(
        "operation_effect",
        "专项行动成效",
        "本期结束的专项行动中见效的比例：行动区域内所针对的有效警情，行动期间比行动前同长时段"
        "显著下降，且周边环带未显著上升（未转移）",
        "prevention",
        "higher",
        Measure("share", "operations", "effective"),
        True,
        _OPERATIONS,
        "%",
    ),
    Indicator(
        "dispatch_3min",
        "3 分钟派警率",
        "本期已派警的有效警情中，接警后 3 分钟内派警的比例",
        "service",
        "higher",
        Measure("share", "incidents", "dispatched_3min", "dispatched"),
        True,
        _INCIDENTS,
        "%",
    ),
    Indicator(
        "arrival_5min_town",
        "城镇 5 分钟到场率",
        "本期城区、集镇范围内已到场的有效警情中，接警后 5 分钟内到场的比例",
        "service",
        "higher",
        Measure("share", "incidents", "town_arrived_5min", "town_arrived"),
        True,
        _INCIDENTS,
        "%",
    ),
    Indicator(
        "mediation_30min",
        "纠纷 30 分钟调处率",
        "本期登记并已调处的矛盾纠纷中，自首次调解开始 30 分钟内调处完毕的比例",
        "service",
        "higher",
        Measure("share", "disputes", "mediated_30min", "mediated"),
        True,
        _DISPUTES,
        "%",
    ),
    Indicator(
        "clearance",
        "破案率",
        "本期立案的刑事案件中已破案的比例",
        "case",
        "higher",
        Measure("share", "cases", "cleared"),
        True,
        _CASES,
        "%",
    ),
    Indicator(
        "fast_clearance",
        "快破率",
        "本期已破刑事案件中快侦快办时限内破案的比例",
        "case",
        "higher",
        Measure("share", "cases", "fast_cleared", "cleared"),
        True,
        _CASES,
        "%",
    ),
    Indicator(
        "supervision_on_time",
        "督办按期办结率",
        "本期到期的督办事项中按期办结并通过核验的比例",
        "follow_up",
        "higher",
        Measure("share", "tasks", "on_time", "due"),
        True,
        _TASKS,
        "%",
    ),
)

INDICATOR_BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}


def indicator(indicator_id: str) -> Indicator:
    """The catalogue entry for an id (KeyError when unknown)."""
    return INDICATOR_BY_ID[indicator_id]
