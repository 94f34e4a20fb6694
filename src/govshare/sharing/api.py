"""JSON API of sharing: requests, decisions and grants (M16, S22, S25)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from govshare.errors import Invalid
from govshare.pagination import Page, PageParams
from govshare.sharing import exports, feedback, rows, service
from govshare.sharing.models import Grant
from govshare.web.deps import DB, CurrentActor, in_own_unit, own_unit

router = APIRouter(prefix="/api/v1", tags=["sharing"])


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    items: list[str] = Field(max_length=500, description="Field names of the items wanted.")
    purpose: str = Field(max_length=200, description="用途: what the data is used for.")
    basis: str = Field(max_length=500, description="履职依据: the law or duty that needs it.")
    duration_days: int = Field(description="How long the grant should last (days).")
    scope_of_use: str | None = Field(None, max_length=500, description="使用范围.")
    system_id: int | None = Field(None, description="The department's business system that will use it.")


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "partial", "reject"]
    reason: str = Field(max_length=2000)
    items: list[str] | None = Field(None, max_length=500)
    row_scope: dict[str, list[str]] | None = Field(
        None, description='Rows granted, e.g. {"region_code": ["130102"]}.'
    )
    masking_profile: str | None = Field(None, max_length=40)
    duration_days: int | None = None


class GrantChangeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=500)
    days: int | None = Field(None, description="renew: days added to the validity.")


@router.post("/requests", status_code=201)
def file_request(body: RequestBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """Request a resource's items for a purpose. 无条件共享: the answer carries the active grant;
    有条件共享: `status` is `pending` and `due_date` the provider's reply deadline (working days,
    `due_provisional` when next year's holidays are not loaded yet); 不予共享: 403 with the reason."""
    request, grant = service.file_request(db, actor=actor, data=service.RequestIn(**body.model_dump()))
    return service.request_dict(request, grant)


