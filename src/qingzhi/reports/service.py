"""Briefs (日研判、周会商、月调度): make one (figures, document, files, archive, audit), list them
in scope, read one, read its files, verify its hash.

``make`` checks the request (kind, period ended, data exists, unit in scope, formats; each a 4xx
naming its field), computes the figures with the brief's actor (``content.compute``), renders the
document once (``document.build``) to each format asked for, writes the files under
``settings.briefs_dir`` (opened with ``x``: a file is never overwritten) and adds the ``Brief``
row at the next version for its kind, scope and period, with its audit record ``brief.make`` in
the same transaction. The content hash is SHA-256 over the canonical JSON of the parameters, the
as-of time, the figures and each file's SHA-256: ``verify`` recomputes it from the row and the
files on disk. Nothing is written to the database before the figures and files are ready, so the
writer is held only for the one short insert.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from qingzhi.audit import service as audit
from qingzhi.audit.service import canonical_json
from qingzhi.auth.context import Actor
from qingzhi.auth.permissions import Perm
from qingzhi.config import Settings
from qingzhi.errors import Conflict, NotFound, ValidationFailed
from qingzhi.org import scope as org_scope
from qingzhi.org.models import Bureau, Unit
from qingzhi.reports import content as figures
from qingzhi.reports import document
from qingzhi.reports import scope as brief_scope
from qingzhi.reports.enums import BriefFormat, BriefKind
from qingzhi.reports.models import Brief
from qingzhi.reports.periods import Period, check_ended, period_of
from qingzhi.reports.render import Area, to_docx, to_html, to_pdf
from qingzhi.reports.render.html import ECHARTS_SRC
from qingzhi.store.base import utcnow

log = logging.getLogger(__name__)

CHART_SCRIPT_URL = "/briefs/doc-charts.js"  # served by web.briefs
ISSUER = "情报指挥中心"


@dataclass(frozen=True)
class Prepared:
    """A brief computed and rendered, not yet archived."""

    kind: BriefKind
    period: Period
    unit_id: int | None
    title: str
    params: dict[str, Any]
    as_of: dt.datetime
    content: dict[str, Any]
    files: dict[BriefFormat, bytes]


def parse_kind(value: str) -> BriefKind:
    """A kind by name; 422 naming ``kind``."""
    if value not in BriefKind.__members__:
        raise ValidationFailed.field(
            "kind", f"未知的研判类型“{value}”，可选：daily, weekly, monthly"
        )
    return BriefKind(value)


def resolve_unit(session: Session, actor: Actor, code: str | None) -> int | None:
    """A unit code as the brief's unit id (None: the bureau); 404 for one out of scope."""
    if code is None or code == "":
        return None
    unit_id = session.execute(select(Unit.id).where(Unit.code == code)).scalar_one_or_none()
    if unit_id is None or not org_scope.admits_unit(actor, unit_id):
        raise NotFound(f"单位 {code} 不存在或不在您的权限范围内", details=[{"field": "unit"}])
    return unit_id


def default_unit(actor: Actor) -> int | None:
    """The unit a brief is for when none is named: the caller's (the bureau for bureau scope)."""
    return None if actor.scope.whole_bureau else actor.unit_id


def _title(session: Session, kind: BriefKind, period: Period, unit_id: int | None) -> str:
    bureau = session.execute(select(Bureau.name).order_by(Bureau.id).limit(1)).scalar_one_or_none()
    name = bureau or "公安局"
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        name = f"{name}{unit.name}" if unit is not None else name
    return f"{name}{kind.label}"


def _geometry(session: Session, actor: Actor) -> tuple[Any, list[Area]]:
    boundary = None
    if actor.scope.whole_bureau:
        text = session.execute(select(Bureau.boundary).order_by(Bureau.id).limit(1)).scalar()
        boundary = shape(json.loads(text)) if text else None
    rows = session.execute(
        org_scope.units(select(Unit.name, Unit.jurisdiction), actor).where(
            Unit.jurisdiction.is_not(None)
        )
    ).all()
    areas = [Area(shape(json.loads(r.jurisdiction)), r.name) for r in rows if r.jurisdiction]
    if boundary is None and areas:
        boundary = shapely.union_all([a.geometry for a in areas])
    return boundary, areas


def _previous_places(
    session: Session, kind: BriefKind, period: Period, unit_id: int | None
) -> list[dict[str, Any]]:
    """The places of the newest brief of the same kind and scope for an earlier period."""
    stmt = (
        select(Brief.content)
        .where(
            Brief.kind == kind,
            Brief.scope_key == brief_scope.scope_key(unit_id),
            Brief.period_start < period.start,
        )
        .order_by(Brief.period_start.desc(), Brief.version.desc())
        .limit(1)
    )
    text = session.execute(stmt).scalar_one_or_none()
    if text is None:
        return []
    places: list[dict[str, Any]] = json.loads(text).get("hotspots", {}).get("places", [])
    return places


