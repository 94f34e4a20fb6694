"""The classification scheme and the data-asset register over the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from govshare.catalog.api_exchange import download
from govshare.classification import register, service
from govshare.classification.schemas import AssetOut, LevelIn, LevelOut
from govshare.pagination import Page, PageParams
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1", tags=["classification"])


@router.get("/classification/levels", response_model=list[LevelOut])
def list_levels(actor: CurrentActor, db: DB) -> list[LevelOut]:
    """The Bureau's scheme: every level of data importance and of sensitivity, with its controls."""
    return [LevelOut.model_validate(row) for row in service.list_levels(db, actor=actor)]


@router.put("/classification/levels/{dimension}/{code}", response_model=LevelOut)
def put_level(dimension: str, code: str, data: LevelIn, actor: CurrentActor, db: DB) -> LevelOut:
    """Replace one level's name, description and controls (Bureau administrators; audited)."""
    row = service.update_level(db, actor=actor, dimension=dimension, code=code, data=data)
    return LevelOut.model_validate(row)


def _filters(
    q: str | None,
    org_id: int | None,
    importance: str | None,
    sensitivity: str | None,
    lifecycle: str | None,
    method: str | None,
) -> register.RegisterFilters:
    return register.RegisterFilters(
        q=(q or "").strip() or None,
        org_id=org_id,
        importance=importance or None,
        sensitivity=sensitivity or None,
        lifecycle=lifecycle or None,
        method=method or None,
    )


Text = Annotated[str | None, Query(max_length=64)]


@router.get("/assets", response_model=Page[AssetOut])
def list_assets(
    actor: CurrentActor,
    db: DB,
    q: Text = None,
    org_id: int | None = None,
    importance: Text = None,
    sensitivity: Text = None,
    lifecycle: Text = None,
    method: Text = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Page[AssetOut]:
    """The data-asset register (数据资产登记): the Bureau sees every resource, a department its own."""
    params = PageParams(page=page, page_size=page_size)
    filters = _filters(q, org_id, importance, sensitivity, lifecycle, method)
    items, total = register.list_assets(db, actor=actor, filters=filters, params=params)
    return Page[AssetOut](items=items, total=total, page=params.page, page_size=params.page_size)


@router.get("/assets.csv", response_class=Response)
def export_assets(
    actor: CurrentActor,
    db: DB,
    q: Text = None,
    org_id: int | None = None,
    importance: Text = None,
    sensitivity: Text = None,
    lifecycle: Text = None,
    method: Text = None,
) -> Response:
    """The register as CSV under the same filters (audited)."""
    filters = _filters(q, org_id, importance, sensitivity, lifecycle, method)
    content, _count = register.export_csv(db, actor=actor, filters=filters)
    return download(
        content,
        media_type="text/csv; charset=utf-8",
        name="data-asset-register.csv",
        chinese_name="数据资产登记表.csv",
    )
