"""The vehicle care of the calendar (PRODUCT "The care calendar"; issue 8): maintenance due,
part checks, insurance expiry and annual inspection — each on its day(s) and no other, once
however often it is planned, outranking greetings where it is critical — and a simulated year
of one customer's care, messages and staff tasks together."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from crm import clock
from crm.models import (
    CareOptOut,
    CareTask,
    CareTaskKind,
    MileageSource,
    OutboxMessage,
    OutboxState,
    ServiceKind,
    Vehicle,
)
from crm.services import delivery, handover, service_orders
from crm.services.care import (
    after_service,
    inspection,
    insurance,
    maintenance,
    part_checks,
    planner,
    policy,
)
from crm.services.care.kinds import CareItem, CareKind, Rank
from crm.services.service_orders import ServiceOrderInput
from tests import factories as f
from tests.test_deals import delivery_input, paid_deal
from tests.test_workbench import counting_queries

TODAY = date(2026, 6, 15)  # the frozen clock's day (a Monday)
STORE_PHONE = "0571-88880001"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` Beijing time."""
    return datetime.combine(day, time(hour, minute), tzinfo=clock.BUSINESS_TZ)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def plan_each_morning(session, traveller, plan, over: list[date]) -> None:
    """Plan ``over`` day by day as the scheduler does, at 06:00 with the clock on that day,
    putting the kind's items through the policy."""
    for day in over:
        traveller.move_to(at(day, 6))
        now = clock.now()
        policy.apply(session, day, list(plan(session, day, now)), now)
        session.commit()


def messages(session, kind: str) -> list[OutboxMessage]:
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.kind == kind)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    ).all()


def sent_at(session, kind: str) -> list[datetime]:
    """When each message of ``kind`` goes out, on a Beijing wall clock (naive)."""
    return [clock.local(m.not_before).replace(tzinfo=None) for m in messages(session, kind)]


def booking_calls(session) -> list[tuple[datetime, int]]:
    rows = session.scalars(
        select(CareTask)
        .where(CareTask.kind == CareTaskKind.BOOKING_CALL.value)
        .order_by(CareTask.due_at)
    )
    return [(clock.local(task.due_at).replace(tzinfo=None), task.staff_id) for task in rows]


@pytest.fixture
def customer(org, session):
    """Store A's customer 甲 with an after-sales advisor, and the store's booking phone."""
    org.store_a.phone = STORE_PHONE
    org.customer_a1.advisor_id = org.advisor_a.id
    session.commit()
    return org.customer_a1


# --- maintenance due ----------------------------------------------------------------------


def test_maintenance_is_announced_seven_days_and_one_day_ahead_at_nine(
    org, session, frozen_now, customer
):
    due = date(2026, 6, 30)
    f.VehicleFactory(
        customer=customer,
        plate="浙A12345",
        model="凯美瑞",
        next_service_on=due,
        next_service_km=15000,
        next_service_kind=ServiceKind.PERIODIC_MAINTENANCE.value,
    )
    plan_each_morning(session, frozen_now, maintenance.plan, days(TODAY, due))

    assert sent_at(session, "maintenance_due") == [
        datetime(2026, 6, 23, 9, 0),
        datetime(2026, 6, 29, 9, 0),
    ]
    first = messages(session, "maintenance_due")[0]
    assert first.payload["data"] == {
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "定期保养",
        "keyword3": "2026-06-30",
        "keyword4": "15000公里",
        "keyword5": STORE_PHONE,
    }
    assert first.payload["url"] == "/m/bookings/"
    # "call next day to book": the advisor's call the day after each message
    assert booking_calls(session) == [
        (datetime(2026, 6, 24, 10, 0), org.advisor_a.id),
        (datetime(2026, 6, 30, 10, 0), org.advisor_a.id),
    ]


