"""Leads in the customer pool and the communications logged on them (PRODUCT "The customer
pool", "Lead classes and cadence")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
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


class Lead(db.Model):
    __tablename__ = "leads"

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
    lost_reason: Mapped[str] = mapped_column(String(20), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    store = relationship("Store")
    owner = relationship("Staff")
    communications: Mapped[list[Communication]] = relationship(
        back_populates="lead", order_by="Communication.occurred_at"
    )

    @property
    def class_label(self) -> str:
        return LEAD_CLASS_LABELS[LeadClass(self.lead_class)]


class Communication(db.Model):
    __tablename__ = "communications"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    channel: Mapped[Channel] = mapped_column(String(12))
    content: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str] = mapped_column(String(200), default="")
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    lead: Mapped[Lead] = relationship(back_populates="communications")
