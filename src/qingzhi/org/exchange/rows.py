"""The bundle's files parsed, and every row validated through the organisation API's schemas.

Nothing here reads the database. Each file becomes its valid rows (``Row``: the schema object,
its line, its geometry as stored) and every problem found (``RowError``), so that one refusal
lists every bad row. A row's cells become the schema's JSON types first: a blank cell is left
out (the schema's default applies), a CSV or GeoJSON boolean may be written 是/否, yes/no, 1/0,
a number may be text; properties the bundle format does not name are ignored.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from qingzhi.errors import QingzhiError, RowError
from qingzhi.geo.geometry import parse_area, to_geojson_text
from qingzhi.org.exchange.files import BUREAU, OFFICER_COLUMNS, OFFICERS, UNITS, ZONES
from qingzhi.org.schemas import BureauImport, OfficerImport, UnitImport, ZoneImport
from qingzhi.params import any_control, has_control

log = logging.getLogger(__name__)

BUREAU_KEYS = ("code", "name", "population", "synthetic")
UNIT_KEYS = (
    "code",
    "name",
    "kind",
    "central",
    "population",
    "traffic_integrated",
    "service_window",
    "synthetic",
)
ZONE_KEYS = ("code", "name", "station", "population", "synthetic")
REQUIRED_COLUMNS = ("police_number", "name", "kind", "unit")
_BOOLS = frozenset({"traffic_integrated", "service_window", "synthetic", "active"})
_NUMBERS = frozenset({"population"})
_TRUE = frozenset({"1", "true", "yes", "y", "是", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "否", "f"})

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Row(Generic[M]):
    """One valid row: its line in the file (None in bureau.json), the schema object and its
    geometry as stored (GeoJSON text), if any."""

    line: int | None
    data: M
    area: str | None = None


@dataclass
class Bundle:
    """A parsed bundle: the valid rows, the codes its rows declare (valid or not, so that a
    bad row does not also fail the rows naming it) and every problem found."""

    bureau: Row[BureauImport] | None = None
    units: list[Row[UnitImport]] = field(default_factory=list)
    zones: list[Row[ZoneImport]] = field(default_factory=list)
    officers: list[Row[OfficerImport]] = field(default_factory=list)
    unit_codes: set[str] = field(default_factory=set)
    zone_stations: dict[str, str] = field(default_factory=dict)
    problems: list[RowError] = field(default_factory=list)


def parse_bundle(files: Mapping[str, bytes]) -> Bundle:
    """Every file of the bundle parsed and every row validated (files left out: no rows)."""
    bundle = Bundle()
    if BUREAU in files:
        bundle.bureau = _bureau(files[BUREAU], bundle.problems)
    if UNITS in files:
        _units(files[UNITS], bundle)
    if ZONES in files:
        _zones(files[ZONES], bundle)
    if OFFICERS in files:
        _officers(files[OFFICERS], bundle)
    return bundle


# ---------------------------------------------------------------- cells to the schema's types


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"不是布尔值：{value!r}")


def _cell(key: str, value: Any) -> Any:
    """One non-blank cell as its schema field takes it (ValueError for a bad boolean)."""
    if key in _BOOLS:
        return _bool(value)
    if key in _NUMBERS:
        try:
            return int(value) if isinstance(value, str) else value
        except ValueError:
            return value  # the schema names it: a number is wanted
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a code or name written as a number
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass
class _File:
    """One file of the bundle being read: its name, the problems found, the codes seen."""

    name: str
    problems: list[RowError]
    seen: set[str] = field(default_factory=set)

    def problem(self, line: int | None, fld: str, reason: str, kind: str = "value_error") -> None:
        """Note a problem of this file."""
        self.problems.append(RowError(self.name, line, fld, reason, kind))

    def duplicate(self, line: int, fld: str, code: str, what: str) -> bool:
        """Whether ``code`` came before in this file (a problem); else it is declared."""
        if code in self.seen:
            self.problem(line, fld, f"{what} {code} 重复", "duplicate")
            return True
        if code:
            self.seen.add(code)
        return False

    def validate(
        self, model: type[M], raw: Mapping[str, Any], keys: Iterable[str], line: int | None
    ) -> M | None:
        """The row's known cells (blanks left out) as ``model``; None when any is bad."""
        values: dict[str, Any] = {}
        found = len(self.problems)
        for key in keys:
            value = raw.get(key)
            value = value.strip() if isinstance(value, str) else value
            if value is None or value == "":
                continue
            try:
                values[key] = _cell(key, value)
            except ValueError as exc:
                self.problem(line, key, str(exc), "bool_parsing")
        try:
            data = model.model_validate(values)
        except ValidationError as exc:
            self.problems.extend(RowError.of(exc, file=self.name, row=line))
            return None
        return data if len(self.problems) == found else None

    def area(self, value: Any, line: int | None, fld: str) -> str | None:
        """A geometry as stored, validated as the API validates it (None when absent)."""
        if not value:
            return None
        try:
            return to_geojson_text(parse_area(value, fld))
        except QingzhiError as exc:
            self.problem(line, fld, exc.reason)
            return None


