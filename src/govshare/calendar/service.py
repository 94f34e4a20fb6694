"""Loading the State Council's holiday schedule of a year, reading the table, and asking the Bureau for a
year nobody knows yet.

`load_schedule` replaces a year whole and then calls every function registered in
`on_schedule_loaded`, in the same transaction, so that the provisional dates other modules stored
(e.g. the reply due dates of sharing requests) are recomputed before anyone sees the new year:

    def recompute(db: Session, calendar: Calendar, year: int) -> int:
        # Recompute the provisional dates that may fall in (or run through) `year` with `calendar`;
        # return how many were recomputed. Only flush; raising rolls the whole load back.

    service.on_schedule_loaded.append(recompute)

A module registers when it is imported; list it in `HOOK_MODULES` too, so that the loader imports it
before calling the hooks even where nothing else did (the CLI imports only what a command needs).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from govshare.audit import service as audit
from govshare.audit.events import EventType
from govshare.authz import Action, Actor, Role, require
from govshare.calendar.models import HolidayDay, HolidaySchedule
from govshare.calendar.schemas import DayIn
from govshare.db import utcnow
from govshare.errors import Invalid
from govshare.orgs import service as orgs
from govshare.tasks import service as tasks
from govshare.tasks.models import Task
from govshare.workdays import (
    FIXED_HOLIDAYS,
    Calendar,
    DayKind,
    Source,
    SpecialDay,
    official_year_known,
    today,
)

# (db, the calendar with the new year, the year) -> how many dates were recomputed.
Recompute = Callable[[Session, Calendar, int], int]
on_schedule_loaded: list[Recompute] = []
# Modules that register a recompute function when imported (e.g. "govshare.sharing.service").
HOOK_MODULES: tuple[str, ...] = ("govshare.sharing.service", "govshare.rectification.service")

LOAD_TASK = "calendar_load_year"
SUBJECT = "holiday_schedules"
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_NAME = 20
MAX_SOURCE = 100
# From this year on 劳动节 is two fixed days (May 1–2): 《全国年节及纪念日放假办法》, 2025 revision.
FIXED_RULE_SINCE = 2025


def holiday_page(year: int) -> str:
    return f"/admin/holidays/{year}"


# --- reading -------------------------------------------------------------------------------------


@dataclass
class YearInfo:
    year: int
    source: Source
    days: list[SpecialDay] = field(default_factory=list)
    notice: str | None = None
    loaded_by: str | None = None
    loaded_at: datetime | None = None

    @property
    def holidays(self) -> int:
        return sum(d.kind is DayKind.holiday for d in self.days)

    @property
    def workdays(self) -> int:
        return sum(d.kind is DayKind.workday for d in self.days)

    @property
    def provisional(self) -> bool:
        return self.source is Source.provisional


def _info(db: Session, calendar: Calendar, year: int) -> YearInfo:
    info = YearInfo(year, calendar.source(year), calendar.special_days(year))
    schedule = db.get(HolidaySchedule, year) if info.source is Source.bureau else None
    if schedule is not None:
        info.notice, info.loaded_by, info.loaded_at = (
            schedule.source,
            schedule.loaded_by_name,
            schedule.loaded_at,
        )
    return info


def list_years(db: Session, *, actor: Actor) -> list[YearInfo]:
    """Every year from the first chinesecalendar knows to next year (or the last one the Bureau
    loaded), newest first, with its source."""
    require(actor, Action.calendar_view)
    calendar = Calendar.load(db)
    last = max([today().year + 1, *calendar.bureau_years])
    return [_info(db, calendar, year) for year in range(last, 2003, -1)]


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(
            f"年份应在 {FIRST_YEAR}–{LAST_YEAR} 之间，请检查填写的年份。",
            f"The year must be between {FIRST_YEAR} and {LAST_YEAR}.",
        )


def get_year(db: Session, *, actor: Actor, year: int) -> YearInfo:
    """One year's holidays and make-up workdays, and which source decides them."""
    require(actor, Action.calendar_view)
    _check_year(year)
    return _info(db, Calendar.load(db), year)


# --- asking the Bureau for a year ----------------------------------------------------------------


def request_schedule(db: Session, *, year: int) -> Task | None:
    """Open the Bureau administrators' task to load `year` unless one is open already (returns it).

    None when there is no Bureau organisation (an empty platform) or the year is known after all.
    """
    if Calendar.load(db).source(year) is not Source.provisional:
        return None
    existing = db.scalar(
        select(Task).where(
            Task.kind == LOAD_TASK,
            Task.subject_type == SUBJECT,
            Task.subject_id == str(year),
            Task.status == "open",
        )
    )
    if existing is not None:
        return existing
    bureau = orgs.bureau(db)
    if bureau is None:
        return None
    return tasks.open_task(
        db,
        kind=LOAD_TASK,
        title=f"请加载 {year} 年国务院节假日安排（加载前该年的工作日期限均为暂定）",
        link=holiday_page(year),
        org_id=bureau.id,
        subject_type=SUBJECT,
        subject_id=year,
        assignee_role=Role.bureau_admin,
    )


# --- loading a year ------------------------------------------------------------------------------


