"""Purchase anniversaries and trade-in invitations (PRODUCT "The care calendar": purchase
anniversary; trade-in — yearly; cars over 3 years old).

A vehicle's anniversary is the month and day it was delivered (the purchase date when no
delivery was recorded), every year after; a car bought on 29 February is remembered on
28 February in a common year. From the third anniversary on, the same day also brings a
trade-in invitation, once a year; it ranks below the anniversary greeting, so the policy
bundles it into that message rather than contacting the customer twice.

Both are greetings (marketing): by default a staff member sends them personally.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from crm import clock
from crm.lunar_dates import solar_birthdays_on
from crm.models import Customer, Store, Vehicle
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

SEND_AT = time(10, 0)
TRADE_IN_AGE = 3  # years
TRADE_IN_OFFER = "免费评估旧车，置换享补贴"

KIND = CareKind(
    name="anniversary",
    label="购车周年",
    priority=Rank.GREETING - 5,
    fields={
        "keyword1": "客户姓名",
        "keyword2": "爱车",
        "keyword3": "购车日期",
        "keyword4": "相伴",
        "keyword5": "门店电话",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "凯美瑞 浙A12345",
        "keyword3": "2024-03-01",
        "keyword4": "感谢相伴3周年",
        "keyword5": "0571-88880000",
    },
    marketing=True,
)

TRADE_IN = CareKind(
    name="trade_in",
    label="置换邀约",
    priority=Rank.GREETING - 10,
    fields={
        "keyword1": "客户姓名",
        "keyword2": "爱车",
        "keyword3": "车龄",
        "keyword4": "置换礼遇",
        "keyword5": "咨询电话",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "凯美瑞 浙A12345",
        "keyword3": "3年",
        "keyword4": TRADE_IN_OFFER,
        "keyword5": "0571-88880000",
    },
    marketing=True,
)


def _anniversaries(session: Session, day: date, min_years: int):
    """Vehicles whose anniversary is ``day``, at least ``min_years`` old: one scan of the
    vehicles comparing month and day in SQL (SQLite and PostgreSQL alike)."""
    anchor = func.coalesce(Vehicle.delivered_on, Vehicle.purchase_date)
    month_day = extract("month", anchor) * 100 + extract("day", anchor)
    return session.execute(
        select(
            Vehicle.id,
            Vehicle.customer_id,
            Vehicle.store_id,
            Vehicle.model,
            Vehicle.plate,
            anchor,
            Customer.name,
            Store.phone,
        )
        .join(Customer, Customer.id == Vehicle.customer_id)
        .join(Store, Store.id == Vehicle.store_id)
        .where(
            anchor.is_not(None),
            # 29 February's cars on 28 February in a common year, as birthdays.
            month_day.in_(solar_birthdays_on(day)),
            extract("year", anchor) <= day.year - min_years,
        )
        .order_by(Vehicle.id)
    ).all()


def _car(model: str, plate: str) -> str:
    return f"{model} {plate}".strip()


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """An anniversary greeting for every vehicle bought on this month and day in an earlier
    year; one a vehicle a year."""
    send_at = datetime.combine(day, SEND_AT, tzinfo=clock.BUSINESS_TZ)
    return [
        CareItem(
            kind=KIND,
            customer_id=customer_id,
            store_id=store_id,
            occasion=f"{vehicle_id}:{day.year}",
            due_on=day,
            send_at=send_at,
            vehicle_id=vehicle_id,
            values={
                "keyword1": name,
                "keyword2": _car(model, plate),
                "keyword3": f"{bought:%Y-%m-%d}",
                "keyword4": f"感谢相伴{day.year - bought.year}周年",
                "keyword5": store_phone or NO_STORE_PHONE,
            },
        )
        for vehicle_id, customer_id, store_id, model, plate, bought, name, store_phone in (
            _anniversaries(session, day, 1)
        )
    ]


def plan_trade_in(session: Session, day: date, now: datetime) -> list[CareItem]:
    """A trade-in invitation on the anniversary of every vehicle at least three years old;
    one a vehicle a year."""
    send_at = datetime.combine(day, SEND_AT, tzinfo=clock.BUSINESS_TZ)
    return [
        CareItem(
            kind=TRADE_IN,
            customer_id=customer_id,
            store_id=store_id,
            occasion=f"{vehicle_id}:{day.year}",
            due_on=day,
            send_at=send_at,
            vehicle_id=vehicle_id,
            values={
                "keyword1": name,
                "keyword2": _car(model, plate),
                "keyword3": f"{day.year - bought.year}年",
                "keyword4": TRADE_IN_OFFER,
                "keyword5": store_phone or NO_STORE_PHONE,
            },
        )
        for vehicle_id, customer_id, store_id, model, plate, bought, name, store_phone in (
            _anniversaries(session, day, TRADE_IN_AGE)
        )
    ]
