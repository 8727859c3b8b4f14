"""A plan's kinds and its lifecycle (computing → ready → applied | rejected; failed)."""

from __future__ import annotations

from enum import StrEnum

from qingzhi.lifecycle import Lifecycle


class PlanKind(StrEnum):
    """What a plan computes."""

    bundle = "bundle"
    allocate = "allocate"
    simulate = "simulate"
    roads = "roads"


KIND_LABELS = {
    PlanKind.bundle: "捆绑运行方案",
    PlanKind.allocate: "警力配置方案",
    PlanKind.simulate: "出警时间仿真",
    PlanKind.roads: "交所合一道路里程",
}


class PlanStatus(StrEnum):
    """computing (its job runs) → ready (results saved) → applied | rejected by an admin."""

    computing = "computing"
    ready = "ready"
    failed = "failed"
    applied = "applied"
    rejected = "rejected"


PLAN = Lifecycle(
    noun="规划方案",
    labels={
        PlanStatus.computing: "计算中",
        PlanStatus.ready: "待决定",
        PlanStatus.failed: "计算失败",
        PlanStatus.applied: "已采纳",
        PlanStatus.rejected: "已否决",
    },
    transitions={
        PlanStatus.computing: {PlanStatus.ready, PlanStatus.failed},
        PlanStatus.ready: {PlanStatus.applied, PlanStatus.rejected},
        PlanStatus.failed: set(),
        PlanStatus.applied: set(),
        PlanStatus.rejected: set(),
    },
)
