"""Delivery, the last step of a deal (PRODUCT "Deal and handover", "Records"; issue 7).

At delivery the salesperson completes the customer's personal data and driving licence and
the vehicle archive (VIN, model, plate, engine and transmission numbers, colour, purchase
date, first-maintenance date and mileage; insurance and inspection dates when known). The
delivery then

- matches the customer by phone (blind index): a customer already in the group gets the new
  car, never a second customer record;
- records the first odometer reading and starts the maintenance plan;
- issues the member card (a returning customer keeps theirs);
- hands the customer to an after-sales advisor: the one they already have, or one the store
  admin assigns within one working day (``crm.services.handover``).

Everything is checked before anything is written; one error names its field and changes
nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import id_cards, plates, vin
from crm.errors import Conflict, ValidationError
from crm.models import (
    CarModel,
    Consent,
    Customer,
    Deal,
    DealStatus,
    DealStepKind,
    Lead,
    LeadStatus,
    MileageSource,
    Staff,
    Vehicle,
    VehicleUsage,
)
from crm.services import deals, handover, maintenance_plan, membership, mileage
from crm.services.identity import id_number_index

# Licence classes (准驾车型, GA/T 1062).
LICENCE_CLASSES = ("A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6")
LICENCE_CLASSES += ("D", "E", "F", "M", "N", "P")
_LICENCE_NO = re.compile(r"^[0-9A-Z]{6,20}$")
TEXT_LIMITS = {
    "name": 50,
    "occupation": 50,
    "city": 50,
    "address": 200,
    "hobbies": 200,
    "employer": 100,
    "engine_no": 30,
    "transmission_no": 30,
    "colour": 20,
}
CONSENT_PURPOSE = "service_reminders"


@dataclass
class DeliveryInput:
    delivered_on: date | None
    # the customer
    name: str
    id_number: str
    licence_no: str
    consent: bool
    gender: str = ""
    birthday: date | None = None
    licence_class: str = ""
    licence_expiry: date | None = None
    occupation: str = ""
    address: str = ""
    city: str = ""
    hobbies: str = ""
    employer: str = ""
    # the vehicle archive
    vin: str = ""
    plate: str = ""
    engine_no: str = ""
    transmission_no: str = ""
    colour: str = ""
    usage: str = VehicleUsage.PRIVATE.value
    purchase_date: date | None = None
    mileage_km: int | None = 0
    first_maintenance_date: date | None = None
    first_maintenance_km: int | None = None
    compulsory_insurance_expiry: date | None = None
    commercial_insurance_expiry: date | None = None
    inspection_due: date | None = None


def _text(data: DeliveryInput, field: str, label: str, required: bool = False) -> str:
    value = (getattr(data, field) or "").strip()
    if required and not value:
        raise ValidationError(f"请填写{label}", field)
    if len(value) > TEXT_LIMITS[field]:
        raise ValidationError(f"{label}不能超过{TEXT_LIMITS[field]}个字", field)
    return value


@dataclass
class _Checked:
    delivered_on: date
    customer: dict
    id_number: str
    licence_no: str
    vehicle: dict
    mileage_km: int


def _check_dates(deal: Deal, data: DeliveryInput, now: datetime) -> date:
    delivered_on = deals.check_day(data.delivered_on, "delivered_on", now, "交车日期")
    if delivered_on < deal.deposit_on:
        raise ValidationError("交车日期不能早于定金日期", "delivered_on")
    if deal.paid_on and delivered_on < deal.paid_on:
        raise ValidationError("交车日期不能早于全款日期", "delivered_on")
    return delivered_on


def _check_customer(data: DeliveryInput) -> tuple[dict, str, str]:
    name = _text(data, "name", "客户姓名", required=True)
    id_number = id_cards.normalise(data.id_number)
    if not id_number:
        raise ValidationError("请填写身份证号", "id_number")
    licence_no = (data.licence_no or "").strip().upper()
    if not _LICENCE_NO.match(licence_no):
        raise ValidationError("驾驶证号应为6到20位数字或字母", "licence_no")
    if data.licence_class and data.licence_class not in LICENCE_CLASSES:
        raise ValidationError("准驾车型不正确", "licence_class")
    if data.gender not in ("", "M", "F"):
        raise ValidationError("性别不正确", "gender")
    if not data.consent:
        raise ValidationError("请确认客户已同意我们保存资料并发送用车提醒", "consent")
    fields = {
        "name": name,
        "gender": data.gender or ("M" if int(id_number[16]) % 2 else "F"),
        "birthday": data.birthday or id_cards.birthday(id_number),
        "licence_class": data.licence_class,
        "licence_expiry": data.licence_expiry,
        **{
            field: _text(data, field, label)
            for field, label in (
                ("occupation", "职业"),
                ("address", "地址"),
                ("city", "城市"),
                ("hobbies", "爱好"),
                ("employer", "工作单位"),
            )
        },
    }
    return fields, id_number, licence_no


def _check_vehicle(data: DeliveryInput, delivered_on: date) -> tuple[dict, int]:
    km = data.mileage_km if data.mileage_km is not None else 0
    if km < 0:
        raise ValidationError("交车里程不能为负数", "mileage_km")
    if data.first_maintenance_km is not None and data.first_maintenance_km <= km:
        raise ValidationError("首保里程必须高于交车里程", "first_maintenance_km")
    if data.first_maintenance_date is not None and data.first_maintenance_date <= delivered_on:
        raise ValidationError("首保日期必须晚于交车日期", "first_maintenance_date")
    if data.usage not in {usage.value for usage in VehicleUsage}:
        raise ValidationError("车辆用途不正确", "usage")
    purchase_date = data.purchase_date or delivered_on
    if purchase_date > delivered_on:
        raise ValidationError("购车日期不能晚于交车日期", "purchase_date")
    fields = {
        "vin": vin.normalise(data.vin),
        "plate": plates.normalise(data.plate),
        "engine_no": _text(data, "engine_no", "发动机号", required=True).upper(),
        "transmission_no": _text(data, "transmission_no", "变速箱号").upper(),
        "colour": _text(data, "colour", "颜色", required=True),
        "usage": data.usage,
        "purchase_date": purchase_date,
        "delivered_on": delivered_on,
        "first_maintenance_date": data.first_maintenance_date,
        "first_maintenance_km": data.first_maintenance_km,
        "compulsory_insurance_expiry": data.compulsory_insurance_expiry,
        "commercial_insurance_expiry": data.commercial_insurance_expiry,
        "inspection_due": data.inspection_due,
    }
    return fields, km


def _check(deal: Deal, data: DeliveryInput, now: datetime) -> _Checked:
    if deal.status == DealStatus.DEPOSIT:
        raise ValidationError("请先记录全款再交车", "status")
    if deal.status != DealStatus.PAID:
        raise ValidationError(f"订单{deal.status_label}，不能交车", "status")
    delivered_on = _check_dates(deal, data, now)
    customer, id_number, licence_no = _check_customer(data)
    vehicle, km = _check_vehicle(data, delivered_on)
    return _Checked(delivered_on, customer, id_number, licence_no, vehicle, km)


def _customer_for(
    session: Session, deal: Deal, lead: Lead, checked: _Checked, actor: Staff, now: datetime
) -> Customer:
    """The group's customer with the lead's phone, completed; or a new one."""
    customer = session.scalar(select(Customer).where(Customer.phone_index == lead.phone_index))
    if customer is not None and customer.group_id != actor.group_id:
        raise Conflict("该手机号已登记在其他集团，请联系管理员", "phone")
    id_index = id_number_index(checked.id_number)
    holder = session.scalar(select(Customer.id).where(Customer.id_number_index == id_index))
    if holder is not None and (customer is None or holder != customer.id):
        raise ValidationError("该身份证号已属于另一位客户", "id_number")
    if customer is None:
        customer = Customer(
            group_id=actor.group_id,
            store_id=deal.store_id,
            sales_owner_id=deal.salesperson_id,
            phone=lead.phone,
            phone_index=lead.phone_index,
            created_at=now,
        )
        session.add(customer)
    for field, value in checked.customer.items():
        if value not in ("", None) or getattr(customer, field, None) is None:
            setattr(customer, field, value)
    customer.id_number, customer.id_number_index = checked.id_number, id_index
    customer.licence_no = checked.licence_no
    session.flush()
    session.add(
        Consent(
            customer_id=customer.id,
            purpose=CONSENT_PURPOSE,
            channel="showroom",
            granted=True,
            note="交车时登记",
            recorded_at=now,
            recorded_by_id=actor.id,
        )
    )
    return customer


def deliver(
    session: Session, actor: Staff, deal_id: int, data: DeliveryInput, now: datetime
) -> Deal:
    """Deliver a fully paid deal: customer, vehicle archive, maintenance plan, member card and
    the hand-over to after-sales, in one transaction."""
    deal = deals.own_deal(session, actor, deal_id)
    checked = _check(deal, data, now)
    if session.scalar(select(Vehicle.id).where(Vehicle.vin == checked.vehicle["vin"])):
        raise ValidationError("该车架号已登记在其他车辆档案中", "vin")
    lead = session.get(Lead, deal.lead_id)
    customer = _customer_for(session, deal, lead, checked, actor, now)
    car_model_id = session.scalar(
        select(CarModel.id).where(CarModel.group_id == actor.group_id, CarModel.name == deal.model)
    )
    vehicle = Vehicle(
        customer_id=customer.id,
        store_id=deal.store_id,
        car_model_id=car_model_id,
        model=deal.model,
        mileage_km=checked.mileage_km,
        created_at=now,
        **checked.vehicle,
    )
    session.add(vehicle)
    session.flush()
    mileage.record_reading(
        session, vehicle, checked.mileage_km, checked.delivered_on, MileageSource.DELIVERY
    )
    maintenance_plan.start(session, vehicle, checked.delivered_on)
    membership.issue_card(session, customer, now)

    deal.status = DealStatus.DELIVERED.value
    deal.delivered_on = checked.delivered_on
    deal.customer_id, deal.vehicle_id = customer.id, vehicle.id
    deals.add_step(session, deal, DealStepKind.DELIVERY, checked.delivered_on, actor, now)
    lead.status = LeadStatus.WON.value
    lead.customer_id = customer.id
    handover.start(session, deal, customer, now)
    session.commit()
    return deal
