"""Access scope: the whole bureau, or one unit (a central station's scope includes its members).

The one rule of "what may this caller see", in two forms:

- SQL: ``scope.where(*columns)`` is the condition "one of these unit columns is in scope" (true
  for the whole bureau), and ``scope.apply(query, *columns)`` adds it to a query (unchanged for
  the whole bureau);
- Python: ``scope.admits(*unit_ids)`` says whether a row owned by any of those units is visible.

Each domain names the columns that place its rows in a unit once, in its own ``scope.py``
(``incidents.scope``: the handling unit or the territorial station; ``org.scope``: a unit, a
zone's station, an officer's unit), and every scoped read goes through them; no view, page or
template filters by scope itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, false, or_, select, true
from sqlalchemy.orm import Session

from qingzhi.org.models import Unit

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


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
    def key(self) -> tuple[int, ...] | None:
        """A hashable, JSON-ready form (for cache keys and job parameters)."""
        return None if self.units is None else tuple(sorted(self.units))

    def admits(self, *unit_ids: int | None) -> bool:
        """Whether a row owned by any of ``unit_ids`` is visible (the Python form)."""
        if self.units is None:
            return True
        return any(u is not None and u in self.units for u in unit_ids)

    def where(self, *columns: Any) -> ColumnElement[bool]:
        """The SQL form: one of ``columns`` (unit ids) is in scope."""
        if self.units is None:
            return true()
        if not self.units or not columns:
            return false()
        units = sorted(self.units)
        return or_(*(column.in_(units) for column in columns))

    def apply(self, query: SelectT, *columns: Any) -> SelectT:
        """``query`` restricted to rows whose ``columns`` hold a unit in scope."""
        if self.units is None:
            return query
        return query.where(self.where(*columns))


_MEMBERS = select(Unit.id).where(Unit.central_id == bindparam("unit"))


def scope_for_unit(session: Session, unit_id: int | None) -> Scope:
    """The scope of a user attached to ``unit_id`` (``None``: the whole bureau)."""
    if unit_id is None:
        return Scope.bureau()
    return Scope.of_unit(
        unit_id, session.connection().execute(_MEMBERS, {"unit": unit_id}).scalars()
    )
