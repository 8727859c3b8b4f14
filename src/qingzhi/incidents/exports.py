"""Exports of any incident query: CSV, Excel (.xlsx) and GeoJSON, streamed, in scope, masked.

The caller's phone is masked unless the caller asked to unmask and may. An unmasked export is
audited before anything is sent, exactly for the incidents it discloses: their ids are resolved
in one read (at most ``max_rows``, else the export is refused naming ``unmask``), recorded with
the query's filters in one short write transaction (``disclosure.record``), and only those
incidents are then streamed (a row that left the caller's scope meanwhile is left out; one that
began to match meanwhile is not added). A masked export walks the query in keyset batches.

Either way each batch of 2,000 rows is read in a read transaction of its own, closed before the
batch is rendered and sent: an export holds no lock, session or snapshot while it waits for the
client, so a client that reads slowly or goes away mid-way costs the other requests nothing. An
.xlsx is built the same way into an anonymous temporary file (no name on disk: nothing is left
behind however the request ends) and then streamed from it.

Times are stated in the place's zone (``settings.timezone``: the bureau's, from ``qingzhi place
init``) as ISO 8601 with their offset (``2026-10-01T08:00:00+08:00``), so a reader needs no
other word on the zone. The header row is the Chinese labels (``header=zh``, the default) or
the machine-readable column keys (``header=keys``: ``source_id``, ``received_at``, …), which the
shipped mapping ``qingzhi_export.toml`` reads back: an export imported into another store
reproduces its incidents (``docs/county.md``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import tempfile
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import IO, Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.errors import ValidationFailed
from qingzhi.incidents import disclosure
from qingzhi.incidents.enums import subtype_label
from qingzhi.incidents.lifecycle import STATUS_TIME, TIME_LABELS
from qingzhi.incidents.models import Incident
from qingzhi.incidents.query import IncidentQuery, Keyset, filtered, matching_ids, next_ids
from qingzhi.incidents.reads import mask_phone, unit_names
from qingzhi.incidents.repeats import primaries_in_scope
from qingzhi.incidents.scope import scope_filter
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}

# An Excel worksheet holds 1,048,576 rows: the header and this many incidents.
XLSX_MAX_ROWS = 1_048_575

COLUMNS = [
    ("id", "编号"),
    ("source_id", "警情编号"),
    ("received_at", "接警时间"),
    ("category_label", "类别"),
    ("subtype_label", "子类"),
    ("priority", "等级"),
    ("valid", "有效"),
    ("status_label", "状态"),
    ("unit_name", "处置单位"),
    ("address", "地址"),
    ("description", "简要警情"),
    ("caller_phone", "报警电话"),
    ("lon", "经度"),
    ("lat", "纬度"),
    ("repeat_of_id", "首报编号"),
    ("repeat_count", "重复报警数"),
    ("response_seconds", "到场用时（秒）"),
    ("source_type", "原始警情类型"),
    ("source_district", "原始辖区"),
    ("source_beat", "原始巡区"),
    # its lifecycle times (``lifecycle.STATUS_TIME``), in the place's zone like received_at
    *((STATUS_TIME[status], label) for status, label in TIME_LABELS.items()),
]
_KEYS = [key for key, _ in COLUMNS]
HEADERS = ("zh", "keys")  # the header row: Chinese labels, or the column keys
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Export:
    """One export, ready to stream: the query in the caller's scope, and for an unmasked one
    the audited ids, which are exactly what it may show."""

    db: Database
    actor: Actor
    query: IncidentQuery
    ids: list[int] | None = None
    tz: ZoneInfo = _UTC  # the zone its times are stated in
    header: str = "zh"

    def header_row(self) -> list[str]:
        """The first row of a CSV or Excel export: the Chinese labels or the column keys."""
        return list(_KEYS) if self.header == "keys" else [label for _, label in COLUMNS]

    @property
    def unmask(self) -> bool:
        """Whether callers' phones are shown."""
        return self.ids is not None


BATCH = 2000
# Rows rendered between two looks for single writes waiting (``Database.make_way``).
YIELD_EVERY = 200

