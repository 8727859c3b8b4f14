"""Job states and the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """queued → running → done | failed (a queued job may fail without running)."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


STATUS_LABELS = {
    JobStatus.queued: "排队中",
    JobStatus.running: "计算中",
    JobStatus.done: "已完成",
    JobStatus.failed: "失败",
}

# To each state from the states it may be reached from.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.running: frozenset({JobStatus.queued}),
    JobStatus.done: frozenset({JobStatus.running}),
    JobStatus.failed: frozenset({JobStatus.queued, JobStatus.running}),
}
ACTIVE = (JobStatus.queued, JobStatus.running)
# The WHERE term of the unique partial index on active keys, word for word.
ACTIVE_STATUS_SQL = "status IN ('queued', 'running')"
