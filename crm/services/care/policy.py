"""No harassment (issue 8 "No harassment"; PRODUCT "The care calendar": seasonal care is
bundled "to avoid several contacts in a short time").

For each customer the planner's items of a day pass through these rules, highest priority
first (service-critical reminders outrank service notices outrank greetings):

* a kind the customer opted out of is never queued;
* one message a customer a day: the first item of the day carries it; a later greeting is
  **bundled** into it (shown with it on the member page), a later service reminder is
  **deferred** to the next free day of the week;
* at most ``Group.care_weekly_cap`` messages a week (default 3): past the cap a greeting is
  bundled into the week's last message and a service notice waits for next Monday; a
  critical reminder (insurance, inspection, weather) still goes;
* a seasonal campaign rides along with any other message of the week, alone only when there
  is none;
* nothing goes out in the quiet hours, 21:00–08:00 (07:00 for the birthday window).

Rows already queued count (a re-run, the hand-over's new-car message, a weather warning), so
planning the same day again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock
from crm.models import CareOptOut, CareTaskKind, Customer, Group, OutboxMessage, OutboxState
from crm.services import outbox
from crm.services.care import tasks
from crm.services.care.kinds import CareItem, Rank

COUNTED = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT)
MORNING = time(8, 0)
EARLY_MORNING = time(7, 0)  # the birthday window: "before 08:30"
CHUNK = 500


@dataclass
class _Carrier:
    id: int
    day: date


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _week(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def _local_start(day: date, at: time = time.min) -> datetime:
    return datetime.combine(day, at, tzinfo=clock.BUSINESS_TZ)


def send_time(item: CareItem) -> datetime:
    """The item's send time moved out of the quiet hours (from 07:00 for early kinds)."""
    local = clock.local(item.send_at)
    opens = EARLY_MORNING if item.kind.early else MORNING
    if item.kind.early and EARLY_MORNING <= local.time() < MORNING:
        return item.send_at
    if local.time() < opens:
        return _local_start(local.date(), opens)
    return outbox.outside_quiet_hours(item.send_at)


class _Week:
    """One customer's messages of the planned week: the carriers per day, in send order."""

    def __init__(self, cap: int):
        self.cap = cap
        self.carriers: list[_Carrier] = []

    def on(self, day: date) -> _Carrier | None:
        return next((c for c in self.carriers if c.day == day), None)

    def free_day_after(self, day: date, week_end: date) -> date | None:
        candidate = day + timedelta(days=1)
        while candidate < week_end:
            if self.on(candidate) is None:
                return candidate
            candidate += timedelta(days=1)
        return None

    @property
    def full(self) -> bool:
        return len(self.carriers) >= self.cap

    @property
    def last(self) -> _Carrier | None:
        return max(self.carriers, key=lambda c: (c.day, c.id), default=None)


def apply(session: Session, day: date, items: list[CareItem], now: datetime) -> dict[str, int]:
    """Queue the day's items under the rules above (in the caller's transaction); how many
    rows each kind queued."""
    queued: dict[str, int] = defaultdict(int)
    if not items:
        return queued
    fresh = _not_yet_queued(session, items)
    fresh = _without_opt_outs(session, fresh)
    customer_ids = sorted({item.customer_id for item in fresh})
    weeks = _weeks(session, day, customer_ids)
    week_end = _week(day)[1]
    by_customer: dict[int, list[CareItem]] = defaultdict(list)
    for item in fresh:
        by_customer[item.customer_id].append(item)
    for customer_id, own in by_customer.items():
        week = weeks[customer_id]
        for item in sorted(own, key=lambda i: (-i.kind.priority, i.dedupe_key)):
            if _place(session, item, day, week, week_end, now):
                queued[item.kind.name] += 1
    return dict(queued)