@router.get("/requests")
def list_requests(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    side: Annotated[
        Literal["mine", "inbox", "all"],
        Query(description="mine: filed by my department; inbox: to answer; all: Bureau"),
    ] = "mine",
    status: str | None = None,
) -> Page[dict[str, Any]]:
    rows, total = service.list_requests(
        db, actor=actor, side=side, status=status, limit=params.page_size, offset=params.offset
    )
    return Page[dict[str, Any]](
        items=[service.request_dict(r) for r in rows],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.get("/requests/{request_id}")
def get_request(request_id: int, actor: CurrentActor, db: DB) -> dict[str, Any]:
    request = service.get_request(db, actor=actor, request_id=request_id)
    grant = db.query(Grant).filter(Grant.request_id == request.id).first()
    return service.request_dict(request, grant)


@router.post("/requests/{request_id}/decision")
def decide(request_id: int, body: DecisionBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The provider's approver answers: approve, approve in part (fewer items, a row scope, a masking
    profile, a shorter duration) or reject, always with a reason."""
    request, grant = service.decide(
        db, actor=actor, request_id=request_id, data=service.DecisionIn(**body.model_dump())
    )
    return service.request_dict(request, grant)


class DisputeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


class RulingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["uphold", "approve", "partial"]
    reason: str = Field(max_length=2000)
    items: list[str] | None = Field(None, max_length=500)
    row_scope: dict[str, list[str]] | None = None
    masking_profile: str | None = Field(None, max_length=40)
    duration_days: int | None = None


@router.post("/requests/{request_id}/dispute")
def dispute(request_id: int, body: DisputeBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The consuming department disputes a rejection or a partial approval (once); the Bureau
    coordinates."""
    return service.request_dict(service.dispute(db, actor=actor, request_id=request_id, reason=body.reason))


@router.post("/requests/{request_id}/ruling")
def rule(request_id: int, body: RulingBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The Bureau's final ruling on a dispute: uphold the provider's answer, or approve (in part),
    which replaces the provider's grant."""
    request, grant = service.rule(
        db, actor=actor, request_id=request_id, data=service.DecisionIn(**body.model_dump())
    )
    return service.request_dict(request, grant)


# The page's parameters, read by `read_rows` itself and documented here: declared as FastAPI
# parameters, their validation took 3 % of a data call's instructions (bench/README.md).
_ROWS_PARAMETERS = [
    {
        "name": "purpose",
        "description": "用途, as declared in the grant (required).",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "description": f"Rows per page (1–{rows.MAX_LIMIT}).",
        "schema": {"type": "integer", "minimum": 1, "maximum": rows.MAX_LIMIT, "default": rows.DEFAULT_LIMIT},
    },
    {"name": "cursor", "description": "`next_cursor` of the previous page.", "schema": {"type": "string"}},
    {
        "name": "fields",
        "description": "Comma-separated items to return (default: all granted).",
        "schema": {"type": "string"},
    },
    {"name": "format", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}},
]


def _page_parameters(request: Request) -> tuple[str | None, int, str | None, str | None, str]:
    """`purpose`, `limit`, `cursor`, `fields` and `format` of a rows call (the last of repeated ones)."""
    query = request.query_params
    limit = query.get("limit")
    try:
        size = rows.DEFAULT_LIMIT if limit is None else int(limit)
    except ValueError:
        raise Invalid("limit 应为整数。", "limit must be an integer.", details={"field": "limit"}) from None
    form = query.get("format", "json")
    if form not in ("json", "csv"):
        raise Invalid(
            "format 只能是 json 或 csv。", "format must be json or csv.", details={"field": "format"}
        )
    return query.get("purpose"), size, query.get("cursor"), query.get("fields"), form


@router.get(
    "/resources/{resource_id}/rows",
    responses={
        200: {"description": '{"rows": [...], "next_cursor": ..., "masking": {...}} or CSV'},
        401: {"description": "No or an invalid token."},
        403: {"description": "No active grant for this purpose; how to apply is in the message."},
    },
    openapi_extra={"parameters": [{"in": "query", "required": False, **p} for p in _ROWS_PARAMETERS]},
)
@own_unit
async def read_rows(resource_id: int, request: Request) -> Response:
    """Rows of a 库表 resource under the caller's grant for `purpose`: only granted items, within the
    grant's row scope, masked by its profile. Filter with `item=value` (repeat for several values),
    `item__gte=`, `__lte=`, `__gt=`, `__lt=` on granted items; page with `cursor`."""
    purpose, limit, cursor, fields, format = _page_parameters(request)
    delivery = await in_own_unit(
        request,
        lambda db, actor: rows.read_rows(
            db,
            actor=actor,
            resource_id=resource_id,
            purpose=purpose,
            query=list(request.query_params.multi_items()),
            limit=limit,
            cursor=cursor,
            fields=fields,
        ),
    )
    headers = {"X-Content-SM3": delivery.sm3, "X-GovShare-Grant": str(delivery.grant.id)}
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        header = ["_row_id", *delivery.columns]
        writer.writerow(header)
        writer.writerows([["" if r[c] is None else r[c] for c in header] for r in delivery.rows])
        if delivery.next_cursor:
            headers["X-Next-Cursor"] = delivery.next_cursor
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    rest = {
        "next_cursor": delivery.next_cursor,
        "columns": delivery.columns,
        "masking": delivery.masking,
        "grant_id": delivery.grant.id,
    }
    # The rows go out as the very text whose SM3 was audited, not encoded a second time.
    body = b'{"rows":' + delivery.rows_json + b"," + orjson.dumps(rest)[1:]
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/resources/{resource_id}/changes",
    responses={401: {"description": "No or an invalid token."}, 403: {"description": "No active grant."}},
)
@own_unit
async def read_changes(
    resource_id: int,
    request: Request,
    purpose: Annotated[str | None, Query(description="用途, as declared in the grant (required).")] = None,
    since: Annotated[
        str | None, Query(description="`cursor` of the previous answer; none: from the start.")
    ] = None,
    limit: Annotated[
        int, Query(description=f"Changes per answer (1–{rows.MAX_LIMIT}).")
    ] = rows.DEFAULT_LIMIT,
    fields: Annotated[str | None, Query(description="Comma-separated items (default: all granted).")] = None,
) -> JSONResponse:
    """The incremental feed that keeps a consumer's own copy current: rows written or retired since
    `since`, in the order they changed, under the caller's grant (items, row scope, masking). Rows are
    identified by `_row_id`, stable for your department. Ask again with the returned `cursor`; `more`
    says whether another page is ready now."""
    feed = await in_own_unit(
        request,
        lambda db, actor: rows.read_changes(
            db, actor=actor, resource_id=resource_id, purpose=purpose, since=since, limit=limit, fields=fields
        ),
    )
    body = {"changes": feed.changes, "cursor": feed.cursor, "more": feed.more, "columns": feed.columns}
    return JSONResponse(body, headers={"X-Content-SM3": feed.sm3, "X-GovShare-Grant": str(feed.grant.id)})


