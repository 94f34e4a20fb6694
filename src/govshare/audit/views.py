"""Audit log pages: the auditor's search with a per-day chart, and the chain verification.

Dates in the search form are calendar days in Beijing time; "to" includes the whole day. Every
search is itself audited by the service; the chart is counted before the search so that the
search's own event does not make the chart and the table disagree.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from govshare.audit import service
from govshare.audit.events import EVENT_LABELS, EventType
from govshare.authz import Action
from govshare.errors import Invalid
from govshare.orgs import service as orgs
from govshare.pagination import PageParams
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import page_context, parse_int
from govshare.web.templating import render
from govshare.workdays import BEIJING, plausible

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# Filling the days without events makes gaps visible; beyond a year the bars would be unreadable.
MAX_FILLED_DAYS = 400

OUTCOME_LABELS = {"success": "成功", "failure": "失败", "denied": "拒绝", "warning": "告警"}
OBJECT_TYPE_LABELS = {
    "organisations": "单位",
    "users": "人员",
    "staff_registrations": "人员备案",
    "business_systems": "业务系统",
    "login_sessions": "登录会话",
}
PROBLEM_LABELS = {
    "hash": "内容在写入后被修改",
    "link": "与前一条事件的链接不符",
    "gap": "事件缺失（序号不连续）",
    "order": "事件顺序错乱",
    "checkpoint_key": "检查点不是由平台密钥签名",
    "checkpoint_signature": "检查点签名无效",
    "checkpoint_mismatch": "已签名检查点之前的事件被修改",
    "head": "链尾与记录的链尾不一致（事件被截断或追加）",
}


def _day(value: str, label: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return plausible(date.fromisoformat(value), field=label, label=label)
    except ValueError:
        errors.append(f"{label}“{value}”不是有效日期，请按 年-月-日 填写（例如 2026-11-26）。")
    except Invalid as exc:
        errors.append(exc.message)
    return None


def _beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BEIJING)


def chart_json(counts: list[tuple[str, int]]) -> str:
    """The ECharts option for events per day, safe to place inside a `<script>` element."""
    by_day = dict(counts)
    days = list(by_day)
    if days:
        first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
        span = (last - first).days
        if span <= MAX_FILLED_DAYS:
            days = [(first + timedelta(days=i)).isoformat() for i in range(span + 1)]
    option = {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 48, "right": 16, "top": 24, "bottom": 32},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": "事件数",
                "type": "bar",
                "data": [by_day.get(d, 0) for d in days],
                "itemStyle": {"color": "#b71c1c"},
                "barMaxWidth": 48,
            }
        ],
    }
    # "\u003c" is still valid JSON but can never close the script element or open a comment in it.
    return json.dumps(option, ensure_ascii=False).replace("<", "\\u003c")


@router.get("/audit", response_class=HTMLResponse)
def audit_search(
    request: Request,
    actor: CurrentActor,
    db: DB,
    actor_name: Annotated[str, Query(max_length=128)] = "",
    org_id: Annotated[str, Query(max_length=12)] = "",
    event_type: Annotated[str, Query(max_length=64)] = "",
    object_type: Annotated[str, Query(max_length=64)] = "",
    object_id: Annotated[str, Query(max_length=64)] = "",
    outcome: Annotated[str, Query(max_length=16)] = "",
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    org = parse_int(org_id)
    form = {
        "actor_name": actor_name.strip(),
        "org_id": "" if org is None else str(org),
        "event_type": event_type,
        "object_type": object_type.strip(),
        "object_id": object_id.strip(),
        "outcome": outcome,
        "date_from": date_from,
        "date_to": date_to,
    }
    errors: list[str] = []
    since = _day(date_from, "开始日期", errors)
    until = _day(date_to, "结束日期", errors)
    query = service.AuditQuery(
        actor=form["actor_name"] or None,
        org_id=org,
        event_type=event_type or None,
        object_type=form["object_type"] or None,
        object_id=form["object_id"] or None,
        outcome=outcome or None,
        since=_beijing_midnight(since) if since else None,
        until=_beijing_midnight(until + timedelta(days=1)) if until else None,
    )
    counts = service.daily_counts(db, actor=actor, query=query)
    rows, total = service.search(db, actor=actor, query=query, page=page, page_size=PAGE_SIZE)
    # A security officer reads only their own department's events: offer only that one. Events
    # outlive their organisation, so deactivated ones stay.
    org_choices = orgs.choices(db, actor=actor, action=Action.audit_read, active_only=False)
    return render(
        request,
        "audit/search.html",
        {
            "events": rows,
            **page_context(PageParams(page=page, page_size=PAGE_SIZE), total, **form),
            "form": form,
            "errors": errors,
            "chart": chart_json(counts),
            "chart_total": sum(n for _, n in counts),
            "orgs": org_choices,
            "org_names": {o.id: o.short_name for o in org_choices},
            "event_types": [(e.value, EVENT_LABELS.get(e, e.value)) for e in EventType],
            "event_labels": {e.value: EVENT_LABELS.get(e, e.value) for e in EventType},
            "outcomes": OUTCOME_LABELS,
            "object_types": OBJECT_TYPE_LABELS,
        },
    )


@router.post("/audit/verify", response_class=HTMLResponse)
def audit_verify(request: Request, actor: CurrentActor, db: DB) -> Response:
    """Recompute the chain; HTMX gets the result fragment, a plain form post the full page."""
    report = service.run_verification(db, actor=actor)
    template = "audit/_verify_result.html" if "hx-request" in request.headers else "audit/verify.html"
    return render(request, template, {"report": report, "problem_labels": PROBLEM_LABELS})
