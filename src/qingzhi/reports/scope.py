"""Where a brief sits in the organisation, for access scope: its unit (a bureau brief, unit
None, is seen only with the whole bureau's scope; a central station's scope holds its members'
briefs). The one statement of the rule for the briefs domain."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select

from qingzhi.auth.context import Actor
from qingzhi.reports.models import Brief

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


def briefs(query: SelectT, actor: Actor) -> SelectT:
    """Restrict a brief query to the caller's scope."""
    return actor.scope.apply(query, Brief.unit_id)


def admits(actor: Actor, brief: Brief) -> bool:
    """Whether the caller may see this brief."""
    return actor.scope.whole_bureau or actor.scope.admits(brief.unit_id)


def scope_key(unit_id: int | None) -> str:
    """The archive's key of a brief's scope: "bureau" or "unit:<id>"."""
    return "bureau" if unit_id is None else f"unit:{unit_id}"