def test_maintenance_reminder_is_planned_once_however_often_the_day_is_planned(
    org, session, frozen_now, customer
):
    vehicle = f.VehicleFactory(customer=customer, next_service_on=TODAY + timedelta(days=7))
    first = planner.plan_day(session, TODAY, clock.now())
    again = planner.plan_day(session, TODAY, clock.now())
    assert (first["maintenance_due"], again["maintenance_due"]) == (1, 0)
    [message] = messages(session, "maintenance_due")
    assert message.dedupe_key == f"maintenance_due:{customer.id}:{vehicle.id}:2026-06-22:7d"
    assert len(booking_calls(session)) == 1


def test_a_replanned_service_is_announced_for_its_new_date(org, session, frozen_now, customer):
    vehicle = f.VehicleFactory(customer=customer, next_service_on=TODAY + timedelta(days=1))
    plan_each_morning(session, frozen_now, maintenance.plan, [TODAY])
    vehicle.next_service_on = TODAY + timedelta(days=8)  # an order moved the next service
    session.commit()
    plan_each_morning(session, frozen_now, maintenance.plan, days(TODAY, TODAY + timedelta(days=9)))
    assert [m.due_on for m in messages(session, "maintenance_due")] == [
        date(2026, 6, 16),
        date(2026, 6, 23),
        date(2026, 6, 23),
    ]


# --- part checks --------------------------------------------------------------------------


def vehicle_with_readings(customer, delivered_on: date, *readings: tuple[date, int]) -> Vehicle:
    vehicle = f.VehicleFactory(customer=customer, delivered_on=delivered_on, plate="浙A66666")
    for read_on, km in readings:
        f.MileageReadingFactory(
            vehicle_id=vehicle.id, read_on=read_on, km=km, source=MileageSource.SERVICE.value
        )
    return vehicle


def test_part_check_by_time_is_announced_the_day_before_half_a_year(
    org, session, frozen_now, customer
):
    # 40 km a day (no history of its own): 10,000 km only in September, so time comes first
    vehicle_with_readings(customer, date(2026, 1, 15), (date(2026, 1, 15), 12))
    plan_each_morning(
        session, frozen_now, part_checks.plan, days(date(2026, 7, 1), date(2026, 7, 31))
    )
    [message] = messages(session, "part_check")
    assert clock.local(message.not_before).replace(tzinfo=None) == datetime(2026, 7, 14, 9, 0)
    assert message.payload["data"] == {
        "keyword1": "浙A66666 凯美瑞",
        "keyword2": "交车半年/1万公里零件检查",
        "keyword3": "2026-07-15",
        "keyword4": STORE_PHONE,
    }
    assert booking_calls(session) == [(datetime(2026, 7, 15, 10, 0), org.advisor_a.id)]


def test_part_check_by_predicted_mileage_comes_before_the_date(org, session, frozen_now, customer):
    # 100 km a day: 9,000 km on 1 June, 10,000 km expected on 11 June, months before September
    vehicle_with_readings(
        customer, date(2026, 3, 3), (date(2026, 3, 3), 0), (date(2026, 6, 1), 9000)
    )
    plan_each_morning(
        session, frozen_now, part_checks.plan, days(date(2026, 6, 2), date(2026, 6, 30))
    )
    assert sent_at(session, "part_check") == [datetime(2026, 6, 10, 9, 0)]
    assert messages(session, "part_check")[0].due_on == date(2026, 6, 11)


def test_part_check_found_due_by_a_new_reading_is_announced_at_once_and_once(
    org, session, frozen_now, customer
):
    vehicle = vehicle_with_readings(customer, date(2026, 1, 5), (date(2026, 1, 5), 12))
    plan_each_morning(session, frozen_now, part_checks.plan, [TODAY])
    assert messages(session, "part_check") == []  # 40 km a day: due by time on 5 July
    # the car comes in with 11,000 km: the 10,000 km check was due already
    f.MileageReadingFactory(
        vehicle_id=vehicle.id, read_on=TODAY, km=11000, source=MileageSource.SERVICE.value
    )
    plan_each_morning(
        session, frozen_now, part_checks.plan, days(TODAY + timedelta(days=1), date(2026, 7, 10))
    )
    assert sent_at(session, "part_check") == [datetime(2026, 6, 16, 9, 0)]


