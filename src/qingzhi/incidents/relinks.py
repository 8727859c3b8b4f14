"""Relinking stored calls when earlier calls arrive late (an import of an older period after a
newer one): the first call of a matter is its earliest.

``repeats.link_repeats`` links each new call of a batch to an earlier call. A new call can also
be *earlier* than calls already stored about the same matter (the same caller within
``repeat_caller_window_minutes``, or the same matter — source call type, else category — within
``repeat_radius_m`` and ``repeat_window_minutes``): ``plan`` finds those stored calls (valid,
received after the new call, within the window after the batch) and moves each one's chain to
the earliest first call among its own and those of the new calls it matches; the calls that
repeated a stored first call that is now a repeat follow it (links always name the first call).
The new calls of the batch that were linked to a moved chain are pointed at its new first.
``apply`` writes the moves once the batch's rows are in (their ids drawn): each moved call's
``repeat_of_id`` and the repeat counts of the first calls that gained or lost calls, on their
locked rows, each audited (``incident.repeat_relinked``) in the batch's transaction. Links are
bureau-wide as in ``repeats``; what a caller sees of the ids in these audit records is scoped
there (``repeats.scoped_links``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select, union_all, update
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m
from qingzhi.incidents.models import Incident
from qingzhi.incidents.repeats import LINK_COLUMNS, PRIMARIES_LOCKED, NewCall, matter
from qingzhi.store.base import table_of

_TABLE = table_of(Incident)
Key = tuple[str, int]  # ("db", incident id) or ("new", position in the batch's new calls)

_LATER = select(*LINK_COLUMNS, _TABLE.c.unit_id).where(_TABLE.c.valid.is_(True))
_LATER_ANY = union_all(
    _LATER.where(
        _TABLE.c.caller_phone.in_(bindparam("phones", expanding=True)),
        _TABLE.c.received_at.between(bindparam("first"), bindparam("phone_until")),
    ),
    _LATER.where(
        _TABLE.c.category.in_(bindparam("cats", expanding=True)),
        _TABLE.c.received_at.between(bindparam("first"), bindparam("place_until")),
        _TABLE.c.lat.between(bindparam("lat0"), bindparam("lat1")),
        _TABLE.c.lon.between(bindparam("lon0"), bindparam("lon1")),
    ),
)
_TIMES = select(_TABLE.c.id, _TABLE.c.received_at).where(
    _TABLE.c.id.in_(bindparam("ids", expanding=True))
)
_FOLLOWERS = select(_TABLE.c.id, _TABLE.c.unit_id, _TABLE.c.repeat_of_id).where(
    _TABLE.c.repeat_of_id.in_(bindparam("ids", expanding=True))
)
_MOVE = update(_TABLE).where(_TABLE.c.id == bindparam("_id")).values(repeat_of_id=bindparam("_to"))
_COUNT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("_id"))
    .values(repeat_count=_TABLE.c.repeat_count + bindparam("_delta"))
)


@dataclass(frozen=True)
class Move:
    """A stored call whose first call changes: from ``before`` (None: it was a first call)."""

    incident_id: int
    unit_id: int | None
    before: int | None
    after: Key
    cause: int  # the position in the batch of the new call that moved it (its caller audits)


@dataclass
class Plan:
    """The moves of one batch, applied by ``apply`` once the batch is inserted."""

    moves: list[Move] = field(default_factory=list)


@dataclass
class _Stored:
    key: Key
    rep: int | None
    at: dt.datetime
    phone: str | None
    matter: str
    lon: float | None
    lat: float | None
    unit_id: int | None


def plan(session: Session, settings: Settings, new: Sequence[NewCall]) -> Plan:
    """The stored calls that the batch's new (already linked) calls precede, moved to the
    earliest first call; the new calls' own links and counts brought in step (see the module)."""
    if not new:
        return Plan()
    caller_window = dt.timedelta(minutes=settings.repeat_caller_window_minutes)
    place_window = dt.timedelta(minutes=settings.repeat_window_minutes)
    radius = settings.repeat_radius_m
    times = [n.item.received_at for n in new]
    first, until = min(times), max(times)
    located = [n for n in new if n.lon is not None and n.lat is not None]
    cell_deg = max(radius / METRES_PER_DEGREE, 1e-5)
    ref_lat = located[0].lat if located and located[0].lat is not None else 0.0
    cell_lon = cell_deg / max(math.cos(math.radians(ref_lat)), 0.05)
    lons = [n.lon for n in located if n.lon is not None] or [0.0]
    lats = [n.lat for n in located if n.lat is not None] or [0.0]
    connection = session.connection()
    stored: dict[int, _Stored] = {}
    for iid, rep, at, phone, cat, lon, lat, source_type, unit_id in connection.execute(
        _LATER_ANY,
        {
            "first": first,
            "phone_until": until + caller_window,
            "place_until": until + place_window,
            "phones": sorted({n.item.caller_phone for n in new if n.item.caller_phone}),
            "cats": sorted({n.item.category for n in located}),
            "lat0": min(lats) - cell_deg * 2,
            "lat1": max(lats) + cell_deg * 2,
            "lon0": min(lons) - cell_lon * 2,
            "lon1": max(lons) + cell_lon * 2,
        },
    ):
        key = ("db", iid)
        stored[iid] = _Stored(key, rep, at, phone, matter(source_type, cat), lon, lat, unit_id)
    if not stored:
        return Plan()

    # Each call's first call (a key), and the time of every call that may be a first.
    root: dict[Key, Key] = {}
    at_of: dict[Key, dt.datetime] = {}
    for k, n in enumerate(new):
        at_of[("new", k)] = n.item.received_at
        if n.repeat_of_new is not None:
            root[("new", k)] = ("new", n.repeat_of_new)
        elif n.repeat_of is not None:
            root[("new", k)] = ("db", n.repeat_of)
    for s in stored.values():
        at_of[s.key] = s.at
        if s.rep is not None:
            root[s.key] = ("db", s.rep)
    unknown = sorted({k[1] for k in root.values() if k[0] == "db" and k not in at_of})
    for start in range(0, len(unknown), 500):
        for iid, at in connection.execute(_TIMES, {"ids": unknown[start : start + 500]}):
            at_of[("db", iid)] = at

    def resolve(key: Key) -> Key:
        seen = 0
        while key in root and root[key] != key and seen < 8:
            key = root[key]
            seen += 1
        return key

    # The calls that took part (the new ones, and stored ones moved), indexed like repeats'.
    by_phone: dict[str, list[tuple[dt.datetime, Key, int]]] = defaultdict(list)
    by_cell: dict[tuple[int, int, str], list[tuple[dt.datetime, Key, int, float, float]]] = (
        defaultdict(list)
    )

    def remember(
        at: dt.datetime,
        key: Key,
        cause: int,
        phone: str | None,
        what: str,
        lon: float | None,
        lat: float | None,
    ) -> None:
        if phone:
            by_phone[phone].append((at, key, cause))
        if lon is not None and lat is not None:
            cell = (math.floor(lon / cell_lon), math.floor(lat / cell_deg), what)
            by_cell[cell].append((at, key, cause, lon, lat))

    events: list[tuple[dt.datetime, int, int]] = [(s.at, 0, iid) for iid, s in stored.items()]
    events += [(n.item.received_at, 1, k) for k, n in enumerate(new)]
    events.sort()
    moved_from: dict[int, tuple[int | None, int]] = {}  # stored id -> (its link before, cause)
    for at, kind, ref in events:
        if kind == 1:
            n = new[ref]
            if n.item.valid:
                what = matter(getattr(n.item, "source_type", None), n.item.category)
                remember(at, ("new", ref), n.index, n.item.caller_phone, what, n.lon, n.lat)
            continue
        s = stored[ref]
        matches: list[tuple[Key, int]] = []
        if s.phone:
            matches += [
                (key, cause)
                for t, key, cause in by_phone.get(s.phone, ())
                if at - caller_window <= t < at
            ]
        if s.lon is not None and s.lat is not None:
            cx, cy = math.floor(s.lon / cell_lon), math.floor(s.lat / cell_deg)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for t, key, cause, lon, lat in by_cell.get((cx + dx, cy + dy, s.matter), ()):
                        near = haversine_m(s.lon, s.lat, lon, lat) <= radius
                        if at - place_window <= t < at and near:
                            matches.append((key, cause))
        if not matches:
            continue
        current = resolve(s.key)
        best, cause = current, -1
        for key, why in matches:
            r = resolve(key)
            if r != best and r in at_of and (best not in at_of or at_of[r] < at_of[best]):
                best, cause = r, why
        if best == current:
            continue
        root[s.key] = best  # a first call moved: its followers resolve through it
        moved_from[ref] = (s.rep, cause)
        remember(at, s.key, cause, s.phone, s.matter, s.lon, s.lat)

    if not moved_from:
        return Plan()
    moves: list[Move] = []
    for iid, (rep, cause) in moved_from.items():
        moves.append(Move(iid, stored[iid].unit_id, rep, resolve(("db", iid)), cause))
    # Stored calls that followed a first call now moved, beyond the window: they follow it.
    firsts = sorted(iid for iid, (rep, _) in moved_from.items() if rep is None)
    for start in range(0, len(firsts), 500):
        for iid, unit_id, rep in connection.execute(
            _FOLLOWERS, {"ids": firsts[start : start + 500]}
        ):
            if iid not in moved_from:
                moves.append(Move(iid, unit_id, rep, resolve(("db", rep)), moved_from[rep][1]))
    # The new calls' own links, through the moved chains, and their counts.
    for k, n in enumerate(new):
        r = resolve(("new", k))
        n.repeat_of = r[1] if r[0] == "db" and r != ("new", k) else None
        n.repeat_of_new = r[1] if r[0] == "new" and r != ("new", k) else None
    counts = Counter(n.repeat_of_new for n in new if n.repeat_of_new is not None)
    counts.update(m.after[1] for m in moves if m.after[0] == "new")
    for k, n in enumerate(new):
        n.repeat_count = counts[k]
    return Plan(moves)


