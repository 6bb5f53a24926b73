"""Completing a vehicle archive after delivery (issue 7: insurance — compulsory and commercial
expiry — and the annual inspection are recorded at delivery or later; so is the plate of a
car delivered before it was registered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from crm import access, plates
from crm.models import Staff, Vehicle


@dataclass
class ArchiveUpdate:
    plate: str
    compulsory_insurance_expiry: date | None
    commercial_insurance_expiry: date | None
    inspection_due: date | None


def update_archive(session: Session, actor: Staff, vehicle_id: int, data: ArchiveUpdate) -> Vehicle:
    """Set the plate and the insurance and inspection dates of a vehicle the actor sees. A
    blank date clears it (the policy lapsed or was not renewed here); a bad plate is refused
    and nothing changes."""
    vehicle = access.get_or_404(Vehicle, vehicle_id, actor, "vehicle.edit")
    plate = plates.normalise(data.plate)
    vehicle.plate = plate
    vehicle.compulsory_insurance_expiry = data.compulsory_insurance_expiry
    vehicle.commercial_insurance_expiry = data.commercial_insurance_expiry
    vehicle.inspection_due = data.inspection_due
    session.commit()
    return vehicle
