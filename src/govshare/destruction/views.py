"""Destruction pages: the list of requests (filtered by status), the request form for a providing
department's data administrator, a request's page with the decisions its viewer may take (each
behind a confirmation), and the printable destruction certificate (销毁证明)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.catalog.models import Resource
from govshare.destruction import service
from govshare.destruction.models import DestructionRequest
from govshare.errors import Invalid
from govshare.exchange.access import published_items
from govshare.pagination import PageParams
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, page_context, parse_int, refusal, see_other
from govshare.web.templating import render
from govshare.workdays import BEIJING

router = APIRouter(include_in_schema=False)

NOTICES = {
    "requested": "销毁申请已提交，等待本单位审批人审批。",
    "approved": "已批准。",
    "refused": "已驳回该销毁申请。",
    "withdrawn": "已撤回该销毁申请。",
    "executed": "已确认，数据已销毁。销毁证明见下方链接。",
}
_SPLIT = re.compile(r"[\t,，]")


def _names(db: Session) -> Any:
    from govshare.orgs.models import Organisation
    from govshare.users.models import User

    class Names:
        def user(self, user_id: int | None) -> str:
            user = db.get(User, user_id) if user_id is not None else None
            return f"{user.display_name}（{user.username}）" if user else "—"

        def org(self, org_id: int) -> str:
            org = db.get(Organisation, org_id)
            return org.name if org else str(org_id)

        def resource(self, resource_id: int) -> str:
            resource = db.get(Resource, resource_id)
            return resource.name if resource else str(resource_id)

    return Names()


def _labels() -> dict[str, Any]:
    return {"scopes": service.SCOPES, "methods": service.METHODS, "statuses": service.STATUS}


@router.get("/destructions", response_class=HTMLResponse)
def destruction_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    status: Annotated[str, Query(max_length=24)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    require(actor, Action.destruction_view)
    status = status if status in service.STATUS else ""
    params = PageParams(page=page)
    found, total = service.list_requests(db, actor=actor, params=params, status=status or None)
    return render(
        request,
        "destruction/list.html",
        {
            "requests": found,
            "status": status,
            "counts": service.count_by_status(db, actor=actor),
            "can_request": allowed(actor, Action.destruction_request),
            "names": _names(db),
            **_labels(),
            **page_context(params, total, status=status),
        },
    )


def _form_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    resources = service.own_resources(db, actor=actor)
    return render(
        request,
        "destruction/new.html",
        {
            "resources": [
                {
                    "row": r,
                    "key_titles": [i["title"] for i in published_items(db, r) if i.get("is_key")],
                }
                for r in resources
            ],
            "supervisors": service.supervisors(db, org_id=actor.org_id) if actor.org_id else [],
            "form": form or {"scope": "keys", "method": "delete"},
            "error": error,
            **_labels(),
        },
        status_code=status,
    )


@router.get("/destructions/new", response_class=HTMLResponse)
def destruction_new(request: Request, actor: CurrentActor, db: DB) -> Response:
    require(actor, Action.destruction_request)
    return _form_page(request, db, actor)


def _local(value: str, field: str) -> datetime | None:
    """A `datetime-local` value, Beijing time."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=BEIJING)
    except ValueError:
        raise Invalid("时间格式不正确。", f"{field}: not a date-time.", details={"field": field}) from None


def _key_rows(db: Session, resource_id: int | None, text: str) -> list[dict[str, str]]:
    """One row per line: the business-key values in the catalog's order, separated by commas or tabs."""
    resource = db.get(Resource, resource_id) if resource_id else None
    if resource is None or not text.strip():
        return []
    names = [i["name"] for i in published_items(db, resource) if i.get("is_key")]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        values = [v.strip() for v in _SPLIT.split(line)] if len(names) > 1 else [line.strip()]
        if len(values) != len(names):
            raise Invalid(
                f"业务主键第 {number} 行应有 {len(names)} 个值（用逗号分隔）。",
                "keys: wrong number of values.",
                details={"field": "keys"},
            )
        rows.append(dict(zip(names, values, strict=True)))
    return rows


