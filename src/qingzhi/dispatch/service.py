"""Dispatch recommendations (派警推荐) and one-click dispatch.

Candidates are the available officers on street duty (``duty.dispatchable``: patrol, community,
traffic; not case teams, detectives or the command centre's desks) in the caller's scope,
grouped in tiers — the handling unit's (with its bundle: a central station and its member
stations), then neighbouring units' (jurisdictions that touch), then the rest — and ranked
within a tier by estimated arrival time:
the travel time on the road graph when one is configured (``QINGZHI_ROAD_GRAPH``), else the
straight-line distance × ``dispatch_detour_factor`` at ``dispatch_speed_kmh``. An officer with no
position yet is placed at their station (flagged as estimated).

Dispatching moves the incident to ``dispatched`` through the incident service, which decides on
the locked incident row and the officers' locked live rows, audits it and, through the live
hooks, marks the officers ``dispatched`` and tells every map in scope.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.duty import service as duty
from qingzhi.errors import ValidationFailed
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m_array
from qingzhi.geo.geometry import load_geometry
from qingzhi.geo.roads import load_graph
from qingzhi.incidents import reads, transitions
from qingzhi.incidents.lifecycle import Status
from qingzhi.incidents.schemas import IncidentRead, Transition
from qingzhi.live.enums import LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.live.service import effective_status
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Officer, Unit

log = logging.getLogger(__name__)

TIER_LABELS = {0: "本单位", 1: "相邻单位", 2: "其他单位"}
TOUCH_M = 30.0  # jurisdictions closer than this count as neighbours
_GEOMS: dict[str, BaseGeometry | None] = {}


@dataclass(frozen=True)
class Candidate:
    """An officer who could be sent, with the estimate that ranks them."""

    officer_id: int
    name: str
    police_number: str
    unit_id: int
    unit_name: str
    tier: int
    tier_label: str
    status: str
    lon: float | None
    lat: float | None
    position_estimated: bool
    distance_m: float | None
    eta_seconds: float | None
    method: str


@dataclass(frozen=True)
class Recommendation:
    """The ranked candidates for one incident."""

    incident_id: int
    method: str
    candidates: list[Candidate]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "incident_id": self.incident_id,
            "method": self.method,
            "candidates": [asdict(c) for c in self.candidates],
        }


def _geometry(text: str | None) -> BaseGeometry | None:
    if not text:
        return None
    key = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    if key not in _GEOMS:
        if len(_GEOMS) > 512:
            _GEOMS.clear()
        _GEOMS[key] = load_geometry(text)
    return _GEOMS[key]


@dataclass
class _Units:
    by_id: dict[int, Unit]
    geom: dict[int, BaseGeometry]  # own jurisdiction, or the union of its members'
    members: dict[int, list[int]]


def _units(session: Session) -> _Units:
    by_id = {u.id: u for u in session.execute(select(Unit)).scalars()}
    members: dict[int, list[int]] = {}
    for u in by_id.values():
        if u.central_id is not None:
            members.setdefault(u.central_id, []).append(u.id)
    geom: dict[int, BaseGeometry] = {}
    for u in by_id.values():
        g = _geometry(u.jurisdiction)
        if g is not None:
            geom[u.id] = g
    for cid, ids in members.items():
        if cid not in geom:
            parts = [geom[i] for i in ids if i in geom]
            if parts:
                geom[cid] = unary_union(parts)
    return _Units(by_id, geom, members)


def _bundle(units: _Units, unit_id: int | None) -> set[int]:
    """A unit with its central station and that station's members (the whole bundle)."""
    if unit_id is None or unit_id not in units.by_id:
        return set()
    top = units.by_id[unit_id].central_id or unit_id
    return {top, *units.members.get(top, [])} | {unit_id}


def neighbours(units: _Units, home: set[int]) -> set[int]:
    """Units whose jurisdictions touch the home units' (with their bundles), minus home."""
    home_geoms = [units.geom[u] for u in home if u in units.geom]
    if not home_geoms:
        return set()
    area = unary_union(home_geoms)
    tol = TOUCH_M / METRES_PER_DEGREE
    out: set[int] = set()
    for uid, g in units.geom.items():
        if uid in home or uid in units.members:
            continue
        if g.distance(area) <= tol:
            out |= _bundle(units, uid)
    return out - home


