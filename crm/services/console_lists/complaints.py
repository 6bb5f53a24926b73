"""The console's complaint list as Excel (issue 10 "Excel export of any list"; issue 9
"Complaints"): every complaint under the page's filters (state, store, breached SLA), newest
first, with its SLA deadlines and when each step was done.

Rules: the list is ``complaints.console_query`` (the handlers' scope); exporting also takes
"list.export_pii" (store and group admins), as the file holds the customers' phones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from crm import access
from crm.models import Staff
from crm.services import complaints
from crm.services.console_lists import listing

SHEET = listing.Sheet(
    "complaints",
    "客户投诉",
    (
        "投诉编号",
        "提交时间",
        "渠道",
        "客户",
        "手机号",
        "分店",
        "内容",
        "状态",
        "是否超时",
        "负责人",
        "联系时限",
        "首次联系时间",
        "解决时间",
        "根本原因",
        "解决说明",
        "回访时限",
        "回访时间",
        "客户是否满意",
    ),
)
SATISFIED_LABELS = {True: "满意", False: "不满意", None: ""}


def export(
    session: Session, actor: Staff, values: Mapping[str, str], now: datetime
) -> tuple[bytes, int]:
    """The complaints under the filters in ``values`` as an .xlsx, every page of them."""
    access.require(actor, complaints.HANDLE)
    filters = complaints.parse_filters(values)
    return listing.export_rows(
        session,
        actor,
        SHEET,
        complaints.console_query(actor, filters, now),
        lambda row: _cells(row[0], now),
        listing.logged_filters(filters),
        now,
    )


def _cells(complaint, now: datetime) -> list:
    customer = complaint.customer
    return [
        complaint.id,
        listing.excel_time(complaint.filed_at),
        complaint.channel_label,
        customer.name,
        listing.national_phone(customer.phone) if customer.phone else "",
        complaint.store.name,
        complaint.text,
        complaint.state_label,
        "是" if complaints.is_breached(complaint, now) else "否",
        complaint.assignee.name if complaint.assignee else "",
        listing.excel_time(complaint.contact_due_at),
        listing.excel_time(complaint.first_contacted_at),
        listing.excel_time(complaint.resolved_at),
        complaint.root_cause_label,
        complaint.resolution,
        listing.excel_time(complaint.callback_due_at),
        listing.excel_time(complaint.called_back_at),
        SATISFIED_LABELS[complaint.satisfied],
    ]
