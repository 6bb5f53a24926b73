"""The staff tasks and the service messages of the care calendar (PRODUCT "The care calendar":
delivery 3-day call and 7-day return visit; post-service +24 h message and +7 days call;
post-repair callback after 3 days, then a thank-you message)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm import clock
from crm.errors import NotFound, ValidationError
from crm.models import CareOptOut, CareTask, CareTaskKind, OutboxMessage, OutboxState, ServiceKind
from crm.services import delivery
from crm.services.care import after_service, planner, policy, tasks
from tests import factories as f
from tests.test_care_vehicles import at, days, messages
from tests.test_deals import delivery_input, paid_deal

TODAY = date(2026, 6, 15)  # the frozen clock's day (a Monday)
YESTERDAY = TODAY - timedelta(days=1)


def plan_tasks(session, traveller, over: list[date], *names: str) -> dict[str, int]:
    """Run the named task planners for each day in turn at 06:00; the new tasks of each."""
    new = dict.fromkeys(names, 0)
    for day in over:
        traveller.move_to(at(day, 6))
        for name in names:
            new[name] += planner.TASK_PLANNERS[name](session, day, clock.now())
        session.commit()
    return new


def care_tasks(session, kind: CareTaskKind | None = None) -> list[tuple[str, datetime, int]]:
    """(kind, due on a Beijing wall clock, staff) of the tasks, by due time."""
    query = select(CareTask).order_by(CareTask.due_at, CareTask.id)
    if kind is not None:
        query = query.where(CareTask.kind == kind.value)
    return [
        (task.kind, clock.local(task.due_at).replace(tzinfo=None), task.staff_id)
        for task in session.scalars(query)
    ]


def plan_messages(session, traveller, over: list[date]) -> None:
    for day in over:
        traveller.move_to(at(day, 6))
        now = clock.now()
        policy.apply(session, day, after_service.plan(session, day, now), now)
        session.commit()


# --- delivery calls -----------------------------------------------------------------------


def test_salesperson_gets_the_3_day_call_and_the_7_day_visit_of_each_delivered_car(
    org, session, frozen_now
):
    delivered_on = date(2026, 6, 20)
    f.VehicleFactory(customer=org.customer_a1, plate="浙A12345", delivered_on=delivered_on)
    new = plan_tasks(
        session,
        frozen_now,
        days(delivered_on, delivered_on + timedelta(days=10)),
        "delivery_3dc",
        "delivery_7dc",
    )
    assert new == {"delivery_3dc": 1, "delivery_7dc": 1}
    assert care_tasks(session) == [
        ("delivery_3dc", datetime(2026, 6, 23, 10, 0), org.sales_a1.id),
        ("delivery_7dc", datetime(2026, 6, 27, 10, 0), org.sales_a1.id),
    ]
    three_day = session.scalar(select(CareTask).where(CareTask.kind == "delivery_3dc"))
    assert "浙A12345" in three_day.text and "故障灯" in three_day.text and "问卷" in three_day.text


def test_planning_the_delivery_calls_again_queues_nothing_new(org, session, frozen_now):
    f.VehicleFactory(customer=org.customer_a1, delivered_on=TODAY - timedelta(days=3))
    f.VehicleFactory(customer=org.customer_a2, delivered_on=TODAY - timedelta(days=3))
    assert planner.TASK_PLANNERS["delivery_3dc"](session, TODAY, clock.now()) == 2
    assert planner.TASK_PLANNERS["delivery_3dc"](session, TODAY, clock.now()) == 0
    assert len(care_tasks(session)) == 2


def test_delivery_calls_fall_back_to_the_deals_salesperson(org, session, frozen_now):
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a2)
    deal = paid_deal(session, org.sales_a2, lead)
    deal = delivery.deliver(session, org.sales_a2, deal.id, delivery_input(), clock.now())
    deal.customer.sales_owner_id = None  # e.g. the owner was cleared when a colleague left
    session.commit()
    plan_tasks(session, frozen_now, [TODAY + timedelta(days=3)], "delivery_3dc")
    assert care_tasks(session) == [
        ("delivery_3dc", datetime(2026, 6, 18, 10, 0), org.sales_a2.id),
    ]


def test_call_of_a_salesperson_who_left_goes_to_the_care_specialist(org, session, frozen_now):
    f.VehicleFactory(customer=org.customer_a1, delivered_on=TODAY - timedelta(days=7))
    org.sales_a1.active = False
    session.commit()
    plan_tasks(session, frozen_now, [TODAY], "delivery_7dc")
    [task] = tasks.open_tasks(session, org.care_a, clock.now())
    assert (task.kind, task.staff_id, task.customer_id) == (
        "delivery_7dc",
        None,
        org.customer_a1.id,
    )


# --- after a service ----------------------------------------------------------------------


def order(org, customer, kind: ServiceKind, opened_on: date, paid_on: date | None = None, **kw):
    vehicle = kw.pop("vehicle", None) or f.VehicleFactory(
        customer=customer, plate="浙A12345", model="凯美瑞"
    )
    return f.ServiceOrderFactory(
        vehicle=vehicle,
        kind=kind.value,
        opened_on=opened_on,
        paid_on=paid_on,
        advisor_id=org.advisor_a.id,
        **kw,
    )


def test_post_service_message_goes_the_morning_after_a_maintenance_is_paid(
    org, session, frozen_now
):
    vehicle = f.VehicleFactory(
        customer=org.customer_a1,
        plate="浙A12345",
        model="凯美瑞",
        next_service_on=date(2027, 6, 10),
        next_service_km=25000,
    )
    order(org, None, ServiceKind.PERIODIC_MAINTENANCE, TODAY, TODAY, vehicle=vehicle)
    plan_messages(session, frozen_now, days(TODAY, TODAY + timedelta(days=5)))
    [message] = messages(session, "post_service")
    assert clock.local(message.not_before).replace(tzinfo=None) == datetime(2026, 6, 16, 10, 0)
    assert message.payload["data"] == {
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "定期保养",
        "keyword3": "2026-06-15",
        "keyword4": org.advisor_a.name,
        "keyword5": "2027-06-10或25000公里",
    }


def test_post_service_counts_from_the_payment_else_from_the_opening(org, session, frozen_now):
    order(org, org.customer_a1, ServiceKind.FIRST_MAINTENANCE, TODAY - timedelta(days=5), TODAY)
    order(org, org.customer_a2, ServiceKind.PART_CHECK, TODAY)  # never marked paid
    plan_messages(session, frozen_now, days(TODAY - timedelta(days=4), TODAY + timedelta(days=3)))
    assert [
        (m.customer_id, clock.local(m.not_before).date()) for m in messages(session, "post_service")
    ] == [(org.customer_a1.id, date(2026, 6, 16)), (org.customer_a2.id, date(2026, 6, 16))]


def test_a_repair_gets_no_post_service_message_and_a_maintenance_no_repair_callback(
    org, session, frozen_now
):
    order(org, org.customer_a1, ServiceKind.REPAIR, YESTERDAY, YESTERDAY)
    order(org, org.customer_a2, ServiceKind.PERIODIC_MAINTENANCE, YESTERDAY, YESTERDAY)
    plan_messages(session, frozen_now, days(TODAY, TODAY + timedelta(days=10)))
    plan_tasks(session, frozen_now, days(TODAY, TODAY + timedelta(days=10)), "repair_callback")
    assert [m.customer_id for m in messages(session, "post_service")] == [org.customer_a2.id]
    assert [task.customer_id for task in session.scalars(select(CareTask))] == [org.customer_a1.id]


def test_advisor_calls_7_days_after_a_maintenance(org, session, frozen_now):
    order(org, org.customer_a1, ServiceKind.PERIODIC_MAINTENANCE, TODAY, TODAY)
    new = plan_tasks(
        session, frozen_now, days(TODAY, TODAY + timedelta(days=10)), "post_service_call"
    )
    assert new == {"post_service_call": 1}
    assert care_tasks(session) == [
        ("post_service_call", datetime(2026, 6, 22, 10, 0), org.advisor_a.id),
    ]


def test_call_of_an_advisor_who_left_goes_to_the_customers_advisor(org, session, frozen_now):
    other = f.StaffFactory(store=org.store_a, role="service_advisor", name="新顾问")
    org.customer_a1.advisor_id = other.id
    order(org, org.customer_a1, ServiceKind.PERIODIC_MAINTENANCE, TODAY, TODAY)
    org.advisor_a.active = False
    session.commit()
    plan_tasks(session, frozen_now, [TODAY + timedelta(days=7)], "post_service_call")
    assert [staff for _kind, _due, staff in care_tasks(session)] == [other.id]


def test_advisor_calls_back_3_days_after_a_repair_about_the_car_and_its_parts(
    org, session, frozen_now
):
    order(
        org,
        org.customer_a1,
        ServiceKind.REPAIR,
        TODAY - timedelta(days=2),
        TODAY,
        work_items="更换左前大灯",
        parts="左前大灯总成",
        work_order_no="WO-R-1",
    )
    new = plan_tasks(
        session, frozen_now, days(TODAY, TODAY + timedelta(days=10)), "repair_callback"
    )
    assert new == {"repair_callback": 1}
    assert care_tasks(session) == [
        ("repair_callback", datetime(2026, 6, 18, 10, 0), org.advisor_a.id),
    ]
    text = session.scalar(select(CareTask.text))
    assert "WO-R-1" in text and "左前大灯总成" in text and "确认更换的零件" in text


# --- the thank-you message after the repair callback --------------------------------------


@pytest.fixture
def callback(org, session, frozen_now):
    org.store_a.phone = "0571-88880001"
    order(org, org.customer_a1, ServiceKind.REPAIR, TODAY - timedelta(days=3))
    plan_tasks(session, frozen_now, [TODAY], "repair_callback")
    frozen_now.move_to(at(TODAY, 15))
    return session.scalar(select(CareTask))


def test_recording_the_repair_callback_queues_the_thank_you_message(
    org, session, frozen_now, callback
):
    task = after_service.record_outcome(
        session, org.advisor_a, callback.id, "车辆正常，零件已确认", clock.now()
    )
    assert task.done_at is not None and task.outcome == "车辆正常，零件已确认"
    [thanks] = messages(session, "repair_thanks")
    assert (thanks.state, thanks.customer_id) == (OutboxState.PENDING, org.customer_a1.id)
    assert clock.local(thanks.not_before).replace(tzinfo=None) == datetime(2026, 6, 15, 15, 0)
    assert thanks.payload["data"] == {
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": org.advisor_a.name,
        "keyword3": after_service.THANKS,
        "keyword4": "0571-88880001",
    }
    assert planner.kind("repair_thanks") is after_service.REPAIR_THANKS


def test_a_refused_outcome_closes_nothing_and_thanks_nobody(org, session, frozen_now, callback):
    with pytest.raises(ValidationError) as refused:
        after_service.record_outcome(session, org.advisor_a, callback.id, "  ", clock.now())
    assert refused.value.field == "outcome"
    with pytest.raises(NotFound):
        after_service.record_outcome(session, org.sales_a1, callback.id, "好的", clock.now())
    assert messages(session, "repair_thanks") == []
    assert session.get(CareTask, callback.id).done_at is None


def test_thanks_respect_the_customers_opt_out(org, session, frozen_now, callback):
    session.add(CareOptOut(customer_id=org.customer_a1.id, kind="repair_thanks"))
    session.commit()
    after_service.record_outcome(session, org.advisor_a, callback.id, "车辆正常", clock.now())
    assert messages(session, "repair_thanks") == []
    assert session.get(CareTask, callback.id).done_at is not None


def test_other_calls_done_send_no_thank_you(org, session, frozen_now):
    order(org, org.customer_a1, ServiceKind.PERIODIC_MAINTENANCE, TODAY - timedelta(days=7))
    plan_tasks(session, frozen_now, [TODAY], "post_service_call")
    task = session.scalar(select(CareTask))
    after_service.record_outcome(session, org.advisor_a, task.id, "客户满意", clock.now())
    assert session.scalars(select(OutboxMessage)).all() == []
