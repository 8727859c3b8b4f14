"""Disputes and calls: a dispute opened for every valid dispute call at intake (linked to its
incident), and later calls linked to a dispute — a repeat call (重复报警, as
``incidents.repeats`` links it) of the dispute's call, or within the watch window after
settlement (``community_watch_days``, 30) a call from one of its parties' phones or a dispute
call within ``repeat_radius_m`` of its place. A linked call after settlement asks attention for
the dispute again (``attention``), counted in ``repeat_calls`` and audited on the dispute.

``at_intake`` is what intake calls for every batch, in its transaction: it returns the audit
changes for intake's one ``record_many``. It costs a batch one indexed query on
``dispute.watch_until`` (and one by id for the first calls of its repeat calls); the new disputes
are inserted in bulk, and their opening is recorded in the creation record of the call that
opened them (``dispute_id`` in ``incident.create``: one record, not two; the dispute's timeline
shows it). The caller of that call is a party: their phone is read from the call.
``link_existing`` runs the same matching over calls already stored (the demo, whose calls are
loaded before their disputes are mediated).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, union_all, update
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.auth.context import Actor
from qingzhi.community.enums import KIND_OF_SUBTYPE, DisputeKind, DisputeStatus
from qingzhi.community.models import Dispute, DisputeCall, DisputeParty
from qingzhi.config import Settings
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m
from qingzhi.incidents.enums import Category
from qingzhi.incidents.models import Incident
from qingzhi.store.base import table_of, utcnow
from qingzhi.store.bulk import allocate_ids, insert_rows

log = logging.getLogger(__name__)

_DISPUTES = table_of(Dispute)
_PARTIES = table_of(DisputeParty)
_CALLS = table_of(DisputeCall)


@dataclass
class Watched:
    """A settled dispute whose later calls are linked until ``until``."""

    id: int
    station_id: int | None
    since: dt.datetime
    until: dt.datetime
    phones: set[str] = field(default_factory=set)
    lon: float | None = None
    lat: float | None = None


@dataclass(frozen=True)
class Call:
    """A call as the matching reads it."""

    id: int
    at: dt.datetime
    phone: str | None
    dispute_call: bool
    lon: float | None
    lat: float | None


class _Index:
    """Watched disputes by phone and by grid cell (about the radius wide)."""

    def __init__(self, watched: Iterable[Watched], radius_m: float) -> None:
        self.radius = radius_m
        self.cell = max(radius_m / METRES_PER_DEGREE, 1e-5)
        self.by_phone: dict[str, list[Watched]] = defaultdict(list)
        self.by_cell: dict[tuple[int, int], list[Watched]] = defaultdict(list)
        for w in watched:
            for phone in w.phones:
                self.by_phone[phone].append(w)
            if w.lon is not None and w.lat is not None:
                self.by_cell[self._cell(w.lon, w.lat)].append(w)

    def _cell(self, lon: float, lat: float) -> tuple[int, int]:
        return math.floor(lon * math.cos(math.radians(lat)) / self.cell), math.floor(
            lat / self.cell
        )

    def match(self, call: Call) -> tuple[Watched, str] | None:
        """The latest-settled watched dispute the call belongs to, and why (phone, place)."""
        best: tuple[Watched, str] | None = None

        def consider(w: Watched, reason: str) -> None:
            nonlocal best
            if w.since <= call.at <= w.until and (best is None or w.since > best[0].since):
                best = (w, reason)

        if call.phone:
            for w in self.by_phone.get(call.phone, ()):
                consider(w, "phone")
        if call.dispute_call and call.lon is not None and call.lat is not None:
            cx, cy = self._cell(call.lon, call.lat)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for w in self.by_cell.get((cx + dx, cy + dy), ()):
                        if (
                            w.lon is not None
                            and w.lat is not None
                            and haversine_m(call.lon, call.lat, w.lon, w.lat) <= self.radius
                        ):
                            consider(w, "place")
        return best


def match_calls(
    watched: Sequence[Watched], calls: Sequence[Call], radius_m: float
) -> list[tuple[int, Call, str]]:
    """(dispute id, call, reason) for each call that falls in a watched dispute's window."""
    if not watched or not calls:
        return []
    index = _Index(watched, radius_m)
    out = []
    for call in calls:
        found = index.match(call)
        if found is not None:
            out.append((found[0].id, call, found[1]))
    return out


