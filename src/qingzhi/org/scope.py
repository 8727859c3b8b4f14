"""Where the organisation's rows sit, for access scope (the one statement of the rule): a unit
is its own (a bundled member is also seen from its central station's scope, which holds it), a
zone belongs to its station, an officer to their unit.

Views and pages never filter by scope themselves: they call these.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select

from qingzhi.auth.context import Actor
from qingzhi.org.models import Officer, Unit, Zone

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


def units(query: SelectT, actor: Actor) -> SelectT:
    """Units in the caller's scope."""
    return actor.scope.apply(query, Unit.id)


def unit_layer(actor: Actor) -> ColumnElement[bool]:
    """Units drawn on the caller's map: in scope, or bundled under a central station in scope."""
    return actor.scope.where(Unit.id, Unit.central_id)


def zones(query: SelectT, actor: Actor) -> SelectT:
    """Zones of stations in the caller's scope."""
    return actor.scope.apply(query, Zone.station_id)


def officers(query: SelectT, actor: Actor) -> SelectT:
    """Officers of units in the caller's scope."""
    return actor.scope.apply(query, Officer.unit_id)


def admits_unit(actor: Actor, unit_id: int | None) -> bool:
    """Whether the unit is in the caller's scope."""
    return actor.scope.admits(unit_id)


def admits_zone(actor: Actor, zone: Zone) -> bool:
    """Whether the zone's station is in the caller's scope."""
    return actor.scope.admits(zone.station_id)


def admits_officer(actor: Actor, officer: Officer) -> bool:
    """Whether the officer's unit is in the caller's scope."""
    return actor.scope.admits(officer.unit_id)
