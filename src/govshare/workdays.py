"""Chinese working days: official holidays and make-up workdays (调休) from `chinesecalendar`.

The package knows each year only after the State Council publishes its schedule (it stops at 2026).
For a later year a day is judged provisionally — weekends and the holidays fixed by date (元旦,
劳动节, 国庆节) — and every answer says whether it was provisional, so callers can show it as such.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

import chinese_calendar

BEIJING = timezone(timedelta(hours=8), "CST")


def today() -> date:
    """Today in China (dates of reviews, deadlines and reports are Beijing dates)."""
    return datetime.now(BEIJING).date()


# Holidays whose dates do not move (国务院《全国年节及纪念日放假办法》, 2025 revision).
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})


class Judgement(NamedTuple):
    workday: bool
    provisional: bool


def judge(day: date) -> Judgement:
    """Whether `day` is a working day, and whether that is only provisional."""
    try:
        return Judgement(bool(chinese_calendar.is_workday(day)), False)
    except NotImplementedError:
        return Judgement(day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS, True)


class Count(NamedTuple):
    days: int
    provisional: bool


def working_days_between(start: date, end: date) -> Count:
    """Working days after `start` up to and including `end` (0 when `end` is not after `start`)."""
    days, provisional = 0, False
    day = start + timedelta(days=1)
    while day <= end:
        workday, guessed = judge(day)
        days += workday
        provisional = provisional or guessed
        day += timedelta(days=1)
    return Count(days, provisional)
