"""Incident intake, reading, lifecycle transitions and the timeline.

Every way in (the API, bulk intake, the CSV/Excel importer, the demo) goes through one intake
pass (``intake_many``; ``intake_posted`` for calls posted together, ``intake_batches`` for a
stream of batches): idempotent on the source system's id, routed by jurisdiction, linked to
earlier calls about the same matter, and audited in the same transaction. A batch is routed with
one spatial query and written with bulk inserts, so the same code serves one call and a year of
them.

Repeat calls are linked bureau-wide (the matter is the same whoever took the call) and stored so;
what a caller sees is scoped: ``to_read`` names the first call only when it is in the caller's
scope, else gives the neutral ``repeat_elsewhere`` (此前有跨所报警) without its id, and the
timeline does the same for linked calls and the audit entries that name them. Raising another
incident's repeat count is audited on that incident (``incident.repeat_linked``).

Transitions (dispatch included) are decided on the incident's locked row, and officers to be
sent on their locked live rows (``_movable``, ``live_hooks.officers_held``); only the handling
unit (or the whole bureau) moves an incident.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import bindparam, or_, select, union_all, update
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import NotFound, PermissionDenied, ValidationFailed
from qingzhi.geo.datum import convert
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m
from qingzhi.incidents.enums import Category, Priority, RoutedBy, subtype_label
from qingzhi.incidents.lifecycle import TIME_FIELDS, Status, Step, check_transition, stamp
from qingzhi.incidents.models import Incident, IncidentAssignment, IncidentEvent
from qingzhi.incidents.routing import RegionIndex, Route, last_index, region_index
from qingzhi.incidents.schemas import (
    IncidentCreate,
    IncidentImport,
    IncidentRead,
    TimelineEntry,
    Transition,
)
from qingzhi.incidents.scope import handles, in_scope, scope_filter
from qingzhi.incidents.search import index_at_commit, search_text
from qingzhi.live import hooks as live_hooks
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Officer, Unit
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import allocate_ids, insert_rows
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

_TABLE = table_of(Incident)


def mask_phone(phone: str | None) -> str | None:
    """A phone number with its middle digits hidden (138****5678)."""
    if not phone:
        return phone
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) <= 4:
        return "*" * len(digits)
    keep = 3 if len(digits) >= 7 else 1
    return digits[:keep] + "*" * (len(digits) - keep - 4) + digits[-4:]


# ---------------------------------------------------------------- intake


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one item of an intake batch (results come in the items' order)."""

    incident_id: int
    created: bool


@dataclass
class _New:
    index: int
    item: IncidentCreate
    lon: float | None
    lat: float | None
    row: dict[str, Any] = field(default_factory=dict)  # the incident's row as far as known
    route: Route | None = None
    repeat_of: int | None = None  # id in the database, or
    repeat_of_new: int | None = None  # position in this batch's new items
    repeat_count: int = 0
    history: list[Step] | None = None  # an import's lifecycle steps after its reception


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
            "search_text": search_text(item.description, item.address),
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
) -> Iterator[list[ItemResult]]:
    """``intake_many`` over a stream of batches, each in a transaction of its own (what the
    importer and the demo loader run). Drawing the next batch from ``batches`` (parsing and
    validating it) and its work that needs no database (coordinates, routing, search text)
    overlap the commit of the one before: ``Database.write_each``. Yields each batch's results
    once it is committed."""
    url = str(db.engine.url)

    def jobs() -> Iterator[Callable[[Session], list[ItemResult]]]:
        for items in batches:
            prepared = _prepare(items, last_index(url))
            yield partial(
                _intake_prepared,
                prepared=prepared,
                actor=actor,
                settings=settings,
                action=action,
                link_repeats=link_repeats,
            )

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
    new = [n for n in prepared.firsts if n.item.source_id not in existing]
    index = region_index(session)
    if index is not prepared.index:  # routed ahead with an index that has since changed
        _route(new, index)

    if new and link_repeats:
        _link_repeats(session, settings, new)

    # Bulk insert the new incidents, with ids drawn first: a repeat of an incident of this same
    # batch points at it directly, and nothing is read back.
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
    bumped = _count_repeats(session, actors, new, new_ids)

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


_PRIMARIES_LOCKED = (
    select(_TABLE.c.id, _TABLE.c.unit_id, _TABLE.c.repeat_count)
    .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_TABLE.c.id)
    .with_for_update(key_share=True)
)
_BUMP = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("_id"))
    .values(repeat_count=_TABLE.c.repeat_count + bindparam("_rep"))
)


