"""The console's store list 分店 (PRODUCT "Organisation and access"; issue 10 "Console
pages": staff and stores, Excel export of any list).

Rules: a store admin sees their store, the group admin every store of the group
("console.organisation", ``crm.access.scope``), by store code. The export adds what the
detail page shows — opening hours, booking capacity and the number of staff in post — and
takes "list.export_pii" like every export.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crm import access
from crm.models import Staff, Store
from crm.services.console_lists import listing

PERMISSION = "console.organisation"
SHEET = listing.Sheet(
    "stores",
    "分店",
    (
        "分店编码",
        "名称",
        "城市",
        "地址",
        "电话",
        "救援电话",
        "营业时间",
        "每小时可约（台）",
        "在职员工",
        "状态",
    ),
)


def list_query(actor: Staff) -> Select:
    """The stores the actor sees, by code (paginate it)."""
    access.require(actor, PERMISSION)
    return access.scope(select(Store), actor).order_by(Store.code, Store.id)


def export(session: Session, actor: Staff, now: datetime) -> tuple[bytes, int]:
    """Every store the actor sees as an .xlsx."""
    in_post = (
        select(func.count(Staff.id))
        .where(Staff.store_id == Store.id, Staff.active.is_(True))
        .correlate(Store)
        .scalar_subquery()
    )
    return listing.export_rows(
        session, actor, SHEET, list_query(actor).add_columns(in_post), _cells, {}, now
    )


def _cells(row) -> list:
    store, in_post = row
    return [
        store.code,
        store.name,
        store.city,
        store.address,
        store.phone,
        store.rescue_phone,
        f"{store.opens_hour:02d}:00–{store.closes_hour:02d}:00",
        store.booking_capacity,
        in_post,
        "营业" if store.active else "已停用",
    ]
