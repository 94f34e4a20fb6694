"""Chinese working days: official holidays, make-up workdays, and provisional years."""

from __future__ import annotations

from datetime import date

import pytest

from govshare.workdays import EMPTY, Calendar, DayKind, Due, Source, SpecialDay, judge, working_days_between


def test_official_holidays_and_make_up_workdays_of_a_known_year() -> None:
    assert judge(date(2026, 10, 1)) == (False, False)  # 国庆节
    assert judge(date(2026, 10, 10)) == (True, False)  # a Saturday worked in exchange (调休)
    assert judge(date(2026, 9, 27)) == (False, False)  # a Sunday inside 中秋节 (9-25 … 9-27)
    assert judge(date(2026, 9, 20)) == (True, False)  # the Sunday worked before 国庆节
    assert judge(date(2026, 11, 26)) == (True, False)


def test_a_year_without_a_published_schedule_is_judged_provisionally() -> None:
    assert judge(date(2027, 1, 1)) == (False, True)  # 元旦 is fixed by date
    assert judge(date(2027, 10, 2)) == (False, True)  # so is 国庆节 (a Saturday anyway)
    assert judge(date(2027, 1, 4)) == (True, True)  # a Monday
    assert judge(date(2027, 1, 9)) == (False, True)  # a Saturday


def test_counting_starts_the_day_after() -> None:
    # 10-01 … 10-07 are off: only 10-08 and 10-09 count.
    assert working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == (2, False)
    assert working_days_between(date(2026, 11, 26), date(2026, 11, 26)) == (0, False)
    assert working_days_between(date(2026, 11, 27), date(2026, 11, 26)) == (0, False)
    assert working_days_between(date(2026, 12, 30), date(2027, 1, 5)) == (3, True)  # 12-31, 1-4, 1-5


# --- deadlines: N working days after a day ----------------------------------------------------------
# chinesecalendar's 2026: 中秋节 9-25…9-27, 国庆节 10-01…10-07, make-up workdays Sun 9-20 and Sat 10-10;
# 春节 2-15…2-23, make-up workdays Sat 2-14 and Sat 2-28.


def test_ten_working_days_from_an_ordinary_friday_are_two_weeks() -> None:
    assert EMPTY.add_working_days(date(2026, 11, 27), 10) == Due(date(2026, 12, 11), False)
    assert EMPTY.add_working_days(date(2026, 11, 27), 1) == Due(date(2026, 11, 30), False)
    assert EMPTY.add_working_days(date(2026, 11, 27), 0) == Due(date(2026, 11, 27), False)
    with pytest.raises(ValueError):
        EMPTY.add_working_days(date(2026, 11, 27), -1)


def test_across_national_day_with_its_make_up_workdays() -> None:
    # Filed Fri 9-18: Sun 9-20 is worked (day 1), 中秋节 and 国庆节 are not; day 10 is Fri 10-09.
    assert EMPTY.add_working_days(date(2026, 9, 18), 10) == Due(date(2026, 10, 9), False)
    # Filed the day before the holiday: 10-08 is day 1, Sat 10-10 is worked (day 3).
    assert EMPTY.add_working_days(date(2026, 9, 30), 10) == Due(date(2026, 10, 20), False)
    # Filed on the make-up Saturday itself: the count starts on the next day, Sunday 10-11 is off.
    assert EMPTY.add_working_days(date(2026, 10, 10), 10) == Due(date(2026, 10, 23), False)
    assert EMPTY.add_working_days(date(2026, 10, 10), 1) == Due(date(2026, 10, 12), False)


def test_across_the_spring_festival() -> None:
    # Filed Fri 2-13: Sat 2-14 is worked (day 1), 2-15…2-23 are off, Sat 2-28 is worked (day 6).
    assert EMPTY.add_working_days(date(2026, 2, 13), 10) == Due(date(2026, 3, 5), False)
    assert EMPTY.add_working_days(date(2026, 2, 14), 1) == Due(date(2026, 2, 24), False)
    assert EMPTY.working_days_between(date(2026, 2, 13), date(2026, 3, 5)) == (10, False)


def test_a_count_running_into_an_unknown_year_is_provisional() -> None:
    # Filed Sun 2026-12-20: nine working days in December, 元旦 is fixed, Mon 2027-01-04 is day 10.
    assert EMPTY.add_working_days(date(2026, 12, 20), 10) == Due(date(2027, 1, 4), True)
    assert EMPTY.add_working_days(date(2026, 12, 20), 9) == Due(date(2026, 12, 31), False)
    assert EMPTY.unknown_years(date(2026, 12, 20), date(2027, 1, 4)) == [2027]
    assert EMPTY.source(2026) is Source.chinesecalendar and EMPTY.source(2027) is Source.provisional


SPRING_2027 = [  # test data, not the State Council's schedule (unpublished when this was written)
    SpecialDay(date(2027, 1, 31), DayKind.workday, "春节"),
    *(SpecialDay(date(2027, 2, d), DayKind.holiday, "春节") for d in range(5, 14)),
    SpecialDay(date(2027, 2, 20), DayKind.workday, "春节"),
]


def test_a_year_loaded_by_the_bureau_is_authoritative_and_not_provisional() -> None:
    calendar = Calendar({2027: SPRING_2027})
    assert calendar.source(2027) is Source.bureau
    assert calendar.judge(date(2027, 1, 31)) == (True, False)  # a Sunday worked
    assert calendar.judge(date(2027, 2, 8)) == (False, False)  # a Monday off
    assert calendar.judge(date(2027, 1, 4)) == (True, False)
    # Filed Mon 2027-01-25: Sun 1-31 is day 5, 2-05…2-13 are off, day 10 is Mon 2-15 (not Mon 2-08).
    assert EMPTY.add_working_days(date(2027, 1, 25), 10) == Due(date(2027, 2, 8), True)
    assert calendar.add_working_days(date(2027, 1, 25), 10) == Due(date(2027, 2, 15), False)
    assert calendar.special_days(2027) == SPRING_2027


def test_the_bureau_overrides_chinesecalendar_for_a_year_it_loads() -> None:
    # Suppose the State Council moved a day after the package was released: only the Bureau's table counts.
    corrected = [SpecialDay(date(2026, 10, d), DayKind.holiday, "国庆节") for d in range(1, 9)]
    calendar = Calendar({2026: corrected})
    assert calendar.source(2026) is Source.bureau
    assert calendar.judge(date(2026, 10, 8)) == (False, False)  # added by the Bureau
    assert calendar.judge(date(2026, 10, 10)) == (False, False)  # no longer a make-up workday
    assert calendar.judge(date(2026, 2, 16)) == (True, False)  # the table lists no 春节: an ordinary Monday
    assert calendar.add_working_days(date(2026, 9, 30), 1) == Due(date(2026, 10, 9), False)


def test_special_days_of_each_source_have_chinese_names() -> None:
    known = EMPTY.special_days(2026)
    assert SpecialDay(date(2026, 10, 10), DayKind.workday, "国庆节") in known
    assert SpecialDay(date(2026, 2, 17), DayKind.holiday, "春节") in known
    assert EMPTY.special_days(2030) == [
        SpecialDay(date(2030, 1, 1), DayKind.holiday, "元旦"),
        SpecialDay(date(2030, 5, 1), DayKind.holiday, "劳动节"),
        SpecialDay(date(2030, 5, 2), DayKind.holiday, "劳动节"),
        *(SpecialDay(date(2030, 10, d), DayKind.holiday, "国庆节") for d in (1, 2, 3)),
    ]
