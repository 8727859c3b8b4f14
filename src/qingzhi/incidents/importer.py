"""Importing 110/CAD exports (CSV, gzipped CSV, Excel .xlsx) as they come, through intake.

An import reads its file twice over, never writing before it has read it whole:

1. **The check** (``check_file``; ``qingzhi import incidents --check`` stops here): the mapping
   against the header (``Mapping.check_header``: a missing column is an error before any row is
   read), then every row read (``import_read``: encoding, short rows), its times (``import_times``),
   its point (placeholders near 0/0 and points outside the place's boundary refused) and its
   record (the schema, its history replayed through the lifecycle): each bad row reported whole
   with file, row, field and a reason code, and counts of what each category mapping and the
   default caught, the time range, the days (``analysis.completeness``).
2. **The load**: if the bad rows are no more than ``max_errors``, the good rows — kept from the
   check in time-sorted runs on disk, not read again — are merged into time order and go to
   ``intake.intake_batches`` in batches of 5,000 (one transaction each; routing, repeats linked in
   time order whatever the file's order, audit). A second import adds nothing (idempotent on the
   source id); with ``update`` a row whose source id exists and whose fields changed corrects the
   incident (``corrections``: a new version, audited before/after).

The mapping's keys are in ``import_mapping`` and ``docs/county.md``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import pickle
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import shapely
from pydantic import ValidationError
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from qingzhi.analysis.completeness import DayGap, gaps
from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import RowError
from qingzhi.incidents import corrections, intake
from qingzhi.incidents.import_mapping import MAPPINGS_DIR, Mapping
from qingzhi.incidents.import_read import BadRow, Source
from qingzhi.incidents.import_times import TimeError
from qingzhi.incidents.schemas import IncidentCreate, IncidentImport, Location
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

__all__ = ["MAPPINGS_DIR", "ImportSummary", "Mapping", "check_file", "import_file", "to_item"]

BATCH = 5000
RUN = 20_000  # rows per sorted run on disk
_CHUNK = 500  # rows per pickle in a run
_YES = frozenset({"1", "true", "yes", "y", "是"})
_NO = frozenset({"0", "false", "no", "n", "否"})
_NEAR_ZERO = 1.0  # degrees (or metres, for projected input) around 0/0: a placeholder

Progress = Callable[[str, int, int | None], None]  # (phase, done, total)


@dataclass
class Rejected:
    """A rejected row: its errors and its cells, whole (for the error file)."""

    errors: list[RowError]
    cells: list[str]


@dataclass
class ImportSummary:
    """What a check or an import found and did."""

    file: str = ""
    header: list[str] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)
    encoding: str = ""
    rows: int = 0
    good: int = 0
    created: int = 0
    existing: int = 0
    updated: int = 0
    written: bool = False  # False: a check, or refused for too many bad rows
    errors: list[RowError] = field(default_factory=list)
    rejected: dict[int, Rejected] = field(default_factory=dict)
    by_mapping: Counter[str] = field(default_factory=Counter)  # category key (or "default")
    to_default: Counter[str] = field(default_factory=Counter)  # source values the default took
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    in_order: bool = True
    days: Counter[dt.date] = field(default_factory=Counter)  # local dates of the good rows
    flags: Counter[str] = field(default_factory=Counter)  # dst_ambiguous, clock12, no_location…

    @property
    def bad_rows(self) -> int:
        """How many rows were rejected."""
        return len(self.rejected)

    def gaps(self) -> list[DayGap]:
        """Days without calls or far below the usual count (``analysis.completeness``)."""
        return gaps(dict(self.days))


class _FieldError(ValueError):
    def __init__(self, field: str, reason: str, code: str = "value_error") -> None:
        super().__init__(reason)
        self.field = field
        self.code = code


@dataclass
class Place:
    """What the rows are checked against: the place's boundary (WGS-84), buffered."""

    boundary: BaseGeometry | None = None

    @classmethod
    def of(cls, boundary_geojson: str | None, buffer_m: float) -> Place:
        """The place from the bureau's stored boundary (None: no boundary check)."""
        if not boundary_geojson:
            return cls()
        geom = shapely.from_geojson(boundary_geojson)
        if buffer_m > 0:
            geom = geom.buffer(buffer_m / 111_000.0)
        shapely.prepare(geom)
        return cls(geom)


