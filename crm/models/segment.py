"""A customer's segments, computed daily (PRODUCT "Segments")."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db


class CustomerSegment(db.Model):
    __tablename__ = "customer_segments"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    car_age: Mapped[str] = mapped_column(String(10), default="", index=True)
    usage: Mapped[str] = mapped_column(String(12), default="", index=True)
    value_class: Mapped[str] = mapped_column(String(1), default="", index=True)
    rfm: Mapped[str] = mapped_column(String(12), default="", index=True)
    lost: Mapped[bool] = mapped_column(default=False, index=True)
    last_visit_on: Mapped[date | None] = mapped_column(Date)
    visits_12m: Mapped[int] = mapped_column(default=0)
    spend_12m_fen: Mapped[int] = mapped_column(default=0)
    spend_total_fen: Mapped[int] = mapped_column(default=0)
    computed_on: Mapped[date] = mapped_column(Date)

    customer = relationship("Customer", back_populates="segment")
