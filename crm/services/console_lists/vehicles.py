"""The console's vehicle list (issue 10 "Console pages"; PRODUCT "Deal and handover": the
vehicle archive).

Rules: the vehicles of the customers ``crm.access`` lets the actor see; filtered by selling
store, use, model (contains) and delivery date (Beijing days, both ends included); ``q``
finds a plate or a VIN (contains, upper case).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import access
from crm.errors import ValidationError
from crm.models import VEHICLE_USAGE_LABELS, Customer, Staff, Store, Vehicle, VehicleUsage
from crm.services.console_lists import listing


@dataclass(frozen=True)
class Filters:
    q: str = ""
    store: int | None = None
    usage: str = ""
    model: str = ""
    start: date | None = None
    end: date | None = None


def parse_filters(values: Mapping[str, str]) -> Filters:
    q = (values.get("q") or "").strip().upper()
    if len(q) > 17:
        raise ValidationError("车牌或车架号不能超过17位", "q")
    model = (values.get("model") or "").strip()
    if len(model) > 50:
        raise ValidationError("车型不能超过50个字", "model")
    start, end = listing.day_range(values)
    return Filters(
        q=q,
        store=listing.record_id(values, "store", "请选择有效的分店"),
        usage=listing.choice(values, "usage", VehicleUsage, "请选择有效的用途"),
        model=model,
        start=start,
        end=end,
    )


def _contains(column, text: str):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{escaped}%", escape="\\")


def base_query(session: Session, actor: Staff, filters: Filters) -> Select:
    query = access.scope(select(Vehicle), actor)
    if filters.store:
        query = query.where(Vehicle.store_id == filters.store)
    if filters.usage:
        query = query.where(Vehicle.usage == filters.usage)
    if filters.model:
        query = query.where(_contains(Vehicle.model, filters.model))
    if filters.q:
        query = query.where(
            or_(_contains(Vehicle.plate, filters.q), _contains(Vehicle.vin, filters.q))
        )
    return query.where(*listing.within(Vehicle.delivered_on, filters.start, filters.end))


def choices(session: Session, actor: Staff) -> dict:
    stores = listing.stores_in_scope(session, actor)
    return {
        "stores": stores,
        "store_names": dict(stores),
        "usages": [(u.value, label) for u, label in VEHICLE_USAGE_LABELS.items()],
    }


def export_query(base: Select) -> Select:
    return (
        base.with_only_columns(
            Vehicle.id,
            Vehicle.vin,
            Vehicle.plate,
            Vehicle.model,
            Vehicle.usage,
            Vehicle.colour,
            Vehicle.purchase_date,
            Vehicle.delivered_on,
            Vehicle.mileage_km,
            Vehicle.next_service_on,
            Vehicle.compulsory_insurance_expiry,
            Vehicle.inspection_due,
            Customer.id,
            Customer.name,
            Customer.phone,
            Store.name,
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .join(Store, Store.id == Vehicle.store_id)
    )


def export_row(row) -> list:
    values = list(row)
    values[4] = VEHICLE_USAGE_LABELS.get(VehicleUsage(values[4]), values[4])
    values[14] = listing.national_phone(values[14])
    return values


SPEC = listing.ListSpec(
    name="vehicles",
    title="车辆",
    sorts={
        "delivered_on": Vehicle.delivered_on,
        "purchase_date": Vehicle.purchase_date,
        "next_service_on": Vehicle.next_service_on,
        "mileage_km": Vehicle.mileage_km,
        "model": Vehicle.model,
    },
    default_sort=listing.Sort("delivered_on", True),
    id_column=Vehicle.id,
    parse_filters=parse_filters,
    base_query=base_query,
    page_options=(selectinload(Vehicle.customer),),
    choices=choices,
    export_headers=(
        "车辆编号",
        "车架号",
        "车牌",
        "车型",
        "用途",
        "颜色",
        "购车日期",
        "交车日期",
        "里程（km）",
        "下次保养",
        "交强险到期",
        "年检到期",
        "客户编号",
        "客户",
        "手机号",
        "分店",
    ),
    export_query=export_query,
    export_row=export_row,
)
