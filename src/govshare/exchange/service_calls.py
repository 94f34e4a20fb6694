"""The mechanics of one API-service call: the checks before it goes upstream, the rate limit, the
judging and masking of the answer, and the record every call leaves (see `services.call`, which runs
them; `upstream` carries the exchange itself).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govshare import masking
from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Actor
from govshare.catalog import service as catalog
from govshare.catalog.models import Resource
from govshare.crypto import hmac_sm3, sm3_hex
from govshare.db import utcnow
from govshare.errors import Conflict, DomainError, Invalid, NotFound
from govshare.exchange import upstream
from govshare.exchange.service_access import authorize_call
from govshare.exchange.service_models import ApiCall, ApiRateWindow, ApiService
from govshare.sealing import SealError, hmac_key, unseal
from govshare.settings import get_settings

SEAL_PURPOSE = "api-service-credential"
DIGEST_PURPOSE = "api-call-parameters"
MAX_VALUE_CHARS = 1000
MAX_PURPOSE_CHARS = 200
Outcome = Literal["ok", "refused", "timeout", "upstream_error", "rate_limited"]
OUTCOME_LABELS = {
    "ok": "成功",
    "refused": "拒绝",
    "timeout": "超时",
    "upstream_error": "上游错误",
    "rate_limited": "限流",
}
_AUDIT_OUTCOMES = {
    "ok": "success",
    "refused": "denied",
    "rate_limited": "denied",
    "timeout": "failed",
    "upstream_error": "failed",
}


def credential_context(resource_id: int) -> str:
    """What a service's sealed credential is bound to: its resource."""
    return f"api_services/resource/{resource_id}"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_zh = "调用过于频繁，请稍后再试。"
    default_en = "Too many calls."

    def __init__(self, retry_after: int, limit: int) -> None:
        super().__init__(
            f"本部门对该接口服务的调用已达每分钟 {limit} 次的上限，请 {retry_after} 秒后再试。",
            f"Rate limit of {limit} calls per minute reached.",
            details={"limit_per_minute": limit, "retry_after": retry_after},
        )
        self.retry_after = retry_after


class UpstreamFailed(DomainError):
    status = 502
    code = "bad_gateway"
    default_zh = "上游接口没有给出可用的应答。"
    default_en = "The upstream service failed."


class UpstreamTimeout(DomainError):
    status = 504
    code = "gateway_timeout"
    default_zh = "上游接口应答超时。"
    default_en = "The upstream service timed out."


@dataclass(frozen=True)
class CallRequest:
    """A consumer's call as it arrived: its purpose, query pairs (without `purpose`) and raw body."""

    purpose: str | None
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@dataclass(frozen=True)
class Plan:
    """A call that passed every check, ready to go upstream."""

    call_id: str
    resource_id: int
    purpose: str
    params_digest: str
    exchange: upstream.Exchange
    masks: list[masking.Mask]
    at: datetime
    started: float


@dataclass(frozen=True)
class CallResult:
    call_id: str
    status: int
    media_type: str
    body: bytes
    sm3: str


