"""After a service order (PRODUCT "The care calendar": post-service — +24 h message, +7 days
call, the next maintenance; post-repair callback — repair + 3 days phone task: car OK? confirm
parts; then a thank-you message).

An order counts from the day it was settled: its ``paid_on``, or, for an order never marked
paid (warranty work at ¥0, an import without a settlement date), the day it was opened.

* Maintenance-type orders (first and periodic maintenance, part checks): the ``post_service``
  message the day after, at 10:00, with the vehicle, the work, the day, the advisor and the
  next maintenance (date or mileage) — and a call 7 days after (``POST_SERVICE_CALL``).
* Repair-type orders (repair, accident, warranty): a call 3 days after (``REPAIR_CALLBACK``):
  is the car all right, were the parts as agreed. Recording the call's outcome queues the
  ``repair_thanks`` message, in the same transaction (``record_outcome``).

Calls go to the order's advisor, else the customer's, while they still work here (``callers``).
Each kind is one query a day; each order gets each message and call once (occasion: the
order).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from crm import clock
from crm.errors import DomainError
from crm.models import (
    SERVICE_KIND_LABELS,
    CareTask,
    CareTaskKind,
    Customer,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Vehicle,
)
from crm.services.care import callers, policy, tasks, vehicle_reminders
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

SERVICE_KINDS = (
    ServiceKind.FIRST_MAINTENANCE.value,
    ServiceKind.PERIODIC_MAINTENANCE.value,
    ServiceKind.PART_CHECK.value,
)
REPAIR_KINDS = (ServiceKind.REPAIR.value, ServiceKind.ACCIDENT.value, ServiceKind.WARRANTY.value)
MESSAGE_AT = time(10, 0)  # "+24 h": the next morning, once the customer has driven the car
CALL_AFTER_DAYS = 7
CALLBACK_AFTER_DAYS = 3
THANKS = "感谢您接受回访，祝您用车愉快！"

KIND = CareKind(
    name="post_service",
    label="服务回访",
    priority=Rank.SERVICE,
    fields={
        "keyword1": "车辆",
        "keyword2": "服务项目",
        "keyword3": "服务日期",
        "keyword4": "服务顾问",
        "keyword5": "下次保养",
    },
    sample={
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "定期保养",
        "keyword3": "2027-05-18",
        "keyword4": "周顾问",
        "keyword5": "2028-01-16或15300公里",
    },
)

REPAIR_THANKS = CareKind(
    name="repair_thanks",
    label="维修回访致谢",
    priority=Rank.SERVICE,
    fields={
        "keyword1": "车辆",
        "keyword2": "服务顾问",
        "keyword3": "温馨提示",
        "keyword4": "服务电话",
    },
    sample={
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "周顾问",
        "keyword3": THANKS,
        "keyword4": "0571-88880000",
    },
)


def _settled_on(day: date):
    return or_(
        ServiceOrder.paid_on == day,
        and_(ServiceOrder.paid_on.is_(None), ServiceOrder.opened_on == day),
    )


def _orders(session: Session, day: date, kinds: tuple[str, ...]):
    """The orders of ``kinds`` settled on ``day``, with vehicle and customer (one query)."""
    return session.execute(
        select(ServiceOrder, Vehicle, Customer)
        .join(Vehicle, Vehicle.id == ServiceOrder.vehicle_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .where(ServiceOrder.kind.in_(kinds), _settled_on(day))
        .order_by(ServiceOrder.id)
    ).all()


def _label(order: ServiceOrder) -> str:
    return SERVICE_KIND_LABELS[ServiceKind(order.kind)]


def _next_service(vehicle: Vehicle) -> str:
    if vehicle.next_service_on and vehicle.next_service_km:
        return f"{vehicle.next_service_on:%Y-%m-%d}或{vehicle.next_service_km}公里"
    if vehicle.next_service_on:
        return f"{vehicle.next_service_on:%Y-%m-%d}"
    return "按保养手册"


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """The message of every maintenance-type order settled the day before ``day``."""
    rows = _orders(session, day - timedelta(days=1), SERVICE_KINDS)
    if not rows:
        return []
    advisor_ids = sorted({order.advisor_id for order, _v, _c in rows if order.advisor_id})
    names = dict(
        session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(advisor_ids))).all()
    )
    return [
        CareItem(
            kind=KIND,
            customer_id=customer.id,
            store_id=order.store_id,
            occasion=str(order.id),
            due_on=day,
            send_at=datetime.combine(day, MESSAGE_AT, tzinfo=clock.BUSINESS_TZ),
            vehicle_id=vehicle.id,
            values={
                "keyword1": vehicle_reminders.vehicle_label(vehicle.plate, vehicle.model),
                "keyword2": _label(order),
                "keyword3": f"{order.paid_on or order.opened_on:%Y-%m-%d}",
                "keyword4": names.get(order.advisor_id, ""),
                "keyword5": _next_service(vehicle),
            },
        )
        for order, vehicle, customer in rows
    ]


def _queue_calls(
    session: Session, day: date, now: datetime, after_days: int, kinds, task_kind, text
) -> int:
    rows = _orders(session, day - timedelta(days=after_days), kinds)
    staff_ids = callers.choose(
        session, [(order.advisor_id, customer.advisor_id) for order, _v, customer in rows]
    )
    queued = 0
    for (order, vehicle, customer), staff_id in zip(rows, staff_ids, strict=True):
        new_id = tasks.queue(
            session,
            kind=task_kind,
            customer=customer,
            staff_id=staff_id,
            occasion=str(order.id),
            due=tasks.due_at(day),
            text=text(order, vehicle),
            now=now,
            vehicle_id=vehicle.id,
        )
        queued += new_id is not None
    return queued


def _done(order: ServiceOrder, vehicle: Vehicle) -> str:
    return (
        f"{vehicle_reminders.vehicle_label(vehicle.plate, vehicle.model)}"
        f"于{order.paid_on or order.opened_on:%Y-%m-%d}完成{_label(order)}"
        f"（工单{order.work_order_no}）。"
    )


def _call_text(order: ServiceOrder, vehicle: Vehicle) -> str:
    return (
        _done(order, vehicle) + "请回访：车辆使用是否正常，对本次服务是否满意，并提醒下次保养"
        f"（{_next_service(vehicle)}）。"
    )


def _callback_text(order: ServiceOrder, vehicle: Vehicle) -> str:
    work = f"维修项目：{order.work_items}。" if order.work_items else ""
    parts = f"更换零件：{order.parts}。" if order.parts else ""
    return _done(order, vehicle) + f"{work}{parts}请回访：车辆是否一切正常，与客户确认更换的零件。"


def plan_post_service_calls(session: Session, day: date, now: datetime) -> int:
    """The call 7 days after each maintenance-type order (PRODUCT: "+7 days call"), due at
    10:00; how many are new."""
    return _queue_calls(
        session,
        day,
        now,
        CALL_AFTER_DAYS,
        SERVICE_KINDS,
        CareTaskKind.POST_SERVICE_CALL,
        _call_text,
    )


def plan_repair_callbacks(session: Session, day: date, now: datetime) -> int:
    """The call 3 days after each repair-type order (PRODUCT: "repair + 3 days"), due at
    10:00; how many are new."""
    return _queue_calls(
        session,
        day,
        now,
        CALLBACK_AFTER_DAYS,
        REPAIR_KINDS,
        CareTaskKind.REPAIR_CALLBACK,
        _callback_text,
    )


def thanks_item(session: Session, task: CareTask, actor: Staff, now: datetime) -> CareItem:
    """The thank-you message after a repair callback, from the advisor who called."""
    store = session.get(Store, task.store_id)
    vehicle = session.get(Vehicle, task.vehicle_id) if task.vehicle_id else None
    return CareItem(
        kind=REPAIR_THANKS,
        customer_id=task.customer_id,
        store_id=task.store_id,
        occasion=str(task.id),
        due_on=clock.today(now),
        send_at=now,
        vehicle_id=task.vehicle_id,
        values={
            "keyword1": vehicle_reminders.vehicle_label(vehicle.plate, vehicle.model)
            if vehicle
            else "",
            "keyword2": actor.name,
            "keyword3": THANKS,
            "keyword4": store.phone or NO_STORE_PHONE,
        },
    )


def record_outcome(
    session: Session, actor: Staff, task_id: int, outcome: str, now: datetime
) -> CareTask:
    """Close one of the actor's care tasks with its outcome (``tasks.record_outcome``: the
    actor's own, required, at most 200 characters); closing a repair callback also queues the
    thank-you message (PRODUCT: "then thank-you message").

    The message is queued first, so that the one commit of ``tasks.record_outcome`` writes
    both or neither; when the task is refused, the message is rolled back with it.
    """
    task = session.get(CareTask, task_id)
    if task is not None and task.kind == CareTaskKind.REPAIR_CALLBACK and task.done_at is None:
        policy.apply(session, clock.today(now), [thanks_item(session, task, actor, now)], now)
    try:
        return tasks.record_outcome(session, actor, task_id, outcome, now)
    except DomainError:
        session.rollback()
        raise
