"""Catalog exchange JSON API: the .xlsx template, bulk import, and exports as .xlsx and DCAT JSON-LD.

The export paths are fixed paths under /api/v1/catalog/, so this router is included before
`catalog.api`. Exports take the same filters as `GET /api/v1/resources`, without its pagination.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Request, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from govshare.catalog import dcat, exchange
from govshare.catalog.api import search_filters as list_filters
from govshare.catalog.schemas import ResourceRef
from govshare.catalog.search import Filters
from govshare.catalog.workbook import MAX_ENTRIES, MAX_UPLOAD_BYTES, XLSX_MEDIA_TYPE
from govshare.web.deps import DB, CurrentActor
from govshare.workdays import today

router = APIRouter(prefix="/api/v1", tags=["catalog"])

CatalogFilters = Annotated[Filters, Depends(list_filters)]


def download(content: bytes, *, media_type: str, name: str, chinese_name: str) -> Response:
    """A file to save: an ASCII `filename` for old clients, the Chinese one (RFC 6266) for the rest."""
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(chinese_name)}"
    return Response(content, media_type=media_type, headers={"Content-Disposition": disposition})


def template_response(content: bytes) -> Response:
    return download(
        content,
        media_type=XLSX_MEDIA_TYPE,
        name="govshare-catalog-template.xlsx",
        chinese_name="目录导入模板.xlsx",
    )


def export_response(content: bytes) -> Response:
    day = today().strftime("%Y%m%d")
    return download(
        content,
        media_type=XLSX_MEDIA_TYPE,
        name=f"govshare-catalog-{day}.xlsx",
        chinese_name=f"政务数据资源目录-{day}.xlsx",
    )


def jsonld_response(document: dict[str, object]) -> Response:
    return Response(json.dumps(document, ensure_ascii=False), media_type=dcat.MEDIA_TYPE)


@router.get("/catalog/template.xlsx", response_class=Response)
def template(actor: CurrentActor, db: DB) -> Response:
    """The .xlsx template a department fills in to compile entries in bulk (its sub-classes included)."""
    return template_response(exchange.template(db, actor=actor))


class ImportOut(BaseModel):
    created: int = Field(description="How many drafts were created.")
    items: list[ResourceRef]


@router.post("/catalog/import", response_model=ImportOut, status_code=status.HTTP_201_CREATED)
def import_catalog(
    actor: CurrentActor,
    db: DB,
    file: Annotated[
        UploadFile,
        File(
            description=f"A filled template (.xlsx, at most {MAX_UPLOAD_BYTES} bytes, {MAX_ENTRIES} entries)."
        ),
    ],
) -> ImportOut:
    """Create drafts of the caller's department from a filled template, all or none.

    A file with problems gives 422 with `details.errors`: every problem as `{sheet, row, column,
    message}`, and nothing is created.
    """
    created = exchange.import_workbook(db, actor=actor, source=file.file, filename=file.filename)
    return ImportOut(
        created=len(created), items=[ResourceRef(id=r.id, code=r.code, name=r.name) for r in created]
    )


@router.get("/catalog/export.xlsx", response_class=Response)
def export_xlsx(actor: CurrentActor, db: DB, filters: CatalogFilters) -> Response:
    """The entries the caller sees, in the template's layout plus 代码, 提供方, 状态, 版本, 发布日期."""
    content, _count = exchange.export_xlsx(db, actor=actor, filters=filters)
    return export_response(content)


@router.get("/catalog/export.jsonld", response_class=Response)
def export_jsonld(request: Request, actor: CurrentActor, db: DB, filters: CatalogFilters) -> Response:
    """The published entries the caller sees as a DCAT-AP style `dcat:Catalog` (application/ld+json)."""
    return jsonld_response(dcat.catalog(db, actor=actor, filters=filters, base=str(request.base_url)))