def _count_repeats(
    session: Session, actors: Sequence[Actor], new: Sequence[_New], new_ids: Sequence[int]
) -> list[audit.Change]:
    """Raise the repeat count of every first call already in the database that new calls
    repeat, on its locked row (by id, as transitions lock), and give the audit record of each:
    ``incident.repeat_linked`` on the first call, in its unit, by the caller who linked it, with
    the count before and after and the new calls' ids. (A first call of the same batch is
    inserted with its count, and audited with it in its creation record.)"""
    linked: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for iid, n in zip(new_ids, new, strict=True):
        if n.repeat_of is not None:
            linked[n.repeat_of][id(actors[n.index])].append(iid)
    if not linked:
        return []
    by_key = {id(a): a for a in actors}
    connection = session.connection()
    ids = sorted(linked)
    current: dict[int, tuple[int | None, int]] = {}
    for start in range(0, len(ids), 500):
        for pid, unit_id, count in connection.execute(
            _PRIMARIES_LOCKED, {"ids": ids[start : start + 500]}
        ):
            current[pid] = (unit_id, count)
    connection.execute(
        _BUMP,
        [{"_id": pid, "_rep": sum(map(len, linked[pid].values()))} for pid in ids],
    )
    session.expire_all()
    changes = []
    for pid in ids:
        unit_id, count = current[pid]
        for key, repeats in linked[pid].items():
            changes.append(
                audit.Change(
                    "incident.repeat_linked",
                    "incident",
                    pid,
                    unit_id,
                    diff={
                        "before": {"repeat_count": count},
                        "after": {"repeat_count": count + len(repeats)},
                        "repeat_ids": repeats,
                    },
                    actor=by_key[key],
                )
            )
            count += len(repeats)
    return changes


_EARLIER = select(
    _TABLE.c.id,
    _TABLE.c.repeat_of_id,
    _TABLE.c.received_at,
    _TABLE.c.caller_phone,
    _TABLE.c.category,
    _TABLE.c.lon,
    _TABLE.c.lat,
).where(_TABLE.c.valid.is_(True))
_EARLIER_BY_PHONE = _EARLIER.where(
    _TABLE.c.caller_phone.in_(bindparam("phones", expanding=True)),
    _TABLE.c.received_at.between(bindparam("phone_since"), bindparam("until")),
)
_EARLIER_NEARBY = _EARLIER.where(
    _TABLE.c.category.in_(bindparam("cats", expanding=True)),
    _TABLE.c.received_at.between(bindparam("place_since"), bindparam("until")),
    _TABLE.c.lat.between(bindparam("lat0"), bindparam("lat1")),
    _TABLE.c.lon.between(bindparam("lon0"), bindparam("lon1")),
)
# Both in one round trip (an empty list matches nothing); a call found by both comes twice.
_EARLIER_ANY = union_all(_EARLIER_BY_PHONE, _EARLIER_NEARBY)


_Key = tuple[str, int]  # ("db", incident id) or ("new", position in the batch)


