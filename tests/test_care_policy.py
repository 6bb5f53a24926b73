"""The no-harassment rules (issue 8 "No harassment"; crm.services.care.policy): one message a
customer a day, a weekly cap, greetings bundled, service reminders deferred, critical ones never
held back a week, campaigns riding along, opt-outs honoured, quiet hours kept."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from crm import clock
from crm.models import CareOptOut, CareTask, OutboxMessage, OutboxState
from crm.services.care import policy
from crm.services.care.kinds import CareItem, CareKind, Rank

MONDAY = date(2027, 3, 15)


def kind(name: str, priority: int, **flags) -> CareKind:
    return CareKind(name=name, label=name, priority=priority, fields={}, sample={}, **flags)


INSURANCE = kind("insurance_test", Rank.CRITICAL, booking_call=True)
MAINTENANCE = kind("maintenance_test", Rank.SERVICE)
GREETING = kind("greeting_test", Rank.GREETING, marketing=True)
BIRTHDAY = kind("birthday_test", Rank.GREETING + 5, early=True)
CAMPAIGN = kind("campaign_test", Rank.CAMPAIGN, marketing=True, bundle_only=True)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clock.BUSINESS_TZ)


def item(customer, care: CareKind, day: date, hour: int = 9, occasion: str = "") -> CareItem:
    return CareItem(
        kind=care,
        customer_id=customer.id,
        store_id=customer.store_id,
        occasion=occasion or day.isoformat(),
        due_on=day,
        send_at=at(day, hour),
        values={"keyword1": "值"},
    )


def plan(session, day: date, *items: CareItem) -> dict[str, int]:
    queued = policy.apply(session, day, list(items), at(day, 6))
    session.commit()
    return queued


def rows(session, customer) -> list[tuple[str, str, str]]:
    """(kind, local send time, state) of the customer's rows, in send order."""
    messages = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.customer_id == customer.id)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    return [
        (m.kind, f"{clock.local(m.not_before):%m-%d %H:%M}", OutboxState(m.state).value)
        for m in messages
    ]


@pytest.fixture
def customer(org):
    return org.customer_a1


def test_a_second_greeting_on_the_same_day_is_bundled_into_the_first_message(session, customer):
    plan(session, MONDAY, item(customer, MAINTENANCE, MONDAY), item(customer, GREETING, MONDAY))

    assert rows(session, customer) == [
        ("maintenance_test", "03-15 09:00", "pending"),
        ("greeting_test", "03-15 09:00", "bundled"),
    ]
    carrier, bundled = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert bundled.bundled_into_id == carrier.id


def test_a_second_service_reminder_on_the_same_day_waits_for_the_next_free_day(session, customer):
    plan(session, MONDAY, item(customer, INSURANCE, MONDAY), item(customer, MAINTENANCE, MONDAY))

    assert rows(session, customer) == [
        ("insurance_test", "03-15 09:00", "pending"),
        ("maintenance_test", "03-16 08:00", "pending"),
    ]


def test_critical_reminders_outrank_greetings_whatever_the_order(session, customer):
    plan(session, MONDAY, item(customer, GREETING, MONDAY), item(customer, INSURANCE, MONDAY))

    assert rows(session, customer) == [
        ("insurance_test", "03-15 09:00", "pending"),
        ("greeting_test", "03-15 09:00", "bundled"),
    ]


def test_weekly_cap_holds_a_service_notice_until_next_monday(session, customer):
    for offset in range(3):
        day = date(2027, 3, 15 + offset)
        plan(session, day, item(customer, MAINTENANCE, day, occasion=f"m{offset}"))
    thursday = date(2027, 3, 18)
    plan(session, thursday, item(customer, MAINTENANCE, thursday, occasion="fourth"))

    assert rows(session, customer)[-1] == ("maintenance_test", "03-22 08:00", "pending")


def test_weekly_cap_bundles_a_greeting_into_the_weeks_last_message(session, customer):
    for offset in range(3):
        day = date(2027, 3, 15 + offset)
        plan(session, day, item(customer, MAINTENANCE, day, occasion=f"m{offset}"))
    friday = date(2027, 3, 19)
    plan(session, friday, item(customer, GREETING, friday))

    greeting = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "greeting_test"))
    last = session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.kind == "maintenance_test")
        .order_by(OutboxMessage.not_before.desc())
    )
    assert greeting.state == OutboxState.BUNDLED and greeting.bundled_into_id == last.id


