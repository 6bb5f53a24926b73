"""The date-based care of PRODUCT "The care calendar": birthdays (before 08:30, lunar and
solar), holidays (computed dates; Teacher's Day for teachers), purchase anniversaries and
trade-in invitations, seasonal campaigns bundled with other care."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import CareTemplate, OutboxMessage, WeChatApp, WeChatIdentity
from crm.services import dispatcher
from crm.services.care import birthdays, holidays, planner, seasonal
from tests import factories as f
from wechat.client import SharedTokenClient

SITE = "https://crm.example.cn"
PLANNER_RUNS_AT = time(6, 0)  # jobs/schedule.py: plan_care


def local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clock.BUSINESS_TZ)


def plan(session, traveller, day: date) -> dict[str, int]:
    """Move the clock to the planner's morning run on ``day`` and plan the day."""
    traveller.move_to(local(day, PLANNER_RUNS_AT))
    return planner.plan_day(session, clock.today(), clock.now())


def due(session, traveller, day: date, kind: str) -> list[int]:
    """The customers ``kind`` would greet on ``day``."""
    traveller.move_to(local(day, PLANNER_RUNS_AT))
    return [
        i.customer_id for i in planner.items_for(session, day, clock.now()) if i.kind.name == kind
    ]


def rows(session, customer=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.not_before, OutboxMessage.id)
    if customer is not None:
        query = query.where(OutboxMessage.customer_id == customer.id)
    return list(session.scalars(query))


def summary(message: OutboxMessage) -> tuple[str, str, str, str]:
    sent_at = clock.local(message.not_before)
    return (message.kind, f"{sent_at:%Y-%m-%d}", f"{sent_at:%H:%M}", message.state)


@pytest.fixture
def store(session, frozen_now):
    return f.StoreFactory(name="杭州A店", phone="0571-88880000")


def customer(store, **values):
    return f.CustomerFactory(store=store, group_id=store.group_id, **values)


# Dates


def test_festival_dates_are_computed_from_the_lunar_and_solar_calendars():
    assert holidays.festival_dates(2027) == {
        "spring_festival": date(2027, 2, 6),
        "qingming": date(2027, 4, 5),
        "may_day": date(2027, 5, 1),
        "mothers_day": date(2027, 5, 9),
        "fathers_day": date(2027, 6, 20),
        "dragon_boat": date(2027, 6, 9),
        "teachers_day": date(2027, 9, 10),
        "mid_autumn": date(2027, 9, 15),
        "national_day": date(2027, 10, 1),
    }
    later = holidays.festival_dates(2028)
    assert (later["spring_festival"], later["qingming"], later["dragon_boat"]) == (
        date(2028, 1, 26),
        date(2028, 4, 4),
        date(2028, 5, 28),
    )
    assert (later["mothers_day"], later["fathers_day"], later["mid_autumn"]) == (
        date(2028, 5, 14),
        date(2028, 6, 18),
        date(2028, 10, 3),
    )


def test_campaign_days_are_computed_each_year():
    assert seasonal.campaign_dates(2027) == {
        "spring_festival_safety": date(2027, 1, 27),  # ten days before 6 February
        "may_day_trip": date(2027, 4, 25),
        "summer": date(2027, 7, 5),  # first Monday of July
        "national_day_trip": date(2027, 9, 25),
        "winter": date(2027, 12, 6),  # first Monday of December
    }
    later = seasonal.campaign_dates(2028)
    assert (later["spring_festival_safety"], later["summer"], later["winter"]) == (
        date(2028, 1, 16),
        date(2028, 7, 3),
        date(2028, 12, 4),
    )


# Birthdays


def test_birthday_in_a_leap_month_is_greeted_on_the_regular_months_day_each_year(
    session, store, frozen_now
):
    leap_born = customer(store, birthday=date(2001, 6, 1))  # 2001 闰四月初十
    assert leap_born.lunar_birth_mmdd == 410
    assert due(session, frozen_now, date(2020, 5, 2), "birthday_lunar") == [
        leap_born.id
    ]  # 四月初十
    assert due(session, frozen_now, date(2020, 6, 1), "birthday_lunar") == []  # 闰四月初十
    assert due(session, frozen_now, date(2027, 5, 15), "birthday_lunar") == [leap_born.id]


def test_birthday_on_a_lunar_30th_is_greeted_on_the_29th_when_the_month_is_short(
    session, store, frozen_now
):
    born = customer(store, birthday=date(1990, 11, 16))  # 1990 九月三十
    assert born.lunar_birth_mmdd == 930
    # 2027's ninth month has 29 days: 九月廿九 is 28 October.
    assert due(session, frozen_now, date(2027, 10, 28), "birthday_lunar") == [born.id]
    # 2026's has 30: greeted on the 30th (8 November), not on the 29th as well.
    assert due(session, frozen_now, date(2026, 11, 7), "birthday_lunar") == []
    assert due(session, frozen_now, date(2026, 11, 8), "birthday_lunar") == [born.id]

    plan(session, frozen_now, date(2027, 10, 28))
    [greeting] = rows(session, born)
    assert greeting.payload["data"]["keyword2"] == "农历九月三十"


