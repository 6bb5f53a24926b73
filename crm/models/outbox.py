"""The outbox: every message to a customer or staff member is a row first (ARCHITECTURE rule
2). Planners insert rows with a dedupe key; only the dispatcher sends them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its send time, or for a retry
    SENDING = "sending"  # claimed by a dispatcher; back to pending if it died
    SENT = "sent"
    FAILED = "failed"  # WeChat refused it for good; the console may re-send it
    NO_CHANNEL = "no_channel"  # nothing to send it through (not following, no template)
    BUNDLED = "bundled"  # carried by another message to the customer (``bundled_into_id``)


OUTBOX_STATE_LABELS = {
    OutboxState.PENDING: "待发送",
    OutboxState.SENDING: "发送中",
    OutboxState.SENT: "已发送",
    OutboxState.FAILED: "发送失败",
    OutboxState.NO_CHANNEL: "无可用渠道",
    OutboxState.BUNDLED: "已合并",
}


class CareChannel(StrEnum):
    """How a group sends one kind of care (issue 8 "Channels and WeChat's rules")."""

    TEMPLATE = "template"  # Official Account template message: service notices
    SUBSCRIBE = "subscribe"  # a one-time subscription the customer granted
    PERSONAL = "personal"  # the salesperson/advisor sends the ready text from their WeChat
    OFF = "off"  # the group does not send this kind


CARE_CHANNEL_LABELS = {
    CareChannel.TEMPLATE: "公众号模板消息",
    CareChannel.SUBSCRIBE: "订阅消息",
    CareChannel.PERSONAL: "员工代发",
    CareChannel.OFF: "不发送",
}


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_state_not_before", "state", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Set when the message is for a staff member (a complaint to handle); the customer, if
    # any, is then what the message is about, not who receives it.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    kind: Mapped[str] = mapped_column(String(30))
    due_on: Mapped[date] = mapped_column(Date)
    # (recipient, kind, occasion): the same reminder is queued once however often it is planned.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    # The template's fields as WeChat shows them, and the page the message opens.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    # Higher outranks lower for the customer's one message a day (crm.services.care.policy).
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    bundled_into_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    # The channel it went out through, set by the dispatcher (CareChannel values).
    channel: Mapped[str] = mapped_column(String(12), default="", server_default="")
    state: Mapped[OutboxState] = mapped_column(String(12), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    errcode: Mapped[int | None] = mapped_column()
    error: Mapped[str] = mapped_column(String(200), default="")
    msgid: Mapped[str] = mapped_column(String(40), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    customer = relationship("Customer")

    @property
    def state_label(self) -> str:
        return OUTBOX_STATE_LABELS[OutboxState(self.state)]


class CareTemplate(db.Model):
    """How a group sends one kind of care: the channel, and for WeChat channels the template
    id, which of our fields fills each of the template's keywords, and the page it opens."""

    __tablename__ = "care_templates"
    __table_args__ = (UniqueConstraint("group_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    template_id: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(
        String(12), default=CareChannel.TEMPLATE.value, server_default="template"
    )
    # template keyword -> our field name; empty means the fields keep their own names.
    field_map: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    page: Mapped[str] = mapped_column(String(200), default="", server_default="")