def test_each_part_check_follows_its_own_milestone(org, session, frozen_now, customer):
    delivered = date(2025, 6, 20)  # a year ago, 40 km a day: 1 year comes before 20,000 km
    vehicle_with_readings(customer, delivered, (delivered, 12))
    plan_each_morning(session, frozen_now, part_checks.plan, days(TODAY, date(2026, 6, 25)))
    [message] = messages(session, "part_check")
    assert message.payload["data"]["keyword2"] == "交车1年/2万公里零件检查"
    assert message.dedupe_key.endswith(":12m")
    assert clock.local(message.not_before).date() == date(2026, 6, 19)


def test_part_checks_use_the_stores_average_rate_without_a_history_of_their_own(
    org, session, frozen_now, customer
):
    # another car of the store does 100 km a day; ours has only its delivery reading
    vehicle_with_readings(
        org.customer_a2, date(2024, 1, 1), (date(2024, 1, 1), 0), (date(2024, 3, 1), 6000)
    )
    vehicle_with_readings(customer, date(2026, 5, 20), (date(2026, 5, 20), 0))
    plan_each_morning(session, frozen_now, part_checks.plan, days(TODAY, date(2026, 9, 1)))
    # 10,000 km at 100 km a day: 100 days after delivery, 28 August
    assert sent_at(session, "part_check") == [datetime(2026, 8, 27, 9, 0)]


# --- insurance and inspection -------------------------------------------------------------

DATED_KINDS = [
    pytest.param(insurance.COMPULSORY, insurance.plan_compulsory, "compulsory_insurance_expiry"),
    pytest.param(insurance.COMMERCIAL, insurance.plan_commercial, "commercial_insurance_expiry"),
    pytest.param(inspection.KIND, inspection.plan, "inspection_due"),
]


@pytest.mark.parametrize(("kind", "plan", "column"), DATED_KINDS)
def test_insurance_and_inspection_are_announced_thirty_and_seven_days_ahead(
    org, session, frozen_now, customer, kind, plan, column
):
    due = date(2026, 7, 20)
    f.VehicleFactory(customer=customer, plate="浙A12345", model="凯美瑞", **{column: due})
    plan_each_morning(session, frozen_now, plan, days(TODAY, due))
    assert sent_at(session, kind.name) == [
        datetime(2026, 6, 20, 9, 0),
        datetime(2026, 7, 13, 9, 0),
    ]
    first = messages(session, kind.name)[0]
    assert "2026-07-20" in first.payload["data"].values()
    assert STORE_PHONE in first.payload["data"].values()
    assert first.priority == Rank.CRITICAL
    # "message, call next day"
    assert [call for call, _staff in booking_calls(session)] == [
        datetime(2026, 6, 21, 10, 0),
        datetime(2026, 7, 14, 10, 0),
    ]


def test_insurance_payload_names_the_policy(org, session, frozen_now, customer):
    due = TODAY + timedelta(days=30)
    f.VehicleFactory(
        customer=customer,
        plate="浙A12345",
        model="凯美瑞",
        compulsory_insurance_expiry=due,
        commercial_insurance_expiry=due,
    )
    plan_each_morning(session, frozen_now, insurance.plan_compulsory, [TODAY])
    plan_each_morning(session, frozen_now, insurance.plan_commercial, [TODAY])
    [compulsory] = messages(session, "insurance_compulsory")
    [commercial] = messages(session, "insurance_commercial")
    assert compulsory.payload["data"] == {
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "交强险",
        "keyword3": "2026-07-15",
        "keyword4": STORE_PHONE,
    }
    assert commercial.payload["data"]["keyword2"] == "商业险"


GREETING = CareKind(
    name="test_greeting",
    label="测试问候",
    priority=Rank.GREETING,
    fields={"keyword1": "问候"},
    sample={"keyword1": "节日快乐"},
)


