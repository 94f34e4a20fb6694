"""Chinese working days: official holidays and make-up workdays (调休), and deadlines counted in them.

Three sources, in order of authority, decide whether a day is a working day:

1. the Bureau's holiday table (`govshare.calendar`): a year the Bureau loaded from the State Council's
   notice is authoritative for that year — it overrides `chinesecalendar`, so the Bureau can also
   correct a year;
2. `chinesecalendar` (official schedules, 2004–2026 in the version we ship);
3. the provisional rule for a year nobody knows yet: weekends and the holidays fixed by date (元旦,
   劳动节, 国庆节). Every answer from this rule says it is provisional, so callers can show it as such
   and recompute when the Bureau loads the year (`govshare.calendar.service.on_schedule_loaded`).

`Calendar` holds the Bureau's table in memory (`Calendar.load(db)` reads it in one query; a year has
a few dozen special days), so judging a day never touches the database. The module-level `judge` and
`working_days_between` use an empty table (no database): code without a session gets
`chinesecalendar` and the provisional rule only.

Counting is always "N working days after X": the day after X is day 1 when it is a working day.
(`chinese_calendar.find_workday` counts differently when X itself is a holiday; we never use it.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

import chinese_calendar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BEIJING = timezone(timedelta(hours=8), "CST")


# The dates a person may give the platform (an effective date, a search range, a time range of
# rows): wide enough for any record, and far enough inside Python's years 1–9999 that a date a day,
# a month or a time zone away still exists.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def plausible(day: date, *, field: str, label: str) -> date:
    """`day`, or Invalid naming `label` when it lies outside FIRST_DAY–LAST_DAY."""
    from govshare.errors import Invalid

    if not FIRST_DAY <= day <= LAST_DAY:
        raise Invalid(
            f"{label}应在 {FIRST_DAY.year} 年到 {LAST_DAY.year} 年之间，请检查年份。",
            f"{field} out of range.",
            details={"field": field},
        )
    return day


def beijing_day(moment: datetime) -> date:
    """The date in China at `moment` (a naive moment is UTC, as SQLite gives aggregates back)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).date()


def today() -> date:
    """Today in China (dates of reviews, deadlines and reports are Beijing dates)."""
    return datetime.now(BEIJING).date()


# Holidays whose dates do not move (国务院《全国年节及纪念日放假办法》, 2025 revision).
FIXED_HOLIDAYS: Mapping[tuple[int, int], str] = {
    (1, 1): "元旦",
    (5, 1): "劳动节",
    (5, 2): "劳动节",
    (10, 1): "国庆节",
    (10, 2): "国庆节",
    (10, 3): "国庆节",
}

# chinesecalendar names its holidays in English.
_CHINESE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


class DayKind(StrEnum):
    holiday = "holiday"  # 放假 (weekends inside a holiday period included)
    workday = "workday"  # 调休上班: a Saturday or Sunday worked in exchange

    @property
    def label(self) -> str:
        return "放假" if self is DayKind.holiday else "上班"


class Source(StrEnum):
    bureau = "bureau"
    chinesecalendar = "chinesecalendar"
    provisional = "provisional"

    @property
    def label(self) -> str:
        return {"bureau": "市数据资源管理局已加载", "chinesecalendar": "内置日历", "provisional": "暂定"}[
            self
        ]


class Judgement(NamedTuple):
    workday: bool
    provisional: bool


class Count(NamedTuple):
    days: int
    provisional: bool


class Due(NamedTuple):
    day: date
    provisional: bool


class SpecialDay(NamedTuple):
    day: date
    kind: DayKind
    name: str


