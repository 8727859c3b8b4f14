"""The one-click query (一键查询): filters, free text, space, keyset pages, facets and exports.

Every query runs inside the caller's scope. Pages are keyset-paginated on (received_at, id), so
page 1,000 costs what page 1 does. Free text uses the bigram index of ``search.py``: FTS5 on
SQLite, a GIN ``tsvector`` index on PostgreSQL.

Nothing here writes: a read with callers' phones unmasked is audited by the caller, in a short
write transaction of its own (``disclosure.record``). A walk over many rows (an export) goes
batch by batch from a keyset position (``next_ids``), each batch in a read transaction of its
own, so a slow consumer holds neither a session nor a snapshot between batches.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, and_, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.errors import ValidationFailed
from qingzhi.geo.distance import box_around, haversine_m
from qingzhi.incidents import search
from qingzhi.incidents.enums import Category
from qingzhi.incidents.lifecycle import Status
from qingzhi.incidents.models import Incident
from qingzhi.incidents.reads import to_read, unit_names
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.schemas import IncidentPage
from qingzhi.incidents.scope import open_only, scope_filter
from qingzhi.org.models import Unit
from qingzhi.params import INT4_MAX, check_instant

log = logging.getLogger(__name__)

MAX_RADIUS_M = 100_000


@dataclass
class IncidentQuery:
    """What the caller asks for."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    categories: list[Category] = field(default_factory=list)
    subtypes: list[str] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    unit_id: int | None = None
    zone_id: int | None = None
    station_id: int | None = None  # the jurisdiction's station only (not the handling unit)
    valid: bool | None = None
    q: str | None = None
    near: tuple[float, float] | None = None
    radius_m: float | None = None
    polygon: BaseGeometry | None = None
    bbox: tuple[float, float, float, float] | None = None
    repeat_only: bool = False
    needs_review: bool | None = None
    sort: str = "-received_at"

    def describe(self) -> dict[str, Any]:
        """The filters that are set, as JSON values (for the audit record of an export)."""
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            if value is None or value == [] or (name == "repeat_only" and not value):
                continue
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif isinstance(value, BaseGeometry):
                value = mapping(value)
            elif isinstance(value, list):
                value = [str(v) for v in value]
            out[name] = value
        return out


SORTS = {"-received_at", "received_at"}


def _encode_cursor(at: dt.datetime, iid: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), iid]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    """The keyset position of a cursor; a forged one (an id beyond the column, a float, a
    naive or out-of-range time) is refused naming ``cursor``."""
    try:
        at, iid = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(iid, int) or isinstance(iid, bool) or not 0 <= iid <= INT4_MAX:
            raise ValueError("id")
        when = check_instant(dt.datetime.fromisoformat(at))
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when, iid
    except (ValueError, TypeError, RecursionError):  # JSONDecodeError is a ValueError
        raise ValidationFailed.field("cursor", "翻页游标无效") from None


def filtered(
    session: Session, actor: Actor, query: IncidentQuery, *, by_row: bool = False
) -> Select[Any]:
    """The incident query for these filters, inside the caller's scope. With ``by_row`` free
    text and space are tested row by row, not through their indexes (text as a substring of the
    description or address, which is what the bigram phrase means; coordinates as expressions
    no index serves), so the query walks the time index."""
    actor.require(Perm.incident_read)
    if query.sort not in SORTS:
        raise ValidationFailed.field("sort", f"可选：{', '.join(sorted(SORTS))}")
    stmt = scope_filter(select(Incident), actor)
    conds: list[Any] = []
    if query.start:
        conds.append(Incident.received_at >= query.start)
    if query.end:
        conds.append(Incident.received_at < query.end)
    if query.categories:
        conds.append(Incident.category.in_(query.categories))
    if query.subtypes:
        conds.append(Incident.subtype.in_(query.subtypes))
    if query.statuses:
        conds.append(Incident.status.in_(query.statuses))
        if all(s.is_open for s in query.statuses):
            conds.append(open_only())
    if query.unit_id is not None:
        members = select(Unit.id).where(Unit.central_id == query.unit_id)
        conds.append(
            or_(
                Incident.unit_id == query.unit_id,
                Incident.station_id == query.unit_id,
                Incident.station_id.in_(members),
            )
        )
    if query.zone_id is not None:
        conds.append(Incident.zone_id == query.zone_id)
    if query.station_id is not None:
        conds.append(Incident.station_id == query.station_id)
    if query.valid is not None:
        conds.append(Incident.valid.is_(query.valid))
    if query.repeat_only:
        conds.append(or_(Incident.repeat_of_id.is_not(None), Incident.repeat_count > 0))
    if query.needs_review is not None:
        conds.append(Incident.needs_review.is_(query.needs_review))
    lon, lat = (Incident.lon + 0, Incident.lat + 0) if by_row else (Incident.lon, Incident.lat)
    boxes = []
    if query.bbox:
        boxes.append(query.bbox)
    if query.near is not None:
        x, y = query.near
        radius = query.radius_m or 500.0
        if not 0 < radius <= MAX_RADIUS_M:
            raise ValidationFailed.field("radius", f"半径须在 0–{MAX_RADIUS_M} 米之间")
        boxes.append(box_around(x, y, radius))
    if query.polygon is not None:
        boxes.append(query.polygon.bounds)
    for minx, miny, maxx, maxy in boxes:
        conds.append(lat.between(miny, maxy))
        conds.append(lon.between(minx, maxx))
    if query.q:
        conds.append(_text_scan(query.q) if by_row else _text_condition(session, query.q))
    if conds:
        stmt = stmt.where(and_(*conds))
    return stmt


