"""Maintenance due 保养提醒 (PRODUCT "The care calendar": first and periodic maintenance, by time
and by predicted mileage; message 7 days and 1 day ahead, call next day to book).

The vehicle's next service is kept by the maintenance plan (``crm.services.maintenance_plan``):
``next_service_on`` is already the earlier of the date by time and the day the predicted
mileage reaches ``next_service_km``. It is announced 7 days and 1 day ahead at 09:00, each
with the vehicle, the kind of service, the date, the mileage and the store's booking phone;
after each message the advisor calls the next day to book (``booking_call``, queued by the
policy).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from crm.models import SERVICE_KIND_LABELS, ServiceKind, Vehicle
from crm.services.care import vehicle_reminders
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

LEADS = (7, 1)  # days ahead

KIND = CareKind(
    name="maintenance_due",
    label="保养提醒",
    priority=Rank.SERVICE,
    fields={
        "keyword1": "车辆",
        "keyword2": "保养项目",
        "keyword3": "到期日期",
        "keyword4": "到期里程",
        "keyword5": "预约电话",
    },
    sample={
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "定期保养",
        "keyword3": "2027-05-20",
        "keyword4": "15000公里",
        "keyword5": "0571-88880000",
    },
    page="/m/bookings/",
    booking_call=True,
)


def _service_label(kind: str) -> str:
    try:
        return SERVICE_KIND_LABELS[ServiceKind(kind)]
    except ValueError:
        return "定期保养"


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Every vehicle whose next service falls 7 or 1 days after ``day`` (one query)."""
    rows = vehicle_reminders.due_rows(
        session,
        Vehicle.next_service_on,
        day,
        LEADS,
        Vehicle.next_service_km,
        Vehicle.next_service_kind,
    )
    return [
        vehicle_reminders.item(
            KIND,
            row,
            lead,
            day,
            {
                "keyword1": vehicle_reminders.vehicle_label(row.plate, row.model),
                "keyword2": _service_label(row.next_service_kind),
                "keyword3": f"{row.due:%Y-%m-%d}",
                "keyword4": f"{row.next_service_km}公里" if row.next_service_km else "按保养手册",
                "keyword5": row.store_phone or NO_STORE_PHONE,
            },
        )
        for row, lead in rows
    ]
