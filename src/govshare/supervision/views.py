"""Supervision pages: the dashboard (Bureau: every department; a department's data administrator: its
own), a department's drill-down to the records behind each figure, and the public reports — their
archive and each report as a page, PDF and CSV, open to everyone (M23)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from govshare.authz import Action, allowed
from govshare.errors import Invalid
from govshare.pagination import PageParams
from govshare.rectification import service as rectification
from govshare.supervision import drilldown, indicators, reports
from govshare.supervision.models import PublicReport
from govshare.supervision.periods import Period, last_months
from govshare.web.deps import DB, CurrentActor, public
from govshare.web.forms import see_other
from govshare.web.templating import render
from govshare.workdays import today

router = APIRouter(include_in_schema=False)

RATES = (
    ("attach_rate", "挂接率", "#1565c0"),
    ("on_time_rate", "按时更新率", "#2e7d32"),
    ("in_time_rate", "按时答复率", "#ef6c00"),
)


def _period_choices(current: Period) -> list[Period]:
    """The last twelve months and the last four quarters, newest first."""
    months = last_months(12)[::-1]
    quarters = [Period.containing(today(), "quarter")]
    while len(quarters) < 4:
        quarters.append(quarters[-1].previous())
    choices = [*months, *quarters]
    return choices if current in choices else [current, *choices]


def _rates_chart(rows: list[indicators.Indicators]) -> dict[str, Any]:
    """ECharts option: the three rates of each department side by side (no bar: no business)."""
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}, "valueFormatter": None},
        "legend": {"top": 0},
        "grid": {"left": 110, "right": 24, "top": 32, "bottom": 24},
        "xAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "yAxis": {
            "type": "category",
            "data": [r.short_name for r in rows],
            "inverse": True,
            "triggerEvent": True,
        },
        "series": [
            {"name": label, "type": "bar", "color": color, "data": [r.as_dict()[key] for r in rows]}
            for key, label, color in RATES
        ],
    }


def _use_chart(rows: list[indicators.Indicators]) -> dict[str, Any]:
    ranked = sorted((r for r in rows if r.calls), key=lambda r: r.calls, reverse=True)[:15]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 110, "right": 60, "top": 32, "bottom": 24},
        "xAxis": [{"type": "value", "name": "次", "minInterval": 1}],
        "yAxis": {
            "type": "category",
            "data": [r.short_name for r in ranked],
            "inverse": True,
            "triggerEvent": True,
        },
        "series": [
            {"name": "被调用次数", "type": "bar", "color": "#6a1b9a", "data": [r.calls for r in ranked]},
        ],
        "links_for": [(r.short_name, r.org_id) for r in ranked],
    }


def _trend_chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 56, "right": 56, "top": 40, "bottom": 32},
        "xAxis": {"type": "category", "data": [s["label"] for s in series]},
        "yAxis": [
            {"type": "value", "name": "次", "minInterval": 1},
            {"type": "value", "name": "%", "max": 100},
        ],
        "series": [
            {"name": "数据调用次数", "type": "bar", "color": "#90caf9", "data": [s["calls"] for s in series]},
            {
                "name": "按时答复率",
                "type": "line",
                "yAxisIndex": 1,
                "color": "#ef6c00",
                "connectNulls": True,
                "data": [s["in_time_rate"] for s in series],
            },
            {
                "name": "质量合格率",
                "type": "line",
                "yAxisIndex": 1,
                "color": "#2e7d32",
                "connectNulls": True,
                "data": [s["quality_rate"] for s in series],
            },
        ],
    }


def _drill(org_id: int, period: Period) -> str:
    return f"/supervision/departments/{org_id}?period={period.code}"


@router.get("/supervision", response_class=HTMLResponse)
def dashboard(request: Request, actor: CurrentActor, db: DB, period: str | None = None) -> Response:
    error = None
    try:
        chosen = Period.parse(period)
    except Invalid as exc:
        chosen, error = Period.parse(None), exc.message
    visible = indicators.visible_orgs(actor)
    city = indicators.compute(db, chosen, org_ids=visible)
    rows = city.departments
    use = _use_chart(rows)
    use_links = {name: _drill(org_id, chosen) for name, org_id in use.pop("links_for")}
    context: dict[str, Any] = {
        "period": chosen,
        "choices": _period_choices(chosen),
        "city": city,
        "rows": rows,
        "total": city.total,
        "columns": indicators.COLUMNS,
        "rates_chart": _rates_chart(rows),
        "rates_links": {r.short_name: _drill(r.org_id, chosen) for r in rows},
        "use_chart": use,
        "use_links": use_links,
        "trend_chart": _trend_chart(indicators.trend(db, last_months(12), org_ids=visible)),
        "error": error,
        "city_wide": visible is None,
        "drill": lambda org_id: _drill(org_id, chosen),
    }
    if allowed(actor, Action.rectification_view):
        # Violations and notices (M24) beside the figures, for those who may see them.
        context["rectification"] = {
            row["org_id"]: row
            for row in rectification.summary(db, org_id=None if visible is None else actor.org_id)
        }
    if allowed(actor, Action.report_publish):
        done = {(r.kind, r.period) for r in db.execute(select(PublicReport.kind, PublicReport.period))}
        context["publishable"] = [
            p for p in context["choices"] if p.complete() and (p.kind, p.code) not in done
        ]
    return render(request, "supervision/dashboard.html", context, status_code=400 if error else 200)


@router.get("/supervision/departments/{org_id}", response_class=HTMLResponse)
def department(
    org_id: int, request: Request, actor: CurrentActor, db: DB, period: str | None = None
) -> Response:
    chosen = Period.parse(period)
    found = drilldown.records(db, actor=actor, org_id=org_id, period=chosen)
    return render(
        request,
        "supervision/department.html",
        {
            "r": found,
            "f": found.figures,
            "period": chosen,
            "choices": _period_choices(chosen),
            "max_rows": drilldown.MAX_ROWS,
        },
    )


@router.post("/supervision/reports", response_class=HTMLResponse)
def publish(request: Request, actor: CurrentActor, db: DB, period: Annotated[str, Form()] = "") -> Response:
    """Publish a finished period's report now (the job does it within the hour anyway)."""
    generated = reports.generate(db, actor=actor, period=Period.parse(period or "-"), source="manual")
    return see_other(f"/open/reports/{generated.report.id}")


