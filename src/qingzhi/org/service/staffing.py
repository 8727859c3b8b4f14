"""Staffing: officers per 10,000 residents (警力万人比) of each unit and of the bureau; a central
station counts with its bundled members.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Officer, Unit
from qingzhi.org.schemas import OrgSummary, Staffing, UnitRead
from qingzhi.org.service.records import bureau
from qingzhi.store.rows import read_of

log = logging.getLogger(__name__)


def per_10k(sworn: int, population: int | None) -> float | None:
    """Officers per 10,000 residents (警力万人比), to two decimals; None without a population."""
    if not population:
        return None
    return round(sworn * 10_000 / population, 2)


def _counts(
    session: Session, *, unit_ids: Iterable[int] | None = None, actor: Actor | None = None
) -> dict[int, dict[str, int]]:
    """Active sworn and auxiliary officers by unit: of ``unit_ids``, or in ``actor``'s scope."""
    query = (
        select(Officer.unit_id, Officer.kind, func.count())
        .where(Officer.active.is_(True))
        .group_by(Officer.unit_id, Officer.kind)
    )
    if unit_ids is not None:
        query = query.where(Officer.unit_id.in_(list(unit_ids)))
    if actor is not None:
        query = org_scope.officers(query, actor)
    out: dict[int, dict[str, int]] = defaultdict(lambda: {"sworn": 0, "auxiliary": 0})
    for unit_id, kind, n in session.execute(query):
        out[unit_id][str(kind)] = n
    return out


def _effective(
    unit: Unit, members: Sequence[Unit], counts: dict[int, dict[str, int]]
) -> tuple[int | None, int, int]:
    """Population, sworn and auxiliary of a unit; a central station adds its members'."""
    group = [unit, *members]
    sworn = sum(counts[u.id]["sworn"] for u in group)
    aux = sum(counts[u.id]["auxiliary"] for u in group)
    population = unit.population
    if population is None and members:
        pops = [m.population for m in members if m.population is not None]
        population = sum(pops) if pops else None
    return population, sworn, aux


def _members_map(session: Session, units: Sequence[Unit]) -> dict[int, list[Unit]]:
    ids = [u.id for u in units if u.kind == UnitKind.central_station]
    out: dict[int, list[Unit]] = defaultdict(list)
    if ids:
        rows = session.execute(select(Unit).where(Unit.central_id.in_(ids)).order_by(Unit.code))
        for m in rows.scalars():
            assert m.central_id is not None
            out[m.central_id].append(m)
    return out


def unit_reads(session: Session, units: Sequence[Unit]) -> list[UnitRead]:
    """The units as the API reads them, with their (and their members') staffing."""
    members = _members_map(session, units)
    ids = {u.id for u in units} | {m.id for ms in members.values() for m in ms}
    counts = _counts(session, unit_ids=ids)
    out = []
    for u in units:
        population, sworn, aux = _effective(u, members[u.id], counts)
        out.append(
            read_of(
                UnitRead,
                u,
                kind_label=u.kind.label,
                member_ids=[m.id for m in members[u.id]],
                population=population,
                sworn=sworn,
                auxiliary=aux,
                officers_per_10k=per_10k(sworn, population),
            )
        )
    return out


def summary(*, session: Session, actor: Actor) -> OrgSummary:
    """Officers per 10,000 residents for the bureau (or the caller's area) and each unit."""
    actor.require(Perm.org_read)
    b = bureau(session)
    units = unit_reads(
        session, session.scalars(org_scope.units(select(Unit), actor).order_by(Unit.code)).all()
    )
    counts = _counts(session, actor=actor)
    sworn = sum(c["sworn"] for c in counts.values())
    aux = sum(c["auxiliary"] for c in counts.values())
    if actor.scope.whole_bureau:
        population = b.population
        if population is None:
            population = sum(u.population or 0 for u in units if u.kind.is_station) or None
        top = Staffing(
            code=b.code,
            name=b.name,
            population=population,
            sworn=sworn,
            auxiliary=aux,
            officers_per_10k=per_10k(sworn, population),
        )
    else:
        own = next(u for u in units if u.id == actor.unit_id)
        top = Staffing(**own.model_dump(include=set(Staffing.model_fields)))
    return OrgSummary(
        bureau=top,
        units=[Staffing(**u.model_dump(include=set(Staffing.model_fields))) for u in units],
    )
