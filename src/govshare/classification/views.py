"""The classification scheme page (/admin/classification: everyone who reads the catalog sees it,
Bureau administrators edit one level at a time) and the data-asset register (/assets, with filters,
pagination and the CSV export of the API)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.catalog.vocab import Importance, Sensitivity
from govshare.classification import register, scheme, service
from govshare.classification.schemas import LevelIn
from govshare.errors import Conflict, Invalid, NotFound
from govshare.orgs import service as orgs
from govshare.pagination import PageParams
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import Fields, page_context, parse_int, refusal, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

LEVEL_FIELDS: Fields = {
    "label": ("级别名称", "应为 2 至 32 个字符"),
    "description": ("说明", "不能超过 500 个字符"),
    "max_grant_days": ("最长授权天数", "应为 1 至 1098 的整数，留空表示不限"),
}
PAGE_SIZE = 20


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    editing: tuple[str, str] | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Response:
    rows = service.list_levels(db, actor=actor)
    return render(
        request,
        "classification/scheme.html",
        {
            "dimensions": [
                (dim, scheme.DIMENSION_LABELS[dim], [r for r in rows if r.dimension == dim])
                for dim in scheme.DIMENSIONS
            ],
            "controls": scheme.CONTROLS,
            "manage": allowed(actor, Action.classification_manage),
            "editing": editing,
            "form": form,
            "error": error,
            "notice": notice,
        },
        status_code=status,
    )


@router.get("/admin/classification", response_class=HTMLResponse)
def scheme_page(
    request: Request,
    actor: CurrentActor,
    db: DB,
    edit: Annotated[str, Query(max_length=40)] = "",
    done: Annotated[str, Query(max_length=8)] = "",
) -> Response:
    require(actor, Action.catalog_view)
    editing = None
    form = None
    if edit and allowed(actor, Action.classification_manage):
        dimension, _, code = edit.partition(":")
        row = next(
            (r for r in service.list_levels(db, actor=actor) if r.dimension == dimension and r.code == code),
            None,
        )
        if row is None:
            raise NotFound("找不到该级别。", f"Level {edit} not found.")
        editing = (dimension, code)
        form = {name: getattr(row, name) for name in (*scheme.CONTROLS, "label", "description", "version")}
        form["max_grant_days"] = "" if row.max_grant_days is None else str(row.max_grant_days)
    return _page(request, db, actor, editing=editing, form=form, notice="级别已保存。" if done else None)


@router.post("/admin/classification/{dimension}/{code}", response_class=HTMLResponse)
async def level_save(
    dimension: str,
    code: str,
    request: Request,
    actor: CurrentActor,
    db: DB,
    label: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
    max_grant_days: Annotated[str, Form(max_length=8)] = "",
    version: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    require(actor, Action.classification_manage)
    submitted = await request.form()
    flags = {name: submitted.get(name) == "1" for name in scheme.CONTROLS}
    form: dict[str, Any] = {
        **flags,
        "label": label,
        "description": description,
        "max_grant_days": max_grant_days,
        "version": version,
    }
    try:
        days = max_grant_days.strip()
        if days and not days.isdecimal():
            raise Invalid("最长授权天数应为整数，留空表示不限。", "max_grant_days must be a number.")
        data = LevelIn.model_validate(
            {
                **flags,
                "label": label,
                "description": description,
                "max_grant_days": int(days) if days else None,
                "version": int(version) if version.isdecimal() else None,
            }
        )
        with db.begin_nested():
            service.update_level(db, actor=actor, dimension=dimension, code=code, data=data)
    except (ValidationError, Invalid, Conflict) as exc:
        error, status = refusal(exc, LEVEL_FIELDS)
        return _page(request, db, actor, editing=(dimension, code), form=form, error=error, status=status)
    return see_other(f"/admin/classification?done=1#level-{dimension}-{code}")


@router.get("/assets", response_class=HTMLResponse)
def register_page(
    request: Request,
    actor: CurrentActor,
    db: DB,
    q: Annotated[str, Query(max_length=64)] = "",
    org_id: Annotated[str, Query(max_length=12)] = "",
    importance: Annotated[str, Query(max_length=16)] = "",
    sensitivity: Annotated[str, Query(max_length=4)] = "",
    lifecycle: Annotated[str, Query(max_length=16)] = "",
    method: Annotated[str, Query(max_length=8)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    require(actor, Action.asset_register_view)
    form = {
        "q": q.strip(),
        "org_id": org_id,
        "importance": importance,
        "sensitivity": sensitivity,
        "lifecycle": lifecycle,
        "method": method,
    }
    filters = register.RegisterFilters(
        q=form["q"] or None,
        org_id=parse_int(org_id),
        importance=importance or None,
        sensitivity=sensitivity or None,
        lifecycle=lifecycle or None,
        method=method or None,
    )
    params = PageParams(page=page, page_size=PAGE_SIZE)
    assets, total = register.list_assets(db, actor=actor, filters=filters, params=params)
    kept = {k: v for k, v in form.items() if v}
    return render(
        request,
        "classification/register.html",
        {
            "assets": assets,
            "form": form,
            **page_context(params, total, **form),
            "csv": "/api/v1/assets.csv" + ("?" + urlencode(kept) if kept else ""),
            "orgs": orgs.choices(db, actor=actor, action=Action.asset_register_view, active_only=False),
            "importances": Importance.choices(),
            "sensitivities": Sensitivity.choices(),
            "lifecycles": register.LIFECYCLE,
            "methods": {"table": "库表", "file": "文件", "api": "接口"},
        },
    )
