"""Routing an incident to its handling unit (交所合一: whatever road it is on).

The station whose jurisdiction holds the point handles it; a bundled member's incidents go to its
central station. A point outside every jurisdiction goes to the nearest station and is flagged
for review. Without coordinates the address is matched against township, zone and station names,
both sides normalised (``match_text``: NFKC, so full-width ``１２号`` is ``12号``; case folded;
runs of whitespace as one space), a Latin name only as a whole word ("North" is not in
"Northampton Rd"); failing that the incident is queued for the command centre. Points are
routed in bulk with an STRtree and vectorised point-in-polygon tests; the index is rebuilt when
the organisation changes.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from shapely.strtree import STRtree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qingzhi.geo.geometry import load_geometry
from qingzhi.incidents.enums import RoutedBy
from qingzhi.org.enums import UnitKind
from qingzhi.org.models import Unit, Zone

log = logging.getLogger(__name__)

_SUFFIXES = ("中心派出所", "派出所", "街道", "镇", "乡", "片区", "社区")


@dataclass(frozen=True)
class Route:
    """Where an incident goes."""

    unit_id: int | None
    station_id: int | None
    zone_id: int | None
    routed_by: RoutedBy
    needs_review: bool
    review_reason: str | None = None

    @cached_property
    def columns(self) -> dict[str, object]:
        """The incident columns this route sets."""
        return {
            "unit_id": self.unit_id,
            "station_id": self.station_id,
            "zone_id": self.zone_id,
            "routed_by": str(self.routed_by),
            "needs_review": self.needs_review,
            "review_reason": self.review_reason,
        }


def match_text(text: str) -> str:
    """Text as address matching compares it: Unicode NFKC (full-width letters, digits and
    spaces become their half-width forms), case folded, whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_WORD = re.compile(r"[0-9a-z]")


def _alias_pattern(alias: str) -> re.Pattern[str] | None:
    """For a name that begins or ends with a Latin letter or digit, a pattern matching it only
    as a whole word there; None for the others (Chinese has no word breaks: a substring)."""
    head = r"(?<![0-9a-z])" if _WORD.match(alias[0]) else ""
    tail = r"(?![0-9a-z])" if _WORD.match(alias[-1]) else ""
    return re.compile(head + re.escape(alias) + tail) if head or tail else None


_ADDRESS_CACHE = 50_000  # addresses whose route an index remembers (calls repeat addresses)


def _aliases(name: str) -> list[str]:
    names = {name}
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            names.add(name[: -len(suffix)])
    return [n for n in names if len(n) >= 2]