def _link_repeats(session: Session, settings: Settings, new: list[_New]) -> None:
    """Link each new call to an earlier valid incident about the same matter (重复报警).

    Same caller within ``repeat_caller_window_minutes``, or same category within
    ``repeat_radius_m`` and ``repeat_window_minutes``. A repeat of a repeat links to the first.
    """
    caller_window = dt.timedelta(minutes=settings.repeat_caller_window_minutes)
    place_window = dt.timedelta(minutes=settings.repeat_window_minutes)
    radius = settings.repeat_radius_m
    times = [n.item.received_at for n in new]
    first, until = min(times), max(times)

    # Earlier valid calls, indexed by caller and by grid cell (about the radius wide) and
    # category, so a new call looks at its 3 × 3 cells of its own category only.
    cell_deg = max(radius / METRES_PER_DEGREE, 1e-5)
    ref_lat = next((n.lat for n in new if n.lat is not None), 0.0)
    cell_lon = cell_deg / max(math.cos(math.radians(ref_lat)), 0.05)
    by_phone: dict[str, list[tuple[dt.datetime, _Key]]] = defaultdict(list)
    by_cell: dict[tuple[int, int, Category], list[tuple[dt.datetime, _Key, float, float]]] = (
        defaultdict(list)
    )
    primary_of: dict[_Key, _Key] = {}

    def remember(
        at: dt.datetime,
        key: _Key,
        phone: str | None,
        cat: Category,
        lon: float | None,
        lat: float | None,
    ) -> None:
        if phone:
            by_phone[phone].append((at, key))
        if lon is not None and lat is not None:
            cell = (math.floor(lon / cell_lon), math.floor(lat / cell_deg), cat)
            by_cell[cell].append((at, key, lon, lat))

    phones = sorted({n.item.caller_phone for n in new if n.item.caller_phone})
    located = [n for n in new if n.lon is not None and n.lat is not None]
    cats = sorted({n.item.category for n in located})
    lons = [n.lon for n in located if n.lon is not None] or [0.0]
    lats = [n.lat for n in located if n.lat is not None] or [0.0]
    pad = cell_deg * 2
    earlier = session.connection().execute(
        _EARLIER_ANY,
        {
            "phone_since": first - caller_window,
            "place_since": first - place_window,
            "until": until,
            "phones": phones,
            "cats": cats,
            "lat0": min(lats) - pad,
            "lat1": max(lats) + pad,
            "lon0": min(lons) - cell_lon * 2,
            "lon1": max(lons) + cell_lon * 2,
        },
    )
    seen: set[int] = set()
    for iid, rep, at, phone, cat, lon, lat in earlier:
        if iid in seen:
            continue
        seen.add(iid)
        key = ("db", iid)
        primary_of[key] = ("db", rep) if rep else key
        remember(at, key, phone, cat, lon, lat)

    for k in sorted(range(len(new)), key=lambda k: new[k].item.received_at):
        n = new[k]
        item = n.item
        t = item.received_at
        best: tuple[dt.datetime, _Key] | None = None
        if item.caller_phone:
            since = t - caller_window
            for at, key in by_phone.get(item.caller_phone, ()):
                if since <= at <= t and (best is None or at > best[0]):
                    best = (at, key)
        if n.lon is not None and n.lat is not None:
            since = t - place_window
            cx, cy = math.floor(n.lon / cell_lon), math.floor(n.lat / cell_deg)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for at, key, lon, lat in by_cell.get((cx + dx, cy + dy, item.category), ()):
                        if (
                            since <= at <= t
                            and (best is None or at > best[0])
                            and haversine_m(n.lon, n.lat, lon, lat) <= radius
                        ):
                            best = (at, key)
        if best is not None:
            primary = primary_of.get(best[1], best[1])
            if primary[0] == "db":
                n.repeat_of = primary[1]
            else:
                n.repeat_of_new = primary[1]
                new[primary[1]].repeat_count += 1
            primary_of[("new", k)] = primary
        if item.valid:
            remember(t, ("new", k), item.caller_phone, item.category, n.lon, n.lat)


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


# ---------------------------------------------------------------- reading


def unit_names(session: Session) -> dict[int, str]:
    """Every unit's name by id (for labelling incidents; kept with the routing index)."""
    return region_index(session).unit_names


REPEAT_ELSEWHERE_LABEL = "此前有跨所报警"


class _EveryId:
    """Contains every id: the primaries the whole bureau may see."""

    def __contains__(self, item: object) -> bool:
        return True


EVERY_PRIMARY: Container[int] = _EveryId()


def primaries_in_scope(
    session: Session, actor: Actor, incidents: Iterable[Incident | SimpleNamespace]
) -> Container[int]:
    """Of the first calls these incidents repeat, those in the caller's scope (what ``to_read``
    may name): one query for a whole page, none for the whole bureau."""
    if actor.scope.whole_bureau:
        return EVERY_PRIMARY
    return _ids_in_scope(session, actor, (inc.repeat_of_id for inc in incidents))


def _ids_in_scope(session: Session, actor: Actor, ids: Iterable[int | None]) -> Container[int]:
    """Those of ``ids`` that are incidents in the caller's scope."""
    if actor.scope.whole_bureau:
        return EVERY_PRIMARY
    wanted = sorted({i for i in ids if i is not None})
    shown: set[int] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = scope_filter(select(Incident.id).where(Incident.id.in_(chunk)), actor)
        shown.update(session.execute(query).scalars())
    return shown


