"""Brief kinds (日研判、周会商、月调度) and output formats, with their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class BriefKind(StrEnum):
    """The analysis cadence: the previous day, a Monday–Sunday week, a calendar month."""

    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"

    @property
    def label(self) -> str:
        """The brief's Chinese name."""
        return KIND_LABELS[self]


KIND_LABELS = {
    BriefKind.daily: "日研判",
    BriefKind.weekly: "周会商",
    BriefKind.monthly: "月调度",
}


class BriefFormat(StrEnum):
    """The files a brief is archived as."""

    html = "html"
    docx = "docx"
    pdf = "pdf"


MEDIA_TYPES = {
    BriefFormat.html: "text/html; charset=utf-8",
    BriefFormat.docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    BriefFormat.pdf: "application/pdf",
}
DEFAULT_FORMATS = (BriefFormat.html, BriefFormat.docx)


def parse_formats(
    value: str | list[str] | tuple[str, ...], field: str = "format"
) -> list[BriefFormat]:
    """Formats from "html,docx,pdf" (or a list), in a fixed order; 422 naming ``field``."""
    from qingzhi.errors import ValidationFailed

    parts = value.split(",") if isinstance(value, str) else list(value)
    out: set[BriefFormat] = set()
    for part in (p.strip().lower() for p in parts):
        if not part:
            continue
        if part not in BriefFormat.__members__:
            raise ValidationFailed.field(field, f"不支持的格式“{part}”，可选：html, docx, pdf")
        out.add(BriefFormat(part))
    if not out:
        raise ValidationFailed.field(field, "至少选择一种格式：html, docx, pdf")
    return [f for f in BriefFormat if f in out]
