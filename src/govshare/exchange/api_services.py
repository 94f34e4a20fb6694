"""API-service resources (接口服务): the provider registers its endpoint; callers call it through the
platform, which answers with the upstream's (masked) answer and records every call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from govshare.errors import NotFound
from govshare.exchange import services
from govshare.exchange.service_calls import CallRequest, RateLimited
from govshare.exchange.service_models import ApiCall, ApiService
from govshare.exchange.services import ServiceIn
from govshare.pagination import Page, PageParams
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["data provision"])
CALL_ID_HEADER = "X-GovShare-Call-Id"


class ServiceOut(BaseModel):
    id: int
    resource_id: int
    url: str
    method: str
    parameters: list[dict[str, Any]]
    openapi: dict[str, Any] | None
    openapi_sm3: str | None
    timeout_seconds: int
    rate_per_minute: int
    masks: list[dict[str, str]]
    credential_header: str | None
    has_credential: bool  # the value itself is never returned
    enabled: bool
    updated_at: datetime
    version: int


def service_out(service: ApiService) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        resource_id=service.resource_id,
        url=service.endpoint_url,
        method=service.method,
        parameters=service.parameters,
        openapi=service.openapi,
        openapi_sm3=service.openapi_sm3,
        timeout_seconds=service.timeout_seconds,
        rate_per_minute=service.rate_per_minute,
        masks=service.masks,
        credential_header=service.credential_header,
        has_credential=service.credential_sealed is not None,
        enabled=service.enabled,
        updated_at=service.updated_at,
        version=service.version,
    )


class CallOut(BaseModel):
    id: str
    at: datetime
    caller_org_id: int | None
    system_id: int | None
    user_id: int | None
    purpose: str
    method: str
    params_digest: str | None
    upstream_status: int | None
    outcome: str
    reason: str | None
    duration_ms: int
    response_bytes: int
    response_sm3: str | None


def call_out(row: ApiCall) -> CallOut:
    return CallOut(
        id=row.id,
        at=row.at,
        caller_org_id=row.caller_org_id,
        system_id=row.system_id,
        user_id=row.user_id,
        purpose=row.purpose,
        method=row.method,
        params_digest=row.params_digest,
        upstream_status=row.upstream_status,
        outcome=row.outcome,
        reason=row.reason,
        duration_ms=row.duration_ms,
        response_bytes=row.response_bytes,
        response_sm3=row.response_sm3,
    )


@router.get("/resources/{resource_id}/service", response_model=ServiceOut)
def get_api_service(resource_id: int, actor: CurrentActor, db: DB) -> ServiceOut:
    """The resource's endpoint registration (the provider's department and the Bureau); the
    upstream credential's value is never returned."""
    _resource, service = services.get_service(db, actor=actor, resource_id=resource_id)
    if service is None:
        raise NotFound("该资源尚未登记接口服务。", "No API service registered.")
    return service_out(service)


@router.put("/resources/{resource_id}/service", response_model=ServiceOut)
def put_api_service(resource_id: int, data: ServiceIn, actor: CurrentActor, db: DB) -> ServiceOut:
    """Register or change the endpoint behind a published 接口 resource: URL (http/https; loopback,
    link-local, multicast and unspecified addresses are refused), method, declared parameters,
    OpenAPI document (≤ 512 KB), timeout, rate limit per consumer department, masks
    `[{path, rule}]` and an upstream credential header (its value stored SM4-encrypted; leave it out
    on an edit to keep it). A change sends the `version` it was based on (409 otherwise)."""
    return service_out(services.save_service(db, actor=actor, resource_id=resource_id, data=data))


CALL_PATH = "/resources/{resource_id}/service/call"
CALL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The upstream's answer, masked; header X-GovShare-Call-Id."},
    403: {"description": "No sharing grant (共享授权) for this caller."},
    429: {"description": "Rate limit reached; see Retry-After."},
    502: {"description": "Upstream failed, answered non-2xx, too large, or not maskable."},
    504: {"description": "Upstream timed out."},
}


# One endpoint, two operations with ids of their own (a single GET+POST route would give both the
# same OpenAPI operationId).
@router.post(CALL_PATH, operation_id="call_api_service_post", responses=CALL_RESPONSES)
@router.get(CALL_PATH, operation_id="call_api_service_get", responses=CALL_RESPONSES)
async def call_api_service(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    purpose: Annotated[
        str | None, Query(description="用途: why you call (required, ≤ 200 characters).")
    ] = None,
) -> Response:
    """Call the resource's service through the platform. Parameters go in the query string (GET) or
    a JSON object body (POST); only declared ones are accepted. The answer is the upstream's, with
    the registered fields masked. Every call, refused or not, is recorded with its purpose."""
    call = CallRequest(
        purpose=purpose,
        query=[(k, v) for k, v in request.query_params.multi_items() if k != "purpose"],
        body=await request.body() if request.method == "POST" else b"",
    )
    try:
        # The request's transaction ends once the call is checked and counted: nothing it locked
        # (the audit chain's head, the rate counter) stays locked while the upstream answers.
        result = await services.call(
            db, actor=actor, resource_id=resource_id, request=call, end_transaction=db.commit
        )
    except RateLimited as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        headers = {"Retry-After": str(exc.retry_after), CALL_ID_HEADER: str(details.get("call_id", ""))}
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
    return Response(
        result.body,
        status_code=200,
        media_type=result.media_type,
        headers={CALL_ID_HEADER: result.call_id, "X-Content-SM3": result.sm3},
    )


@router.get("/resources/{resource_id}/service/calls", response_model=Page[CallOut])
def list_api_service_calls(
    resource_id: int, actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Page[CallOut]:
    """The service's calls, newest first, refused ones included (the provider's department and the
    Bureau): caller, purpose, a keyed digest of the parameters, outcome, size and SM3 of the answer."""
    rows, total = services.list_calls(db, actor=actor, resource_id=resource_id, params=params)
    return Page[CallOut](
        items=[call_out(r) for r in rows], total=total, page=params.page, page_size=params.page_size
    )
