"""Birthday greetings (PRODUCT "The care calendar": **before 08:30** on the day, on **both the
lunar and the solar birthday**).

Two kinds, so a customer hears from us on each of their birthdays: the solar one on the
month and day of their date of birth, the lunar one on the lunar month and day
(``crm.lunar_dates``: 29 February is greeted on 28 February in a common year, a lunar 30th
on the 29th when the month is short this year, and a leap month holds no birthdays since
its regular month already had them). When both fall on the same day the policy bundles one
into the other, so the customer still gets one message.

Every customer of every group with a birthday on file is greeted, vehicle or not. A birthday
message is a service notice (the birthday benefit credited), not marketing, and it goes out
from 07:00 so it arrives before 08:30.
"""

from __future__ import annotations

from datetime import date, datetime, time

from lunar_python.util import LunarUtil
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock
from crm.lunar_dates import lunar_birthdays_on, solar_birthdays_on
from crm.models import Customer, Store
from crm.services.care.holidays import spring_festival
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

SEND_AT = time(7, 0)  # the birthday window opens; everything due by 08:30
WISH = "祝您生日快乐，幸福安康！"

# The top greeting rank: a holiday on the same day (ranked just below) rides along with the
# birthday. Not above GREETING, or the policy would defer a second birthday message of the
# day (the lunar and the solar on one day) to tomorrow instead of bundling it.
PRIORITY = Rank.GREETING

_FIELDS = {
    "keyword1": "客户姓名",
    "keyword2": "生日",
    "keyword3": "祝福",
    "keyword4": "门店",
    "keyword5": "门店电话",
}

SOLAR = CareKind(
    name="birthday_solar",
    label="生日祝福（公历）",
    priority=PRIORITY,
    fields=_FIELDS,
    sample={
        "keyword1": "王先生",
        "keyword2": "5月20日",
        "keyword3": WISH,
        "keyword4": "杭州A店",
        "keyword5": "0571-88880000",
    },
    early=True,
)

LUNAR = CareKind(
    name="birthday_lunar",
    label="生日祝福（农历）",
    priority=PRIORITY,
    fields=_FIELDS,
    sample={
        "keyword1": "王先生",
        "keyword2": "农历四月初五",
        "keyword3": WISH,
        "keyword4": "杭州A店",
        "keyword5": "0571-88880000",
    },
    early=True,
)


def solar_label(mmdd: int) -> str:
    """A solar birthday as the customer knows it: 229 → "2月29日"."""
    return f"{mmdd // 100}月{mmdd % 100}日"


def lunar_label(mmdd: int) -> str:
    """A lunar birthday in Chinese: 1230 → "农历腊月三十"."""
    return f"农历{LunarUtil.MONTH[mmdd // 100]}月{LunarUtil.DAY[mmdd % 100]}"


def plan_solar(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Everyone whose solar birthday is celebrated on ``day``; one greeting a solar year."""
    return _items(
        session,
        SOLAR,
        Customer.birth_mmdd,
        solar_birthdays_on(day),
        day,
        occasion=str(day.year),
        label=solar_label,
    )


def plan_lunar(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Everyone whose lunar birthday is celebrated on ``day``; one greeting a lunar year (a
    lunar date can come twice in one solar year: early January and late December)."""
    keys = lunar_birthdays_on(day)
    if not keys:
        return []
    lunar_year = day.year if day >= spring_festival(day.year) else day.year - 1
    return _items(
        session,
        LUNAR,
        Customer.lunar_birth_mmdd,
        keys,
        day,
        occasion=str(lunar_year),
        label=lunar_label,
    )


def _items(session, kind: CareKind, column, keys, day: date, occasion: str, label):
    # One indexed query (birth_mmdd / lunar_birth_mmdd) for the whole day.
    rows = session.execute(
        select(Customer.id, Customer.store_id, Customer.name, column, Store.name, Store.phone)
        .join(Store, Store.id == Customer.store_id)
        .where(column.in_(keys))
        .order_by(Customer.id)
    )
    send_at = datetime.combine(day, SEND_AT, tzinfo=clock.BUSINESS_TZ)
    return [
        CareItem(
            kind=kind,
            customer_id=customer_id,
            store_id=store_id,
            occasion=occasion,
            due_on=day,
            send_at=send_at,
            values={
                "keyword1": name,
                "keyword2": label(mmdd),
                "keyword3": WISH,
                "keyword4": store_name,
                "keyword5": store_phone or NO_STORE_PHONE,
            },
        )
        for customer_id, store_id, name, mmdd, store_name, store_phone in rows
    ]