def test_a_critical_reminder_goes_out_past_the_weekly_cap(session, customer):
    for offset in range(3):
        day = date(2027, 3, 15 + offset)
        plan(session, day, item(customer, MAINTENANCE, day, occasion=f"m{offset}"))
    thursday = date(2027, 3, 18)
    plan(session, thursday, item(customer, INSURANCE, thursday))

    assert rows(session, customer)[-1] == ("insurance_test", "03-18 09:00", "pending")


def test_the_weekly_cap_is_the_groups_setting(session, customer):
    customer.store.group.care_weekly_cap = 1
    session.commit()
    plan(session, MONDAY, item(customer, MAINTENANCE, MONDAY, occasion="first"))
    tuesday = date(2027, 3, 16)
    plan(session, tuesday, item(customer, MAINTENANCE, tuesday, occasion="second"))

    assert rows(session, customer)[-1] == ("maintenance_test", "03-22 08:00", "pending")


def test_a_campaign_rides_along_with_another_message_of_the_week(session, customer):
    plan(session, MONDAY, item(customer, MAINTENANCE, MONDAY))
    wednesday = date(2027, 3, 17)
    plan(session, wednesday, item(customer, CAMPAIGN, wednesday))

    assert rows(session, customer)[-1] == ("campaign_test", "03-17 09:00", "bundled")


def test_a_campaign_goes_alone_in_a_week_without_other_messages(session, customer):
    plan(session, MONDAY, item(customer, CAMPAIGN, MONDAY))

    assert rows(session, customer) == [("campaign_test", "03-15 09:00", "pending")]


def test_a_customer_who_opted_out_of_a_kind_never_gets_it(session, customer):
    session.add(CareOptOut(customer_id=customer.id, kind=GREETING.name))
    session.commit()

    queued = plan(
        session, MONDAY, item(customer, GREETING, MONDAY), item(customer, INSURANCE, MONDAY)
    )

    assert queued == {"insurance_test": 1}
    assert [kind for kind, _, _ in rows(session, customer)] == ["insurance_test"]


def test_nothing_is_sent_in_the_quiet_hours(session, customer):
    plan(session, MONDAY, item(customer, MAINTENANCE, MONDAY, hour=22))
    tuesday = date(2027, 3, 16)
    plan(session, tuesday, item(customer, INSURANCE, tuesday, hour=6))

    assert rows(session, customer) == [
        ("maintenance_test", "03-16 08:00", "pending"),
        ("insurance_test", "03-16 08:00", "pending"),
    ]


def test_a_critical_reminder_goes_on_its_day_even_when_the_day_has_a_message(session, customer):
    plan(session, MONDAY, item(customer, MAINTENANCE, MONDAY))
    plan(session, MONDAY, item(customer, INSURANCE, MONDAY, hour=10))

    assert rows(session, customer) == [
        ("maintenance_test", "03-15 09:00", "pending"),
        ("insurance_test", "03-15 10:00", "pending"),
    ]


def test_the_birthday_window_opens_at_seven(session, customer):
    plan(session, MONDAY, item(customer, BIRTHDAY, MONDAY, hour=5))

    assert rows(session, customer) == [("birthday_test", "03-15 07:00", "pending")]


def test_planning_the_same_items_again_changes_nothing(session, customer):
    items = (item(customer, MAINTENANCE, MONDAY), item(customer, GREETING, MONDAY))
    assert plan(session, MONDAY, *items) == {"maintenance_test": 1, "greeting_test": 1}
    before = rows(session, customer)

    assert plan(session, MONDAY, *items) == {}
    assert rows(session, customer) == before


def test_a_reminder_with_a_booking_call_gives_the_advisor_a_call_the_next_day(
    session, org, customer
):
    customer.advisor_id = org.advisor_a.id
    session.commit()

    plan(session, MONDAY, item(customer, INSURANCE, MONDAY))

    task = session.scalar(select(CareTask))
    assert task.kind == "booking_call" and task.staff_id == org.advisor_a.id
    assert clock.local(task.due_at) == at(date(2027, 3, 16), 10)


def test_customers_are_capped_independently(session, org):
    first, second = org.customer_a1, org.customer_a2
    plan(session, MONDAY, item(first, MAINTENANCE, MONDAY), item(second, MAINTENANCE, MONDAY))

    assert rows(session, first) == [("maintenance_test", "03-15 09:00", "pending")]
    assert rows(session, second) == [("maintenance_test", "03-15 09:00", "pending")]
