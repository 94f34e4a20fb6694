"""The holiday pages: the years and their sources, a year as twelve month grids, and the Bureau's upload of
a year's CSV with a confirmation step that shows what will change before anything is loaded.

The confirmation page carries the parsed schedule back as CSV in a hidden field; the final POST parses
and validates it again, so a tampered form gets the same checks as the upload.
"""

from __future__ import annotations

import calendar as stdlib_calendar
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from govshare.authz import Action, allowed
from govshare.calendar import service
from govshare.calendar.upload import MAX_BYTES, parse_csv, to_csv
from govshare.errors import Invalid, TooLarge
from govshare.web.deps import DB, CurrentActor
from govshare.web.forms import see_other
from govshare.web.templating import render
from govshare.workdays import Calendar, today

router = APIRouter(include_in_schema=False)

NOTICES = {"loaded": "节假日安排已加载，相关期限已按新安排重新计算。"}
WEEKDAYS = "一二三四五六日"


@dataclass(frozen=True)
class Cell:
    day: date
    in_month: bool
    kind: str  # holiday | workday | weekend | ""
    name: str
    provisional: bool


def _months(calendar: Calendar, year: int) -> list[tuple[int, list[list[Cell]]]]:
    special = {d.day: d for d in calendar.special_days(year)}
    months = []
    for month in range(1, 13):
        weeks = []
        for week in stdlib_calendar.Calendar().monthdatescalendar(year, month):
            row = []
            for day in week:
                found = special.get(day)
                workday, provisional = calendar.judge(day)
                if found is not None and day.year == year:
                    kind, name = found.kind.value, found.name
                else:
                    kind, name = ("" if workday else "weekend"), ""
                row.append(Cell(day, day.month == month, kind, name, provisional))
            weeks.append(row)
        months.append((month, weeks))
    return months


def _next_unknown(years: list[service.YearInfo]) -> int:
    unknown = [y.year for y in years if y.provisional]
    return min(unknown) if unknown else today().year + 1


def _list_page(
    request: Request,
    actor: CurrentActor,
    db: DB,
    *,
    form: dict[str, str] | None = None,
    error: Invalid | TooLarge | None = None,
) -> Response:
    years = service.list_years(db, actor=actor)
    return render(
        request,
        "calendar/holidays.html",
        {
            "years": years,
            "form": form or {"year": str(_next_unknown(years)), "source": ""},
            "error": error.message if error else None,
            "problems": (error.details or {}).get("problems", []) if error else [],
            "notice": NOTICES.get(request.query_params.get("done", "")),
            "max_kb": MAX_BYTES // 1024,
        },
        status_code=error.status if error else 200,
    )


@router.get("/admin/holidays", response_class=HTMLResponse)
def holidays(request: Request, actor: CurrentActor, db: DB) -> Response:
    return _list_page(request, actor, db)


@router.get("/admin/holidays/{year}", response_class=HTMLResponse)
def holiday_year(year: int, request: Request, actor: CurrentActor, db: DB) -> Response:
    info = service.get_year(db, actor=actor, year=year)
    return render(
        request,
        "calendar/year.html",
        {
            "info": info,
            "months": _months(Calendar.load(db), year),
            "weekdays": WEEKDAYS,
            "notice": NOTICES.get(request.query_params.get("done", "")),
            "can_manage": allowed(actor, Action.calendar_manage),
        },
    )


@router.post("/admin/holidays/preview", response_class=HTMLResponse)
async def holiday_preview(
    request: Request,
    actor: CurrentActor,
    db: DB,
    file: Annotated[UploadFile, File()],
    year: Annotated[str, Form(max_length=8)] = "",
    source: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {"year": year, "source": source}
    try:
        if not year.strip().isdecimal():
            raise Invalid("请填写四位数的年份，如 2027。", "The year must be a number.")
        days = parse_csv(await file.read(MAX_BYTES + 1))
        preview = service.preview_schedule(db, actor=actor, year=int(year), source=source, days=days)
    except (Invalid, TooLarge) as exc:
        return _list_page(request, actor, db, form=form, error=exc)
    return render(
        request,
        "calendar/confirm.html",
        {"preview": preview, "csv": to_csv(days), "describe": service.Change.describe, "weekdays": WEEKDAYS},
    )


@router.post("/admin/holidays/{year}", response_class=HTMLResponse)
def holiday_load(
    year: int,
    request: Request,
    actor: CurrentActor,
    db: DB,
    source: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[str, Form(max_length=MAX_BYTES)] = "",
) -> Response:
    try:
        parsed = parse_csv(days.encode())
        # The request's unit of work commits the load after this returns (the service only flushes).
        service.load_schedule(db, actor=actor, year=year, source=source, days=parsed)
    except (Invalid, TooLarge) as exc:
        return _list_page(request, actor, db, form={"year": str(year), "source": source}, error=exc)
    return see_other(f"/admin/holidays/{year}?done=loaded")
