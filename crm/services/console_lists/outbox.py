"""The console's outbox 发送队列 as Excel (issue 10 "Excel export of any list"; issue 8
"Outbox page"): every message under the page's filters (kind, state, store, day), latest send
time first, with the customer's phone, the channel and the reason of a failure.

Rules: the page's list (``outbox_console.list_query``: "outbox.view", the actor's stores);
exporting also takes "list.export_pii".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from crm import access
from crm.models import CARE_CHANNEL_LABELS, OutboxMessage, Staff, Store
from crm.services import outbox_console
from crm.services.console_lists import listing

SHEET = listing.Sheet(
    "outbox",
    "发送队列",
    (
        "消息编号",
        "计划发送时间",
        "发送时间",
        "客户",
        "手机号",
        "分店",
        "关怀类型",
        "状态",
        "渠道",
        "尝试次数",
        "错误码",
        "原因",
    ),
)


def export(
    session: Session, actor: Staff, values: Mapping[str, str], now: datetime
) -> tuple[bytes, int]:
    """The list under the filters in ``values`` as an .xlsx (issue 10 "Excel export of any
    list"): the rows of every page in the page's order."""
    access.require(actor, "outbox.view")
    filters = outbox_console.parse_filters(values)
    query = (
        outbox_console.list_query(actor, filters)
        .add_columns(Store.name)
        .join(Store, Store.id == OutboxMessage.store_id)
    )
    return listing.export_rows(
        session, actor, SHEET, query, _export_row, listing.logged_filters(filters), now
    )


def _export_row(row) -> list:
    message, store_name = row
    customer = message.customer
    return [
        message.id,
        listing.excel_time(message.not_before),
        listing.excel_time(message.sent_at),
        customer.name if customer else "",
        listing.national_phone(customer.phone) if customer and customer.phone else "",
        store_name,
        outbox_console.kind_label(message.kind),
        message.state_label,
        CARE_CHANNEL_LABELS.get(message.channel, message.channel),
        message.attempts,
        message.errcode,
        message.error,
    ]
