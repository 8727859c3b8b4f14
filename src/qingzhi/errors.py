"""The error family: every domain error has a code, an HTTP status and a Chinese user message.

One handler in ``qingzhi.web.app`` maps them to ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of this error."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(QingzhiError):
    """Bad input; ``details`` lists ``{"field", "message"}`` items naming each bad field."""

    code = "validation_failed"
    status = 422
    message = "输入有误"

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        """An error about one named field."""
        return cls(f"{field}：{message}", details=[{"field": field, "message": message}])


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
