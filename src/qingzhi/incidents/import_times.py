"""Time rules of an import mapping: how one time of a row is read from a CAD export's cells.

A time is read from one column, from several (joined by a space, or a real date cell combined
with a time cell), from a ``"{Date} {Time}"`` template or from ``parts`` (year, month … in
columns of their own); as text in one of the listed ``formats``, as epoch seconds or
milliseconds (``epoch = "s" | "ms"``), or as an Excel date cell (a real date cell always; a
serial number with ``excel = true``). A rule that lists no formats reads ISO 8601 (``"iso"``, which
a list may also name); there is no other fallback: a value no rule reads is a row error.

A 12-hour clock without AM/PM (a format with ``%I`` and no ``%p``) is ambiguous by 12 hours; it
is resolved by a second time of the same row (``resolve_by``, e.g. the export's epoch column):
the candidate that is at or before that time and nearest to it (a call precedes its response),
else the nearest one. Without ``resolve_by`` such a format is refused when the mapping loads.

A naive time is in the place's time zone. On the night the clocks go back an hour repeats:
such a time is ambiguous and counted; it is resolved by ``resolve_by`` when there is one (the
candidate nearest at or before it), else by the mapping's stated rule ``dst`` (``"earlier"``,
the default: the first occurrence, before the change; ``"later"``; ``"reject"``: a row error).
A time in the hour that does not exist when the clocks go forward is a row error unless the rule
is ``"earlier"``/``"later"`` (read with the offset before or after the change).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

TIME_KEYS = frozenset({"column", "columns", "parts", "formats", "epoch", "excel", "resolve_by"})
PART_KEYS = ("year", "month", "day", "hour", "minute", "second")
DST_RULES = ("earlier", "later", "reject")
ISO = "iso"  # the format name of ISO 8601 (``datetime.fromisoformat``)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_HALF_DAY = dt.timedelta(hours=12)
_EPOCH_SCALE = {"s": 1.0, "ms": 1000.0}

Row = dict[str, Any]


class TimeError(ValueError):
    """A time no rule reads; ``code`` is the reason code of the error file."""

    def __init__(self, message: str, code: str = "bad_time") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class TimeRule:
    """How one time field is read (see the module docstring)."""

    name: str
    columns: list[str]
    template: str | None
    parts: dict[str, str] | None
    formats: list[str]
    epoch: float | None
    excel: bool
    resolve_by: TimeRule | None
    timezone: ZoneInfo
    dst: str
    ambiguous_formats: frozenset[str]

    @classmethod
    def parse(
        cls, name: str, spec: Any, *, formats: list[str], timezone: ZoneInfo, dst: str
    ) -> TimeRule:
        """A rule from its mapping entry (a column, a template or a table); errors name it."""
        key = f"fields.{name}"
        columns: list[str] = []
        template = parts = None
        epoch, excel, resolve = None, False, None
        own_formats = formats
        if isinstance(spec, str):
            if "{" in spec:
                template = spec
            else:
                columns = [spec]
        elif isinstance(spec, dict):
            unknown = sorted(set(spec) - TIME_KEYS)
            if unknown:
                raise ValidationFailed.field(
                    f"{key}.{unknown[0]}",
                    f"未知的时间规则键 {unknown[0]!r}（可用：{', '.join(sorted(TIME_KEYS))}）",
                )
            if "parts" in spec:
                parts = {str(k): str(v) for k, v in dict(spec["parts"]).items()}
                bad = sorted(set(parts) - set(PART_KEYS))
                if bad:
                    raise ValidationFailed.field(
                        f"{key}.parts.{bad[0]}", f"可用：{', '.join(PART_KEYS)}"
                    )
            elif "columns" in spec:
                columns = [str(c) for c in spec["columns"]]
            elif "column" in spec:
                columns = [str(spec["column"])]
            else:
                raise ValidationFailed.field(key, "时间规则须有 column、columns 或 parts")
            own_formats = [str(f) for f in spec.get("formats", formats)]
            if "epoch" in spec:
                if spec["epoch"] not in _EPOCH_SCALE:
                    raise ValidationFailed.field(f"{key}.epoch", '须为 "s" 或 "ms"')
                epoch = _EPOCH_SCALE[spec["epoch"]]
            excel = bool(spec.get("excel", False))
            if "resolve_by" in spec:
                resolve = cls.parse(
                    f"{name}.resolve_by",
                    spec["resolve_by"],
                    formats=formats,
                    timezone=timezone,
                    dst=dst,
                )
        else:
            raise ValidationFailed.field(key, f"无法理解的时间规则 {spec!r}")
        ambiguous = frozenset(f for f in own_formats if "%I" in f and "%p" not in f)
        if ambiguous and resolve is None:
            raise ValidationFailed.field(
                f"{key}.formats",
                f"12 小时制格式 {sorted(ambiguous)[0]!r} 没有上午/下午（%p）：须以 resolve_by "
                "指明用来判别的另一时间列（如纪元毫秒列）",
            )
        if parts is None and not columns and template is None:
            raise ValidationFailed.field(key, "时间规则没有列")
        if parts is None and epoch is None and not own_formats and not excel:
            own_formats = [ISO]  # no formats listed: ISO 8601 only, as documented
        return cls(
            name=name,
            columns=columns,
            template=template,
            parts=parts,
            formats=own_formats,
            epoch=epoch,
            excel=excel,
            resolve_by=resolve,
            timezone=timezone,
            dst=dst,
            ambiguous_formats=ambiguous,
        )

    def referenced(self) -> list[str]:
        """The columns this rule reads (for the header check)."""
        from qingzhi.incidents.import_mapping import template_columns

        cols = list(self.columns)
        if self.template:
            cols += template_columns(self.template)
        if self.parts:
            cols += list(self.parts.values())
        if self.resolve_by:
            cols += self.resolve_by.referenced()
        return cols

    def read(self, row: Row, flags: Callable[[str], None] | None = None) -> dt.datetime | None:
        """This time of ``row`` (aware), None when its cells are empty; TimeError if unreadable.
        ``flags`` is told of each ambiguity resolved (``"dst_ambiguous"``, ``"clock12"``)."""
        if self.parts is not None:
            return self._from_parts(row, flags)
        value = self._cell(row)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return self._localise(value, None, flags)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._number(float(value), flags)
        text = " ".join(str(value).split())
        if not text:
            return None
        if self.epoch is not None or self.excel:
            try:
                number = float(text)
            except ValueError:
                number = None
            if number is not None:
                return self._number(number, flags)
        for fmt in self.formats:
            try:
                parsed = _parse(text, fmt)
            except ValueError:
                continue
            if fmt in self.ambiguous_formats:
                return self._clock12(parsed, row, flags)
            if parsed.tzinfo is not None:
                return parsed
            return self._localise(parsed, row, flags)
        raise TimeError(f"{text!r} 不符合任何时间格式（{'; '.join(self.formats) or '无'}）")

    def _cell(self, row: Row) -> Any:
        if self.template is not None:
            from qingzhi.incidents.import_mapping import fill_template

            return fill_template(self.template, row)
        if len(self.columns) == 1:
            value = row.get(self.columns[0])
            return None if value is None or value == "" else value
        values = [row.get(c) for c in self.columns]
        if all(v is None or v == "" for v in values):
            return None
        dates = [v for v in values if isinstance(v, dt.datetime)]
        clocks = [v for v in values if isinstance(v, dt.time)]
        if dates and clocks:  # an Excel date cell and an Excel time cell
            return dt.datetime.combine(dates[0].date(), clocks[0])
        return " ".join(_cell_text(v) for v in values)

    def _number(self, number: float, flags: Callable[[str], None] | None) -> dt.datetime:
        if self.epoch is not None:
            try:
                return dt.datetime.fromtimestamp(number / self.epoch, dt.UTC)
            except (OverflowError, OSError, ValueError):
                raise TimeError(f"纪元时间 {number} 超出范围") from None
        if self.excel and 0 < number < 2_958_466:
            # a serial day number, to the millisecond (its float carries noise below that)
            ms = round(number * 86_400_000)
            return self._localise(_EXCEL_EPOCH + dt.timedelta(milliseconds=ms), None, flags)
        raise TimeError(f"数值 {number} 不是时间（映射未设 epoch 或 excel）")

    def _from_parts(self, row: Row, flags: Callable[[str], None] | None) -> dt.datetime:
        assert self.parts is not None
        values: dict[str, int] = {}
        for k, col in self.parts.items():
            cell = row.get(col)
            try:
                values[k] = int(float(cell)) if cell not in (None, "") else 0
            except (TypeError, ValueError):
                raise TimeError(f"{col} 不是数：{cell!r}") from None
        try:
            naive = dt.datetime(
                values.get("year", 1),
                values.get("month", 1),
                values.get("day", 1),
                values.get("hour", 0),
                values.get("minute", 0),
                values.get("second", 0),
            )
        except ValueError as exc:
            raise TimeError(f"日期不存在：{exc}") from None
        return self._localise(naive, row, flags)

    def _reference(self, row: Row | None) -> dt.datetime | None:
        if row is None or self.resolve_by is None:
            return None
        try:
            return self.resolve_by.read(row)
        except TimeError:
            return None

    def _clock12(
        self, parsed: dt.datetime, row: Row, flags: Callable[[str], None] | None
    ) -> dt.datetime:
        ref = self._reference(row)
        if ref is None:
            raise TimeError(
                "12 小时制时间没有上午/下午，判别列为空或无法读取", code="clock12_unresolved"
            )
        candidates = [c for naive in (parsed, parsed + _HALF_DAY) for c in self._folds(naive)]
        chosen = _nearest(candidates, ref)
        if flags:
            flags("clock12")
        return chosen

    def _folds(self, naive: dt.datetime) -> list[dt.datetime]:
        """Both readings of a naive local time (one unless the clocks went back)."""
        steady = _steady(self.timezone, naive)
        if steady is not None:
            return [naive.replace(tzinfo=steady)]
        a = naive.replace(tzinfo=self.timezone, fold=0)
        b = naive.replace(tzinfo=self.timezone, fold=1)
        return [a] if a.utcoffset() == b.utcoffset() else [a, b]

    def _localise(
        self, naive: dt.datetime, row: Row | None, flags: Callable[[str], None] | None
    ) -> dt.datetime:
        if naive.tzinfo is not None:
            return naive
        steady = _steady(self.timezone, naive)
        if steady is not None:
            return naive.replace(tzinfo=steady)
        a = naive.replace(tzinfo=self.timezone, fold=0)
        b = naive.replace(tzinfo=self.timezone, fold=1)
        if a.utcoffset() == b.utcoffset():
            return a
        # Either the hour repeated (clocks back) or the hour skipped (clocks forward).
        skipped = a.astimezone(dt.UTC).astimezone(self.timezone).replace(tzinfo=None) != naive
        if skipped:
            if self.dst == "reject":
                raise TimeError(f"{naive} 在夏令时拨快时不存在", code="dst_nonexistent")
            if flags:
                flags("dst_nonexistent")
            return a if self.dst == "earlier" else b
        ref = self._reference(row)
        if ref is not None:
            chosen = _nearest([a, b], ref)
        elif self.dst == "reject":
            raise TimeError(f"{naive} 在夏令时回拨时出现两次，无法判别", code="dst_ambiguous")
        else:
            chosen = a if self.dst == "earlier" else b
        if flags:
            flags("dst_ambiguous")
        return chosen


_FIELDS = {
    "Y": r"(?P<Y>\d{4})",
    "m": r"(?P<m>\d{1,2})",
    "d": r"(?P<d>\d{1,2})",
    "H": r"(?P<H>\d{1,2})",
    "I": r"(?P<I>\d{1,2})",
    "M": r"(?P<M>\d{1,2})",
    "S": r"(?P<S>\d{1,2})",
    "p": r"(?P<p>[AaPp][Mm])",
}
_COMPILED: dict[str, re.Pattern[str] | None] = {}


def _compile(fmt: str) -> re.Pattern[str] | None:
    """A regular expression for a format of only %Y %m %d %H %I %M %S %p and literals (the
    usual CAD ones), None for any other (``strptime`` reads those)."""
    out, i = [], 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            key = fmt[i + 1 : i + 2]
            if key not in _FIELDS:
                return None
            out.append(_FIELDS[key])
            i += 2
        elif c.isspace():
            out.append(r"\s+")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def _parse(text: str, fmt: str) -> dt.datetime:
    """``strptime(text, fmt)``, several times as fast for the usual formats; ValueError alike
    (``%I`` without ``%p`` reads 12 as 0, as strptime does)."""
    if fmt == ISO:
        return dt.datetime.fromisoformat(text)
    if fmt not in _COMPILED:
        _COMPILED[fmt] = _compile(fmt)
    pattern = _COMPILED[fmt]
    if pattern is None:
        return dt.datetime.strptime(text, fmt)
    m = pattern.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} does not match {fmt!r}")
    g = m.groupdict()
    if "I" in g:
        hour = int(g["I"])
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} of a 12-hour clock")
        hour %= 12
        if (g.get("p") or "a").lower() == "pm":
            hour += 12
    else:
        hour = int(g.get("H") or 0)
    return dt.datetime(
        int(g["Y"]),
        int(g.get("m") or 1),
        int(g.get("d") or 1),
        hour,
        int(g.get("M") or 0),
        int(g.get("S") or 0),
    )


_STEADY: dict[tuple[ZoneInfo, int, int, int, int], dt.timezone | None] = {}
_STEADY_MAX = 200_000  # naive hours remembered (23 years of one zone)


def _steady(zone: ZoneInfo, naive: dt.datetime) -> dt.timezone | None:
    """The zone's one UTC offset throughout the naive hour holding ``naive``, as a fixed zone
    (the same instant as reading it in ``zone``, at a fraction of the cost), or None when the
    clocks change in that hour (the readings at its start and at the next hour's, both folds,
    then differ: no zone changes its clocks twice within an hour)."""
    key = (zone, naive.year, naive.month, naive.day, naive.hour)
    try:
        return _STEADY[key]
    except KeyError:
        pass
    start = naive.replace(minute=0, second=0, microsecond=0)
    ends = (start, start + dt.timedelta(hours=1))
    offsets = {t.replace(tzinfo=zone, fold=f).utcoffset() for t in ends for f in (0, 1)}
    found = None
    if len(offsets) == 1:
        offset = offsets.pop()
        found = None if offset is None else dt.timezone(offset)
    if len(_STEADY) >= _STEADY_MAX:
        _STEADY.clear()
    _STEADY[key] = found
    return found


def _nearest(candidates: list[dt.datetime], ref: dt.datetime) -> dt.datetime:
    """The candidate at or before ``ref`` nearest to it, else the nearest after it (in UTC:
    two readings of one wall time in one zone compare equal as they are)."""
    ref = ref.astimezone(dt.UTC)
    utc = [c.astimezone(dt.UTC) for c in candidates]
    before = [c for c in utc if c <= ref]
    if before:
        return max(before)
    return min(utc, key=lambda c: c - ref)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)
