"""Importing 110/CAD exports (CSV, gzipped CSV, Excel .xlsx) through the intake service.

A mapping file (TOML) names the columns, the datum or projected EPSG of the coordinates, the time
zone and formats, and the category mapping. The file is streamed in batches; each batch is one
transaction through ``intake.intake_batches`` (routing, repeats, audit; the next batch is read
while one commits), so a second import of the same file adds nothing (idempotent on the source
id). Every bad row is reported with file, row, field and reason; the good rows still load.

Mapping file::

    [source]
    timezone = "Asia/Shanghai"        # of times without an offset
    id_prefix = "CAD-"                # prepended to source ids
    link_repeats = true               # false for registers of crimes rather than calls
    # sheet = "Sheet1"                # for .xlsx; delimiter = ","; encoding = "utf-8-sig"

    [fields]                          # a column name, a "{COL} template", or {const = "…"}
    source_id = "警情编号"             # or {hash = ["COL", …]} when the export has no id
                                      # (then numbered by occurrence: identical rows are kept)
    received_at = "接警时间"           # or {parts = {year = "Y", month = "M", day = "D", …}}
    time_formats = ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"]
    category = "警情类别"
    description = "简要警情"
    address = "{乡镇}{详细地址}"
    caller_phone = "报警电话"
    x = "经度"
    y = "纬度"
    # Optional lifecycle times (same formats and time zone), replayed through the lifecycle
    # table: a row whose history the table refuses (an arrival without a dispatch, a close
    # without a resolution, a cancel after the close) is a bad row naming the field.
    dispatched_at = "派警时间"
    arrived_at = "到场时间"
    resolved_at = "处置完毕时间"
    closed_at = "结警时间"
    cancelled = "是否撤销"             # 是/否, 1/0, true/false (cancelled at its last step)

    [location]
    datum = "gcj02"                   # wgs84 | gcj02 | bd09 | EPSG:N (projected metres)
    zero_is_missing = true

    [categories]                      # source value -> "category/subtype"
    "盗窃" = "criminal/theft"
    default = "public_order/other_public_order"
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import logging
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from qingzhi.auth.context import Actor
from qingzhi.config import Settings
from qingzhi.errors import RowError, ValidationFailed
from qingzhi.geo.datum import Datum
from qingzhi.incidents import intake
from qingzhi.incidents.enums import SUBTYPES, Category
from qingzhi.incidents.lifecycle import TIME_FIELDS
from qingzhi.incidents.schemas import IncidentImport
from qingzhi.store.db import Database

log = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).parent / "mappings"
BATCH = 5000
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_YES = frozenset({"1", "true", "yes", "y", "是"})
_NO = frozenset({"0", "false", "no", "n", "否"})


@dataclass
class ImportSummary:
    """What an import did."""

    rows: int = 0
    created: int = 0
    existing: int = 0
    errors: list[RowError] = field(default_factory=list)


def _getter(spec: Any, name: str) -> Callable[[dict[str, str]], str | None]:
    """A function reading one field from a row, per the mapping's spec."""
    if spec is None:
        return lambda row: None
    if isinstance(spec, dict) and "const" in spec:
        const = str(spec["const"])
        return lambda row: const
    if isinstance(spec, dict) and "hash" in spec:
        cols = [str(c) for c in spec["hash"]]

        def hashed(row: dict[str, str]) -> str:
            text = "\x1f".join(row.get(c, "") or "" for c in cols)
            return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]

        return hashed
    if isinstance(spec, str) and _TEMPLATE.search(spec):

        def templated(row: dict[str, str]) -> str:
            return _TEMPLATE.sub(lambda m: (row.get(m.group(1)) or "").strip(), spec).strip()

        return templated
    if isinstance(spec, str):
        return lambda row: row.get(spec)
    raise ValidationFailed.field(f"fields.{name}", f"无法理解的字段映射 {spec!r}")