# --- public ----------------------------------------------------------------------------------------


@router.get("/open/reports", response_class=HTMLResponse)
@public
def public_reports(request: Request, db: DB, params: Annotated[PageParams, Depends()]) -> Response:
    rows, total = reports.published(db, params)
    return render(
        request, "supervision/public_reports.html", {"rows": rows, "total": total, "params": params}
    )


def _download(report: PublicReport, kind: str) -> Response:
    body, media = (
        (report.pdf, "application/pdf") if kind == "pdf" else (report.csv, "text/csv; charset=utf-8")
    )
    name = f"govshare-report-{report.period}.{kind}"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SM3": report.pdf_sm3 if kind == "pdf" else report.csv_sm3,
            "Cache-Control": "public, max-age=86400, immutable",
        },
    )


@router.get("/open/reports/{report_id}.pdf")
@public
def public_report_pdf(report_id: int, db: DB) -> Response:
    return _download(reports.get(db, report_id), "pdf")


@router.get("/open/reports/{report_id}.csv")
@public
def public_report_csv(report_id: int, db: DB) -> Response:
    return _download(reports.get(db, report_id), "csv")


@router.get("/open/reports/{report_id}", response_class=HTMLResponse)
@public
def public_report(report_id: int, request: Request, db: DB) -> Response:
    report = reports.get(db, report_id)
    return render(request, "supervision/public_report.html", {"report": report, "data": report.data})
