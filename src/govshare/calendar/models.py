"""The Bureau's holiday table: one row per year it loaded from the State Council's notice, and that
year's special days (holidays and make-up workdays). Ordinary weekdays and weekends are not stored."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from govshare.db import Base, utcnow


class HolidaySchedule(Base):
    __tablename__ = "holiday_schedules"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(100))  # e.g. 国办发明电〔2026〕7号
    day_count: Mapped[int]
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    loaded_by_name: Mapped[str] = mapped_column(String(128))  # also for the CLI operator
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class HolidayDay(Base):
    __tablename__ = "holiday_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("holiday_schedules.year", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # workdays.DayKind: holiday | workday
    name: Mapped[str] = mapped_column(String(20))  # 春节, 国庆节 …
