"""The console's service-order list (issue 7 "After-sales", issue 10 "Console pages").

Rules: the orders of the vehicles ``crm.access`` lets the actor see; filtered by store, kind,
settled or open, the opening date (Beijing days, both ends included) and ``q``, a work order
number (contains).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased, selectinload

from crm import access, money
from crm.errors import ValidationError
from crm.models import (
    SERVICE_KIND_LABELS,
    Customer,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Vehicle,
)
from crm.services.console_lists import listing

PAID_LABELS = {"yes": "已结算", "no": "未结算"}


@dataclass(frozen=True)
class Filters:
    q: str = ""
    store: int | None = None
    kind: str = ""
    paid: str = ""
    start: date | None = None
    end: date | None = None


def parse_filters(values: Mapping[str, str]) -> Filters:
    q = (values.get("q") or "").strip()
    if len(q) > 30:
        raise ValidationError("工单号不能超过30位", "q")
    start, end = listing.day_range(values)
    return Filters(
        q=q,
        store=listing.record_id(values, "store", "请选择有效的分店"),
        kind=listing.choice(values, "kind", ServiceKind, "请选择有效的工单类型"),
        paid=listing.choice(values, "paid", PAID_LABELS, "请选择有效的结算状态"),
        start=start,
        end=end,
    )


def base_query(session: Session, actor: Staff, filters: Filters) -> Select:
    query = access.scope(select(ServiceOrder), actor)
    if filters.store:
        query = query.where(ServiceOrder.store_id == filters.store)
    if filters.kind:
        query = query.where(ServiceOrder.kind == filters.kind)
    if filters.paid:
        paid = ServiceOrder.paid_on.is_not(None)
        query = query.where(paid if filters.paid == "yes" else ~paid)
    if filters.q:
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(ServiceOrder.work_order_no.like(f"%{escaped}%", escape="\\"))
    return query.where(*listing.within(ServiceOrder.opened_on, filters.start, filters.end))


def choices(session: Session, actor: Staff) -> dict:
    stores = listing.stores_in_scope(session, actor)
    return {
        "stores": stores,
        "store_names": dict(stores),
        "kinds": [(k.value, label) for k, label in SERVICE_KIND_LABELS.items()],
        "paid": list(PAID_LABELS.items()),
        "may_import": access.allowed(actor, "service_order.import"),
    }


Advisor = aliased(Staff)


def export_query(base: Select) -> Select:
    return (
        base.with_only_columns(
            ServiceOrder.work_order_no,
            Store.name,
            ServiceOrder.opened_on,
            ServiceOrder.kind,
            Vehicle.vin,
            Vehicle.plate,
            Vehicle.model,
            Customer.name,
            Customer.phone,
            ServiceOrder.mileage_km,
            ServiceOrder.labour_fen,
            ServiceOrder.parts_fen,
            ServiceOrder.paid_on,
            Advisor.name,
        )
        .join(Store, Store.id == ServiceOrder.store_id)
        .join(Vehicle, Vehicle.id == ServiceOrder.vehicle_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(Advisor, Advisor.id == ServiceOrder.advisor_id)
    )


def export_row(row) -> list:
    (
        number,
        store,
        opened_on,
        kind,
        vin,
        plate,
        model,
        name,
        phone,
        km,
        labour,
        parts,
        paid_on,
        advisor,
    ) = row
    return [
        number,
        store,
        opened_on,
        SERVICE_KIND_LABELS.get(ServiceKind(kind), kind),
        vin,
        plate,
        model,
        name,
        listing.national_phone(phone),
        km,
        Decimal(labour) / money.FEN_PER_YUAN,
        Decimal(parts) / money.FEN_PER_YUAN,
        Decimal(labour + parts) / money.FEN_PER_YUAN,
        paid_on,
        advisor or "",
    ]


SPEC = listing.ListSpec(
    name="service-orders",
    title="工单",
    sorts={
        "opened_on": ServiceOrder.opened_on,
        "mileage_km": ServiceOrder.mileage_km,
        "total_fen": ServiceOrder.labour_fen + ServiceOrder.parts_fen,
        "paid_on": ServiceOrder.paid_on,
        "work_order_no": ServiceOrder.work_order_no,
    },
    default_sort=listing.Sort("opened_on", True),
    id_column=ServiceOrder.id,
    parse_filters=parse_filters,
    base_query=base_query,
    page_options=(
        selectinload(ServiceOrder.vehicle).selectinload(Vehicle.customer),
        selectinload(ServiceOrder.advisor),
    ),
    choices=choices,
    export_headers=(
        "工单号",
        "分店",
        "日期",
        "类型",
        "车架号",
        "车牌",
        "车型",
        "客户",
        "手机号",
        "里程（km）",
        "工时费（元）",
        "配件费（元）",
        "合计（元）",
        "结算日期",
        "服务顾问",
    ),
    export_query=export_query,
    export_row=export_row,
)
