"""The error family: every domain error has a code, an HTTP status and a Chinese user message.

One handler in ``qingzhi.web.app`` maps them to ``{"error": {"code", "message", "details"}}``.
"""

from __future__ import annotations

from typing import Any


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