def to_item(
    row: dict[str, Any],
    mapping: Mapping,
    occurrence: int = 1,
    *,
    place: Place | None = None,
    flags: Counter[str] | None = None,
) -> IncidentImport:
    """One row as an intake item (raises _FieldError or ValidationError naming the field).

    ``occurrence`` numbers rows whose hashed id repeats in a file: an export without record ids
    can hold identical rows that are separate records."""
    g = mapping.get

    def flag(name: str) -> None:
        if flags is not None:
            flags[name] += 1

    raw_cat = (g["category"](row) or "").strip()
    cat = mapping.categories.get(raw_cat)
    if cat is None:
        cat = mapping.default_category
        if cat is None:
            raise _FieldError(
                "category", f"类别 {raw_cat!r} 不在映射中，且无 default", "unknown_category"
            )
    times: dict[str, Any] = {}
    for name, rule in mapping.times.items():
        try:
            value = rule.read(row, flag)
        except TimeError as exc:
            raise _FieldError(name, f"无法解析时间：{exc}", exc.code) from None
        if value is None and name == "received_at":
            raise _FieldError(name, "时间为空", "missing_time")
        if value is not None:
            times[name] = value
    location = _location(row, mapping, place, flag)
    sid = g["source_id"](row)
    if not sid or not sid.strip():
        raise _FieldError("source_id", "缺少警情编号", "missing_id")
    if mapping.hashed_id:
        sid = f"{sid}-{occurrence}"
    record: dict[str, Any] = {
        "source_id": mapping.id_prefix + sid.strip(),
        "category": cat[0],
        "subtype": cat[1] or (g["subtype"](row) or None),
        "description": (g["description"](row) or "")[:4000],
        "address": (g["address"](row) or "")[:500],
        "caller_phone": (g["caller_phone"](row) or None),
        "location": location,
        "priority": _priority(g["priority"](row), mapping),
        **times,  # lifecycle times replayed by the schema (``lifecycle.history``)
    }
    for name in ("source_type", "source_district", "source_beat"):
        text = (g[name](row) or "").strip()
        if text:
            record[name] = text[:100] if name == "source_type" else text[:64]
    flag_text = (g["cancelled"](row) or "").strip().lower()
    if flag_text:
        if flag_text not in _YES and flag_text not in _NO:
            raise _FieldError("cancelled", f"须为 是/否（1/0、true/false），而非 {flag_text!r}")
        record["cancelled"] = flag_text in _YES
    status_text = (g["status"](row) or "").strip()
    if status_text or mapping.statuses or mapping.default_status:
        status = mapping.statuses.get(status_text, mapping.default_status)
        if status is None:
            raise _FieldError(
                "status", f"状态 {status_text!r} 不在 [statuses] 中，且无 default", "unknown_status"
            )
        if status == "cancelled":
            record["cancelled"] = True
        elif status == "closed":
            record["closed"] = True
    return IncidentImport.model_validate(record)


def _priority(text: str | None, mapping: Mapping) -> Any:
    text = (text or "").strip()
    if mapping.priorities:
        value = mapping.priorities.get(text, mapping.default_priority)
        if value is None:
            raise _FieldError(
                "priority", f"等级 {text!r} 不在 [priorities] 中，且无 default", "unknown_priority"
            )
        return value
    return text or 3  # validated by the schema (a bad cell names the field)


