"""Plain-Chinese caveats for a reform impact evaluation, generated from its design (templates).

What the design can and cannot show, next to the numbers: the seed's year-on-year figure against
the DiD, few treated or control stations (cluster-robust intervals too narrow), regression to
the mean (treated stations chosen after a high period fall back by themselves), parallel
pre-trends (the placebo and the event study's leads), spill-over to neighbours, and that calls
(警情) are not crimes. No language model: each sentence is a template filled with the figures.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from qingzhi.analysis.impact import ImpactReport
    from qingzhi.analysis.panel import Panel

log = logging.getLogger(__name__)

FEW_CLUSTERS = 30  # below this many stations, CR1 intervals are known to be too narrow
FEW_GROUP = 10  # fewer treated or control stations than this: say so
SPIKE = 1.15  # treated's last pre-reform quarter this much above their pre-period level
ALPHA = 0.05


def pct(rate_ratio: float) -> str:
    """A rate ratio as a signed percentage change ("下降 48.2%" / "上升 3.1%")."""
    if not math.isfinite(rate_ratio):
        return "无法计算"
    change = (rate_ratio - 1.0) * 100.0
    if abs(change) < 0.05:
        return "持平"
    return f"{'上升' if change > 0 else '下降'} {abs(change):.1f}%"


def _interval(low: float, high: float) -> str:
    return f"{(low - 1) * 100:+.1f}% 至 {(high - 1) * 100:+.1f}%"


def pre_spike(panel: Panel) -> float:
    """Treated stations' last pre-reform quarter against their earlier months, over controls'."""
    t0 = panel.reform_index
    if t0 < 6:
        return math.nan
    v = panel.values if panel.exposure is None else panel.values / panel.exposure

    def ratio(rows: np.ndarray) -> float:
        last = float(v[rows, t0 - 3 : t0].mean())
        before = float(v[rows, : t0 - 3].mean())
        return last / before if before > 0 else math.nan

    c = ratio(~panel.treated)
    return ratio(panel.treated) / c if c and math.isfinite(c) else math.nan


def caveats(panel: Panel, report: ImpactReport) -> tuple[str, ...]:
    """The caveats of one evaluation, most important first."""
    out: list[str] = []
    d = report.did
    n_t, n_c = report.n_treated, report.n_controls
    g = n_t + n_c
    t0 = panel.reform_index
    post = len(panel.months) - t0
    out.append(
        f"设计：{n_t} 个改革派出所与 {n_c} 个未改革派出所对比，改革自 {report.reform_month} 起，"
        f"改革前 {t0} 个月、改革后 {post} 个月；指标为{report.outcome}。"
    )
    yt, yc = report.yoy_treated, report.yoy_controls
    if yt is not None and yc is not None:
        out.append(
            f"只看同比：改革派出所{pct(1 + yt.change)}，但同期未改革派出所也{pct(1 + yc.change)}。"
            f"扣除全县共同的变化（季节、趋势、口径）后，差分估计改革效果为{pct(d.rate_ratio)}"
            f"（{round(d.confidence * 100)}% 区间 {_interval(d.low, d.high)}）。"
            "同比数字把共同变化也算成了改革的功劳。"
        )
    else:
        out.append(f"差分估计改革效果为{pct(d.rate_ratio)}（区间 {_interval(d.low, d.high)}）。")
    if d.p_boot >= ALPHA and d.p_value >= ALPHA:
        out.append(
            f"该效果在统计上不显著（p = {d.p_value:.3f}，自助法 p = {d.p_boot:.3f}）："
            "不能排除改革没有作用。"
        )
    if g < FEW_CLUSTERS or min(n_t, n_c) < FEW_GROUP:
        out.append(
            f"派出所只有 {g} 个（改革 {n_t} 个、对照 {n_c} 个）。按派出所聚类的稳健标准误在聚类少时"
            "偏小，区间可能偏窄；这里已用 t 分布临界值并给出野自助法（wild bootstrap）p 值，"
            "两者不一致时以自助法为准。"
        )
    spike = pre_spike(panel)
    rtm = (
        "若改革派出所是因为警情多、问题突出而被选中的，之后的回落有一部分只是均值回归"
        "（高峰之后自然回落），并非改革的效果。"
    )
    if math.isfinite(spike) and spike > SPIKE:
        out.append(
            rtm + f"本例改革前最后 3 个月，改革派出所相对对照组高出其改革前平均水平 "
            f"{(spike - 1) * 100:.0f}%，回落风险明显，估计可能夸大了效果。"
        )
    else:
        out.append(rtm + "本例改革前最后 3 个月未见明显高峰，但差分法只能扣除两组共同的变化。")
    tests = []
    if report.placebo is not None:
        tests.append(("安慰剂检验（改革前期假设一个改革日期）", report.placebo.p_value))
    if report.event_study.n_leads:
        tests.append(("事件研究的改革前各月系数联合检验", report.event_study.pretrend_p))
    bad = [(name, p) for name, p in tests if math.isfinite(p) and p < ALPHA]
    if bad:
        listed = "；".join(f"{name} p = {p:.3f}" for name, p in bad)
        out.append(f"改革前两组走势不平行（{listed}），差分估计可能有偏，应谨慎解读。")
    elif tests:
        listed = "；".join(f"{name} p = {p:.3f}" for name, p in tests)
        out.append(
            f"改革前两组走势相近（{listed}），支持“平行趋势”假设；"
            "但这只能检验改革前，不能证明若无改革两组此后也会平行。"
        )
    else:
        out.append("改革前数据太短，无法检验两组走势是否平行。")
    disp = report.displacement
    if disp is not None:
        out.append(
            f"转移检验：改革派出所的相邻派出所同期{pct(disp.rate_ratio)}"
            f"（区间 {_interval(disp.low, disp.high)}，自助法 p = {disp.p_boot:.3f}）。"
            "明显上升说明警情可能转移到周边，下降可能是效果外溢；相邻派出所若受影响，"
            "它们就不是干净的对照，差分估计会偏。"
        )
    else:
        why = report.notes.get("displacement", "")
        out.append(
            f"未能检验转移效应（{why}）。相邻派出所若受改革影响（转移或外溢），"
            "对照组就不“干净”，估计会偏。"
        )
    s = report.synthetic
    if s is not None:
        sig = sum(1 for u in s.units if u.p_value <= 0.1)
        out_hull = sum(1 for u in s.units if not u.in_hull)
        text = (
            f"稳健性检验（合成控制，逐个改革派出所）：比值中位数为{pct(s.median_rate_ratio)}；"
            f"{len(s.units)} 个中有 {sig} 个置换检验 p ≤ 0.1。对照只有 {len(s.donors)} 个，"
            f"置换检验最小 p 值为 {s.min_p:.2f}，单个派出所难以显著。"
        )
        if out_hull:
            text += f"{out_hull} 个改革派出所的水平超出对照范围，无法合成，未计入中位数。"
        out.append(text)
    elif "synthetic" in report.notes:
        out.append(f"未做合成控制：{report.notes['synthetic']}。")
    out.append(
        "本设计能说明：改革派出所的警情相对同期未改革派出所变化了多少。不能说明：变化是否全部"
        "由改革引起（同期其他政策、统计口径的变化会混入）；警情是报警数而非发案数，报警意愿"
        "或接警登记方式变化也会改变警情。"
    )
    return tuple(out)