# What an export shows, read as plain rows (no ORM objects: an export reads every row once).
_COLUMNS = (
    Incident.id,
    Incident.source_id,
    Incident.received_at,
    Incident.category,
    Incident.subtype,
    Incident.priority,
    Incident.valid,
    Incident.status,
    Incident.unit_id,
    Incident.address,
    Incident.description,
    Incident.caller_phone,
    Incident.lon,
    Incident.lat,
    Incident.repeat_of_id,
    Incident.repeat_count,
    Incident.arrived_at,
    Incident.source_type,
    Incident.source_district,
    Incident.source_beat,
    Incident.dispatched_at,
    Incident.resolved_at,
    Incident.closed_at,
)


def _load(session: Session, actor: Actor, ids: list[int]) -> list[Any]:
    """The rows of ``ids`` still in the caller's scope, in the order of ``ids``."""
    if not ids:
        return []
    stmt = scope_filter(select(*_COLUMNS), actor).where(Incident.id.in_(ids))
    found: dict[int, Any] = {r[0]: r for r in session.connection().execute(stmt)}
    return [found[i] for i in ids if i in found]


def _row_batches(export: Export) -> Iterator[tuple[list[Any], Container[int]]]:
    """The export's rows in order, each batch read in a read transaction of its own that is
    closed before the batch is handed on, with the first calls its repeat calls may name (those
    in the caller's scope: ``service.primaries_in_scope``)."""
    db, actor = export.db, export.actor
    if export.ids is not None:
        for start in range(0, len(export.ids), BATCH):
            with db.session() as session:
                rows = _load(session, actor, export.ids[start : start + BATCH])
                primaries = primaries_in_scope(session, actor, rows)
            yield rows, primaries
        return
    after: Keyset | None = None
    while True:
        with db.session() as session:
            ids, after = next_ids(session, actor, export.query, after, BATCH)
            rows = _load(session, actor, ids)
            primaries = primaries_in_scope(session, actor, rows)
        yield rows, primaries
        if after is None:
            return


def prepare(
    db: Database,
    actor: Actor,
    query: IncidentQuery,
    *,
    fmt: str,
    unmask: bool,
    max_rows: int,
    timezone: str = "UTC",
    header: str = "zh",
) -> Export:
    """Check the query (a 4xx before the answer starts); for an unmasked export resolve and
    audit the incidents it will show, refusing more than ``max_rows`` (naming ``unmask``).
    Times are stated in ``timezone`` (the place's), the header row as ``header`` says."""
    if fmt not in FORMATS:
        raise ValidationFailed.field("format", f"可选：{', '.join(FORMATS)}")
    if header not in HEADERS:
        raise ValidationFailed.field("header", f"可选：{', '.join(HEADERS)}")
    tz = ZoneInfo(timezone)
    if unmask:
        disclosure.require(actor)
    limit = min(max_rows, XLSX_MAX_ROWS) if fmt == "xlsx" else max_rows
    with db.session() as session:
        filtered(session, actor, query)  # validates the filters
        ids = matching_ids(session, actor, query, limit=limit + 1) if unmask else None
    if ids is None:
        return Export(db, actor, query, tz=tz, header=header)
    if len(ids) > limit:
        raise ValidationFailed.field(
            "unmask",
            f"不脱敏导出一次最多 {limit:,} 条，本查询超过此数：请缩小时间范围或筛选条件分批导出，"
            "或导出脱敏数据",
        )
    disclosure.record(db, actor, ids, "export", filters=query.describe())
    log.info("unmasked export of %d incidents by %s", len(ids), actor.name)
    return Export(db, actor, query, ids, tz=tz, header=header)