def _location(
    row: dict[str, Any], mapping: Mapping, place: Place | None, flag: Callable[[str], None]
) -> dict[str, Any] | None:
    g = mapping.get
    xs, ys = (g["x"](row) or "").strip(), (g["y"](row) or "").strip()
    if not xs or not ys:
        flag("no_location")
        return None
    try:
        x, y = float(xs), float(ys)
    except ValueError:
        raise _FieldError("x/y", f"坐标不是数：{xs!r}, {ys!r}", "bad_point") from None
    if mapping.zero_is_missing and x == 0 and y == 0:
        flag("no_location")
        return None
    reason = None
    if abs(x) <= _NEAR_ZERO and abs(y) <= _NEAR_ZERO:
        reason, code = f"坐标 ({xs}, {ys}) 在 0/0 附近，是占位点而非真实位置", "placeholder_point"
    if mapping.transformer is not None:
        lon, lat = mapping.transformer.transform(x, y)
        out = {"lon": lon, "lat": lat, "datum": "wgs84"}
    else:
        lon, lat = x, y
        out = {"lon": x, "lat": y, "datum": str(mapping.datum)}
    boundary = place.boundary if place is not None else None
    if reason is None and boundary is not None and not shapely.contains_xy(boundary, lon, lat):
        reason, code = f"坐标 ({xs}, {ys}) 在本地辖区边界之外", "outside_boundary"
    if reason is not None:
        flag(code)
        if mapping.placeholder == "error":
            raise _FieldError("x/y", reason, code)
        flag("point_dropped")
        return None
    return out


_PACKED = tuple(n for n in IncidentImport.model_fields if n != "location")


def _pack(item: IncidentImport) -> tuple[Any, ...]:
    """A validated item as a plain tuple (what a run on disk keeps: a tenth of the cost of
    pickling the model)."""
    loc = item.location
    return (
        *(getattr(item, n) for n in _PACKED),
        None if loc is None else (loc.lon, loc.lat, loc.datum),
    )


def _unpack(values: tuple[Any, ...]) -> IncidentImport:
    """The item again, without validating it a second time (it was, before it was packed)."""
    fields = dict(zip(_PACKED, values, strict=False))
    loc = values[-1]
    fields["location"] = (
        None if loc is None else Location.model_construct(lon=loc[0], lat=loc[1], datum=loc[2])
    )
    return IncidentImport.model_construct(**fields)


class _Runs:
    """The good rows of a check, in runs sorted by time on disk, merged back in time order."""

    def __init__(self) -> None:
        self.files: list[IO[bytes]] = []
        self.buffer: list[tuple[dt.datetime, int, tuple[Any, ...]]] = []

    def add(self, line: int, item: IncidentImport) -> None:
        self.buffer.append((item.received_at, line, _pack(item)))
        if len(self.buffer) >= RUN:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        self.buffer.sort(key=lambda t: (t[0], t[1]))
        fh = tempfile.TemporaryFile(prefix="qingzhi-import-")  # noqa: SIM115 - closed in close()
        for start in range(0, len(self.buffer), _CHUNK):
            pickle.dump(self.buffer[start : start + _CHUNK], fh, pickle.HIGHEST_PROTOCOL)
        fh.seek(0)
        self.files.append(fh)
        self.buffer = []

    def merged(self) -> Iterator[IncidentImport]:
        self.flush()

        def read(fh: IO[bytes]) -> Iterator[tuple[dt.datetime, int, tuple[Any, ...]]]:
            while True:
                try:
                    chunk = pickle.load(fh)  # noqa: S301 - our own temporary file
                except EOFError:
                    return
                yield from chunk

        for _, _, packed in heapq.merge(*(read(f) for f in self.files), key=lambda t: t[:2]):
            yield _unpack(packed)

    def close(self) -> None:
        for fh in self.files:
            fh.close()
        self.files = []


