"""The API-service page of a 接口 resource: the endpoint registration, a trial call for the provider,
and the recent calls with a chart of calls per day by outcome.

The providing department's data administrator registers and tries the service; its security
officer, the Bureau and auditors see the registration (never the credential's value) and the calls.
The /catalog/{resource_id}/service paths are routed before `catalog.views`.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from govshare import masking
from govshare.authz import Action, Actor, allowed
from govshare.catalog.models import Resource
from govshare.db import utcnow
from govshare.errors import Conflict, DomainError, Invalid
from govshare.exchange import services
from govshare.exchange.service_calls import (
    OUTCOME_LABELS,
    CallRequest,
    RateLimited,
    UpstreamFailed,
    UpstreamTimeout,
)
from govshare.exchange.service_models import ApiCall, ApiService
from govshare.exchange.services import MAX_OPENAPI_BYTES, ServiceIn
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.settings import get_settings
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, refusal, see_other
from govshare.web.templating import render
from govshare.workdays import BEIJING

router = APIRouter(include_in_schema=False)

RECENT_CALLS = 50
CHART_DAYS = 14
PREVIEW_CHARS = 20_000
OUTCOME_TAGS = {
    "ok": "ok",
    "refused": "warn",
    "rate_limited": "warn",
    "timeout": "err",
    "upstream_error": "err",
}
OUTCOME_COLORS = {
    "ok": "#2e7d32",
    "refused": "#ef6c00",
    "rate_limited": "#f9a825",
    "timeout": "#6a1b9a",
    "upstream_error": "#c62828",
}
LOCATIONS = {"query": "query", "body": "body", "查询": "query", "请求体": "body"}
REQUIRED_WORDS = {"必填": True, "required": True, "可选": False, "optional": False}
FIELDS = {
    "url": ("接口地址", "应为 http:// 或 https:// 开头的地址"),
    "method": ("请求方法", "请选择 GET 或 POST"),
    "parameters": ("参数", ""),
    "timeout_seconds": ("超时（秒）", "应为 1 到 600 之间的整数"),
    "rate_per_minute": ("限流（次/分钟）", "应为正整数，留空使用平台默认值"),
    "masks": ("脱敏配置", ""),
    "credential_header": ("凭据请求头", ""),
    "credential_value": ("凭据的值", ""),
    "openapi": ("OpenAPI 文档", ""),
}
# Trial-call refusals shown on the page; Forbidden and NotFound go to the error page instead.
TRY_REFUSALS = (Invalid, Conflict, RateLimited, UpstreamFailed, UpstreamTimeout)


def parse_parameters(text: str) -> list[dict[str, Any]]:
    """One parameter a line: `name [query|body] [必填|可选] [description…]`; raises Invalid."""
    parameters: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        name, rest = words[0], words[1:]
        location = "query"
        if rest and rest[0].lower() in LOCATIONS:
            location = LOCATIONS[rest.pop(0).lower()]
        required = False
        if rest and rest[0].lower() in REQUIRED_WORDS:
            required = REQUIRED_WORDS[rest.pop(0).lower()]
        parameters.append(
            {"name": name, "in": location, "required": required, "description": " ".join(rest) or None}
        )
        if len(parameters) > 50:
            raise Invalid(f"参数最多 50 个（第 {number} 行起超出）。", "Too many parameters.")
    return parameters


def parse_masks(text: str) -> list[dict[str, str]]:
    """One mask a line: `path = rule`; raises Invalid for a line without `=`."""
    masks = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        path, sep, rule = line.partition("=")
        if not sep:
            raise Invalid(
                f"脱敏配置第 {number} 行应写成“路径 = 规则”，例如 data[*].sfzh = id_number。",
                "A mask line needs '='.",
            )
        masks.append({"path": path.strip(), "rule": rule.strip()})
    return masks


def parameters_text(parameters: list[dict[str, Any]]) -> str:
    return "\n".join(
        " ".join(
            w
            for w in (p["name"], p["in"], "必填" if p.get("required") else "可选", p.get("description") or "")
            if w
        )
        for p in parameters
    )


def _form_of(service: ApiService | None) -> dict[str, str]:
    if service is None:
        return {
            "url": "",
            "method": "GET",
            "parameters": "",
            "timeout_seconds": "10",
            "rate_per_minute": "",
            "masks": "",
            "credential_header": "",
            "version": "",
        }
    return {
        "url": service.endpoint_url,
        "method": service.method,
        "parameters": parameters_text(service.parameters),
        "timeout_seconds": str(service.timeout_seconds),
        "rate_per_minute": str(service.rate_per_minute),
        "masks": "\n".join(f"{m['path']} = {m['rule']}" for m in service.masks),
        "credential_header": service.credential_header or "",
        "version": str(service.version),
    }


def _data_of(service: ApiService, **changes: Any) -> ServiceIn:
    """The registration as it stands, with `changes` (for the enable, clear and remove buttons)."""
    current: dict[str, Any] = {
        "url": service.endpoint_url,
        "method": service.method,
        "parameters": service.parameters,
        "openapi": service.openapi,
        "timeout_seconds": service.timeout_seconds,
        "rate_per_minute": service.rate_per_minute,
        "masks": service.masks,
        "credential_header": service.credential_header,
        "enabled": service.enabled,
        "version": service.version,
    }
    return ServiceIn.model_validate(current | changes)


def _names(db: Session, calls: list[ApiCall]) -> dict[str, dict[int, str]]:
    def lookup(key: Any, name: Any, ids: set[int | None]) -> dict[int, str]:
        wanted = {i for i in ids if i is not None}
        return {k: v for k, v in db.execute(select(key, name).where(key.in_(wanted)))} if wanted else {}

    return {
        "orgs": lookup(Organisation.id, Organisation.name, {c.caller_org_id for c in calls}),
        "systems": lookup(BusinessSystem.id, BusinessSystem.name, {c.system_id for c in calls}),
        "users": lookup(User.id, User.display_name, {c.user_id for c in calls}),
    }


def _chart(days: dict[str, dict[str, int]], today: datetime) -> dict[str, Any] | None:
    """ECharts option: calls per Beijing day by outcome (stacked bars) over the last CHART_DAYS days."""
    if not days:
        return None
    labels = [(today - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(CHART_DAYS - 1, -1, -1)]
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0},
        "grid": {"left": 48, "right": 24, "top": 36, "bottom": 32},
        "xAxis": {"type": "category", "data": [label[5:] for label in labels]},
        "yAxis": {"type": "value", "name": "调用次数", "minInterval": 1},
        "series": [
            {
                "name": label,
                "type": "bar",
                "stack": "calls",
                "color": OUTCOME_COLORS[outcome],
                "data": [days.get(day, {}).get(outcome, 0) for day in labels],
            }
            for outcome, label in OUTCOME_LABELS.items()
        ],
    }


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    resource: Resource,
    service: ApiService | None,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    trial: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    calls, _total = services.list_calls(
        db, actor=actor, resource_id=resource.id, params=PageParams(page=1, page_size=RECENT_CALLS)
    )
    today = utcnow().astimezone(BEIJING)
    since = today.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=CHART_DAYS - 1)
    days = services.daily_outcomes(db, actor=actor, resource_id=resource.id, since=since)
    can_manage = allowed(actor, Action.service_manage, resource) and resource.status == "published"
    return render(
        request,
        "exchange/service.html",
        {
            "resource": resource,
            "provider": db.get(Organisation, resource.org_id),
            "service": service,
            "can_manage": can_manage,
            "can_try": can_manage and service is not None and service.enabled,
            "form": form or _form_of(service),
            "error": error,
            "trial": trial,
            "calls": calls,
            "names": _names(db, calls),
            "chart": _chart(days, today),
            "outcome_labels": OUTCOME_LABELS,
            "outcome_tags": OUTCOME_TAGS,
            "rule_labels": masking.RULES,
            "max_timeout": get_settings().service_max_timeout_seconds,
            "default_rate": get_settings().service_default_rate_per_minute,
            "api_base": f"{str(request.base_url).rstrip('/')}/api/v1",
        },
        status_code=status,
    )


@router.get("/catalog/{resource_id}/service", response_class=HTMLResponse)
def service_page(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    resource, service = services.get_service(db, actor=actor, resource_id=resource_id)
    return _page(request, db, actor, resource, service)


def _openapi(upload: UploadFile | None, service: ApiService | None) -> dict[str, Any] | None:
    """The uploaded document, or the stored one when no file was chosen."""
    if upload is None or not upload.filename:
        return service.openapi if service is not None else None
    raw = upload.file.read(MAX_OPENAPI_BYTES + 1)
    if len(raw) > MAX_OPENAPI_BYTES:
        raise Invalid("OpenAPI 文档不能超过 512 KB。", "OpenAPI document too large.")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise Invalid(
            "OpenAPI 文档应为 JSON 文件（YAML 请先转换为 JSON）。", "The OpenAPI document is not JSON."
        ) from None
    if not isinstance(document, dict):
        raise Invalid("OpenAPI 文档的顶层应为 JSON 对象。", "The OpenAPI document is not an object.")
    return document


@router.post("/catalog/{resource_id}/service", response_class=HTMLResponse)
def service_save(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    url: Annotated[str, Form(max_length=2000)] = "",
    method: Annotated[str, Form(max_length=8)] = "GET",
    parameters: Annotated[str, Form(max_length=20_000)] = "",
    timeout_seconds: Annotated[str, Form(max_length=6)] = "10",
    rate_per_minute: Annotated[str, Form(max_length=8)] = "",
    masks: Annotated[str, Form(max_length=20_000)] = "",
    credential_header: Annotated[str, Form(max_length=64)] = "",
    credential_value: Annotated[str, Form(max_length=2000)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
    openapi_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    resource, service = services.get_service(db, actor=actor, resource_id=resource_id)
    form = {
        "url": url,
        "method": method,
        "parameters": parameters,
        "timeout_seconds": timeout_seconds,
        "rate_per_minute": rate_per_minute,
        "masks": masks,
        "credential_header": credential_header,
        "version": version,
    }
    # A blank header keeps the stored credential; “清除凭据” removes it (with a confirmation).
    header = credential_header.strip() or (service.credential_header if service is not None else None)
    try:
        data = ServiceIn.model_validate(
            {
                "url": url,
                "method": method,
                "parameters": parse_parameters(parameters),
                "openapi": _openapi(openapi_file, service),
                "timeout_seconds": timeout_seconds,
                "rate_per_minute": rate_per_minute or None,
                "masks": parse_masks(masks),
                "credential_header": header,
                "credential_value": credential_value or None,
                "enabled": service.enabled if service is not None else True,
                "version": version or None,
            }
        )
        with db.begin_nested():
            services.save_service(db, actor=actor, resource_id=resource.id, data=data)
    except (*FIXABLE, ValidationError) as exc:
        message, status = refusal(exc, FIELDS)
        return _page(request, db, actor, resource, service, form=form, error=message, status=status)
    return see_other(f"/catalog/{resource.id}/service?saved=1")


def _change(db: Session, actor: Actor, resource_id: int, flash: str, **changes: Any) -> Response:
    """Save the registration with `changes` (the page's enable, disable, clear and remove buttons)."""
    resource, service = services.get_service(db, actor=actor, resource_id=resource_id)
    if service is None:
        raise Invalid("该资源尚未登记接口服务。", "No API service registered.")
    services.save_service(db, actor=actor, resource_id=resource.id, data=_data_of(service, **changes))
    return see_other(f"/catalog/{resource.id}/service?{flash}=1")


@router.post("/catalog/{resource_id}/service/disable", response_class=HTMLResponse)
def service_disable(resource_id: int, actor: CurrentActor, db: DB) -> Response:
    return _change(db, actor, resource_id, "disabled", enabled=False)


@router.post("/catalog/{resource_id}/service/enable", response_class=HTMLResponse)
def service_enable(resource_id: int, actor: CurrentActor, db: DB) -> Response:
    return _change(db, actor, resource_id, "enabled", enabled=True)


@router.post("/catalog/{resource_id}/service/credential/remove", response_class=HTMLResponse)
def credential_remove(resource_id: int, actor: CurrentActor, db: DB) -> Response:
    return _change(db, actor, resource_id, "credential_removed", credential_header=None)


@router.post("/catalog/{resource_id}/service/openapi/remove", response_class=HTMLResponse)
def openapi_remove(resource_id: int, actor: CurrentActor, db: DB) -> Response:
    return _change(db, actor, resource_id, "openapi_removed", openapi=None)


def parse_values(text: str) -> list[tuple[str, str]]:
    """`name = value` lines; lines without a value are left out."""
    pairs = []
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and value.strip():
            pairs.append((name.strip(), value.strip()))
    return pairs


def _preview(body: bytes, media_type: str) -> str:
    text = body.decode("utf-8", errors="replace")
    if media_type.startswith("application/json"):
        with contextlib.suppress(ValueError, RecursionError):
            text = json.dumps(json.loads(body), ensure_ascii=False, indent=2)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "\n…（仅显示前 20000 个字符）"


@router.post("/catalog/{resource_id}/service/try", response_class=HTMLResponse)
async def service_try(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    purpose: Annotated[str, Form(max_length=400)] = "",
    values: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    resource, service = await run_in_threadpool(
        partial(services.get_service, db, actor=actor, resource_id=resource_id)
    )
    call = CallRequest(purpose=purpose, query=parse_values(values))
    trial: dict[str, Any] = {"purpose": purpose, "values": values}
    status = 200
    try:
        result = await services.call(
            db, actor=actor, resource_id=resource.id, request=call, end_transaction=db.commit
        )
    except TRY_REFUSALS as exc:
        assert isinstance(exc, DomainError)
        details = exc.details if isinstance(exc.details, dict) else {}
        trial |= {"error": exc.message, "call_id": details.get("call_id"), "code": exc.status}
        status = exc.status
    else:
        trial |= {
            "call_id": result.call_id,
            "bytes": len(result.body),
            "sm3": result.sm3,
            "media_type": result.media_type,
            "preview": _preview(result.body, result.media_type),
        }
    return await run_in_threadpool(
        partial(_page, request, db, actor, resource, service, trial=trial, status=status)
    )
