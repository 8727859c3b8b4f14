"""Where an incident sits in the organisation, for access scope: its handling unit or the
territorial station whose jurisdiction holds the place (the one statement of the rule).

A caller sees an incident when either is in their scope (``where`` / ``in_scope``); only the
handling unit (with its central station) or the whole bureau moves it along its lifecycle
(``handles``). Also the two predicates every count of incidents shares: open incidents
(``open_only``) and counted incidents (``counted``: valid, and not a repeat of an earlier call,
which is counted once through that call).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, text

from qingzhi.auth.context import Actor
from qingzhi.incidents.lifecycle import OPEN_STATUS_SQL, OPEN_STATUSES
from qingzhi.incidents.models import Incident

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")

COLUMNS = (Incident.unit_id, Incident.station_id)


def where(actor: Actor) -> ColumnElement[bool]:
    """The caller's incidents, as a SQL condition."""
    return actor.scope.where(*COLUMNS)


def scope_filter(query: SelectT, actor: Actor) -> SelectT:
    """Restrict an incident query to the caller's scope (handling unit or territorial station)."""
    return actor.scope.apply(query, *COLUMNS)


def in_scope(actor: Actor, incident: Any) -> bool:
    """Whether the caller may see this incident (a row or anything with its unit columns)."""
    return actor.scope.admits(incident.unit_id, incident.station_id)


def handles(actor: Actor, incident: Any) -> bool:
    """Whether the caller's scope holds the incident's handling unit (who may move it)."""
    return actor.scope.admits(incident.unit_id)


def open_only() -> ColumnElement[bool]:
    """Open incidents: their statuses, and the WHERE term of the partial index ix_incident_open
    word for word (SQLite uses a partial index only when the query repeats it)."""
    return and_(Incident.status.in_(OPEN_STATUSES), text(f"incident.{OPEN_STATUS_SQL}"))


def counted() -> ColumnElement[bool]:
    """Counted incidents (有效警情, each matter once): valid and not a repeat call. Every count
    the big screen, the analysis and the briefs show uses it."""
    return and_(Incident.valid.is_(True), Incident.repeat_of_id.is_(None))