def to_read(
    inc: Incident | SimpleNamespace,
    unit_names: dict[int, str],
    *,
    primaries: Container[int],
    unmask: bool = False,
) -> IncidentRead:
    """The API view of an incident (or of its row just written, as attributes).

    Repeat calls are linked bureau-wide (the matter is the same whoever took the call), but a
    caller sees the first call's id only if it is in ``primaries`` (``primaries_in_scope``);
    otherwise only the neutral flag ``repeat_elsewhere`` (此前有跨所报警)."""
    elsewhere = inc.repeat_of_id is not None and inc.repeat_of_id not in primaries
    response = handling = None
    if inc.arrived_at is not None:
        response = (inc.arrived_at - inc.received_at).total_seconds()
        if inc.resolved_at is not None:
            handling = (inc.resolved_at - inc.arrived_at).total_seconds()
    return IncidentRead(
        id=inc.id,
        source_id=inc.source_id,
        received_at=inc.received_at,
        category=inc.category,
        category_label=inc.category.label,
        subtype=inc.subtype,
        subtype_label=subtype_label(inc.category, inc.subtype),
        description=inc.description,
        address=inc.address,
        caller_phone=inc.caller_phone if unmask else mask_phone(inc.caller_phone),
        location=None if inc.lon is None or inc.lat is None else {"lon": inc.lon, "lat": inc.lat},
        priority=inc.priority,
        priority_label=Priority(inc.priority).label,
        valid=inc.valid,
        invalid_reason=inc.invalid_reason,
        status=inc.status,
        status_label=inc.status.label,
        unit_id=inc.unit_id,
        unit_name=unit_names.get(inc.unit_id) if inc.unit_id else None,
        station_id=inc.station_id,
        zone_id=inc.zone_id,
        routed_by=inc.routed_by,
        needs_review=inc.needs_review,
        review_reason=inc.review_reason,
        repeat_of_id=None if elsewhere else inc.repeat_of_id,
        repeat_elsewhere=elsewhere,
        repeat_elsewhere_label=REPEAT_ELSEWHERE_LABEL if elsewhere else None,
        repeat_count=inc.repeat_count,
        dispatched_at=inc.dispatched_at,
        arrived_at=inc.arrived_at,
        resolved_at=inc.resolved_at,
        closed_at=inc.closed_at,
        response_seconds=response,
        handling_seconds=handling,
        synthetic=inc.synthetic,
    )


def visible(session: Session, actor: Actor, incident_id: int) -> Incident:
    """The incident if it exists and is in the caller's scope (else 404, never 403)."""
    actor.require(Perm.incident_read)
    inc = session.get(Incident, incident_id)
    if inc is None or not in_scope(actor, inc):
        raise NotFound()
    return inc


# At most this many incident ids in one audit record of a read of personal data; a bigger read
# is recorded as several parts (one head lock, one insert).
PERSONAL_READ_IDS_PER_RECORD = 10_000


def record_personal_read(
    *,
    session: Session,
    actor: Actor,
    incident_ids: Sequence[int],
    purpose: str,
    filters: dict[str, Any] | None = None,
) -> None:
    """Audit that the caller saw callers' phone numbers unmasked: one record for one incident,
    else records of the request listing every incident id (in parts of
    ``PERSONAL_READ_IDS_PER_RECORD``), the total and the query's ``filters`` when given."""
    if not actor.can(Perm.personal_read):
        raise PermissionDenied("您的角色不能查看报警人完整电话")
    if len(incident_ids) == 1 and filters is None:
        audit.record(
            session=session,
            actor=actor,
            action="incident.read_personal",
            entity_kind="incident",
            entity_id=incident_ids[0],
            unit_id=actor.unit_id,
            diff={"fields": ["caller_phone"], "purpose": purpose},
        )
        return
    ids = list(incident_ids)
    step = PERSONAL_READ_IDS_PER_RECORD
    starts = range(0, max(len(ids), 1), step)
    changes = []
    for k, start in enumerate(starts, start=1):
        diff: dict[str, Any] = {
            "fields": ["caller_phone"],
            "purpose": purpose,
            "incident_ids": ids[start : start + step],
            "count": len(ids),
        }
        if len(starts) > 1:
            diff["part"] = f"{k}/{len(starts)}"
        if filters is not None and k == 1:
            diff["filters"] = filters
        changes.append(
            audit.Change(
                action="incident.read_personal",
                entity_kind="incident_query",
                entity_id=actor.request_id or "-",
                unit_id=actor.unit_id,
                diff=diff,
            )
        )
    audit.record_many(session=session, actor=actor, changes=changes)


def get(*, session: Session, actor: Actor, incident_id: int, unmask: bool = False) -> IncidentRead:
    """One incident; with ``unmask`` the caller's phone is shown and the read audited."""
    inc = visible(session, actor, incident_id)
    if unmask and inc.caller_phone:
        record_personal_read(session=session, actor=actor, incident_ids=[inc.id], purpose="detail")
    primaries = primaries_in_scope(session, actor, [inc])
    return to_read(inc, unit_names(session), primaries=primaries, unmask=unmask)


