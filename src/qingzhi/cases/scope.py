"""Where a case sits in the organisation, for access scope (the one statement of the rule).

A caller sees a case when its unit or a unit on its team is in their scope (``where`` /
``admits``); the same callers edit it (with ``case.write``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.cases.models import Case, CaseMember


def where(actor: Actor) -> ColumnElement[bool]:
    """The caller's cases, as a SQL condition."""
    if actor.scope.whole_bureau:
        return actor.scope.where()
    on_team = select(CaseMember.case_id).where(actor.scope.where(CaseMember.unit_id))
    return or_(actor.scope.where(Case.unit_id), Case.id.in_(on_team))


def team_units(session: Session, case_id: int) -> tuple[int, ...]:
    """The units on a case's team."""
    rows = session.scalars(select(CaseMember.unit_id).where(CaseMember.case_id == case_id))
    return tuple(sorted(set(rows)))


def admits(actor: Actor, case: Any, team: tuple[int, ...] = ()) -> bool:
    """Whether the caller may see (and, with case.write, edit) this case."""
    return actor.scope.admits(case.unit_id, *team)


def visible_id(session: Session, actor: Actor, case_id: int) -> bool:
    """Whether the case with this id exists and the caller may see it."""
    case = session.get(Case, case_id)
    return case is not None and admits(actor, case, team_units(session, case_id))
