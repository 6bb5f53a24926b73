"""Part checks 零件检查 (PRODUCT "The care calendar": over-warranty part checks at ½ year /
10,000 km, 1 year / 20,000 km and 2 years / 60,000 km; message a day ahead + call).

Each check falls due after delivery (``Vehicle.delivered_on``) by time or by mileage, whichever
comes first, the mileage side judged by the mileage predicted from the vehicle's odometer
readings under the rule of ``crm.services.mileage`` (the vehicle's own daily rate once its
readings span two weeks, else its store's average, else the default). The message goes out at
09:00 the day before, with the vehicle, the check, the date and the store's booking phone;
the advisor calls the next day (``booking_call``).

The predicted day moves as readings come in (a service order, the store's average), so a day
can be skipped over: a check whose predicted day is already past is announced at once, as long
as the check's time side has not passed. Each check is announced once a vehicle (occasion:
the vehicle and the check).

Set-based: the vehicles delivered within the longest window (two years) are found by one
query on the delivery date; the odometer history of just those vehicles comes in one grouped
query, and the store averages once a store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import MileageReading, Store, Vehicle
from crm.services import mileage
from crm.services.care import vehicle_reminders
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank


@dataclass(frozen=True)
class Check:
    months: int
    km: int
    label: str


CHECKS = (
    Check(6, 10_000, "交车半年/1万公里零件检查"),
    Check(12, 20_000, "交车1年/2万公里零件检查"),
    Check(24, 60_000, "交车2年/6万公里零件检查"),
)
LONGEST = max(check.months for check in CHECKS)

KIND = CareKind(
    name="part_check",
    label="零件检查提醒",
    priority=Rank.SERVICE,
    fields={
        "keyword1": "车辆",
        "keyword2": "检查项目",
        "keyword3": "到期日期",
        "keyword4": "预约电话",
    },
    sample={
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": CHECKS[0].label,
        "keyword3": "2027-07-10",
        "keyword4": "0571-88880000",
    },
    page="/m/bookings/",
    booking_call=True,
)


@dataclass(frozen=True)
class Odometer:
    """A vehicle's readings in brief: the first and the latest (readings never go down)."""

    first_on: date
    last_on: date
    first_km: int
    last_km: int

    def own_daily_km(self) -> float | None:
        """The vehicle's own rate, under ``mileage``'s rule (at least MIN_SPAN_DAYS apart)."""
        span = (self.last_on - self.first_on).days
        if span < mileage.MIN_SPAN_DAYS or self.last_km < self.first_km:
            return None
        return (self.last_km - self.first_km) / span

    def day_reaching(self, km: int, daily_km: float) -> date | None:
        """The day ``km`` is expected (``mileage.date_reaching``): the latest reading's day
        when already past it."""
        if km <= self.last_km:
            return self.last_on
        if daily_km <= 0:
            return None
        return self.last_on + timedelta(days=math.ceil((km - self.last_km) / daily_km))


def _delivered_within(day: date):
    """Delivered on or before ``day`` and recently enough for the longest check to lie
    ahead of tomorrow (``x + n months >= T`` implies ``x >= T - n months``)."""
    oldest = day + timedelta(days=1) - relativedelta(months=LONGEST)
    return Vehicle.delivered_on.between(oldest, day)


def _odometers(session: Session, day: date) -> dict[int, Odometer]:
    """The readings of the candidate vehicles, one grouped query."""
    rows = session.execute(
        select(
            MileageReading.vehicle_id,
            func.min(MileageReading.read_on),
            func.max(MileageReading.read_on),
            func.min(MileageReading.km),
            func.max(MileageReading.km),
        )
        .join(Vehicle, Vehicle.id == MileageReading.vehicle_id)
        .where(_delivered_within(day))
        .group_by(MileageReading.vehicle_id)
    )
    return {vehicle_id: Odometer(*span) for vehicle_id, *span in rows}


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """The checks falling due tomorrow (or found already due and not yet announced, while
    their time side lies ahead)."""
    tomorrow = day + timedelta(days=1)
    vehicles = session.execute(
        select(
            Vehicle.id,
            Vehicle.customer_id,
            Vehicle.store_id,
            Vehicle.plate,
            Vehicle.model,
            Vehicle.delivered_on,
            Store.phone.label("store_phone"),
        )
        .join(Store, Store.id == Vehicle.store_id)
        .where(_delivered_within(day))
        .order_by(Vehicle.id)
    ).all()
    if not vehicles:
        return []
    odometers = _odometers(session, day)
    by_time: dict[date, list[date]] = {}  # per delivery day: few distinct days, many vehicles
    items = []
    with mileage.store_rates_held(session):
        for vehicle in vehicles:
            if vehicle.delivered_on not in by_time:
                by_time[vehicle.delivered_on] = [
                    vehicle.delivered_on + relativedelta(months=check.months) for check in CHECKS
                ]
            odometer = odometers.get(vehicle.id)
            daily_km = odometer.own_daily_km() if odometer is not None else None
            if odometer is not None and daily_km is None:  # mileage.daily_km's fallbacks
                daily_km = (
                    mileage.store_daily_km(session, vehicle.store_id) or mileage.DEFAULT_DAILY_KM
                )
            for check, time_due in zip(CHECKS, by_time[vehicle.delivered_on], strict=True):
                if time_due < tomorrow:
                    continue
                by_km = odometer.day_reaching(check.km, daily_km) if odometer else None
                due = min(time_due, by_km) if by_km else time_due
                if due <= tomorrow:
                    items.append(_item(vehicle, check, due, day))
    return items


def _item(vehicle, check: Check, due: date, day: date) -> CareItem:
    return CareItem(
        kind=KIND,
        customer_id=vehicle.customer_id,
        store_id=vehicle.store_id,
        occasion=f"{vehicle.id}:{check.months}m",
        due_on=due,
        send_at=vehicle_reminders.send_at(day),
        vehicle_id=vehicle.id,
        values={
            "keyword1": vehicle_reminders.vehicle_label(vehicle.plate, vehicle.model),
            "keyword2": check.label,
            "keyword3": f"{due:%Y-%m-%d}",
            "keyword4": vehicle.store_phone or NO_STORE_PHONE,
        },
    )