def recommend(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    incident_id: int,
    limit: int = 10,
) -> Recommendation:
    """Available officers for an incident, by tier then estimated arrival."""
    inc = reads.visible(session, actor, incident_id)
    units = _units(session)
    home = _bundle(units, inc.unit_id) | _bundle(units, inc.station_id)
    near = neighbours(units, home)

    rows = session.execute(
        select(Officer, OfficerLive)
        .outerjoin(OfficerLive, OfficerLive.officer_id == Officer.id)
        .where(Officer.active.is_(True), duty.dispatchable())  # street duty only (w15-demo)
    )
    pool: list[tuple[Officer, OfficerLive | None, int]] = []
    for o, state in rows:
        live: OfficerLive | None = state
        if not org_scope.admits_officer(actor, o):
            continue
        if effective_status(o, live) != LiveStatus.available:
            continue
        tier = 0 if o.unit_id in home else 1 if o.unit_id in near else 2
        pool.append((o, live, tier))

    lon = np.full(len(pool), np.nan)
    lat = np.full(len(pool), np.nan)
    estimated = np.zeros(len(pool), dtype=bool)
    for i, (o, known, _) in enumerate(pool):
        if known is not None and known.lon is not None and known.lat is not None:
            lon[i], lat[i] = known.lon, known.lat
        else:
            g = units.geom.get(o.unit_id)
            if g is not None:
                p = g.representative_point()
                lon[i], lat[i] = p.x, p.y
                estimated[i] = True

    method = "none"
    dist = np.full(len(pool), np.nan)
    eta = np.full(len(pool), np.nan)
    if inc.lon is not None and inc.lat is not None and len(pool):
        dist = haversine_m_array(lon, lat, inc.lon, inc.lat)
        speed = settings.dispatch_speed_kmh / 3.6
        eta = dist * settings.dispatch_detour_factor / speed
        method = "straight_line"
        graph = load_graph(settings.road_graph)
        if graph is not None:
            ok = ~np.isnan(lon)
            road = np.full(len(pool), np.inf)
            if ok.any():
                road[ok] = graph.seconds_to(inc.lon, inc.lat, lon[ok], lat[ok])
            reachable = np.isfinite(road)
            eta = np.where(reachable, road, eta)
            method = "road_graph"
    order = sorted(
        range(len(pool)),
        key=lambda i: (pool[i][2], math.inf if np.isnan(eta[i]) else float(eta[i])),
    )
    candidates = []
    for i in order[:limit]:
        o, _, tier = pool[i]
        candidates.append(
            Candidate(
                officer_id=o.id,
                name=o.name,
                police_number=o.police_number,
                unit_id=o.unit_id,
                unit_name=units.by_id[o.unit_id].name if o.unit_id in units.by_id else "",
                tier=tier,
                tier_label=TIER_LABELS[tier],
                status=str(LiveStatus.available),
                lon=None if np.isnan(lon[i]) else round(float(lon[i]), 7),
                lat=None if np.isnan(lat[i]) else round(float(lat[i]), 7),
                position_estimated=bool(estimated[i]),
                distance_m=None if np.isnan(dist[i]) else round(float(dist[i]), 1),
                eta_seconds=None if not np.isfinite(eta[i]) else round(float(eta[i]), 1),
                method=method,
            )
        )
    return Recommendation(incident_id=inc.id, method=method, candidates=candidates)


def dispatch(
    *,
    session: Session,
    actor: Actor,
    incident_id: int,
    officer_ids: list[int],
    reason: str = "",
    at: dt.datetime | None = None,
) -> IncidentRead:
    """Send officers to an incident (one click): the incident and the officers change state.

    Everything is decided in ``incidents.transitions.transition`` on locked rows: the incident's
    state (409 naming it when it was already dispatched) and each officer's availability (409
    naming the officer who is not free), so of concurrent dispatches exactly one sends an
    officer."""
    actor.require(Perm.incident_dispatch)
    if not officer_ids:
        raise ValidationFailed.field("officer_ids", "派警须指定至少一名民警")
    return transitions.transition(
        session=session,
        actor=actor,
        incident_id=incident_id,
        data=Transition(to=Status.dispatched, officer_ids=officer_ids, reason=reason),
        at=at,
    )
