"""A module that registers a recompute function when imported, as the sharing module does."""

from __future__ import annotations

from sqlalchemy.orm import Session

from govshare.calendar import service
from govshare.workdays import Calendar, Source


def recompute(db: Session, calendar: Calendar, year: int) -> int:
    return int(calendar.source(year) is Source.bureau)


service.on_schedule_loaded.append(recompute)
