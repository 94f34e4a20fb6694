"""Domain errors and the one error shape.

Services raise these; `govshare.web.errors` turns them into the JSON shape below (or an HTML error
page), fixed by `tests/web/test_errors.py`:

    {"error": {"code": "forbidden", "message": "<中文>", "message_en": "<English>", "details": ...}}
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_zh: ClassVar[str] = "请求有误，请检查后重试。"
    default_en: ClassVar[str] = "The request is not valid."
    # Changes made before the error are committed anyway (failed logins, refused calls are evidence).
    keep_changes: bool = False

    def __init__(
        self,
        message: str | None = None,
        message_en: str | None = None,
        *,
        details: Any = None,
        keep_changes: bool = False,
    ) -> None:
        self.message = message or self.default_zh
        self.message_en = message_en or self.default_en
        self.details = details
        self.keep_changes = keep_changes
        super().__init__(self.message_en)

    def __str__(self) -> str:
        return f"{self.message_en} ({self.message})"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "message_en": self.message_en}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class Invalid(DomainError):
    status = 422
    code = "invalid"
    default_zh = "提交的内容不符合要求，请按提示修改。"
    default_en = "The submitted data is not valid."


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_zh = "请先登录，或登录已失效，请重新登录。"
    default_en = "Authentication required: log in again."


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_zh = "您没有执行此操作的权限。如需办理，请联系本单位数据资源管理员。"
    default_en = "You are not allowed to perform this action."


class PasswordChangeRequired(DomainError):
    """A person signed in with a temporary password (set by an administrator) asks for anything
    but changing it. Not a `Forbidden`: it is not a denial of an authorisation, and does not count
    towards the abuse detector's denials."""

    status = 403
    code = "password_change_required"
    default_zh = "您的密码是管理员设置的临时密码，请先修改密码，再继续使用平台。"
    default_en = "The password is temporary: change it first."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_zh = "找不到该对象，或您无权查看。"
    default_en = "Not found."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_zh = "操作与当前状态冲突，请刷新后重试。"
    default_en = "The request conflicts with the current state."


class TooLarge(DomainError):
    status = 413
    code = "too_large"
    default_zh = "提交的内容过大。"
    default_en = "The request body is too large."


class TooManyRequests(DomainError):
    """Too many calls from one address in the current window; `retry_after` seconds until the next."""

    status = 429
    code = "too_many_requests"
    default_zh = "请求过于频繁，请稍后再试。"
    default_en = "Too many requests; try again later."

    def __init__(
        self, message: str | None = None, message_en: str | None = None, *, retry_after: int
    ) -> None:
        super().__init__(message, message_en, details={"retry_after": retry_after}, keep_changes=True)
        self.headers = {"Retry-After": str(retry_after)}


class Locked(DomainError):
    status = 423
    code = "locked"
    default_zh = "账号因多次登录失败已被临时锁定，请稍后再试或联系管理员解锁。"
    default_en = "The account is temporarily locked after repeated failed logins."
