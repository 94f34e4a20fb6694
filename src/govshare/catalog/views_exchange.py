"""Catalog exchange pages: the bulk import form, and the template and export downloads.

The import's result is rendered on the response to the POST rather than after a redirect, because
it lists what was created; submitting the same file again is harmless, as names the department
already uses are refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from govshare.authz import Action, require
from govshare.catalog import dcat, exchange, forms
from govshare.catalog.api_exchange import export_response, jsonld_response, template_response
from govshare.catalog.models import Resource
from govshare.catalog.search import Filters
from govshare.catalog.workbook import MAX_ENTRIES, MAX_UPLOAD_BYTES
from govshare.errors import Invalid, TooLarge
from govshare.web.deps import DB, CurrentActor
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

ListFilters = Annotated[Filters, Depends(forms.list_filters)]


def _page(
    request: Request,
    *,
    created: list[Resource] | None = None,
    error: Invalid | TooLarge | None = None,
    file_name: str | None = None,
) -> Response:
    return render(
        request,
        "catalog/import.html",
        {
            "created": created or [],
            "error": error.message if error else None,
            "errors": exchange.row_errors(error) if isinstance(error, Invalid) else [],
            "file_name": file_name,
            "max_entries": MAX_ENTRIES,
            "max_megabytes": MAX_UPLOAD_BYTES // (1024 * 1024),
        },
        status_code=error.status if error else 200,
    )


@router.get("/catalog/import", response_class=HTMLResponse)
def import_form(request: Request, actor: CurrentActor) -> Response:
    # Nothing is written here, so no service guards the page: refuse it to people who could not submit it.
    require(actor, Action.catalog_compile)
    return _page(request)


@router.post("/catalog/import", response_class=HTMLResponse)
def import_upload(
    request: Request, actor: CurrentActor, db: DB, file: Annotated[UploadFile, File()]
) -> Response:
    try:
        # The service runs the import in a savepoint it rolls back on any problem, so returning the
        # form (which lets the request's unit of work commit) leaves nothing half-imported.
        created = exchange.import_workbook(db, actor=actor, source=file.file, filename=file.filename)
    except (Invalid, TooLarge) as exc:
        return _page(request, error=exc, file_name=file.filename)
    return _page(request, created=created, file_name=file.filename)


@router.get("/catalog/template.xlsx", response_class=Response)
def template(actor: CurrentActor, db: DB) -> Response:
    return template_response(exchange.template(db, actor=actor))


@router.get("/catalog/export.xlsx", response_class=Response)
def export_xlsx(actor: CurrentActor, db: DB, filters: ListFilters) -> Response:
    """What the catalog list shows under the same query string, every page of it."""
    content, _count = exchange.export_xlsx(db, actor=actor, filters=filters)
    return export_response(content)


@router.get("/catalog/export.jsonld", response_class=Response)
def export_jsonld(request: Request, actor: CurrentActor, db: DB, filters: ListFilters) -> Response:
    return jsonld_response(dcat.catalog(db, actor=actor, filters=filters, base=str(request.base_url)))
