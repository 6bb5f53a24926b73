"""Reminders announced a number of days before a date kept on the vehicle (PRODUCT "The care
calendar": maintenance due, insurance expiry, annual inspection): the query and the item the
kinds of ``maintenance.py``, ``insurance.py`` and ``inspection.py`` share.

One query a kind and a day, whatever the number of vehicles: the vehicles whose date is
exactly one of the lead times away. Exactly, not "within": a reminder says "in 7 days", so
planning a day again, or a day missed and planned later with ``jobs plan --date``, gives the
same answer. The occasion is the vehicle, the date and the lead time, so a date moved by the
staff (a renewed policy, a replanned service) is announced again, and each lead time once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from sqlalchemy import Row, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm import clock
from crm.models import Store, Vehicle
from crm.services.care.kinds import CareItem, CareKind

SEND_AT = time(9, 0)  # Beijing time: after the morning rush, early enough to book the same day


def send_at(day: date) -> datetime:
    """09:00 Beijing time on ``day``."""
    return datetime.combine(day, SEND_AT, tzinfo=clock.BUSINESS_TZ)


def vehicle_label(plate: str, model: str) -> str:
    """How the customer knows the car: plate and model ("未上牌" before registration)."""
    return f"{plate or '未上牌'} {model}".strip()


def due_rows(
    session: Session,
    column: InstrumentedAttribute,
    day: date,
    leads: Iterable[int],
    *extra: InstrumentedAttribute,
) -> list[tuple[Row, int]]:
    """Each vehicle whose ``column`` is ``lead`` days after ``day`` for one of ``leads``, with
    the lead: the vehicle's id, customer, store, plate, model, the date (``due``), the store's
    phone and the ``extra`` columns. One query."""
    by_date = {day + timedelta(days=lead): lead for lead in leads}
    rows = session.execute(
        select(
            Vehicle.id,
            Vehicle.customer_id,
            Vehicle.store_id,
            Vehicle.plate,
            Vehicle.model,
            column.label("due"),
            Store.phone.label("store_phone"),
            *extra,
        )
        .join(Store, Store.id == Vehicle.store_id)
        .where(column.in_(list(by_date)))
        .order_by(Vehicle.id)
    ).all()
    return [(row, by_date[row.due]) for row in rows]


def item(kind: CareKind, row: Row, lead: int, day: date, values: dict[str, str]) -> CareItem:
    """The reminder of ``row``'s date ``lead`` days ahead, sent at 09:00 on ``day``."""
    return CareItem(
        kind=kind,
        customer_id=row.customer_id,
        store_id=row.store_id,
        occasion=f"{row.id}:{row.due:%Y-%m-%d}:{lead}d",
        due_on=row.due,
        send_at=send_at(day),
        values=values,
        vehicle_id=row.id,
    )
