"""Supervision over the API: indicators (Bureau roles: every department; a department's data
administrator: its own), their trend, publishing a report, and the public reports (no token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from govshare.pagination import Page, PageParams, page_of
from govshare.supervision import indicators, reports
from govshare.supervision.periods import Period, last_months
from govshare.supervision.schemas import (
    DepartmentIndicators,
    IndicatorsOut,
    PublishIn,
    ReportDetail,
    ReportOut,
    TrendOut,
    TrendPoint,
)
from govshare.web.deps import DB, CurrentActor, public

router = APIRouter(prefix="/api/v1", tags=["supervision"])


@router.get("/supervision/indicators", response_model=IndicatorsOut)
def get_indicators(
    actor: CurrentActor,
    db: DB,
    period: Annotated[str | None, Query(description="2026-10 or 2026-Q3; default: this month")] = None,
) -> IndicatorsOut:
    """One entry per department the caller may supervise, with its indicators for the period."""
    city = indicators.for_actor(db, actor=actor, period=Period.parse(period))
    return IndicatorsOut(
        period=city.period.code,
        label=city.period.label,
        as_of=city.as_of,
        items=[DepartmentIndicators(**d.as_dict()) for d in city.departments],
        total=DepartmentIndicators(**city.total.as_dict()),
    )


@router.get("/supervision/trend", response_model=TrendOut)
def get_trend(actor: CurrentActor, db: DB, months: Annotated[int, Query(ge=1, le=36)] = 12) -> TrendOut:
    """Monthly totals of the departments the caller may supervise, oldest first."""
    visible = indicators.visible_orgs(actor)
    series = indicators.trend(db, last_months(months), org_ids=visible)
    return TrendOut(items=[TrendPoint(**point) for point in series])


@router.post("/supervision/reports", response_model=ReportOut, status_code=status.HTTP_201_CREATED)
def publish_report(data: PublishIn, actor: CurrentActor, db: DB, response: Response) -> ReportOut:
    """Publish a finished period's report now; 200 with the existing one when already published."""
    generated = reports.generate(db, actor=actor, period=Period.parse(data.period or "-"), source="manual")
    if not generated.created:
        response.status_code = status.HTTP_200_OK
    return ReportOut.model_validate(generated.report)


@router.get("/open/reports", response_model=Page[ReportOut])
@public
def list_public_reports(db: DB, params: Annotated[PageParams, Depends()]) -> Page[ReportOut]:
    rows, total = reports.published(db, params)
    return page_of(ReportOut, rows, total, params)


@router.get("/open/reports/{report_id}", response_model=ReportDetail)
@public
def get_public_report(report_id: int, db: DB) -> ReportDetail:
    return ReportDetail.model_validate(reports.get(db, report_id))
