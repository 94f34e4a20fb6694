"""Scheduled calendar work: from 1 November, ask the Bureau to load next year's holiday schedule while
neither it nor chinesecalendar knows that year (a request filed in December is due in January)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from govshare.calendar import service
from govshare.jobs import job
from govshare.workdays import today


@job("calendar.next_year_check", every=lambda: timedelta(days=1))
def next_year_check(db: Session) -> str:
    year = service.unknown_year_due(db, on=today())
    if year is None:
        return "下一年的节假日安排已知，或尚未到 11 月。"
    task = service.request_schedule(db, year=year)
    return (
        f"{year} 年节假日安排尚未加载，已提醒市数据资源管理局（待办 #{task.id}）。"
        if task
        else "没有市数据资源管理局。"
    )