def prepare(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    kind: BriefKind,
    day: dt.date,
    unit_id: int | None,
    formats: list[BriefFormat],
    now: dt.datetime | None = None,
    timings: figures.Timings | None = None,
) -> Prepared:
    """Check, compute and render a brief (reads only)."""
    actor.require(Perm.brief_make)
    now = now or utcnow()
    period = period_of(kind, day)
    check_ended(period, now, settings.timezone)
    first = figures.first_data_day(session, settings)
    if first is None or period.end <= first:
        raise ValidationFailed.field(
            "date",
            f"{period.label}早于最早的警情数据（{first.isoformat() if first else '尚无数据'}）",
        )
    who = figures.brief_actor(session, actor, unit_id)
    marks = timings or figures.Timings()
    content = figures.compute(
        session=session,
        actor=who,
        settings=settings,
        period=period,
        unit_id=unit_id,
        previous_places=_previous_places(session, kind, period, unit_id),
        timings=marks,
    )
    t0 = time.perf_counter()
    boundary, areas = _geometry(session, who)
    marks.queries += time.perf_counter() - t0
    title = _title(session, kind, period, unit_id)
    params = {
        "kind": str(kind),
        "date": day.isoformat(),
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "unit_id": unit_id,
        "formats": [str(f) for f in formats],
        "hotspot_places": settings.briefs_hotspot_places,
        "timezone": settings.timezone,
    }
    t1 = time.perf_counter()
    doc = document.build(
        content,
        title=title,
        issuer=f"{content['bureau']}{ISSUER}",
        date=now.astimezone(ZoneInfo(settings.timezone)).date(),
        boundary=boundary,
        areas=areas,
    )
    files: dict[BriefFormat, bytes] = {}
    docx = to_docx(doc)
    marks.marks["docx"] = time.perf_counter() - t1
    if BriefFormat.docx in formats or BriefFormat.pdf in formats:
        files[BriefFormat.docx] = docx
    if BriefFormat.pdf in formats:
        t2 = time.perf_counter()
        files[BriefFormat.pdf] = to_pdf(docx, timeout=settings.pdf_timeout_seconds)
        marks.marks["pdf"] = time.perf_counter() - t2
    if BriefFormat.html in formats:
        html = to_html(doc, scripts=[ECHARTS_SRC, CHART_SCRIPT_URL])
        files[BriefFormat.html] = html.encode("utf-8")
    files = {
        f: files[f] for f in BriefFormat if f in files and (f in formats or f is BriefFormat.docx)
    }
    marks.rendering += time.perf_counter() - t1
    return Prepared(kind, period, unit_id, title, params, now, content, files)


