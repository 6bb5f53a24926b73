"""The delivery calls (PRODUCT "The care calendar": delivery 3-day call 3DC — paperwork done?
usage questionnaire, warning lights; delivery 7-day return visit 7DC — target 100% done).

Both are phone tasks for the salesperson who sold the car: the customer's sales owner, else
the salesperson of the deal that delivered the vehicle, while they still work here
(``callers``). One of each per delivered vehicle (occasion: the vehicle), due at 10:00 on
delivery + 3 and delivery + 7 days; one query a day each.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import CareTaskKind, Customer, Deal, DealStatus, Vehicle
from crm.services.care import callers, tasks, vehicle_reminders

THREE_DAY_TEXT = (
    "交车3日电访：{vehicle}。请确认上牌、保险等手续是否办妥，完成用车问卷，"
    "询问仪表盘有无故障灯亮起，解答使用疑问。"
)
SEVEN_DAY_TEXT = (
    "交车7日回访：{vehicle}。请了解客户用车感受和满意度，提醒首次保养时间，记录客户意见。"
)


def _queue(session: Session, day: date, now: datetime, after_days: int, kind, text: str) -> int:
    rows = session.execute(
        select(Vehicle, Customer, Deal.salesperson_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .outerjoin(
            Deal, (Deal.vehicle_id == Vehicle.id) & (Deal.status == DealStatus.DELIVERED.value)
        )
        .where(Vehicle.delivered_on == day - timedelta(days=after_days))
        .order_by(Vehicle.id)
    ).all()
    staff_ids = callers.choose(
        session, [(customer.sales_owner_id, seller_id) for _v, customer, seller_id in rows]
    )
    queued = 0
    for (vehicle, customer, _seller_id), staff_id in zip(rows, staff_ids, strict=True):
        new_id = tasks.queue(
            session,
            kind=kind,
            customer=customer,
            staff_id=staff_id,
            occasion=str(vehicle.id),
            due=tasks.due_at(day),
            text=text.format(vehicle=vehicle_reminders.vehicle_label(vehicle.plate, vehicle.model)),
            now=now,
            vehicle_id=vehicle.id,
        )
        queued += new_id is not None
    return queued


def plan_three_day_calls(session: Session, day: date, now: datetime) -> int:
    """The 3DC of every vehicle delivered 3 days before ``day``; how many are new."""
    return _queue(session, day, now, 3, CareTaskKind.DELIVERY_CALL_3D, THREE_DAY_TEXT)


def plan_seven_day_visits(session: Session, day: date, now: datetime) -> int:
    """The 7DC of every vehicle delivered 7 days before ``day``; how many are new."""
    return _queue(session, day, now, 7, CareTaskKind.DELIVERY_VISIT_7D, SEVEN_DAY_TEXT)