@dataclass
class Mapping:
    """A parsed mapping file."""

    path: Path
    timezone: ZoneInfo
    id_prefix: str
    sheet: str | None
    delimiter: str
    encoding: str
    get: dict[str, Callable[[dict[str, str]], str | None]]
    time_parts: dict[str, str] | None
    time_formats: list[str]
    datum: Datum | None
    transformer: Transformer | None
    zero_is_missing: bool
    hashed_id: bool
    link_repeats: bool
    categories: dict[str, tuple[Category, str | None]]
    default_category: tuple[Category, str | None] | None

    @classmethod
    def load(cls, path: Path) -> Mapping:
        """Read and check a mapping file; errors name the bad key."""
        if not path.exists() and (MAPPINGS_DIR / path.name).exists():
            path = MAPPINGS_DIR / path.name
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed.field("mapping", f"无法读取映射文件 {path}：{exc}") from None
        source, fields = doc.get("source", {}), doc.get("fields", {})
        loc, cats = doc.get("location", {}), doc.get("categories", {})
        try:
            tz = ZoneInfo(source.get("timezone", "Asia/Shanghai"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed.field("source.timezone", "未知时区") from None
        for required in ("received_at", "category"):
            if required not in fields:
                raise ValidationFailed.field(f"fields.{required}", "映射缺少必填字段")
        received = fields["received_at"]
        parts = received["parts"] if isinstance(received, dict) and "parts" in received else None
        names = (
            "source_id",
            "received_at",
            "category",
            "subtype",
            "description",
            "address",
            "caller_phone",
            "x",
            "y",
            "priority",
            *TIME_FIELDS,
            "cancelled",
        )
        getters = {
            n: _getter(fields.get(n), n) for n in names if not (n == "received_at" and parts)
        }
        datum = transformer = None
        crs_name = str(loc.get("datum", "wgs84"))
        if crs_name.upper().startswith("EPSG:"):
            try:
                crs = CRS.from_user_input(crs_name)
            except CRSError:
                raise ValidationFailed.field("location.datum", f"未知坐标系 {crs_name}") from None
            transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        else:
            try:
                datum = Datum(crs_name.lower())
            except ValueError:
                raise ValidationFailed.field(
                    "location.datum", f"未知坐标系 {crs_name}（wgs84/gcj02/bd09/EPSG:N）"
                ) from None
        categories: dict[str, tuple[Category, str | None]] = {}
        default = None
        for key, value in cats.items():
            parsed = _category(str(value), f"categories.{key}")
            if key == "default":
                default = parsed
            else:
                categories[key] = parsed
        return cls(
            path=path,
            timezone=tz,
            id_prefix=str(source.get("id_prefix", "")),
            sheet=source.get("sheet"),
            delimiter=str(source.get("delimiter", ",")),
            encoding=str(source.get("encoding", "utf-8-sig")),
            get=getters,
            time_parts=dict(parts) if parts else None,
            time_formats=list(fields.get("time_formats", [])),
            datum=datum,
            transformer=transformer,
            zero_is_missing=bool(loc.get("zero_is_missing", True)),
            hashed_id=isinstance(fields.get("source_id"), dict) and "hash" in fields["source_id"],
            link_repeats=bool(source.get("link_repeats", True)),
            categories=categories,
            default_category=default,
        )


def _category(value: str, key: str) -> tuple[Category, str | None]:
    cat, _, sub = value.partition("/")
    try:
        category = Category(cat)
    except ValueError:
        raise ValidationFailed.field(key, f"未知警情类别 {cat!r}") from None
    if sub and sub not in SUBTYPES[category]:
        raise ValidationFailed.field(key, f"{sub!r} 不是 {cat} 的子类")
    return category, sub or None


def _rows(path: Path, mapping: Mapping) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, row) of a CSV, gzipped CSV or .xlsx file, streamed."""
    name = path.name.lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        ws = wb[mapping.sheet] if mapping.sheet else wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(it, ())]
        for n, values in enumerate(it, start=2):
            yield n, {h: _text(v) for h, v in zip(header, values, strict=False)}
        wb.close()
        return
    opener: Callable[[Path], IO[bytes]] = (
        gzip.open if name.endswith(".gz") else lambda p: p.open("rb")  # type: ignore[assignment]
    )
    with opener(path) as raw, io.TextIOWrapper(raw, encoding=mapping.encoding, newline="") as text:
        reader = csv.DictReader(text, delimiter=mapping.delimiter)
        for n, row in enumerate(reader, start=2):
            yield n, {k.strip(): (v or "") for k, v in row.items() if k is not None}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _time(row: dict[str, str], mapping: Mapping) -> dt.datetime:
    if mapping.time_parts is not None:
        p = mapping.time_parts
        values = {k: int(float(row.get(col) or 0)) for k, col in p.items()}
        naive = dt.datetime(
            values.get("year", 1),
            values.get("month", 1),
            values.get("day", 1),
            values.get("hour", 0),
            values.get("minute", 0),
            values.get("second", 0),
        )
        return naive.replace(tzinfo=mapping.timezone)
    text = (mapping.get["received_at"](row) or "").strip()
    if not text:
        raise ValueError("时间为空")
    return _parse_time(text, mapping)


def _parse_time(text: str, mapping: Mapping) -> dt.datetime:
    """A time in one of the mapping's formats (else ISO 8601), in its time zone if naive."""
    for fmt in mapping.time_formats:
        try:
            parsed = dt.datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    else:
        parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=mapping.timezone)