def _text_condition(session: Session, q: str) -> Any:
    q = q.strip()
    if not search.query_tokens(q):
        raise ValidationFailed.field("q", "检索词无有效字符")
    if search.needs_like(q):  # % and _ in the text match literally (autoescape)
        return or_(
            Incident.description.contains(q, autoescape=True),
            Incident.address.contains(q, autoescape=True),
        )
    if session.get_bind().dialect.name == "postgresql":
        return literal_column("to_tsvector('simple', incident.search_text)").op("@@")(
            func.to_tsquery("simple", search.tsquery_text(q))
        )
    return Incident.id.in_(
        select(literal_column("rowid"))
        .select_from(text("incident_fts"))
        .where(text("incident_fts MATCH :fts").bindparams(fts=search.fts5_query(q)))
    )


def _text_scan(q: str) -> Any:
    """Free text as a per-row test: every term in the description or the address."""
    terms = q.split()
    if not search.query_tokens(q):
        raise ValidationFailed.field("q", "检索词无有效字符")
    return and_(
        *(
            or_(
                Incident.description.icontains(term, autoescape=True),
                Incident.address.icontains(term, autoescape=True),
            )
            for term in terms
        )
    )


def _exact_space(query: IncidentQuery, inc: Incident) -> bool:
    """The exact spatial test after the index's bounding-box prefilter."""
    return _exact_point(query, inc.lon, inc.lat)


def _exact_point(query: IncidentQuery, x: float | None, y: float | None) -> bool:
    if query.near is not None:
        if x is None or y is None:
            return False
        lon, lat = query.near
        if haversine_m(lon, lat, x, y) > (query.radius_m or 500.0):
            return False
    if query.polygon is not None:
        if x is None or y is None:
            return False
        if not query.polygon.covers(Point(x, y)):
            return False
    return True


Keyset = tuple[dt.datetime, int]


def next_ids(
    session: Session, actor: Actor, query: IncidentQuery, after: Keyset | None, n: int
) -> tuple[list[int], Keyset | None]:
    """The ids of the matching incidents among the next ``n`` rows after the keyset position
    ``after`` (fewer where the exact spatial test drops rows), in the query's order, and the
    position to go on from (None at the end). Two or four columns a row: for walks over many."""
    desc = query.sort.startswith("-")
    spatial = query.near is not None or query.polygon is not None
    cols = [Incident.id, Incident.received_at] + ([Incident.lon, Incident.lat] if spatial else [])
    stmt = filtered(session, actor, query).with_only_columns(*cols).order_by(*_order(desc))
    if after is not None:
        stmt = stmt.where(_after(*after, desc))
    rows: list[Any] = list(session.execute(stmt.limit(n)).all())
    ids = [r[0] for r in rows if not spatial or _exact_point(query, r[2], r[3])]
    return ids, ((rows[-1][1], rows[-1][0]) if len(rows) == n else None)


def matching_ids(session: Session, actor: Actor, query: IncidentQuery, *, limit: int) -> list[int]:
    """The ids of the first ``limit`` matching incidents in the query's order, read in the
    session's one snapshot: what an unmasked export discloses (and audits first)."""
    if query.near is None and query.polygon is None:
        stmt = filtered(session, actor, query).with_only_columns(Incident.id)
        stmt = stmt.order_by(*_order(query.sort.startswith("-"))).limit(limit)
        return list(session.execute(stmt).scalars())
    out: list[int] = []
    after: Keyset | None = None
    while len(out) < limit:
        ids, after = next_ids(session, actor, query, after, 20_000)
        out += ids
        if after is None:
            break
    return out[:limit]


def _after(at: dt.datetime, iid: int, desc: bool) -> Any:
    """Strictly after (at, iid) in the sort order (with a plain range the index can start at)."""
    if desc:
        return and_(
            Incident.received_at <= at,
            or_(Incident.received_at < at, and_(Incident.received_at == at, Incident.id < iid)),
        )
    return and_(
        Incident.received_at >= at,
        or_(Incident.received_at > at, and_(Incident.received_at == at, Incident.id > iid)),
    )


def _up_to(at: dt.datetime, iid: int, desc: bool) -> Any:
    """On or before (at, iid) in the sort order: everything ``_after`` is not."""
    if desc:
        return and_(Incident.received_at >= at, or_(Incident.received_at > at, Incident.id >= iid))
    return and_(Incident.received_at <= at, or_(Incident.received_at < at, Incident.id <= iid))


