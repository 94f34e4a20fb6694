"""API-service resources (接口服务, M13, S16, S23, S26): the provider registers its endpoint and consumers
call it through the platform, which plays the X-Road security server's part.

A call is authenticated (by the route), carries a purpose (用途), passes `authorize_call`, sends only
declared parameters, stays within the per-department rate limit, reaches the endpoint through the
address guard with a deadline and a size limit (`upstream`), and gets the mapped fields of its JSON
answer masked (`govshare.masking`); an answer that cannot be masked is refused (fail closed). Every
call — refused ones too — leaves an `ApiCall` row and an audit event with who, which system, the
purpose, a keyed digest of the parameters (never their values), the outcome, the byte count and the
SM3 of the answer. The upstream credential is sealed with SM4-GCM and never returned or recorded.

A call runs in three steps so that nothing stays locked while the upstream answers:
`service_calls.prepare_call` (checks and counts the call in the caller's transaction),
`upstream.send` (no database), and `service_calls.finish_call` (records the outcome). `call` runs
them and lets the caller end its transaction after the first: a request must not hold the audit
chain's head row or a rate counter for the seconds an upstream may take.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Literal

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govshare import masking
from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor
from govshare.catalog.models import Resource
from govshare.crypto import sm3_hex
from govshare.db import utcnow
from govshare.errors import Conflict, Invalid, NotFound
from govshare.exchange import upstream
from govshare.exchange.access import provision_resource
from govshare.exchange.service_calls import (
    SEAL_PURPOSE,
    CallRequest,
    CallResult,
    credential_context,
    finish_call,
    prepare_call,
)
from govshare.exchange.service_models import ApiCall, ApiService
from govshare.pagination import PageParams, paginate
from govshare.sealing import seal
from govshare.settings import get_settings

MAX_OPENAPI_BYTES = 512 * 1024
RESERVED_PARAMETERS = frozenset({"purpose"})
# Headers the transport sets itself, or that would let a credential rewrite the request.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "accept-encoding",
        "te",
        "upgrade",
        "user-agent",
        "x-govshare-call-id",
    }
)
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,63}")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,2000}")


# --- registration ----------------------------------------------------------------------------------


class ParameterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
    location: Literal["query", "body"] = Field("query", alias="in")
    required: bool = False
    description: str | None = Field(None, max_length=200)


class MaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    path: str = Field(max_length=masking.MAX_PATH, description="e.g. data[*].sfzh")
    rule: str = Field(max_length=32, description="id_number, mobile, name, bank_card, address, …")


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=8, max_length=2000, description="The endpoint, http:// or https://.")
    method: Literal["GET", "POST"] = "GET"
    parameters: list[ParameterIn] = Field(default_factory=list, max_length=50)
    openapi: dict[str, Any] | None = Field(None, description="OpenAPI (or Swagger) document, ≤ 512 KB.")
    timeout_seconds: int = Field(10, ge=1, le=600)
    rate_per_minute: int | None = Field(
        None, ge=1, le=100_000, description="Per consumer department; default GOVSHARE_SERVICE_DEFAULT_…"
    )
    masks: list[MaskIn] = Field(default_factory=list, max_length=100)
    credential_header: str | None = Field(None, max_length=64, description="e.g. X-Api-Key; empty: none.")
    credential_value: SecretStr | None = Field(
        None, max_length=2000, description="Kept if left out on an edit that keeps the header and host."
    )
    enabled: bool = True
    version: int | None = Field(None, description="The version you edited (optimistic locking).")


def get_service(db: Session, *, actor: Actor, resource_id: int) -> tuple[Resource, ApiService | None]:
    """The resource and its registration, for the provider's department and the Bureau."""
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.provision_view)
    if resource.provision_method != "api":
        raise NotFound("该目录条目不是接口服务类资源。", f"Resource #{resource_id} is not an API resource.")
    return resource, db.scalar(select(ApiService).where(ApiService.resource_id == resource.id))