def _gather(request: CallRequest) -> dict[str, Any]:
    """The parameters the caller gave, from the query string and a JSON object body."""
    given: dict[str, Any] = {}
    for name, value in request.query:
        if name in given:
            raise Invalid(f"参数 {name} 重复出现。", "Repeated parameter.", details={"parameter": name})
        given[name] = value
    if request.body.strip():
        try:
            body = json.loads(request.body)
        except (ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise Invalid(
                "请求体应为 JSON 对象（参数名: 值）。", "The body must be a JSON object.", details={}
            )
        clash = sorted(set(body) & set(given))
        if clash:
            raise Invalid(
                f"参数 {'、'.join(clash)} 在查询串和请求体中重复出现。",
                "Parameter given twice.",
                details={"parameters": clash},
            )
        given.update(body)
    return given


def _digest(given: dict[str, Any]) -> str:
    """A keyed digest (HMAC-SM3, key derived from the master key) of the parameters: equal calls
    compare equal in supervision, but a guessable value (an ID number) cannot be recovered from it."""
    canonical = json.dumps(given, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hmac_sm3(hmac_key(DIGEST_PURPOSE), canonical.encode())


def _purpose(text: str) -> str:
    if not text:
        raise Invalid(
            "请填写调用用途（purpose 参数），说明本次调用的业务用途。",
            "A purpose is required.",
            details={"field": "purpose"},
        )
    if len(text) > MAX_PURPOSE_CHARS:
        raise Invalid(
            f"调用用途不能超过 {MAX_PURPOSE_CHARS} 个字符。",
            "The purpose is too long.",
            details={"field": "purpose"},
        )
    return text


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _check_parameters(
    service: ApiService, given: dict[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
    """The query pairs and body to send upstream, after checking `given` against the declared list."""
    declared = {p["name"]: p for p in service.parameters}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise Invalid(
            f"接口没有登记这些参数：{'、'.join(unknown)}。可用参数：{'、'.join(declared) or '无'}。",
            "Unknown parameters.",
            details={"unknown": unknown, "declared": list(declared)},
        )
    present = {k: v for k, v in given.items() if v is not None and v != ""}
    missing = [name for name, p in declared.items() if p.get("required") and name not in present]
    if missing:
        raise Invalid(
            f"缺少必填参数：{'、'.join(missing)}。",
            "Missing required parameters.",
            details={"missing": missing},
        )
    for name, value in present.items():
        if isinstance(value, dict | list):
            raise Invalid(
                f"参数 {name} 的值应为文字或数字。",
                "Parameter values must be scalars.",
                details={"parameter": name},
            )
        if len(_as_text(value)) > MAX_VALUE_CHARS:
            raise Invalid(
                f"参数 {name} 的值不能超过 {MAX_VALUE_CHARS} 个字符。",
                "Parameter value too long.",
                details={"parameter": name},
            )
    query = [(n, _as_text(v)) for n, v in present.items() if declared[n]["in"] == "query"]
    body = {n: v for n, v in present.items() if declared[n]["in"] == "body"}
    return query, (body if service.method == "POST" else None)


def take_slot(db: Session, *, resource_id: int, org_id: int, limit: int, now: datetime) -> int | None:
    """Count one call of department `org_id` to the service in the minute of `now`: None when it is
    within `limit`, else the seconds until the next minute. Safe with several platform instances:
    one conditional UPDATE, or the INSERT of the window's row, which the unique key serialises."""
    window = now.replace(second=0, microsecond=0)
    key = (
        ApiRateWindow.resource_id == resource_id,
        ApiRateWindow.org_id == org_id,
        ApiRateWindow.window_start == window,
    )

    def bump() -> bool:
        result = db.execute(
            update(ApiRateWindow)
            .where(*key, ApiRateWindow.count < limit)
            .values(count=ApiRateWindow.count + 1)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1

    if bump():
        return None
    if db.scalar(select(ApiRateWindow.id).where(*key)) is None:
        try:
            with db.begin_nested():
                db.execute(
                    insert(ApiRateWindow).values(
                        resource_id=resource_id, org_id=org_id, window_start=window, count=1
                    )
                )
        except IntegrityError:  # another instance opened the window first: count there
            if bump():
                return None
        else:
            db.execute(
                delete(ApiRateWindow)
                .where(
                    ApiRateWindow.resource_id == resource_id,
                    ApiRateWindow.org_id == org_id,
                    ApiRateWindow.window_start < window,
                )
                .execution_options(synchronize_session=False)
            )
            return None
    return max(1, math.ceil((window + timedelta(minutes=1) - now).total_seconds()))


def _headers(service: ApiService, call_id: str) -> dict[str, str]:
    headers = {"X-GovShare-Call-Id": call_id}
    if service.credential_header and service.credential_sealed:
        try:
            headers[service.credential_header] = unseal(
                service.credential_sealed,
                purpose=SEAL_PURPOSE,
                context=credential_context(service.resource_id),
            )
        except SealError:
            raise UpstreamFailed(
                "无法解密该接口的上游凭据（平台主密钥可能已更换），请提供部门重新登记凭据。",
                "The upstream credential does not open.",
            ) from None
    return headers


def _outcome(error: DomainError) -> Outcome:
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamFailed):
        return "upstream_error"
    return "refused"


@dataclass(frozen=True)
class _Caller:
    actor: Actor
    resource: Resource
    call_id: str
    purpose: str
    method: str
    params_digest: str | None
    at: datetime
    started: float


def _record(
    db: Session,
    caller: _Caller,
    outcome: Outcome,
    *,
    reason: str | None = None,
    status: int | None = None,
    body: bytes | None = None,
) -> ApiCall:
    actor, resource = caller.actor, caller.resource
    duration_ms = int((time.monotonic() - caller.started) * 1000)
    sm3 = sm3_hex(body) if body is not None else None
    row = ApiCall(
        id=caller.call_id,
        resource_id=resource.id,
        org_id=resource.org_id,
        caller_org_id=actor.org_id,
        system_id=actor.system_id,
        user_id=actor.user_id,
        purpose=caller.purpose[:MAX_PURPOSE_CHARS],
        method=caller.method,
        params_digest=caller.params_digest,
        upstream_status=status,
        outcome=outcome,
        reason=reason[:500] if reason else None,
        duration_ms=duration_ms,
        response_bytes=len(body or b""),
        response_sm3=sm3,
        at=caller.at,
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        EventType.service_called,
        actor=actor,
        obj=resource,
        org_id=resource.org_id,
        outcome=_AUDIT_OUTCOMES[outcome],
        details={
            "call_id": caller.call_id,
            "system_id": actor.system_id,
            "caller_org_id": actor.org_id,
            "purpose": row.purpose,
            "params_digest": caller.params_digest,
            "outcome": outcome,
            "upstream_status": status,
            "reason": row.reason,
            "bytes": row.response_bytes,
            "response_sm3": sm3,
            "duration_ms": duration_ms,
        },
    )
    return row


def _refuse(db: Session, caller: _Caller, error: DomainError, status: int | None = None) -> DomainError:
    """Record the refused or failed call and make `error` keep that record when it propagates."""
    _record(db, caller, _outcome(error), reason=error.message, status=status)
    error.keep_changes = True
    error.details = {**(error.details if isinstance(error.details, dict) else {}), "call_id": caller.call_id}
    return error


def prepare_call(
    db: Session, *, actor: Actor, resource_id: int, request: CallRequest, now: datetime | None = None
) -> Plan:
    """Check a call and count it against the rate limit; `now` places it in a rate window (tests).

    Raises NotFound for an unknown resource or one without a registration; every other refusal —
    Invalid (purpose, parameters), Conflict (service disabled), Forbidden (`authorize_call`),
    RateLimited, UpstreamFailed (credential unreadable) — is recorded and keeps that record when it
    propagates. The endpoint's addresses are checked by `upstream.send`, outside the transaction.
    """
    resource = catalog.get_resource(db, actor=actor, resource_id=resource_id)
    service = db.scalar(select(ApiService).where(ApiService.resource_id == resource.id))
    if service is None or resource.provision_method != "api":
        raise NotFound("该资源没有登记接口服务。", f"Resource #{resource_id} has no API service.")
    try:
        given: dict[str, Any] | None = _gather(request)
        gather_error = None
    except Invalid as exc:
        given, gather_error = None, exc
    caller = _Caller(
        actor=actor,
        resource=resource,
        call_id=str(uuid.uuid4()),
        purpose=(request.purpose or "").strip(),
        method=service.method,
        params_digest=_digest(given) if given is not None else None,
        at=now or utcnow(),
        started=time.monotonic(),
    )
    try:
        purpose = _purpose(caller.purpose)
        if not service.enabled or resource.status != "published":
            raise Conflict(
                "该接口服务已停用（或目录未处于发布状态），暂不能调用，请联系提供部门。",
                "The service is disabled.",
            )
        authorize_call(db, actor=actor, resource=resource, purpose=purpose)
        if gather_error is not None:
            raise gather_error
        assert given is not None
        query, body = _check_parameters(service, given)
        assert actor.org_id is not None  # authorize_call admits departments' people and systems only
        settings = get_settings()
        retry_after = take_slot(
            db, resource_id=resource.id, org_id=actor.org_id, limit=service.rate_per_minute, now=caller.at
        )
        if retry_after is not None:
            raise RateLimited(retry_after, service.rate_per_minute)
        headers = _headers(service, caller.call_id)
    except DomainError as exc:
        raise _refuse(db, caller, exc) from None
    exchange = upstream.Exchange(
        method=service.method,
        url=service.endpoint_url,
        allowed_networks=list(settings.service_allowed_networks),
        query=query,
        body=body,
        headers=headers,
        timeout=float(min(service.timeout_seconds, settings.service_max_timeout_seconds)),
        max_bytes=settings.service_max_response_bytes,
    )
    return Plan(
        call_id=caller.call_id,
        resource_id=resource.id,
        purpose=purpose,
        params_digest=caller.params_digest or "",
        exchange=exchange,
        masks=masking.compile_masks(service.masks),
        at=caller.at,
        started=caller.started,
    )


def _masked(plan: Plan, answer: upstream.Answer) -> tuple[bytes, str]:
    """The body and media type relayed to the caller; raises UpstreamFailed when masks cannot apply."""
    if not plan.masks:
        return answer.body, upstream.relayed_type(answer.media_type)
    try:
        document = json.loads(answer.body)
    except (ValueError, RecursionError):
        raise UpstreamFailed(
            "上游接口返回的不是 JSON，无法按登记的脱敏规则处理，平台已拒绝返回该应答。",
            "The upstream answer is not JSON; masks cannot apply.",
        ) from None
    try:
        document = masking.apply(document, plan.masks)
    except masking.ShapeError as exc:
        raise UpstreamFailed(
            f"上游应答的数据结构与脱敏配置不符（{exc}），为防止未脱敏的数据流出，平台已拒绝返回。请提供部门核对脱敏路径。",
            "The upstream answer does not fit the masks.",
        ) from None
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    return body, "application/json"


def finish_call(db: Session, *, actor: Actor, plan: Plan, answer: upstream.Answer) -> CallResult:
    """Judge the upstream's answer, mask it and record the call.

    Raises UpstreamTimeout (504) or UpstreamFailed (502: an endpoint the address guard refuses now,
    no answer, an answer too large, a status other than 2xx — named in details —, an answer that
    cannot be masked), each recorded.
    """
    resource = db.get(Resource, plan.resource_id)
    assert resource is not None
    caller = _Caller(
        actor=actor,
        resource=resource,
        call_id=plan.call_id,
        purpose=plan.purpose,
        method=plan.exchange.method,
        params_digest=plan.params_digest,
        at=plan.at,
        started=plan.started,
    )
    try:
        if answer.outcome == "timeout":
            raise UpstreamTimeout(f"{answer.reason}请稍后重试，或联系提供部门。", "The upstream timed out.")
        if answer.outcome != "ok" or answer.status is None:
            raise UpstreamFailed(
                f"{answer.reason}请稍后重试，或联系提供部门。",
                "The upstream failed.",
                details={"upstream_status": answer.status},
            )
        if not 200 <= answer.status < 300:
            raise UpstreamFailed(
                f"上游接口返回了 HTTP {answer.status}，没有给出数据。请检查参数，或联系提供部门。",
                f"The upstream answered HTTP {answer.status}.",
                details={"upstream_status": answer.status},
            )
        body, media_type = _masked(plan, answer)
    except DomainError as exc:
        raise _refuse(db, caller, exc, status=answer.status) from None
    row = _record(db, caller, "ok", status=answer.status, body=body)
    assert row.response_sm3 is not None
    return CallResult(
        call_id=plan.call_id, status=answer.status, media_type=media_type, body=body, sm3=row.response_sm3
    )
