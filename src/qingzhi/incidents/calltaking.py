"""Call taking (接警录入): what the operator sees while a call is typed in, before it is saved.

``check`` routes the draft as intake would (``routing``: the station whose jurisdiction holds
the point, its central station when bundled, the address text without a point) and lists the
earlier calls a repeat check would find — the same caller within the repeat window, and calls
near the place within the place window (those of the same category are the ones intake links as
repeat calls) — in the caller's scope, phones masked. Nothing is written; a look-up by a caller's
number that finds calls is a read of personal data, audited by the view (``disclosure``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.geo.datum import Datum, convert
from qingzhi.geo.distance import METRES_PER_DEGREE, haversine_m
from qingzhi.incidents.enums import Category, RoutedBy, subtype_label
from qingzhi.incidents.models import Incident
from qingzhi.incidents.reads import mask_phone
from qingzhi.incidents.routing import region_index
from qingzhi.incidents.schemas import Location
from qingzhi.incidents.scope import scope_filter
from qingzhi.params import Input
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)

EARLIER_LIMIT = 10
ROUTED_BY_LABELS = {
    RoutedBy.jurisdiction: "按坐标所在辖区",
    RoutedBy.nearest: "坐标不在辖区内，最近派出所",
    RoutedBy.address: "按地址文字匹配",
    RoutedBy.queue: "待情指中心分派",
    RoutedBy.manual: "人工指定",
}


class CallDraft(Input):
    """A call as far as it has been typed in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    caller_phone: str | None = Field(default=None, max_length=20, pattern=r"^\+?[0-9 \-]{0,20}$")
    address: str = Field(default="", max_length=500)
    location: Location | None = None
    category: Category | None = None

    @field_validator("caller_phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return value or None


class RoutePreview(BaseModel):
    """Where the call would go."""

    unit_id: int | None
    unit_name: str | None
    station_id: int | None
    station_name: str | None
    routed_by: str
    routed_by_label: str
    needs_review: bool
    review_reason: str | None
    lon: float | None  # the point in WGS-84, as it would be stored
    lat: float | None


class EarlierCall(BaseModel):
    """An earlier call the repeat check finds."""

    id: int
    source_id: str
    received_at: dt.datetime
    category: str
    category_label: str
    subtype_label: str
    address: str
    status: str
    status_label: str
    caller_phone: str | None
    distance_m: float | None
    repeat: bool  # intake would link the new call to it (重复报警)


class CallCheck(BaseModel):
    """The answer while a call is typed in."""

    route: RoutePreview | None
    by_caller: list[EarlierCall]
    by_place: list[EarlierCall]
    caller_checked: bool  # False when the caller's role may not look up by number


def _earlier(inc: Incident, distance: float | None, repeat: bool) -> EarlierCall:
    return EarlierCall(
        id=inc.id,
        source_id=inc.source_id,
        received_at=inc.received_at,
        category=str(inc.category),
        category_label=inc.category.label,
        subtype_label=subtype_label(inc.category, inc.subtype),
        address=inc.address,
        status=str(inc.status),
        status_label=inc.status.label,
        caller_phone=mask_phone(inc.caller_phone),
        distance_m=None if distance is None else round(distance, 1),
        repeat=repeat,
    )


def check(
    *, session: Session, actor: Actor, settings: Settings, draft: CallDraft
) -> tuple[CallCheck, list[int]]:
    """The route and the earlier calls of a draft; also the ids found by the caller's number
    (to be audited as a read of personal data)."""
    actor.require(Perm.incident_write)
    now = utcnow()
    index = region_index(session)
    point: tuple[float, float] | None = None
    route = None
    if draft.location is not None:
        x, y = draft.location.lon, draft.location.lat
        if draft.location.datum != Datum.wgs84:
            cx, cy = convert([x], [y], source=draft.location.datum, target=Datum.wgs84)
            x, y = float(cx[0]), float(cy[0])
        point = (round(x, 7), round(y, 7))
        route = index.route_points(np.array([point[0]]), np.array([point[1]]))[0]
    elif draft.address:
        route = index.route_address(draft.address)
    preview = None
    if route is not None:
        names = index.unit_names
        preview = RoutePreview(
            unit_id=route.unit_id,
            unit_name=names.get(route.unit_id) if route.unit_id else None,
            station_id=route.station_id,
            station_name=names.get(route.station_id) if route.station_id else None,
            routed_by=str(route.routed_by),
            routed_by_label=ROUTED_BY_LABELS[route.routed_by],
            needs_review=route.needs_review,
            review_reason=route.review_reason,
            lon=point[0] if point else None,
            lat=point[1] if point else None,
        )

    by_caller: list[EarlierCall] = []
    caller_checked = actor.can(Perm.personal_read)
    if draft.caller_phone and caller_checked:
        since = now - dt.timedelta(minutes=settings.repeat_caller_window_minutes)
        rows = session.execute(
            scope_filter(select(Incident), actor)
            .where(Incident.caller_phone == draft.caller_phone, Incident.received_at >= since)
            .order_by(Incident.received_at.desc())
            .limit(EARLIER_LIMIT)
        ).scalars()
        by_caller = [_earlier(inc, None, inc.valid) for inc in rows]

    by_place: list[EarlierCall] = []
    if point is not None:
        radius = settings.repeat_radius_m
        dlat = radius / METRES_PER_DEGREE
        dlon = dlat / max(math.cos(math.radians(point[1])), 1e-6)
        since = now - dt.timedelta(minutes=settings.repeat_window_minutes)
        rows = session.execute(
            scope_filter(select(Incident), actor)
            .where(
                Incident.received_at >= since,
                Incident.lat.between(point[1] - dlat, point[1] + dlat),
                Incident.lon.between(point[0] - dlon, point[0] + dlon),
            )
            .order_by(Incident.received_at.desc())
            .limit(200)
        ).scalars()
        found: list[tuple[float, Incident]] = []
        for inc in rows:
            assert inc.lon is not None and inc.lat is not None
            d = haversine_m(point[0], point[1], inc.lon, inc.lat)
            if d <= radius:
                found.append((d, inc))
        same = draft.category
        by_place = [
            _earlier(inc, d, inc.valid and same is not None and inc.category == same)
            for d, inc in found[:EARLIER_LIMIT]
        ]
    looked_up = [c.id for c in by_caller]
    result = CallCheck(
        route=preview, by_caller=by_caller, by_place=by_place, caller_checked=caller_checked
    )
    return result, looked_up