_INCIDENTS = table_of(Incident)
_WINDOW = (
    _DISPUTES.c.watch_until >= bindparam("since"),
    _DISPUTES.c.settled_at <= bindparam("until"),
)
_COLUMNS = (
    _DISPUTES.c.id,
    _DISPUTES.c.station_id,
    _DISPUTES.c.settled_at,
    _DISPUTES.c.watch_until,
    _DISPUTES.c.lon,
    _DISPUTES.c.lat,
)
# The parties' phones, and the phone of the call that opened the dispute (its caller).
_WATCHED = union_all(
    select(*_COLUMNS, _PARTIES.c.phone)
    .outerjoin(_PARTIES, _PARTIES.c.dispute_id == _DISPUTES.c.id)
    .where(*_WINDOW),
    select(*_COLUMNS, _INCIDENTS.c.caller_phone)
    .join(_INCIDENTS, _INCIDENTS.c.id == _DISPUTES.c.incident_id)
    .where(*_WINDOW),
)


def watched(session: Session, since: dt.datetime, until: dt.datetime) -> list[Watched]:
    """Disputes whose watch window overlaps [since, until], with their parties' phones."""
    out: dict[int, Watched] = {}
    for did, station, settled, until_at, lon, lat, phone in session.connection().execute(
        _WATCHED, {"since": since, "until": until}
    ):
        w = out.get(did)
        if w is None:
            w = out[did] = Watched(did, station, settled, until_at, set(), lon, lat)
        if phone:
            w.phones.add(phone)
    return list(out.values())


_BY_INCIDENT = select(_DISPUTES.c.id, _DISPUTES.c.incident_id).where(
    _DISPUTES.c.incident_id.in_(bindparam("ids", expanding=True))
)
_BUMP = (
    update(_DISPUTES)
    .where(_DISPUTES.c.id == bindparam("_id"))
    .values(
        repeat_calls=_DISPUTES.c.repeat_calls + bindparam("_n"),
        attention=bindparam("_attention"),
    )
)
_LOCK = (
    select(_DISPUTES.c.id, _DISPUTES.c.station_id, _DISPUTES.c.repeat_calls, _DISPUTES.c.attention)
    .where(_DISPUTES.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_DISPUTES.c.id)
    .with_for_update(key_share=True)
)


