"""Insurance expiry 保险到期 (PRODUCT "The care calendar": compulsory 交强险 and commercial
商业险 insurance; message, call next day).

Two kinds, one per policy, so a customer may opt out of one and the console may give each its
own template. Each expiry is announced *(ours)* 30 days ahead — in time to compare quotes and
renew, which insurers allow from about a month before expiry — and again 7 days ahead, at
09:00, with the vehicle, the policy, the expiry date and the store's phone. They are
service-critical (``Rank.CRITICAL``): a car without compulsory insurance may not be driven, so
they outrank greetings and are never held back a week by the weekly cap. After each message
the advisor calls the next day (``booking_call``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import InstrumentedAttribute, Session

from crm.models import Vehicle
from crm.services.care import vehicle_reminders
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

LEADS = (30, 7)  # days ahead

FIELDS = {
    "keyword1": "车辆",
    "keyword2": "险种",
    "keyword3": "到期日期",
    "keyword4": "续保电话",
}


def _kind(name: str, label: str, policy: str) -> CareKind:
    return CareKind(
        name=name,
        label=label,
        priority=Rank.CRITICAL,
        fields=FIELDS,
        sample={
            "keyword1": "浙A12345 凯美瑞",
            "keyword2": policy,
            "keyword3": "2027-06-14",
            "keyword4": "0571-88880000",
        },
        booking_call=True,
    )


COMPULSORY = _kind("insurance_compulsory", "交强险到期提醒", "交强险")
COMMERCIAL = _kind("insurance_commercial", "商业险到期提醒", "商业险")


def _plan(
    kind: CareKind, column: InstrumentedAttribute, session: Session, day: date
) -> list[CareItem]:
    return [
        vehicle_reminders.item(
            kind,
            row,
            lead,
            day,
            {
                "keyword1": vehicle_reminders.vehicle_label(row.plate, row.model),
                "keyword2": kind.sample["keyword2"],
                "keyword3": f"{row.due:%Y-%m-%d}",
                "keyword4": row.store_phone or NO_STORE_PHONE,
            },
        )
        for row, lead in vehicle_reminders.due_rows(session, column, day, LEADS)
    ]


def plan_compulsory(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Every compulsory insurance expiring 30 or 7 days after ``day`` (one query)."""
    return _plan(COMPULSORY, Vehicle.compulsory_insurance_expiry, session, day)


def plan_commercial(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Every commercial insurance expiring 30 or 7 days after ``day`` (one query)."""
    return _plan(COMMERCIAL, Vehicle.commercial_insurance_expiry, session, day)
