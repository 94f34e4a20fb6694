"""Reporting periods (统计期): calendar months and quarters in China Standard Time.

A period runs from its first day (inclusive) to the first day of the next (exclusive), both Beijing
dates; `start_at` / `end_at` are those midnights as UTC instants, for comparing stored timestamps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from govshare.errors import Invalid
from govshare.workdays import BEIJING, today

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
QUARTER_NAMES = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter
    start: date
    end: date  # exclusive

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls("month", date(year, month, 1), end)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, first + 3, 1)
        return cls("quarter", date(year, first, 1), end)

    @classmethod
    def containing(cls, day: date, kind: str = "month") -> Period:
        if kind == "quarter":
            return cls.quarter(day.year, (day.month - 1) // 3 + 1)
        return cls.month(day.year, day.month)

    @classmethod
    def parse(cls, code: str | None, *, default_kind: str = "month") -> Period:
        """`2026-10` (a month) or `2026-Q3` (a quarter); empty: the current month (or quarter)."""
        if not code:
            return cls.containing(today(), default_kind)
        code = code.strip().upper()
        if m := _MONTH.match(code):
            year, month = int(m.group(1)), int(m.group(2))
            if 2000 <= year <= 2100 and 1 <= month <= 12:
                return cls.month(year, month)
        elif m := _QUARTER.match(code):
            year = int(m.group(1))
            if 2000 <= year <= 2100:
                return cls.quarter(year, int(m.group(2)))
        raise Invalid(
            "统计期应写成“2026-10”（月）或“2026-Q3”（季度）。",
            "period must look like 2026-10 or 2026-Q3.",
            details={"field": "period"},
        )

    @property
    def code(self) -> str:
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"{self.start.year}年{QUARTER_NAMES[(self.start.month - 1) // 3 + 1]}"
        return f"{self.start.year}年{self.start.month}月"

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), BEIJING)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(), BEIJING)

    def complete(self, on: date | None = None) -> bool:
        """Whether the period is over on `on` (today in China by default)."""
        return (on or today()) >= self.end

    def previous(self) -> Period:
        day = date.fromordinal(self.start.toordinal() - 1)
        return Period.containing(day, self.kind)

    def months(self) -> list[Period]:
        found, day = [], self.start
        while day < self.end:
            found.append(Period.month(day.year, day.month))
            day = found[-1].end
        return found


def last_months(n: int, *, until: date | None = None) -> list[Period]:
    """The `n` months ending with the one containing `until` (today), oldest first."""
    current = Period.containing(until or today())
    found = [current]
    while len(found) < n:
        found.append(found[-1].previous())
    return found[::-1]
