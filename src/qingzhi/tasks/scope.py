"""Where a task sits in the organisation, for access scope (the one statement of the rule).

A caller sees a task when its owner unit, its issuing unit or one of its co-operating units is in
their scope (``where`` / ``admits``); the owner's side (the owner unit, or a co-operating unit)
accepts and reports (``owns``); the issuer's side verifies, returns and cancels (``issues``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, union

from qingzhi.auth.context import Actor
from qingzhi.tasks.models import Task, TaskUnit

COLUMNS = (Task.owner_unit_id, Task.issuer_unit_id)


def where(actor: Actor) -> ColumnElement[bool]:
    """The caller's tasks, as a SQL condition."""
    if actor.scope.whole_bureau:
        return actor.scope.where()
    # One indexed look-up per column, their ids united (an OR of the three would scan).
    ids = union(
        select(Task.id).where(actor.scope.where(Task.owner_unit_id)),
        select(Task.id).where(actor.scope.where(Task.issuer_unit_id)),
        select(TaskUnit.task_id).where(actor.scope.where(TaskUnit.unit_id)),
    )
    return Task.id.in_(ids.scalar_subquery())


def admits(actor: Actor, task: Any, helpers: tuple[int, ...] = ()) -> bool:
    """Whether the caller may see this task (``helpers``: its co-operating units' ids)."""
    return actor.scope.admits(task.owner_unit_id, task.issuer_unit_id, *helpers)


def owns(actor: Actor, task: Any, helpers: tuple[int, ...] = ()) -> bool:
    """Whether the caller is on the owner's side: a user of the owner unit or a co-operating
    unit (a central station's users for its member stations too). Bureau-wide users, who are
    attached to no unit, issue and verify but do not accept or report for a unit."""
    return actor.unit_id is not None and actor.scope.admits(task.owner_unit_id, *helpers)


def issues(actor: Actor, task: Any) -> bool:
    """Whether the caller is on the issuer's side (the issuing unit; a task the bureau issued,
    with no unit, is the bureau's)."""
    if task.issuer_unit_id is None:
        return actor.scope.whole_bureau
    return actor.scope.admits(task.issuer_unit_id)
