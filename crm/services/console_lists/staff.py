"""The console's staff list 员工 (PRODUCT "Organisation and access"; issue 10 "Console pages":
staff and stores, Excel export of any list).

Rules: store admins see their store's staff, the group admin everyone in the group
("console.organisation", ``crm.access.scope``); filtered by store, role and status (在职 by
default, 离职, or 全部), ordered by store, role and name. Exporting also takes
"list.export_pii": the file holds the staff's phone numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from crm import access
from crm.models import ROLE_LABELS, Role, Staff
from crm.services.console_lists import listing

PERMISSION = "console.organisation"
STATUSES = {"active": "在职", "left": "离职", "all": "全部"}
SHEET = listing.Sheet(
    "staff",
    "员工",
    ("员工编号", "姓名", "手机号", "角色", "分店", "团队", "状态", "离职时间", "创建时间"),
)


@dataclass(frozen=True)
class Filters:
    store: int | None = None
    role: str = ""
    status: str = "active"


def parse_filters(values: Mapping[str, str]) -> Filters:
    """Filters from query arguments; a bad one is a ``ValidationError`` naming it."""
    return Filters(
        store=listing.record_id(values, "store", "请选择有效的分店"),
        role=listing.choice(values, "role", Role, "请选择有效的角色"),
        status=listing.choice(values, "status", STATUSES, "请选择有效的状态") or "active",
    )


def list_query(actor: Staff, filters: Filters) -> Select:
    """The actor's staff under the filters, by store, role and name (paginate it)."""
    access.require(actor, PERMISSION)
    query = access.scope(select(Staff), actor).options(
        selectinload(Staff.store), selectinload(Staff.team)
    )
    if filters.store:
        query = query.where(Staff.store_id == filters.store)
    if filters.role:
        query = query.where(Staff.role == filters.role)
    if filters.status != "all":
        query = query.where(Staff.active.is_(filters.status == "active"))
    return query.order_by(Staff.store_id, Staff.role, Staff.name, Staff.id)


def export(
    session: Session, actor: Staff, values: Mapping[str, str], now: datetime
) -> tuple[bytes, int]:
    """The staff under the filters in ``values`` as an .xlsx, every page of them."""
    access.require(actor, PERMISSION)
    filters = parse_filters(values)
    return listing.export_rows(
        session,
        actor,
        SHEET,
        list_query(actor, filters),
        lambda row: _cells(row[0]),
        listing.logged_filters(filters),
        now,
    )


def _cells(member: Staff) -> list:
    return [
        member.id,
        member.name,
        listing.national_phone(member.phone),
        ROLE_LABELS.get(Role(member.role), member.role),
        member.store.name if member.store else "集团",
        member.team.name if member.team else "",
        "在职" if member.active else "离职",
        listing.excel_time(member.left_at),
        listing.excel_time(member.created_at),
    ]