def _place(
    session: Session, item: CareItem, day: date, week: _Week, week_end: date, now: datetime
) -> bool:
    at = send_time(item)
    send_day = clock.local(at).date()
    kind = item.kind
    if kind.bundle_only and week.last is not None:
        return _write(session, item, at, now, bundled_into=week.last.id) is not None
    taken = week.on(send_day)
    capped = week.full and not kind.critical
    if taken is not None or capped:
        if kind.priority <= Rank.GREETING:
            carrier = taken or week.last
            return _write(session, item, at, now, bundled_into=carrier.id) is not None
        later = None if capped else week.free_day_after(send_day, week_end)
        if later is None:
            later = send_day + timedelta(days=1) if kind.critical else week_end
        at = _local_start(later, MORNING)
        send_day = later
    message_id = _write(session, item, at, now)
    if message_id is None:
        return False
    if send_day < week_end:
        week.carriers.append(_Carrier(message_id, send_day))
    if kind.booking_call:
        _queue_booking_call(session, item, send_day, message_id, now)
    return True


def _write(session, item: CareItem, at: datetime, now: datetime, bundled_into: int | None = None):
    return outbox.enqueue(
        session,
        store_id=item.store_id,
        customer_id=item.customer_id,
        vehicle_id=item.vehicle_id,
        kind=item.kind.name,
        due_on=item.due_on,
        dedupe_key=item.dedupe_key,
        fields=item.values,
        url=item.kind.page,
        not_before=at,
        priority=item.kind.priority,
        bundled_into_id=bundled_into,
        now=now,
    )


def _queue_booking_call(session, item: CareItem, send_day: date, message_id: int, now) -> None:
    customer = session.get(Customer, item.customer_id)
    tasks.queue(
        session,
        kind=CareTaskKind.BOOKING_CALL,
        customer=customer,
        staff_id=customer.advisor_id or customer.sales_owner_id,
        occasion=item.dedupe_key,
        due=tasks.due_at(send_day + timedelta(days=1)),
        text=item.kind.personal_text(item.values),
        now=now,
        vehicle_id=item.vehicle_id,
        outbox_message_id=message_id,
    )


def _not_yet_queued(session: Session, items: list[CareItem]) -> list[CareItem]:
    keys = [item.dedupe_key for item in items]
    existing: set[str] = set()
    for chunk in _chunks(keys):
        existing.update(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))
            )
        )
    seen: set[str] = set()
    fresh = []
    for item in items:
        if item.dedupe_key not in existing and item.dedupe_key not in seen:
            seen.add(item.dedupe_key)
            fresh.append(item)
    return fresh


def _without_opt_outs(session: Session, items: list[CareItem]) -> list[CareItem]:
    customer_ids = sorted({item.customer_id for item in items})
    opted_out: set[tuple[int, str]] = set()
    for chunk in _chunks(customer_ids):
        opted_out.update(
            session.execute(
                select(CareOptOut.customer_id, CareOptOut.kind).where(
                    CareOptOut.customer_id.in_(chunk)
                )
            ).tuples()
        )
    return [item for item in items if (item.customer_id, item.kind.name) not in opted_out]


def _weeks(session: Session, day: date, customer_ids: list[int]) -> dict[int, _Week]:
    """Each customer's carriers already queued in ``day``'s week, with their group's cap."""
    monday, next_monday = _week(day)
    weeks: dict[int, _Week] = {}
    for chunk in _chunks(customer_ids):
        for customer_id, cap in session.execute(
            select(Customer.id, Group.care_weekly_cap)
            .join(Group, Group.id == Customer.group_id)
            .where(Customer.id.in_(chunk))
        ):
            weeks[customer_id] = _Week(cap)
        rows = session.execute(
            select(OutboxMessage.customer_id, OutboxMessage.id, OutboxMessage.not_before).where(
                OutboxMessage.customer_id.in_(chunk),
                OutboxMessage.state.in_([state.value for state in COUNTED]),
                OutboxMessage.bundled_into_id.is_(None),
                OutboxMessage.not_before >= _local_start(monday),
                OutboxMessage.not_before < _local_start(next_monday),
            )
        )
        for customer_id, message_id, not_before in rows:
            weeks[customer_id].carriers.append(_Carrier(message_id, clock.local(not_before).date()))
    return weeks
