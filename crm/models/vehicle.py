"""The vehicle archive (PRODUCT "Deal and handover", "Records")."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class Vehicle(db.Model):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    model: Mapped[str] = mapped_column(String(50))
    plate: Mapped[str] = mapped_column(String(16), default="")
    engine_no: Mapped[str] = mapped_column(String(30), default="")
    transmission_no: Mapped[str] = mapped_column(String(30), default="")
    colour: Mapped[str] = mapped_column(String(20), default="")
    purchase_date: Mapped[date | None] = mapped_column(Date)
    first_maintenance_date: Mapped[date | None] = mapped_column(Date)
    first_maintenance_km: Mapped[int | None] = mapped_column(Integer)
    mileage_km: Mapped[int] = mapped_column(Integer, default=0)
    compulsory_insurance_expiry: Mapped[date | None] = mapped_column(Date)
    commercial_insurance_expiry: Mapped[date | None] = mapped_column(Date)
    inspection_due: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    customer = relationship("Customer", back_populates="vehicles")
    service_orders = relationship(
        "ServiceOrder", back_populates="vehicle", order_by="ServiceOrder.opened_on"
    )
