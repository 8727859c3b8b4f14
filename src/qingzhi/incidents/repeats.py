"""Repeat calls (重复报警): linking new calls to an earlier call about the same matter, and who
sees the link.

Repeat calls are linked bureau-wide (the matter is the same whoever took the call) and stored so;
raising another incident's repeat count is audited on that incident (``incident.repeat_linked``),
on its locked row. What a caller sees is scoped: a first call is named only when it is in the
caller's scope (``primaries_in_scope``), else the neutral ``repeat_elsewhere`` (此前有跨所报警)
without its id; audit entries that name other calls are shown the same way (``scoped_links``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Container, Iterable, Sequence
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import bindparam, select, union_all, update
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m
from qingzhi.incidents.models import Incident
from qingzhi.incidents.schemas import IncidentCreate
from qingzhi.incidents.scope import scope_filter
from qingzhi.store.base import table_of

log = logging.getLogger(__name__)

_TABLE = table_of(Incident)


class NewCall(Protocol):
    """A new call of an intake batch, as repeat linking reads and marks it."""

    index: int  # its position in the batch (and so its caller)
    item: IncidentCreate
    lon: float | None  # WGS-84
    lat: float | None
    repeat_of: int | None  # the first call it repeats: an id in the database, or
    repeat_of_new: int | None  # a position in the batch's new calls
    repeat_count: int  # calls of the batch that repeat it


PRIMARIES_LOCKED = (
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


def count_repeats(
    session: Session, actors: Sequence[Actor], new: Sequence[NewCall], new_ids: Sequence[int]
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
            PRIMARIES_LOCKED, {"ids": ids[start : start + 500]}
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


# What linking reads of a stored call (``relinks`` too).
LINK_COLUMNS = (
    _TABLE.c.id,
    _TABLE.c.repeat_of_id,
    _TABLE.c.received_at,
    _TABLE.c.caller_phone,
    _TABLE.c.category,
    _TABLE.c.lon,
    _TABLE.c.lat,
    _TABLE.c.source_type,
)
_EARLIER = select(*LINK_COLUMNS).where(_TABLE.c.valid.is_(True))
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


def link_repeats(session: Session, settings: Settings, new: Sequence[NewCall]) -> None:
    """Link each new call to an earlier valid incident about the same matter (重复报警).

    Same caller within ``repeat_caller_window_minutes``, or same matter within
    ``repeat_radius_m`` and ``repeat_window_minutes``: the same source call type where the
    calls carry one (a CAD export's own type: "Theft" and "Burglary of Vehicle" are different
    matters though both map to one category), else the same category. A repeat of a repeat
    links to the first.
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
    by_cell: dict[tuple[int, int, str], list[tuple[dt.datetime, _Key, float, float]]] = defaultdict(
        list
    )
    primary_of: dict[_Key, _Key] = {}

    def remember(
        at: dt.datetime,
        key: _Key,
        phone: str | None,
        cat: str,
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
    for iid, rep, at, phone, cat, lon, lat, source_type in earlier:
        if iid in seen:
            continue
        seen.add(iid)
        key = ("db", iid)
        primary_of[key] = ("db", rep) if rep else key
        remember(at, key, phone, matter(source_type, cat), lon, lat)

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
        what = matter(getattr(item, "source_type", None), item.category)
        if n.lon is not None and n.lat is not None:
            since = t - place_window
            cx, cy = math.floor(n.lon / cell_lon), math.floor(n.lat / cell_deg)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for at, key, lon, lat in by_cell.get((cx + dx, cy + dy, what), ()):
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
            remember(t, ("new", k), item.caller_phone, what, n.lon, n.lat)


def matter(source_type: str | None, category: str) -> str:
    """What "the same matter" compares: the source call type when there is one."""
    return f"type:{source_type}" if source_type else f"category:{category}"


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
    return ids_in_scope(session, actor, (inc.repeat_of_id for inc in incidents))


def ids_in_scope(session: Session, actor: Actor, ids: Iterable[int | None]) -> Container[int]:
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


def linked_ids(diff: dict[str, Any]) -> list[int]:
    """The ids of other incidents an incident's audit record names: the first call in its
    creation record, the repeat calls in a ``incident.repeat_linked`` record."""
    firsts = [
        side.get("repeat_of_id")
        for side in (diff.get("before"), diff.get("after"))
        if isinstance(side, dict)
    ]
    return [
        *(i for i in firsts if isinstance(i, int)),
        *diff.get("repeat_ids", []),
        *diff.get("moved_ids", []),
    ]


def scoped_links(diff: dict[str, Any], shown: Container[int]) -> dict[str, Any]:
    """An audit record's diff as a caller sees it on a timeline: other incidents outside the
    caller's scope are not named (the first call becomes ``repeat_elsewhere``, repeat calls a
    count ``repeats_elsewhere``)."""
    out = dict(diff)
    for name in ("before", "after"):  # a relinked call's first call before and after
        side = out.get(name)
        first = side.get("repeat_of_id") if isinstance(side, dict) else None
        if isinstance(side, dict) and isinstance(first, int) and first not in shown:
            out[name] = {**side, "repeat_of_id": None, "repeat_elsewhere": True}
    for name, hidden in (("repeat_ids", "repeats_elsewhere"), ("moved_ids", "moved_elsewhere")):
        if name in out:
            ids = out[name]
            out[name] = [i for i in ids if i in shown]
            if len(out[name]) < len(ids):
                out[hidden] = len(ids) - len(out[name])
    return out