# ---------------------------------------------------------------- the JSON files


def _load_json(raw: bytes) -> Any:
    """A bundle file's JSON; ValueError when it is not UTF-8 JSON, nests too deeply or holds
    control characters (NUL) in its text."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON 嵌套过深") from None
    if any_control(doc):
        raise ValueError("文本含有控制字符（如 NUL）")
    return doc


def _bureau(raw: bytes, problems: list[RowError]) -> Row[BureauImport] | None:
    file = _File(BUREAU, problems)
    try:
        doc = _load_json(raw)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        file.problem(None, "file", f"格式错误：{exc}")
        return None
    if not isinstance(doc, dict):
        file.problem(None, "file", "格式错误：须为 JSON 对象")
        return None
    data = file.validate(BureauImport, doc, BUREAU_KEYS, None)
    area = file.area(doc.get("boundary"), None, "boundary")
    return Row(None, data, area) if data is not None else None


def _features(file: _File, raw: bytes) -> Iterator[tuple[int, dict[str, Any], Any]]:
    """(line, properties, geometry) of each feature of a FeatureCollection that is an object
    with object properties; the others are noted as problems."""
    try:
        doc = _load_json(raw)
    except ValueError as exc:
        file.problem(None, "file", f"不是合法的 UTF-8 GeoJSON：{exc}")
        return
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        file.problem(None, "file", "须为 GeoJSON FeatureCollection")
        return
    feats = doc.get("features")
    if not isinstance(feats, list):
        file.problem(None, "features", "须为 Feature 列表")
        return
    for line, feat in enumerate(feats, start=1):
        if not isinstance(feat, dict):
            file.problem(line, "feature", "须为 GeoJSON Feature 对象")
            continue
        props = feat.get("properties")
        if props is not None and not isinstance(props, dict):
            file.problem(line, "properties", "须为 JSON 对象")
            continue
        yield line, props or {}, feat.get("geometry")


def _units(raw: bytes, bundle: Bundle) -> None:
    file = _File(UNITS, bundle.problems, bundle.unit_codes)
    for line, props, geometry in _features(file, raw):
        if file.duplicate(line, "code", _text(props.get("code")), "单位代码"):
            continue
        data = file.validate(UnitImport, props, UNIT_KEYS, line)
        area = file.area(geometry, line, "geometry")
        if data is not None:
            bundle.units.append(Row(line, data, area))


def _zones(raw: bytes, bundle: Bundle) -> None:
    file = _File(ZONES, bundle.problems)
    for line, props, geometry in _features(file, raw):
        code = _text(props.get("code"))
        if file.duplicate(line, "code", code, "片区代码"):
            continue
        if code:
            bundle.zone_stations[code] = _text(props.get("station"))
        cells = {**props, "name": _text(props.get("name")) or code}  # a zone is named by its code
        data = file.validate(ZoneImport, cells, ZONE_KEYS, line)
        area = file.area(geometry, line, "geometry")
        if data is not None:
            bundle.zones.append(Row(line, data, area))


# ---------------------------------------------------------------- officers.csv


def _csv_text(file: _File, raw: bytes) -> str:
    """The CSV's text, or "" with the problem noted when it is not UTF-8 or holds NUL."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        file.problem(None, "file", f"不是 UTF-8 文本：{exc}")
        return ""
    if has_control(text):
        file.problem(None, "file", "含有控制字符（如 NUL）")
        return ""
    return text


def _officers(raw: bytes, bundle: Bundle) -> None:
    file = _File(OFFICERS, bundle.problems)
    text = _csv_text(file, raw)
    if not text:
        return
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        file.problem(1, ",".join(missing), "缺少必需的列")
        return
    for line, rec in enumerate(reader, start=2):
        if file.duplicate(line, "police_number", _text(rec.get("police_number")), "警号"):
            continue
        data = file.validate(OfficerImport, rec, OFFICER_COLUMNS, line)
        if data is not None:
            bundle.officers.append(Row(line, data))