def content_hash(
    params: dict[str, Any], as_of: str, content: dict[str, Any], files: dict[str, Any]
) -> str:
    """SHA-256 of the canonical JSON of what an archived brief is."""
    body = {
        "params": params,
        "as_of": as_of,
        "content": content,
        "files": {k: v["sha256"] for k, v in sorted(files.items())},
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _write(root: Path, relative: str, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except FileExistsError:
        if path.read_bytes() != data:  # a leftover of a rolled-back make: never overwrite
            raise
        return
    os.chmod(path, 0o444)


MAX_VERSION_TRIES = 5


def _next_version(session: Session, prepared: Prepared, key: str) -> int:
    latest = session.execute(
        select(func.max(Brief.version)).where(
            Brief.kind == prepared.kind,
            Brief.scope_key == key,
            Brief.period_start == prepared.period.start,
        )
    ).scalar_one_or_none()
    return int(latest or 0) + 1


def _insert(
    session: Session, actor: Actor, prepared: Prepared, key: str, version: int, trigger: str
) -> tuple[Brief, dict[str, Any]]:
    as_of = prepared.as_of.astimezone(dt.UTC).isoformat()
    files: dict[str, Any] = {}
    for fmt, data in prepared.files.items():
        digest = hashlib.sha256(data).hexdigest()
        relative = (
            f"{prepared.kind}/{key.replace(':', '-')}/{prepared.period.start.isoformat()}/"
            f"v{version}-{digest[:12]}.{fmt}"
        )
        files[str(fmt)] = {"path": relative, "sha256": digest, "bytes": len(data)}
    brief = Brief(
        kind=prepared.kind,
        scope_key=key,
        unit_id=prepared.unit_id,
        period_start=prepared.period.start,
        period_end=prepared.period.end,
        version=version,
        title=prepared.title,
        params=canonical_json(prepared.params),
        as_of=prepared.as_of,
        content=canonical_json(prepared.content),
        files=canonical_json(files),
        content_hash=content_hash(prepared.params, as_of, prepared.content, files),
        trigger=trigger,
        created_by=actor.user_id,
    )
    with session.begin_nested():  # a concurrent make of the same version fails only this
        session.add(brief)
        session.flush()
    return brief, files


def archive(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    prepared: Prepared,
    trigger: str = "manual",
) -> Brief:
    """Add the brief at the next version (the unique key decides between concurrent makes: the
    loser takes the version after), write its files, audit it; one short write."""
    key = brief_scope.scope_key(prepared.unit_id)
    version = _next_version(session, prepared, key)
    for _ in range(MAX_VERSION_TRIES):
        try:
            brief, files = _insert(session, actor, prepared, key, version, trigger)
            break
        except IntegrityError:  # another make took this version meanwhile
            version = max(version + 1, _next_version(session, prepared, key))
    else:
        raise Conflict("同一研判正在被并发生成，请稍后再试", details=[{"field": "date"}])
    for fmt, data in prepared.files.items():
        _write(Path(settings.briefs_dir), files[str(fmt)]["path"], data)
    audit.record(
        session=session,
        actor=actor,
        action="brief.make",
        entity_kind="brief",
        entity_id=brief.id,
        unit_id=prepared.unit_id,
        after={
            "kind": str(prepared.kind),
            "period_start": prepared.period.start.isoformat(),
            "unit_id": prepared.unit_id,
            "version": brief.version,
            "content_hash": brief.content_hash,
            "formats": sorted(files),
            "trigger": trigger,
        },
    )
    log.info("brief %s made: %s v%d (%s)", brief.id, prepared.title, brief.version, trigger)
    return brief


def get(*, session: Session, actor: Actor, brief_id: int) -> Brief:
    """One brief in the caller's scope (404 otherwise)."""
    actor.require(Perm.brief_read)
    brief = session.get(Brief, brief_id)
    if brief is None or not brief_scope.admits(actor, brief):
        raise NotFound()
    return brief


def list_briefs(
    *,
    session: Session,
    actor: Actor,
    kind: BriefKind | None = None,
    unit_id: int | None = None,
    bureau_only: bool = False,
    start: dt.date | None = None,
    end: dt.date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Brief], int]:
    """Briefs in scope, newest period first (every version), with the total."""
    actor.require(Perm.brief_read)
    stmt = brief_scope.briefs(select(Brief), actor)
    if kind is not None:
        stmt = stmt.where(Brief.kind == kind)
    if bureau_only:
        stmt = stmt.where(Brief.unit_id.is_(None))
    elif unit_id is not None:
        stmt = stmt.where(Brief.unit_id == unit_id)
    if start is not None:
        stmt = stmt.where(Brief.period_start >= start)
    if end is not None:
        stmt = stmt.where(Brief.period_start < end)
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    rows = session.scalars(
        stmt.order_by(Brief.period_start.desc(), Brief.kind, Brief.scope_key, Brief.version.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def newest(*, session: Session, actor: Actor) -> dict[str, Brief]:
    """The newest brief of each kind the caller may read (their own unit's or the bureau's)."""
    out: dict[str, Brief] = {}
    for kind in BriefKind:
        stmt = brief_scope.briefs(select(Brief), actor).where(Brief.kind == kind)
        own = default_unit(actor)
        stmt = stmt.where(Brief.unit_id.is_(None) if own is None else Brief.unit_id == own)
        row = session.scalars(
            stmt.order_by(Brief.period_start.desc(), Brief.version.desc()).limit(1)
        ).first()
        if row is not None:
            out[str(kind)] = row
    return out


def file_of(*, settings: Settings, brief: Brief, fmt: BriefFormat) -> bytes:
    """An archived file's bytes (404 naming ``format`` when the brief was not made in it)."""
    files = json.loads(brief.files)
    entry = files.get(str(fmt))
    if entry is None:
        raise NotFound(
            f"该研判未生成 {fmt} 格式（已有：{', '.join(sorted(files))}）",
            details=[{"field": "format"}],
        )
    data: bytes = (Path(settings.briefs_dir) / entry["path"]).read_bytes()
    return data


def verify(*, settings: Settings, brief: Brief) -> dict[str, Any]:
    """Recompute every file's SHA-256 and the content hash; what matches."""
    files = json.loads(brief.files)
    checked = {}
    for fmt, entry in files.items():
        path = Path(settings.briefs_dir) / entry["path"]
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
        checked[fmt] = actual == entry["sha256"]
    as_of = brief.as_of.astimezone(dt.UTC).isoformat()
    recomputed = content_hash(json.loads(brief.params), as_of, json.loads(brief.content), files)
    return {
        "ok": all(checked.values()) and recomputed == brief.content_hash,
        "files": checked,
        "content_hash": brief.content_hash,
        "recomputed": recomputed,
    }


def make(
    *,
    session: Session,
    actor: Actor,
    settings: Settings,
    kind: BriefKind,
    day: dt.date,
    unit_id: int | None,
    formats: list[BriefFormat],
    now: dt.datetime | None = None,
    trigger: str = "manual",
) -> Brief:
    """Prepare and archive a brief in one session (the CLI and the scheduler)."""
    prepared = prepare(
        session=session,
        actor=actor,
        settings=settings,
        kind=kind,
        day=day,
        unit_id=unit_id,
        formats=formats,
        now=now,
    )
    return archive(
        session=session, actor=actor, settings=settings, prepared=prepared, trigger=trigger
    )
