"""Incident intake: every way in (the API, bulk intake, the CSV/Excel importer, the demo) goes
through one pass (``intake_many``; ``intake_posted`` for calls posted together, ``intake_batches``
for a stream of batches): idempotent on the source system's id, routed by jurisdiction, linked to
earlier calls about the same matter (``repeats``), and audited in the same transaction. A batch is
routed with one spatial query and written with bulk inserts, so the same code serves one call and
a year of them. An import's history (``IncidentImport``) is written as the lifecycle replayed it
(``lifecycle.history``): one event a step.
"""

from __future__ import annotations

import itertools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.community import links as community_links
from qingzhi.config import Settings
from qingzhi.errors import NotFound
from qingzhi.geo.datum import convert
from qingzhi.incidents import relinks, repeats
from qingzhi.incidents.lifecycle import TIME_FIELDS, Status, Step
from qingzhi.incidents.models import Incident, IncidentEvent
from qingzhi.incidents.reads import get, mask_phone, to_read
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.routing import RegionIndex, Route, last_index, region_index
from qingzhi.incidents.schemas import IncidentCreate, IncidentImport, IncidentRead
from qingzhi.incidents.search import index_at_commit, search_text
from qingzhi.live import hooks as live_hooks
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import allocate_ids, insert_rows
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