@router.post("/destructions/new", response_class=HTMLResponse)
def destruction_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    resource_id: Annotated[str, Form(max_length=12)] = "",
    scope: Annotated[str, Form(max_length=16)] = "",
    method: Annotated[str, Form(max_length=16)] = "",
    supervisor_id: Annotated[str, Form(max_length=12)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    batch_ids: Annotated[str, Form(max_length=40_000)] = "",
    keys: Annotated[str, Form(max_length=1_000_000)] = "",
    received_from: Annotated[str, Form(max_length=32)] = "",
    received_until: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    require(actor, Action.destruction_request)
    form = {
        "resource_id": resource_id,
        "scope": scope,
        "method": method,
        "supervisor_id": supervisor_id,
        "reason": reason,
        "batch_ids": batch_ids,
        "keys": keys,
        "received_from": received_from,
        "received_until": received_until,
    }
    try:
        chosen = parse_int(resource_id)
        if chosen is None:
            raise Invalid(
                "请选择要销毁数据的资源。", "resource_id is required.", details={"field": "resource_id"}
            )
        data = service.NewRequest(
            resource_id=chosen,
            scope=scope,
            method=method,
            reason=reason,
            supervisor_id=parse_int(supervisor_id) or 0,
            batch_ids=batch_ids.split() if scope == "batches" else None,
            keys=_key_rows(db, chosen, keys) if scope == "keys" else None,
            received_from=_local(received_from, "received_from") if scope == "time_range" else None,
            received_until=_local(received_until, "received_until") if scope == "time_range" else None,
        )
        with db.begin_nested():  # a refused form leaves nothing half-written
            created = service.create_request(db, actor=actor, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, {})
        return _form_page(request, db, actor, form=form, error=error, status=status)
    return see_other(f"/destructions/{created.id}?done=requested")


def _detail(
    request: Request,
    db: Session,
    actor: Actor,
    item: DestructionRequest,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "destruction/detail.html",
        {
            "item": item,
            "resource": db.get(Resource, item.resource_id),
            "actions": service.actions_for(actor, item),
            "covered": service.matching(db, item) if item.status in service.OPEN else None,
            "names": _names(db),
            "notice": notice,
            "error": error,
            **_labels(),
        },
        status_code=status,
    )


@router.get("/destructions/{request_id}", response_class=HTMLResponse)
def destruction_detail(
    request_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    item = service.get_request(db, actor=actor, request_id=request_id)
    return _detail(request, db, actor, item, notice=NOTICES.get(done))


def _decide(request: Request, db: Session, actor: Actor, request_id: int, done: str, call: Any) -> Response:
    item = service.get_request(db, actor=actor, request_id=request_id)
    try:
        with db.begin_nested():
            call()
    except FIXABLE as exc:
        error, status = refusal(exc, {})
        db.refresh(item)
        return _detail(request, db, actor, item, error=error, status=status)
    return see_other(f"/destructions/{item.id}?done={done}")


@router.post("/destructions/{request_id}/approve", response_class=HTMLResponse)
def destruction_approve(
    request_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    opinion: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide(
        request,
        db,
        actor,
        request_id,
        "approved",
        lambda: service.approve(db, actor=actor, request_id=request_id, opinion=opinion),
    )


@router.post("/destructions/{request_id}/refuse", response_class=HTMLResponse)
def destruction_refuse(
    request_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide(
        request,
        db,
        actor,
        request_id,
        "refused",
        lambda: service.refuse(db, actor=actor, request_id=request_id, reason=reason),
    )


@router.post("/destructions/{request_id}/withdraw", response_class=HTMLResponse)
def destruction_withdraw(
    request_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide(
        request,
        db,
        actor,
        request_id,
        "withdrawn",
        lambda: service.withdraw(db, actor=actor, request_id=request_id, reason=reason),
    )


@router.post("/destructions/{request_id}/confirm", response_class=HTMLResponse)
def destruction_confirm(
    request_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    opinion: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _decide(
        request,
        db,
        actor,
        request_id,
        "executed",
        lambda: service.confirm(db, actor=actor, request_id=request_id, opinion=opinion),
    )


@router.get("/destructions/{request_id}/certificate", response_class=HTMLResponse)
def destruction_certificate(request_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    cert = service.certificate(db, actor=actor, request_id=request_id)
    return render(request, "destruction/certificate.html", {"cert": cert, **_labels()})
