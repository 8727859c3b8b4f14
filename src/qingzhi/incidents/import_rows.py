"""One row of a CAD export as an intake item (``to_item``): the mapping's fields, its time rules,
its point checked against placeholders near 0/0 and the place's boundary (``Place``), its status
and priority maps, then the API's own schema (``IncidentImport``, its history replayed through
the lifecycle). A refusal names the field and a reason code (the error file's ``code``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shapely
from pydantic import ValidationError
from pydantic_core import InitErrorDetails
from shapely.geometry.base import BaseGeometry

from qingzhi.incidents.import_mapping import Mapping
from qingzhi.incidents.import_times import TimeError
from qingzhi.incidents.schemas import IncidentImport, Location

log = logging.getLogger(__name__)

_YES = frozenset({"1", "true", "yes", "y", "是"})
_NO = frozenset({"0", "false", "no", "n", "否"})
_NEAR_ZERO = 1.0  # degrees (or metres, for projected input) around 0/0: a placeholder


class _FieldError(ValueError):
    def __init__(self, field: str, reason: str, code: str = "value_error") -> None:
        super().__init__(reason)
        self.field = field
        self.code = code


@dataclass
class Place:
    """What the rows are checked against: the place's boundary (WGS-84), buffered."""

    boundary: BaseGeometry | None = None
    source: tuple[str | None, float] = (None, 0.0)  # what ``of`` was given (for workers)

    @classmethod
    def of(cls, boundary_geojson: str | None, buffer_m: float) -> Place:
        """The place from the bureau's stored boundary (None: no boundary check)."""
        if not boundary_geojson:
            return cls()
        geom = shapely.from_geojson(boundary_geojson)
        if buffer_m > 0:
            geom = geom.buffer(buffer_m / 111_000.0)
        shapely.prepare(geom)
        return cls(geom, (boundary_geojson, buffer_m))


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


def _validated(point: dict[str, Any]) -> Location:
    """The point as the schema's ``Location`` (given to ``IncidentImport`` validated, its text
    is not searched for control characters a second time); an error names ``location.…`` as
    the record's own validation would."""
    try:
        return Location.model_validate(point)
    except ValidationError as exc:
        errors = [
            InitErrorDetails(
                type=e["type"], loc=("location", *e["loc"]), input=e["input"], ctx=e.get("ctx", {})
            )
            for e in exc.errors(include_url=False)
        ]
        raise ValidationError.from_exception_data(IncidentImport.__name__, errors) from None


def _location(
    row: dict[str, Any], mapping: Mapping, place: Place | None, flag: Callable[[str], None]
) -> Location | None:
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
    return _validated(out)
