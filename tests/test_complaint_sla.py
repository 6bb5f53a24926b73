"""The complaint SLA clock counts only a store's opening hours (issue 9: "first contact within
10 minutes (the SLA clock runs in business hours configured per store) … callback within 24
hours of resolution")."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crm import clock
from crm.services.complaint_sla import (
    CALLBACK_WITHIN,
    CONTACT_WITHIN,
    BusinessHours,
    business_minutes,
    business_time,
    countdown,
    deadline,
)

EIGHT_TO_SIX = BusinessHours(8, 18)  # the default store


def beijing(day: int, hour: int, minute: int = 0, month: int = 6) -> datetime:
    """A Beijing wall-clock moment of June 2026 (the 15th is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=clock.BUSINESS_TZ)


def test_first_contact_inside_opening_hours_is_due_ten_minutes_later():
    assert deadline(EIGHT_TO_SIX, beijing(15, 10, 0), CONTACT_WITHIN) == beijing(15, 10, 10)


def test_first_contact_clock_pauses_outside_business_hours():
    """Filed at 20:00: due at opening time plus 10 minutes the next morning."""
    assert deadline(EIGHT_TO_SIX, beijing(15, 20, 0), CONTACT_WITHIN) == beijing(16, 8, 10)


def test_a_complaint_five_minutes_before_closing_has_five_minutes_left_next_morning():
    assert deadline(EIGHT_TO_SIX, beijing(15, 17, 55), CONTACT_WITHIN) == beijing(16, 8, 5)


def test_a_complaint_before_opening_is_due_ten_minutes_after_opening():
    assert deadline(EIGHT_TO_SIX, beijing(15, 6, 30), CONTACT_WITHIN) == beijing(15, 8, 10)


def test_a_deadline_falling_on_closing_time_stays_there():
    assert deadline(EIGHT_TO_SIX, beijing(15, 17, 50), CONTACT_WITHIN) == beijing(15, 18, 0)


def test_a_complaint_after_midnight_utc_but_before_opening_in_beijing_counts_from_opening():
    """01:00 Beijing is 17:00 UTC of the day before: the Beijing day decides."""
    filed = beijing(16, 1, 0)
    assert filed.astimezone(clock.BUSINESS_TZ).date().day == 16
    assert deadline(EIGHT_TO_SIX, filed, CONTACT_WITHIN) == beijing(16, 8, 10)


def test_callback_within_24_business_hours_spans_several_days():
    """A 10-hour day: resolved Monday 10:00 leaves 8 h that day, 10 h Tuesday, 6 h Wednesday."""
    assert deadline(EIGHT_TO_SIX, beijing(15, 10, 0), CALLBACK_WITHIN) == beijing(17, 14, 0)


def test_callback_clock_runs_every_day_of_the_week():
    """4S stores open daily: a Saturday resolution is called back by Monday (no weekend)."""
    saturday = beijing(20, 12, 0)
    assert saturday.weekday() == 5
    # Saturday 6 h, Sunday 10 h, Monday 8 h.
    assert deadline(EIGHT_TO_SIX, saturday, CALLBACK_WITHIN) == beijing(22, 16, 0)


def test_each_store_has_its_own_hours():
    nine_to_nine = BusinessHours(9, 21)
    assert deadline(nine_to_nine, beijing(15, 20, 55), CONTACT_WITHIN) == beijing(16, 9, 5)
    assert deadline(nine_to_nine, beijing(15, 20, 0), CONTACT_WITHIN) == beijing(15, 20, 10)
    assert deadline(BusinessHours(0, 24), beijing(15, 23, 55), CONTACT_WITHIN) == beijing(16, 0, 5)


def test_business_minutes_count_only_open_hours():
    # Monday 17:00 to Tuesday 09:00: the last hour of Monday and the first of Tuesday.
    assert business_minutes(EIGHT_TO_SIX, beijing(15, 17, 0), beijing(16, 9, 0)) == 120
    # Entirely at night: nothing.
    assert business_minutes(EIGHT_TO_SIX, beijing(15, 19, 0), beijing(16, 7, 59)) == 0
    # Backwards: nothing.
    assert business_time(EIGHT_TO_SIX, beijing(16, 9, 0), beijing(15, 9, 0)) == timedelta(0)


@pytest.mark.parametrize("span", [CONTACT_WITHIN, CALLBACK_WITHIN, timedelta(minutes=1)])
def test_the_business_time_to_a_deadline_is_exactly_its_span(span):
    """For a start at every quarter hour of a day, open or closed, the business time from the
    start to its deadline is the span itself."""
    for quarter in range(96):
        start = beijing(15, 0) + timedelta(minutes=15 * quarter)
        due = deadline(EIGHT_TO_SIX, start, span)
        assert business_time(EIGHT_TO_SIX, start, due) == span, start
        assert EIGHT_TO_SIX.opens_hour <= clock.local(due).hour <= EIGHT_TO_SIX.closes_hour


def test_countdown_shows_minutes_left_and_pauses_while_closed():
    due = deadline(EIGHT_TO_SIX, beijing(15, 17, 55), CONTACT_WITHIN)  # 08:05 next morning
    evening = countdown(EIGHT_TO_SIX, due, beijing(15, 19, 0))
    assert (evening.minutes_left, evening.paused, evening.breached) == (5, True, False)
    morning = countdown(EIGHT_TO_SIX, due, beijing(16, 8, 2))
    assert (morning.minutes_left, morning.paused, morning.breached) == (3, False, False)
    late = countdown(EIGHT_TO_SIX, due, beijing(16, 8, 20))
    assert (late.minutes_left, late.minutes_over, late.breached) == (0, 15, True)


def test_opening_hours_that_make_no_day_are_refused():
    with pytest.raises(ValueError):
        BusinessHours(18, 8)
    with pytest.raises(ValueError):
        BusinessHours(8, 25)