def official_year_known(year: int) -> bool:
    """Whether `chinesecalendar` has the State Council's schedule for `year`."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def _judge_official(day: date) -> Judgement:
    try:
        return Judgement(bool(chinese_calendar.is_workday(day)), False)
    except NotImplementedError:
        return Judgement(day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS, True)


class Calendar:
    """Working days under the Bureau's table (`bureau`: year → its special days), then chinesecalendar,
    then the provisional rule. Immutable once built."""

    def __init__(self, bureau: Mapping[int, Iterable[SpecialDay]] | None = None) -> None:
        self._bureau = {year: {d.day: d for d in days} for year, days in (bureau or {}).items()}

    @classmethod
    def load(cls, db: Session) -> Calendar:
        """The calendar with the Bureau's loaded years (two small queries)."""
        from sqlalchemy import select

        from govshare.calendar.models import HolidayDay, HolidaySchedule

        years: dict[int, list[SpecialDay]] = {y: [] for y in db.scalars(select(HolidaySchedule.year))}
        for day, kind, name in db.execute(select(HolidayDay.day, HolidayDay.kind, HolidayDay.name)):
            years.setdefault(day.year, []).append(SpecialDay(day, DayKind(kind), name))
        return cls(years)

    @property
    def bureau_years(self) -> frozenset[int]:
        return frozenset(self._bureau)

    def source(self, year: int) -> Source:
        """Which source decides the days of `year`."""
        if year in self._bureau:
            return Source.bureau
        return Source.chinesecalendar if official_year_known(year) else Source.provisional

    def judge(self, day: date) -> Judgement:
        """Whether `day` is a working day, and whether that is only provisional."""
        loaded = self._bureau.get(day.year)
        if loaded is None:
            return _judge_official(day)
        special = loaded.get(day)
        if special is None:
            return Judgement(day.weekday() < 5, False)
        return Judgement(special.kind is DayKind.workday, False)

    def add_working_days(self, start: date, n: int) -> Due:
        """The `n`th working day after `start` (the day after `start` is day 1 if it is a working day).

        Provisional when any day judged on the way is; `n` = 0 gives `start` itself.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        day, counted, provisional = start, 0, False
        while counted < n:
            day += timedelta(days=1)
            workday, guessed = self.judge(day)
            counted += workday
            provisional = provisional or guessed
        return Due(day, provisional)

    def working_days_between(self, start: date, end: date) -> Count:
        """Working days after `start` up to and including `end` (0 when `end` is not after `start`)."""
        days, provisional = 0, False
        day = start + timedelta(days=1)
        while day <= end:
            workday, guessed = self.judge(day)
            days += workday
            provisional = provisional or guessed
            day += timedelta(days=1)
        return Count(days, provisional)

    def unknown_years(self, start: date, end: date) -> list[int]:
        """Years between the two dates (inclusive) whose days are only judged provisionally."""
        return [y for y in range(start.year, end.year + 1) if self.source(y) is Source.provisional]

    def special_days(self, year: int) -> list[SpecialDay]:
        """The holidays and make-up workdays of `year` under the source that decides it, by date."""
        loaded = self._bureau.get(year)
        if loaded is not None:
            return sorted(loaded.values())
        if official_year_known(year):
            return _official_special_days(year)
        return [
            SpecialDay(date(year, month, day), DayKind.holiday, name)
            for (month, day), name in sorted(FIXED_HOLIDAYS.items())
        ]


def _official_special_days(year: int) -> list[SpecialDay]:
    from chinese_calendar.constants import holidays, workdays

    def named(source: Mapping[date, str], kind: DayKind) -> Iterable[SpecialDay]:
        for day, name in source.items():
            if day.year == year:
                yield SpecialDay(day, kind, _CHINESE_NAMES.get(name, name))

    return sorted([*named(holidays, DayKind.holiday), *named(workdays, DayKind.workday)])


EMPTY = Calendar()


def judge(day: date) -> Judgement:
    """Whether `day` is a working day by chinesecalendar or the provisional rule (no Bureau table)."""
    return EMPTY.judge(day)


def working_days_between(start: date, end: date) -> Count:
    """`Calendar.working_days_between` without the Bureau's table (for code without a session)."""
    return EMPTY.working_days_between(start, end)
