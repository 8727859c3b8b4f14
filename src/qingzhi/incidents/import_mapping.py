"""The import mapping (a TOML file): which column of a CAD export is which field, the time rules,
the coordinates' datum, the category, priority and status maps; checked whole when it loads
(an unknown key is an error naming it, with the key it was probably meant to be) and against a
file's header before anything is written (``check_header``: a column the mapping names that the
file lacks is an error, with the nearest column of the file; the file's columns that nothing
reads are listed). The keys are documented in ``docs/county.md``.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from qingzhi.errors import ValidationFailed
from qingzhi.geo.datum import Datum
from qingzhi.incidents.enums import SUBTYPES, Category, Priority
from qingzhi.incidents.import_times import DST_RULES, Row, TimeRule
from qingzhi.incidents.lifecycle import TIME_FIELDS

log = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).parent / "mappings"
_TEMPLATE = re.compile(r"\{([^{}]+)\}")

SECTIONS: dict[str, frozenset[str] | None] = {
    "source": frozenset(
        {
            "timezone",
            "id_prefix",
            "link_repeats",
            "sheet",
            "delimiter",
            "encoding",
            "dst",
        }
    ),
    "fields": frozenset(
        {
            "source_id",
            "received_at",
            "time_formats",
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
            "status",
            "source_type",
            "source_district",
            "source_beat",
        }
    ),
    "location": frozenset({"datum", "zero_is_missing", "placeholder", "boundary_buffer_m"}),
    "categories": None,
    "priorities": None,
    "statuses": None,
}
TEXT_FIELDS = (
    "source_id",
    "category",
    "subtype",
    "description",
    "address",
    "caller_phone",
    "x",
    "y",
    "priority",
    "cancelled",
    "status",
    "source_type",
    "source_district",
    "source_beat",
)
# Common slips, beyond what difflib finds.
_ALIASES = {
    "lon": "x",
    "lng": "x",
    "longitude": "x",
    "lat": "y",
    "latitude": "y",
    "id": "source_id",
}
STATUS_VALUES = ("open", "closed", "cancelled")
_T = TypeVar("_T")


def template_columns(template: str) -> list[str]:
    """The columns a ``"{A} {B}"`` template reads."""
    return _TEMPLATE.findall(template)


def fill_template(template: str, row: Row) -> str:
    """A template filled from a row (empty cells stay empty)."""
    return _TEMPLATE.sub(lambda m: str(row.get(m.group(1)) or "").strip(), template).strip()


def _suggest(word: str, known: list[str]) -> str:
    alias = _ALIASES.get(word.lower())
    if alias and alias in known:
        return f"（是否应为 {alias!r}？）"
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if not close:
        close = [k for k in known if k.lower() == word.lower()]
    return f"（是否应为 {close[0]!r}？）" if close else ""


Getter = Callable[[Row], str | None]


def _getter(spec: Any, name: str) -> tuple[Getter, list[str]]:
    """A function reading one text field from a row, and the columns it reads."""
    if spec is None:
        return (lambda row: None), []
    if isinstance(spec, dict) and set(spec) == {"const"}:
        const = str(spec["const"])
        return (lambda row: const), []
    if isinstance(spec, dict) and set(spec) == {"hash"}:
        cols = [str(c) for c in spec["hash"]]

        def hashed(row: Row) -> str:
            text = "\x1f".join(_text(row.get(c)) for c in cols)
            return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]

        return hashed, cols
    if isinstance(spec, str) and _TEMPLATE.search(spec):
        return (lambda row: fill_template(spec, row)), template_columns(spec)
    if isinstance(spec, str):
        return (lambda row: _text(row.get(spec))), [spec]
    raise ValidationFailed.field(
        f"fields.{name}",
        f"无法理解的字段映射 {spec!r}（列名、{{列}}模板、{{const=…}} 或 {{hash=[…]}}）",
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Mapping:
    """A parsed, checked mapping file."""

    path: Path
    timezone: ZoneInfo
    id_prefix: str
    sheet: str | None
    delimiter: str
    encoding: str | None  # None: detected from the file
    get: dict[str, Getter]
    times: dict[str, TimeRule]
    columns: dict[str, list[str]]  # field -> the columns it reads
    datum: Datum | None
    transformer: Transformer | None
    zero_is_missing: bool
    placeholder: str  # "error" | "drop_point"
    boundary_buffer_m: float
    hashed_id: bool
    link_repeats: bool
    categories: dict[str, tuple[Category, str | None]]
    default_category: tuple[Category, str | None] | None
    priorities: dict[str, int] = field(default_factory=dict)
    default_priority: int | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    default_status: str | None = None

    @classmethod
    def load(cls, path: Path, *, default_timezone: str = "Asia/Shanghai") -> Mapping:
        """Read and check a mapping file; errors name the bad key. Naive times are in the
        mapping's ``source.timezone``, else ``default_timezone`` (the place's)."""
        if not path.exists() and (MAPPINGS_DIR / path.name).exists():
            path = MAPPINGS_DIR / path.name
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValidationFailed.field("mapping", f"无法读取映射文件 {path}：{exc}") from None
        _check_keys(doc)
        source, fields = doc.get("source", {}), doc.get("fields", {})
        loc, cats = doc.get("location", {}), doc.get("categories", {})
        try:
            tz = ZoneInfo(source.get("timezone", default_timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed.field("source.timezone", "未知时区") from None
        dst = str(source.get("dst", "earlier"))
        if dst not in DST_RULES:
            raise ValidationFailed.field("source.dst", f"可选：{', '.join(DST_RULES)}")
        for required in ("source_id", "received_at", "category"):
            if required not in fields:
                raise ValidationFailed.field(f"fields.{required}", "映射缺少必填字段")
        formats = [str(f) for f in fields.get("time_formats", [])]
        times: dict[str, TimeRule] = {}
        columns: dict[str, list[str]] = {}
        for name in ("received_at", *TIME_FIELDS):
            if name in fields:
                times[name] = TimeRule.parse(
                    name, fields[name], formats=formats, timezone=tz, dst=dst
                )
                columns[name] = times[name].referenced()
        getters: dict[str, Getter] = {}
        for name in TEXT_FIELDS:
            getters[name], columns[name] = _getter(fields.get(name), name)
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
        placeholder = str(loc.get("placeholder", "error"))
        if placeholder not in ("error", "drop_point"):
            raise ValidationFailed.field("location.placeholder", '须为 "error" 或 "drop_point"')
        categories: dict[str, tuple[Category, str | None]] = {}
        default = None
        for key, value in cats.items():
            parsed = _category(str(value), f"categories.{key}")
            if key == "default":
                default = parsed
            else:
                categories[key] = parsed
        priorities, default_priority = _value_map(
            doc.get("priorities", {}), "priorities", _priority
        )
        statuses, default_status = _value_map(doc.get("statuses", {}), "statuses", _status)
        if fields.get("priority") is not None and not priorities:
            log.debug("priority column read as numbers 1-4")
        return cls(
            path=path,
            timezone=tz,
            id_prefix=str(source.get("id_prefix", "")),
            sheet=source.get("sheet"),
            delimiter=str(source.get("delimiter", ",")),
            encoding=None if source.get("encoding") in (None, "auto") else str(source["encoding"]),
            get=getters,
            times=times,
            columns=columns,
            datum=datum,
            transformer=transformer,
            zero_is_missing=bool(loc.get("zero_is_missing", True)),
            placeholder=placeholder,
            boundary_buffer_m=float(loc.get("boundary_buffer_m", 2000.0)),
            hashed_id=isinstance(fields.get("source_id"), dict) and "hash" in fields["source_id"],
            link_repeats=bool(source.get("link_repeats", True)),
            categories=categories,
            default_category=default,
            priorities=priorities,
            default_priority=default_priority,
            statuses=statuses,
            default_status=default_status,
        )

    def referenced(self) -> list[str]:
        """Every column the mapping reads, in the order of its fields."""
        seen: dict[str, None] = {}
        for cols in self.columns.values():
            for c in cols:
                seen.setdefault(c)
        return list(seen)

    def check_header(self, header: list[str], file: str) -> list[str]:
        """Refuse a header lacking a column the mapping reads (every one named, with the
        file's nearest column); return the file's columns that nothing reads."""
        present = set(header)
        problems = []
        for name, cols in self.columns.items():
            for col in cols:
                if col not in present:
                    problems.append(
                        {
                            "field": f"fields.{name}",
                            "message": f"{file} 没有列 {col!r}{_suggest(col, header)}",
                        }
                    )
        if problems:
            raise ValidationFailed(
                f"映射与 {file} 的表头不符：{len(problems)} 处", details=problems
            )
        used = set(self.referenced())
        return [h for h in header if h not in used]


def _check_keys(doc: dict[str, Any]) -> None:
    """Every section and key known; a slip is named with what it was probably meant to be."""
    for section, value in doc.items():
        if section not in SECTIONS:
            raise ValidationFailed.field(
                section, f"未知的映射节 [{section}]{_suggest(section, list(SECTIONS))}"
            )
        keys = SECTIONS[section]
        if keys is None or not isinstance(value, dict):
            continue
        for key in value:
            if key not in keys:
                raise ValidationFailed.field(
                    f"{section}.{key}",
                    f"未知的映射键 {key!r}{_suggest(key, sorted(keys))}",
                )


def _category(value: str, key: str) -> tuple[Category, str | None]:
    cat, _, sub = value.partition("/")
    try:
        category = Category(cat)
    except ValueError:
        raise ValidationFailed.field(
            key, f"未知警情类别 {cat!r}（可选：{', '.join(Category)}）"
        ) from None
    if sub and sub not in SUBTYPES[category]:
        raise ValidationFailed.field(
            key, f"{sub!r} 不是 {cat} 的子类（可选：{', '.join(SUBTYPES[category])}）"
        )
    return category, sub or None


def _priority(value: Any, key: str) -> int:
    try:
        return int(Priority(int(value)))
    except (TypeError, ValueError):
        raise ValidationFailed.field(key, "等级须为 1–4（1 特急 … 4 咨询）") from None


def _status(value: Any, key: str) -> str:
    if str(value) not in STATUS_VALUES:
        raise ValidationFailed.field(key, f"可选：{', '.join(STATUS_VALUES)}")
    return str(value)


def _value_map(
    table: dict[str, Any], section: str, parse: Callable[[Any, str], _T]
) -> tuple[dict[str, _T], _T | None]:
    out: dict[str, _T] = {}
    default = None
    for key, value in table.items():
        parsed = parse(value, f"{section}.{key}")
        if key == "default":
            default = parsed
        else:
            out[str(key)] = parsed
    return out, default
