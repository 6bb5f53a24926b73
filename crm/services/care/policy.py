"""No harassment (issue 8 "No harassment"; PRODUCT "The care calendar": seasonal care is
bundled "to avoid several contacts in a short time").

For each customer the planner's items of a day pass through these rules, highest priority
first (service-critical reminders outrank service notices outrank greetings):

* a kind the customer opted out of is never queued;
* one message a customer a day: the first item of the day carries it; a later greeting is
  **bundled** into it (shown with it on the member page), a later service reminder is
  **deferred** to the next free day of the week (else next Monday);
* at most ``Group.care_weekly_cap`` messages a week (default 3): past the cap a greeting is
  bundled into the week's last message and a service notice waits for next Monday;
* a critical reminder (insurance, inspection, weather) always goes on its day: it is what
  the customer must not miss, and it outranks everything else planned with it;
* a seasonal campaign rides along with any other message of the week, alone only when there
  is none;
* nothing goes out in the quiet hours, 21:00–08:00 (07:00 for the birthday window).

Rows already queued count (a re-run, the hand-over's new-car message, a weather warning), so
planning the same day again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock
from crm.models import (
    CareOptOut,
    CareTask,
    CareTaskKind,
    Customer,
    Group,
    OutboxMessage,
    OutboxState,
)
from crm.services import outbox
from crm.services.care import tasks
from crm.services.care.kinds import CareItem, Rank
from crm.services.insert_once import insert_many_once

COUNTED = (OutboxState.PENDING, OutboxState.SENDING, OutboxState.SENT)
MORNING = time(8, 0)
EARLY_MORNING = time(7, 0)  # the birthday window: "before 08:30"
CHUNK = 500


@dataclass
class _Carrier:
    """A message that goes out on ``day``: already queued (``id``) or decided in this run
    (``decision``)."""

    day: date
    id: int | None = None
    decision: _Decision | None = None


@dataclass
class _Decision:
    """What the rules made of one item: its send time, and the carrier it is bundled into."""

    item: CareItem
    at: datetime
    send_day: date
    into: _Carrier | None = None


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


@dataclass
class _Customer:
    """One customer's messages of the planned week, with what the rules need to know."""

    cap: int
    caller_id: int | None  # who calls the next day to book: the advisor, else the salesperson
    store_id: int
    carriers: list[_Carrier] = field(default_factory=list)

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
        return max(self.carriers, key=lambda c: c.day, default=None)


def apply(session: Session, day: date, items: list[CareItem], now: datetime) -> dict[str, int]:
    """Queue the day's items under the rules above (in the caller's transaction); how many
    rows each kind queued.

    The rules run in memory over the customers' weeks (a few queries for all of them); the
    rows are then written in bulk, each INSERT … ON CONFLICT DO NOTHING on its dedupe key.
    """
    if not items:
        return {}
    fresh = _not_yet_queued(session, items)
    fresh = _without_opt_outs(session, fresh)
    customers = _customers(session, day, sorted({item.customer_id for item in fresh}))
    week_end = _week(day)[1]
    by_customer: dict[int, list[CareItem]] = defaultdict(list)
    for item in fresh:
        by_customer[item.customer_id].append(item)
    decisions = []
    for customer_id, own in by_customer.items():
        customer = customers[customer_id]
        for item in sorted(own, key=lambda i: (-i.kind.priority, i.dedupe_key)):
            decisions.append(_decide(item, customer, week_end))
    return _write(session, decisions, customers, now)


def _decide(item: CareItem, customer: _Customer, week_end: date) -> _Decision:
    at = send_time(item)
    send_day = clock.local(at).date()
    kind = item.kind
    if kind.bundle_only and customer.last is not None:
        return _bundle(item, at, send_day, customer.last)
    taken = customer.on(send_day)
    if not kind.critical and (taken is not None or customer.full):
        if kind.priority <= Rank.GREETING:
            return _bundle(item, at, send_day, taken or customer.last)
        later = None if customer.full else customer.free_day_after(send_day, week_end)
        send_day = later or week_end
        at = _local_start(send_day, MORNING)
    decision = _Decision(item, at, send_day)
    if send_day < week_end:
        customer.carriers.append(_Carrier(send_day, decision=decision))
    return decision


