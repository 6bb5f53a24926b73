"""The console's outbox page 发送队列 (issue 8 "Outbox page: filter by kind, state, store, day;
counts per state; a failed row's reason and a re-send button; the calendar of what will go out
tomorrow, with counts per kind"; ARCHITECTURE rule 2: the outbox).

Rules:

* store admins see their store's rows, the group admin every store of the group
  (``access.scope`` on ``OutboxMessage``); nobody else opens the page ("outbox.view");
* the list filters by kind, state, store and the Beijing day the row is due to go out; the
  counts per state are those of the other filters, so each state's chip says how many rows
  choosing it would list;
* the store and group admins export the filtered list to Excel (``console_lists.outbox``);
* only a row WeChat refused (``failed``) or that had nothing to go through (``no_channel``) is
  re-sent: it goes back to ``pending`` due now, with its attempts and error cleared; any other
  row is refused with the reason ("outbox.resend");
* tomorrow's calendar counts, per kind, the rows already queued for tomorrow plus what the
  daily planner would add (a dry run of ``planner.items_for``: nothing is written), without the
  kinds customers opted out of.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, selectinload

from crm import access, clock
from crm.errors import Conflict, ValidationError
from crm.models import (
    OUTBOX_STATE_LABELS,
    CareOptOut,
    Customer,
    OutboxMessage,
    OutboxState,
    Staff,
    Store,
)
from crm.services.care import planner

PER_PAGE = 50
RESENDABLE = (OutboxState.FAILED, OutboxState.NO_CHANNEL)
KIND_NAME = re.compile(r"^[a-z0-9_]{1,30}$")
MAX_ID = 2**31 - 1
CHUNK = 500


def kind_label(name: str) -> str:
    """The kind's Chinese label; a kind no longer (or not yet) registered shows its name."""
    kind = planner.kind(name)
    return kind.label if kind is not None else name


@dataclass(frozen=True)
class OutboxFilters:
    kind: str = ""
    state: str = ""
    store_id: int | None = None
    day: date | None = None  # the Beijing day the row is due to go out
    message_id: int | None = None  # one row (the target of a "bundled into" link)

    def args(self) -> dict[str, str]:
        """The filters as query arguments (empty ones left out)."""
        chosen = {
            "kind": self.kind,
            "state": self.state,
            "store": str(self.store_id or ""),
            "day": self.day.isoformat() if self.day else "",
            "message": str(self.message_id or ""),
        }
        return {name: value for name, value in chosen.items() if value}


def _positive_id(raw: str, field: str, message: str) -> int | None:
    if not raw:
        return None
    if not (raw.isdecimal() and 0 < int(raw) <= MAX_ID):
        raise ValidationError(message, field)
    return int(raw)


def parse_filters(values: Mapping[str, str]) -> OutboxFilters:
    """Filters from query arguments; anything unreadable raises ``ValidationError`` naming the
    argument."""
    kind = (values.get("kind") or "").strip()
    if kind and not KIND_NAME.match(kind):
        raise ValidationError("请选择有效的关怀类型", "kind")
    state = (values.get("state") or "").strip()
    if state and state not in OutboxState.__members__.values():
        raise ValidationError("请选择有效的发送状态", "state")
    raw_day = (values.get("day") or "").strip()
    try:
        day = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise ValidationError("日期格式不正确，请重新选择", "day") from None
    return OutboxFilters(
        kind=kind,
        state=state,
        store_id=_positive_id((values.get("store") or "").strip(), "store", "请选择有效的分店"),
        day=day,
        message_id=_positive_id((values.get("message") or "").strip(), "message", "消息编号不正确"),
    )


def _local_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.BUSINESS_TZ)


def _conditions(filters: OutboxFilters, with_state: bool = True) -> list:
    conditions = []
    if filters.kind:
        conditions.append(OutboxMessage.kind == filters.kind)
    if filters.state and with_state:
        conditions.append(OutboxMessage.state == filters.state)
    if filters.store_id:
        conditions.append(OutboxMessage.store_id == filters.store_id)
    if filters.day:
        conditions += [
            OutboxMessage.not_before >= _local_start(filters.day),
            OutboxMessage.not_before < _local_start(filters.day + timedelta(days=1)),
        ]
    if filters.message_id:
        conditions.append(OutboxMessage.id == filters.message_id)
    return conditions


def list_query(actor: Staff, filters: OutboxFilters) -> Select:
    """The actor's rows under the filters, the latest send time first (paginate it)."""
    access.require(actor, "outbox.view")
    query = (
        select(OutboxMessage)
        .where(*_conditions(filters))
        .options(selectinload(OutboxMessage.customer))
        .order_by(OutboxMessage.not_before.desc(), OutboxMessage.id.desc())
    )
    return access.scope(query, actor)


@dataclass(frozen=True)
class StateCount:
    state: OutboxState
    label: str
    count: int


