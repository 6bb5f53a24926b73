"""The maintenance plan of a vehicle (PRODUCT "Deal and handover"; issue 7): the first service
by date or mileage after delivery, then the brand's interval for the model (months and km,
``CarModel``), whichever comes first, the mileage side judged by the predicted mileage
(``crm.services.mileage``).

``replan`` derives the next service from the data every time — the first-maintenance date and
mileage while the car has had no maintenance, else the latest maintenance order — so a late
import of an old order or a new reading can never leave a stale plan behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import CarModel, ServiceKind, ServiceOrder, Vehicle
from crm.services import mileage

MAINTENANCE_KINDS = (ServiceKind.FIRST_MAINTENANCE.value, ServiceKind.PERIODIC_MAINTENANCE.value)


@dataclass(frozen=True)
class Schedule:
    first_months: int = 6
    first_km: int = 5000
    interval_months: int = 12
    interval_km: int = 10000
    warranty_months: int = 24


DEFAULT_SCHEDULE = Schedule()


def schedule_of(session: Session, vehicle: Vehicle) -> Schedule:
    """The model's schedule from the catalogue, or the defaults for a model not listed."""
    model = session.get(CarModel, vehicle.car_model_id) if vehicle.car_model_id else None
    if model is None:
        return DEFAULT_SCHEDULE
    return Schedule(
        model.first_service_months,
        model.first_service_km,
        model.service_interval_months,
        model.service_interval_km,
        model.warranty_months,
    )


def start(session: Session, vehicle: Vehicle, delivered_on: date) -> None:
    """At delivery: fill the first-maintenance date and mileage the salesperson left blank,
    the warranty end, and plan the first service."""
    schedule = schedule_of(session, vehicle)
    if vehicle.first_maintenance_date is None:
        vehicle.first_maintenance_date = delivered_on + relativedelta(months=schedule.first_months)
    if vehicle.first_maintenance_km is None:
        vehicle.first_maintenance_km = (vehicle.mileage_km or 0) + schedule.first_km
    if vehicle.warranty_until is None:
        vehicle.warranty_until = delivered_on + relativedelta(months=schedule.warranty_months)
    replan(session, vehicle)


def _latest_maintenance(session: Session, vehicle: Vehicle) -> ServiceOrder | None:
    return session.scalar(
        select(ServiceOrder)
        .where(ServiceOrder.vehicle_id == vehicle.id, ServiceOrder.kind.in_(MAINTENANCE_KINDS))
        .order_by(ServiceOrder.opened_on.desc(), ServiceOrder.mileage_km.desc())
        .limit(1)
    )


def replan(session: Session, vehicle: Vehicle) -> None:
    """Set the vehicle's next service: kind, the mileage it is due at, and the date it falls
    due — the earlier of the date by time and the day the predicted mileage gets there."""
    last = _latest_maintenance(session, vehicle) if vehicle.id is not None else None
    if last is None:
        kind = ServiceKind.FIRST_MAINTENANCE
        due_on, due_km = vehicle.first_maintenance_date, vehicle.first_maintenance_km
    else:
        schedule = schedule_of(session, vehicle)
        kind = ServiceKind.PERIODIC_MAINTENANCE
        due_on = last.opened_on + relativedelta(months=schedule.interval_months)
        due_km = last.mileage_km + schedule.interval_km
    by_mileage = mileage.date_reaching(session, vehicle, due_km) if due_km else None
    candidates = [day for day in (due_on, by_mileage) if day is not None]
    vehicle.next_service_kind = kind.value
    vehicle.next_service_km = due_km
    vehicle.next_service_on = min(candidates) if candidates else None
