"""New-car care (PRODUCT "The care calendar": at delivery — who serves you, the booking and
rescue phones, the address, the first-maintenance date; PRODUCT "Deal and handover": hand the
customer to an advisor, telling the customer who it is).

The message waits for the advisor: it is queued when the customer is handed over (at delivery
when they already have an advisor, else when one is assigned), and the daily planner queues
any that were missed. One per delivered vehicle (occasion: the vehicle).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock
from crm.models import Customer, Deal, DealStatus, Staff, Store, Vehicle
from crm.services.care import policy
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

KIND = CareKind(
    name="new_car",
    label="新车关怀",
    priority=Rank.SERVICE + 10,
    fields={
        "keyword1": "服务顾问",
        "keyword2": "预约电话",
        "keyword3": "救援电话",
        "keyword4": "门店地址",
        "keyword5": "首次保养",
    },
    sample={
        "keyword1": "周顾问",
        "keyword2": "0571-88880000",
        "keyword3": "0571-88889999",
        "keyword4": "杭州市西湖区文三路100号",
        "keyword5": "2027-05-20或5000公里",
    },
)


def item_for_deal(session: Session, deal: Deal, now: datetime) -> CareItem | None:
    """The new-car message of a delivered deal whose customer has an advisor."""
    customer = session.get(Customer, deal.customer_id)
    advisor = session.get(Staff, customer.advisor_id) if customer.advisor_id else None
    if advisor is None or deal.vehicle_id is None:
        return None
    store = session.get(Store, deal.store_id)
    vehicle = session.get(Vehicle, deal.vehicle_id)
    first_service = vehicle.first_maintenance_date
    return CareItem(
        kind=KIND,
        customer_id=customer.id,
        store_id=deal.store_id,
        occasion=str(vehicle.id),
        due_on=clock.today(now),
        send_at=now,
        vehicle_id=vehicle.id,
        values={
            "keyword1": advisor.name,
            "keyword2": store.phone or NO_STORE_PHONE,
            "keyword3": store.rescue_phone or store.phone or NO_STORE_PHONE,
            "keyword4": store.address or store.name,
            "keyword5": (
                f"{first_service:%Y-%m-%d}或{vehicle.first_maintenance_km}公里"
                if first_service
                else "按保养手册"
            ),
        },
    )


def queue_for_deal(session: Session, deal: Deal, now: datetime) -> bool:
    """Queue the message at the hand-over (part of the caller's transaction)."""
    item = item_for_deal(session, deal, now)
    if item is None:
        return False
    return bool(policy.apply(session, clock.today(now), [item], now))


CATCH_UP_DAYS = 30  # a hand-over later than this is long overdue and alarmed anyway


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """The message of every vehicle delivered in the last month and handed over (those
    queued at the hand-over are skipped by their dedupe key)."""
    deals = session.scalars(
        select(Deal).where(
            Deal.status == DealStatus.DELIVERED,
            Deal.advisor_assigned_at.is_not(None),
            Deal.delivered_on <= day,
            Deal.delivered_on > day - timedelta(days=CATCH_UP_DAYS),
        )
    ).all()
    return [item for deal in deals if (item := item_for_deal(session, deal, now))]
