"""Pages of abuse detection and incident response: alerts (list, detail with evidence, handling),
the detection rules (the Bureau edits thresholds), incidents (list, new, detail with timeline,
containment buttons with confirmation, notes, closing)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.authz import Action, Actor, Scope, allowed, require, scope_of
from govshare.errors import Invalid
from govshare.orgs import service as orgs
from govshare.orgs.models import Organisation
from govshare.pagination import PageParams
from govshare.protection import alerts, containment, detection, incidents, rules
from govshare.protection.models import Alert, Incident
from govshare.systems.models import BusinessSystem
from govshare.users.models import User
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import FIXABLE, page_context, parse_int, refusal, see_other
from govshare.web.templating import beijing, render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "assigned": "已指派处置人。",
    "investigating": "已开始调查。",
    "closed": "已办结。",
    "created": "安全事件已登记。",
    "noted": "处置记录已追加到时间线。",
    "linked": "已关联告警。",
    "contained": "处置措施已生效，并记入时间线。",
    "lifted": "措施已撤销，已恢复原状态。",
    "rule": "规则已保存。",
    "scanned": "扫描完成。",
}


def _org_names(db: Session) -> dict[int, str]:
    return {org_id: name for org_id, name in db.execute(select(Organisation.id, Organisation.short_name))}


@router.get("/protection/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    status: Annotated[str, Query(max_length=16)] = "",
    rule: Annotated[str, Query(max_length=40)] = "",
    org_id: Annotated[str, Query(max_length=12)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    params = PageParams(page=page)
    where = alerts.AlertFilter(
        status=status if status in alerts.STATUS_LABELS else None,
        rule=rule if rule in rules.RULES else None,
        org_id=parse_int(org_id),
    )
    found, total = alerts.list_alerts(db, actor=actor, params=params, where=where)
    city = scope_of(actor, Action.alert_view) is Scope.city
    return render(
        request,
        "protection/alerts.html",
        {
            "alerts": found,
            "status": where.status or "",
            "rule": where.rule or "",
            "org_id": where.org_id,
            "orgs": orgs.choices(db, actor=actor, action=Action.org_view, active_only=False) if city else [],
            "org_names": _org_names(db),
            "rules": rules.RULES,
            "statuses": alerts.STATUS_LABELS,
            "severities": rules.SEVERITY_LABELS,
            "notice": NOTICES.get(done),
            **page_context(params, total, status=where.status, rule=where.rule, org_id=where.org_id),
        },
    )


def _alert_page(
    request: Request,
    db: Session,
    actor: Actor,
    alert: Alert,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    can_handle = allowed(actor, Action.alert_handle, alert)
    events = alerts.evidence(db, actor=actor, alert=alert)
    first, last = alert.window_start, alert.window_end
    audit_link = f"/audit?date_from={beijing(first, '%Y-%m-%d')}&date_to={beijing(last, '%Y-%m-%d')}"
    if alert.subject.startswith(("user:", "system:")) and events:
        audit_link += f"&actor_name={events[0].actor_name}"
    return render(
        request,
        "protection/alert.html",
        {
            "alert": alert,
            "rule": rules.RULES.get(alert.rule),
            "events": events,
            "handlers": alerts.handlers(db) if can_handle and alert.status != "closed" else [],
            "assignee": db.get(User, alert.assignee_id) if alert.assignee_id else None,
            "org_names": _org_names(db),
            "statuses": alerts.STATUS_LABELS,
            "severities": rules.SEVERITY_LABELS,
            "accountability": alerts.ACCOUNTABILITY,
            "audit_link": audit_link,
            "can_handle": can_handle,
            "notice": notice,
            "error": error,
        },
        status_code=status,
    )


@router.get("/protection/alerts/{alert_id}", response_class=HTMLResponse)
def alert_detail(
    request: Request,
    alert_id: int,
    actor: CurrentActor,
    db: DB,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    alert = alerts.get_alert(db, actor=actor, alert_id=alert_id)
    return _alert_page(request, db, actor, alert, notice=NOTICES.get(done))


def _alert_step(request: Request, db: Session, actor: Actor, alert_id: int, step: Any, done: str) -> Response:
    try:
        with db.begin_nested():  # a refusal leaves nothing half-done, and the page is shown again
            step()
    except FIXABLE as exc:
        error, code = refusal(exc, {})
        return _alert_page(
            request, db, actor, alerts.get_alert(db, actor=actor, alert_id=alert_id), error=error, status=code
        )
    return see_other(f"/protection/alerts/{alert_id}?done={done}")


@router.post("/protection/alerts/{alert_id}/assign", response_class=HTMLResponse)
def alert_assign(
    request: Request,
    alert_id: int,
    actor: CurrentActor,
    db: DB,
    assignee_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    def step() -> None:
        who = parse_int(assignee_id)
        if who is None:
            raise Invalid("请选择处置人。", "assignee_id is required.", details={"field": "assignee_id"})
        alerts.assign(db, actor=actor, alert_id=alert_id, assignee_id=who)

    return _alert_step(request, db, actor, alert_id, step, "assigned")


@router.post("/protection/alerts/{alert_id}/investigate", response_class=HTMLResponse)
def alert_investigate(request: Request, alert_id: int, actor: CurrentActor, db: DB) -> Response:
    return _alert_step(
        request,
        db,
        actor,
        alert_id,
        lambda: alerts.investigate(db, actor=actor, alert_id=alert_id),
        "investigating",
    )


@router.post("/protection/alerts/{alert_id}/close", response_class=HTMLResponse)
def alert_close(
    request: Request,
    alert_id: int,
    actor: CurrentActor,
    db: DB,
    conclusion: Annotated[str, Form(max_length=4000)] = "",
    accountability: Annotated[str, Form(max_length=24)] = "",
    responsible: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def step() -> None:
        alerts.close(
            db,
            actor=actor,
            alert_id=alert_id,
            conclusion=conclusion,
            accountability=accountability,
            responsible=responsible,
        )

    return _alert_step(request, db, actor, alert_id, step, "closed")


@router.get("/protection/rules", response_class=HTMLResponse)
def rule_list(
    request: Request, actor: CurrentActor, db: DB, done: Annotated[str, Query(max_length=16)] = ""
) -> Response:
    return _rules_page(request, db, actor, notice=NOTICES.get(done))


def _rules_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "protection/rules.html",
        {
            "rules": rules.list_rules(db, actor=actor),
            "state": detection.last_scan(db),
            "severities": rules.SEVERITY_LABELS,
            "notice": notice,
            "error": error,
        },
        status_code=status,
    )


@router.post("/protection/rules/{code}", response_class=HTMLResponse)
async def rule_save(code: str, request: Request, actor: CurrentActor, db: DB) -> Response:
    """Save one rule's form: `enabled`, `version` and one field per parameter."""
    require(actor, Action.rules_manage)
    form = await request.form()
    rule = rules.RULES.get(code)
    try:
        if rule is None:
            raise Invalid("找不到该告警规则。", "Unknown rule.")
        params: dict[str, int] = {}
        for p in rule.params:
            text = str(form.get(p.name, "")).strip()
            if not text.lstrip("-").isdecimal():
                raise Invalid(
                    f"{p.label}应为整数。", f"{p.name} must be an integer.", details={"field": p.name}
                )
            params[p.name] = int(text)
        version = parse_int(str(form.get("version", "")))
        with db.begin_nested():
            rules.update_rule(
                db, actor=actor, code=code, enabled=form.get("enabled") == "1", params=params, version=version
            )
    except FIXABLE as exc:
        error, status = refusal(exc, {})
        return _rules_page(
            request, db, actor, error=f"{rule.label if rule else code}：{error}", status=status
        )
    return see_other("/protection/rules?done=rule")