def counts(session: Session, actor: Staff, filters: OutboxFilters) -> list[StateCount]:
    """How many of the actor's rows each state holds under the other filters (every state
    listed, zeros too)."""
    access.require(actor, "outbox.view")
    query = access.scope(
        select(OutboxMessage.state, func.count())
        .where(*_conditions(filters, with_state=False))
        .group_by(OutboxMessage.state),
        actor,
        OutboxMessage,
    )
    found = dict(session.execute(query).tuples().all())
    return [
        StateCount(state, OUTBOX_STATE_LABELS[state], found.get(state.value, 0))
        for state in OutboxState
    ]


def resend(session: Session, actor: Staff, message_id: int, now: datetime) -> OutboxMessage:
    """Put a failed or no-channel row back in the queue, due now, attempts and error cleared.

    The state is checked in the UPDATE itself, so two admins re-sending at once, or a
    dispatcher that took the row meanwhile, never send it twice. Another state is a
    ``Conflict`` naming it."""
    message = access.get_or_404(OutboxMessage, message_id, actor, "outbox.resend")
    customer = session.get(Customer, message.customer_id) if message.customer_id else None
    if customer is not None and customer.erased_at is not None:
        # Erasure (issue 12 "PIPL") cancelled it on purpose; the text is gone too.
        raise Conflict("该客户已注销，消息不能重新发送", "message")
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.state.in_([state.value for state in RESENDABLE]),
        )
        .values(
            state=OutboxState.PENDING.value,
            not_before=now,
            attempts=0,
            errcode=None,
            error="",
            claimed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(message)
        raise Conflict(
            f"只有发送失败或无可用渠道的消息可以重新发送，这条消息{message.state_label}",
            "state",
        )
    session.commit()
    session.refresh(message)
    return message


@dataclass(frozen=True)
class TomorrowCount:
    kind: str
    label: str
    queued: int  # rows already pending for tomorrow
    planned: int  # what tomorrow's planner run would add

    @property
    def total(self) -> int:
        return self.queued + self.planned


@dataclass(frozen=True)
class Tomorrow:
    day: date
    kinds: list[TomorrowCount]

    @property
    def total(self) -> int:
        return sum(row.total for row in self.kinds)


def _store_ids(session: Session, actor: Staff) -> set[int]:
    return set(session.scalars(access.scope(select(Store.id), actor, Store)))


def _already_queued(session: Session, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found.update(
            session.scalars(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))
            )
        )
    return found


def _opted_out(session: Session, customer_ids: list[int]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start : start + CHUNK]
        found.update(
            session.execute(
                select(CareOptOut.customer_id, CareOptOut.kind).where(
                    CareOptOut.customer_id.in_(chunk)
                )
            ).tuples()
        )
    return found


def tomorrow(session: Session, actor: Staff, now: datetime) -> Tomorrow:
    """What will go out tomorrow (Beijing) in the actor's stores, per kind: rows already
    pending for tomorrow, plus the items tomorrow's plan would queue that are not queued yet
    and not opted out of. A dry run: nothing is written.

    The policy may still bundle a greeting into another message or defer a service notice,
    so "planned" is what the planner will consider, at most what goes out."""
    access.require(actor, "outbox.view")
    day = clock.today(now) + timedelta(days=1)
    queued = Counter(
        dict(
            session.execute(
                access.scope(
                    select(OutboxMessage.kind, func.count())
                    .where(
                        OutboxMessage.state == OutboxState.PENDING.value,
                        OutboxMessage.not_before >= _local_start(day),
                        OutboxMessage.not_before < _local_start(day + timedelta(days=1)),
                    )
                    .group_by(OutboxMessage.kind),
                    actor,
                    OutboxMessage,
                )
            )
            .tuples()
            .all()
        )
    )
    stores = _store_ids(session, actor)
    items = [item for item in planner.items_for(session, day, now) if item.store_id in stores]
    existing = _already_queued(session, sorted({item.dedupe_key for item in items}))
    opted_out = _opted_out(session, sorted({item.customer_id for item in items}))
    fresh = {
        item.dedupe_key: item.kind.name
        for item in items
        if item.dedupe_key not in existing and (item.customer_id, item.kind.name) not in opted_out
    }
    planned = Counter(fresh.values())
    order = {kind.name: index for index, kind in enumerate(planner.all_kinds())}
    names = sorted(queued.keys() | planned.keys(), key=lambda n: (order.get(n, len(order)), n))
    return Tomorrow(
        day,
        [TomorrowCount(name, kind_label(name), queued[name], planned[name]) for name in names],
    )


def kind_options(filters: OutboxFilters) -> list[tuple[str, str]]:
    """The kinds to filter by: every registered kind, and the chosen one if it is not."""
    options = [(kind.name, kind.label) for kind in planner.all_kinds()]
    if filters.kind and filters.kind not in {name for name, _label in options}:
        options.append((filters.kind, filters.kind))
    return options
