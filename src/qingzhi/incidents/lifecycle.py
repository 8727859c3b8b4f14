"""The incident lifecycle: statuses and the one table of allowed transitions.

received → dispatched → arrived → resolved → closed, plus transferred (to another unit, with a
reason) and cancelled. A call settled by telephone goes received → resolved.
"""

from __future__ import annotations

from enum import StrEnum

from qingzhi.errors import InvalidTransition


class Status(StrEnum):
    """Where an incident is in its lifecycle."""

    received = "received"
    dispatched = "dispatched"
    arrived = "arrived"
    resolved = "resolved"
    closed = "closed"
    transferred = "transferred"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        """Chinese name."""
        return STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        """True while police work on it is not finished."""
        return self not in (Status.resolved, Status.closed, Status.cancelled)


STATUS_LABELS = {
    Status.received: "接警",
    Status.dispatched: "已派警",
    Status.arrived: "已到场",
    Status.resolved: "处置完毕",
    Status.closed: "已结警",
    Status.transferred: "已移交",
    Status.cancelled: "已撤销",
}

OPEN_STATUSES = tuple(s for s in Status if s.is_open)
# The WHERE term of the partial index ix_incident_open (migration 0004), word for word.
OPEN_STATUS_SQL = "status IN ('received', 'dispatched', 'arrived', 'transferred')"

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.received: frozenset(
        {Status.dispatched, Status.transferred, Status.cancelled, Status.resolved}
    ),
    Status.transferred: frozenset({Status.dispatched, Status.transferred, Status.cancelled}),
    Status.dispatched: frozenset({Status.arrived, Status.transferred, Status.cancelled}),
    Status.arrived: frozenset({Status.resolved, Status.transferred}),
    Status.resolved: frozenset({Status.closed}),
    Status.closed: frozenset(),
    Status.cancelled: frozenset(),
}


def check_transition(current: Status, target: Status) -> None:
    """Raise InvalidTransition (409) naming both states unless current → target is allowed."""
    if target not in TRANSITIONS[current]:
        allowed = "、".join(s.label for s in sorted(TRANSITIONS[current])) or "无"
        raise InvalidTransition(
            f"警情状态不能从“{current.label}”变为“{target.label}”（允许：{allowed}）",
            details={
                "from": current.value,
                "to": target.value,
                "allowed": sorted(s.value for s in TRANSITIONS[current]),
            },
        )