@router.post("/protection/scan", response_class=HTMLResponse)
def scan_now(request: Request, actor: CurrentActor, db: DB) -> Response:
    detection.run_scan(db, actor=actor)
    return see_other("/protection/alerts?done=scanned")


@router.get("/protection/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request,
    actor: CurrentActor,
    db: DB,
    status: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    params = PageParams(page=page)
    chosen = status if status in incidents.STATUS_LABELS else None
    found, total = incidents.list_incidents(db, actor=actor, params=params, status=chosen)
    return render(
        request,
        "protection/incidents.html",
        {
            "incidents": found,
            "status": chosen or "",
            "statuses": incidents.STATUS_LABELS,
            "severities": incidents.SEVERITY_LABELS,
            "org_names": _org_names(db),
            **page_context(params, total, status=chosen),
        },
    )


def _new_page(
    request: Request,
    db: Session,
    actor: Actor,
    form: dict[str, Any],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "protection/incident_new.html",
        {
            "form": form,
            "orgs": orgs.choices(db, actor=actor, action=Action.org_view, active_only=False),
            "severities": incidents.SEVERITY_LABELS,
            "error": error,
        },
        status_code=status,
    )


@router.get("/protection/incidents/new", response_class=HTMLResponse)
def incident_new(
    request: Request, actor: CurrentActor, db: DB, alert_id: Annotated[str, Query(max_length=12)] = ""
) -> Response:
    require(actor, Action.incident_manage)  # nothing is written here: refuse those who could not submit it
    form: dict[str, Any] = {"alert_ids": alert_id, "severity": "general", "org_ids": []}
    chosen = parse_int(alert_id)
    if chosen is not None:
        alert = alerts.get_alert(db, actor=actor, alert_id=chosen)
        form |= {
            "title": f"{rules.RULES[alert.rule].label}：{alert.subject_name}",
            "description": alert.summary,
        }
        form["org_ids"] = [alert.org_id] if alert.org_id else []
    return _new_page(request, db, actor, form)


def _ids(text: str, field: str) -> list[int]:
    parts = [p for p in text.replace("，", ",").replace("#", "").split(",") if p.strip()]
    if not all(p.strip().isdecimal() for p in parts):
        raise Invalid("告警编号应为数字，多个用逗号分隔。", "Bad alert ids.", details={"field": field})
    return [int(p) for p in parts]


@router.post("/protection/incidents/new", response_class=HTMLResponse)
async def incident_create(request: Request, actor: CurrentActor, db: DB) -> Response:
    form = await request.form()
    title = str(form.get("title", ""))[:200]
    severity = str(form.get("severity", ""))[:16]
    description = str(form.get("description", ""))[:8000]
    alert_ids = str(form.get("alert_ids", ""))[:2000]
    org_ids = [int(v) for v in form.getlist("org_ids") if isinstance(v, str) and v.isdecimal()]
    values: dict[str, Any] = {
        "title": title,
        "severity": severity,
        "description": description,
        "alert_ids": alert_ids,
        "org_ids": org_ids,
    }
    try:
        data = incidents.IncidentIn(
            title=title,
            severity=severity,
            description=description,
            alert_ids=_ids(alert_ids, "alert_ids"),
            affected_org_ids=org_ids,
        )
        with db.begin_nested():
            incident = incidents.create_incident(db, actor=actor, data=data)
    except FIXABLE as exc:
        error, status = refusal(exc, {})
        return _new_page(request, db, actor, values, error=error, status=status)
    return see_other(f"/protection/incidents/{incident.id}?done=created")


def _incident_page(
    request: Request,
    db: Session,
    actor: Actor,
    incident: Incident,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "protection/incident.html",
        {
            "incident": incident,
            "alerts": incidents.linked_alerts(db, incident),
            "containments": incidents.containments(db, incident),
            "timeline": incidents.timeline(db, incident),
            "org_names": _org_names(db),
            "orgs": orgs.choices(db, actor=actor, action=Action.org_view, active_only=False),
            "severities": incidents.SEVERITY_LABELS,
            "statuses": incidents.STATUS_LABELS,
            "timeline_labels": incidents.TIMELINE_LABELS,
            "kinds": containment.KIND_LABELS,
            "manage": allowed(actor, Action.incident_manage, incident),
            "notice": notice,
            "error": error,
        },
        status_code=status,
    )


@router.get("/protection/incidents/{incident_id}", response_class=HTMLResponse)
def incident_detail(
    request: Request,
    incident_id: int,
    actor: CurrentActor,
    db: DB,
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    incident = incidents.get_incident(db, actor=actor, incident_id=incident_id)
    return _incident_page(request, db, actor, incident, notice=NOTICES.get(done))


def _incident_step(
    request: Request, db: Session, actor: Actor, incident_id: int, step: Any, done: str
) -> Response:
    try:
        with db.begin_nested():
            step()
    except FIXABLE as exc:
        error, code = refusal(exc, {})
        incident = incidents.get_incident(db, actor=actor, incident_id=incident_id)
        return _incident_page(request, db, actor, incident, error=error, status=code)
    return see_other(f"/protection/incidents/{incident_id}?done={done}")


@router.post("/protection/incidents/{incident_id}/notes", response_class=HTMLResponse)
def incident_note(
    request: Request,
    incident_id: int,
    actor: CurrentActor,
    db: DB,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    return _incident_step(
        request,
        db,
        actor,
        incident_id,
        lambda: incidents.add_note(db, actor=actor, incident_id=incident_id, text=text),
        "noted",
    )


@router.post("/protection/incidents/{incident_id}/alerts", response_class=HTMLResponse)
def incident_link(
    request: Request,
    incident_id: int,
    actor: CurrentActor,
    db: DB,
    alert_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    def step() -> None:
        chosen = parse_int(alert_id)
        if chosen is None:
            raise Invalid("请填写告警编号。", "alert_id is required.", details={"field": "alert_id"})
        incidents.link_alert(db, actor=actor, incident_id=incident_id, alert_id=chosen)

    return _incident_step(request, db, actor, incident_id, step, "linked")


def _target(db: Session, kind: str, target: str) -> int:
    """The id of the containment's target from what the form names: a system code, a department
    (its id from the select) or a username."""
    text = target.strip()
    found: int | None
    if kind == "suspend_system":
        found = db.scalar(select(BusinessSystem.id).where(BusinessSystem.code == text))
        label = "业务系统编码"
    elif kind == "disable_person":
        found = db.scalar(select(User.id).where(User.username == text))
        label = "人员用户名"
    else:
        found = parse_int(text)
        label = "部门"
    if found is None:
        raise Invalid(f"找不到该{label}，请检查后重试。", "Unknown target.", details={"field": "target"})
    return found


@router.post("/protection/incidents/{incident_id}/containments", response_class=HTMLResponse)
def incident_contain(
    request: Request,
    incident_id: int,
    actor: CurrentActor,
    db: DB,
    kind: Annotated[str, Form(max_length=24)] = "",
    target: Annotated[str, Form(max_length=128)] = "",
    reason: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    def step() -> None:
        incident = incidents.get_incident(db, actor=actor, incident_id=incident_id)
        require(actor, Action.incident_manage, incident)  # before looking anything up by name
        containment.apply(
            db,
            actor=actor,
            incident_id=incident_id,
            kind=kind,
            target_id=_target(db, kind, target),
            reason=reason,
        )

    return _incident_step(request, db, actor, incident_id, step, "contained")


@router.post(
    "/protection/incidents/{incident_id}/containments/{containment_id}/lift", response_class=HTMLResponse
)
def incident_lift(
    request: Request,
    incident_id: int,
    containment_id: int,
    actor: CurrentActor,
    db: DB,
    note: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    return _incident_step(
        request,
        db,
        actor,
        incident_id,
        lambda: containment.lift(
            db, actor=actor, incident_id=incident_id, containment_id=containment_id, note=note
        ),
        "lifted",
    )


@router.post("/protection/incidents/{incident_id}/close", response_class=HTMLResponse)
def incident_close(
    request: Request,
    incident_id: int,
    actor: CurrentActor,
    db: DB,
    conclusion: Annotated[str, Form(max_length=8000)] = "",
) -> Response:
    return _incident_step(
        request,
        db,
        actor,
        incident_id,
        lambda: incidents.close_incident(db, actor=actor, incident_id=incident_id, conclusion=conclusion),
        "closed",
    )