@router.get("/sharing/purpose-review")
def purpose_review(
    actor: CurrentActor,
    db: DB,
    org_id: Annotated[int | None, Query(description="One consuming department (default: all).")] = None,
    days: Annotated[int, Query(description="The last N days (1–366).")] = 30,
) -> dict[str, Any]:
    """The Bureau's review of purposes declared against uses made, per consuming department,
    resource and purpose: deliveries, rows, and refusals for purposes no grant covers."""
    return {"items": service.purpose_review(db, actor=actor, org_id=org_id, days=days)}


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(max_length=200, description="The purpose of the grant you use the data under.")
    kind: Literal["doubtful", "wrong"]
    description: str = Field(max_length=2000)
    items: list[str] | None = Field(None, max_length=500, description="The items in question.")
    row_id: str | None = Field(None, max_length=64, description="`_row_id` from the data API.")
    keys: dict[str, str] | None = Field(None, description="Or the row's business-key values.")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Literal["corrected", "confirmed"]
    reason: str = Field(max_length=2000)
    batch_id: str | None = Field(
        None, max_length=36, description="corrected: the batch that corrected the row."
    )


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool
    comment: str | None = Field(None, max_length=2000)


def _feedback_out(db: DB, actor: CurrentActor, case: Any) -> dict[str, Any]:
    out = feedback.feedback_dict(case)
    if actor.org_id != case.org_id:  # a row id is the consumer's own: linked to a key, it unmasks
        out["row_id"] = None
    if actor.org_id == case.provider_org_id:  # the provider sees which of its rows it is
        out["row"] = feedback.provider_row(db, case)
    return out


