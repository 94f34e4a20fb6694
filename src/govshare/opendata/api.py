"""The public open-data API (no token): open resources, their metadata and masked rows (M1, M3).

`GET /api/v1/open/resources` answers `{"items": [{"id", "name", "provider", …}], "total": N}`;
`…/{id}/rows` serves masked rows of an unconditionally open table resource, rate-limited per client
address (`GOVSHARE_OPEN_RATE_LIMIT_PER_MINUTE`, 429 with `Retry-After` beyond) and audited.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from govshare.authz import Actor
from govshare.catalog.models import Resource
from govshare.catalog.vocab import OpenType
from govshare.opendata import ratelimit, service
from govshare.opendata.schemas import (
    OpenItemOut,
    OpenResourceDetail,
    OpenResourceList,
    OpenResourceOut,
    OpenRowsOut,
)
from govshare.pagination import PageParams
from govshare.settings import get_settings
from govshare.web.deps import DB, client_ip, public, reads_first
from govshare.web.forms import parse_int

router = APIRouter(prefix="/api/v1/open", tags=["open data"])
MINUTE = timedelta(minutes=1)


def data_limit(request: Request) -> Actor:
    """Count an anonymous data call of the caller's address (429 beyond the limit); the caller as
    an anonymous actor with that address. Depend on it before `DB`: it runs its own unit of work."""
    ip = client_ip(request)
    ratelimit.check(
        request.app.state.unit_of_work,
        bucket="data",
        address=ip,
        limit=get_settings().open_rate_limit_per_minute,
        length=MINUTE,
    )
    return Actor.anonymous(ip)


Limited = Annotated[Actor, Depends(data_limit)]


def resource_out(resource: Resource, provider: str) -> OpenResourceOut:
    return OpenResourceOut(
        id=resource.id,
        code=resource.code,
        name=resource.name,
        provider=provider,
        summary=resource.summary,
        open_type=resource.open_type,
        open_type_label=OpenType(resource.open_type).label,
        format=resource.format,
        provision_method=resource.provision_method,
        update_cycle=resource.update_cycle,
        published_at=resource.published_at.isoformat() if resource.published_at else None,
    )


@router.get("/resources", response_model=OpenResourceList)
@public
def list_resources(
    db: DB,
    q: Annotated[str, Query(max_length=100)] = "",
    org: Annotated[str, Query(max_length=12)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OpenResourceList:
    """Open resources (无条件开放 and 有条件开放) matching `q`, newest first; no token needed."""
    listing = service.search(db, q=q, org_id=parse_int(org), params=PageParams(page=page, page_size=per_page))
    return OpenResourceList(
        items=[resource_out(r, listing.providers.get(r.org_id, "")) for r in listing.rows],
        total=listing.total,
        page=page,
        per_page=per_page,
    )


def detail_out(shown: service.OpenResource) -> OpenResourceDetail:
    masking = shown.masking()
    base = resource_out(shown.resource, shown.provider)
    return OpenResourceDetail(
        **base.model_dump(),
        category=shown.category,
        open_condition=shown.version.open_condition,
        items=[
            OpenItemOut(
                name=i["name"],
                title=i.get("title") or i["name"],
                data_type=i["data_type"],
                length=i.get("length"),
                open=i["name"] in masking,
                masking=masking.get(i["name"]),
            )
            for i in shown.items
        ],
        hidden_items=shown.hidden,
        rows_url=(
            f"/api/v1/open/resources/{shown.resource.id}/rows"
            if shown.is_table and shown.open_type == "open"
            else None
        ),
    )


@router.get("/resources/{resource_id}", response_model=OpenResourceDetail)
@public
def get_resource(resource_id: int, db: DB) -> OpenResourceDetail:
    """An open resource's published metadata (items hidden by metadata access control left out)."""
    return detail_out(service.get(db, resource_id=resource_id))


@router.get(
    "/resources/{resource_id}/rows",
    response_model=OpenRowsOut,
    responses={
        403: {"description": "Conditionally open: rows go only to approved applicants."},
        429: {"description": "Rate limit reached; see Retry-After."},
    },
)
@public
@reads_first
def get_rows(
    request: Request,
    resource_id: int,
    actor: Limited,
    db: DB,
    limit: Annotated[int, Query()] = service.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    format: Annotated[str, Query(max_length=8)] = "json",
) -> Response:
    """Masked live rows of an unconditionally open table resource: equality filters `item=value` on
    items opened as they are, `limit` (1–1000) per page, `cursor` = the previous `next_cursor`;
    `format=csv` for a CSV page (next cursor in `X-Next-Cursor`)."""
    fmt = service.check_format(format)
    page = service.read_rows(
        db,
        actor=actor,
        resource_id=resource_id,
        query=list(request.query_params.multi_items()),
        limit=limit,
        cursor=cursor,
    )
    if fmt == "csv":
        headers = {"X-Next-Cursor": page.next_cursor} if page.next_cursor else {}
        text = "\ufeff" + service.csv_text(page.columns, page.rows, header=True)
        return Response(text, media_type=service.FORMATS["csv"], headers=headers)
    body = OpenRowsOut(
        rows=page.rows, next_cursor=page.next_cursor, columns=page.columns, masking=page.masking
    )
    # The SM3 the audit event records is that of the rows' JSON text.
    return JSONResponse(body.model_dump(mode="json"), headers={"X-Content-SM3": page.sm3})
