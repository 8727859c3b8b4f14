"""Reading a CAD export's rows: CSV (plain or gzipped) or Excel .xlsx, streamed.

The encoding is the mapping's (``encoding = "gb18030"``) or, when it names none, detected from
the start of the file (UTF-8 with or without BOM when it decodes as such but for at most a few
stray bytes — 10, or 1 % of its non-ASCII bytes —, else GB18030 when it decodes as such to
mostly hanzi (China's exports), else what charset-normalizer finds). A byte the encoding cannot
decode
does not stop the file: its row is reported (file, row, ``bad_encoding``, the bytes shown) and
the reading goes on. A row with fewer or more cells than the header is reported as a short or
long row, never read with its cells shifted. Excel cells keep their types (a date cell is a
``datetime``), so the time rules read them as dates, not as text.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

SAMPLE_BYTES = 256 * 1024


@dataclass
class BadRow:
    """A row that cannot be read as the header says: its code, reason and raw cells."""

    code: str  # "bad_encoding" | "short_row" | "long_row"
    field: str
    reason: str
    cells: list[str]


class Source:
    """An open export: its header, encoding, size, and the rows (``rows()``) with the bytes
    read so far (``done``, for a progress bar against ``size``)."""

    def __init__(self, path: Path, *, encoding: str | None, delimiter: str, sheet: str | None):
        self.path = path
        self.name = path.name
        self.size = path.stat().st_size
        self.done = 0
        self.delimiter = delimiter
        self.sheet = sheet
        self.xlsx = path.name.lower().endswith(".xlsx")
        self.gz = path.name.lower().endswith(".gz")
        self.encoding = "xlsx" if self.xlsx else (encoding or self._detect())
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            if not self.xlsx:
                raise ValidationFailed.field("source.encoding", f"未知编码 {encoding}") from None
        self.header = self._header()

    def _raw(self) -> IO[bytes]:
        if self.gz:
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb")

    def _detect(self) -> str:
        with self._raw() as raw:
            sample = raw.read(SAMPLE_BYTES)
        if sample.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        # UTF-8 when the sample decodes as such but for a few stray bytes (they are reported by
        # row): a legacy encoding fails UTF-8 on nearly every non-ASCII character.
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        invalid = utf8.decode(sample, final=False).count("\ufffd")
        high = sum(1 for b in sample if b >= 0x80)
        if invalid <= max(10, high // 100):
            return "utf-8-sig"
        # Chinese exports first: GB18030 when the sample decodes as it to mostly hanzi.
        try:  # incrementally: a character cut at the sample's end is not an error
            text = codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        except UnicodeDecodeError:
            text = ""
        wide = [c for c in text if ord(c) >= 0x80]
        if wide and sum(
            "\u3000" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef" for c in wide
        ) >= 0.9 * len(wide):
            log.info("%s: encoding detected as gb18030", self.path.name)
            return "gb18030"
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
        found = best.encoding if best is not None else "gb18030"
        # GB2312 and GBK are subsets: read with their superset, which decodes more.
        if found in ("gb2312", "gbk", "hz", "cp936"):
            found = "gb18030"
        log.info("%s: encoding detected as %s", self.path.name, found)
        return found

    def _header(self) -> list[str]:
        for _line, cells in self._cells():
            if isinstance(cells, BadRow):
                raise ValidationFailed.field(
                    "header", f"{self.name} 的表头无法读取：{cells.reason}"
                )
            return [str(c).strip() if c is not None else "" for c in cells]
        raise ValidationFailed.field("header", f"{self.name} 是空文件")

    def _cells(self) -> Iterator[tuple[int, list[Any] | BadRow]]:
        """(line, cells) of every row, the header first (line 1)."""
        if self.xlsx:
            yield from self._xlsx_cells()
            return
        with (
            self._raw() as raw,
            io.TextIOWrapper(
                raw, encoding=self.encoding, errors="surrogateescape", newline=""
            ) as text,
        ):
            reader = csv.reader(text, delimiter=self.delimiter)
            gz = self.gz
            for n, cells in enumerate(reader, start=1):
                if n % 1000 == 0:
                    self.done = raw.tell() if not gz else raw.fileobj.tell()  # type: ignore[attr-defined]
                try:
                    "".join(cells).encode("utf-8")
                except UnicodeEncodeError:
                    yield n, _bad_bytes(cells, self.encoding)
                    continue
                yield n, cells
            self.done = self.size

    def _xlsx_cells(self) -> Iterator[tuple[int, list[Any] | BadRow]]:
        from openpyxl import load_workbook

        wb = load_workbook(self.path, read_only=True, data_only=True)
        try:
            ws = wb[self.sheet] if self.sheet else wb.worksheets[0]
            total = ws.max_row or 0
            for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if total and n % 1000 == 0:
                    self.done = int(self.size * n / total)
                yield n, list(values)
            self.done = self.size
        finally:
            wb.close()

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | BadRow]]:
        """(line, row by column name) of every data row; a bad one as its ``BadRow``."""
        header = self.header
        width = len(header)
        cells_of = self._cells()
        next(cells_of, None)
        xlsx = self.xlsx
        for n, cells in cells_of:
            if isinstance(cells, BadRow):
                yield n, cells
                continue
            if xlsx:
                while len(cells) > width and cells[-1] is None:
                    cells.pop()
                if all(c is None for c in cells):
                    continue
                cells = [_cell(c) for c in cells]
            elif not cells:
                continue  # a blank line
            if len(cells) != width:
                short = len(cells) < width
                yield (
                    n,
                    BadRow(
                        "short_row" if short else "long_row",
                        "row",
                        f"{'少' if short else '多'}列：{len(cells)} 列，表头 {width} 列"
                        + ("（行被截断？）" if short else "（分隔符或引号有误？）"),
                        [str(c) for c in cells],
                    ),
                )
                continue
            yield n, dict(zip(header, cells, strict=True))


def _cell(value: Any) -> Any:
    """An Excel cell as the time rules and fields read it: text, a number, a date or time."""
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.time, int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return str(value)


def _bad_bytes(cells: list[str], encoding: str) -> BadRow:
    """A row holding bytes its encoding cannot decode, the bytes shown as \\xNN."""
    shown = [
        c.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for c in cells
    ]
    bad = next(
        (s for c, s in zip(cells, shown, strict=True) if s != c),
        "",
    )
    return BadRow(
        "bad_encoding",
        "row",
        f"含 {encoding} 无法解码的字节：{bad[:80]!r}（请在映射的 [source] 中声明 encoding）",
        shown,
    )


def clean(text: str) -> str:
    """Text safe to write out (undecodable bytes as \\xNN)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