def _records(export: Export, *, sheet: bool) -> Iterator[list[Any]]:
    """Each incident's values, in the order of ``COLUMNS``; for a spreadsheet (``sheet``) text
    it could take for a formula is quoted and validity is 是/否."""
    names: dict[int, str] | None = None
    unmask = export.unmask
    text = _text if sheet else _plain
    yes, no = ("是", "否") if sheet else (True, False)
    make_way = export.db.make_way
    tz = export.tz
    for rows, primaries in _row_batches(export):
        if names is None:
            with export.db.session() as session:
                names = unit_names(session)
        for k, (
            iid,
            source_id,
            received_at,
            category,
            subtype,
            priority,
            valid,
            status,
            unit_id,
            address,
            description,
            phone,
            lon,
            lat,
            repeat_of_id,
            repeat_count,
            arrived_at,
            source_type,
            source_district,
            source_beat,
            dispatched_at,
            resolved_at,
            closed_at,
        ) in enumerate(rows):
            if k % YIELD_EVERY == 0:
                make_way()  # single writes first (no session is open here)
            yield [
                iid,
                text(source_id),
                received_at.astimezone(tz).isoformat(),
                category.label,
                subtype_label(category, subtype),
                priority,
                yes if valid else no,
                status.label,
                names.get(unit_id) if unit_id else None,
                text(address),
                text(description),
                text(phone if unmask else mask_phone(phone)),
                lon,
                lat,
                repeat_of_id if repeat_of_id in primaries else None,  # another station's: no id
                repeat_count,
                None if arrived_at is None else (arrived_at - received_at).total_seconds(),
                text(source_type),
                text(source_district),
                text(source_beat),
                *(
                    None if at is None else at.astimezone(tz).isoformat()
                    for at in (dispatched_at, arrived_at, resolved_at, closed_at)
                ),
            ]


def _text(value: str | None) -> str | None:
    if value and value[0] in ("=", "+", "-", "@"):
        return "'" + value  # never let a spreadsheet evaluate a caller's text
    return value


def _plain(value: str | None) -> str | None:
    return value


def csv_chunks(export: Export) -> Iterator[str]:
    """CSV text in chunks (UTF-8 with BOM so Excel opens Chinese correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(export.header_row())
    for n, values in enumerate(_records(export, sheet=True), start=1):
        writer.writerow(values)
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def geojson_chunks(export: Export) -> Iterator[str]:
    """A GeoJSON FeatureCollection, a thousand features a chunk."""
    yield '{"type":"FeatureCollection","features":['
    parts: list[str] = []
    sep = ""
    for values in _records(export, sheet=False):
        props = dict(zip(_KEYS, values, strict=True))
        lon, lat = props.pop("lon"), props.pop("lat")
        geometry = None
        if lon is not None and lat is not None:
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        feature = {"type": "Feature", "id": props["id"], "geometry": geometry, "properties": props}
        parts.append(json.dumps(feature, ensure_ascii=False, default=str))
        if len(parts) == 1000:
            yield sep + ",".join(parts)
            parts.clear()
            sep = ","
    yield (sep + ",".join(parts) if parts else "") + "]}"


def xlsx_file(export: Export) -> IO[bytes]:
    """The export as an .xlsx (write-only mode, constant memory) in an anonymous temporary
    file, open at its start; closing it frees the disk. More rows than a worksheet holds are
    refused (naming ``format``)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("警情")
    out = tempfile.TemporaryFile(prefix="qingzhi-export-", suffix=".xlsx")  # noqa: SIM115
    try:
        ws.append(export.header_row())
        for n, values in enumerate(_records(export, sheet=True), start=1):
            if n > XLSX_MAX_ROWS:
                raise ValidationFailed.field(
                    "format",
                    f"Excel 工作表最多 {XLSX_MAX_ROWS:,} 行：请缩小查询范围，或导出 CSV",
                )
            ws.append(values)
        wb.save(out)
    except BaseException:
        out.close()
        _discard_sheet(ws)
        raise
    out.seek(0)
    return out


def _discard_sheet(ws: Any) -> None:
    """Remove the temporary file a write-only sheet spools its rows to (openpyxl removes it
    when the workbook is saved, otherwise only at exit)."""
    with contextlib.suppress(Exception):  # already saved, or never written to
        ws.close()
    writer = getattr(ws, "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError, ValueError):  # already removed
            writer.cleanup()


def file_chunks(file: IO[bytes], size: int = 256 * 1024) -> Iterator[bytes]:
    """The file's bytes in chunks; the file is closed at the end, on error or when the
    iterator is closed."""
    with file:
        while chunk := file.read(size):
            yield chunk


def chunks(export: Export, fmt: str) -> Iterator[str]:
    """The streamed text of a CSV or GeoJSON export."""
    return csv_chunks(export) if fmt == "csv" else geojson_chunks(export)
