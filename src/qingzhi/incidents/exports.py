"""Exports of any incident query: CSV, Excel (.xlsx) and GeoJSON, streamed, in scope, masked.

The caller's phone is masked unless the caller asked to unmask and may; then the export is
audited as a read of personal data.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from qingzhi.auth.context import Actor
from qingzhi.incidents.models import Incident
from qingzhi.incidents.query import IncidentQuery, iterate
from qingzhi.incidents.service import primaries_in_scope, record_personal_read, to_read, unit_names

log = logging.getLogger(__name__)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
}

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
]


def _records(
    session: Session, actor: Actor, query: IncidentQuery, unmask: bool
) -> Iterator[dict[str, Any]]:
    names = unit_names(session)
    batch: list[Incident] = []

    def flush() -> Iterator[dict[str, Any]]:
        if unmask:
            record_personal_read(
                session=session, actor=actor, incident_ids=[b.id for b in batch], purpose="export"
            )
        primaries = primaries_in_scope(session, actor, batch)
        for inc in batch:
            r = to_read(inc, names, primaries=primaries, unmask=unmask).model_dump()
            r["lon"] = inc.lon
            r["lat"] = inc.lat
            r["received_at"] = inc.received_at.isoformat()
            yield r
        batch.clear()

    for inc in iterate(session, actor, query):
        batch.append(inc)
        if len(batch) >= 2000:
            yield from flush()
    yield from flush()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # never let a spreadsheet evaluate a caller's text
    return value


def csv_chunks(session: Session, actor: Actor, query: IncidentQuery, unmask: bool) -> Iterator[str]:
    """CSV text in chunks (UTF-8 with BOM so Excel opens Chinese correctly)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow([label for _, label in COLUMNS])
    for n, r in enumerate(_records(session, actor, query, unmask), start=1):
        writer.writerow([_cell(r.get(k)) for k, _ in COLUMNS])
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def geojson_chunks(
    session: Session, actor: Actor, query: IncidentQuery, unmask: bool
) -> Iterator[str]:
    """A GeoJSON FeatureCollection, one feature at a time."""
    yield '{"type":"FeatureCollection","features":['
    first = True
    for r in _records(session, actor, query, unmask):
        geometry = None
        if r["lon"] is not None and r["lat"] is not None:
            geometry = {"type": "Point", "coordinates": [r["lon"], r["lat"]]}
        props = {k: r.get(k) for k, _ in COLUMNS if k not in ("lon", "lat")}
        feature = {"type": "Feature", "id": r["id"], "geometry": geometry, "properties": props}
        yield ("" if first else ",") + json.dumps(feature, ensure_ascii=False, default=str)
        first = False
    yield "]}"


def xlsx_file(session: Session, actor: Actor, query: IncidentQuery, unmask: bool) -> str:
    """An .xlsx file (write-only mode, constant memory) in a temporary path; caller deletes it."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("警情")
    ws.append([label for _, label in COLUMNS])
    for r in _records(session, actor, query, unmask):
        ws.append([_cell(r.get(k)) for k, _ in COLUMNS])
    tmp = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    tmp.close()
    wb.save(tmp.name)
    return tmp.name
