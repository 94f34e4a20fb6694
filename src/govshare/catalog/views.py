"""Catalog pages for every logged-in person: search and browse with facet counts, an entry's metadata,
items, versions and how its data is obtained; for departments, compiling and changing entries (with an
items editor), the 保密审查 record (M20), submission, retirement and discarding a draft.

The Bureau's pages (review, classes, elements, supervision) live in `views_bureau` and the spreadsheet
and DCAT exchange in `views_exchange`; both are routed before this module, so their fixed paths under
/catalog/ win over /catalog/{resource_id}. How the form fields become metadata is in `catalog.forms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.catalog import classes, disclosure, elements, forms, present, service
from govshare.catalog.models import Resource, ResourceVersion
from govshare.catalog.schemas import ResourceCreate, ResourceUpdate, RetireRequest, SecrecyReview
from govshare.catalog.search import Filters, search
from govshare.catalog.vocab import (
    ChangeKind,
    ClassKind,
    DataType,
    EntryStatus,
    Importance,
    LegalBasisKind,
    OpenType,
    ProvisionMethod,
    ResourceFormat,
    SecrecyConclusion,
    Sensitivity,
    SharingType,
    UpdateCycle,
    VersionState,
)
from govshare.errors import Conflict, DomainError, Invalid
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.sharing import views as sharing
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, is_stale, optional, page_context, parse_int, see_other
from govshare.web.templating import render
from govshare.workdays import today

router = APIRouter(include_in_schema=False)

NOTICES = {
    "created": "目录已保存为草稿。登记保密审查后即可报送审核。",
    "updated": "修改已保存。内容有变化时，须重新登记保密审查后再报送。",
    "changed": "已形成变更版本。审核通过前，其他部门看到的仍是现行版本。",
    "secrecy": "保密审查已登记。",
    "submitted": "已报送市数据资源管理局审核。",
    "retire": "撤销申请已报送审核；审核通过前，目录仍然有效。",
    "discarded": "已放弃正在编制的版本。",
}

# (query parameter, title, key in the search result's facets)
FACETS = [
    ("class_kind", "资源类别", "class_kind"),
    ("category", "资源分类", "category"),
    ("provider", "提供部门", "org_id"),
    ("sharing_type", "共享类型", "sharing_type"),
    ("open_type", "开放类型", "open_type"),
    ("format", "资源格式", "format"),
    ("update_cycle", "更新周期", "update_cycle"),
    ("status", "目录状态", "status"),
]

VOCABULARIES = {
    "formats": ResourceFormat.choices(),
    "methods": ProvisionMethod.choices(),
    "sharing_types": SharingType.choices(),
    "open_types": OpenType.choices(),
    "cycles": UpdateCycle.choices(),
    "basis_kinds": LegalBasisKind.choices(),
    "data_types": DataType.choices(),
    "sensitivities": Sensitivity.choices(),
    "importances": Importance.choices(),
    "conclusions": SecrecyConclusion.choices(),
    "state_labels": dict(VersionState.choices()),
    "change_labels": dict(ChangeKind.choices()),
}


# --- search and browse ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FacetOption:
    label: str
    count: int
    href: str
    selected: bool


@dataclass(frozen=True)
class Facet:
    param: str
    title: str
    options: list[FacetOption]
    clear: str | None  # the link that drops this facet's filter, when it is set


def _href(chosen: dict[str, str], **change: str) -> str:
    """/catalog with the chosen filters, some changed; a changed filter starts again at page 1."""
    kept = {k: v for k, v in {**chosen, **change}.items() if v}
    return "/catalog" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/catalog", response_class=HTMLResponse)
def catalog_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    filters: Annotated[Filters, Depends(forms.list_filters)],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    chosen = forms.chosen_filters(filters)
    params = PageParams(page=page)
    result = search(db, actor=actor, filters=filters, params=params, facets=True)
    facets = [
        Facet(
            param=param,
            title=title,
            options=[
                FacetOption(label, count, _href(chosen, **{param: value}), chosen[param] == value)
                for value, label, count in result.facets.get(key, [])
            ],
            clear=_href(chosen, **{param: ""}) if chosen[param] else None,
        )
        for param, title, key in FACETS
    ]
    return render(
        request,
        "catalog/list.html",
        {
            "entries": present.summaries(db, result.rows),
            "facets": facets,
            "chosen": chosen,
            "filtered": any(chosen.values()),
            # The exports take the list's query string and give every page of what it shows.
            "export_query": _href(chosen).removeprefix("/catalog"),
            **page_context(params, result.total, **chosen),
        },
    )


# --- compiling and editing -----------------------------------------------------------------------


def _class_groups(db: Session, org_id: int | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The active sub-classes department `org_id` may file entries under, by class (M15(3)(4))."""
    usable = [
        c for c in classes.list_classes(db) if c.parent_id is not None and c.lead_org_id in (None, org_id)
    ]
    return [
        (kind.label, [(c.code, f"{c.code} {c.name}") for c in usable if c.kind == kind.value])
        for kind in ClassKind
    ]