@pytest.mark.parametrize(("kind", "plan", "column"), DATED_KINDS)
def test_insurance_and_inspection_outrank_a_greeting_on_the_same_day(
    org, session, frozen_now, customer, kind, plan, column
):
    f.VehicleFactory(customer=customer, **{column: TODAY + timedelta(days=7)})
    greeting = CareItem(
        kind=GREETING,
        customer_id=customer.id,
        store_id=customer.store_id,
        occasion="2026",
        due_on=TODAY,
        send_at=at(TODAY, 8),  # earlier in the day than the reminder
        values={"keyword1": "节日快乐"},
    )
    now = clock.now()
    policy.apply(session, TODAY, [greeting, *plan(session, TODAY, now)], now)
    session.commit()
    [reminder] = messages(session, kind.name)
    [bundled] = messages(session, GREETING.name)
    assert reminder.state == OutboxState.PENDING and reminder.bundled_into_id is None
    assert (bundled.state, bundled.bundled_into_id) == (OutboxState.BUNDLED, reminder.id)


# --- set-based ----------------------------------------------------------------------------


def _vehicles_due(org, customer, count: int) -> None:
    """``count`` vehicles with every date of the vehicle kinds due, a delivery reading and a
    maintenance order settled yesterday."""
    in_week = TODAY + timedelta(days=7)
    for n in range(count):
        # half a year or a year ago tomorrow: a part check falls due
        delivered_on = TODAY + timedelta(days=1) - relativedelta(months=6 if n % 2 else 12)
        vehicle = vehicle_with_readings(customer, delivered_on, (delivered_on, 0))
        vehicle.next_service_on = TODAY + timedelta(days=1 if n % 2 else 7)
        vehicle.compulsory_insurance_expiry = TODAY + timedelta(days=30)
        vehicle.commercial_insurance_expiry = vehicle.inspection_due = in_week
        f.ServiceOrderFactory(
            vehicle=vehicle,
            advisor_id=org.advisor_a.id,
            opened_on=TODAY - timedelta(days=1),
            paid_on=TODAY - timedelta(days=1),
        )


@pytest.mark.parametrize(
    "plan",
    [
        maintenance.plan,
        part_checks.plan,
        insurance.plan_compulsory,
        insurance.plan_commercial,
        inspection.plan,
        after_service.plan,
    ],
)
def test_planning_a_kind_takes_the_same_queries_for_many_vehicles_as_for_few(
    org, session, frozen_now, customer, plan
):
    _vehicles_due(org, customer, 2)
    with counting_queries(session) as few:
        few_items = plan(session, TODAY, clock.now())
    _vehicles_due(org, org.customer_a2, 12)
    with counting_queries(session) as many:
        many_items = plan(session, TODAY, clock.now())
    assert len(few_items) < len(many_items)
    assert len(many) == len(few)


# --- a year of care -----------------------------------------------------------------------

SIMULATED = {
    "new_car",
    "maintenance_due",
    "part_check",
    "insurance_compulsory",
    "insurance_commercial",
    "inspection",
    "post_service",
    "repair_thanks",
}