# ---------------------------------------------------------------- lifecycle


def transition(
    *,
    session: Session,
    actor: Actor,
    incident_id: int,
    data: Transition,
    at: dt.datetime | None = None,
) -> IncidentRead:
    """Move an incident along its lifecycle; 409 naming both states when not allowed.

    The one place where an incident moves (dispatch comes through here too), decided on its
    locked row (``_movable``): of concurrent transitions exactly one applies, the others get
    the 409 naming the state they found. Officers to be sent are checked free on their locked
    live rows, so one officer is never sent to two incidents at once.
    """
    actor.require(Perm.incident_dispatch if data.to == Status.dispatched else Perm.incident_write)
    inc = _movable(session, actor, incident_id)
    check_transition(inc.status, data.to)
    at = at or utcnow()
    before = {"status": str(inc.status), "unit_id": inc.unit_id}
    note = data.reason
    detail: dict[str, Any] = {}
    if data.to == Status.transferred:
        if not data.unit:
            raise ValidationFailed.field("unit", "移交须指定接收单位")
        if not data.reason:
            raise ValidationFailed.field("reason", "移交须说明原因")
        target = session.execute(select(Unit).where(Unit.code == data.unit)).scalar_one_or_none()
        if target is None:
            raise ValidationFailed.field("unit", f"单位代码 {data.unit} 不存在")
        if target.id == inc.unit_id:
            raise ValidationFailed.field("unit", "接收单位与当前处置单位相同")
        inc.unit_id = target.id
        inc.routed_by = RoutedBy.manual
        detail["to_unit"] = target.id
    if data.to == Status.cancelled and not data.reason:
        raise ValidationFailed.field("reason", "撤销须说明原因")
    if data.to == Status.dispatched:
        if not data.officer_ids:
            raise ValidationFailed.field("officer_ids", "派警须指定至少一名民警")
        officers = (
            session.execute(select(Officer).where(Officer.id.in_(data.officer_ids))).scalars().all()
        )
        found = {o.id: o for o in officers}
        for oid in data.officer_ids:
            o = found.get(oid)
            if o is None or not o.active or not org_scope.admits_officer(actor, o):
                raise ValidationFailed.field("officer_ids", f"民警 {oid} 不存在或不在权限范围内")
        if len(set(data.officer_ids)) != len(data.officer_ids):
            raise ValidationFailed.field("officer_ids", "同一民警不能重复指派")
        live_hooks.officers_held(session, inc.id, data.officer_ids)
        session.add_all(
            IncidentAssignment(incident_id=inc.id, officer_id=oid, assigned_at=at, actor=actor.name)
            for oid in data.officer_ids
        )
        detail["officers"] = list(data.officer_ids)
    else:
        live_hooks.officers_held(session, inc.id)
    stamp(inc, data.to, at)
    session.add(
        IncidentEvent(
            incident_id=inc.id,
            at=at,
            from_status=str(inc.status),
            to_status=str(data.to),
            actor=actor.name,
            unit_id=inc.unit_id,
            note=note,
        )
    )
    inc.status = data.to
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action=f"incident.{data.to.value}",
        entity_kind="incident",
        entity_id=inc.id,
        unit_id=inc.unit_id,
        diff={
            "before": before,
            "after": {"status": str(inc.status), "unit_id": inc.unit_id},
            "reason": note,
            **detail,
        },
    )
    live_hooks.incident_changed(
        session, actor, inc, data.officer_ids if detail.get("officers") else ()
    )
    return to_read(inc, unit_names(session), primaries=primaries_in_scope(session, actor, [inc]))


