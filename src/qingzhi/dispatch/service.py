"""Dispatch recommendations (派警推荐) and one-click dispatch.

Candidates are the available officers on street duty (``duty.dispatchable``: patrol, community,
traffic; not case teams, detectives or the command centre's desks) in the caller's scope,
grouped in tiers — the handling unit's (with its bundle: a central station and its member
stations), then neighbouring units' (jurisdictions that touch), then the rest — and ranked
within a tier by estimated arrival time (community-team officers out of the rota are offered
only for their own zone's incidents: ``community.people.rota_excluded``):
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
from qingzhi.community import people as community_people
from qingzhi.config import Settings
from qingzhi.duty import service as duty
from qingzhi.errors import ValidationFailed
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m_array
from qingzhi.geo.geometry import load_geometry
from qingzhi.geo.roads import load_graph
from qingzhi.incidents import assignments, reads, transitions
from qingzhi.incidents.assignments import SWORN_RULE, DispatchPolicy
from qingzhi.incidents.lifecycle import ACTIVE_ASSIGNMENT, REINFORCEABLE, Status
from qingzhi.incidents.models import IncidentAssignment
from qingzhi.incidents.schemas import IncidentRead, Transition
from qingzhi.live.enums import LiveStatus
from qingzhi.live.models import OfficerLive
from qingzhi.live.service import effective_status
from qingzhi.org import scope as org_scope
from qingzhi.org.enums import LABELS as ORG_LABELS
from qingzhi.org.enums import OfficerKind
from qingzhi.org.models import Officer, Unit

log = logging.getLogger(__name__)

TIER_LABELS = {0: "本单位", 1: "相邻单位", 2: "其他单位"}
# Statuses in which officers may be sent: a first dispatch, or reinforcement (增援).
DISPATCHABLE = frozenset({Status.received, Status.transferred}) | REINFORCEABLE
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
    kind: str  # sworn (民警) or auxiliary (辅警)
    kind_label: str
    # an auxiliary who may not go alone to this call (a sworn officer must go or be there)
    needs_sworn: bool = False


@dataclass(frozen=True)
class Recommendation:
    """The ranked candidates for one incident."""

    incident_id: int
    method: str
    candidates: list[Candidate]
    dispatchable: bool = True  # False once the incident is finished: nobody is proposed
    sworn_required: bool = False  # the policy wants a sworn officer and none is on it yet
    policy_label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "incident_id": self.incident_id,
            "method": self.method,
            "dispatchable": self.dispatchable,
            "sworn_required": self.sworn_required,
            "policy_label": self.policy_label,
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
    """Available officers for an incident, by tier then estimated arrival; none once it is
    finished. Where the dispatch policy wants a sworn officer and none is on the incident yet,
    the nearest sworn officer comes first and auxiliaries are flagged ``needs_sworn``."""
    inc = reads.visible(session, actor, incident_id)
    status = Status(inc.status)
    if status not in DISPATCHABLE:
        return Recommendation(incident_id=inc.id, method="none", candidates=[], dispatchable=False)
    policy = DispatchPolicy.of(settings)
    on_it = assignments.officers_on(session, inc.id)
    sworn_on_it = bool(on_it) and any(
        k == OfficerKind.sworn
        for k in session.execute(select(Officer.kind).where(Officer.id.in_(on_it))).scalars()
    )
    sworn_required = policy.sworn_required(inc) and not sworn_on_it
    busy = set(
        session.execute(
            select(IncidentAssignment.officer_id).where(
                IncidentAssignment.status.in_(ACTIVE_ASSIGNMENT)
            )
        ).scalars()
    )
    units = _units(session)
    home = _bundle(units, inc.unit_id) | _bundle(units, inc.station_id)
    near = neighbours(units, home)

    rows = session.execute(
        select(Officer, OfficerLive)
        .outerjoin(OfficerLive, OfficerLive.officer_id == Officer.id)
        .where(Officer.active.is_(True), duty.dispatchable())  # street duty only
        .order_by(Officer.id)  # ties (the same estimate) in one order on every backend
    )
    pool: list[tuple[Officer, OfficerLive | None, int]] = []
    for o, state in rows:
        live: OfficerLive | None = state
        if not org_scope.admits_officer(actor, o):
            continue
        if effective_status(o, live) != LiveStatus.available or o.id in busy:
            continue
        tier = 0 if o.unit_id in home else 1 if o.unit_id in near else 2
        pool.append((o, live, tier))
    # community (两队一室): community-team officers out of the rota take only their zone's calls
    off_rota = community_people.rota_excluded(session, [o for o, _, _ in pool], inc.zone_id)
    pool = [entry for entry in pool if entry[0].id not in off_rota]

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
    if sworn_required:
        first_sworn = next((i for i in order if pool[i][0].kind == OfficerKind.sworn), None)
        if first_sworn is not None:  # an auxiliary is not proposed alone
            order.remove(first_sworn)
            order.insert(0, first_sworn)
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
                kind=str(o.kind),
                kind_label=ORG_LABELS.get(str(o.kind), str(o.kind)),
                needs_sworn=sworn_required and o.kind != OfficerKind.sworn,
            )
        )
    return Recommendation(
        incident_id=inc.id,
        method=method,
        candidates=candidates,
        sworn_required=sworn_required,
        policy_label=SWORN_RULE if sworn_required else "",
    )


def dispatch(
    *,
    session: Session,
    actor: Actor,
    incident_id: int,
    officer_ids: list[int],
    reason: str = "",
    settings: Settings | None = None,
    at: dt.datetime | None = None,
) -> IncidentRead:
    """Send officers to an incident (one click), or more officers to one already dispatched or
    arrived (增援): the incident and the officers change state.

    Everything is decided in ``incidents.transitions.transition`` on locked rows: the incident's
    state (409 naming it when it is finished) and each officer's availability (409 naming the
    officer who is not free or already on an assignment), so of concurrent dispatches of one
    officer exactly one sends them. With ``settings`` the dispatch policy holds (no auxiliary
    alone where a sworn officer is needed: 422 naming ``officer_ids``)."""
    actor.require(Perm.incident_dispatch)
    if not officer_ids:
        raise ValidationFailed.field("officer_ids", "派警须指定至少一名民警")
    return transitions.transition(
        session=session,
        actor=actor,
        incident_id=incident_id,
        data=Transition(to=Status.dispatched, officer_ids=officer_ids, reason=reason),
        policy=DispatchPolicy.of(settings) if settings is not None else None,
        at=at,
    )