@router.post("/resources/{resource_id}/feedback", status_code=201)
def file_feedback(resource_id: int, body: FeedbackBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """Flag one row you hold a grant for as doubtful or wrong (M18), by `row_id` or business-key
    `keys`; the provider must answer within the set working days. Your use of the data goes on."""
    case = feedback.file_feedback(db, actor=actor, resource_id=resource_id, **body.model_dump())
    return _feedback_out(db, actor, case)


@router.get("/feedback")
def list_feedback(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    side: Annotated[
        Literal["mine", "inbox", "all"], Query(description="mine: raised; inbox: to answer")
    ] = "mine",
    status: str | None = None,
) -> Page[dict[str, Any]]:
    found, total = feedback.list_feedback(
        db, actor=actor, side=side, status=status, limit=params.page_size, offset=params.offset
    )
    return Page[dict[str, Any]](
        items=[_feedback_out(db, actor, c) for c in found],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.get("/feedback/{feedback_id}")
def get_feedback(feedback_id: int, actor: CurrentActor, db: DB) -> dict[str, Any]:
    return _feedback_out(db, actor, feedback.get_feedback(db, actor=actor, feedback_id=feedback_id))


@router.post("/feedback/{feedback_id}/answer")
def answer_feedback(feedback_id: int, body: AnswerBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The provider's data administrator answers: `corrected` (give the batch that rewrote or retired
    the row after the report) or `confirmed` correct, with reasons."""
    case = feedback.answer_feedback(db, actor=actor, feedback_id=feedback_id, **body.model_dump())
    return _feedback_out(db, actor, case)


@router.post("/feedback/{feedback_id}/close")
def close_feedback(feedback_id: int, body: CloseBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The consumer accepts the answer (closed) or reopens the case with a comment."""
    case = feedback.close_feedback(db, actor=actor, feedback_id=feedback_id, **body.model_dump())
    return _feedback_out(db, actor, case)


class ExportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource_id: int
    purpose: str = Field(max_length=200, description="The purpose of the grant the export is under.")
    reason: str = Field(max_length=2000, description="Why the data must leave the platform.")
    format: Literal["csv", "xlsx"] = "csv"
    filters: dict[str, list[str]] | None = Field(
        None,
        description="As the data API's filters, e.g. "
        '{"region_code": ["130102"], "birth_date__gte": ["1960-01-01"]}.',
    )
    fields: list[str] | None = Field(None, max_length=500)


class ExportDecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str = Field(max_length=2000)


@router.post("/exports", status_code=201)
def request_export(body: ExportBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """Ask the Bureau to approve a bulk export (CSV/xlsx) of a resource under your grant (S27)."""
    export = exports.request_export(db, actor=actor, **body.model_dump())
    return exports.export_dict(export)


@router.get("/exports")
def list_exports(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    side: Annotated[Literal["mine", "all"], Query(description="mine: my department's; all: Bureau")] = "mine",
) -> Page[dict[str, Any]]:
    found, total = exports.list_exports(
        db, actor=actor, side=side, limit=params.page_size, offset=params.offset
    )
    return Page[dict[str, Any]](
        items=[exports.export_dict(e) for e in found],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.get("/exports/{export_id}")
def get_export(export_id: int, actor: CurrentActor, db: DB) -> dict[str, Any]:
    return exports.export_dict(exports.get_export(db, actor=actor, export_id=export_id))


@router.post("/exports/{export_id}/decision")
def decide_export(export_id: int, body: ExportDecisionBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The Bureau approves or rejects an export request, with its opinion."""
    export = exports.decide_export(
        db, actor=actor, export_id=export_id, approve=body.approve, reason=body.reason
    )
    return exports.export_dict(export)


@router.get("/exports/{export_id}/file")
def download_export(export_id: int, actor: CurrentActor, db: DB) -> Response:
    """The approved export's file (at most 3 downloads within the validity), generated under the
    still-active grant and fingerprinted for this export."""
    file = exports.download(db, actor=actor, export_id=export_id)
    return Response(
        file.content,
        media_type=file.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "X-Content-SM3": file.export.file_sm3 or "",
        },
    )


@router.get("/grants")
def list_grants(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    side: Annotated[
        Literal["held", "given"], Query(description="held by my department, or given by it")
    ] = "held",
) -> Page[dict[str, Any]]:
    rows, total = service.list_grants(
        db, actor=actor, side=side, limit=params.page_size, offset=params.offset
    )
    return Page[dict[str, Any]](
        items=[g.as_dict() for g in rows], total=total, page=params.page, page_size=params.page_size
    )


@router.get("/grants/{grant_id}")
def get_grant(grant_id: int, actor: CurrentActor, db: DB) -> dict[str, Any]:
    return service.get_grant(db, actor=actor, grant_id=grant_id).as_dict()


@router.post("/grants/{grant_id}/{change}")
def change_grant(
    grant_id: int,
    change: Literal["suspend", "resume", "revoke", "renew"],
    body: GrantChangeBody,
    actor: CurrentActor,
    db: DB,
) -> JSONResponse:
    """The provider's data administrator or the Bureau suspends, resumes, revokes or renews a grant."""
    grant = service.change_grant(
        db, actor=actor, grant_id=grant_id, change=change, reason=body.reason, days=body.days
    )
    return JSONResponse(grant.as_dict())