_TABLE = table_of(Incident)


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of an intake batch (results come in the items' order)."""

    incident_id: int
    created: bool


@dataclass
class _New:
    """A new call of a batch: its WGS-84 point, its row, its route and its repeat links (what
    ``repeats`` reads and marks: ``repeats.NewCall``)."""

    index: int
    item: IncidentCreate
    lon: float | None
    lat: float | None
    row: dict[str, Any] = field(default_factory=dict)  # the incident's row as far as known
    route: Route | None = None
    repeat_of: int | None = None  # id in the database, or
    repeat_of_new: int | None = None  # position in this batch's new items
    repeat_count: int = 0
    history: list[Step] | None = None  # an import's lifecycle steps, received first


_SNAPSHOT_FIELDS = (
    "source_id",
    "category",
    "subtype",
    "priority",
    "valid",
    "invalid_reason",
    "status",
    "unit_id",
    "station_id",
    "zone_id",
    "routed_by",
    "lon",
    "lat",
    "address",
    "repeat_of_id",
    "repeat_count",
)


def _snapshot(inc: dict[str, Any]) -> dict[str, Any]:
    """The audited fields of a new incident (the caller's phone masked: the audit is readable).
    Enum members are ``str``/``int`` subclasses and serialise as their values."""
    out = {k: inc[k] for k in _SNAPSHOT_FIELDS}
    out["received_at"] = inc["received_at"].isoformat()
    out["caller_phone"] = mask_phone(inc["caller_phone"])
    if "dispute_id" in inc:  # community: the dispute this call opened (community.links)
        out["dispute_id"] = inc["dispute_id"]
    return out


_BY_SOURCE = select(Incident.source_id, Incident.id).where(
    Incident.source_id.in_(bindparam("ids", expanding=True))
)


def _ids_by_source(session: Session, source_ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    connection = session.connection()
    for start in range(0, len(source_ids), 500):
        out.update(connection.execute(_BY_SOURCE, {"ids": source_ids[start : start + 500]}).all())
    return out


def intake_many(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    items: Sequence[IncidentCreate],
    action: str = "incident.create",
    link_repeats: bool = True,
) -> list[ItemResult]:
    """Take in a batch of incidents; existing source ids are returned, not duplicated.

    ``link_repeats=False`` is for records that are not calls (e.g. a crime register), where
    nearby records of one category are separate matters.
    """
    return _intake(
        session=session,
        actors=[actor] * len(items),
        settings=settings,
        items=items,
        action=action,
        link_repeats=link_repeats,
    )[0]


@dataclass
class _Prepared:
    """The part of a batch's intake that needs no database: each source id's first item with its
    WGS-84 coordinates and row (search text included; given an index, its route too)."""

    items: Sequence[IncidentCreate]
    first_of: dict[str, int]
    firsts: list[_New]
    index: RegionIndex | None


def _prepare(items: Sequence[IncidentCreate], index: RegionIndex | None) -> _Prepared:
    first_of: dict[str, int] = {}
    for i, item in enumerate(items):
        first_of.setdefault(item.source_id, i)
    firsts = [
        _New(i, item, None, None) for i, item in enumerate(items) if first_of[item.source_id] == i
    ]
    # Coordinates to WGS-84 (swapped coordinates are refused by the schema's range checks).
    by_datum: dict[str, list[_New]] = defaultdict(list)
    for n in firsts:
        if n.item.location is not None:
            by_datum[n.item.location.datum].append(n)
    for datum, group in by_datum.items():
        xs, ys = convert(
            [n.item.location.lon for n in group if n.item.location],
            [n.item.location.lat for n in group if n.item.location],
            source=datum,
            target="wgs84",
        )
        for n, x, y in zip(group, xs.tolist(), ys.tolist(), strict=True):
            n.lon, n.lat = x, y
    for n in firsts:
        item = n.item
        imp = item if isinstance(item, IncidentImport) else None
        if imp is not None:
            n.history = imp.history()
        n.row = {
            "source_id": item.source_id,
            "received_at": item.received_at,
            "category": item.category,
            "subtype": item.subtype,
            "description": item.description,
            "address": item.address,
            "caller_phone": item.caller_phone,
            "lon": n.lon,
            "lat": n.lat,
            "source_datum": str(item.location.datum) if item.location else None,
            "priority": int(item.priority),
            "valid": item.valid,
            "invalid_reason": str(item.invalid_reason) if item.invalid_reason else None,
            "status": n.history[-1].status if n.history else Status.received,
            **{name: getattr(imp, name) if imp else None for name in TIME_FIELDS},
            "source_type": imp.source_type if imp else None,
            "source_district": imp.source_district if imp else None,
            "source_beat": imp.source_beat if imp else None,
            "version": 1,
            "search_text": search_text(
                item.description,
                item.address,
                *((imp.source_type, imp.source_district, imp.source_beat) if imp else ()),
            ),
            "synthetic": imp.synthetic if imp else False,
        }
    if index is not None:
        _route(firsts, index)
    return _Prepared(items, first_of, firsts, index)


def _route(new: Sequence[_New], index: RegionIndex) -> None:
    """Routes for a batch: one spatial query for all located points, addresses for the rest."""
    located = [n for n in new if n.lon is not None]
    routes = (
        index.route_points(np.array([n.lon for n in located]), np.array([n.lat for n in located]))
        if located
        else []
    )
    for n, r in zip(located, routes, strict=True):
        _set_route(n, r)
    for n in new:
        if n.lon is None:
            _set_route(n, index.route_address(n.item.address))


def _set_route(n: _New, route: Route) -> None:
    n.route = route
    n.row.update(route.columns)


def intake_batches(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    batches: Iterable[Sequence[IncidentCreate]],
    action: str = "incident.create",
    link_repeats: bool = True,
    then: Callable[[Session, Sequence[IncidentCreate], list[ItemResult]], None] | None = None,
) -> Iterator[list[ItemResult]]:
    """``intake_many`` over a stream of batches, each in a transaction of its own (what the
    importer and the demo loader run). Drawing the next batch from ``batches`` (parsing and
    validating it) and its work that needs no database (coordinates, routing, search text)
    overlap the commit of the one before: ``Database.write_each``. Yields each batch's results
    once it is committed. ``then`` runs in each batch's transaction after its intake (the
    importer's corrections of existing incidents)."""
    url = str(db.engine.url)

    def job(session: Session, prepared: _Prepared) -> list[ItemResult]:
        results = _intake_prepared(
            session,
            prepared=prepared,
            actor=actor,
            settings=settings,
            action=action,
            link_repeats=link_repeats,
        )
        if then is not None:
            then(session, prepared.items, results)
        return results

    def jobs() -> Iterator[Callable[[Session], list[ItemResult]]]:
        for items in batches:
            yield partial(job, prepared=_prepare(items, last_index(url)))

    return db.write_each(jobs())


def prepare_batch(*, db: Database, items: Sequence[IncidentCreate]) -> _Prepared:
    """The part of a batch's intake that needs no write lock (coordinates, routing, search
    text), for ``intake_prepared``: what the API's bulk intake does before it takes the writer
    for each of its batches, so the writer is free meanwhile for the single calls waiting."""
    return _prepare(items, last_index(str(db.engine.url)))


def intake_prepared(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    prepared: _Prepared,
    action: str = "incident.create",
    link_repeats: bool = True,
) -> list[ItemResult]:
    """``intake_many`` of a batch made ready by ``prepare_batch``."""
    return _intake_prepared(
        session,
        prepared=prepared,
        actor=actor,
        settings=settings,
        action=action,
        link_repeats=link_repeats,
    )


def _intake_prepared(
    session: Session,
    *,
    prepared: _Prepared,
    actor: Actor,
    settings: Settings,
    action: str,
    link_repeats: bool,
) -> list[ItemResult]:
    return _intake(
        session=session,
        actors=[actor] * len(prepared.items),
        settings=settings,
        items=prepared,
        action=action,
        link_repeats=link_repeats,
    )[0]


def _intake(
    *,
    session: Session,
    actors: Sequence[Actor],
    settings: Settings,
    items: Sequence[IncidentCreate] | _Prepared,
    action: str,
    link_repeats: bool,
) -> tuple[list[ItemResult], dict[int, dict[str, Any]], RegionIndex]:
    """``intake_many`` with each item's own actor, also giving the inserted rows by id and the
    routing index used. ``items`` may come prepared (``_prepare``) outside the transaction."""
    for actor in {id(a): a for a in actors}.values():
        actor.require(Perm.incident_write)
    prepared = items if isinstance(items, _Prepared) else _prepare(items, None)
    items, first_of = prepared.items, prepared.first_of
    results: dict[int, ItemResult] = {}
    existing = _ids_by_source(session, list(first_of))
    new = sorted(
        (n for n in prepared.firsts if n.item.source_id not in existing),
        key=lambda n: n.item.received_at,
    )
    index = region_index(session)
    if index is not prepared.index:  # routed ahead with an index that has since changed
        _route(new, index)

    moves = relinks.Plan()
    if new and link_repeats:
        repeats.link_repeats(session, settings, new)
        moves = relinks.plan(session, settings, new)  # stored later calls these precede

    # Bulk insert the new incidents, with ids drawn first: a repeat of an incident of this same
    # batch points at it directly, and nothing is read back. They go in in time order (a batch
    # may come in any order): a first call is always earlier than its repeats, so it is written
    # before the rows that point at it (the foreign key is checked row by row; ``new`` was put
    # in time order before linking, so positions in it are what ``repeat_of_new`` names).
    now = utcnow()
    new_ids = allocate_ids(session.connection(), _TABLE, len(new))
    rows: list[dict[str, Any]] = []
    for iid, n in zip(new_ids, new, strict=True):
        row = n.row
        row["id"] = iid
        row["repeat_of_id"] = (
            new_ids[n.repeat_of_new] if n.repeat_of_new is not None else n.repeat_of
        )
        row["repeat_count"] = n.repeat_count
        row["created_at"] = row["updated_at"] = now
        rows.append(row)
    insert_rows(session.connection(), _TABLE, rows)
    index_at_commit(session, new_ids)
    bumped = repeats.count_repeats(session, actors, new, new_ids)
    bumped += relinks.apply(session, actors, new, new_ids, moves)

    # Lifecycle events: received, then the steps of an import's history (``lifecycle.history``).
    events = []
    for iid, n, row in zip(new_ids, new, rows, strict=True):
        name, unit_id = actors[n.index].name, row["unit_id"]
        events.append(
            {
                "incident_id": iid,
                "at": row["received_at"],
                "from_status": None,
                "to_status": "received",
                "actor": name,
                "unit_id": unit_id,
                "note": "",
            }
        )
        steps = n.history or ()
        for before, step in itertools.pairwise(steps):
            events.append(
                {
                    "incident_id": iid,
                    "at": step.at,
                    "from_status": str(before.status),
                    "to_status": str(step.status),
                    "actor": name,
                    "unit_id": unit_id,
                    "note": "导入",
                }
            )
    if events:
        insert_rows(session.connection(), table_of(IncidentEvent), events)
    # community (两队一室): a dispute for each dispute call, later calls linked to disputes
    if link_repeats:
        bumped += community_links.at_intake(
            session, settings, actors, [n.index for n in new], new_ids, rows
        )
    audit.record_many(
        session=session,
        changes=[
            audit.Change(
                action, "incident", iid, row["unit_id"], after=_snapshot(row), actor=actors[n.index]
            )
            for iid, n, row in zip(new_ids, new, rows, strict=True)
        ]
        + bumped,
    )
    live_hooks.incidents_created(session, new_ids, rows)
    for iid, n in zip(new_ids, new, strict=True):
        results[n.index] = ItemResult(iid, True)
    for i, item in enumerate(items):
        if i in results:
            continue
        sid = item.source_id
        if sid in existing:
            results[i] = ItemResult(existing[sid], False)
        else:
            results[i] = ItemResult(results[first_of[sid]].incident_id, False)
    return [results[i] for i in range(len(items))], dict(zip(new_ids, rows, strict=True)), index


def intake(
    *, session: Session, actor: Actor, settings: Settings, item: IncidentCreate
) -> tuple[IncidentRead, bool]:
    """Take in one incident; a repeat of its source id returns the existing record."""
    answer = intake_posted(session, [(actor, settings, item)])[0]
    if isinstance(answer, Exception):
        raise answer
    return answer


Posted = tuple[Actor, Settings, IncidentCreate]


def intake_posted(
    session: Session, posted: Sequence[Posted]
) -> list[tuple[IncidentRead, bool] | Exception]:
    """Take in incidents posted one by one (each with its caller), together: what
    ``Database.combine`` runs for the concurrent calls of ``POST /api/incidents``. Each answer is
    the incident (built from the row just written; a repeated source id gives the existing
    record, if the caller may see it) and whether it was created."""
    results, rows, index = _intake(
        session=session,
        actors=[actor for actor, _, _ in posted],
        settings=posted[0][1],
        items=[item for _, _, item in posted],
        action="incident.create",
        link_repeats=True,
    )
    names = index.unit_names
    answers: list[tuple[IncidentRead, bool] | Exception] = []
    for (actor, _, _), result in zip(posted, results, strict=True):
        row = rows.get(result.incident_id) if result.created else None
        if row is not None:
            inc = SimpleNamespace(**row)
            primaries = primaries_in_scope(session, actor, [inc])
            answers.append((to_read(inc, names, primaries=primaries), True))
            continue
        try:
            answers.append(
                (get(session=session, actor=actor, incident_id=result.incident_id), False)
            )
        except NotFound as exc:
            answers.append(exc)
    return answers
