"""Where a plan sits for access scope: the unit it was made for (``Plan.unit_id``).

A plan made by a bureau-wide account (``unit_id`` None) holds every station's workload and
officers: only callers with the bureau's scope see it. A plan placed in a unit is seen by
callers whose scope admits that unit (a central station's chief sees its members' plans).
A plan outside the caller's scope is a 404.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

from qingzhi.auth.context import Actor
from qingzhi.plans.models import Plan

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


def plans(query: SelectT, actor: Actor) -> SelectT:
    """Restrict a plan query to the caller's scope."""
    return actor.scope.apply(query, Plan.unit_id)


def admits(actor: Actor, plan: Plan) -> bool:
    """Whether the caller may see ``plan``."""
    return actor.scope.admits(plan.unit_id)