def _parameters(data: ServiceIn) -> list[dict[str, Any]]:
    names = [p.name for p in data.parameters]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise Invalid(
            f"参数名重复：{'、'.join(repeated)}。", "Repeated parameters.", details={"field": "parameters"}
        )
    reserved = [n for n in names if n in RESERVED_PARAMETERS]
    if reserved:
        raise Invalid(
            "参数名 purpose 由平台用于填写调用用途，请换一个参数名。",
            "'purpose' is reserved.",
            details={"field": "parameters"},
        )
    if data.method == "GET" and any(p.location == "body" for p in data.parameters):
        raise Invalid(
            "GET 接口不能有请求体参数，请把参数位置改为 query，或把方法改为 POST。",
            "GET services take query parameters only.",
            details={"field": "parameters"},
        )
    return [p.model_dump(by_alias=True) for p in data.parameters]


def _openapi(document: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    if document is None:
        return None, None
    raw = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    if len(raw) > MAX_OPENAPI_BYTES:
        raise Invalid(
            f"OpenAPI 文档不能超过 512 KB（当前约 {len(raw) // 1024} KB）。",
            "The OpenAPI document is larger than 512 KB.",
            details={"field": "openapi"},
        )
    if "openapi" not in document and "swagger" not in document:
        raise Invalid(
            "上传的不是 OpenAPI 文档：文档顶层应有 openapi（3.x）或 swagger（2.0）字段。",
            "Not an OpenAPI document.",
            details={"field": "openapi"},
        )
    return document, sm3_hex(raw)


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = upstream.endpoint(url)
    return parsed.scheme, parsed.host, parsed.port


def _credential(
    data: ServiceIn, existing: ApiService | None, resource_id: int
) -> tuple[str | None, str | None]:
    """(header, sealed value): a new value is sealed; an edit that leaves the value out keeps the
    stored one only for the same header at the same host, so that a changed address never receives
    a credential meant for another."""
    header = data.credential_header or None
    value = data.credential_value.get_secret_value() if data.credential_value else None
    if header is None:
        if value:
            raise Invalid(
                "填写了凭据的值，但没有填写凭据的请求头名称。",
                "A credential value needs a header name.",
                details={"field": "credential_header"},
            )
        return None, None
    if not _HEADER_NAME.fullmatch(header) or header.lower() in RESERVED_HEADERS:
        raise Invalid(
            f"凭据请求头名称“{header}”不可用：只能由字母、数字和连字符组成，"
            "且不能是 Host、Content-Type 等由平台设置的请求头。",
            "Unusable credential header name.",
            details={"field": "credential_header"},
        )
    if value:
        if not _HEADER_VALUE.fullmatch(value):
            raise Invalid(
                "凭据的值只能包含可打印的 ASCII 字符（不能有换行或中文）。",
                "Unusable credential value.",
                details={"field": "credential_value"},
            )
        return header, seal(value, purpose=SEAL_PURPOSE, context=credential_context(resource_id))
    kept = (
        existing is not None
        and existing.credential_sealed is not None
        and existing.credential_header is not None
        and existing.credential_header.lower() == header.lower()
        and _origin(existing.endpoint_url) == _origin(data.url)
    )
    if not kept:
        raise Invalid(
            "请填写凭据的值（新设凭据、更换请求头名称或接口主机时必须重新填写）。",
            "Give the credential value.",
            details={"field": "credential_value"},
        )
    assert existing is not None
    return header, existing.credential_sealed


def save_service(db: Session, *, actor: Actor, resource_id: int, data: ServiceIn) -> ApiService:
    """Register or change the resource's endpoint (the provider's data administrator).

    Raises Invalid for a resource that is not a published 接口 resource, an endpoint refused by the
    address guard, a timeout above the platform's cap, bad parameters, masks or OpenAPI document;
    Conflict when the registration changed since `data.version`.
    """
    resource = provision_resource(db, actor=actor, resource_id=resource_id, action=Action.service_manage)
    if resource.provision_method != "api" or resource.published_version_id is None:
        raise Invalid(
            "只有已发布的接口服务类资源可以登记接口。", "Only published API resources take a service."
        )
    if resource.status == "retired":
        raise Invalid("该目录已撤销，不能再登记接口。", "The resource is retired.")
    existing = db.scalar(select(ApiService).where(ApiService.resource_id == resource.id))
    if existing is not None and data.version != existing.version:
        raise Conflict(
            f"该接口登记已被修改（当前为第 {existing.version} 版），请刷新后基于最新内容重新提交。",
            "The registration changed meanwhile; send the current version.",
            details={"current_version": existing.version},
        )
    settings = get_settings()
    try:
        target = upstream.resolve(data.url, settings.service_allowed_networks)
    except upstream.TargetRefused as exc:
        raise Invalid(str(exc), "Endpoint refused.", details={"field": "url"}) from None
    if data.timeout_seconds > settings.service_max_timeout_seconds:
        raise Invalid(
            f"超时时间不能超过平台上限 {settings.service_max_timeout_seconds} 秒。",
            "Timeout above the platform's cap.",
            details={"field": "timeout_seconds", "max": settings.service_max_timeout_seconds},
        )
    parameters = _parameters(data)
    try:
        masks = masking.compile_masks(m.model_dump() for m in data.masks)
    except masking.MaskingError as exc:
        raise Invalid(str(exc), "Invalid mask.", details={"field": "masks"}) from None
    document, document_sm3 = _openapi(data.openapi)
    header, sealed = _credential(data, existing, resource.id)
    previous_sealed = existing.credential_sealed if existing is not None else None
    service = existing or ApiService(
        resource_id=resource.id, org_id=resource.org_id, created_by=actor.user_id
    )
    service.endpoint_url = target.url
    service.method = data.method
    service.parameters = parameters
    service.openapi = document
    service.openapi_sm3 = document_sm3
    service.timeout_seconds = data.timeout_seconds
    service.rate_per_minute = data.rate_per_minute or settings.service_default_rate_per_minute
    service.masks = [m.as_dict() for m in masks]
    service.credential_header = header
    service.credential_sealed = sealed
    service.enabled = data.enabled
    service.updated_at = utcnow()
    if existing is None:
        db.add(service)
    db.flush()
    audit.record(
        db,
        EventType.service_saved,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        details={
            "service_id": service.id,
            "url": service.endpoint_url,
            "method": service.method,
            "parameters": [p["name"] for p in parameters],
            "masks": service.masks,
            "timeout_seconds": service.timeout_seconds,
            "rate_per_minute": service.rate_per_minute,
            "openapi_sm3": document_sm3,
            "credential_header": header,
            "credential_changed": sealed != previous_sealed,
            "enabled": service.enabled,
        },
    )
    return service


# --- calls -----------------------------------------------------------------------------------------


async def call(
    db: Session,
    *,
    actor: Actor,
    resource_id: int,
    request: CallRequest,
    end_transaction: Callable[[], None] | None = None,
    now: datetime | None = None,
) -> CallResult:
    """Make one call (see `prepare_call` and `finish_call` for what is refused and how).

    `end_transaction` (the caller's commit) runs once the call is checked and counted, before the
    upstream is reached; the outcome is then recorded in a new transaction of the same session.
    """
    plan = await to_thread.run_sync(
        partial(prepare_call, db, actor=actor, resource_id=resource_id, request=request, now=now)
    )
    if end_transaction is not None:
        await to_thread.run_sync(end_transaction)
    answer = await upstream.send(plan.exchange)
    return await to_thread.run_sync(partial(finish_call, db, actor=actor, plan=plan, answer=answer))


def list_calls(
    db: Session, *, actor: Actor, resource_id: int, params: PageParams
) -> tuple[list[ApiCall], int]:
    """One page of the resource's calls, newest first (provider's department and Bureau)."""
    resource, _service = get_service(db, actor=actor, resource_id=resource_id)
    stmt = select(ApiCall).where(ApiCall.resource_id == resource.id).order_by(ApiCall.at.desc(), ApiCall.id)
    return paginate(db, stmt, params)


def _beijing_day(db: Session, column: Any) -> Any:
    """The calendar day in China Standard Time (UTC+8) of a UTC timestamp column (as in audit)."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM-DD")
    return func.substr(func.datetime(column, "+8 hours"), 1, 10)


def daily_outcomes(
    db: Session, *, actor: Actor, resource_id: int, since: datetime
) -> dict[str, dict[str, int]]:
    """Calls per Beijing day since `since`, by outcome: {day: {outcome: count}}."""
    resource, _service = get_service(db, actor=actor, resource_id=resource_id)
    day = _beijing_day(db, ApiCall.at)
    rows = db.execute(
        select(day, ApiCall.outcome, func.count())
        .where(ApiCall.resource_id == resource.id, ApiCall.at >= since)
        .group_by(day, ApiCall.outcome)
    )
    found: dict[str, dict[str, int]] = {}
    for when, outcome, count in rows:
        found.setdefault(str(when), {})[str(outcome)] = int(count)
    return found
