"""One working day, by the statutory calendar with its make-up days (issue 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from crm.services import working_days


def beijing(*args) -> datetime:
    from crm import clock

    return datetime(*args, tzinfo=clock.BUSINESS_TZ).astimezone(UTC)


def test_delivery_on_the_eve_of_national_day_is_handed_over_after_the_holiday():
    # 2026: 1–7 October off; Wednesday 30 September is the last working day before.
    due = working_days.one_working_day_after(beijing(2026, 9, 30, 15, 0))
    assert due == beijing(2026, 10, 8, 15, 0)


def test_make_up_saturday_counts_as_a_working_day():
    # Saturday 10 October 2026 is a make-up working day (调休).
    assert working_days.is_working_day(date(2026, 10, 10))
    due = working_days.one_working_day_after(beijing(2026, 10, 9, 17, 30))
    assert due == beijing(2026, 10, 10, 17, 30)


def test_delivery_during_the_holiday_is_due_by_the_end_of_the_first_working_day():
    due = working_days.one_working_day_after(beijing(2026, 10, 3, 11, 0))
    assert due == beijing(2026, 10, 9, 0, 0)


def test_friday_delivery_is_due_on_monday():
    assert working_days.one_working_day_after(beijing(2026, 6, 12, 9, 0)) == beijing(
        2026, 6, 15, 9, 0
    )


def test_year_without_a_published_calendar_counts_monday_to_friday():
    # Friday 7 January 2028 → Monday 10 January 2028.
    due = working_days.one_working_day_after(beijing(2028, 1, 7, 9, 0))
    assert due == beijing(2028, 1, 10, 9, 0)
