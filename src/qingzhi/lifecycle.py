"""The one lifecycle pattern every domain uses: a table of allowed transitions, checked on a
locked row, audited in the same transaction.

A domain declares its lifecycle once, as data::

    TASK = Lifecycle(
        noun="督办任务",
        labels={TaskStatus.draft: "草稿", ...},
        transitions={TaskStatus.draft: {TaskStatus.issued, TaskStatus.cancelled}, ...},
    )

and moves a record with :func:`move` on a row it read with :func:`locked` (``SELECT … FOR NO
KEY UPDATE`` on PostgreSQL; on SQLite the write transaction already holds the one writer lock
from its ``BEGIN IMMEDIATE``, and the row is read again inside it). A refused step is an
``InvalidTransition`` (409) naming both states and the allowed ones; an allowed one sets the
status and appends the audit record ``<entity_kind>.<target>`` with the before and after.

The incident lifecycle (``qingzhi.incidents.lifecycle``) is one of these; tasks, cases,
disputes and briefs declare theirs the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.errors import InvalidTransition

log = logging.getLogger(__name__)

S = TypeVar("S", bound=StrEnum)
M = TypeVar("M")


@dataclass(frozen=True)
class Lifecycle(Generic[S]):
    """The states of one kind of record, their Chinese names and the allowed transitions."""

    noun: str
    labels: Mapping[S, str]
    transitions: Mapping[S, Iterable[S]]
    table: Mapping[S, frozenset[S]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        table = {state: frozenset(targets) for state, targets in self.transitions.items()}
        states = set(self.labels)
        missing = states - set(table)
        unknown = {t for targets in table.values() for t in targets} - states
        if missing or unknown or set(table) - states:
            raise ValueError(
                f"lifecycle {self.noun}: every state needs a label and a row "
                f"(missing rows {sorted(missing)}, unknown targets {sorted(unknown)})"
            )
        object.__setattr__(self, "table", table)

    def label(self, state: S) -> str:
        """The Chinese name of a state."""
        return self.labels[state]

    def allowed(self, current: S) -> frozenset[S]:
        """The states ``current`` may move to."""
        return self.table[current]

    def is_final(self, state: S) -> bool:
        """True when nothing may follow ``state``."""
        return not self.table[state]

    def check(self, current: S, target: S) -> None:
        """Raise InvalidTransition (409) naming both states unless current → target is allowed."""
        allowed = self.table[current]
        if target in allowed:
            return
        names = "、".join(self.labels[s] for s in sorted(allowed)) or "无"
        raise InvalidTransition(
            f"{self.noun}状态不能从“{self.labels[current]}”变为“{self.labels[target]}”"
            f"（允许：{names}）",
            details={
                "from": current.value,
                "to": target.value,
                "allowed": sorted(s.value for s in allowed),
            },
        )


def locked(session: Session, model: type[M], row_id: int) -> M | None:
    """The row of ``model`` with primary key ``row_id``, read again and locked for the rest of
    the transaction (PostgreSQL ``FOR NO KEY UPDATE``: rows pointing at it are not held up),
    or None. Decisions on its state are made on this row, never on an earlier read."""
    statement = (
        select(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalar_one_or_none()


def step(
    *,
    lifecycle: Lifecycle[S],
    row: Any,
    target: S,
    entity_kind: str,
    unit_id: int | None,
    detail: Mapping[str, Any] | None = None,
) -> audit.Change:
    """What :func:`move` does to ``row`` without writing: the step checked against the table,
    the status set, and the audit change ``<entity_kind>.<target>`` returned for the caller to
    record in the same transaction (``audit.record_many``: many steps of a bulk load at once)."""
    current = type(target)(row.status)
    lifecycle.check(current, target)
    row.status = target
    log.debug("%s %s: %s → %s", entity_kind, row.id, current, target)
    return audit.Change(
        f"{entity_kind}.{target.value}",
        entity_kind,
        row.id,
        unit_id,
        diff={
            "before": {"status": current.value},
            "after": {"status": target.value},
            **(detail or {}),
        },
    )


def move(
    *,
    session: Session,
    actor: Actor,
    lifecycle: Lifecycle[S],
    row: Any,
    target: S,
    entity_kind: str,
    unit_id: int | None,
    detail: Mapping[str, Any] | None = None,
) -> S:
    """Move ``row`` (a locked row with a ``status`` column) to ``target`` if the lifecycle
    allows it, and append the audit record ``<entity_kind>.<target>`` (status before and after,
    plus ``detail``) in the same transaction. Returns the state it left."""
    current = type(target)(row.status)
    change = step(
        lifecycle=lifecycle,
        row=row,
        target=target,
        entity_kind=entity_kind,
        unit_id=unit_id,
        detail=detail,
    )
    session.flush()
    audit.record_many(session=session, changes=[change], actor=actor)
    return current
