"""Booking notices to the customer (issue 9 "Book maintenance": a confirmation message on
booking, change and cancel, also when staff book): one 预约通知 per event, queued in the
outbox (ARCHITECTURE rule 2) in the same transaction as the booking change it reports, so a
refused change never sends anything.

The notice names the store, the hour, the service and the new status (已预约 / 已改期 /
已取消) and opens the member's booking page. It respects the customer's care settings: a
customer who switched 预约通知 off (``/m/preferences``) gets none. Like every customer
message it waits out the quiet hours (21:00–08:00). A customer WeChat cannot reach is not
phoned instead: they booked, or were booked on the phone, a moment ago.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock
from crm.models import SERVICE_KIND_LABELS, Booking, CareOptOut, ServiceKind, Store, Vehicle
from crm.services import outbox
from crm.services.care.kinds import NO_STORE_PHONE, CareKind, Rank
from crm.services.care.vehicle_reminders import vehicle_label

PAGE = "/m/bookings/"

KIND = CareKind(
    name="booking_update",
    label="预约通知",
    priority=Rank.SERVICE,
    fields={
        "keyword1": "门店",
        "keyword2": "预约时间",
        "keyword3": "服务项目",
        "keyword4": "预约状态",
        "keyword5": "门店电话",
    },
    sample={
        "keyword1": "杭州西湖店",
        "keyword2": "06月16日 09:00",
        "keyword3": "定期保养 浙A12345",
        "keyword4": "已预约",
        "keyword5": "0571-88880000",
    },
    page=PAGE,
    call_if_unreachable=False,
)


class Event(StrEnum):
    BOOKED = "booked"
    CHANGED = "changed"
    CANCELLED = "cancelled"


STATUS_TEXT = {Event.BOOKED: "已预约", Event.CHANGED: "已改期", Event.CANCELLED: "已取消"}


def _hour(moment: datetime) -> str:
    return f"{clock.local(moment):%m月%d日 %H:%M}"


def _opted_out(session: Session, customer_id: int) -> bool:
    return (
        session.scalar(
            select(CareOptOut.id).where(
                CareOptOut.customer_id == customer_id, CareOptOut.kind == KIND.name
            )
        )
        is not None
    )


def fields(
    session: Session, booking: Booking, event: Event, previous: datetime | None = None
) -> dict[str, str]:
    """What the notice says: store, hour, service (with the car), status, store phone. A
    change names the hour it moved from."""
    store = session.get(Store, booking.store_id)
    vehicle = session.get(Vehicle, booking.vehicle_id) if booking.vehicle_id else None
    service = SERVICE_KIND_LABELS[ServiceKind(booking.kind)]
    if vehicle is not None:
        service = f"{service} {vehicle_label(vehicle.plate, vehicle.model)}"
    status = STATUS_TEXT[event]
    if event == Event.CHANGED and previous is not None:
        status = f"{status}（原{clock.local(previous):%m-%d %H:%M}）"
    return {
        "keyword1": store.name,
        "keyword2": _hour(booking.starts_at),
        "keyword3": service,
        "keyword4": status,
        "keyword5": store.phone or NO_STORE_PHONE,
    }


def queue(
    session: Session,
    booking: Booking,
    event: Event,
    now: datetime,
    previous: datetime | None = None,
) -> int | None:
    """Queue the notice of ``event`` for ``booking`` (not committed: the caller's transaction
    carries it). None when the customer switched booking notices off.

    The dedupe key names the booking, the event and the moment, so each booking, change and
    cancellation is one message, and the same event queued twice is still one.
    """
    if _opted_out(session, booking.customer_id):
        return None
    return outbox.enqueue(
        session,
        store_id=booking.store_id,
        customer_id=booking.customer_id,
        kind=KIND.name,
        due_on=clock.today(now),
        dedupe_key=f"{KIND.name}:{booking.customer_id}:{booking.id}:{event.value}:"
        f"{clock.local(booking.starts_at):%Y%m%d%H}:{now:%Y%m%d%H%M%S%f}",
        fields=fields(session, booking, event, previous),
        url=PAGE,
        not_before=outbox.outside_quiet_hours(now),
        now=now,
        vehicle_id=booking.vehicle_id,
        priority=KIND.priority,
    )
