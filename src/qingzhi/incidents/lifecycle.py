"""The incident lifecycle: statuses, the one table of allowed transitions, and the one map of
the statuses to the times kept of them.

received → dispatched → arrived → resolved → closed, plus transferred (to another unit, with a
reason) and cancelled. A call settled by telephone goes received → resolved.

A history imported with its times (a CAD export, the demo) is replayed through the same table
(``history``): a step the table refuses is refused naming its field, and no missing step is made
up; only a cancel, which comes without a time, is put at the time of the step before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from qingzhi.errors import InvalidTransition, ValidationFailed
from qingzhi.lifecycle import Lifecycle


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


INCIDENT = Lifecycle(noun="警情", labels=STATUS_LABELS, transitions=TRANSITIONS)


class AssignmentStatus(StrEnum):
    """Where one officer's assignment to an incident is: on the way, on scene, or done."""

    dispatched = "dispatched"
    arrived = "arrived"
    cleared = "cleared"

    @property
    def label(self) -> str:
        """Chinese name."""
        return ASSIGNMENT_LABELS[self]


ASSIGNMENT_LABELS = {
    AssignmentStatus.dispatched: "在途",
    AssignmentStatus.arrived: "已到场",
    AssignmentStatus.cleared: "已撤离",
}
ACTIVE_ASSIGNMENT = (AssignmentStatus.dispatched, AssignmentStatus.arrived)

# One officer sent to an incident (several per incident): dispatched → arrived → cleared, or
# recalled on the way (dispatched → cleared). The incident's own times follow from its
# assignments: it arrives when the first arrives, and is resolved when the last clears.
ASSIGNMENT = Lifecycle(
    noun="出警任务",
    labels=ASSIGNMENT_LABELS,
    transitions={
        AssignmentStatus.dispatched: {AssignmentStatus.arrived, AssignmentStatus.cleared},
        AssignmentStatus.arrived: {AssignmentStatus.cleared},
        AssignmentStatus.cleared: set(),
    },
)

# Statuses where a further dispatch adds units (增援) instead of moving the incident.
REINFORCEABLE = frozenset({Status.dispatched, Status.arrived})


def next_steps(current: Status) -> list[str]:
    """What an operator may do next with an incident in ``current``: the lifecycle's allowed
    targets in lifecycle order, plus ``reinforce`` (增援) while units are out."""
    steps = [s.value for s in Status if s in INCIDENT.allowed(current)]
    if current in REINFORCEABLE:
        steps.insert(0, "reinforce")
    return steps


def check_transition(current: Status, target: Status) -> None:
    """Raise InvalidTransition (409) naming both states unless current → target is allowed."""
    INCIDENT.check(current, target)


# ---------------------------------------------------------------- lifecycle times

# The one status ↔ timestamp map: the time an incident reached each of these statuses is kept in
# the column named here (received_at is the intake's own). In lifecycle order.
STATUS_TIME: dict[Status, str] = {
    Status.dispatched: "dispatched_at",
    Status.arrived: "arrived_at",
    Status.resolved: "resolved_at",
    Status.closed: "closed_at",
}
TIME_FIELDS = tuple(STATUS_TIME.values())
TIME_LABELS = {
    Status.dispatched: "派警时间",
    Status.arrived: "到场时间",
    Status.resolved: "处置完毕时间",
    Status.closed: "结警时间",
}


class Step(NamedTuple):
    """One step of an incident's history: the status it reached, and when."""

    status: Status
    at: dt.datetime


def stamp(record: Any, status: Status, at: dt.datetime) -> None:
    """Set on ``record`` the time of reaching ``status`` (its ``STATUS_TIME`` column), if it has
    one; a dispatch keeps the first dispatch time (an incident transferred and dispatched again
    was dispatched when it first was)."""
    name = STATUS_TIME.get(status)
    if name is not None and not (status == Status.dispatched and record.dispatched_at):
        setattr(record, name, at)


def history(
    received_at: dt.datetime,
    times: Mapping[str, dt.datetime | None],
    *,
    cancelled: bool = False,
    closed: bool = False,
) -> list[Step]:
    """The history of an imported record: ``received`` at ``received_at``, then each lifecycle
    time it carries (``times`` by ``STATUS_TIME`` column) in lifecycle order, then the cancel.

    Every step is replayed through ``check_transition`` from the one before, so an imported
    history is one the lifecycle could have made. Nothing is inferred but the cancel's time: a
    record says that it was cancelled, not when, so the cancel is put at its last step's time.
    No missing step is made up (an arrival without a dispatch, a close without a resolution): a
    step the table refuses, or a time before the step it follows, raises ValidationFailed naming
    the field (``arrived_at``, ``cancelled`` …). ``closed`` (a record that says it is closed) is
    put at its last step's time, as a cancel is, through "resolved" where the table allows it."""
    steps = [Step(Status.received, received_at)]
    last_field = "received_at"
    for status, name in STATUS_TIME.items():
        at = times.get(name)
        if at is None:
            continue
        _replay(steps[-1].status, status, name)
        if at < steps[-1].at:
            raise ValidationFailed.field(name, f"早于 {last_field}")
        steps.append(Step(status, at))
        last_field = name
    if cancelled:
        _replay(steps[-1].status, Status.cancelled, "cancelled")
        steps.append(Step(Status.cancelled, steps[-1].at))
    elif closed and steps[-1].status != Status.closed:
        # A record that says it is closed but not when (a CAD export's status column): closed
        # at its last step's time, through "resolved" where the table allows it (from received
        # or arrived); a dispatch without an arrival cannot be closed (the field: ``status``).
        at = steps[-1].at
        if steps[-1].status != Status.resolved:
            _replay(steps[-1].status, Status.resolved, "status")
            steps.append(Step(Status.resolved, at))
        steps.append(Step(Status.closed, at))
    return steps


def _replay(current: Status, target: Status, field: str) -> None:
    """``check_transition`` for a step of an imported history; refused: ValidationFailed naming
    the field that carries the step, and the time the table wanted before it."""
    try:
        check_transition(current, target)
    except InvalidTransition:
        step = f"{current.label} → {target.label} 不允许"
        if target == Status.cancelled:
            had = (
                f"{TIME_LABELS[current]}（{STATUS_TIME[current]}）"
                if current in TIME_LABELS
                else ""
            )
            raise ValidationFailed.field(field, f"已有{had}的警情不能撤销：{step}") from None
        needed = "或".join(
            f"{TIME_LABELS[s]}（{STATUS_TIME[s]}）" for s in STATUS_TIME if target in TRANSITIONS[s]
        )
        raise ValidationFailed.field(
            field, f"没有{needed}不能有{TIME_LABELS[target]}：{step}"
        ) from None
