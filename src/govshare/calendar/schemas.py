"""What the holiday API takes and returns. Rules beyond the shape (dates inside the year, make-up
workdays on weekends, names ≤ 20 characters …) are the service's, so JSON, CSV and the CLI get the
same messages."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from govshare.workdays import DayKind, Source


class DayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: date
    kind: DayKind = Field(description="`holiday` (放假) or `workday` (调休上班, always a Saturday or Sunday)")
    name: str = Field(max_length=100, description="The holiday, e.g. 春节 (at most 20 characters)")


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(max_length=200, description="The State Council notice, e.g. 国办发明电〔2026〕7号")
    days: list[DayIn] = Field(max_length=366)


class DayOut(BaseModel):
    date: date
    kind: DayKind
    name: str


class YearOut(BaseModel):
    year: int
    source: Source = Field(description="`bureau` (loaded by the Bureau), `chinesecalendar` or `provisional`")
    notice: str | None = Field(None, description="The State Council notice the Bureau loaded the year from")
    holidays: int
    workdays: int
    loaded_by: str | None = None
    loaded_at: datetime | None = None


class ScheduleOut(YearOut):
    days: list[DayOut]


class LoadOut(ScheduleOut):
    recomputed: int = Field(description="Provisional dates of other modules recomputed with this year")