def _problems(year: int, source: str, days: Sequence[DayIn]) -> list[str]:
    problems = []
    if not source.strip():
        problems.append("请填写依据的国务院办公厅通知文号，如“国办发明电〔2026〕7号”")
    elif len(source.strip()) > MAX_SOURCE:
        problems.append(f"通知文号不能超过 {MAX_SOURCE} 个字符")
    if not days:
        problems.append("安排中没有任何日期：请至少列出该年的放假日")
    seen: set[date] = set()
    for d in days:
        when = d.date.isoformat()
        if d.date.year != year:
            problems.append(f"{when} 不在 {year} 年内")
        if d.date in seen:
            problems.append(f"{when} 出现了不止一次：每个日期只能是放假或上班之一")
        seen.add(d.date)
        name = d.name.strip()
        if not name:
            problems.append(f"{when} 缺少名称（如 春节、国庆节）")
        elif len(name) > MAX_NAME:
            problems.append(f"{when} 的名称“{name[:MAX_NAME]}…”超过 {MAX_NAME} 个字符")
        if d.kind is DayKind.workday and d.date.weekday() < 5:
            problems.append(
                f"{when} 是星期{'一二三四五'[d.date.weekday()]}，本来就上班：调休上班日只能是周六或周日"
            )
    holidays = {d.date for d in days if d.kind is DayKind.holiday}
    if days and not holidays:
        problems.append("安排中没有放假日：请检查“类型”一列（放假 / 上班）")
    if days and year >= FIXED_RULE_SINCE:
        for (month, day), name in FIXED_HOLIDAYS.items():
            if date(year, month, day) not in holidays:
                problems.append(f"{year}-{month:02d}-{day:02d}（{name}）是法定节假日，安排中应列为放假")
    return problems


def validate_schedule(year: int, source: str, days: Sequence[DayIn]) -> list[SpecialDay]:
    """The schedule as special days, or Invalid listing every problem (details: `problems`)."""
    _check_year(year)
    problems = _problems(year, source, days)
    if problems:
        shown = "；".join(problems[:5]) + ("；……" if len(problems) > 5 else "")
        raise Invalid(
            f"{year} 年节假日安排有 {len(problems)} 处问题：{shown}。请改正后重新提交。",
            f"The {year} holiday schedule has {len(problems)} problem(s).",
            details={"problems": problems},
        )
    return sorted(SpecialDay(d.date, d.kind, d.name.strip()) for d in days)


@dataclass(frozen=True)
class Change:
    day: date
    before: SpecialDay | None
    after: SpecialDay | None

    @staticmethod
    def describe(special: SpecialDay | None, day: date) -> str:
        if special is None:
            return "周末休息" if day.weekday() >= 5 else "正常工作日"
        return f"{special.kind.label}（{special.name}）"


@dataclass
class Preview:
    year: int
    source: str
    current: YearInfo
    days: list[SpecialDay]
    changes: list[Change]


def _changes(before: list[SpecialDay], after: list[SpecialDay]) -> list[Change]:
    old, new = {d.day: d for d in before}, {d.day: d for d in after}
    return [
        Change(day, old.get(day), new.get(day))
        for day in sorted(old.keys() | new.keys())
        if old.get(day) != new.get(day)
    ]


def preview_schedule(db: Session, *, actor: Actor, year: int, source: str, days: Sequence[DayIn]) -> Preview:
    """What loading the schedule would change, for the confirmation step; changes nothing."""
    require(actor, Action.calendar_manage)
    special = validate_schedule(year, source, days)
    current = _info(db, Calendar.load(db), year)
    return Preview(year, source.strip(), current, special, _changes(current.days, special))


@dataclass(frozen=True)
class Loaded:
    info: YearInfo
    changes: list[Change]
    recomputed: int


def load_schedule(db: Session, *, actor: Actor, year: int, source: str, days: Sequence[DayIn]) -> Loaded:
    """Replace the Bureau's schedule of `year` (authoritative from now on), recompute the provisional
    dates other modules registered, close the Bureau's "load the year" task, and audit it all.

    Raises Forbidden unless the actor manages the calendar, Invalid (with every problem) for a bad
    schedule. Only flushes: the caller commits.
    """
    require(actor, Action.calendar_manage)
    special = validate_schedule(year, source, days)
    calendar = Calendar.load(db)
    before_source = calendar.source(year)
    changes = _changes(calendar.special_days(year), special)
    # A savepoint, so that a recompute hook that fails leaves the year as it was even when the caller
    # goes on to commit (a form answering with the error).
    with db.begin_nested():
        schedule = db.get(HolidaySchedule, year)
        if schedule is None:
            schedule = HolidaySchedule(year=year)
            db.add(schedule)
        schedule.source = source.strip()
        schedule.day_count = len(special)
        schedule.loaded_by_id = actor.user_id
        schedule.loaded_by_name = actor.name
        schedule.loaded_at = utcnow()
        db.flush()
        db.execute(delete(HolidayDay).where(HolidayDay.year == year))
        db.add_all(HolidayDay(day=d.day, year=year, kind=d.kind.value, name=d.name) for d in special)
        db.flush()
        calendar = Calendar.load(db)
        for module in HOOK_MODULES:
            importlib.import_module(module)
        recomputed = sum(hook(db, calendar, year) for hook in on_schedule_loaded)
        closed = tasks.close_tasks(db, subject_type=SUBJECT, subject_id=year, kind=LOAD_TASK)
    audit.record(
        db,
        EventType.holiday_schedule_loaded,
        actor=actor,
        object_type=SUBJECT,
        object_id=year,
        details={
            "year": year,
            "source": schedule.source,
            "replaced": before_source.value,
            "holidays": sum(d.kind is DayKind.holiday for d in special),
            "workdays": sum(d.kind is DayKind.workday for d in special),
            "changed_days": len(changes),
            "recomputed": recomputed,
            "tasks_closed": closed,
        },
    )
    return Loaded(_info(db, calendar, year), changes, recomputed)


def unknown_year_due(db: Session, *, on: date) -> int | None:
    """Next year, when it is 1 November or later and neither the Bureau nor chinesecalendar knows it."""
    year = on.year + 1
    if (on.month, on.day) < (11, 1) or official_year_known(year):
        return None
    return year if Calendar.load(db).source(year) is Source.provisional else None