def to_item(row: dict[str, str], mapping: Mapping, occurrence: int = 1) -> IncidentImport:
    """One row as an intake item (raises ValueError or ValidationError naming the field).

    ``occurrence`` numbers rows whose hashed id repeats in a file: an export without record ids
    can hold identical rows that are separate records.
    """
    g = mapping.get
    raw_cat = (g["category"](row) or "").strip()
    cat = mapping.categories.get(raw_cat, mapping.default_category)
    if cat is None:
        raise _FieldError("category", f"类别 {raw_cat!r} 不在映射中，且无 default")
    try:
        received = _time(row, mapping)
    except (ValueError, TypeError) as exc:
        raise _FieldError("received_at", f"无法解析时间：{exc}") from None
    location = None
    xs, ys = (g["x"](row) or "").strip(), (g["y"](row) or "").strip()
    if xs and ys:
        try:
            x, y = float(xs), float(ys)
        except ValueError:
            raise _FieldError("x/y", f"坐标不是数：{xs!r}, {ys!r}") from None
        if not (mapping.zero_is_missing and x == 0 and y == 0):
            if mapping.transformer is not None:
                lon, lat = mapping.transformer.transform(x, y)
                location = {"lon": lon, "lat": lat, "datum": "wgs84"}
            else:
                location = {"lon": x, "lat": y, "datum": str(mapping.datum)}
    sid = g["source_id"](row)
    if not sid:
        raise _FieldError("source_id", "缺少警情编号")
    if mapping.hashed_id:
        sid = f"{sid}-{occurrence}"
    priority = g["priority"](row)
    lifecycle: dict[str, Any] = {}
    for name in TIME_FIELDS:
        text = (g[name](row) or "").strip()
        if text:
            try:
                lifecycle[name] = _parse_time(text, mapping)
            except ValueError as exc:
                raise _FieldError(name, f"无法解析时间：{exc}") from None
    flag = (g["cancelled"](row) or "").strip().lower()
    if flag:
        if flag not in _YES and flag not in _NO:
            raise _FieldError("cancelled", f"须为 是/否（1/0、true/false），而非 {flag!r}")
        lifecycle["cancelled"] = flag in _YES
    return IncidentImport.model_validate(
        {
            "source_id": mapping.id_prefix + sid.strip(),
            "received_at": received,
            "category": cat[0],
            "subtype": cat[1] or (g["subtype"](row) or None),
            "description": (g["description"](row) or "")[:4000],
            "address": (g["address"](row) or "")[:500],
            "caller_phone": (g["caller_phone"](row) or None),
            "location": location,
            "priority": priority or 3,  # validated by the schema (a bad cell names the field)
            **lifecycle,  # its history replayed by the schema (``lifecycle.history``)
        }
    )


class _FieldError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def import_file(
    *,
    db: Database,
    actor: Actor,
    settings: Settings,
    path: Path,
    mapping: Mapping,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> ImportSummary:
    """Stream a file into the intake service in batches; bad rows reported, good rows loaded."""
    summary = ImportSummary()
    seen: Counter[str] = Counter()

    def batches() -> Iterator[list[IncidentImport]]:
        batch: list[IncidentImport] = []
        for line, row in _rows(path, mapping):
            if limit is not None and summary.rows >= limit:
                break
            summary.rows += 1
            occurrence = 1
            if mapping.hashed_id:
                key = mapping.get["source_id"](row) or ""
                seen[key] += 1
                occurrence = seen[key]
            try:
                batch.append(to_item(row, mapping, occurrence))
            except _FieldError as exc:
                summary.errors.append(RowError(path.name, line, exc.field, str(exc)))
            except ValidationError as exc:
                summary.errors.extend(RowError.of(exc, file=path.name, row=line))
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    for results in intake.intake_batches(
        db=db,
        actor=actor,
        settings=settings,
        batches=batches(),
        action="incident.import",
        link_repeats=mapping.link_repeats,
    ):
        created = sum(r.created for r in results)
        summary.created += created
        summary.existing += len(results) - created
        if progress:
            progress(len(results))
    if summary.created:
        db.analyze()
    return summary
