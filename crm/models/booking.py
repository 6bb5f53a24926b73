"""Maintenance bookings on a store's hourly slot calendar (issue "After-sales")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class BookingStatus(StrEnum):
    BOOKED = "booked"
    DONE = "done"
    CANCELLED = "cancelled"


BOOKING_STATUS_LABELS = {
    BookingStatus.BOOKED: "已预约",
    BookingStatus.DONE: "已到店",
    BookingStatus.CANCELLED: "已取消",
}


class BookingSlot(db.Model):
    """One hour of one store's workshop; ``booked`` only grows through a conditional UPDATE
    that keeps it at or below ``capacity``, so a full slot cannot be double-booked."""

    __tablename__ = "booking_slots"
    __table_args__ = (UniqueConstraint("store_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column()
    booked: Mapped[int] = mapped_column(default=0)


class Booking(db.Model):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("booking_slots.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(24))  # a ServiceKind
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[BookingStatus] = mapped_column(String(10), default=BookingStatus.BOOKED)
    # None when the customer booked from the member pages.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer = relationship("Customer")
    vehicle = relationship("Vehicle")
    slot = relationship("BookingSlot")

    @property
    def status_label(self) -> str:
        return BOOKING_STATUS_LABELS[BookingStatus(self.status)]
