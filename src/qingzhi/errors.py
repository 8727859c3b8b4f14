"""The error family: every domain error has a code, an HTTP status and a Chinese user message.

One handler in ``qingzhi.web.app`` maps them to ``{"error": {"code", "message", "details"}}``.
Every importer reports a bad row as one ``RowError`` (file, row, field, reason, type), and a
pydantic refusal reads the same in an import as in an API answer (``validation_message``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError


class QingzhiError(Exception):
    """Base of all expected errors: shown to the user, never a 500."""

    code: str = "error"
    status: int = 400
    message: str = "请求无法处理"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        log_message: str | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details
        super().__init__(log_message or self.message)

    @property
    def reason(self) -> str:
        """What went wrong without the field's name (a one-field error's own message)."""
        details = self.details
        if isinstance(details, list) and len(details) == 1 and isinstance(details[0], dict):
            return str(details[0].get("message", self.message))
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(QingzhiError):
    """Bad input; ``details`` lists ``{"field", "message"}`` items naming each bad field (an
    import's add ``file``, ``row`` and ``type``: ``RowError.detail``)."""

    code = "validation_failed"
    status = 422
    message = "输入有误"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        """An error about one named field."""
        return cls(f"{field}：{message}", details=[{"field": field, "message": message}])


_MESSAGES = {
    "json_invalid": "请求体不是合法的 JSON",
    "missing": "缺少必填字段",
    "extra_forbidden": "未知字段",
}
# pydantic's own error types in Chinese (its messages are English); ``{name}`` takes the value of
# the error's context. A type not listed keeps pydantic's message.
_TEMPLATES = {
    "string_too_long": "长度不得超过 {max_length} 个字符",
    "string_too_short": "长度不得少于 {min_length} 个字符",
    "string_pattern_mismatch": "格式不符（须匹配 {pattern}）",
    "string_type": "须为文本",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "less_than_equal": "不得大于 {le}",
    "less_than": "须小于 {lt}",
    "greater_than_equal": "不得小于 {ge}",
    "greater_than": "须大于 {gt}",
    "multiple_of": "须为 {multiple_of} 的倍数",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数（不能有小数）",
    "float_parsing": "须为数",
    "float_type": "须为数",
    "finite_number": "须为有限的数",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "enum": "可选值：{expected}",
    "literal_error": "可选值：{expected}",
    "list_type": "须为列表",
    "dict_type": "须为对象",
    "model_type": "须为对象",
    "date_parsing": "须为日期（如 2026-12-01）",
    "date_from_datetime_parsing": "须为日期（如 2026-12-01）",
    "date_type": "须为日期（如 2026-12-01）",
    "datetime_parsing": "须为带时区的时间（如 2026-12-01T08:30:00+08:00）",
    "datetime_from_date_parsing": "须为带时区的时间（如 2026-12-01T08:30:00+08:00）",
    "datetime_type": "须为带时区的时间（如 2026-12-01T08:30:00+08:00）",
    "timezone_aware": "时间须带时区（如 +08:00）",
    "uuid_parsing": "须为 UUID",
    "url_parsing": "须为网址",
}


def validation_message(err: Mapping[str, Any]) -> str:
    """The user's message (Chinese) for one pydantic error: the API's answers and every
    importer's use it."""
    kind = str(err.get("type", ""))
    fixed = _MESSAGES.get(kind)
    if fixed:
        return fixed
    template = _TEMPLATES.get(kind)
    ctx = err.get("ctx") or {}
    if template is not None:
        try:
            return template.format(**{k: str(v) for k, v in ctx.items()})
        except (KeyError, IndexError):
            pass
    return str(err.get("msg", "取值无效")).removeprefix("Value error, ")


@dataclass(frozen=True)
class RowError:
    """One bad row of an import: the file, the row (None for the file as a whole), the field,
    the reason, and its type (pydantic's error type, as in the API's 422 details; else
    ``value_error``)."""

    file: str
    row: int | None
    field: str
    reason: str
    type: str = "value_error"

    @classmethod
    def of(
        cls,
        exc: ValidationError,
        *,
        file: str,
        row: int | None,
        whole: str = "row",
        rename: Mapping[str, str] | None = None,
    ) -> list[RowError]:
        """One error per problem pydantic found in a row; the field is the dotted location
        (``whole`` when it names none), renamed by ``rename`` (schema field to file column)."""
        out = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or whole
            field = (rename or {}).get(field, field)
            out.append(cls(file, row, field, validation_message(err), err["type"]))
        return out

    def detail(self) -> dict[str, Any]:
        """This error as one item of ``ValidationFailed.details``."""
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "message": self.reason,
            "type": self.type,
        }

    def where(self) -> str:
        """The place in words: ``units.geojson 第3行 code``."""
        row = f" 第{self.row}行" if self.row is not None else ""
        return f"{self.file}{row} {self.field}"


