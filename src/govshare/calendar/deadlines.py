"""Deadlines in Chinese working days for the other modules (M16: a conditional sharing request is
answered within `sharing_reply_working_days` working days of filing).

    due = deadlines.due_date(db, filed_on, 10)   # Due(day, provisional)
    stages = deadlines.stage_deadlines(db, filed_on)   # [Due, …]; the last is the reply due date

A provisional result (the count runs into a year whose official schedule nobody has loaded) is still
a date — sharing never waits for the calendar — but the caller must store and show it as provisional
(暂定) and register a recompute function in `service.on_schedule_loaded`; the Bureau's administrators
get a task to load the year.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from govshare.calendar import service
from govshare.settings import get_settings
from govshare.workdays import Calendar, Due


def _ask_for_unknown_years(db: Session, calendar: Calendar, start: date, due: Due) -> None:
    if due.provisional:
        for year in calendar.unknown_years(start, due.day):
            service.request_schedule(db, year=year)


def due_date(db: Session, start: date, n: int) -> Due:
    """The `n`th working day after `start` (the day after is day 1 if it is a working day).

    When the result is provisional, opens (once, while open) the Bureau's task to load each unknown year.
    """
    calendar = Calendar.load(db)
    due = calendar.add_working_days(start, n)
    _ask_for_unknown_years(db, calendar, start, due)
    return due


def stage_deadlines(db: Session, start: date) -> list[Due]:
    """The deadline of each stage of a sharing reply (`sharing_reply_stages`, one stage by default);
    each stage counts from the previous one's deadline, the last is the reply due date. A stage is
    provisional when any earlier one is."""
    calendar = Calendar.load(db)
    result: list[Due] = []
    day, provisional = start, False
    for days in get_settings().reply_stages:
        due = calendar.add_working_days(day, days)
        day, provisional = due.day, provisional or due.provisional
        result.append(Due(day, provisional))
    _ask_for_unknown_years(db, calendar, start, result[-1])
    return result
