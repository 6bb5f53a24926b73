"""The vehicle archive (PRODUCT "Deal and handover", "Records")."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class VehicleUsage(StrEnum):
    PRIVATE = "private"
    OFFICIAL = "official"
    COMMERCIAL = "commercial"


VEHICLE_USAGE_LABELS = {
    VehicleUsage.PRIVATE: "私家车",
    VehicleUsage.OFFICIAL: "公务车",
    VehicleUsage.COMMERCIAL: "营运车",
}


class Vehicle(db.Model):
    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    car_model_id: Mapped[int | None] = mapped_column(ForeignKey("car_models.id"))
    model: Mapped[str] = mapped_column(String(50))
    usage: Mapped[VehicleUsage] = mapped_column(
        String(12), default=VehicleUsage.PRIVATE, server_default="private"
    )
    plate: Mapped[str] = mapped_column(String(16), default="")
    engine_no: Mapped[str] = mapped_column(String(30), default="")
    transmission_no: Mapped[str] = mapped_column(String(30), default="")
    colour: Mapped[str] = mapped_column(String(20), default="")
    purchase_date: Mapped[date | None] = mapped_column(Date)
    first_maintenance_date: Mapped[date | None] = mapped_column(Date)
    first_maintenance_km: Mapped[int | None] = mapped_column(Integer)
    mileage_km: Mapped[int] = mapped_column(Integer, default=0)
    compulsory_insurance_expiry: Mapped[date | None] = mapped_column(Date, index=True)
    commercial_insurance_expiry: Mapped[date | None] = mapped_column(Date, index=True)
    inspection_due: Mapped[date | None] = mapped_column(Date, index=True)
    delivered_on: Mapped[date | None] = mapped_column(Date, index=True)
    warranty_until: Mapped[date | None] = mapped_column(Date)
    # The maintenance plan: the next service, due by date or by mileage, whichever comes first.
    next_service_kind: Mapped[str] = mapped_column(String(24), default="", server_default="")
    next_service_on: Mapped[date | None] = mapped_column(Date, index=True)
    next_service_km: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    customer = relationship("Customer", back_populates="vehicles")
    car_model = relationship("CarModel")
    service_orders = relationship(
        "ServiceOrder", back_populates="vehicle", order_by="ServiceOrder.opened_on"
    )

    @property
    def usage_label(self) -> str:
        return VEHICLE_USAGE_LABELS[VehicleUsage(self.usage)]


class MileageSource(StrEnum):
    DELIVERY = "delivery"
    SERVICE = "service"
    MANUAL = "manual"


class MileageReading(db.Model):
    """One odometer reading; the history predicts when the next service falls due."""

    __tablename__ = "mileage_readings"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    read_on: Mapped[date] = mapped_column(Date)
    km: Mapped[int] = mapped_column(Integer)
    source: Mapped[MileageSource] = mapped_column(String(10))
    service_order_id: Mapped[int | None] = mapped_column(ForeignKey("service_orders.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
