"""The task lifecycle (督办), one table: draft → issued → accepted → in progress → submitted →
verified; submitted → returned → in progress; any open state → cancelled by the issuer.

Also the task's kinds of source and its priorities, with their Chinese names.
"""

from __future__ import annotations

from enum import StrEnum

from qingzhi.lifecycle import Lifecycle


class TaskStatus(StrEnum):
    """Where a task is in its lifecycle."""

    draft = "draft"
    issued = "issued"
    accepted = "accepted"
    in_progress = "in_progress"
    submitted = "submitted"
    returned = "returned"
    verified = "verified"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        """Chinese name."""
        return TASK.label(self)


TASK = Lifecycle(
    noun="督办任务",
    labels={
        TaskStatus.draft: "草稿",
        TaskStatus.issued: "已下发",
        TaskStatus.accepted: "已签收",
        TaskStatus.in_progress: "办理中",
        TaskStatus.submitted: "已提交",
        TaskStatus.returned: "已退回",
        TaskStatus.verified: "已核销",
        TaskStatus.cancelled: "已撤销",
    },
    transitions={
        TaskStatus.draft: {TaskStatus.issued, TaskStatus.cancelled},
        TaskStatus.issued: {TaskStatus.accepted, TaskStatus.cancelled},
        TaskStatus.accepted: {TaskStatus.in_progress, TaskStatus.cancelled},
        TaskStatus.in_progress: {TaskStatus.submitted, TaskStatus.cancelled},
        TaskStatus.submitted: {TaskStatus.verified, TaskStatus.returned, TaskStatus.cancelled},
        TaskStatus.returned: {TaskStatus.in_progress, TaskStatus.cancelled},
        TaskStatus.verified: set(),
        TaskStatus.cancelled: set(),
    },
)

# The states in which the owner has work to do: a deadline passing in one makes the task overdue.
OWNER_OPEN = (
    TaskStatus.issued,
    TaskStatus.accepted,
    TaskStatus.in_progress,
    TaskStatus.returned,
)
# The states in which a progress report is expected on the feedback cadence.
REPORTING = (TaskStatus.accepted, TaskStatus.in_progress, TaskStatus.returned)
OPEN = tuple(s for s in TaskStatus if not TASK.is_final(s))
# Who moves a task into each state: the issuer's side or the owner's.
BY_ISSUER = frozenset(
    {TaskStatus.issued, TaskStatus.verified, TaskStatus.returned, TaskStatus.cancelled}
)
BY_OWNER = frozenset({TaskStatus.accepted, TaskStatus.in_progress, TaskStatus.submitted})


class SourceKind(StrEnum):
    """What a task was issued from."""

    none = "none"
    brief_finding = "brief_finding"
    warning = "warning"
    hotspot = "hotspot"
    incident = "incident"
    case = "case"
    visit = "visit"  # a community visit's finding (community.visits.open_task)

    @property
    def label(self) -> str:
        """Chinese name."""
        return SOURCE_LABELS[self]


SOURCE_LABELS = {
    SourceKind.none: "无",
    SourceKind.brief_finding: "研判发现",
    SourceKind.warning: "预警",
    SourceKind.hotspot: "治安乱点",
    SourceKind.incident: "警情",
    SourceKind.case: "案件",
    SourceKind.visit: "走访发现",
}

PRIORITY_LABELS = {1: "特急", 2: "紧急", 3: "一般", 4: "常规"}
