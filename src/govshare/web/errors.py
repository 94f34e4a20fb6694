"""Turn every error into the one JSON shape (API), an HTMX fragment, or an error page (UI)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.errors import DomainError, Forbidden, Invalid, NotFound, PasswordChangeRequired, Unauthorized
from govshare.web.templating import render

log = logging.getLogger("govshare.web")

_FIELD_MESSAGES = {
    "missing": "必填",
    "json_invalid": "不是有效的 JSON",
    "string_too_short": "太短",
    "string_too_long": "太长",
    "string_pattern_mismatch": "格式不正确",
    "extra_forbidden": "不允许的字段",
    "int_parsing": "应为整数",
    "bool_parsing": "应为是/否",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "value_error": "取值不正确",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "too_long": "项目太多",
    "list_type": "应为列表",
    "model_attributes_type": "应为对象",
    "dict_type": "应为对象",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/healthz"


def render_error(request: Request, error: DomainError) -> Response:
    response = _error_response(request, error)
    response.headers.update(getattr(error, "headers", None) or {})  # e.g. Retry-After of a 429
    return response


def _error_response(request: Request, error: DomainError) -> Response:
    if wants_json(request):
        return JSONResponse(error.to_dict(), status_code=error.status)
    if (
        isinstance(error, PasswordChangeRequired)
        and request.method == "GET"
        and "hx-request" not in request.headers
    ):
        return RedirectResponse("/password", status_code=303)
    if isinstance(error, Unauthorized) and request.method == "GET" and "hx-request" not in request.headers:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    context = {"error": error, "status": error.status}
    if "hx-request" in request.headers:
        response = render(request, "_error_fragment.html", context, status_code=error.status)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "error.html", context, status_code=error.status)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        location = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        message = str(err.get("msg", ""))
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
            hint = message
        else:
            hint = _FIELD_MESSAGES.get(str(err.get("type")), "取值不正确")
        details.append({"field": ".".join(location) or "body", "problem": hint, "message_en": message})
    return details


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, Forbidden) and getattr(request.state, "actor", None) is not None:
            _record_denial(request, exc)
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        summary = "；".join(f"{d['field']}：{d['problem']}" for d in details[:5])
        return render_error(
            request,
            Invalid(
                f"提交的内容有误，请修改后重试（{summary}）。", "The request is not valid.", details=details
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return render_error(request, NotFound("找不到该页面或接口。", "No such page or endpoint."))
        if exc.status_code == 405:
            error = DomainError("不支持该请求方式。", "Method not allowed.")
            error.status = 405  # type: ignore[misc]
            error.code = "method_not_allowed"  # type: ignore[misc]
            return render_error(request, error)
        error = DomainError(str(exc.detail), str(exc.detail))
        error.status = exc.status_code  # type: ignore[misc]
        return render_error(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        error = DomainError(
            "系统内部错误，操作未生效。请稍后重试；如仍失败请联系平台运维。",
            "Internal error; nothing was changed.",
        )
        error.status = 500  # type: ignore[misc]
        error.code = "internal_error"  # type: ignore[misc]
        return render_error(request, error)


def _record_denial(request: Request, exc: Forbidden) -> None:
    """Denied actions are evidence for abuse detection (S10, S12): record them on their own."""
    actor = request.state.actor
    details = exc.details if isinstance(exc.details, dict) else {}
    if details.get("reason") == "csrf" or not actor.is_authenticated:
        return
    if exc.keep_changes:  # the service recorded this refusal in its own event (a data call's, an
        return  # address's): a second one would count it twice towards `denial_burst`
    try:
        with request.app.state.unit_of_work() as db:
            audit.record(
                db,
                EventType.access_denied,
                actor=actor,
                outcome="denied",
                details={"method": request.method, "path": request.url.path, **details},
            )
    except Exception:  # the denial itself must still reach the caller
        log.exception("could not record a denied access")