def test_a_year_of_care_for_a_customer_delivered_on_10_january(org, session, frozen_now):
    """Every day of 2027 planned at 06:00 with the clock on that day: the car is delivered on
    10 January, has its first maintenance on 18 May and a repair on 20 September (paid the
    next day); insurance renews on 9 January 2028."""
    org.store_a.phone = STORE_PHONE
    session.commit()
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="全年客户")
    customer_id = vehicle_id = repair_id = None
    for day in days(date(2027, 1, 1), date(2027, 12, 31)):
        frozen_now.move_to(at(day, 6))
        planner.plan_day(session, day, clock.now())
        frozen_now.move_to(at(day, 11))
        now = clock.now()
        if day == date(2027, 1, 10):
            deal = paid_deal(session, org.sales_a1, lead)
            deal = delivery.deliver(
                session,
                org.sales_a1,
                deal.id,
                delivery_input(
                    plate="浙A8K888",
                    compulsory_insurance_expiry=date(2028, 1, 9),
                    commercial_insurance_expiry=date(2028, 1, 9),
                    inspection_due=date(2033, 1, 10),
                ),
                now,
            )
            customer_id, vehicle_id = deal.customer_id, deal.vehicle_id
            handover.assign_advisor(session, org.store_admin_a, customer_id, org.advisor_a.id, now)
            # greetings, holidays and the like have tests of their own
            for kind in planner.all_kinds():
                if kind.name not in SIMULATED:
                    session.add(CareOptOut(customer_id=customer_id, kind=kind.name))
            session.commit()
        elif day == date(2027, 5, 18):
            service_orders.record(
                session,
                org.advisor_a,
                vehicle_id,
                ServiceOrderInput("WO20270518", "first_maintenance", day, 5300, paid_on=day),
                now,
            )
        elif day == date(2027, 9, 20):
            repair_id = service_orders.record(
                session,
                org.advisor_a,
                vehicle_id,
                ServiceOrderInput("WO20270920", "repair", day, 10500, parts="左前大灯总成"),
                now,
            ).id
        elif day == date(2027, 9, 21):
            service_orders.mark_paid(session, org.advisor_a, repair_id, day, now)
        elif day == date(2027, 9, 24):
            frozen_now.move_to(at(day, 15))
            [callback] = session.scalars(
                select(CareTask.id).where(CareTask.kind == CareTaskKind.REPAIR_CALLBACK.value)
            )
            after_service.record_outcome(
                session, org.advisor_a, callback, "车辆正常，大灯已更换", clock.now()
            )

    sent = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.customer_id == customer_id)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
    )
    assert [
        (m.kind, clock.local(m.not_before).strftime("%Y-%m-%d %H:%M"), m.state) for m in sent
    ] == [
        ("new_car", "2027-01-10 11:00", "pending"),  # at the hand-over
        # first maintenance by predicted mileage: 5,012 km at 40 km a day, 15 May
        ("maintenance_due", "2027-05-08 09:00", "pending"),
        ("maintenance_due", "2027-05-14 09:00", "pending"),
        ("post_service", "2027-05-19 10:00", "pending"),  # the day after the maintenance
        ("part_check", "2027-07-09 09:00", "pending"),  # half a year comes before 10,000 km
        ("repair_thanks", "2027-09-24 15:00", "pending"),  # when the callback was done
        # both policies expire on 9 January: critical reminders each go on their day
        ("insurance_commercial", "2027-12-10 09:00", "pending"),
        ("insurance_compulsory", "2027-12-10 09:00", "pending"),
    ]
    staff_tasks = session.scalars(
        select(CareTask)
        .where(CareTask.customer_id == customer_id)
        .order_by(CareTask.due_at, CareTask.id)
    )
    seller, advisor = org.sales_a1.id, org.advisor_a.id
    assert [
        (t.kind, clock.local(t.due_at).strftime("%Y-%m-%d %H:%M"), t.staff_id) for t in staff_tasks
    ] == [
        ("delivery_3dc", "2027-01-13 10:00", seller),
        ("delivery_7dc", "2027-01-17 10:00", seller),
        ("booking_call", "2027-05-09 10:00", advisor),
        ("booking_call", "2027-05-15 10:00", advisor),
        ("post_service_call", "2027-05-25 10:00", advisor),
        ("booking_call", "2027-07-10 10:00", advisor),
        ("repair_callback", "2027-09-24 10:00", advisor),  # 3 days after it was paid
        ("booking_call", "2027-12-11 10:00", advisor),
        ("booking_call", "2027-12-11 10:00", advisor),
    ]
    vehicle = session.get(Vehicle, vehicle_id)
    assert vehicle.next_service_on > date(2027, 12, 31)  # the next maintenance is in 2028
