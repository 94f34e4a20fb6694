"""Chinese working days: official holidays, make-up workdays, and provisional years."""

from __future__ import annotations

from datetime import date

from govshare.workdays import judge, working_days_between


def test_official_holidays_and_make_up_workdays_of_a_known_year() -> None:
    assert judge(date(2026, 10, 1)) == (False, False)  # 国庆节
    assert judge(date(2026, 10, 10)) == (True, False)  # a Saturday worked in exchange (调休)
    assert judge(date(2026, 9, 27)) == (False, False)  # an ordinary Sunday
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