def apply(
    session: Session,
    actors: Sequence[Actor],
    new: Sequence[NewCall],
    new_ids: Sequence[int],
    moves: Plan,
) -> list[audit.Change]:
    """Write a batch's moves (after its rows are in): each moved call's first call, the counts
    of the stored first calls that gained or lost calls (on their locked rows), and the audit
    records of both."""
    if not moves.moves:
        return []

    def target(key: Key) -> int:
        return new_ids[key[1]] if key[0] == "new" else key[1]

    connection = session.connection()
    rows = [(m, target(m.after)) for m in moves.moves]
    gained: dict[int, list[int]] = defaultdict(list)
    lost: dict[int, list[int]] = defaultdict(list)
    for m, to in rows:
        if m.after[0] == "db":
            gained[to].append(m.incident_id)
        if m.before is not None:
            lost[m.before].append(m.incident_id)
    ids = sorted(set(gained) | set(lost))
    current: dict[int, tuple[int | None, int]] = {}
    for start in range(0, len(ids), 500):
        for pid, unit_id, count in connection.execute(
            PRIMARIES_LOCKED, {"ids": ids[start : start + 500]}
        ):
            current[pid] = (unit_id, count)
    connection.execute(_MOVE, [{"_id": m.incident_id, "_to": to} for m, to in rows])
    deltas = {pid: len(gained.get(pid, ())) - len(lost.get(pid, ())) for pid in ids}
    counted = [{"_id": pid, "_delta": d} for pid, d in deltas.items() if d and pid in current]
    if counted:
        connection.execute(_COUNT, counted)
    session.expire_all()
    fallback = actors[new[0].index]

    def actor_of(cause: int) -> Actor:
        return actors[cause] if 0 <= cause < len(actors) else fallback

    changes = [
        audit.Change(
            "incident.repeat_relinked",
            "incident",
            m.incident_id,
            m.unit_id,
            diff={"before": {"repeat_of_id": m.before}, "after": {"repeat_of_id": to}},
            actor=actor_of(m.cause),
        )
        for m, to in rows
    ]
    cause_of = {m.incident_id: m.cause for m in moves.moves}
    for pid in ids:
        if pid not in current or not deltas[pid]:
            continue
        unit_id, count = current[pid]
        diff: dict[str, object] = {
            "before": {"repeat_count": count},
            "after": {"repeat_count": count + deltas[pid]},
        }
        if gained.get(pid):
            diff["repeat_ids"] = gained[pid]
        if lost.get(pid):
            diff["moved_ids"] = lost[pid]
        who = actor_of(cause_of[(gained.get(pid) or lost[pid])[0]])
        changes.append(
            audit.Change("incident.repeat_relinked", "incident", pid, unit_id, diff=diff, actor=who)
        )
    return changes
