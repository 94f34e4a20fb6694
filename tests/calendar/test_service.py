"""The Bureau's holiday table: loading a year, provisional deadlines and the Bureau's task, the recompute
hook, stages, and the next-year check."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from govshare.audit.models import AuditEvent
from govshare.authz import Actor
from govshare.calendar import deadlines, service
from govshare.calendar.jobs import next_year_check
from govshare.calendar.models import HolidayDay
from govshare.calendar.schemas import DayIn
from govshare.calendar.upload import parse_csv
from govshare.errors import Forbidden, Invalid
from govshare.tasks import service as tasks
from govshare.tasks.models import Task
from govshare.workdays import Calendar, DayKind, Due, Source
from tests.conftest import settings_override
from tests.helpers import actor

# Test data: a plausible 2027 schedule (元旦 1-01…1-03, 春节 2-05…2-13 with Sun 1-31 and Sat 2-20 worked,
# 清明, 劳动节, 端午, 中秋, 国庆节), not the State Council's notice, which was unpublished when written.
SCHEDULE_2027 = parse_csv((Path(__file__).parent / "schedule_2027.csv").read_bytes())
NOTICE = "国办发明电〔2026〕99号（测试数据）"


def _load(db: Session, year: int = 2027, days: list[DayIn] | None = None, who: str = "bureau_admin"):  # type: ignore[no-untyped-def]
    return service.load_schedule(
        db, actor=actor(db, who), year=year, source=NOTICE, days=SCHEDULE_2027 if days is None else days
    )


def _load_tasks(db: Session, year: int) -> list[Task]:
    return list(
        db.scalars(
            select(Task).where(
                Task.kind == service.LOAD_TASK, Task.subject_id == str(year), Task.status == "open"
            )
        )
    )


def test_a_provisional_due_date_asks_the_bureau_once_and_loading_the_year_settles_it(city, db) -> None:
    # A request filed on Sun 2026-12-20 is due on day 10, Mon 2027-01-04; 2027 is unknown: provisional.
    assert deadlines.due_date(db, date(2026, 12, 20), 10) == Due(date(2027, 1, 4), True)
    assert deadlines.due_date(db, date(2026, 12, 22), 10) == Due(date(2027, 1, 6), True)
    [task] = _load_tasks(db, 2027)  # one task, however many provisional dates
    assert task.title.startswith("请加载 2027 年国务院节假日安排")
    assert task.link == "/admin/holidays/2027"
    assert task in tasks.open_tasks_for(db, actor=actor(db, "bureau_admin"))
    assert task not in tasks.open_tasks_for(db, actor=actor(db, "police_admin"))
    # A date inside a known year asks nobody.
    assert deadlines.due_date(db, date(2026, 11, 27), 10) == Due(date(2026, 12, 11), False)

    loaded = _load(db)

    assert loaded.info.source is Source.bureau and loaded.info.notice == NOTICE
    assert (loaded.info.holidays, loaded.info.workdays) == (29, 5)
    assert _load_tasks(db, 2027) == []
    # 元旦 2027 is Fri–Sun, so day 10 stays Monday 1-04 — now definite.
    assert deadlines.due_date(db, date(2026, 12, 20), 10) == Due(date(2027, 1, 4), False)
    assert _load_tasks(db, 2027) == []


def test_loading_a_year_recomputes_the_provisional_dates_registered_by_other_modules(
    city, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in for the sharing requests: filing day, due date, provisional flag.
    requests = {
        "filed in December": [date(2026, 12, 20), None, None],
        "filed before 春节": [date(2027, 1, 25), None, None],
        "filed in a known year": [date(2026, 11, 27), None, None],
    }
    for row in requests.values():
        row[1], row[2] = deadlines.due_date(db, row[0], 10)
    assert requests["filed before 春节"][1:] == [date(2027, 2, 8), True]
    seen: list[tuple[int, bool]] = []

    def recompute(session: Session, calendar: Calendar, year: int) -> int:
        assert session is db  # the same transaction
        seen.append((year, calendar.source(year) is Source.bureau))
        count = 0
        for row in requests.values():
            if row[2]:
                row[1], row[2] = calendar.add_working_days(row[0], 10)
                count += 1
        return count

    monkeypatch.setattr(service, "on_schedule_loaded", [recompute])

    loaded = _load(db)

    assert seen == [(2027, True)] and loaded.recomputed == 2
    assert requests["filed in December"][1:] == [date(2027, 1, 4), False]
    # Sun 1-31 is worked and 春节 runs 2-05…2-13: day 10 moves from Mon 2-08 to Mon 2-15.
    assert requests["filed before 春节"][1:] == [date(2027, 2, 15), False]
    assert requests["filed in a known year"][1:] == [date(2026, 12, 11), False]
    event = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.event_type == "calendar.schedule_loaded")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event is not None and event.object_id == "2027" and event.actor_name
    details = json.loads(event.details)
    assert (
        details["recomputed"] == 2 and details["replaced"] == "provisional" and details["tasks_closed"] == 1
    )


def test_the_loader_imports_the_modules_that_register_hooks(
    city, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = "tests.calendar.recompute_probe"
    monkeypatch.delitem(sys.modules, probe, raising=False)
    monkeypatch.setattr(service, "on_schedule_loaded", [])
    monkeypatch.setattr(service, "HOOK_MODULES", (probe,))
    assert _load(db).recomputed == 1  # the probe registered itself on import and was called


def test_a_failing_recompute_hook_leaves_the_year_unloaded(city, db, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(session: Session, calendar: Calendar, year: int) -> int:
        raise RuntimeError("sharing could not recompute")

    monkeypatch.setattr(service, "on_schedule_loaded", [broken])
    with pytest.raises(RuntimeError), db.begin_nested():
        _load(db)
    assert Calendar.load(db).source(2027) is Source.provisional


def test_the_bureau_table_overrides_chinesecalendar_and_a_reload_replaces_the_year(city, db) -> None:
    assert deadlines.due_date(db, date(2026, 9, 30), 1) == Due(date(2026, 10, 8), False)
    national_day = [DayIn(date=date(2026, 10, d), kind=DayKind.holiday, name="国庆节") for d in range(1, 9)]
    fixed = [DayIn(date=date(2026, m, d), kind=DayKind.holiday, name="元旦") for m, d in ((1, 1),)]
    labour = [DayIn(date=date(2026, 5, d), kind=DayKind.holiday, name="劳动节") for d in (1, 2)]
    _load(db, 2026, national_day + fixed + labour)

    assert deadlines.due_date(db, date(2026, 9, 30), 1) == Due(date(2026, 10, 9), False)
    assert Calendar.load(db).judge(date(2026, 10, 10)) == (False, False)  # a Saturday again

    _load(db, 2026, [*fixed, *labour, *(d for d in national_day if d.date.day <= 7)])
    assert db.scalar(select(HolidayDay).where(HolidayDay.day == date(2026, 10, 8))) is None
    assert deadlines.due_date(db, date(2026, 9, 30), 1) == Due(date(2026, 10, 8), False)


def _problems(db: Session, days: list[DayIn], year: int = 2027, source: str = NOTICE) -> list[str]:
    with pytest.raises(Invalid) as caught:
        service.load_schedule(db, actor=actor(db, "bureau_admin"), year=year, source=source, days=days)
    assert caught.value.status == 422
    problems: list[str] = caught.value.details["problems"]
    return problems


def test_a_schedule_with_mistakes_is_refused_with_every_problem_named(city, db) -> None:
    wrong = [
        *SCHEDULE_2027,
        DayIn(date=date(2028, 1, 1), kind=DayKind.holiday, name="元旦"),
        DayIn(date=date(2027, 2, 5), kind=DayKind.workday, name="春节"),  # also listed as 放假
        DayIn(date=date(2027, 3, 3), kind=DayKind.workday, name="春节"),  # a Wednesday
        DayIn(date=date(2027, 6, 10), kind=DayKind.holiday, name="端" * 21),
    ]
    problems = _problems(db, wrong)
    assert "2028-01-01 不在 2027 年内" in problems
    assert any(p.startswith("2027-02-05 出现了不止一次") for p in problems)
    assert any("2027-03-03 是星期三" in p and "只能是周六或周日" in p for p in problems)
    assert any("超过 20 个字符" in p for p in problems)
    without_labour_day = [d for d in SCHEDULE_2027 if d.date != date(2027, 5, 2)]
    assert _problems(db, without_labour_day) == ["2027-05-02（劳动节）是法定节假日，安排中应列为放假"]
    assert any("国办发" in p for p in _problems(db, SCHEDULE_2027, source=" "))
    assert any("没有任何日期" in p for p in _problems(db, []))
    with pytest.raises(Invalid, match="年份应在"):
        _load(db, 1999, [])
    assert Calendar.load(db).source(2027) is Source.provisional


def test_only_the_bureau_admin_loads_a_year_and_every_person_reads_it(city, db) -> None:
    with pytest.raises(Forbidden):
        _load(db, who="police_admin")
    with pytest.raises(Forbidden):
        _load(db, who="bureau_reviewer")
    assert service.get_year(db, actor=actor(db, "civil_user"), year=2027).source is Source.provisional
    years = service.list_years(db, actor=actor(db, "civil_user"))
    assert years[0].year == 2027 and years[0].provisional and years[-1].year == 2004
    assert {y.source for y in years if y.year <= 2026} == {Source.chinesecalendar}


def test_the_cli_operator_may_load_a_year(city, db) -> None:
    loaded = service.load_schedule(
        db, actor=Actor.operator("cli:root"), year=2027, source=NOTICE, days=SCHEDULE_2027
    )
    assert loaded.info.loaded_by == "cli:root"


def test_stage_deadlines_follow_the_settings(city, db) -> None:
    assert deadlines.stage_deadlines(db, date(2026, 9, 30)) == [Due(date(2026, 10, 20), False)]
    with settings_override(sharing_reply_working_days=7, sharing_reply_stages="2,5"):
        # Accept by day 2 (10-08, 10-09), answer 5 working days later (Sat 10-10 is worked: 10-15).
        assert deadlines.stage_deadlines(db, date(2026, 9, 30)) == [
            Due(date(2026, 10, 9), False),
            Due(date(2026, 10, 15), False),
        ]
        first, last = deadlines.stage_deadlines(db, date(2026, 12, 28))
        assert first == Due(date(2026, 12, 30), False) and last == Due(date(2027, 1, 7), True)
    assert len(_load_tasks(db, 2027)) == 1


def test_the_next_year_check_asks_from_november_until_the_year_is_known(city, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert service.unknown_year_due(db, on=date(2026, 10, 31)) is None
    assert service.unknown_year_due(db, on=date(2026, 11, 1)) == 2027
    assert service.unknown_year_due(db, on=date(2025, 12, 1)) is None  # 2026 is in chinesecalendar
    monkeypatch.setattr("govshare.calendar.jobs.today", lambda: date(2026, 11, 27))
    assert "2027" in next_year_check(db)
    next_year_check(db)
    assert len(_load_tasks(db, 2027)) == 1
    _load(db)
    assert service.unknown_year_due(db, on=date(2026, 12, 1)) is None
    assert "已知" in next_year_check(db)
