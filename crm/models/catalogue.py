"""The car models a group sells: leads name one, imports are checked against the list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class CarModel(db.Model):
    __tablename__ = "car_models"
    __table_args__ = (UniqueConstraint("group_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    active: Mapped[bool] = mapped_column(default=True)
    # The brand's maintenance schedule and warranty for this model (issue "Deal and delivery").
    first_service_months: Mapped[int] = mapped_column(default=6, server_default="6")
    first_service_km: Mapped[int] = mapped_column(default=5000, server_default="5000")
    service_interval_months: Mapped[int] = mapped_column(default=12, server_default="12")
    service_interval_km: Mapped[int] = mapped_column(default=10000, server_default="10000")
    warranty_months: Mapped[int] = mapped_column(default=24, server_default="24")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
