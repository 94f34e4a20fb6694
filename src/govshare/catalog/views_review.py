"""The Bureau's catalog pages: the review queue and review page, catalog supervision with its chart,
catalog classes, standard data elements and 一数一源 conflicts.

Routed before `views`, so these fixed paths under /catalog/ win over /catalog/{resource_id}.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, require
from govshare.catalog import classes, disclosure, elements, forms, present, rules, service, supervision
from govshare.catalog.models import DataElement, ElementConflict, Resource, ResourceVersion
from govshare.catalog.schemas import (
    CatalogClassCreate,
    CatalogClassUpdate,
    ConflictDecision,
    DataElementIn,
    ReviewDecision,
)
from govshare.catalog.vocab import ChangeKind, ClassKind, ConflictStatus, DataType, VersionState
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, optional, page_context, parse_enum, parse_int, refusal, see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)

QUEUE_NOTICES = {"approved": "已审核通过，目录已发布。", "returned": "已退回提供部门修改。"}
WARN_DAYS, LATE_DAYS = 5, 10  # working days a submission may wait before it is flagged


# --- review --------------------------------------------------------------------------------------


@router.get("/catalog/review", response_class=HTMLResponse)
def review_queue(request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    queue = service.review_queue(db, actor=actor)
    return render(
        request,
        "catalog/review_queue.html",
        {
            "queue": queue,
            "change_labels": dict(ChangeKind.choices()),
            "warn_days": WARN_DAYS,
            "late_days": LATE_DAYS,
            "notice": QUEUE_NOTICES.get(done),
        },
    )


def _submitted(db: Session, actor: Actor, resource_id: int) -> tuple[Resource, ResourceVersion | None]:
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_review, resource)
    version = service.working_version(db, actor=actor, resource=resource)
    if version is None or version.state != VersionState.submitted.value:
        return resource, None
    return resource, version


def _review_page(
    request: Request,
    db: Session,
    actor: Actor,
    resource_id: int,
    *,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    resource, version = _submitted(db, actor, resource_id)
    lookup = present.Lookup(db)
    context: dict[str, Any] = {"resource": resource, "version": None, "error": error, "form": form or {}}
    if version is not None:
        meta = present.version_out(version, lookup, disclosure.for_actor(db, actor=actor, resource=resource))
        published = (
            db.get(ResourceVersion, resource.published_version_id) if resource.published_version_id else None
        )
        changes = (
            [
                forms.change_row(c)
                for c in service.diff(service.snapshot(db, published), service.snapshot(db, version))
            ]
            if published is not None
            else []
        )
        conflicts = list(db.scalars(select(ElementConflict).where(ElementConflict.version_id == version.id)))
        context.update(
            version=version,
            meta=meta,
            provider=lookup.org(resource.org_id),
            element_names=forms.element_names(db, {i.element for i in meta.items if i.element}),
            comments={},
            changes=changes,
            published_number=published.number if published else None,
            change_label=ChangeKind(version.change_kind).label,
            conflicts=[
                (c, db.get(DataElement, c.element_id), ConflictStatus(c.status).label) for c in conflicts
            ],
            field_labels=rules.FIELD_LABELS,
        )
    return render(request, "catalog/review_page.html", context, status_code=status)


@router.get("/catalog/{resource_id}/review", response_class=HTMLResponse)
def review_page(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    return _review_page(request, db, actor, resource_id)


@router.post("/catalog/{resource_id}/review", response_class=HTMLResponse)
async def review_decide(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    posted = await request.form()
    decision = str(posted.get("decision", ""))
    comment = str(posted.get("comment", ""))[:1000]
    field_comments = {
        key.removeprefix("fc:"): str(value)[:500]
        for key, value in posted.multi_items()
        if key.startswith("fc:") and str(value).strip()
    }
    form = {"decision": decision, "comment": comment, "field_comments": field_comments}
    try:
        data = ReviewDecision.model_validate(
            {"decision": decision, "comment": comment, "field_comments": field_comments}
        )
        with db.begin_nested():
            service.review(db, actor=actor, resource_id=resource_id, data=data)
    except FIXABLE as exc:
        message, status = refusal(
            exc, {"decision": ("审核结论", "请选择“通过”或“退回”"), "comment": ("审核意见", "")}
        )
        return _review_page(request, db, actor, resource_id, form=form, error=message, status=status)
    return see_other(f"/catalog/review?done={'approved' if decision == 'approve' else 'returned'}")


# --- supervision ---------------------------------------------------------------------------------


def _chart(rows: list[supervision.DepartmentCatalog]) -> dict[str, Any]:
    """ECharts option: a stacked bar per department of where its entries stand."""
    names = [r.name.removeprefix("石家庄市") for r in rows]
    series = [
        ("已发布", "published", "#2e7d32"),
        ("待审核", "pending", "#f9a825"),
        ("退回未改", "returned", "#c62828"),
        ("草稿", "drafts", "#90a4ae"),
    ]
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "legend": {"top": 0},
        "grid": {"left": 120, "right": 24, "top": 32, "bottom": 24},
        "xAxis": {"type": "value", "minInterval": 1},
        "yAxis": {"type": "category", "data": names, "inverse": True},
        "series": [
            {
                "name": label,
                "type": "bar",
                "stack": "total",
                "color": color,
                "data": [getattr(r, key) for r in rows],
            }
            for label, key, color in series
        ],
    }


@router.get("/catalog/supervision", response_class=HTMLResponse)
def catalog_supervision(request: Request, actor: CurrentActor, db: DB) -> Response:
    rows = supervision.department_catalogs(db, actor=actor)
    return render(
        request,
        "catalog/review_supervision.html",
        {"rows": rows, "chart": _chart(rows), "no_catalog": [r for r in rows if r.no_catalog]},
    )


# --- classes -------------------------------------------------------------------------------------

CLASS_FIELDS = {
    "parent": ("大类", "请从列表中选择"),
    "name": ("小类名称", "应为 2–64 个字符"),
    "lead_org_id": ("牵头部门", "请从列表中选择"),
    "description": ("说明", "不能超过 500 个字符"),
    "version": ("版本", "请刷新页面后重新编辑"),
}


def _classes_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    require(actor, Action.catalog_view)
    all_classes = classes.list_classes(db, include_inactive=True)
    tops = [c for c in all_classes if c.parent_id is None]
    lookup = present.Lookup(db)
    return render(
        request,
        "catalog/review_classes.html",
        {
            "tops": [(top, [c for c in all_classes if c.parent_id == top.id]) for top in tops],
            "org_name": lambda org_id: lookup.org(org_id).name if org_id else "",
            "org_choices": orgs.choices(db, actor=actor),
            "kind_labels": dict(ClassKind.choices()),
            "form": form or {},
            "error": error,
            "notice": notice,
        },
        status_code=status,
    )


@router.get("/catalog/classes", response_class=HTMLResponse)
def class_list(request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    notices = {"created": "小类已新建。", "updated": "分类已保存。"}
    return _classes_page(request, db, actor, notice=notices.get(done))


@router.post("/catalog/classes", response_class=HTMLResponse)
def class_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    parent: Annotated[str, Form(max_length=8)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    lead_org_id: Annotated[str, Form(max_length=12)] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form = {"parent": parent, "name": name, "lead_org_id": lead_org_id, "description": description}
    try:
        data = CatalogClassCreate.model_validate(
            {
                "parent": parent,
                "name": name,
                "lead_org_id": parse_int(lead_org_id),
                "description": optional(description),
            }
        )
        with db.begin_nested():
            classes.create_class(db, actor=actor, data=data)
    except FIXABLE as exc:
        message, status = refusal(exc, CLASS_FIELDS)
        return _classes_page(request, db, actor, error=message, form=form, status=status)
    return see_other("/catalog/classes?done=created")


@router.post("/catalog/classes/{class_id}", response_class=HTMLResponse)
def class_update(
    class_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    name: Annotated[str, Form(max_length=128)] = "",
    lead_org_id: Annotated[str, Form(max_length=12)] = "",
    description: Annotated[str, Form(max_length=1000)] = "",
    active: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    try:
        data = CatalogClassUpdate.model_validate(
            {
                "version": version,
                "name": name.strip() or None,
                "lead_org_id": parse_int(lead_org_id),
                "description": optional(description),
                "is_active": active == "on",
            }
        )
        with db.begin_nested():
            classes.update_class(db, actor=actor, class_id=class_id, data=data)
    except FIXABLE as exc:
        message, status = refusal(exc, CLASS_FIELDS)
        return _classes_page(request, db, actor, error=message, status=status)
    return see_other("/catalog/classes?done=updated")


# --- data elements -------------------------------------------------------------------------------

ELEMENT_FIELDS = {
    "code": ("数据元编码", "须以大写字母开头，由 2–32 位大写字母、数字、点、横线或下划线组成"),
    "name": ("数据元名称", "应为 2–64 个字符"),
    "definition": ("定义", "应为 2–500 个字符"),
    "data_type": ("数据类型", "请从列表中选择"),
    "length": ("长度", "应为正整数"),
    "standard": ("依据标准", "不能超过 128 个字符"),
    "source_org_id": ("权威来源部门", "请从列表中选择"),
    "version": ("版本", "请刷新页面后重新编辑"),
}


def _elements_page(
    request: Request,
    db: Session,
    actor: Actor,
    params: PageParams,
    q: str,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    rows, total = elements.list_elements(db, actor=actor, params=params, q=q.strip() or None)
    lookup = present.Lookup(db)
    return render(
        request,
        "catalog/review_elements.html",
        {
            "rows": [(e, lookup.org(e.source_org_id) if e.source_org_id else None) for e in rows],
            "org_choices": orgs.choices(db, actor=actor),
            "data_types": DataType.choices(),
            "q": q,
            "form": form or {},
            "error": error,
            "notice": notice,
            **page_context(params, total, q=q.strip()),
        },
        status_code=status,
    )


@router.get("/catalog/elements", response_class=HTMLResponse)
def element_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    params: Annotated[PageParams, Depends()],
    q: Annotated[str, Query(max_length=64)] = "",
    done: str = "",
) -> Response:
    notices = {"created": "数据元已登记。", "source": "权威来源部门已变更。"}
    return _elements_page(request, db, actor, params, q, notice=notices.get(done))


@router.post("/catalog/elements", response_class=HTMLResponse)
def element_create(
    request: Request,
    actor: CurrentActor,
    db: DB,
    code: Annotated[str, Form(max_length=64)] = "",
    name: Annotated[str, Form(max_length=128)] = "",
    definition: Annotated[str, Form(max_length=1000)] = "",
    data_type: Annotated[str, Form(max_length=2)] = "",
    length: Annotated[str, Form(max_length=8)] = "",
    standard: Annotated[str, Form(max_length=256)] = "",
    source_org_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    form = {
        "code": code,
        "name": name,
        "definition": definition,
        "data_type": data_type,
        "length": length,
        "standard": standard,
        "source_org_id": source_org_id,
    }
    try:
        data = DataElementIn.model_validate(
            {
                **form,
                "code": code.strip().upper(),
                "length": parse_int(length),
                "standard": optional(standard),
                "source_org_id": parse_int(source_org_id),
            }
        )
        with db.begin_nested():
            elements.create_element(db, actor=actor, data=data)
    except FIXABLE as exc:
        message, status = refusal(exc, ELEMENT_FIELDS)
        return _elements_page(request, db, actor, PageParams(), "", error=message, form=form, status=status)
    return see_other("/catalog/elements?done=created")


@router.post("/catalog/elements/{element_id}/source", response_class=HTMLResponse)
def element_source(
    element_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    version: Annotated[int, Form()],
    source_org_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    try:
        with db.begin_nested():
            elements.set_source(
                db,
                actor=actor,
                element_id=element_id,
                source_org_id=parse_int(source_org_id),
                version=version,
            )
    except FIXABLE as exc:
        message, status = refusal(exc, ELEMENT_FIELDS)
        return _elements_page(request, db, actor, PageParams(), "", error=message, status=status)
    return see_other("/catalog/elements?done=source")


# --- 一数一源 conflicts ---------------------------------------------------------------------------


def _conflict_rows(db: Session, conflicts: list[ElementConflict]) -> list[dict[str, Any]]:
    lookup = present.Lookup(db)
    rows = []
    for c in conflicts:
        element = db.get(DataElement, c.element_id)
        resource = db.get(Resource, c.resource_id)
        rows.append(
            {
                "conflict": c,
                "element": element,
                "resource": resource,
                "claimant": lookup.org(c.claimant_org_id),
                "owner": lookup.org(c.owner_org_id),
                "status_label": ConflictStatus(c.status).label,
            }
        )
    return rows


@router.get("/catalog/conflicts", response_class=HTMLResponse)
def conflict_list(
    request: Request, actor: CurrentActor, db: DB, status: Annotated[str, Query(max_length=16)] = ""
) -> Response:
    chosen = parse_enum(ConflictStatus, status)
    rows = _conflict_rows(db, elements.list_conflicts(db, actor=actor, status=chosen))
    return render(
        request,
        "catalog/review_conflicts.html",
        {"rows": rows, "statuses": ConflictStatus.choices(), "status": status},
    )


def _conflict_page(
    request: Request,
    db: Session,
    actor: Actor,
    conflict_id: int,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    conflict = elements.get_conflict(db, actor=actor, conflict_id=conflict_id)
    (row,) = _conflict_rows(db, [conflict])
    item = None
    version = db.get(ResourceVersion, conflict.version_id)
    if version is not None:
        item = next((i for i in version.items if i.get("name") == conflict.item_name), None)
    current = db.get(Organisation, row["element"].source_org_id) if row["element"].source_org_id else None
    return render(
        request,
        "catalog/review_conflict.html",
        {
            "row": row,
            "item": item,
            "version": version,
            "current_owner": current,
            "form": form or {},
            "error": error,
            "notice": notice,
        },
        status_code=status,
    )


@router.get("/catalog/conflicts/{conflict_id}", response_class=HTMLResponse)
def conflict_detail(
    conflict_id: int, request: Request, actor: CurrentActor, db: DB, done: str = ""
) -> Response:
    notice = "冲突已处理。" if done == "resolved" else None
    return _conflict_page(request, db, actor, conflict_id, notice=notice)


@router.post("/catalog/conflicts/{conflict_id}", response_class=HTMLResponse)
def conflict_resolve(
    conflict_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    resolution: Annotated[str, Form(max_length=16)] = "",
    comment: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    form = {"resolution": resolution, "comment": comment}
    try:
        data = ConflictDecision.model_validate(form)
        with db.begin_nested():
            elements.resolve(db, actor=actor, conflict_id=conflict_id, data=data)
    except FIXABLE as exc:
        fields = {
            "resolution": ("处理决定", "请选择维持或改由申报单位"),
            "comment": ("处理意见", "应为 2–500 个字符"),
        }
        message, status = refusal(exc, fields)
        return _conflict_page(request, db, actor, conflict_id, error=message, form=form, status=status)
    return see_other(f"/catalog/conflicts/{conflict_id}?done=resolved")
