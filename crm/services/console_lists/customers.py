"""The console's customer list and customer page (issue 10 "Console pages": customers,
searched by name or phone, segment filters, detail with timeline).

Rules
-----
- Search ``q``: a phone number (any format staff type) is looked up through the keyed blind
  index (``Customer.phone_index``), so no phone is decrypted to find it. Any other text is a
  name: names are encrypted at rest with no index, so only the names of the customers the
  actor may see under the other filters are decrypted, at most ``NAME_SCAN_LIMIT`` of them
  (beyond that staff are asked to choose a store or segment, or search by phone), and the
  first ``NAME_MATCH_LIMIT`` customers whose name contains the text are listed.
- Segment filters are those of the segment list (PRODUCT "Segments", ``segment_lists``).
- Opening a customer's page appends "customer.view" to the audit log (issue 10: who viewed
  which customer data).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from crm import access, clock, phones
from crm.errors import ValidationError
from crm.models import Customer, CustomerSegment, Staff, Store
from crm.services import audit, segment_lists, timeline
from crm.services.console_lists import listing
from crm.services.identity import phone_index

NAME_SCAN_LIMIT = 50_000
NAME_MATCH_LIMIT = 500
SEGMENT_DIMENSIONS = tuple(segment_lists.DIMENSIONS)


@dataclass(frozen=True)
class Filters:
    q: str = ""
    store: int | None = None
    car_age: str = ""
    usage: str = ""
    value_class: str = ""
    rfm: str = ""
    lost: str = ""


def parse_filters(values: Mapping[str, str]) -> Filters:
    q = (values.get("q") or "").strip()
    if len(q) > 50:
        raise ValidationError("搜索内容不能超过50个字", "q")
    chosen = {}
    for dimension in SEGMENT_DIMENSIONS:
        allowed = set(dimension.labels)
        if dimension.name != "lost":
            allowed.add(segment_lists.NONE)
        chosen[dimension.name] = listing.choice(
            values, dimension.name, allowed, f"请选择有效的{dimension.title}"
        )
    store = listing.record_id(values, "store", "请选择有效的分店")
    return Filters(q=q, store=store, **chosen)


def _segment_conditions(filters: Filters) -> list:
    conditions = []
    for dimension in SEGMENT_DIMENSIONS:
        value = getattr(filters, dimension.name)
        if not value:
            continue
        column = getattr(CustomerSegment, dimension.name)
        if dimension.name == "lost":
            conditions.append(column.is_(value == "yes"))
        else:
            conditions.append(column == ("" if value == segment_lists.NONE else value))
    return conditions


def _is_phone(text: str) -> bool:
    digits = text.replace(" ", "").replace("-", "").lstrip("+")
    return digits.isdigit() and len(digits) >= 7


def base_query(
    session: Session, actor: Staff, filters: Filters, scan_limit: int = NAME_SCAN_LIMIT
) -> Select:
    query = access.scope(select(Customer), actor)
    if filters.store:
        query = query.where(Customer.store_id == filters.store)
    segment = _segment_conditions(filters)
    if segment:
        query = query.where(
            Customer.id.in_(select(CustomerSegment.customer_id).where(and_(*segment)))
        )
    if filters.q and _is_phone(filters.q):
        e164 = phones.normalise(filters.q, "q")
        query = query.where(Customer.phone_index == phone_index(e164))
    elif filters.q:
        query = query.where(Customer.id.in_(_ids_named(session, query, filters.q, scan_limit)))
    return query


def _ids_named(session: Session, query: Select, text: str, scan_limit: int) -> list[int]:
    """The ids of the customers of ``query`` whose name contains ``text``, by decrypting only
    those names (see the module's rules)."""
    scanned = session.scalar(select(func.count()).select_from(query.subquery()))
    if scanned > scan_limit:
        raise ValidationError(
            f"范围内有 {scanned:,} 位客户，按姓名搜索前请先选择分店或分群，或输入手机号", "q"
        )
    names = query.with_only_columns(Customer.id, Customer.name).order_by(Customer.id.desc())
    found = []
    for customer_id, name in session.execute(names.execution_options(yield_per=2000)):
        if text in name:
            found.append(customer_id)
            if len(found) == NAME_MATCH_LIMIT:
                break
    return found


def choices(session: Session, actor: Staff) -> dict:
    return {
        "stores": listing.stores_in_scope(session, actor),
        "dimensions": [(d.name, d.title, list(d.labels.items())) for d in SEGMENT_DIMENSIONS],
    }


Owner = aliased(Staff)
Advisor = aliased(Staff)


def export_query(base: Select) -> Select:
    return (
        base.with_only_columns(
            Customer.id,
            Customer.name,
            Customer.phone,
            Store.name,
            Owner.name,
            Advisor.name,
            Customer.city,
            Customer.created_at,
        )
        .join(Store, Store.id == Customer.store_id)
        .outerjoin(Owner, Owner.id == Customer.sales_owner_id)
        .outerjoin(Advisor, Advisor.id == Customer.advisor_id)
    )


def export_row(row) -> list:
    customer_id, name, phone, store, owner, advisor, city, created_at = row
    created = clock.local(created_at).date() if created_at else None
    return [
        customer_id,
        name,
        listing.national_phone(phone),
        store,
        owner or "",
        advisor or "",
        city,
        created,
    ]


SPEC = listing.ListSpec(
    name="customers",
    title="客户",
    sorts={"created_at": Customer.created_at, "store": Customer.store_id, "id": Customer.id},
    default_sort=listing.Sort("created_at", True),
    id_column=Customer.id,
    parse_filters=parse_filters,
    base_query=base_query,
    page_options=(
        selectinload(Customer.store),
        selectinload(Customer.sales_owner),
        selectinload(Customer.advisor),
        selectinload(Customer.vehicles),
        selectinload(Customer.segment),
    ),
    choices=choices,
    export_headers=(
        "客户编号",
        "姓名",
        "手机号",
        "分店",
        "销售顾问",
        "服务顾问",
        "城市",
        "建档日期",
    ),
    export_query=export_query,
    export_row=export_row,
)


def open_detail(session: Session, actor: Staff, customer_id: int, now: datetime):
    """A customer's page: the customer and their timeline (``timeline.for_customer``),
    through the actor's scope. Opening it appends "customer.view" to the audit log (issue 10:
    who viewed which customer data)."""
    customer = access.get_or_404(Customer, customer_id, actor)
    audit.record(
        session,
        actor,
        "customer.view",
        subject_type="customer",
        subject_id=customer.id,
        customer_id=customer.id,
        store_id=customer.store_id,
        now=now,
    )
    session.commit()
    return timeline.for_customer(session, actor, customer_id)
