"""A greeting bundled into another message still reaches the customer: the message opens the
member page, which shows it with everything bundled into it (crm.services.care.inbox)."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import select

from crm import clock
from crm.models import CareChannel, OutboxMessage, OutboxState
from crm.services.care import planner, policy
from crm.services.care.kinds import CareItem, CareKind

DAY = date(2026, 6, 15)
REMINDER = planner.kind("maintenance_due")
GREETING = planner.kind("holiday")


def _item(customer, kind: CareKind, values: dict) -> CareItem:
    return CareItem(
        kind=kind,
        customer_id=customer.id,
        store_id=customer.store_id,
        occasion="2026",
        due_on=DAY,
        send_at=datetime.combine(DAY, time(9), tzinfo=clock.BUSINESS_TZ),
        values=values,
    )


def test_member_page_shows_a_sent_reminder_with_the_greeting_bundled_into_it(
    client, session, org, frozen_now
):
    customer = org.customer_a1
    items = [
        _item(customer, REMINDER, dict.fromkeys(REMINDER.fields, "2026-06-22")),
        _item(customer, GREETING, dict.fromkeys(GREETING.fields, "端午节快乐")),
    ]
    policy.apply(session, DAY, items, clock.now())
    carrier = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "maintenance_due"))
    carrier.state, carrier.channel, carrier.sent_at = "sent", CareChannel.TEMPLATE, clock.now()
    session.commit()
    bundled = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "holiday"))
    assert bundled.state == OutboxState.BUNDLED

    client.post("/m/login", data={"phone": customer.phone})
    page = client.get("/m/").get_data(as_text=True)

    assert "我的提醒" in page
    assert "2026-06-22" in page and "端午节快乐" in page
    assert page.index("2026-06-22") < page.index("端午节快乐")
    assert page.count("care-message--bundled") == 1


def test_member_page_without_sent_messages_has_no_reminder_section(client, org):
    client.post("/m/login", data={"phone": org.customer_a1.phone})

    assert "我的提醒" not in client.get("/m/").get_data(as_text=True)
