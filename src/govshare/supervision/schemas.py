"""API shapes of the indicators and the public reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DepartmentIndicators(BaseModel):
    org_id: int = Field(description="The department (0: the city total).")
    name: str
    short_name: str
    compiled: int = Field(description="Catalog entries compiled (not retired) by the end of the period.")
    published: int = Field(description="Catalog entries published by the end of the period.")
    attached: int = Field(description="Published entries with data attached.")
    attach_rate: float | None = Field(description="挂接率, percent; null without published entries.")
    cycled: int = Field(description="Published 库表 resources with a fixed update cycle.")
    on_time: int
    on_time_rate: float | None = Field(description="按时更新率, percent.")
    requests_due: int = Field(description="Conditional requests answered, or due unanswered, in the period.")
    answered: int
    answered_in_time: int
    pending_overdue: int
    in_time_rate: float | None = Field(description="按时答复率, percent.")
    avg_reply_days: float | None = Field(description="Average reply time in working days.")
    rows_received: int
    rows_accepted: int
    quality_rate: float | None = Field(description="质量合格率, percent of rows accepted.")
    feedback_open: int = Field(description="Doubt/error cases not answered by the provider at the end.")
    feedback_oldest_days: int | None
    feedback_overdue: int
    calls: int = Field(description="Deliveries of the department's data in the period.")
    consumers: int = Field(description="Departments that received its data.")
    rows_delivered: int
    calls_made: int = Field(description="The department's own calls as a consumer.")
    calls_refused: int = Field(description="Its calls refused (no grant, or a purpose outside its grants).")


class IndicatorsOut(BaseModel):
    period: str
    label: str
    as_of: datetime
    items: list[DepartmentIndicators]
    total: DepartmentIndicators


class TrendPoint(DepartmentIndicators):
    period: str
    label: str


class TrendOut(BaseModel):
    items: list[TrendPoint]


class PublishIn(BaseModel):
    period: str = Field(description="A finished month (2026-10) or quarter (2026-Q3).", max_length=16)


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    period: str
    title: str
    period_start: date
    period_end: date
    generated_at: datetime
    pdf_sm3: str
    csv_sm3: str


class ReportDetail(ReportOut):
    data: dict[str, Any]
