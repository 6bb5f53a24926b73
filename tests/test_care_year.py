"""A year of date-based care for one customer (PRODUCT "The care calendar"): the planner runs
every morning of 2027 with the clock moved day by day, and the customer's outbox is exactly
what the calendar and the no-harassment policy promise — one message a day, holidays riding
along with a birthday, seasonal campaigns riding along with the week's message."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm import clock
from crm.services.care import planner
from tests import factories as f
from tests.test_care_dates import customer, plan, rows, summary


@pytest.fixture
def store(session, frozen_now):
    return f.StoreFactory(name="杭州A店", phone="0571-88880000")


def test_a_year_of_care_for_a_teacher_with_a_car(session, store, frozen_now):
    # Born 1 October 1983 (lunar 八月廿五: 25 September 2027), a teacher, car delivered on
    # 25 January 2023 (bought five days before).
    teacher = customer(store, name="张老师", birthday=date(1983, 10, 1), occupation="小学教师")
    f.VehicleFactory(
        customer=teacher, purchase_date=date(2023, 1, 20), delivered_on=date(2023, 1, 25)
    )

    day = date(2027, 1, 1)
    while day.year == 2027:
        plan(session, frozen_now, day)
        day += timedelta(days=1)

    messages = rows(session, teacher)
    assert [(m.dedupe_key.split(":")[-1], *summary(m)) for m in messages] == [
        # 4th anniversary (Monday); the trade-in invitation and, on Wednesday, the Spring
        # Festival safety check ride along with it.
        ("2027", "anniversary", "2027-01-25", "10:00", "pending"),
        ("2027", "trade_in", "2027-01-25", "10:00", "bundled"),
        ("2027-spring_festival_safety", "seasonal", "2027-01-27", "10:00", "bundled"),
        ("2027-spring_festival", "holiday", "2027-02-06", "09:00", "pending"),
        ("2027-qingming", "holiday", "2027-04-05", "09:00", "pending"),
        # Nothing else that week: the campaign goes alone.
        ("2027-may_day_trip", "seasonal", "2027-04-25", "10:00", "pending"),
        ("2027-may_day", "holiday", "2027-05-01", "09:00", "pending"),
        ("2027-mothers_day", "holiday", "2027-05-09", "09:00", "pending"),
        ("2027-dragon_boat", "holiday", "2027-06-09", "09:00", "pending"),
        ("2027-fathers_day", "holiday", "2027-06-20", "09:00", "pending"),
        ("2027-summer", "seasonal", "2027-07-05", "10:00", "pending"),
        ("2027-teachers_day", "holiday", "2027-09-10", "09:00", "pending"),
        ("2027-mid_autumn", "holiday", "2027-09-15", "09:00", "pending"),
        # The lunar birthday, before 08:30, carries the National Day trip check.
        ("2027", "birthday_lunar", "2027-09-25", "07:00", "pending"),
        ("2027-national_day_trip", "seasonal", "2027-09-25", "10:00", "bundled"),
        # The solar birthday is National Day: one message, the holiday rides along.
        ("2027", "birthday_solar", "2027-10-01", "07:00", "pending"),
        ("2027-national_day", "holiday", "2027-10-01", "09:00", "bundled"),
        ("2027-winter", "seasonal", "2027-12-06", "10:00", "pending"),
    ]
    carriers = {m.id: m for m in messages if m.state == "pending"}
    for rider in (m for m in messages if m.state == "bundled"):
        carrier = carriers[rider.bundled_into_id]
        assert week(carrier) == week(rider)
    for message in messages:
        kind = planner.kind(message.kind)
        assert list(message.payload["data"]) == list(kind.fields), message.kind
        assert all(message.payload["data"].values()), message.kind
        assert not any(v.endswith("…") for v in message.payload["data"].values()), message.kind


def week(message) -> tuple[int, int]:
    return clock.local(message.not_before).isocalendar()[:2]
