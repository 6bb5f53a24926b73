"""Odometer readings and the mileage they predict (issue 7 "After-sales": each service order
updates the vehicle's mileage history; the predicted mileage, per vehicle and falling back to
the store's average, drives the next maintenance date).

The daily rate of a vehicle is the distance between its earliest and latest readings divided
by the days between them, once the readings span at least ``MIN_SPAN_DAYS``. Without such a
history the store's average rate over its vehicles that have one is used, and without that
``DEFAULT_DAILY_KM`` *(ours: about 14,600 km a year, a typical private car)*.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.errors import ValidationError
from crm.models import MileageReading, MileageSource, ServiceOrder, Vehicle

MIN_SPAN_DAYS = 14
DEFAULT_DAILY_KM = 40.0
FIELD = "mileage_km"


def check_reading(session: Session, vehicle: Vehicle, km: int, on: date) -> None:
    """A reading must fit the history: not below any reading taken on or before ``on``, not
    above any taken after it (service orders may be imported out of order)."""
    if km is None or km < 0:
        raise ValidationError("里程不能为负数", FIELD)
    if vehicle.id is None:
        return
    before = session.scalar(
        select(func.max(MileageReading.km)).where(
            MileageReading.vehicle_id == vehicle.id, MileageReading.read_on <= on
        )
    )
    if before is not None and km < before:
        raise ValidationError(f"里程 {km} 公里低于此前记录的 {before} 公里", FIELD)
    after = session.scalar(
        select(func.min(MileageReading.km)).where(
            MileageReading.vehicle_id == vehicle.id, MileageReading.read_on > on
        )
    )
    if after is not None and km > after:
        raise ValidationError(f"里程 {km} 公里高于之后记录的 {after} 公里", FIELD)


def record_reading(
    session: Session,
    vehicle: Vehicle,
    km: int,
    on: date,
    source: MileageSource,
    service_order: ServiceOrder | None = None,
) -> MileageReading:
    """Add a reading after ``check_reading``; the vehicle keeps its highest mileage."""
    check_reading(session, vehicle, km, on)
    if vehicle.id is None:
        session.flush()
    reading = MileageReading(
        vehicle_id=vehicle.id,
        read_on=on,
        km=km,
        source=source.value,
        service_order_id=service_order.id if service_order is not None else None,
    )
    session.add(reading)
    vehicle.mileage_km = max(vehicle.mileage_km or 0, km)
    session.flush()
    return reading


def _rate(first_on: date, last_on: date, first_km: int, last_km: int) -> float | None:
    span = (last_on - first_on).days
    if span < MIN_SPAN_DAYS or last_km < first_km:
        return None
    return (last_km - first_km) / span


def _span_per_vehicle(vehicle_filter):
    return (
        select(
            func.min(MileageReading.read_on),
            func.max(MileageReading.read_on),
            func.min(MileageReading.km),
            func.max(MileageReading.km),
        )
        .where(vehicle_filter)
        .group_by(MileageReading.vehicle_id)
    )


_HELD_STORE_RATES = "crm.mileage.store_rates"


@contextmanager
def store_rates_held(session: Session) -> Iterator[None]:
    """Within the block each store's average rate is computed once: for planning many
    vehicles in a row once their readings are in (a service-order import), when the average
    cannot change in between. Outside such a block nothing is kept."""
    session.info[_HELD_STORE_RATES] = {}
    try:
        yield
    finally:
        session.info.pop(_HELD_STORE_RATES, None)


def store_daily_km(session: Session, store_id: int) -> float | None:
    """The average daily rate of the store's vehicles that have enough history."""
    held = session.info.get(_HELD_STORE_RATES)
    if held is not None and store_id in held:
        return held[store_id]
    in_store = MileageReading.vehicle_id.in_(select(Vehicle.id).where(Vehicle.store_id == store_id))
    rates = [r for r in (_rate(*row) for row in session.execute(_span_per_vehicle(in_store))) if r]
    average = sum(rates) / len(rates) if rates else None
    if held is not None:
        held[store_id] = average
    return average


def daily_km(session: Session, vehicle: Vehicle) -> float:
    """The vehicle's own rate, else the store's average, else the default."""
    row = session.execute(_span_per_vehicle(MileageReading.vehicle_id == vehicle.id)).first()
    own = _rate(*row) if row else None
    if own is not None:
        return own
    return store_daily_km(session, vehicle.store_id) or DEFAULT_DAILY_KM


def latest_reading(session: Session, vehicle: Vehicle) -> MileageReading | None:
    return session.scalar(
        select(MileageReading)
        .where(MileageReading.vehicle_id == vehicle.id)
        .order_by(MileageReading.read_on.desc(), MileageReading.km.desc())
        .limit(1)
    )


def predicted_km(session: Session, vehicle: Vehicle, on: date) -> int:
    """The mileage the vehicle is expected to show on ``on``."""
    last = latest_reading(session, vehicle)
    if last is None:
        return vehicle.mileage_km or 0
    days = max((on - last.read_on).days, 0)
    return last.km + round(days * daily_km(session, vehicle))


def date_reaching(session: Session, vehicle: Vehicle, km: int) -> date | None:
    """The day the vehicle is expected to reach ``km``, from its latest reading."""
    last = latest_reading(session, vehicle)
    if last is None:
        return None
    if km <= last.km:
        return last.read_on
    rate = daily_km(session, vehicle)
    return last.read_on + timedelta(days=math.ceil((km - last.km) / rate)) if rate > 0 else None