class RegionIndex:
    """Station jurisdictions and zones of one organisation version, indexed for routing."""

    def __init__(self, session: Session) -> None:
        self.unit_names = {uid: name for uid, name in session.execute(select(Unit.id, Unit.name))}
        stations = [
            u
            for u in session.execute(select(Unit).order_by(Unit.id)).scalars()
            if u.kind.is_station
        ]
        self.handler = {u.id: (u.central_id or u.id) for u in stations}
        located = [(u.id, load_geometry(u.jurisdiction)) for u in stations if u.jurisdiction]
        self.station_ids = np.array([sid for sid, _ in located], dtype=np.int64)
        self.station_geoms = np.array([g for _, g in located], dtype=object)
        for g in self.station_geoms:
            shapely.prepare(g)
        self.station_tree = STRtree(self.station_geoms) if located else None
        zones = [
            (z.id, z.station_id, load_geometry(z.geometry))
            for z in session.execute(select(Zone).order_by(Zone.id)).scalars()
            if z.geometry
        ]
        self.zone_ids = np.array([z[0] for z in zones], dtype=np.int64)
        self.zone_station = np.array([z[1] for z in zones], dtype=np.int64)
        self.zone_geoms = np.array([z[2] for z in zones], dtype=object)
        self.zone_tree = STRtree(self.zone_geoms) if zones else None
        command = session.execute(
            select(Unit.id).where(Unit.kind == UnitKind.command_centre).order_by(Unit.id).limit(1)
        ).scalar_one_or_none()
        self.command_centre = command
        alias: list[tuple[str, int, int | None]] = []
        for u in stations:
            alias.extend((a, u.id, None) for a in _aliases(u.name))
        for zid, sid, _ in zones:
            z = session.get(Zone, int(zid))
            if z is not None:
                alias.extend((a, sid, zid) for a in _aliases(z.name))
        # Normalised (``match_text``), longest names first, so 桂阳一片区 wins over 桂阳.
        normalised = dict.fromkeys((match_text(a), sid, zid) for a, sid, zid in alias)
        self.aliases = sorted(
            ((a, _alias_pattern(a), sid, zid) for a, sid, zid in normalised if a),
            key=lambda a: -len(a[0]),
        )
        self._by_address: dict[str, Route] = {}

    def route_points(self, lon: np.ndarray, lat: np.ndarray) -> list[Route]:
        """Routes for many located points at once."""
        n = len(lon)
        station = np.full(n, -1, dtype=np.int64)
        if self.station_tree is not None and n:
            points = shapely.points(lon, lat)
            pt_idx, geom_idx = self.station_tree.query(points, predicate="intersects")
            # A point on a shared border belongs to the first (lowest id) station.
            order = np.lexsort((geom_idx, pt_idx))
            pt_idx, geom_idx = pt_idx[order], geom_idx[order]
            first = np.unique(pt_idx, return_index=True)[1]
            station[pt_idx[first]] = self.station_ids[geom_idx[first]]
            outside = np.flatnonzero(station < 0)
            if outside.size:
                # Nearest in a locally isotropic frame (longitude scaled by cos latitude).
                scale = math.cos(math.radians(float(np.nanmean(lat))))
                scaled = shapely.transform(self.station_geoms, lambda c: c * np.array([scale, 1.0]))
                tree = STRtree(scaled)
                q = shapely.points(lon[outside] * scale, lat[outside])
                near = tree.nearest(q)
                station[outside] = self.station_ids[near]
        else:
            outside = np.arange(n)
            points = shapely.points(lon, lat)
        zone = np.full(n, -1, dtype=np.int64)
        if self.zone_tree is not None and n:
            zp, zg = self.zone_tree.query(points, predicate="intersects")
            zone[zp] = self.zone_ids[zg]
        flagged = np.zeros(n, dtype=bool)
        flagged[outside] = True
        # A batch has few distinct routes (stations × zones): each is made once and shared.
        made: dict[tuple[int, int, bool], Route] = {}
        routes = []
        for sid, zid, near in zip(station.tolist(), zone.tolist(), flagged.tolist(), strict=True):
            route = made.get((sid, zid, near))
            if route is None:
                route = made[(sid, zid, near)] = self._point_route(sid, zid, near)
            routes.append(route)
        return routes

    def _point_route(self, sid: int, zid: int, near: bool) -> Route:
        if sid < 0:
            return self._queue("坐标不在任何辖区且无可用辖区")
        if near:
            return Route(
                self.handler[sid],
                sid,
                None,
                RoutedBy.nearest,
                True,
                "坐标不在任何派出所辖区内，已派最近派出所，请核查",
            )
        return Route(
            self.handler[sid], sid, zid if zid >= 0 else None, RoutedBy.jurisdiction, False
        )

    def route_address(self, address: str) -> Route:
        """A route from the address text alone: the longest station or zone name in it, both
        normalised (``match_text``); remembered by address."""
        route = self._by_address.get(address)
        if route is None:
            route = self._address_route(match_text(address or ""))
            if len(self._by_address) >= _ADDRESS_CACHE:
                self._by_address.clear()
            self._by_address[address] = route
        return route

    def _address_route(self, text: str) -> Route:
        for alias, pattern, sid, zid in self.aliases:
            if alias in text and (pattern is None or pattern.search(text)):
                return Route(self.handler[sid], sid, zid, RoutedBy.address, False)
        return self._queue("无坐标且地址无法匹配辖区，待情指中心分派")

    def _queue(self, reason: str) -> Route:
        return Route(self.command_centre, None, None, RoutedBy.queue, True, reason)


_cache: dict[str, tuple[tuple[object, ...], RegionIndex]] = {}
_lock = threading.Lock()


# What the index is built from, in one round trip: it is rebuilt when any of these move.
_VERSION = select(
    select(func.count(Unit.id)).scalar_subquery(),
    select(func.max(Unit.updated_at)).scalar_subquery(),
    select(func.sum(Unit.central_id)).scalar_subquery(),
    select(func.count(Zone.id)).scalar_subquery(),
    select(func.max(Zone.updated_at)).scalar_subquery(),
)


def region_index(session: Session) -> RegionIndex:
    """The routing index for the organisation as it is now (rebuilt when units or zones change)."""
    connection = session.connection()
    version = tuple(connection.execute(_VERSION).one())
    key = str(connection.engine.url)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
    index = RegionIndex(session)
    with _lock:
        _cache[key] = (version, index)
    return index


def last_index(url: str) -> RegionIndex | None:
    """The index last used for the database at ``url``, without checking that it is current:
    for work done ahead of a transaction, which then compares it with ``region_index``."""
    with _lock:
        cached = _cache.get(url)
    return None if cached is None else cached[1]
