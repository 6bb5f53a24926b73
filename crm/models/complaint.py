"""Complaints with their SLA clocks, photos and timeline (PRODUCT "Complaints and surveys";
issue 9 "Complaints").

A complaint's deadlines are fixed when the clock starts: ``contact_due_at`` when it is filed
(10 business minutes), ``callback_due_at`` when it is resolved (24 business hours), both in the
store's opening hours (crm.services.complaint_sla). Each step is stamped once, by a conditional
UPDATE, so two people pressing the same button record one time.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class ComplaintState(StrEnum):
    NEW = "new"  # waiting for the first contact
    CONTACTED = "contacted"  # the customer was contacted; being handled
    RESOLVED = "resolved"  # resolved; waiting for the callback
    CLOSED = "closed"  # the callback was made


COMPLAINT_STATE_LABELS = {
    ComplaintState.NEW: "待联系",
    ComplaintState.CONTACTED: "处理中",
    ComplaintState.RESOLVED: "待回访",
    ComplaintState.CLOSED: "已办结",
}


class ComplaintChannel(StrEnum):
    MEMBER = "member"  # the customer filed it from the member pages
    PHONE = "phone"  # a staff member recorded a phone call


COMPLAINT_CHANNEL_LABELS = {
    ComplaintChannel.MEMBER: "会员页面",
    ComplaintChannel.PHONE: "电话",
}


class RootCause(StrEnum):
    WAITING = "waiting"
    ATTITUDE = "attitude"
    WORKMANSHIP = "workmanship"
    PRICE = "price"
    FACILITIES = "facilities"
    PROCESS = "process"


ROOT_CAUSE_LABELS = {
    RootCause.WAITING: "等待时间",
    RootCause.ATTITUDE: "服务态度",
    RootCause.WORKMANSHIP: "维修质量",
    RootCause.PRICE: "价格",
    RootCause.FACILITIES: "设施环境",
    RootCause.PROCESS: "流程",
}


class ComplaintEventKind(StrEnum):
    FILED = "filed"
    CONTACTED = "contacted"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    CALLED_BACK = "called_back"
    ESCALATED = "escalated"


COMPLAINT_EVENT_LABELS = {
    ComplaintEventKind.FILED: "提交投诉",
    ComplaintEventKind.CONTACTED: "首次联系客户",
    ComplaintEventKind.ASSIGNED: "指派负责人",
    ComplaintEventKind.RESOLVED: "已解决",
    ComplaintEventKind.CALLED_BACK: "已回访",
    ComplaintEventKind.ESCALATED: "超时上报",
}


class Complaint(db.Model):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_store_state", "store_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    channel: Mapped[ComplaintChannel] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[ComplaintState] = mapped_column(String(12), default=ComplaintState.NEW)
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # First contact: due 10 business minutes after filing.
    contact_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_contacted_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The responsible person; reassigning moves it.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    resolution: Mapped[str] = mapped_column(Text, default="", server_default="")
    root_cause: Mapped[RootCause | None] = mapped_column(String(12))
    # Callback: due 24 business hours after resolution.
    callback_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    called_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    callback_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    # Each breach is escalated to the store admin once.
    contact_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store = relationship("Store")
    customer = relationship("Customer")
    vehicle = relationship("Vehicle")
    assignee = relationship("Staff", foreign_keys=[assignee_id])
    recorded_by = relationship("Staff", foreign_keys=[recorded_by_id])
    photos: Mapped[list[ComplaintPhoto]] = relationship(
        back_populates="complaint", order_by="ComplaintPhoto.id"
    )
    events: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", order_by="(ComplaintEvent.at, ComplaintEvent.id)"
    )

    @property
    def state_label(self) -> str:
        return COMPLAINT_STATE_LABELS[ComplaintState(self.state)]

    @property
    def channel_label(self) -> str:
        return COMPLAINT_CHANNEL_LABELS[ComplaintChannel(self.channel)]

    @property
    def root_cause_label(self) -> str:
        return ROOT_CAUSE_LABELS[RootCause(self.root_cause)] if self.root_cause else ""

    @property
    def contact_met(self) -> bool | None:
        """Whether the first contact came in time; None while it has not come."""
        if self.first_contacted_at is None:
            return None
        return self.first_contacted_at <= self.contact_due_at

    @property
    def callback_met(self) -> bool | None:
        """Whether the callback came in time; None while it has not come."""
        if self.called_back_at is None or self.callback_due_at is None:
            return None
        return self.called_back_at <= self.callback_due_at


class ComplaintPhoto(db.Model):
    """A photo the customer attached. The bytes live in the database so that any app server
    can serve them; they are loaded only when the photo itself is asked for."""

    __tablename__ = "complaint_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column()
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    complaint: Mapped[Complaint] = relationship(back_populates="photos")


class ComplaintEvent(db.Model):
    """One timestamped step of a complaint's handling: its timeline."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    kind: Mapped[ComplaintEventKind] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")

    complaint: Mapped[Complaint] = relationship(back_populates="events")
    staff = relationship("Staff")

    @property
    def label(self) -> str:
        return COMPLAINT_EVENT_LABELS[ComplaintEventKind(self.kind)]