# Free text and space filters match many rows in a busy county (盗窃 is in one call of six, the
# county seat holds most calls), and their indexes give matches in no time order: taking every
# match and sorting it to show the newest 50 read a million rows at 5 million incidents. A page
# is therefore first sought among the newest RECENT_ROWS rows of the time index, testing each row
# (cheap when matches are common); only when that window holds too few matches does the indexed
# query run, for the older rows alone (cheap then, because matches are rare).
RECENT_ROWS = 20_000


def _order(desc: bool) -> tuple[Any, Any]:
    if desc:
        return Incident.received_at.desc(), Incident.id.desc()
    return Incident.received_at.asc(), Incident.id.asc()


def _fetch(
    session: Session,
    actor: Actor,
    query: IncidentQuery,
    after: tuple[dt.datetime, int] | None,
    n: int,
) -> list[Incident]:
    """The first ``n`` matching incidents after the keyset position ``after``, in order."""
    desc = query.sort.startswith("-")
    order = _order(desc)
    keyset = [] if after is None else [_after(*after, desc)]
    base = filtered(session, actor, query).where(*keyset)
    if not (query.q or query.near is not None or query.polygon is not None or query.bbox):
        return list(session.execute(base.order_by(*order).limit(n)).scalars())
    span = [Incident.received_at >= query.start] if query.start else []
    span += [Incident.received_at < query.end] if query.end else []
    boundary = session.execute(
        select(Incident.received_at, Incident.id)
        .where(*keyset, *span)
        .order_by(*order)
        .offset(RECENT_ROWS - 1)
        .limit(1)
    ).first()
    recent = filtered(session, actor, query, by_row=True).where(*keyset)
    if boundary is not None:
        recent = recent.where(_up_to(boundary[0], boundary[1], desc))
    rows = list(session.execute(recent.order_by(*order).limit(n)).scalars())
    if len(rows) == n or boundary is None:
        return rows
    older = base.where(_after(boundary[0], boundary[1], desc)).order_by(*order)
    return rows + list(session.execute(older.limit(n - len(rows))).scalars())


def _page_rows(
    session: Session, actor: Actor, query: IncidentQuery, cursor: str | None, limit: int
) -> tuple[list[Incident], str | None]:
    """One page and the cursor of the next (None at the end)."""
    spatial = query.near is not None or query.polygon is not None
    after = _decode_cursor(cursor) if cursor else None
    out: list[Incident] = []
    # Spatial filters are exact only after the box prefilter: keep fetching until the page is full.
    while True:
        fetched = _fetch(session, actor, query, after, limit + 1)
        more = len(fetched) > limit
        window = fetched[:limit]
        for pos, inc in enumerate(window):
            after = (inc.received_at, inc.id)
            if spatial and not _exact_space(query, inc):
                continue
            out.append(inc)
            if len(out) == limit:
                remaining = more or pos < len(window) - 1
                return out, _encode_cursor(*after) if remaining else None
        if not more:
            return out, None


def page(
    *,
    session: Session,
    actor: Actor,
    query: IncidentQuery,
    cursor: str | None = None,
    limit: int = 50,
    facets: bool = False,
    count: bool = False,
    unmask: bool = False,
) -> IncidentPage:
    """One page of matching incidents, with optional total and facet counts. With ``unmask``
    the callers' phones are shown: the caller audits the read before it answers."""
    rows, next_cursor = _page_rows(session, actor, query, cursor, limit)
    names = unit_names(session)
    primaries = primaries_in_scope(session, actor, rows)
    total = None
    if count:
        total = session.execute(
            select(func.count()).select_from(filtered(session, actor, query).subquery())
        ).scalar_one()
    return IncidentPage(
        items=[to_read(r, names, primaries=primaries, unmask=unmask) for r in rows],
        next_cursor=next_cursor,
        total=total,
        facets=facet_counts(session=session, actor=actor, query=query, names=names)
        if facets
        else None,
    )


def facet_counts(
    *,
    session: Session,
    actor: Actor,
    query: IncidentQuery,
    names: dict[int, str] | None = None,
) -> dict[str, dict[str, int]]:
    """Counts by category, status, handling unit and validity for the same filters."""
    sub = filtered(session, actor, query).subquery()
    out: dict[str, dict[str, int]] = {}
    names = names if names is not None else unit_names(session)
    for name, col in (
        ("category", sub.c.category),
        ("status", sub.c.status),
        ("unit", sub.c.unit_id),
        ("valid", sub.c.valid),
    ):
        rows = session.execute(select(col, func.count()).group_by(col)).all()
        bucket: dict[str, int] = {}
        for key, n in rows:
            if name == "unit":
                label = names.get(key, "未分派") if key is not None else "未分派"
            else:
                label = str(key.value if hasattr(key, "value") else key).lower()
            bucket[label] = bucket.get(label, 0) + n
        out[name] = dict(sorted(bucket.items(), key=lambda kv: -kv[1]))
    return out