def test_29_february_birthday_is_greeted_on_28_february_in_a_common_year(
    session, store, frozen_now
):
    born = customer(store, birthday=date(2000, 2, 29))
    assert due(session, frozen_now, date(2027, 2, 28), "birthday_solar") == [born.id]
    assert due(session, frozen_now, date(2028, 2, 28), "birthday_solar") == []
    assert due(session, frozen_now, date(2028, 2, 29), "birthday_solar") == [born.id]

    plan(session, frozen_now, date(2027, 2, 28))
    greeting = next(m for m in rows(session, born) if m.kind == "birthday_solar")
    assert greeting.payload["data"] == {
        "keyword1": born.name,
        "keyword2": "2月29日",
        "keyword3": "祝您生日快乐，幸福安康！",
        "keyword4": "杭州A店",
        "keyword5": "0571-88880000",
    }


def test_birthday_greetings_reach_the_customer_before_0830_on_the_lunar_and_the_solar_day(
    session, store, frozen_now, fake_wechat
):
    born = customer(store, birthday=date(1990, 10, 1))  # 八月十三: 13 September 2027
    session.add(
        WeChatIdentity(
            app=WeChatApp.OFFICIAL_ACCOUNT.value,
            openid="o-birthday",
            customer_id=born.id,
            subscribed=True,
            bound_at=clock.now(),
        )
    )
    for kind in ("birthday_solar", "birthday_lunar"):
        session.add(CareTemplate(group_id=store.group_id, kind=kind, template_id=f"tmpl-{kind}"))
    session.commit()
    fake_wechat.fake.subscribe("o-birthday")
    wechat = SharedTokenClient(
        fake_wechat.fake.app_id, fake_wechat.fake.app_secret, fake_wechat.base_url
    )

    for day, kind in ((date(2027, 9, 13), "birthday_lunar"), (date(2027, 10, 1), "birthday_solar")):
        plan(session, frozen_now, day)
        frozen_now.move_to(local(day, time(7, 0)))
        assert dispatcher.dispatch(session, wechat, SITE, clock.now()) == {"sent": 1}
        greeting = next(m for m in rows(session, born) if m.kind == kind)
        assert clock.local(greeting.not_before) == local(day, time(7, 0))
        assert greeting.state == "sent"
        assert clock.local(greeting.sent_at) < local(day, time(8, 30))
        assert fake_wechat.fake.sent[-1]["template_id"] == f"tmpl-{kind}"
    # National Day rode along with the solar birthday instead of a second message that day.
    assert [summary(m) for m in rows(session, born)] == [
        ("birthday_lunar", "2027-09-13", "07:00", "sent"),
        ("birthday_solar", "2027-10-01", "07:00", "sent"),
        ("holiday", "2027-10-01", "09:00", "bundled"),
    ]


def test_lunar_and_solar_birthday_on_the_same_day_make_one_message(session, store, frozen_now):
    born = customer(store, birthday=date(1989, 3, 15))  # 二月初八, which is 15 March 2027 too
    plan(session, frozen_now, date(2027, 3, 15))
    carrier, rider = rows(session, born)
    assert [summary(carrier), summary(rider)] == [
        ("birthday_lunar", "2027-03-15", "07:00", "pending"),
        ("birthday_solar", "2027-03-15", "07:00", "bundled"),
    ]
    assert rider.bundled_into_id == carrier.id
    assert carrier.payload["data"]["keyword2"] == "农历二月初八"


# Holidays


def test_teachers_day_greets_teachers_and_mid_autumn_greets_everyone(session, store, frozen_now):
    teacher = customer(store, occupation="高中老师")
    engineer = customer(store, occupation="工程师")
    assert due(session, frozen_now, date(2027, 9, 10), "holiday") == [teacher.id]
    assert due(session, frozen_now, date(2027, 9, 15), "holiday") == [teacher.id, engineer.id]
    assert due(session, frozen_now, date(2027, 9, 16), "holiday") == []

    plan(session, frozen_now, date(2027, 9, 10))
    [greeting] = rows(session)
    assert summary(greeting) == ("holiday", "2027-09-10", "09:00", "pending")
    assert greeting.dedupe_key == f"holiday:{teacher.id}:2027-teachers_day"
    assert greeting.payload["data"]["keyword2"] == "教师节"


