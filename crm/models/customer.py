"""Customers and their consent records (PRODUCT "Records"; PIPL consent with purpose)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from crm import clock, lunar_dates
from crm.extensions import db
from crm.models.types import EncryptedText, UTCDateTime


class Customer(db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    sales_owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # Bumped at log-out from the member pages: older session cookies stop working.
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    # Personal data: encrypted, looked up through keyed blind indexes only.
    name: Mapped[str] = mapped_column(EncryptedText)
    phone: Mapped[str] = mapped_column(EncryptedText)
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    id_number: Mapped[str | None] = mapped_column(EncryptedText)
    id_number_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    address: Mapped[str | None] = mapped_column(EncryptedText)
    gender: Mapped[str] = mapped_column(String(1), default="")  # "M" / "F" / ""
    birthday: Mapped[date | None] = mapped_column(Date)
    # The birthday as month*100+day, solar and lunar, kept in step with ``birthday`` so the
    # care planner finds a day's birthdays with one indexed query (crm.lunar_dates).
    birth_mmdd: Mapped[int | None] = mapped_column(index=True)
    lunar_birth_mmdd: Mapped[int | None] = mapped_column(index=True)
    occupation: Mapped[str] = mapped_column(String(50), default="")
    city: Mapped[str] = mapped_column(String(50), default="", index=True)
    hobbies: Mapped[str] = mapped_column(String(200), default="", server_default="")
    employer: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # Driving licence, completed at delivery (PRODUCT "Deal and handover").
    licence_no: Mapped[str | None] = mapped_column(EncryptedText)
    licence_class: Mapped[str] = mapped_column(String(4), default="", server_default="")
    licence_expiry: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    # Set when the customer's personal data was erased on request (PIPL; crm.services.erasure):
    # the row stays, anonymised, so business records keep counting.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store = relationship("Store")
    sales_owner = relationship("Staff", foreign_keys=[sales_owner_id])
    advisor = relationship("Staff", foreign_keys=[advisor_id])
    vehicles = relationship("Vehicle", back_populates="customer", order_by="Vehicle.id")
    member_card = relationship("MemberCard", back_populates="customer", uselist=False)
    segment = relationship("CustomerSegment", back_populates="customer", uselist=False)
    consents: Mapped[list[Consent]] = relationship(
        back_populates="customer", order_by="Consent.recorded_at"
    )

    @validates("birthday")
    def _keep_birthday_keys(self, _key, birthday: date | None) -> date | None:
        self.birth_mmdd = birthday.month * 100 + birthday.day if birthday else None
        self.lunar_birth_mmdd = lunar_dates.lunar_mmdd(birthday) if birthday else None
        return birthday


class Consent(db.Model):
    """One consent decision: what for, when, through which channel, and who recorded it."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(50))  # e.g. "service_reminders", "marketing"
    channel: Mapped[str] = mapped_column(String(20))  # wechat / paper / phone / showroom
    granted: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str] = mapped_column(Text, default="")
    # The privacy notice the customer was shown (crm.services.consents.POLICY_VERSION).
    policy_version: Mapped[str] = mapped_column(String(20), default="", server_default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))

    customer: Mapped[Customer] = relationship(back_populates="consents")
