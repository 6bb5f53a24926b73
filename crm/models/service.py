"""After-sales service orders (PRODUCT "Records": work order, date, work, parts, costs)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.extensions import db


class ServiceKind(StrEnum):
    FIRST_MAINTENANCE = "first_maintenance"
    PERIODIC_MAINTENANCE = "periodic_maintenance"
    REPAIR = "repair"
    ACCIDENT = "accident"
    WARRANTY = "warranty"
    PART_CHECK = "part_check"


SERVICE_KIND_LABELS = {
    ServiceKind.FIRST_MAINTENANCE: "首保",
    ServiceKind.PERIODIC_MAINTENANCE: "定期保养",
    ServiceKind.REPAIR: "维修",
    ServiceKind.ACCIDENT: "事故车",
    ServiceKind.WARRANTY: "保修",
    ServiceKind.PART_CHECK: "零件检查",
}


class ServiceOrder(db.Model):
    __tablename__ = "service_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    advisor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    work_order_no: Mapped[str] = mapped_column(String(30), unique=True)
    kind: Mapped[ServiceKind] = mapped_column(String(24))
    opened_on: Mapped[date] = mapped_column(Date, index=True)
    mileage_km: Mapped[int] = mapped_column(Integer)
    work_items: Mapped[str] = mapped_column(Text, default="")
    parts: Mapped[str] = mapped_column(Text, default="")
    labour_fen: Mapped[int] = mapped_column(Integer, default=0)
    parts_fen: Mapped[int] = mapped_column(Integer, default=0)
    # Paid orders count towards the membership tier; None while the bill is open.
    paid_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))

    vehicle = relationship("Vehicle", back_populates="service_orders")
    advisor = relationship("Staff", foreign_keys=[advisor_id])

    @property
    def total_fen(self) -> int:
        return self.labour_fen + self.parts_fen

    @property
    def kind_label(self) -> str:
        return SERVICE_KIND_LABELS[ServiceKind(self.kind)]
