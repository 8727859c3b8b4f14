"""Where community records sit, for access scope (the one statement of the rule): a post, a
partner, a visit and a dispute belong to their station (``station_id``) and zone (``zone_id``).

A caller sees them through the one ``Scope`` of their station (a central station's with its
members, or the whole bureau); a community-team officer or auxiliary signed in with their own
officer record sees only their zone's (``zones_of``). Every service, view and page goes through
``view_of`` and its two forms: ``where`` (SQL) and ``admits`` (Python).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.models import User
from qingzhi.auth.permissions import Role
from qingzhi.org.enums import Team
from qingzhi.org.models import Officer

log = logging.getLogger(__name__)

_FIELD_ROLES = frozenset({Role.officer, Role.auxiliary})


def zones_of(session: Session, actor: Actor) -> frozenset[int] | None:
    """The zones a community-team officer's account is limited to (their own zone; none if
    they have none), or None for everyone else (their station's scope is the limit)."""
    if actor.role not in _FIELD_ROLES or actor.user_id is None:
        return None
    row = session.execute(
        select(Officer.team, Officer.zone_id)
        .join(User, User.officer_id == Officer.id)
        .where(User.id == actor.user_id)
    ).first()
    if row is None or row.team != Team.community:
        return None
    return frozenset() if row.zone_id is None else frozenset({row.zone_id})


@dataclass(frozen=True)
class View:
    """What one caller may see of community records."""

    actor: Actor
    zones: frozenset[int] | None

    def where(self, station: Any, zone: Any) -> ColumnElement[bool]:
        """The SQL form: the row's station is in scope (and its zone, for a zone officer)."""
        condition = self.actor.scope.where(station)
        if self.zones is None:
            return condition
        if not self.zones:
            return false()
        return and_(condition, zone.in_(sorted(self.zones)))

    def admits(self, station_id: int | None, zone_id: int | None) -> bool:
        """The Python form of ``where`` for one row."""
        if not self.actor.scope.admits(station_id):
            return False
        return self.zones is None or (zone_id is not None and zone_id in self.zones)

    def admits_row(self, row: Any) -> bool:
        """``admits`` for a row with ``station_id`` and ``zone_id``."""
        return self.admits(row.station_id, row.zone_id)


def view_of(session: Session, actor: Actor) -> View:
    """The caller's view of community records."""
    return View(actor, zones_of(session, actor))