# Anniversaries and trade-in


def test_anniversary_is_yearly_on_the_delivery_day_and_brings_a_trade_in_from_the_third_year(
    session, store, frozen_now
):
    owner = customer(store, birthday=None)
    car = f.VehicleFactory(
        customer=owner,
        model="凯美瑞",
        plate="浙A12345",
        purchase_date=date(2025, 3, 1),
        delivered_on=date(2025, 3, 10),
    )
    assert due(session, frozen_now, date(2027, 3, 1), "anniversary") == []  # not the purchase
    plan(session, frozen_now, date(2027, 3, 10))
    plan(session, frozen_now, date(2028, 3, 10))
    second, third, trade_in = rows(session, owner)
    assert [summary(second), summary(third), summary(trade_in)] == [
        ("anniversary", "2027-03-10", "10:00", "pending"),
        ("anniversary", "2028-03-10", "10:00", "pending"),
        ("trade_in", "2028-03-10", "10:00", "bundled"),
    ]
    assert second.payload["data"] == {
        "keyword1": owner.name,
        "keyword2": "凯美瑞 浙A12345",
        "keyword3": "2025-03-10",
        "keyword4": "感谢相伴2周年",
        "keyword5": "0571-88880000",
    }
    assert trade_in.bundled_into_id == third.id
    assert trade_in.payload["data"]["keyword3"] == "3年"
    assert {m.vehicle_id for m in (second, third, trade_in)} == {car.id}


def test_car_bought_on_29_february_is_remembered_on_28_february_in_a_common_year(
    session, store, frozen_now
):
    owner = customer(store, birthday=None)
    f.VehicleFactory(customer=owner, purchase_date=date(2024, 2, 29), delivered_on=None)
    assert due(session, frozen_now, date(2027, 2, 28), "anniversary") == [owner.id]
    assert due(session, frozen_now, date(2027, 2, 28), "trade_in") == [owner.id]
    assert due(session, frozen_now, date(2028, 2, 28), "anniversary") == []
    assert due(session, frozen_now, date(2028, 2, 29), "anniversary") == [owner.id]
    assert due(session, frozen_now, date(2025, 2, 28), "anniversary") == [owner.id]
    assert due(session, frozen_now, date(2025, 2, 28), "trade_in") == []  # one year old


# Seasonal campaigns


def test_seasonal_campaign_rides_along_with_the_weeks_message_and_goes_alone_otherwise(
    session, store, frozen_now
):
    with_anniversary = customer(store, birthday=None)
    f.VehicleFactory(customer=with_anniversary, delivered_on=date(2025, 12, 6))
    quiet = customer(store, birthday=None)
    f.VehicleFactory(customer=quiet, delivered_on=date(2025, 8, 1))
    no_car = customer(store, birthday=None)

    plan(session, frozen_now, date(2027, 12, 6))  # winter care, first Monday of December
    anniversary, winter = rows(session, with_anniversary)
    assert [summary(anniversary), summary(winter)] == [
        ("anniversary", "2027-12-06", "10:00", "pending"),
        ("seasonal", "2027-12-06", "10:00", "bundled"),
    ]
    assert winter.bundled_into_id == anniversary.id
    [alone] = rows(session, quiet)
    assert summary(alone) == ("seasonal", "2027-12-06", "10:00", "pending")
    assert alone.payload["data"]["keyword2"] == "冬季关爱检测"
    assert rows(session, no_car) == []


# Idempotence


def test_planning_the_same_day_twice_queues_nothing_new(session, store, frozen_now):
    born = customer(store, birthday=date(1983, 10, 1), occupation="教师")
    f.VehicleFactory(customer=born, delivered_on=date(2020, 10, 1))
    first = plan(session, frozen_now, date(2027, 10, 1))
    assert {k: n for k, n in first.items() if n} == {
        "birthday_solar": 1,
        "holiday": 1,
        "anniversary": 1,
        "trade_in": 1,
    }
    queued = session.scalar(select(func.count()).select_from(OutboxMessage))
    again = plan(session, frozen_now, date(2027, 10, 1))
    assert not any(again.values())
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == queued == 4


def test_every_kind_fills_its_fields_within_what_wechat_shows():
    kinds = [birthdays.SOLAR, birthdays.LUNAR, holidays.KIND, seasonal.KIND]
    kinds += [planner.kind("anniversary"), planner.kind("trade_in")]
    for kind in kinds:
        assert list(kind.sample) == list(kind.fields), kind.name
        assert all(len(value) <= 20 for value in kind.sample.values()), kind.name
    wishes = [festival.wish for festival in holidays.FESTIVALS]
    wishes += [campaign.content for campaign in seasonal.CAMPAIGNS]
    assert all(len(text) <= 20 for text in wishes)
