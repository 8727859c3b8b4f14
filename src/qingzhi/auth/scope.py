"""Access scope: the whole bureau, or one unit (a central station's scope includes its members).

Scope is enforced in services: every query that returns police data filters on
``Scope.unit_ids`` unless the scope is the whole bureau.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from qingzhi.org.models import Unit


@dataclass(frozen=True)
class Scope:
    """The set of units whose data a caller may see; ``None`` means the whole bureau."""

    units: frozenset[int] | None

    @classmethod
    def bureau(cls) -> Scope:
        """The whole bureau."""
        return cls(None)

    @classmethod
    def of_unit(cls, unit_id: int | None, members: Iterable[int] = ()) -> Scope:
        """A user's scope: their unit with a central station's members, or the whole bureau
        for a user attached to no unit."""
        return cls.bureau() if unit_id is None else cls(frozenset([unit_id, *members]))

    @property
    def whole_bureau(self) -> bool:
        """True when nothing is filtered."""
        return self.units is None

    @property
    def unit_ids(self) -> frozenset[int]:
        """The units in scope (only meaningful when not the whole bureau)."""
        return self.units or frozenset()

    def contains(self, unit_id: int | None) -> bool:
        """Whether data owned by ``unit_id`` is visible."""
        return self.units is None or (unit_id is not None and unit_id in self.units)


_MEMBERS = select(Unit.id).where(Unit.central_id == bindparam("unit"))


def scope_for_unit(session: Session, unit_id: int | None) -> Scope:
    """The scope of a user attached to ``unit_id`` (``None``: the whole bureau)."""
    if unit_id is None:
        return Scope.bureau()
    return Scope.of_unit(
        unit_id, session.connection().execute(_MEMBERS, {"unit": unit_id}).scalars()
    )
