"""Deposit → full payment → delivery, cancelling, and the hand-over to after-sales
(PRODUCT "Deal and handover"; issue 7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock, id_cards
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import (
    Customer,
    Deal,
    DealStatus,
    DealStep,
    LeadClass,
    LeadStatus,
    MemberCard,
    MileageReading,
    Role,
    ServiceKind,
    Vehicle,
)
from crm.services import deals, delivery, handover
from crm.services.deals import DepositInput
from crm.services.delivery import DeliveryInput
from tests import factories as f

ID_NUMBER = id_cards.with_check_character("33010619880520123")  # born 1988-05-20, male


def delivery_input(**overrides) -> DeliveryInput:
    values = dict(
        delivered_on=clock.today(),
        name="王建国",
        id_number=ID_NUMBER,
        licence_no=ID_NUMBER,
        licence_class="C1",
        consent=True,
        vin=f.next_vin(),
        plate="浙A12345",
        engine_no="eng123456",
        transmission_no="TM7788",
        colour="珍珠白",
        mileage_km=12,
        compulsory_insurance_expiry=date(2027, 6, 14),
        inspection_due=date(2032, 6, 14),
    )
    values.update(overrides)
    return DeliveryInput(**values)


def paid_deal(session, seller, lead, deposit_on=None, paid_on=None) -> Deal:
    today = clock.today()
    deal = deals.take_deposit(
        session,
        seller,
        lead.id,
        DepositInput("凯美瑞", "5,000", deposit_on or today - timedelta(days=10)),
        clock.now(),
    )
    return deals.record_payment(session, seller, deal.id, "189800", paid_on or today, clock.now())


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_deposit_payment_and_delivery_are_each_a_recorded_step(org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    assert org.lead_a1.status == LeadStatus.DEAL
    deal = delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())

    assert deal.status == DealStatus.DELIVERED
    steps = session.scalars(select(DealStep).where(DealStep.deal_id == deal.id)).all()
    assert [(s.kind, s.amount_fen) for s in steps] == [
        ("deposit", 500000),
        ("payment", 18980000),
        ("delivery", None),
    ]
    assert org.lead_a1.status == LeadStatus.WON
    customer = session.get(Customer, deal.customer_id)
    assert org.lead_a1.customer_id == customer.id
    assert (customer.name, customer.sales_owner_id) == ("王建国", org.sales_a1.id)
    assert (customer.birthday, customer.gender) == (date(1988, 5, 20), "M")
    assert customer.licence_no == ID_NUMBER and customer.licence_class == "C1"
    assert [c.purpose for c in customer.consents] == ["service_reminders"]


def test_delivery_fills_the_vehicle_archive_plan_and_member_card(org, session, frozen_now):
    model = f.CarModelFactory(group_id=org.store_a.group_id, name="凯美瑞")
    model.first_service_months, model.first_service_km = 3, 3000
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    deal = delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())

    vehicle = session.get(Vehicle, deal.vehicle_id)
    assert (vehicle.model, vehicle.car_model_id, vehicle.plate) == ("凯美瑞", model.id, "浙A12345")
    assert (vehicle.engine_no, vehicle.colour, vehicle.mileage_km) == ("ENG123456", "珍珠白", 12)
    assert vehicle.purchase_date == vehicle.delivered_on == clock.today()
    assert vehicle.first_maintenance_date == date(2026, 9, 15)
    assert vehicle.first_maintenance_km == 3012
    assert vehicle.next_service_kind == ServiceKind.FIRST_MAINTENANCE
    assert vehicle.next_service_km == 3012
    assert vehicle.warranty_until == date(2028, 6, 15)
    readings = session.scalars(
        select(MileageReading.km).where(MileageReading.vehicle_id == vehicle.id)
    )
    assert list(readings) == [12]
    card = session.scalar(select(MemberCard).where(MemberCard.customer_id == deal.customer_id))
    assert card.tier == "" and card.card_no.startswith("8")


def test_known_customer_gets_the_new_car_not_a_second_record(org, session, frozen_now):
    org.customer_a1.advisor_id = org.advisor_a.id
    lead = f.LeadFactory(
        store=org.store_a,
        owner=org.sales_a1,
        phone=org.customer_a1.phone,
        phone_index=org.customer_a1.phone_index,
    )
    customers_before = count(session, Customer)
    deal = paid_deal(session, org.sales_a1, lead)
    deal = delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())

    assert deal.customer_id == org.customer_a1.id
    assert count(session, Customer) == customers_before
    assert [v.id for v in org.customer_a1.vehicles] == [deal.vehicle_id]
    # They keep the advisor they have: handed over at once, no deadline.
    assert deal.advisor_assigned_at == clock.now() and deal.handover_due_at is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"vin": "LVGTEST0012345678"}, "vin"),
        ({"vin": "LVGTEST001234567"}, "vin"),
        ({"plate": "ZJA12345"}, "plate"),
        ({"plate": "浙I12345"}, "plate"),
        ({"mileage_km": -5}, "mileage_km"),
        ({"id_number": "330106198805201230"}, "id_number"),
        ({"name": " "}, "name"),
        ({"consent": False}, "consent"),
        ({"engine_no": ""}, "engine_no"),
        ({"licence_class": "Z9"}, "licence_class"),
        ({"first_maintenance_km": 5}, "first_maintenance_km"),
        ({"delivered_on": date(2026, 6, 16)}, "delivered_on"),
    ],
)
def test_bad_delivery_names_the_field_and_changes_nothing(
    org, session, frozen_now, overrides, field
):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    before = (count(session, Customer), count(session, Vehicle), count(session, MemberCard))
    with pytest.raises(ValidationError) as error:
        delivery.deliver(session, org.sales_a1, deal.id, delivery_input(**overrides), clock.now())
    assert error.value.field == field
    session.rollback()
    assert (count(session, Customer), count(session, Vehicle), count(session, MemberCard)) == before
    assert session.get(Deal, deal.id).status == DealStatus.PAID


def test_delivery_dated_before_the_deposit_is_refused(org, session, frozen_now):
    today = clock.today()
    deal = paid_deal(session, org.sales_a1, org.lead_a1, deposit_on=today, paid_on=today)
    early = delivery_input(delivered_on=today - timedelta(days=1))
    with pytest.raises(ValidationError) as error:
        delivery.deliver(session, org.sales_a1, deal.id, early, clock.now())
    assert error.value.field == "delivered_on"
    assert "定金" in error.value.message


def test_delivery_before_the_full_payment_is_refused(org, session, frozen_now):
    deal = deals.take_deposit(
        session,
        org.sales_a1,
        org.lead_a1.id,
        DepositInput("凯美瑞", "5000", clock.today()),
        clock.now(),
    )
    with pytest.raises(ValidationError) as error:
        delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())
    assert error.value.field == "status"
    assert count(session, Vehicle) == 0


def test_vin_already_on_file_is_refused(org, session, frozen_now):
    other = f.VehicleFactory(customer=org.customer_a2)
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    with pytest.raises(ValidationError) as error:
        delivery.deliver(session, org.sales_a1, deal.id, delivery_input(vin=other.vin), clock.now())
    assert error.value.field == "vin"


@pytest.mark.parametrize(
    ("amount", "day_offset", "field"),
    [("-100", 0, "deposit"), ("0", 0, "deposit"), ("abc", 0, "deposit"), ("100", 1, "deposit_on")],
)
def test_bad_deposit_names_the_field(org, session, frozen_now, amount, day_offset, field):
    data = DepositInput("凯美瑞", amount, clock.today() + timedelta(days=day_offset))
    with pytest.raises(ValidationError) as error:
        deals.take_deposit(session, org.sales_a1, org.lead_a1.id, data, clock.now())
    assert error.value.field == field
    assert org.lead_a1.status == LeadStatus.OPEN
    assert count(session, Deal) == 0


def test_payment_dated_before_the_deposit_is_refused(org, session, frozen_now):
    today = clock.today()
    deal = deals.take_deposit(
        session, org.sales_a1, org.lead_a1.id, DepositInput("凯美瑞", "5000", today), clock.now()
    )
    with pytest.raises(ValidationError) as error:
        deals.record_payment(
            session, org.sales_a1, deal.id, "100000", today - timedelta(days=1), clock.now()
        )
    assert error.value.field == "paid_on"
    assert deal.status == DealStatus.DEPOSIT


def test_only_the_owner_records_a_deal_on_their_lead(org, session, frozen_now):
    data = DepositInput("凯美瑞", "5000", clock.today())
    with pytest.raises(NotFound):
        deals.take_deposit(session, org.sales_a2, org.lead_a1.id, data, clock.now())
    with pytest.raises(Forbidden):
        deals.take_deposit(session, org.supervisor_a1, org.lead_a1.id, data, clock.now())


def test_cancelled_deal_returns_the_lead_to_its_salesperson_as_key(org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    deals.cancel(session, org.sales_a1, deal.id, "家人不同意", LeadClass.KEY.value, clock.now())

    assert deal.status == DealStatus.CANCELLED and deal.cancel_reason == "家人不同意"
    lead = org.lead_a1
    assert (lead.status, lead.owner_id, lead.lead_class) == ("open", org.sales_a1.id, "key")
    assert "家人不同意" in lead.class_reason
    assert lead.due_at == clock.now() + timedelta(days=7) / 3


@pytest.mark.parametrize(
    ("reason", "lead_class", "field"), [("", "key", "reason"), ("x", "dormant", "lead_class")]
)
def test_cancel_needs_a_reason_and_a_live_class(
    org, session, frozen_now, reason, lead_class, field
):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    with pytest.raises(ValidationError) as error:
        deals.cancel(session, org.sales_a1, deal.id, reason, lead_class, clock.now())
    assert error.value.field == field
    assert deal.status == DealStatus.PAID


def test_delivered_deal_cannot_be_cancelled(org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())
    with pytest.raises(ValidationError) as error:
        deals.cancel(session, org.sales_a1, deal.id, "反悔", "key", clock.now())
    assert error.value.field == "status"


# --- hand-over ----------------------------------------------------------------------------------


def delivered(session, org) -> Deal:
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    return delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())


def test_new_customer_must_get_an_advisor_within_one_working_day(org, session, frozen_now):
    deal = delivered(session, org)  # Monday 15 June 2026, 10:00 Beijing
    assert deal.handover_due_at == clock.now() + timedelta(days=1)
    assert [d.id for d in handover.awaiting_advisor(session, org.store_admin_a)] == [deal.id]
    assert handover.awaiting_advisor(session, org.store_admin_b) == []


def test_handover_alarm_is_raised_once_after_the_deadline(org, session, frozen_now):
    deal = delivered(session, org)
    assert handover.raise_handover_alarms(session, deal.handover_due_at - timedelta(minutes=1)) == 0
    assert handover.raise_handover_alarms(session, deal.handover_due_at) == 1
    assert handover.raise_handover_alarms(session, deal.handover_due_at + timedelta(hours=1)) == 0
    session.refresh(deal)
    assert deal.handover_alarm_at == deal.handover_due_at


def test_assigning_an_advisor_hands_the_customer_over(org, session, frozen_now):
    deal = delivered(session, org)
    handover.assign_advisor(
        session, org.store_admin_a, deal.customer_id, org.advisor_a.id, clock.now()
    )
    assert session.get(Customer, deal.customer_id).advisor_id == org.advisor_a.id
    assert deal.advisor_assigned_at == clock.now()
    assert handover.awaiting_advisor(session, org.store_admin_a) == []
    assert handover.raise_handover_alarms(session, clock.now() + timedelta(days=5)) == 0


def test_advisor_must_be_a_service_advisor_of_the_customers_store(org, session, frozen_now):
    deal = delivered(session, org)
    advisor_b = f.StaffFactory(
        store=org.store_b, group_id=org.store_b.group_id, role=Role.SERVICE_ADVISOR.value
    )
    for wrong in (org.sales_a2.id, advisor_b.id, None):
        with pytest.raises(ValidationError) as error:
            handover.assign_advisor(
                session, org.store_admin_a, deal.customer_id, wrong, clock.now()
            )
        assert error.value.field == "advisor"
    assert session.get(Customer, deal.customer_id).advisor_id is None


def test_an_advisor_may_take_a_customer_on_only_themselves(org, session, frozen_now):
    deal = delivered(session, org)
    other = f.StaffFactory(
        store=org.store_a, group_id=org.store_a.group_id, role=Role.SERVICE_ADVISOR.value
    )
    with pytest.raises(ValidationError):
        handover.assign_advisor(session, org.advisor_a, deal.customer_id, other.id, clock.now())
    handover.assign_advisor(session, org.advisor_a, deal.customer_id, org.advisor_a.id, clock.now())
    assert session.get(Customer, deal.customer_id).advisor_id == org.advisor_a.id
