"""Service orders (issue 7 "After-sales"; PRODUCT "Records", "Membership"): recording one,
what it sets off (mileage history, next service, member tier), bad input refused with the
field named and nothing changed, who may record, and the staff H5 vehicle pages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.models import MemberCard, MileageReading, Role, ServiceKind, ServiceOrder
from crm.services import membership, service_orders
from crm.services.service_orders import ServiceOrderInput
from tests import factories as f
from tests.conftest import login


@pytest.fixture
def car(org, session):
    """Customer 甲's car at store A: delivered 2026-01-10 with 10 km, first service due on
    2026-07-10 or at 5,000 km."""
    vehicle = f.VehicleFactory(
        customer=org.customer_a1,
        plate="浙A8S888",
        delivered_on=date(2026, 1, 10),
        first_maintenance_date=date(2026, 7, 10),
        first_maintenance_km=5000,
        mileage_km=10,
        next_service_kind=ServiceKind.FIRST_MAINTENANCE.value,
        next_service_on=date(2026, 7, 10),
        next_service_km=5000,
    )
    f.MileageReadingFactory(vehicle_id=vehicle.id, read_on=date(2026, 1, 10), km=10)
    return vehicle


def order(**overrides) -> ServiceOrderInput:
    values = {
        "work_order_no": "WO-A-0001",
        "kind": ServiceKind.FIRST_MAINTENANCE.value,
        "opened_on": date(2026, 6, 10),
        "mileage_km": 5200,
        "work_items": "首保：更换机油、机滤",
        "parts": "机油 4L",
        "labour_yuan": "300",
        "parts_yuan": "450.50",
    }
    values.update(overrides)
    return ServiceOrderInput(**values)


def record(session, actor, vehicle, **overrides) -> ServiceOrder:
    return service_orders.record(session, actor, vehicle.id, order(**overrides), clock.now())


def snapshot(session, vehicle) -> tuple:
    """Everything a refused order must leave as it was."""
    session.expire_all()
    orders = session.scalar(select(func.count()).select_from(ServiceOrder))
    readings = session.scalars(
        select(MileageReading.km).where(MileageReading.vehicle_id == vehicle.id)
    ).all()
    cards = session.scalar(select(func.count()).select_from(MemberCard))
    plan = (vehicle.next_service_kind, vehicle.next_service_on, vehicle.next_service_km)
    return orders, sorted(readings), cards, vehicle.mileage_km, plan


def refused(session, actor, vehicle, error=ValidationError, **overrides):
    before = snapshot(session, vehicle)
    with pytest.raises(error) as caught:
        record(session, actor, vehicle, **overrides)
    assert snapshot(session, vehicle) == before
    return caught.value


# --- the rules ---------------------------------------------------------------------------------


def test_mileage_lower_than_the_last_reading_is_refused_and_nothing_changes(
    session, org, car, frozen_now
):
    f.MileageReadingFactory(vehicle_id=car.id, read_on=date(2026, 3, 1), km=3000)
    car.mileage_km = 3000
    session.commit()

    error = refused(session, org.advisor_a, car, mileage_km=2999)

    assert error.field == "mileage_km" and "低于" in error.message


def test_a_mileage_above_a_later_reading_is_refused(session, org, car, frozen_now):
    f.MileageReadingFactory(vehicle_id=car.id, read_on=date(2026, 6, 12), km=6000)
    error = refused(session, org.advisor_a, car, mileage_km=6001, opened_on=date(2026, 6, 10))
    assert error.field == "mileage_km" and "高于" in error.message


def test_negative_labour_cost_is_refused_naming_the_field(session, org, car, frozen_now):
    error = refused(session, org.advisor_a, car, labour_yuan="-300")
    assert (error.field, error.message) == ("labour_yuan", "金额不能为负数")

    parts = refused(session, org.advisor_a, car, parts_yuan="-0.01")
    assert parts.field == "parts_yuan"


def test_money_is_kept_in_fen_and_blank_money_is_zero(session, org, car, frozen_now):
    written = record(session, org.advisor_a, car, labour_yuan="1,234.56", parts_yuan="")
    assert (written.labour_fen, written.parts_fen, written.total_fen) == (123456, 0, 123456)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"work_order_no": "  "}, "work_order_no"),
        ({"work_order_no": "WO 1"}, "work_order_no"),
        ({"work_order_no": "W" * 31}, "work_order_no"),
        ({"kind": "洗车"}, "kind"),
        ({"opened_on": None}, "opened_on"),
        ({"opened_on": "2026-13-01"}, "opened_on"),
        ({"opened_on": date(2026, 6, 16)}, "opened_on"),
        ({"mileage_km": ""}, "mileage_km"),
        ({"mileage_km": "5200.5"}, "mileage_km"),
        ({"mileage_km": "-5"}, "mileage_km"),
        ({"labour_yuan": "三百"}, "labour_yuan"),
        ({"work_items": "x" * 2001}, "work_items"),
        ({"paid_on": date(2026, 6, 16)}, "paid_on"),
        ({"paid_on": date(2026, 6, 9)}, "paid_on"),
    ],
)
def test_bad_input_is_refused_naming_the_field(session, org, car, frozen_now, overrides, field):
    assert refused(session, org.advisor_a, car, **overrides).field == field


def test_a_work_order_no_is_recorded_once(session, org, car, frozen_now):
    record(session, org.advisor_a, car)
    error = refused(
        session, org.advisor_a, car, Conflict, mileage_km=5300, kind="periodic_maintenance"
    )
    assert (error.field, error.message) == ("work_order_no", "工单号已存在")


def test_the_kind_may_be_given_by_its_chinese_label(session, org, car, frozen_now):
    written = record(session, org.advisor_a, car, kind="首保")
    assert (written.kind, written.kind_label) == ("first_maintenance", "首保")


def test_order_updates_mileage_history_and_next_service(session, org, car, frozen_now):
    written = record(session, org.advisor_a, car)

    readings = session.execute(
        select(MileageReading.read_on, MileageReading.km, MileageReading.source)
        .where(MileageReading.vehicle_id == car.id)
        .order_by(MileageReading.read_on)
    ).all()
    assert readings == [(date(2026, 1, 10), 10, "manual"), (date(2026, 6, 10), 5200, "service")]
    reading = session.scalar(select(MileageReading).where(MileageReading.km == 5200))
    assert reading.service_order_id == written.id
    assert car.mileage_km == 5200
    # After the first maintenance: the periodic one, 10,000 km later (the default interval)
    # or 12 months later, whichever comes first. The car did 5,190 km in 151 days, so it
    # reaches 15,200 km in 291 days: on 2027-03-28, before 2027-06-10.
    assert car.next_service_kind == ServiceKind.PERIODIC_MAINTENANCE.value
    assert car.next_service_km == 15200
    assert car.next_service_on == date(2027, 3, 28)


def test_an_old_order_recorded_late_fits_between_the_readings(session, org, car, frozen_now):
    f.MileageReadingFactory(vehicle_id=car.id, read_on=date(2026, 6, 1), km=9000)
    car.mileage_km = 9000
    session.commit()
    written = record(session, org.advisor_a, car, opened_on=date(2026, 4, 1), mileage_km=4800)
    assert written.mileage_km == 4800
    assert car.mileage_km == 9000  # the car keeps its highest reading


def test_paid_order_raises_the_member_tier(session, org, car, frozen_now):
    # ¥49,000 already paid on the customer's other car: one order short of silver.
    other = f.VehicleFactory(customer=org.customer_a1)
    f.ServiceOrderFactory(
        vehicle=other, labour_fen=4_900_000, parts_fen=0, paid_on=date(2026, 2, 1)
    )
    card = membership.recompute(session, org.customer_a1, clock.now())
    assert card.tier == ""

    # ¥400 labour + ¥600 parts, paid: exactly ¥50,000.
    record(session, org.advisor_a, car, labour_yuan="400", parts_yuan="600", paid_on="2026-06-10")

    session.refresh(card)
    assert (card.tier, card.spend_fen) == ("silver", 5_000_000)


def test_an_open_order_counts_once_it_is_paid(session, org, car, frozen_now):
    f.ServiceOrderFactory(
        vehicle=f.VehicleFactory(customer=org.customer_a1),
        labour_fen=4_999_900,
        parts_fen=0,
        paid_on=date(2026, 2, 1),
    )
    card = membership.recompute(session, org.customer_a1, clock.now())
    written = record(session, org.advisor_a, car, labour_yuan="1", parts_yuan="0")
    session.refresh(card)
    assert written.paid_on is None and card.tier == ""

    with pytest.raises(ValidationError) as early:
        service_orders.mark_paid(session, org.advisor_a, written.id, "2026-06-01", clock.now())
    assert early.value.field == "paid_on"

    service_orders.mark_paid(session, org.advisor_a, written.id, "2026-06-15", clock.now())
    session.refresh(card)
    assert written.paid_on == date(2026, 6, 15) and card.tier == "silver"
    with pytest.raises(Conflict):
        service_orders.mark_paid(session, org.advisor_a, written.id, "2026-06-15", clock.now())


# --- the advisor and who may record ------------------------------------------------------------


def test_the_acting_advisor_is_the_default_advisor(session, org, car, frozen_now):
    assert record(session, org.advisor_a, car).advisor_id == org.advisor_a.id


def test_a_store_admin_records_for_the_customers_advisor_or_names_one(
    session, org, car, frozen_now
):
    error = refused(session, org.store_admin_a, car)
    assert error.field == "advisor_id"

    org.customer_a1.advisor_id = org.advisor_a.id
    session.commit()
    written = record(session, org.store_admin_a, car)
    assert written.advisor_id == org.advisor_a.id and written.created_by_id == org.store_admin_a.id


def test_the_advisor_must_serve_the_vehicles_store(session, org, car, frozen_now):
    other_store = f.StaffFactory(
        store=org.store_b, group_id=org.store_b.group_id, role=Role.SERVICE_ADVISOR.value
    )
    left = f.StaffFactory(
        store=org.store_a, group_id=org.store_a.group_id, role=Role.SERVICE_ADVISOR.value
    )
    left.active = False
    session.commit()
    for advisor in (other_store, left, org.sales_a1):
        error = refused(session, org.advisor_a, car, advisor_id=advisor.id)
        assert error.field == "advisor_id"


@pytest.mark.parametrize("role", ["sales_a1", "supervisor_a1", "care_a", "group_admin"])
def test_only_advisors_and_the_store_admin_record_orders(session, org, car, frozen_now, role):
    with pytest.raises((Forbidden, NotFound)):
        record(session, getattr(org, role), car)


def test_another_stores_vehicle_answers_404(session, org, frozen_now):
    theirs = f.VehicleFactory(customer=org.customer_b)
    with pytest.raises(NotFound):
        record(session, org.advisor_a, theirs)


def test_store_listing_shows_the_actors_stores_only(session, org, car, frozen_now):
    record(session, org.advisor_a, car)
    f.ServiceOrderFactory(vehicle=f.VehicleFactory(customer=org.customer_b), work_order_no="B-1")

    def numbers(actor, store_id=None):
        query = service_orders.for_store(actor, store_id)
        return [found.work_order_no for found in session.scalars(query)]

    assert numbers(org.store_admin_a) == ["WO-A-0001"]
    assert numbers(org.store_admin_b) == ["B-1"]
    assert sorted(numbers(org.group_admin)) == ["B-1", "WO-A-0001"]
    assert numbers(org.group_admin, org.store_b.id) == ["B-1"]
    vehicle_orders = session.scalars(service_orders.for_vehicle(org.sales_b, car.id)).all()
    assert vehicle_orders == []


# --- the staff H5 pages ------------------------------------------------------------------------


def post_order(client, car, **fields):
    """The H5 "录入工单" form, sent."""
    data = {
        "work_order_no": "WO-H5-1",
        "kind": "first_maintenance",
        "opened_on": "2026-06-15",
        "mileage_km": "5,100",
        "labour_yuan": "200",
        "parts_yuan": "300",
        **fields,
    }
    return client.post(f"/h5/vehicles/{car.id}/service-orders/new", data=data)


def test_customer_page_links_each_vehicle_to_its_page(client, session, org, car, frozen_now):
    login(client, org.advisor_a)
    page = client.get(f"/h5/customers/{org.customer_a1.id}").get_data(as_text=True)
    assert f'href="/h5/vehicles/{car.id}"' in page


def test_vehicle_page_shows_archive_history_next_service_and_orders(
    client, session, org, car, frozen_now
):
    record(session, org.advisor_a, car)
    login(client, org.advisor_a)

    response = client.get(f"/h5/vehicles/{car.id}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert car.vin in page and "浙A8S888" in page
    assert "WO-A-0001" in page and "首保" in page and "¥750.50" in page
    assert "5,200 km" in page and "工单" in page  # the reading and its source
    assert "定期保养" in page and "2027-03-28" in page and "15,200 km" in page
    assert "录入工单" in page and ">结算<" in page


def test_advisor_records_an_order_from_the_phone(client, session, org, car, frozen_now):
    login(client, org.advisor_a)
    form = client.get(f"/h5/vehicles/{car.id}/service-orders/new").get_data(as_text=True)
    assert 'name="work_order_no"' in form and "服务顾问A" in form

    response = post_order(client, car, advisor_id=str(org.advisor_a.id), paid_on="2026-06-15")

    assert response.status_code == 302
    assert "已录入工单 WO-H5-1" in client.get(response.location).get_data(as_text=True)
    written = session.scalar(select(ServiceOrder).where(ServiceOrder.work_order_no == "WO-H5-1"))
    assert (written.mileage_km, written.total_fen, written.paid_on) == (
        5100,
        50000,
        date(2026, 6, 15),
    )


def test_a_refused_order_shows_the_error_beside_its_field(client, session, org, car, frozen_now):
    login(client, org.advisor_a)
    response = post_order(client, car, work_order_no="WO-H5-2", mileage_km="5", labour_yuan="-1")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'data-field="mileage_km"' in page and "低于此前记录" in page
    assert session.scalar(select(func.count()).select_from(ServiceOrder)) == 0


def test_an_open_order_is_settled_from_the_vehicle_page(client, session, org, car, frozen_now):
    written = record(session, org.advisor_a, car)
    login(client, org.advisor_a)
    response = client.post(f"/h5/service-orders/{written.id}/paid", data={"paid_on": "2026-06-15"})
    assert response.status_code == 302
    assert "已结算" in client.get(response.location).get_data(as_text=True)
    session.refresh(written)
    assert written.paid_on == date(2026, 6, 15)


def test_a_salesperson_sees_the_vehicle_but_records_no_order(client, session, org, car):
    login(client, org.sales_a1)
    page = client.get(f"/h5/vehicles/{car.id}").get_data(as_text=True)
    assert car.vin in page and "录入工单" not in page
    assert client.get(f"/h5/vehicles/{car.id}/service-orders/new").status_code == 403
    login(client, org.sales_a2)
    assert client.get(f"/h5/vehicles/{car.id}").status_code == 404
