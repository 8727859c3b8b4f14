"""Shared input types: bounded ids and offsets, dates and times in a sane range, clean text.

Every API view and request body takes its ids, offsets, dates, times and text through these
types, so that input at the edges (ids beyond the columns' 32 bits, years 1 or 9999, offsets of
+23:59, bare Unix numbers read as times, NUL characters that PostgreSQL refuses in text) is a
422 naming the field, never a 500 from the database or from date arithmetic.

Below every domain: it imports only pydantic and FastAPI (parameter declarations, the
request and its validation error), never ``qingzhi.web``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import types
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from fastapi import Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails

log = logging.getLogger(__name__)

INT4_MAX = 2**31 - 1  # ids are 32-bit integer columns (PostgreSQL int4, serial)
INT8_MAX = 2**63 - 1  # the live event id is a 64-bit column
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2100, 12, 31)
EARLIEST = dt.datetime.combine(EARLIEST_DAY, dt.time(), tzinfo=dt.UTC)
# the widest offsets in use: UTC-12:00 (Baker Island) to UTC+14:00 (Line Islands)
MIN_UTC_OFFSET, MAX_UTC_OFFSET = dt.timedelta(hours=-12), dt.timedelta(hours=14)
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
# C0 control characters except tab, line feed and carriage return (NUL among them)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (NUL, escape, ...; tab and newlines allowed)."""
    return _CONTROL.search(text) is not None


def check_text(value: str) -> str:
    """Refuse text with control characters (PostgreSQL cannot store NUL in text)."""
    if has_control(value):
        raise ValueError("含有控制字符（如 NUL）")
    return value


def _not_a_number(value: Any) -> Any:
    """Dates and times are ISO 8601 text: a bare number is not read as a Unix time."""
    if isinstance(value, int | float):  # bool is an int
        raise ValueError("须为 ISO 8601 日期或时间文本（如 2026-11-01T10:00:00+08:00），不接受数字")
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        raise ValueError("须为 ISO 8601 日期或时间文本（如 2026-11-01T10:00:00+08:00），不接受数字")
    return value


def check_day(value: dt.date) -> dt.date:
    """A date between 2000-01-01 and 2100-12-31."""
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"日期须在 {EARLIEST_DAY} 到 {LATEST_DAY} 之间")
    return value


def check_instant(value: dt.datetime) -> dt.datetime:
    """A time with an offset from -12:00 to +14:00 (or none), its date in 2000–2100."""
    offset = value.utcoffset()
    if offset is not None and not MIN_UTC_OFFSET <= offset <= MAX_UTC_OFFSET:
        raise ValueError("时区偏移须在 -12:00 到 +14:00 之间")
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise ValueError(f"时间须在 {EARLIEST_DAY.year} 年到 {LATEST_DAY.year} 年之间")
    return value


Text = Annotated[str, AfterValidator(check_text)]
Day = Annotated[dt.date, BeforeValidator(_not_a_number), AfterValidator(check_day)]
Instant = Annotated[dt.datetime, BeforeValidator(_not_a_number), AfterValidator(check_instant)]

# Path and query parameters (FastAPI); body fields use the Field forms below.
IdPath = Annotated[int, Path(ge=1, le=INT4_MAX, description="id")]
IdQuery = Annotated[int | None, Query(ge=1, le=INT4_MAX)]
OffsetQuery = Annotated[int, Query(ge=0, le=INT4_MAX)]
EventIdQuery = Annotated[int | None, Query(ge=0, le=INT8_MAX)]
DbId = Annotated[int, Field(ge=1, le=INT4_MAX)]


def any_control(value: Any) -> bool:
    """Whether any text inside ``value`` (nested lists, tuples and dicts, keys too) has a
    control character; iterative, so deeply nested input cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return False


_KINDS: dict[type[BaseModel], dict[str, str]] = {}


def _kinds(model: type[BaseModel]) -> dict[str, str]:
    """The fields of ``model`` that are JSON booleans ("bool") or numbers ("number"); an
    IntEnum is neither (a CSV cell's "3" is a valid priority)."""
    kinds = _KINDS.get(model)
    if kinds is None:
        kinds = {}
        for name, info in model.model_fields.items():
            union = get_origin(info.annotation) in _UNIONS
            args = get_args(info.annotation) if union else (info.annotation,)
            plain = [t for t in args if t is not type(None)]
            if plain == [bool]:
                kinds[name] = "bool"
            elif plain and all(t in (int, float) for t in plain):
                kinds[name] = "number"
        _KINDS[model] = kinds
    return kinds


_UNIONS = (Union, types.UnionType)
_CONTROL_MESSAGE = "含有控制字符（如 NUL）"
_TYPE_MESSAGES = {"bool": "须为 true 或 false", "number": "须为数（不接受文本或 true/false）"}


class Input(BaseModel):
    """Base of every request body: unknown fields refused; no control characters (NUL) in any
    text, nested lists and objects too; booleans and numbers as JSON has them (not "1", 0 for
    false or true for 1, which pydantic's lax mode would take). Each refusal names its field.
    One check of the raw input per model (a validator per field would cost intake a third)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _clean_input(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        kinds = _kinds(cls)
        errors: list[InitErrorDetails] = []
        for key, value in data.items():
            if value is None:
                continue
            kind = kinds.get(key)
            if kind is not None:
                wrong = isinstance(value, bool) != (kind == "bool") or not isinstance(
                    value, int | float
                )
                if not wrong:
                    continue
                message = _TYPE_MESSAGES[kind]
            elif type(value) is str:
                if _CONTROL.search(value) is None:
                    continue
                message = _CONTROL_MESSAGE
            elif isinstance(value, dict | list) and any_control(value):
                message = _CONTROL_MESSAGE
            else:
                continue
            errors.append(
                InitErrorDetails(
                    type="value_error", loc=(key,), input=value, ctx={"error": ValueError(message)}
                )
            )
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency reading the JSON body as ``model`` only when it runs: placed after the
    permission dependency, a large body (bulk intake) is read only for a known caller. FastAPI
    reads a declared body parameter before any dependency, so such routes take this instead
    (with ``openapi_extra=json_request_body(model)`` for the description)."""

    async def dependency(request: Request) -> M:
        return parse_json_body(model, await request.body())

    dependency.__name__ = f"json_body_{model.__name__}"
    return dependency


def parse_json_body(model: type[M], raw: bytes) -> M:
    """A JSON request body as ``model``; its errors as FastAPI's own (422 naming each field)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def json_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads ``model`` through ``json_body``."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, "json_request_body inlines flat models only"
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def control_in_query(pairs: list[tuple[str, str]]) -> str | None:
    """The first query parameter whose name or value has a control character, or None."""
    for key, value in pairs:
        if has_control(key) or has_control(value):
            return key if not has_control(key) else repr(key)
    return None
