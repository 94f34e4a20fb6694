"""Analysis pages: the workspace (granted schema beside the SQL editor, result and checks, release),
query history and detail with provenance, derived datasets with lineage, and the auditors' view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.analysis import service
from govshare.analysis.models import AnalysisQuery
from govshare.authz import Action, Actor, allowed
from govshare.errors import DomainError
from govshare.pagination import PageParams
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import page_context, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)


def _workspace(
    request: Request,
    db: Session,
    actor: Actor,
    params: PageParams,
    *,
    query: AnalysisQuery | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    history, total = service.list_queries(db, actor=actor, params=params)
    form = form or {"sql": query.sql if query else "", "purpose": query.purpose if query else ""}
    context: dict[str, Any] = {
        "tables": service.schema(db, actor=actor),
        "purposes": service.purposes(db, actor=actor),
        "query": query,
        "form": form,
        "error": error,
        "history": history,
        "can_release": allowed(actor, Action.analysis_release)
        and query is not None
        and query.user_id == actor.user_id,
        **page_context(params, total),
    }
    return render(request, "analysis/workspace.html", context, status_code=status_code)


@router.get("/analysis", response_class=HTMLResponse)
def workspace(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    query: Annotated[int | None, Query()] = None,
) -> Response:
    shown = service.get_query(db, actor=actor, query_id=query) if query is not None else None
    return _workspace(request, db, actor, params, query=shown)


@router.post("/analysis", response_class=HTMLResponse)
def run(
    request: Request,
    actor: CurrentActor,
    db: DB,
    sql: Annotated[str, Form(max_length=20_000)] = "",
    purpose: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        query = service.run_query(db, actor=actor, sql=sql, purpose=purpose)
    except DomainError as exc:
        # The refusal is recorded and audited (kept in this unit of work); the analyst's text stays.
        return _workspace(
            request,
            db,
            actor,
            PageParams(),
            form={"sql": sql, "purpose": purpose},
            error=exc.message,
            status_code=exc.status,
        )
    return see_other(f"/analysis?query={query.id}")


@router.post("/analysis/queries/{query_id}/release", response_class=HTMLResponse)
def release(
    query_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    kind: Annotated[str, Form(max_length=16)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        done = service.release(
            db, actor=actor, query_id=query_id, kind=kind, name=name, description=description
        )
    except DomainError as exc:
        query = service.get_query(db, actor=actor, query_id=query_id)
        return _workspace(
            request, db, actor, PageParams(), query=query, error=exc.message, status_code=exc.status
        )
    if done.derived is not None:
        return see_other(f"/analysis/derived/{done.derived.id}")
    return Response(
        done.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="analysis-{query_id}.csv"',
            "X-Content-SM3": done.release.sm3,
        },
    )


@router.get("/analysis/queries/{query_id}", response_class=HTMLResponse)
def query_detail(query_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    query = service.get_query(db, actor=actor, query_id=query_id)
    return render(request, "analysis/query.html", {"query": query})


@router.get("/analysis/derived", response_class=HTMLResponse)
def derived_list(
    request: Request, actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Response:
    found, total = service.list_derived(db, actor=actor, params=params)
    return render(request, "analysis/derived_list.html", {"datasets": found, **page_context(params, total)})


@router.get("/analysis/derived/{derived_id}", response_class=HTMLResponse)
def derived_detail(derived_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    derived = service.get_derived(db, actor=actor, derived_id=derived_id)
    return render(request, "analysis/derived.html", {"derived": derived})


@router.get("/analysis/audit", response_class=HTMLResponse)
def audit_view(
    request: Request, actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Response:
    queries, total = service.list_queries(db, actor=actor, params=params, everyone=True)
    releases, _ = service.list_releases(db, actor=actor, params=PageParams(page=1, page_size=50))
    return render(
        request,
        "analysis/audit.html",
        {"queries": queries, "releases": releases, **page_context(params, total)},
    )