def _dispute_row(iid: int, row: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {
        "station_id": row["station_id"] or row["unit_id"],
        "zone_id": row["zone_id"],
        "incident_id": iid,
        "visit_id": None,
        "kind": KIND_OF_SUBTYPE.get(row["subtype"] or "", DisputeKind.other),
        "risk": "low",
        "status": DisputeStatus.reported,
        "summary": row["description"] or "",
        "address": row["address"] or "",
        "lon": row["lon"],
        "lat": row["lat"],
        "reported_at": row["received_at"],
        "referred_to": "",
        "attention": False,
        "repeat_calls": 0,
        "synthetic": bool(row.get("synthetic")),
        "created_at": now,
        "updated_at": now,
    }


def at_intake(
    session: Session,
    settings: Settings,
    actors: Sequence[Actor],
    indexes: Sequence[int],
    ids: Sequence[int],
    rows: Sequence[dict[str, Any]],
) -> list[audit.Change]:
    """Disputes for a batch of new calls (``rows`` as inserted, ``ids`` theirs, ``indexes``
    each one's position in the batch and so its caller): the audit changes to record."""
    valid = [k for k, row in enumerate(rows) if row["valid"]]
    if not valid:
        return []
    times = [rows[k]["received_at"] for k in valid]
    watch = watched(session, min(times), max(times))
    linked: dict[int, tuple[int, str, bool]] = {}  # call id -> dispute, reason, after settlement
    if watch:
        calls = [
            Call(
                ids[k],
                rows[k]["received_at"],
                rows[k]["caller_phone"],
                rows[k]["category"] == Category.dispute,
                rows[k]["lon"],
                rows[k]["lat"],
            )
            for k in valid
        ]
        for did, call, reason in match_calls(watch, calls, settings.repeat_radius_m):
            linked[call.id] = (did, reason, True)
    primaries = {rows[k]["repeat_of_id"] for k in valid if rows[k]["repeat_of_id"] is not None}
    of_incident: dict[int, int] = {}
    if primaries:
        ids_list = sorted(primaries)
        connection = session.connection()
        for start in range(0, len(ids_list), 500):
            for did, iid in connection.execute(
                _BY_INCIDENT, {"ids": ids_list[start : start + 500]}
            ):
                of_incident[iid] = did
    now = utcnow()
    new_rows: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []  # the incidents' rows of the new disputes
    for k in valid:
        iid, row = ids[k], rows[k]
        if iid in linked:
            continue
        primary = row["repeat_of_id"]
        if primary is not None and primary in of_incident:
            linked[iid] = (of_incident[primary], "repeat", False)
            continue
        if row["category"] != Category.dispute:
            continue
        new_rows.append(_dispute_row(iid, row, now))
        opened.append(row)
        of_incident[iid] = -len(new_rows)  # a new dispute, by position
    if new_rows:
        dispute_ids = allocate_ids(session.connection(), _DISPUTES, len(new_rows))
        for did, r, row in zip(dispute_ids, new_rows, opened, strict=True):
            r["id"] = row["dispute_id"] = did  # the incident's creation record names it
        insert_rows(session.connection(), _DISPUTES, new_rows)
        for iid, (did, reason, after) in list(linked.items()):
            if did < 0:
                linked[iid] = (dispute_ids[-did - 1], reason, after)
    if not linked:
        return []
    index_of = {ids[k]: k for k in valid}
    at_of = {iid: rows[index_of[iid]]["received_at"] for iid in linked}
    actor_of = {iid: actors[indexes[index_of[iid]]] for iid in linked}
    return _link(session, linked, at_of, actor_of)


def _link(
    session: Session,
    linked: dict[int, tuple[int, str, bool]],
    at_of: dict[int, dt.datetime],
    actor_of: dict[int, Actor],
) -> list[audit.Change]:
    """Insert the links and raise the disputes' counts on their locked rows; the audit changes."""
    connection = session.connection()
    by_dispute: dict[int, list[int]] = defaultdict(list)
    for iid, (did, _, _) in linked.items():
        by_dispute[did].append(iid)
    current: dict[int, tuple[int | None, int, bool]] = {}
    ids = sorted(by_dispute)
    for start in range(0, len(ids), 500):
        for did, station, count, flag in connection.execute(
            _LOCK, {"ids": ids[start : start + 500]}
        ):
            current[did] = (station, count, bool(flag))
    existing = set(
        connection.execute(
            select(_CALLS.c.incident_id).where(
                _CALLS.c.incident_id.in_(sorted(linked)),
            )
        ).scalars()
    )
    links = [
        (did, iid, reason, after)
        for iid, (did, reason, after) in sorted(linked.items())
        if iid not in existing
    ]
    if not links:
        return []
    insert_rows(
        connection,
        _CALLS,
        [
            {
                "dispute_id": did,
                "incident_id": iid,
                "received_at": at_of[iid],
                "reason": reason,
                "after_settlement": after,
            }
            for did, iid, reason, after in links
        ],
    )
    counts: dict[int, int] = defaultdict(int)
    attention: dict[int, bool] = defaultdict(bool)
    calls_of: dict[int, list[int]] = defaultdict(list)
    for did, iid, _, after in links:
        counts[did] += 1
        attention[did] = attention[did] or after
        calls_of[did].append(iid)
    connection.execute(
        _BUMP,
        [
            {"_id": did, "_n": n, "_attention": current[did][2] or attention[did]}
            for did, n in sorted(counts.items())
        ],
    )
    # Only the bumped disputes loaded in this session (if any) are read again: no expire_all,
    # which would make intake reload every object it holds.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Dispute) and obj.id in counts:
            session.expire(obj, ["repeat_calls", "attention"])
    changes = []
    for did, n in sorted(counts.items()):
        station, before, _ = current[did]
        calls = calls_of[did]
        changes.append(
            audit.Change(
                "dispute.call_linked",
                "dispute",
                did,
                station,
                diff={
                    "before": {"repeat_calls": before},
                    "after": {"repeat_calls": before + n, "attention": attention[did]},
                    "incident_ids": calls,
                },
                actor=actor_of[calls[0]],
            )
        )
    return changes


_STORED_CALLS = select(
    Incident.id,
    Incident.received_at,
    Incident.caller_phone,
    Incident.category,
    Incident.lon,
    Incident.lat,
).where(
    Incident.valid.is_(True),
    Incident.received_at.between(bindparam("since"), bindparam("until")),
)


def link_existing(
    *, session: Session, actor: Actor, settings: Settings, since: dt.datetime, until: dt.datetime
) -> int:
    """Link calls already stored, received in [since, until], to the disputes watched then (what
    intake would have done had they come after the settlement); the number of links made."""
    watch = watched(session, since, until)
    if not watch:
        return 0
    own = set(
        session.execute(
            select(Dispute.incident_id).where(Dispute.id.in_([w.id for w in watch]))
        ).scalars()
    )
    calls = [
        Call(iid, at, phone, cat == Category.dispute, lon, lat)
        for iid, at, phone, cat, lon, lat in session.execute(
            _STORED_CALLS, {"since": since, "until": until}
        )
        if iid not in own
    ]
    linked = {
        call.id: (did, reason, True)
        for did, call, reason in match_calls(watch, calls, settings.repeat_radius_m)
    }
    if not linked:
        return 0
    at_of = {c.id: c.at for c in calls}
    changes = _link(session, linked, at_of, {iid: actor for iid in linked})
    audit.record_many(session=session, changes=changes, actor=actor)
    return len(linked)
