"""The console's lead list (issue 10 "Console pages": leads by class, status, owner, store
and created range).

Rules: the leads ``crm.access`` lets the actor see (a salesperson their own and the store's
pool, a supervisor the team's, a store admin the store, the group admin all). ``owner`` is a
salesperson's id or ``pool`` (no owner); the created range is in Beijing days, so a lead made
at 23:30 Beijing time on the range's last day is in it; ``q`` is a phone, found through the
blind index.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased, selectinload

from crm import access, phones
from crm.models import (
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    Staff,
    Store,
)
from crm.services.console_lists import listing
from crm.services.identity import phone_index

STATUS_LABELS = {
    LeadStatus.OPEN: "跟进中",
    LeadStatus.DEAL: "已下定",
    LeadStatus.WON: "已成交",
    LeadStatus.LOST: "战败",
}
POOL = "pool"
SALES_ROLES = ("salesperson", "supervisor")


@dataclass(frozen=True)
class Filters:
    q: str = ""
    lead_class: str = ""
    status: str = ""
    source: str = ""
    owner: str = ""  # a staff id, or "pool"
    store: int | None = None
    start: date | None = None
    end: date | None = None


def parse_filters(values: Mapping[str, str]) -> Filters:
    owner = (values.get("owner") or "").strip()
    if owner and owner != POOL:
        owner = str(listing.record_id(values, "owner", "请选择有效的负责人"))
    q = (values.get("q") or "").strip()
    if q:
        phones.normalise(q, "q")
    start, end = listing.day_range(values)
    return Filters(
        q=q,
        lead_class=listing.choice(values, "lead_class", LeadClass, "请选择有效的级别"),
        status=listing.choice(values, "status", LeadStatus, "请选择有效的状态"),
        source=listing.choice(values, "source", LeadSource, "请选择有效的来源"),
        owner=owner,
        store=listing.record_id(values, "store", "请选择有效的分店"),
        start=start,
        end=end,
    )


def base_query(session: Session, actor: Staff, filters: Filters) -> Select:
    query = access.scope(select(Lead), actor)
    for column, value in (
        (Lead.lead_class, filters.lead_class),
        (Lead.status, filters.status),
        (Lead.source, filters.source),
        (Lead.store_id, filters.store),
    ):
        if value:
            query = query.where(column == value)
    if filters.owner == POOL:
        query = query.where(Lead.owner_id.is_(None))
    elif filters.owner:
        query = query.where(Lead.owner_id == int(filters.owner))
    if filters.q:
        query = query.where(Lead.phone_index == phone_index(phones.normalise(filters.q, "q")))
    first, last = listing.instant_bounds(filters.start, filters.end)
    return query.where(*listing.within(Lead.created_at, first, last))


def choices(session: Session, actor: Staff) -> dict:
    return {
        "stores": listing.stores_in_scope(session, actor),
        "owners": [(POOL, "客户池（无负责人）")]
        + listing.staff_in_scope(session, actor, SALES_ROLES),
        "classes": [(c.value, label) for c, label in LEAD_CLASS_LABELS.items()],
        "statuses": [(s.value, label) for s, label in STATUS_LABELS.items()],
        "status_labels": {s.value: label for s, label in STATUS_LABELS.items()},
        "sources": [(s.value, label) for s, label in LEAD_SOURCE_LABELS.items()],
    }


Owner = aliased(Staff)


def export_query(base: Select) -> Select:
    return (
        base.with_only_columns(
            Lead.id,
            Lead.name,
            Lead.phone,
            Lead.lead_class,
            Lead.status,
            Lead.source,
            Lead.model_of_interest,
            Store.name,
            Owner.name,
            Lead.created_at,
            Lead.last_contact_at,
        )
        .join(Store, Store.id == Lead.store_id)
        .outerjoin(Owner, Owner.id == Lead.owner_id)
    )


def export_row(row) -> list:
    lead_id, name, phone, lead_class, status, source, model, store, owner, created, last = row
    return [
        lead_id,
        name,
        listing.national_phone(phone),
        LEAD_CLASS_LABELS.get(LeadClass(lead_class), lead_class),
        STATUS_LABELS.get(LeadStatus(status), status),
        LEAD_SOURCE_LABELS.get(LeadSource(source), source),
        model,
        store,
        owner or "客户池",
        listing.excel_time(created),
        listing.excel_time(last),
    ]


SPEC = listing.ListSpec(
    name="leads",
    title="线索",
    sorts={
        "created_at": Lead.created_at,
        "last_contact_at": Lead.last_contact_at,
        "due_at": Lead.due_at,
        "lead_class": Lead.lead_class,
        "status": Lead.status,
    },
    default_sort=listing.Sort("created_at", True),
    id_column=Lead.id,
    parse_filters=parse_filters,
    base_query=base_query,
    page_options=(selectinload(Lead.store), selectinload(Lead.owner)),
    choices=choices,
    export_headers=(
        "线索编号",
        "姓名",
        "手机号",
        "级别",
        "状态",
        "来源",
        "意向车型",
        "分店",
        "负责人",
        "创建时间",
        "最近联系",
    ),
    export_query=export_query,
    export_row=export_row,
)
