"""A deal: deposit, full payment and delivery of one car to one lead (PRODUCT "Deal and
handover")."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class DealStatus(StrEnum):
    DEPOSIT = "deposit"  # deposit received, waiting for the full payment
    PAID = "paid"  # paid in full, waiting for delivery
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


DEAL_STATUS_LABELS = {
    DealStatus.DEPOSIT: "已交定金",
    DealStatus.PAID: "已付全款",
    DealStatus.DELIVERED: "已交车",
    DealStatus.CANCELLED: "已取消",
}


class DealStepKind(StrEnum):
    DEPOSIT = "deposit"
    PAYMENT = "payment"
    DELIVERY = "delivery"
    CANCELLED = "cancelled"
    ADVISOR = "advisor"  # the after-sales advisor was assigned


DEAL_STEP_LABELS = {
    DealStepKind.DEPOSIT: "收取定金",
    DealStepKind.PAYMENT: "付清全款",
    DealStepKind.DELIVERY: "交车",
    DealStepKind.CANCELLED: "取消订单",
    DealStepKind.ADVISOR: "分配服务顾问",
}


class Deal(db.Model):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    salesperson_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    model: Mapped[str] = mapped_column(String(50))
    trim: Mapped[str] = mapped_column(String(50), default="")
    status: Mapped[DealStatus] = mapped_column(String(10), default=DealStatus.DEPOSIT)
    deposit_fen: Mapped[int] = mapped_column(default=0)
    deposit_on: Mapped[date] = mapped_column(Date)
    paid_fen: Mapped[int | None] = mapped_column()
    paid_on: Mapped[date | None] = mapped_column(Date)
    delivered_on: Mapped[date | None] = mapped_column(Date)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Handover to after-sales: an advisor within one working day of delivery, or an alarm.
    handover_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    advisor_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handover_alarm_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    store = relationship("Store")
    lead = relationship("Lead")
    salesperson = relationship("Staff")
    customer = relationship("Customer")
    vehicle = relationship("Vehicle")
    steps: Mapped[list[DealStep]] = relationship(
        back_populates="deal", order_by="DealStep.recorded_at"
    )

    @property
    def status_label(self) -> str:
        return DEAL_STATUS_LABELS[DealStatus(self.status)]

    @property
    def open(self) -> bool:
        return self.status in (DealStatus.DEPOSIT, DealStatus.PAID)


class DealStep(db.Model):
    """One recorded step of a deal: what, on which day, how much, and who recorded it."""

    __tablename__ = "deal_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    kind: Mapped[DealStepKind] = mapped_column(String(10))
    on: Mapped[date] = mapped_column(Date)
    amount_fen: Mapped[int | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(200), default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    deal: Mapped[Deal] = relationship(back_populates="steps")
    staff = relationship("Staff")

    @property
    def kind_label(self) -> str:
        return DEAL_STEP_LABELS[DealStepKind(self.kind)]