def check_file(
    *,
    path: Path,
    mapping: Mapping,
    place: Place | None = None,
    progress: Progress | None = None,
    limit: int | None = None,
    _runs: _Runs | None = None,
) -> ImportSummary:
    """Read a whole file and report what an import of it would find; writes nothing. A header
    that lacks a column the mapping reads raises ValidationFailed before any row is read."""
    source = Source(
        path, encoding=mapping.encoding, delimiter=mapping.delimiter, sheet=mapping.sheet
    )
    summary = ImportSummary(file=path.name, header=source.header, encoding=source.encoding)
    summary.unused_columns = mapping.check_header(source.header, path.name)
    seen: Counter[str] = Counter()
    flags = summary.flags
    tz = mapping.timezone
    last_time: dt.datetime | None = None
    cat_getter = mapping.get["category"]
    categories = mapping.categories
    for line, row in source.rows():
        if limit is not None and summary.rows >= limit:
            break
        summary.rows += 1
        if progress and summary.rows % 2000 == 0:
            progress("check", source.done, source.size)
        if isinstance(row, BadRow):
            _reject(
                summary,
                line,
                [RowError(path.name, line, row.field, row.reason, row.code)],
                row.cells,
            )
            continue
        occurrence = 1
        if mapping.hashed_id:
            key = mapping.get["source_id"](row) or ""
            seen[key] += 1
            occurrence = seen[key]
        try:
            item = to_item(row, mapping, occurrence, place=place, flags=flags)
        except _FieldError as exc:
            _reject(summary, line, [RowError(path.name, line, exc.field, str(exc), exc.code)], row)
            continue
        except ValidationError as exc:
            _reject(summary, line, RowError.of(exc, file=path.name, row=line), row)
            continue
        summary.good += 1
        raw_cat = (cat_getter(row) or "").strip()
        if raw_cat in categories:
            summary.by_mapping[raw_cat] += 1
        else:
            summary.by_mapping["default"] += 1
            summary.to_default[raw_cat] += 1
        at = item.received_at
        if last_time is not None and at < last_time:
            summary.in_order = False
        last_time = at
        if summary.first is None or at < summary.first:
            summary.first = at
        if summary.last is None or at > summary.last:
            summary.last = at
        summary.days[at.astimezone(tz).date()] += 1
        if _runs is not None:
            _runs.add(line, item)
    if progress:
        progress("check", source.size, source.size)
    return summary


def _reject(
    summary: ImportSummary, line: int, errors: list[RowError], cells: dict[str, Any] | list[str]
) -> None:
    summary.errors.extend(errors)
    values = list(cells.values()) if isinstance(cells, dict) else cells
    summary.rejected[line] = Rejected(errors, ["" if v is None else str(v) for v in values])


def import_file(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    path: Path,
    mapping: Mapping,
    place: Place | None = None,
    progress: Progress | None = None,
    limit: int | None = None,
    max_errors: int | None = None,
    update: bool = False,
) -> ImportSummary:
    """Check the whole file, then (unless more than ``max_errors`` rows are bad) load its good
    rows in time order through intake; ``update`` corrects existing incidents whose row changed.
    """
    if place is None:
        place = load_place(db, mapping)
    runs = _Runs()
    try:
        summary = check_file(
            path=path, mapping=mapping, place=place, progress=progress, limit=limit, _runs=runs
        )
        if max_errors is not None and summary.bad_rows > max_errors:
            log.info(
                "%s: %d bad rows > %d, nothing written", path.name, summary.bad_rows, max_errors
            )
            return summary
        summary.written = True
        done = 0

        def batches() -> Iterator[list[IncidentImport]]:
            batch: list[IncidentImport] = []
            for item in runs.merged():
                batch.append(item)
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        then = _corrector(actor, summary) if update else None
        for results in intake.intake_batches(
            db=db,
            actor=actor,
            settings=settings,
            batches=batches(),
            action="incident.import",
            link_repeats=mapping.link_repeats,
            then=then,
        ):
            created = sum(r.created for r in results)
            summary.created += created
            summary.existing += len(results) - created
            done += len(results)
            if progress:
                progress("load", done, summary.good)
        summary.existing -= summary.updated
        if summary.created or summary.updated:
            db.analyze()
        return summary
    finally:
        runs.close()


def _corrector(
    actor: Actor, summary: ImportSummary
) -> Callable[[Session, Sequence[IncidentCreate], list[intake.ItemResult]], None]:
    """What ``--update`` runs in each batch's transaction: the rows of existing incidents
    applied as corrections (only those whose fields changed)."""

    def then(
        session: Session, items: Sequence[IncidentCreate], results: list[intake.ItemResult]
    ) -> None:
        existing = [
            (r.incident_id, item)
            for item, r in zip(items, results, strict=True)
            if not r.created and isinstance(item, IncidentImport)
        ]
        summary.updated += corrections.apply_imports(session=session, actor=actor, rows=existing)

    return then


def load_place(db: Database, mapping: Mapping) -> Place:
    """The place the rows are checked against: the bureau's boundary, if it has one."""
    from qingzhi.org.models import Bureau

    with db.session() as session:
        boundary = session.query(Bureau.boundary).limit(1).scalar()
    return Place.of(boundary, mapping.boundary_buffer_m)