def _bundle(item: CareItem, at: datetime, send_day: date, carrier: _Carrier) -> _Decision:
    # An early greeting (the birthday, before 08:30) brings a carrier of this run forward.
    if item.kind.early and carrier.decision is not None and carrier.day == send_day:
        carrier.decision.at = min(carrier.decision.at, at)
    return _Decision(item, at, send_day, into=carrier)


def _row(decision: _Decision, now: datetime, bundled_into: int | None = None) -> dict:
    item = decision.item
    state = OutboxState.BUNDLED if bundled_into else OutboxState.PENDING
    return {
        "store_id": item.store_id,
        "customer_id": item.customer_id,
        "vehicle_id": item.vehicle_id,
        "kind": item.kind.name,
        "due_on": item.due_on,
        "dedupe_key": item.dedupe_key,
        "payload": outbox.payload(item.values, item.kind.page),
        "not_before": decision.at,
        "priority": item.kind.priority,
        "bundled_into_id": bundled_into,
        "channel": "",
        "state": state.value,
        "attempts": 0,
        "error": "",
        "msgid": "",
        "created_at": now,
    }


def _write(session, decisions: list[_Decision], customers, now: datetime) -> dict[str, int]:
    """Carriers first (their ids), then the rows bundled into them, then the booking calls."""
    carriers = [d for d in decisions if d.into is None]
    ids = insert_many_once(session, OutboxMessage, [_row(d, now) for d in carriers])
    bundled = [d for d in decisions if d.into is not None]
    wanted = [d.into.decision.item.dedupe_key for d in bundled if d.into.id is None]
    missing = [key for key in wanted if key not in ids]
    if missing:  # written meanwhile by another planner
        ids.update(
            session.execute(
                select(OutboxMessage.dedupe_key, OutboxMessage.id).where(
                    OutboxMessage.dedupe_key.in_(missing)
                )
            )
            .tuples()
            .all()
        )
    rows = [_row(d, now, d.into.id or ids[d.into.decision.item.dedupe_key]) for d in bundled]
    ids.update(insert_many_once(session, OutboxMessage, rows))
    queued: dict[str, int] = defaultdict(int)
    for decision in decisions:
        if decision.item.dedupe_key in ids:
            queued[decision.item.kind.name] += 1
    calls = [
        _booking_call(d, customers[d.item.customer_id], ids[d.item.dedupe_key], now)
        for d in carriers
        if d.item.kind.booking_call and d.item.dedupe_key in ids
    ]
    insert_many_once(session, CareTask, calls)
    return dict(queued)


def _booking_call(decision: _Decision, customer: _Customer, message_id: int, now) -> dict:
    """The advisor calls the day after the reminder to book (PRODUCT: "call next day")."""
    item = decision.item
    return {
        "store_id": customer.store_id,
        "staff_id": customer.caller_id,
        "customer_id": item.customer_id,
        "vehicle_id": item.vehicle_id,
        "kind": CareTaskKind.BOOKING_CALL.value,
        "dedupe_key": f"{CareTaskKind.BOOKING_CALL.value}:{item.customer_id}:{item.dedupe_key}",
        "due_at": tasks.due_at(decision.send_day + timedelta(days=1)),
        "text": item.kind.personal_text(item.values),
        "outbox_message_id": message_id,
        "outcome": "",
        "created_at": now,
    }


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


def _customers(session: Session, day: date, customer_ids: list[int]) -> dict[int, _Customer]:
    """Each customer's carriers already queued in ``day``'s week, with their group's cap."""
    monday, next_monday = _week(day)
    customers: dict[int, _Customer] = {}
    for chunk in _chunks(customer_ids):
        for customer_id, cap, advisor_id, owner_id, store_id in session.execute(
            select(
                Customer.id,
                Group.care_weekly_cap,
                Customer.advisor_id,
                Customer.sales_owner_id,
                Customer.store_id,
            )
            .join(Group, Group.id == Customer.group_id)
            .where(Customer.id.in_(chunk))
        ):
            customers[customer_id] = _Customer(cap, advisor_id or owner_id, store_id)
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
            customers[customer_id].carriers.append(
                _Carrier(clock.local(not_before).date(), id=message_id)
            )
    return customers
