"""Annual inspection 年检 (PRODUCT "The care calendar": due date; message, call next day).

The inspection due date (``Vehicle.inspection_due``, kept in the vehicle archive) is announced
*(ours, as for insurance)* 30 days ahead — the inspection may be done from three months before
— and 7 days ahead, at 09:00, with the vehicle, the date and the store's phone. Driving past
the date is an offence, so it is service-critical (``Rank.CRITICAL``); after each message the
advisor calls the next day (``booking_call``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from crm.models import Vehicle
from crm.services.care import vehicle_reminders
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

LEADS = (30, 7)  # days ahead

KIND = CareKind(
    name="inspection",
    label="年检提醒",
    priority=Rank.CRITICAL,
    fields={"keyword1": "车辆", "keyword2": "年检截止", "keyword3": "咨询电话"},
    sample={"keyword1": "浙A12345 凯美瑞", "keyword2": "2027-06-14", "keyword3": "0571-88880000"},
    booking_call=True,
)


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Every vehicle whose inspection falls due 30 or 7 days after ``day`` (one query)."""
    return [
        vehicle_reminders.item(
            KIND,
            row,
            lead,
            day,
            {
                "keyword1": vehicle_reminders.vehicle_label(row.plate, row.model),
                "keyword2": f"{row.due:%Y-%m-%d}",
                "keyword3": row.store_phone or NO_STORE_PHONE,
            },
        )
        for row, lead in vehicle_reminders.due_rows(session, Vehicle.inspection_due, day, LEADS)
    ]
