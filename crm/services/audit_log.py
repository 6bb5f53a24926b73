"""Reading the audit log for the console (issue 10 "Console pages": an audit log — who viewed
or exported which customer data, who changed what).

Rules: only "audit.view" (store and group admins) reads it; a store admin sees the events of
their store, the group admin every store's and the group-level work of the group's staff
(``crm.access``). Filters: action, staff member, customer id and a date range in Beijing days
(both ends included). Newest first, 50 a page. The filtered log exports to Excel like every
console list ("list.export_pii" too), the export itself becoming an event of the log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from crm import access
from crm.errors import ValidationError
from crm.models import AuditEvent, Role, Staff, Store
from crm.services import console_lists
from crm.services.console_lists import listing

PERMISSION = "audit.view"
PER_PAGE = 50
SHEET = listing.Sheet(
    "audit", "审计日志", ("事件编号", "时间", "操作人", "操作", "对象", "客户编号", "分店", "详情")
)
ACTION_LABELS = {
    "customer.view": "查看客户资料",
    "customer.export": "导出客户个人信息",
    "customer.erase": "删除客户个人信息",
    "customer.assign_advisor": "分配服务顾问",
    "consent.grant": "记录同意",
    "consent.withdraw": "撤回同意",
    "list.export": "导出列表",
    "report.drill_down": "查看指标明细",
    "lead.reassign": "线索移交",
    "staff.create": "添加员工",
    "staff.update": "修改员工",
    "staff.leave": "员工离职",
    "staff.reinstate": "员工恢复在职",
    "store.create": "新建分店",
    "store.update": "修改分店",
    "store.activate": "启用分店",
    "store.deactivate": "停用分店",
}
DETAIL_LABELS = {
    "list": "列表",
    "filters": "筛选",
    "rows": "行数",
    "kpi": "指标",
    "month": "月份",
    "page": "页码",
    "fields": "修改项",
    "role": "角色",
    "leads": "线索数",
    "from_staff": "原负责人",
    "to_staff": "接手人",
    "advisor": "服务顾问",
    "search": "搜索",
    "batch": "导入编号",
}


@dataclass(frozen=True)
class Filters:
    action: str = ""
    staff: int | None = None
    customer: int | None = None
    start: date | None = None
    end: date | None = None


def parse_filters(values: Mapping[str, str]) -> Filters:
    action = (values.get("action") or "").strip()
    if len(action) > 50:
        action = ""
    start, end = listing.day_range(values)
    return Filters(
        action=action,
        staff=listing.record_id(values, "staff", "请选择有效的员工"),
        customer=listing.record_id(values, "customer", "客户编号应为正整数"),
        start=start,
        end=end,
    )


def events_query(actor: Staff, filters: Filters) -> Select:
    """The events the actor may read under ``filters``, newest first, each with its staff
    actor loaded."""
    access.require(actor, PERMISSION)
    query = access.scope(select(AuditEvent), actor)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.staff:
        query = query.where(AuditEvent.actor_staff_id == filters.staff)
    if filters.customer:
        query = query.where(AuditEvent.customer_id == filters.customer)
    first, last = listing.instant_bounds(filters.start, filters.end)
    query = query.where(*listing.within(AuditEvent.occurred_at, first, last))
    return query.options(selectinload(AuditEvent.actor_staff)).order_by(
        AuditEvent.occurred_at.desc(), AuditEvent.id.desc()
    )


@dataclass
class AuditPage:
    filters: Filters
    query: Select
    actions: list[tuple[str, str]]
    staff: list[tuple[int, str]]
    errors: dict[str, str]


def open_page(session: Session, actor: Staff, values: Mapping[str, str]) -> AuditPage:
    """The audit-log page: the filtered query to paginate and the filter choices; a bad
    filter shows the unfiltered log with the error beside the field."""
    access.require(actor, PERMISSION)
    errors = {}
    try:
        filters = parse_filters(values)
    except ValidationError as error:
        errors[error.field] = error.message
        filters = Filters()
    return AuditPage(
        filters=filters,
        query=events_query(actor, filters),
        actions=list(ACTION_LABELS.items()),
        staff=listing.staff_in_scope(session, actor, [role.value for role in Role]),
        errors=errors,
    )


def describe(event: AuditEvent) -> list[tuple[str, str]]:
    """An event's detail as (label, text) pairs for the page; an exported list by its title."""
    pairs = []
    for key, value in (event.detail or {}).items():
        if key == "list":
            text = list_titles().get(value, value)
        elif isinstance(value, dict):
            text = "，".join(f"{k}={v}" for k, v in value.items()) or "无"
        elif isinstance(value, list):
            text = "、".join(str(item) for item in value)
        else:
            text = "—" if value is None else str(value)
        pairs.append((DETAIL_LABELS.get(key, key), text))
    return pairs


def list_titles() -> dict[str, str]:
    return console_lists.titles() | {SHEET.name: SHEET.title}


def who(event: AuditEvent) -> str:
    """Who acted: the staff member's name, the customer themselves, or the system."""
    if event.actor_staff is not None:
        return event.actor_staff.name
    return "客户本人" if event.actor_kind == "customer" else "系统"


def export(
    session: Session, actor: Staff, values: Mapping[str, str], now: datetime
) -> tuple[bytes, int]:
    """The events under the filters in ``values`` as an .xlsx, newest first."""
    access.require(actor, PERMISSION)
    filters = parse_filters(values)
    query = (
        events_query(actor, filters)
        .add_columns(Store.name)
        .outerjoin(Store, Store.id == AuditEvent.store_id)
    )
    return listing.export_rows(
        session, actor, SHEET, query, _export_cells, listing.logged_filters(filters), now
    )


def _export_cells(row) -> list:
    event, store_name = row
    subject = event.subject_type + (f" #{event.subject_id}" if event.subject_id else "")
    return [
        event.id,
        listing.excel_time(event.occurred_at),
        who(event),
        ACTION_LABELS.get(event.action, event.action),
        subject,
        event.customer_id,
        store_name or "",
        "；".join(f"{label}：{text}" for label, text in describe(event)),
    ]