def _entry_form(
    request: Request,
    db: Session,
    *,
    org_id: int | None,
    form: forms.EntryForm,
    resource: Resource | None = None,
    change: bool = False,
    comments: dict[str, str] | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    rows = form.rows() or [forms.ItemRow(row="0")]
    return render(
        request,
        "catalog/form.html",
        {
            "resource": resource,
            "form": form,
            "rows": rows,
            "next_row": forms.next_row(rows),
            "blank_row": forms.ItemRow(row=""),
            "change": change,
            "comments": comments or {},
            "class_groups": _class_groups(db, org_id),
            "elements": elements.all_elements(db),
            "error": error,
            "errors": errors or {},
            "stale": stale,
            **VOCABULARIES,
        },
        status_code=status,
    )


@router.get("/catalog/new", response_class=HTMLResponse)
def entry_new(request: Request, actor: CurrentActor, db: DB) -> Response:
    # Nothing is written here, so no service guards the page: refuse it to people who could not submit it.
    require(actor, Action.catalog_compile)
    return _entry_form(request, db, org_id=actor.org_id, form=forms.EntryForm())


@router.post("/catalog", response_class=HTMLResponse)
def entry_create(
    request: Request, actor: CurrentActor, db: DB, form: Annotated[forms.EntryForm, Form()]
) -> Response:
    require(actor, Action.catalog_compile)  # before the form is judged: it could not be saved anyway
    try:
        # The savepoint undoes whatever the service flushed before it refused, because returning the
        # form (instead of raising) lets the request's unit of work commit.
        with db.begin_nested():
            data = ResourceCreate.model_validate(form.metadata(forms.related_ids(db, form.related)))
            resource = service.create_resource(db, actor=actor, data=data)
    except FIXABLE as exc:
        error, errors, status = forms.refusal(exc, forms.ENTRY_FIELDS)
        return _entry_form(
            request, db, org_id=actor.org_id, form=form, error=error, errors=errors, status=status
        )
    return see_other(f"/catalog/{resource.id}?done=created")


def _editable(db: Session, actor: Actor, resource: Resource) -> ResourceVersion | None:
    """The working version the edit form changes, or None when the edit opens a change of the
    published version; raises what the service would for an entry that cannot be edited now."""
    require(actor, Action.catalog_compile, resource)
    if resource.status == EntryStatus.retired.value:
        raise Invalid("已撤销的目录条目不能再修改。", "The entry is retired.")
    working = service.working_version(db, actor=actor, resource=resource)
    if working is not None and (
        working.state not in service.EDITABLE or working.change_kind == ChangeKind.retire.value
    ):
        raise Conflict("该条目有正在审核的版本，审核结束前不能修改。", "The working version is under review.")
    return working


@router.get("/catalog/{resource_id}/edit", response_class=HTMLResponse)
def entry_edit(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    working = _editable(db, actor, resource)
    version = working or service.shown_version(db, resource)
    form = forms.EntryForm.of(
        present.version_out(
            version, present.Lookup(db), disclosure.for_actor(db, actor=actor, resource=resource)
        ),
        lock_version=resource.lock_version,
        change_reason=(working.change_reason if working else None) or "",
    )
    return _entry_form(
        request,
        db,
        org_id=resource.org_id,
        form=form,
        resource=resource,
        change=resource.published_version_id is not None,
        comments=dict(working.field_comments or {}) if working else None,
    )


@router.post("/catalog/{resource_id}/edit", response_class=HTMLResponse)
def entry_update(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    form: Annotated[forms.EntryForm, Form()],
) -> Response:
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    require(actor, Action.catalog_compile, resource)  # see entry_create
    was_published = resource.published_version_id is not None
    try:
        with db.begin_nested():  # see entry_create
            data = ResourceUpdate.model_validate(
                {
                    **form.metadata(forms.related_ids(db, form.related)),
                    "lock_version": form.lock_version.strip() or None,
                    "change_reason": optional(form.change_reason),
                }
            )
            service.update_resource(db, actor=actor, resource_id=resource.id, data=data)
    except FIXABLE as exc:
        error, errors, status = forms.refusal(exc, forms.ENTRY_FIELDS)
        db.refresh(resource)
        working = service.working_version(db, actor=actor, resource=resource)
        return _entry_form(
            request,
            db,
            org_id=resource.org_id,
            form=form,
            resource=resource,
            change=was_published,
            comments=dict(working.field_comments or {}) if working else None,
            error=error,
            errors=errors,
            stale=is_stale(exc),
            status=status,
        )
    return see_other(f"/catalog/{resource.id}?done={'changed' if was_published else 'updated'}")


# --- an entry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actions:
    """What `actor` may do with the entry now (the services check again)."""

    edit: str | None  # the button's label, or None
    secrecy: bool
    submit: bool
    retire: bool
    discard: str | None
    review: bool


def _actions(actor: Actor, resource: Resource, working: ResourceVersion | None) -> Actions:
    retired = resource.status == EntryStatus.retired.value
    published = resource.published_version_id is not None
    editable = (
        working is not None
        and working.state in service.EDITABLE
        and working.change_kind != ChangeKind.retire.value
    )
    compile_ = allowed(actor, Action.catalog_compile, resource) and not retired
    edit = None
    if compile_ and editable:
        edit = "编辑"
    elif compile_ and published and working is None:
        edit = "变更目录"
    return Actions(
        edit=edit,
        secrecy=editable and allowed(actor, Action.catalog_secrecy, resource),
        submit=editable and allowed(actor, Action.catalog_submit, resource),
        retire=published
        and not retired
        and working is None
        and allowed(actor, Action.catalog_submit, resource),
        discard=(("放弃变更" if published else "放弃草稿") if compile_ and editable else None),
        review=working is not None
        and working.state == VersionState.submitted.value
        and allowed(actor, Action.catalog_review, resource),
    )


def _detail(
    request: Request,
    db: Session,
    actor: Actor,
    resource: Resource,
    *,
    notice: str | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    secrecy: dict[str, str] | None = None,
    reason: str = "",
    status: int = 200,
) -> Response:
    entry = present.detail(db, actor=actor, resource=resource)
    working = service.working_version(db, actor=actor, resource=resource)
    versions = service.list_versions(db, actor=actor, resource_id=resource.id)
    provider = db.get(Organisation, resource.org_id)
    return render(
        request,
        "catalog/detail.html",
        {
            "resource": resource,
            "entry": entry,
            "provider": provider,
            "versions": versions,
            "actions": _actions(actor, resource, working),
            "sharing": sharing.resource_panel(db, actor, resource),
            "element_names": forms.element_names(db, {i.element for i in entry.items if i.element}),
            "comment_rows": forms.comment_rows(entry.working) if entry.working else [],
            # Same number: the entry has never been published and shows its working version.
            "working_apart": entry.working is not None and entry.working.number != entry.version,
            "diff_from": next((v.number for v in versions if v.id == resource.published_version_id), None),
            "secrecy": secrecy
            or {"reviewer": "", "reviewed_on": today().isoformat(), "conclusion": "", "opinion": ""},
            "today": today().isoformat(),
            "reason": reason,
            "notice": notice,
            "error": error,
            "errors": errors or {},
            **VOCABULARIES,
        },
        status_code=status,
    )


@router.get("/catalog/{resource_id}", response_class=HTMLResponse)
def entry_detail(resource_id: int, request: Request, actor: CurrentActor, db: DB, done: str = "") -> Response:
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    return _detail(request, db, actor, resource, notice=NOTICES.get(done))


def _refused(
    request: Request,
    db: Session,
    actor: Actor,
    resource_id: int,
    exc: ValidationError | DomainError,
    *,
    fields: forms.Fields = forms.RETIRE_FIELDS,
    secrecy: dict[str, str] | None = None,
    reason: str = "",
) -> Response:
    """The entry page again, saying why the action was refused (a refusal the person can fix), with
    what the person typed into the 保密审查 or retirement form."""
    error, errors, status = forms.refusal(exc, fields)
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    return _detail(
        request,
        db,
        actor,
        resource,
        error=error,
        errors=errors,
        secrecy=secrecy,
        reason=reason,
        status=status,
    )


@router.post("/catalog/{resource_id}/secrecy", response_class=HTMLResponse)
def entry_secrecy(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reviewer: Annotated[str, Form(max_length=200)] = "",
    reviewed_on: Annotated[str, Form(max_length=20)] = "",
    conclusion: Annotated[str, Form(max_length=16)] = "",
    opinion: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record the 保密审查 of the working version (M20)."""
    typed = {"reviewer": reviewer, "reviewed_on": reviewed_on, "conclusion": conclusion, "opinion": opinion}
    try:
        data = SecrecyReview.model_validate(
            {**typed, "reviewed_on": optional(reviewed_on), "opinion": optional(opinion)}
        )
        with db.begin_nested():  # see entry_create
            service.record_secrecy(db, actor=actor, resource_id=resource_id, data=data)
    except FIXABLE as exc:
        return _refused(request, db, actor, resource_id, exc, fields=forms.SECRECY_FIELDS, secrecy=typed)
    return see_other(f"/catalog/{resource_id}?done=secrecy")


@router.post("/catalog/{resource_id}/submit", response_class=HTMLResponse)
def entry_submit(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    try:
        with db.begin_nested():  # see entry_create
            service.submit(db, actor=actor, resource_id=resource_id)
    except FIXABLE as exc:
        return _refused(request, db, actor, resource_id, exc)
    return see_other(f"/catalog/{resource_id}?done=submitted")


@router.post("/catalog/{resource_id}/retire", response_class=HTMLResponse)
def entry_retire(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Ask the Bureau to retire a published entry; it stays published until approved."""
    try:
        data = RetireRequest.model_validate({"reason": reason})
        with db.begin_nested():  # see entry_create
            service.retire(db, actor=actor, resource_id=resource_id, reason=data.reason)
    except FIXABLE as exc:
        return _refused(request, db, actor, resource_id, exc, reason=reason)
    return see_other(f"/catalog/{resource_id}?done=retire")


@router.post("/catalog/{resource_id}/discard", response_class=HTMLResponse)
def entry_discard(resource_id: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    try:
        with db.begin_nested():  # see entry_create
            service.discard(db, actor=actor, resource_id=resource_id)
    except FIXABLE as exc:
        return _refused(request, db, actor, resource_id, exc)
    return see_other(f"/catalog/{resource_id}?done=discarded")


# --- versions and differences --------------------------------------------------------------------


@router.get("/catalog/{resource_id}/versions/{number}", response_class=HTMLResponse)
def version_detail(resource_id: int, number: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    version = service.get_version(db, actor=actor, resource_id=resource.id, number=number)
    out = present.version_out(
        version, present.Lookup(db), disclosure.for_actor(db, actor=actor, resource=resource)
    )
    return render(
        request,
        "catalog/version.html",
        {
            "resource": resource,
            "version": out,
            "provider": db.get(Organisation, resource.org_id),
            "versions": service.list_versions(db, actor=actor, resource_id=resource.id),
            "element_names": forms.element_names(db, {i.element for i in out.items if i.element}),
            "comment_rows": forms.comment_rows(out),
        },
    )


@router.get("/catalog/{resource_id}/diff", response_class=HTMLResponse)
def version_diff(
    resource_id: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    from_version: Annotated[str, Query(alias="from", max_length=6)] = "",
    to_version: Annotated[str, Query(alias="to", max_length=6)] = "",
) -> Response:
    """Field by field, what changed from one version to another (by default: the latest change)."""
    resource = service.get_resource(db, actor=actor, resource_id=resource_id)
    numbers = [v.number for v in service.list_versions(db, actor=actor, resource_id=resource.id)]
    to = parse_int(to_version) or numbers[0]
    before = parse_int(from_version) or next((n for n in numbers if n < to), to)
    changes = service.diff_versions(db, actor=actor, resource_id=resource.id, a=before, b=to)
    return render(
        request,
        "catalog/diff.html",
        {
            "resource": resource,
            "numbers": numbers,
            "from_number": before,
            "to_number": to,
            "rows": [forms.change_row(c) for c in changes],
        },
    )
