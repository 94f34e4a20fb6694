"""JSON API of analysis: the granted schema, queries with their checks, releases, derived datasets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from govshare.analysis import service
from govshare.authz import Actor
from govshare.pagination import Page, PageParams
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/analysis", tags=["analysis"])


class QueryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(
        max_length=20_000, description="One SELECT over the tables of the schema (SQLite syntax)."
    )
    purpose: str = Field(
        max_length=200, description="用途: must equal the purpose of a grant of each table read."
    )


class ReleaseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["csv", "derived"] = Field(description="csv: download; derived: keep as a derived dataset.")
    name: str | None = Field(None, max_length=200, description="Name of the derived dataset.")
    description: str | None = Field(None, max_length=2000)


@router.get("/schema")
def schema(actor: CurrentActor, db: DB) -> dict[str, Any]:
    """The tables the caller's department may analyse: one per active grant (`table` is the name to
    use in SQL, `r<resource_id>`), with the grant's purpose and its granted items as masked."""
    return {"tables": service.schema(db, actor=actor)}


@router.post("/queries")
def run_query(body: QueryBody, actor: CurrentActor, db: DB) -> dict[str, Any]:
    """Run one checked SELECT in a sandbox of granted, masked rows; the answer carries the result
    and the output risk checks (`releasable` when all passed). 422: not one SELECT, or anything
    ungranted reached; 403: no grant of a table read is for `purpose`."""
    return service.query_dict(service.run_query(db, actor=actor, sql=body.sql, purpose=body.purpose))


@router.get("/queries")
def list_queries(
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    scope: Literal["mine", "all"] = "mine",
) -> Page[dict[str, Any]]:
    """The caller's queries, newest first; `scope=all`: everyone's (auditors)."""
    found, total = service.list_queries(db, actor=actor, params=params, everyone=scope == "all")
    return Page[dict[str, Any]](
        items=[_query_out(actor, q) for q in found],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.get("/queries/{query_id}")
def get_query(query_id: int, actor: CurrentActor, db: DB) -> dict[str, Any]:
    return _query_out(actor, service.get_query(db, actor=actor, query_id=query_id))


def _query_out(actor: Actor, query: Any) -> dict[str, Any]:
    """A query as its analyst sees it; anyone else (an auditor) gets its SQL, provenance and checks,
    not the rows (they hold no grant for them; the audit event of the run holds the rows' SM3)."""
    out = service.query_dict(query)
    if actor.user_id != query.user_id:
        out["rows"] = None
    return out


@router.post("/queries/{query_id}/release", response_model=None)
def release(query_id: int, body: ReleaseBody, actor: CurrentActor, db: DB) -> Response | dict[str, Any]:
    """Release a result whose checks all passed: `csv` answers the CSV file, `derived` the derived
    dataset kept by the department (never shared outside it). 409 when not releasable."""
    done = service.release(
        db, actor=actor, query_id=query_id, kind=body.kind, name=body.name, description=body.description
    )
    if done.derived is not None:
        return service.derived_dict(done.derived)
    return Response(
        done.content,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="analysis-{query_id}.csv"',
            "X-Content-SM3": done.release.sm3,
        },
    )


@router.get("/derived")
def list_derived(
    actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Page[dict[str, Any]]:
    found, total = service.list_derived(db, actor=actor, params=params)
    return Page[dict[str, Any]](
        items=[service.derived_dict(d, with_rows=False) for d in found],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )


@router.get("/derived/{derived_id}")
def get_derived(derived_id: int, actor: CurrentActor, db: DB) -> dict[str, Any]:
    return service.derived_dict(service.get_derived(db, actor=actor, derived_id=derived_id))


@router.get("/releases")
def list_releases(
    actor: CurrentActor, db: DB, params: Annotated[PageParams, Depends()]
) -> Page[dict[str, Any]]:
    """Every release with its query (auditors): kind, who, when, SM3 of the bytes released."""
    found, total = service.list_releases(db, actor=actor, params=params)
    return Page[dict[str, Any]](
        items=[
            {
                "id": r.id,
                "query_id": r.query_id,
                "org_id": r.org_id,
                "released_by": r.released_by,
                "at": r.at.isoformat(),
                "kind": r.kind,
                "sm3": r.sm3,
            }
            for r in found
        ],
        total=total,
        page=params.page,
        page_size=params.page_size,
    )
