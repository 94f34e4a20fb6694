"""The backups page (/admin/backups): the Bureau's policy, a button for a backup now, and every
backup, drill and restore with its evidence. Restores happen on the server (`govshare restore`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, allowed, require
from govshare.backup import service
from govshare.errors import Invalid
from govshare.pagination import PageParams, page_count
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import see_other
from govshare.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
NOTICES = {
    "saved": "备份策略已保存。",
    "requested": "已提交立即备份，调度程序将在一两分钟内开始，完成后显示在下方记录中。",
}


def _page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    page: int = 1,
    kind: str = "",
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    params = PageParams(page=page, page_size=PAGE_SIZE)
    rows, total = service.runs(db, actor, params, kind=kind or None)
    policy = service.policy(db)
    return render(
        request,
        "backup/backups.html",
        {
            "policy": form or service.policy_values(policy),
            "requested_at": policy.requested_at,
            "runs": rows,
            "total": total,
            "page": page,
            "pages": page_count(total, PAGE_SIZE),
            "base": f"kind={kind}&" if kind else "",
            "kind": kind,
            "manage": allowed(actor, Action.backup_manage),
            "scopes": service.SCOPE_LABELS,
            "kinds": service.KIND_LABELS,
            "statuses": service.STATUS_LABELS,
            "notice": notice,
            "error": error,
        },
        status_code=status,
    )


@router.get("/admin/backups", response_class=HTMLResponse)
def backups_page(
    request: Request,
    actor: CurrentActor,
    db: DB,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    kind: Annotated[str, Query(max_length=16)] = "",
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    require(actor, Action.backup_view)
    return _page(
        request,
        db,
        actor,
        page=page,
        kind=kind if kind in service.KIND_LABELS else "",
        notice=NOTICES.get(done),
    )


@router.post("/admin/backups/policy", response_class=HTMLResponse)
def save_policy(
    request: Request,
    actor: CurrentActor,
    db: DB,
    scope: Annotated[str, Form(max_length=16)] = "full",
    every_hours: Annotated[str, Form(max_length=6)] = "",
    keep_days: Annotated[str, Form(max_length=6)] = "",
    keep_min: Annotated[str, Form(max_length=6)] = "",
    drill_every_days: Annotated[str, Form(max_length=6)] = "",
    enabled: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    require(actor, Action.backup_manage)
    form = {
        "enabled": enabled == "1",
        "scope": scope,
        "every_hours": every_hours,
        "keep_days": keep_days,
        "keep_min": keep_min,
        "drill_every_days": drill_every_days,
    }
    numbers = [every_hours, keep_days, keep_min, drill_every_days]
    try:
        if not all(n.strip().isdecimal() for n in numbers):
            raise Invalid("间隔、保留天数和份数都应填写正整数", "numbers expected")
        change = service.PolicyChange(
            enabled=enabled == "1",
            scope=scope,
            every_hours=int(every_hours),
            keep_days=int(keep_days),
            keep_min=int(keep_min),
            drill_every_days=int(drill_every_days),
        )
        with db.begin_nested():
            service.update_policy(db, actor, change)
    except Invalid as exc:
        return _page(request, db, actor, error=exc.message, form=form, status=422)
    return see_other("/admin/backups?done=saved")


@router.post("/admin/backups/request", response_class=HTMLResponse)
def request_now(actor: CurrentActor, db: DB) -> Response:
    service.request_backup(db, actor)
    return see_other("/admin/backups?done=requested")
