"""The console's deal list (issue 10 "Console pages"; PRODUCT "Deal and handover": deposit →
full payment → delivery).

Rules: the deals ``crm.access`` lets the actor see (with their lead, or after delivery with
the customer they made); filtered by status, store, salesperson and the deposit date
(Beijing days, both ends included). The buyer's name is the lead's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased, selectinload

from crm import access, money
from crm.models import DEAL_STATUS_LABELS, Deal, DealStatus, Lead, Staff, Store
from crm.services.console_lists import listing

SALES_ROLES = ("salesperson", "supervisor")


@dataclass(frozen=True)
class Filters:
    status: str = ""
    store: int | None = None
    salesperson: int | None = None
    start: date | None = None
    end: date | None = None


def parse_filters(values: Mapping[str, str]) -> Filters:
    start, end = listing.day_range(values)
    return Filters(
        status=listing.choice(values, "status", DealStatus, "请选择有效的状态"),
        store=listing.record_id(values, "store", "请选择有效的分店"),
        salesperson=listing.record_id(values, "salesperson", "请选择有效的销售顾问"),
        start=start,
        end=end,
    )


def base_query(session: Session, actor: Staff, filters: Filters) -> Select:
    query = access.scope(select(Deal), actor)
    for column, value in (
        (Deal.status, filters.status),
        (Deal.store_id, filters.store),
        (Deal.salesperson_id, filters.salesperson),
    ):
        if value:
            query = query.where(column == value)
    return query.where(*listing.within(Deal.deposit_on, filters.start, filters.end))


def choices(session: Session, actor: Staff) -> dict:
    return {
        "stores": listing.stores_in_scope(session, actor),
        "salespeople": listing.staff_in_scope(session, actor, SALES_ROLES),
        "statuses": [(s.value, label) for s, label in DEAL_STATUS_LABELS.items()],
    }


Salesperson = aliased(Staff)


def export_query(base: Select) -> Select:
    return (
        base.with_only_columns(
            Deal.id,
            Lead.name,
            Lead.phone,
            Deal.model,
            Deal.trim,
            Deal.status,
            Deal.deposit_fen,
            Deal.deposit_on,
            Deal.paid_fen,
            Deal.paid_on,
            Deal.delivered_on,
            Store.name,
            Salesperson.name,
        )
        .join(Lead, Lead.id == Deal.lead_id)
        .join(Store, Store.id == Deal.store_id)
        .join(Salesperson, Salesperson.id == Deal.salesperson_id)
    )


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Decimal(fen) / money.FEN_PER_YUAN


def export_row(row) -> list:
    (
        deal_id,
        name,
        phone,
        model,
        trim,
        status,
        deposit,
        deposit_on,
        paid,
        paid_on,
        delivered_on,
        store,
        salesperson,
    ) = row
    return [
        deal_id,
        name,
        listing.national_phone(phone),
        f"{model} {trim}".strip(),
        DEAL_STATUS_LABELS.get(DealStatus(status), status),
        _yuan(deposit),
        deposit_on,
        _yuan(paid),
        paid_on,
        delivered_on,
        store,
        salesperson,
    ]


SPEC = listing.ListSpec(
    name="deals",
    title="成交",
    sorts={
        "deposit_on": Deal.deposit_on,
        "paid_on": Deal.paid_on,
        "delivered_on": Deal.delivered_on,
        "deposit_fen": Deal.deposit_fen,
        "status": Deal.status,
    },
    default_sort=listing.Sort("deposit_on", True),
    id_column=Deal.id,
    parse_filters=parse_filters,
    base_query=base_query,
    page_options=(
        selectinload(Deal.lead),
        selectinload(Deal.store),
        selectinload(Deal.salesperson),
    ),
    choices=choices,
    export_headers=(
        "成交编号",
        "客户",
        "手机号",
        "车型",
        "状态",
        "定金（元）",
        "定金日期",
        "全款（元）",
        "全款日期",
        "交车日期",
        "分店",
        "销售顾问",
    ),
    export_query=export_query,
    export_row=export_row,
)
