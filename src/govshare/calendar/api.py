"""The holiday table over JSON: the years and their sources, one year's days, and the Bureau's PUT of a
year's schedule (replaces the year whole)."""

from __future__ import annotations

from fastapi import APIRouter

from govshare.calendar import service
from govshare.calendar.schemas import DayOut, LoadOut, ScheduleIn, ScheduleOut, YearOut
from govshare.web.deps import DB, CurrentActor

router = APIRouter(prefix="/api/v1/holidays", tags=["holidays"])


def _year(info: service.YearInfo) -> YearOut:
    return YearOut(
        year=info.year,
        source=info.source,
        notice=info.notice,
        holidays=info.holidays,
        workdays=info.workdays,
        loaded_by=info.loaded_by,
        loaded_at=info.loaded_at,
    )


def _schedule(info: service.YearInfo) -> ScheduleOut:
    days = [DayOut(date=d.day, kind=d.kind, name=d.name) for d in info.days]
    return ScheduleOut(**_year(info).model_dump(), days=days)


@router.get("", response_model=list[YearOut])
def list_years(actor: CurrentActor, db: DB) -> list[YearOut]:
    """Every year from 2004 to next year, newest first: `bureau` (loaded by the Bureau, authoritative),
    `chinesecalendar` (the built-in official schedules) or `provisional` (weekends and fixed-date
    holidays only, until the Bureau loads the year)."""
    return [_year(info) for info in service.list_years(db, actor=actor)]


@router.get("/{year}", response_model=ScheduleOut)
def get_year(year: int, actor: CurrentActor, db: DB) -> ScheduleOut:
    """The year's holidays and make-up workdays under the source that decides it."""
    return _schedule(service.get_year(db, actor=actor, year=year))


@router.put("/{year}", response_model=LoadOut)
def load_year(year: int, data: ScheduleIn, actor: CurrentActor, db: DB) -> LoadOut:
    """Load (or replace) the year's schedule from the State Council's notice (Bureau administrators).

    List every holiday (放假, weekends inside a holiday period included) and every make-up workday
    (上班, a Saturday or Sunday); other days follow the week. Provisional dates of the platform are
    recomputed in the same transaction."""
    loaded = service.load_schedule(db, actor=actor, year=year, source=data.source, days=data.days)
    return LoadOut(**_schedule(loaded.info).model_dump(), recomputed=loaded.recomputed)