_LOCK_ROW = (
    select(Incident)
    .where(Incident.id == bindparam("incident_id"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


def _movable(session: Session, actor: Actor, incident_id: int) -> Incident:
    """The incident's row, locked for the rest of the transaction, if the caller may move it.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE`` (a concurrent transition waits, then reads the
    state this one left; a repeat call pointing at the incident is not held up). SQLite: the
    write transaction holds the database's one writer lock from its ``BEGIN IMMEDIATE``; the row
    is read again inside it either way, never taken from an earlier read of the session.

    Only the handling unit (with its central station) or the whole bureau moves an incident. The
    station whose jurisdiction holds the place keeps reading it — after it transferred the
    incident away, or while its central station handles it — but 403 on any transition.
    """
    actor.require(Perm.incident_read)
    inc = session.execute(_LOCK_ROW, {"incident_id": incident_id}).scalar_one_or_none()
    if inc is None or not in_scope(actor, inc):
        raise NotFound()
    if not handles(actor, inc):
        handler = unit_names(session).get(inc.unit_id) if inc.unit_id else None
        raise PermissionDenied(
            f"该警情现由{handler or '其他单位'}处置，本单位只能查看，不能变更其状态",
            details={"incident_id": inc.id, "unit_id": inc.unit_id, "status": str(inc.status)},
        )
    return inc


def _linked_ids(diff: dict[str, Any]) -> list[int]:
    """The ids of other incidents an incident's audit record names: the first call in its
    creation record, the repeat calls in a ``incident.repeat_linked`` record."""
    after = diff.get("after")
    first = after.get("repeat_of_id") if isinstance(after, dict) else None
    return [*([first] if isinstance(first, int) else []), *diff.get("repeat_ids", [])]


def _scoped_links(diff: dict[str, Any], shown: Container[int]) -> dict[str, Any]:
    """An audit record's diff as a caller sees it on a timeline: other incidents outside the
    caller's scope are not named (the first call becomes ``repeat_elsewhere``, repeat calls a
    count ``repeats_elsewhere``)."""
    out = dict(diff)
    after = out.get("after")
    first = after.get("repeat_of_id") if isinstance(after, dict) else None
    if isinstance(after, dict) and isinstance(first, int) and first not in shown:
        out["after"] = {**after, "repeat_of_id": None, "repeat_elsewhere": True}
    if "repeat_ids" in out:
        ids = out["repeat_ids"]
        out["repeat_ids"] = [i for i in ids if i in shown]
        if len(out["repeat_ids"]) < len(ids):
            out["repeats_elsewhere"] = len(ids) - len(out["repeat_ids"])
    return out


def timeline(*, session: Session, actor: Actor, incident_id: int) -> list[TimelineEntry]:
    """Lifecycle, audit records, officers sent and linked calls of one incident, in time order."""
    inc = visible(session, actor, incident_id)
    names = unit_names(session)
    out: list[TimelineEntry] = []
    for ev in session.execute(
        select(IncidentEvent).where(IncidentEvent.incident_id == inc.id).order_by(IncidentEvent.id)
    ).scalars():
        title = Status(ev.to_status).label
        if ev.to_status == Status.transferred and ev.unit_id:
            title += f" → {names.get(ev.unit_id, ev.unit_id)}"
        out.append(
            TimelineEntry(
                at=ev.at,
                kind="lifecycle",
                title=title,
                actor=ev.actor,
                detail={"from": ev.from_status, "to": ev.to_status, "note": ev.note},
            )
        )
    for a, o in session.execute(
        select(IncidentAssignment, Officer)
        .join(Officer, Officer.id == IncidentAssignment.officer_id)
        .where(IncidentAssignment.incident_id == inc.id)
    ):
        out.append(
            TimelineEntry(
                at=a.assigned_at,
                kind="assignment",
                title=f"派警：{o.name}（{o.police_number}）",
                actor=a.actor,
                detail={"officer_id": o.id},
            )
        )
    trail = audit.trail_of(session=session, entity_kind="incident", entity_id=inc.id)
    shown = _ids_in_scope(session, actor, (i for e in trail for i in _linked_ids(e.diff)))
    for entry in trail:
        out.append(
            TimelineEntry(
                at=entry.at,
                kind="audit",
                title=f"审计：{audit.action_label(entry.action)}",
                actor=entry.actor,
                detail={"seq": entry.seq, **_scoped_links(entry.diff, shown)},
            )
        )
    linked = (
        select(Incident)
        .where(
            or_(
                Incident.repeat_of_id == inc.id,
                Incident.id == inc.repeat_of_id if inc.repeat_of_id else Incident.id == -1,
            )
        )
        .order_by(Incident.received_at)
    )
    for other in session.execute(scope_filter(linked, actor)).scalars():
        kind = "首次报警" if other.id == inc.repeat_of_id else "重复报警"
        out.append(
            TimelineEntry(
                at=other.received_at,
                kind="linked_call",
                title=f"{kind}：{other.source_id}",
                actor=None,
                detail={"incident_id": other.id, "caller_phone": mask_phone(other.caller_phone)},
            )
        )
    out.sort(key=lambda e: (e.at, e.kind != "lifecycle"))
    return out
