"""Leads in the customer pool and the communications logged on them (PRODUCT "The customer
pool", "Lead classes and cadence")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import EncryptedText, UTCDateTime


class LeadClass(StrEnum):
    POTENTIAL = "potential"
    INTENT = "intent"
    KEY = "key"
    DORMANT = "dormant"


LEAD_CLASS_LABELS = {
    LeadClass.POTENTIAL: "潜在",
    LeadClass.INTENT: "意向",
    LeadClass.KEY: "重点",
    LeadClass.DORMANT: "休眠",
}


class LeadStatus(StrEnum):
    OPEN = "open"
    DEAL = "deal"  # a deposit was taken; the deal decides what happens next
    WON = "won"
    LOST = "lost"


class LeadSource(StrEnum):
    IMPORT = "import"
    SHOWROOM = "showroom"
    AUTO_SHOW = "auto_show"
    ONLINE = "online"
    REFERRAL = "referral"
    QR_CODE = "qr_code"


LEAD_SOURCE_LABELS = {
    LeadSource.IMPORT: "导入",
    LeadSource.SHOWROOM: "展厅接待",
    LeadSource.AUTO_SHOW: "车展",
    LeadSource.ONLINE: "线上表单",
    LeadSource.REFERRAL: "转介绍",
    LeadSource.QR_CODE: "个人二维码",
}


class Channel(StrEnum):
    PHONE = "phone"
    WECHAT = "wechat"
    VISIT = "visit"
    TEST_DRIVE = "test_drive"


CHANNEL_LABELS = {
    Channel.PHONE: "电话",
    Channel.WECHAT: "微信",
    Channel.VISIT: "到店",
    Channel.TEST_DRIVE: "试驾",
}


class PurchaseTimeframe(StrEnum):
    """When the prospect means to buy; drives the class suggestion (PRODUCT "Lead classes")."""

    UNKNOWN = ""
    WITHIN_MONTH = "month"
    WITHIN_QUARTER = "quarter"
    LATER = "later"


PURCHASE_TIMEFRAME_LABELS = {
    PurchaseTimeframe.UNKNOWN: "未定",
    PurchaseTimeframe.WITHIN_MONTH: "一个月内",
    PurchaseTimeframe.WITHIN_QUARTER: "三个月内",
    PurchaseTimeframe.LATER: "三个月以后",
}


class LostReason(StrEnum):
    COMPETITOR = "competitor"
    POSTPONED = "postponed"
    PRICE = "price"
    NEED_CHANGED = "need_changed"


LOST_REASON_LABELS = {
    LostReason.COMPETITOR: "已购竞品",
    LostReason.POSTPONED: "推迟购车",
    LostReason.PRICE: "价格原因",
    LostReason.NEED_CHANGED: "需求变化",
}


class MoveReason(StrEnum):
    """Why a lead changed hands; every change is recorded (PRODUCT "The customer pool")."""

    CREATED = "created"
    CLAIMED = "claimed"
    STALE = "stale"
    STAFF_LEFT = "staff_left"
    ARCHIVED = "archived"
    WOKEN = "woken"


MOVE_REASON_LABELS = {
    MoveReason.CREATED: "新建",
    MoveReason.CLAIMED: "认领",
    MoveReason.STALE: "30天未联系退回客户池",
    MoveReason.STAFF_LEFT: "员工离职移交",
    MoveReason.ARCHIVED: "战败归档",
    MoveReason.WOKEN: "休眠唤醒",
}


class TestDriveStatus(StrEnum):
    __test__ = False  # not a pytest test class despite the name

    BOOKED = "booked"
    DONE = "done"
    CANCELLED = "cancelled"


TEST_DRIVE_STATUS_LABELS = {
    TestDriveStatus.BOOKED: "已预约",
    TestDriveStatus.DONE: "已试驾",
    TestDriveStatus.CANCELLED: "已取消",
}


class Lead(db.Model):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_owner_status_due", "owner_id", "status", "due_at"),
        # The reports' month cohorts: leads created in a Beijing month (issue 10).
        Index("ix_leads_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(EncryptedText)
    phone: Mapped[str] = mapped_column(EncryptedText)
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    lead_class: Mapped[LeadClass] = mapped_column(String(10), default=LeadClass.POTENTIAL)
    status: Mapped[LeadStatus] = mapped_column(String(10), default=LeadStatus.OPEN)
    source: Mapped[LeadSource] = mapped_column(String(12))
    model_of_interest: Mapped[str] = mapped_column(String(50), default="")
    trim_of_interest: Mapped[str] = mapped_column(String(50), default="")
    referrer: Mapped[str] = mapped_column(String(50), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    purchase_timeframe: Mapped[PurchaseTimeframe] = mapped_column(String(10), default="")
    quoted: Mapped[bool] = mapped_column(default=False)
    # Set when a salesperson chose a class other than the rules' suggestion.
    class_reason: Mapped[str] = mapped_column(String(200), default="")
    lost_reason: Mapped[str] = mapped_column(String(20), default="")
    lost_note: Mapped[str] = mapped_column(String(200), default="")
    lost_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    woken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the owner should next be in touch: the earlier of the planned next step and the
    # class cadence (kept on the row so the work-bench is one indexed query).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # A prospect's own enquiry records their consent to be contacted about buying (PIPL).
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    store = relationship("Store")
    owner = relationship("Staff", foreign_keys=[owner_id])
    communications: Mapped[list[Communication]] = relationship(
        back_populates="lead", order_by="Communication.occurred_at"
    )

    @property
    def class_label(self) -> str:
        return LEAD_CLASS_LABELS[LeadClass(self.lead_class)]

    @property
    def source_label(self) -> str:
        return LEAD_SOURCE_LABELS[LeadSource(self.source)]

    @property
    def lost_reason_label(self) -> str:
        return LOST_REASON_LABELS[LostReason(self.lost_reason)] if self.lost_reason else ""


class Communication(db.Model):
    __tablename__ = "communications"
    # The funnel asks of each lead whether it had any communication, and any showroom visit or
    # test drive: answered from this index alone (issue 10 "Performance").
    __table_args__ = (Index("ix_communications_lead_channel", "lead_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    channel: Mapped[Channel] = mapped_column(String(12))
    content: Mapped[str] = mapped_column(Text, default="")
    concerns: Mapped[str] = mapped_column(Text, default="")
    need_changes: Mapped[str] = mapped_column(Text, default="")
    decision_factors: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str] = mapped_column(String(200), default="")
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The lead's class after this contact, and why when it differs from the suggestion.
    lead_class: Mapped[str] = mapped_column(String(10), default="")
    class_reason: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    lead: Mapped[Lead] = relationship(back_populates="communications")
    staff = relationship("Staff")

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS[Channel(self.channel)]


class TestDrive(db.Model):
    """A booked test drive: it enters the salesperson's plan and reminds them; once driven,
    the impressions are recorded (PRODUCT "The customer pool")."""

    __tablename__ = "test_drives"
    __test__ = False  # not a pytest test class despite the name

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    car: Mapped[str] = mapped_column(String(50))
    status: Mapped[TestDriveStatus] = mapped_column(String(10), default=TestDriveStatus.BOOKED)
    driven_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feelings: Mapped[str] = mapped_column(Text, default="")
    model_of_interest: Mapped[str] = mapped_column(String(50), default="")
    trim_of_interest: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    lead: Mapped[Lead] = relationship()
    staff = relationship("Staff")

    @property
    def status_label(self) -> str:
        return TEST_DRIVE_STATUS_LABELS[TestDriveStatus(self.status)]


class LeadMove(db.Model):
    """One change of a lead's owner (``None`` is the pool), who made it and why."""

    __tablename__ = "lead_moves"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    from_owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    to_owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # None when the system moved it (the 30-day rule, the quarterly wake-up).
    moved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    reason: Mapped[MoveReason] = mapped_column(String(12))
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    lead: Mapped[Lead] = relationship()
    from_owner = relationship("Staff", foreign_keys=[from_owner_id])
    to_owner = relationship("Staff", foreign_keys=[to_owner_id])
    moved_by = relationship("Staff", foreign_keys=[moved_by_id])

    @property
    def reason_label(self) -> str:
        return MOVE_REASON_LABELS[MoveReason(self.reason)]