def rows_failed(errors: Sequence[RowError], what: str = "导入文件") -> ValidationFailed:
    """The refusal of a whole import for ``errors`` (at least one): its message counts them and
    quotes the first; its details list them all."""
    first = errors[0]
    return ValidationFailed(
        f"{what}有 {len(errors)} 处错误，未导入任何数据；首个错误：{first.where()}：{first.reason}",
        details=[e.detail() for e in errors],
    )


class NotFound(QingzhiError):
    code = "not_found"
    status = 404
    message = "记录不存在或不在您的权限范围内"


class Conflict(QingzhiError):
    code = "conflict"
    status = 409
    message = "与现有数据冲突"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "状态流转不允许"


class Unauthenticated(QingzhiError):
    code = "unauthenticated"
    status = 401
    message = "请先登录"


class PermissionDenied(QingzhiError):
    code = "permission_denied"
    status = 403
    message = "没有执行此操作的权限"


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"
    message = "请求来源校验失败，请刷新页面后重试"


class TooManyAttempts(QingzhiError):
    """A throttled login (answered alike for every username; ``retry_after`` in seconds)."""

    code = "too_many_attempts"
    status = 429
    message = "登录尝试过于频繁，请稍后再试"


class ConfigurationError(QingzhiError):
    code = "configuration_error"
    status = 500
    message = "系统配置错误"


class ErrorDetail(BaseModel):
    """The error itself: a stable code, a Chinese message and the details (fields named)."""

    code: str = Field(description="stable error code, e.g. validation_failed")
    message: str = Field(description="what went wrong, in Chinese; names the field")
    details: Any = Field(
        description="e.g. [{field, message}] for bad input; an object or null otherwise"
    )


class ErrorBody(BaseModel):
    """Every error answer's body: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


_ANSWERS = {
    400: "请求体无法解析（不是 UTF-8 编码的 JSON 或表单）",
    401: "未登录，或令牌无效、已撤销、已过期",
    403: "角色没有该权限，或请求来源校验（CSRF）失败",
    404: "记录不存在或不在调用者的权限范围内",
    409: "与现有数据或状态冲突（如重复代码、不允许的状态流转）",
    413: "请求内容超过限制",
    422: "输入有误：details 逐项列出字段与原因",
    429: "请求过于频繁，请按 Retry-After 稍后重试",
}


def _answer(text: str) -> dict[str, Any]:
    # Errors are JSON even where the route answers otherwise (GeoJSON, CSV, zip). No "model"
    # key: FastAPI would add the route's own media type to the answer; the schema is
    # registered by ``error_schemas``.
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {"description": text, "content": {"application/json": {"schema": ref}}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _answer(text) for status, text in _ANSWERS.items()
}
"""The error answers every API operation may give, for the OpenAPI description."""


def error_schemas() -> dict[str, Any]:
    """The OpenAPI component schemas of the error body (``ErrorBody`` and its parts)."""
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, "ErrorBody": schema}
