"""Maintenance bookings on a store's hourly slot calendar (PRODUCT "Who uses it": the service
advisor handles maintenance bookings, the customer books maintenance from the member pages;
issue 7 "After-sales": "a slot calendar per store with capacity per hour; double-booking a
full slot is refused").

The rules:

- A store's workshop takes bookings on the hour, from ``Store.opens_hour`` to
  ``Store.closes_hour`` (Beijing wall clock), ``Store.booking_capacity`` bookings per hour.
- A booking starts in the future and at most ``MAX_DAYS_AHEAD`` (30) days ahead: the last
  bookable day is today + 30 (Beijing business days).
- A slot row (``BookingSlot``) exists once somebody has booked that hour; until then the hour
  is free at the store's capacity. Its ``booked`` count only moves through one conditional
  UPDATE (``booked < capacity``), so two people racing for the last place cannot both get it:
  the database lets exactly one through. Nothing counts first and inserts after.
- A customer holds at most one active booking per slot.
- The customer books at any active store of their group (issue 9 "Book maintenance: choose
  car, store, slot"), their own store by default; the staff pages book at the customer's store.
- Changing a booking moves it to another hour of its store in one transaction: the new place
  is claimed with the same conditional UPDATE and the old one freed, so a full hour refuses
  the change and the booking stays where it was.
- Cancelling frees the place; marking a booking done (the customer came) keeps it used.
- Booking, changing and cancelling an upcoming booking queue a 预约通知 to the customer
  (``crm.services.booking_messages``), whoever did it.

Staff act through ``crm.access`` (permission ``booking.manage``: service advisor, care
specialist, store admin; the customer must be in their scope). A customer booking from the
member pages is ``actor=None`` and may only touch their own bookings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import access, clock, phones
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.models import (
    SERVICE_KIND_LABELS,
    Booking,
    BookingSlot,
    BookingStatus,
    Customer,
    ServiceKind,
    Staff,
    Store,
    Vehicle,
)
from crm.services import booking_messages
from crm.services.booking_messages import Event
from crm.services.identity import phone_index

MAX_DAYS_AHEAD = 30
NOTE_MAX = 200
MANAGE = "booking.manage"


# --- the calendar ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One hour of a store's calendar as shown to people: how many places, how many taken."""

    starts_at: datetime  # UTC
    capacity: int
    booked: int
    bookable: bool  # in the future and within the booking window

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)

    @property
    def open(self) -> bool:
        """Somebody could book this hour right now."""
        return self.bookable and self.free > 0

    @property
    def local(self) -> datetime:
        return clock.local(self.starts_at)


def local_hour(day: date, hour: int) -> datetime:
    """``hour`` o'clock on ``day`` (Beijing wall clock) as a UTC instant."""
    return datetime.combine(day, time(hour), tzinfo=clock.BUSINESS_TZ).astimezone(UTC)


def last_bookable_day(now: datetime) -> date:
    return clock.today(now) + timedelta(days=MAX_DAYS_AHEAD)


def bookable_days(now: datetime) -> tuple[date, date]:
    """The first and last day a booking may fall on."""
    return clock.today(now), last_bookable_day(now)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    return local_hour(day, 0), local_hour(day + timedelta(days=1), 0)


def day_calendar(session: Session, store: Store, day: date, now: datetime) -> list[Slot]:
    """The store's hourly slots of one local day, opening to closing, with free places.

    Hours nobody has booked yet have no row and are free at ``store.booking_capacity``; hours
    that have begun, and days beyond the 30-day window, are shown but not bookable.
    """
    start, end = _day_bounds(day)
    rows = {
        slot.starts_at: slot
        for slot in session.scalars(
            select(BookingSlot).where(
                BookingSlot.store_id == store.id,
                BookingSlot.starts_at >= start,
                BookingSlot.starts_at < end,
            )
        )
    }
    in_window = day <= last_bookable_day(now) and store.active
    slots = []
    for hour in range(store.opens_hour, store.closes_hour):
        starts_at = local_hour(day, hour)
        row = rows.get(starts_at)
        slots.append(
            Slot(
                starts_at=starts_at,
                capacity=row.capacity if row else store.booking_capacity,
                booked=row.booked if row else 0,
                bookable=in_window and starts_at > now,
            )
        )
    return slots


# --- checking a request ----------------------------------------------------------------------


@dataclass(frozen=True)
class BookingRequest:
    """A checked booking request, not yet written: what the confirm page shows."""

    customer: Customer
    store: Store
    starts_at: datetime
    kind: ServiceKind
    note: str
    vehicle: Vehicle | None

    @property
    def kind_label(self) -> str:
        return SERVICE_KIND_LABELS[self.kind]


def _check_time(store: Store, starts_at: datetime | None, now: datetime) -> datetime:
    if starts_at is None:
        raise ValidationError("请选择预约时段", "starts_at")
    if starts_at.tzinfo is None:
        raise ValidationError("预约时间格式不正确", "starts_at")
    wall = clock.local(starts_at)
    if (wall.minute, wall.second, wall.microsecond) != (0, 0, 0):
        raise ValidationError("预约须在整点开始", "starts_at")
    if not store.active:
        raise ValidationError("该门店暂停预约", "starts_at")
    if not store.opens_hour <= wall.hour < store.closes_hour:
        raise ValidationError(
            f"请选择营业时间内的时段（{store.opens_hour}:00–{store.closes_hour}:00）", "starts_at"
        )
    if starts_at <= now:
        raise ValidationError("该时段已过，请选择以后的时段", "starts_at")
    if wall.date() > last_bookable_day(now):
        raise ValidationError(f"最多可预约{MAX_DAYS_AHEAD}天内的时段", "starts_at")
    return starts_at.astimezone(UTC)


def _check_vehicle(session: Session, customer: Customer, vehicle_id: int | None) -> Vehicle | None:
    owned = session.scalars(
        select(Vehicle).where(Vehicle.customer_id == customer.id).order_by(Vehicle.id)
    ).all()
    if vehicle_id is None:
        if owned:
            raise ValidationError("请选择车辆", "vehicle")
        return None
    for vehicle in owned:
        if vehicle.id == vehicle_id:
            return vehicle
    raise ValidationError("请选择该客户名下的车辆", "vehicle")


def _slot_at(session: Session, store_id: int, starts_at: datetime) -> BookingSlot | None:
    return session.scalar(
        select(BookingSlot).where(
            BookingSlot.store_id == store_id, BookingSlot.starts_at == starts_at
        )
    )


def _holds_slot(
    session: Session,
    customer_id: int,
    store_id: int,
    starts_at: datetime,
    excluding: int | None = None,
) -> bool:
    query = select(Booking.id).where(
        Booking.customer_id == customer_id,
        Booking.store_id == store_id,
        Booking.starts_at == starts_at,
        Booking.status == BookingStatus.BOOKED.value,
    )
    if excluding is not None:
        query = query.where(Booking.id != excluding)
    return session.scalar(query) is not None


def _already_held(actor: Staff | None) -> Conflict:
    who = "您" if actor is None else "该客户"
    return Conflict(f"{who}在这个时段已有预约", "starts_at")


def _refuse_if_held(
    session: Session, actor: Staff | None, customer: Customer, store: Store, starts_at: datetime
) -> None:
    if _holds_slot(session, customer.id, store.id, starts_at):
        raise _already_held(actor)


def bookable_stores(session: Session, customer: Customer) -> list[Store]:
    """Where the customer may book (issue 9): the active stores of their group, their own
    store first."""
    stores = session.scalars(
        select(Store)
        .where(Store.group_id == customer.group_id, Store.active.is_(True))
        .order_by(Store.id)
    ).all()
    return sorted(stores, key=lambda store: store.id != customer.store_id)


def _store_for(session: Session, customer: Customer, store_id: int | None) -> Store:
    """The store chosen for the booking: the customer's own when none is chosen, else an
    active store of the customer's group (anything else is refused naming ``store``)."""
    if store_id is None:
        return session.get(Store, customer.store_id)
    store = session.get(Store, store_id)
    if store is None or store.group_id != customer.group_id or not store.active:
        raise ValidationError("请选择本集团营业中的门店", "store")
    return store


def preview(
    session: Session,
    actor: Staff | None,
    customer: Customer,
    starts_at: datetime | None,
    kind: str,
    note: str,
    vehicle_id: int | None,
    now: datetime,
    store_id: int | None = None,
) -> BookingRequest:
    """Check a booking request without writing anything (the confirm page, and ``book``).

    The store is ``store_id`` (an active store of the customer's group) or the customer's
    own; the hour must be on the hour, within that store's opening hours, in the future and
    at most 30 days ahead; the vehicle must be the customer's (required when they have one);
    the customer must not already hold this slot, and the slot must have a free place now.
    ``actor`` is the staff member booking for the customer, or None for the customer.
    """
    if actor is not None:
        access.require(actor, MANAGE, customer)
    store = _store_for(session, customer, store_id)
    try:
        service_kind = ServiceKind(kind)
    except ValueError as exc:
        raise ValidationError("请选择服务类型", "kind") from exc
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"备注不能超过{NOTE_MAX}个字", "note")
    vehicle = _check_vehicle(session, customer, vehicle_id)
    starts_at = _check_time(store, starts_at, now)
    _refuse_if_held(session, actor, customer, store, starts_at)
    slot = _slot_at(session, store.id, starts_at)
    capacity = slot.capacity if slot else store.booking_capacity
    if (slot.booked if slot else 0) >= capacity:
        raise Conflict("该时段已约满，请选择其他时段", "starts_at")
    return BookingRequest(customer, store, starts_at, service_kind, note, vehicle)


# --- booking ---------------------------------------------------------------------------------


def _get_or_create_slot(session: Session, store: Store, starts_at: datetime) -> BookingSlot:
    """The slot row for this hour, created at the store's capacity on first booking. Two
    first bookings of the same hour at once: the unique (store, starts_at) constraint lets one
    insert win; the other's savepoint is rolled back and it uses the winner's row."""
    slot = _slot_at(session, store.id, starts_at)
    if slot is not None:
        return slot
    slot = BookingSlot(
        store_id=store.id, starts_at=starts_at, capacity=store.booking_capacity, booked=0
    )
    try:
        with session.begin_nested():
            session.add(slot)
            session.flush()
    except IntegrityError:
        slot = _slot_at(session, store.id, starts_at)
        if slot is None:
            raise Conflict("该时段正在被预约，请稍后重试", "starts_at") from None
    return slot


def _claim_place(session: Session, slot_id: int) -> bool:
    """Take one place of the slot in a single conditional UPDATE; False when it is full.

    The row lock this takes is held until commit, so every booking of one slot passes here
    one at a time, whatever the number of web workers."""
    claimed = session.execute(
        update(BookingSlot)
        .where(BookingSlot.id == slot_id, BookingSlot.booked < BookingSlot.capacity)
        .values(booked=BookingSlot.booked + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


def book(
    session: Session,
    actor: Staff | None,
    customer: Customer,
    starts_at: datetime | None,
    kind: str,
    note: str,
    vehicle_id: int | None,
    now: datetime,
    store_id: int | None = None,
) -> Booking:
    """Book one hour of a store for the customer (issue 7: "double-booking a full slot is
    refused"; issue 9: the customer chooses the store, and gets a confirmation message).

    Everything ``preview`` checks, then, race-safe: get or create the slot row, claim a place
    with one conditional UPDATE (``booked < capacity``), check again — now holding the slot's
    row lock — that the customer does not already hold this slot, write the booking and queue
    its 预约通知 (已预约). A full slot raises ``Conflict`` naming ``starts_at`` and writes
    nothing. ``actor`` None: the customer booked from the member pages.
    """
    request = preview(
        session, actor, customer, starts_at, kind, note, vehicle_id, now, store_id=store_id
    )
    customer_id, store_id = customer.id, request.store.id
    slot = _get_or_create_slot(session, request.store, request.starts_at)
    slot_id = slot.id
    if not _claim_place(session, slot_id):
        session.rollback()
        raise Conflict("该时段已约满，请选择其他时段", "starts_at")
    if _holds_slot(session, customer_id, store_id, request.starts_at):
        # The same customer booked this slot a moment ago in another request.
        session.rollback()
        raise _already_held(actor)
    booking = Booking(
        store_id=store_id,
        slot_id=slot_id,
        customer_id=customer_id,
        vehicle_id=request.vehicle.id if request.vehicle else None,
        starts_at=request.starts_at,
        kind=request.kind.value,
        note=request.note,
        status=BookingStatus.BOOKED.value,
        created_by_id=actor.id if actor else None,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    booking_messages.queue(session, booking, Event.BOOKED, now)
    session.commit()
    return booking


# --- cancelling and marking done -------------------------------------------------------------


def _booking_for(
    session: Session, actor: Staff | None, customer: Customer | None, booking_id: int
) -> Booking:
    """Staff reach a booking through their scope (``booking.manage``); a customer (actor
    None) reaches only their own. Anything else is not found."""
    if actor is not None:
        return access.get_or_404(Booking, booking_id, actor, MANAGE)
    if customer is None:
        raise NotFound()
    booking = session.scalar(
        select(Booking).where(Booking.id == booking_id, Booking.customer_id == customer.id)
    )
    if booking is None:
        raise NotFound()
    return booking


def _settle(session: Session, booking: Booking, status: BookingStatus, **values) -> None:
    """Move a booked booking to ``status`` in one conditional UPDATE: of two clicks at once,
    one does it and the other is told it was already handled."""
    moved = session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == BookingStatus.BOOKED.value)
        .values(status=status.value, **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        session.rollback()
        raise Conflict("该预约已处理", "booking")


def cancel(
    session: Session,
    actor: Staff | None,
    booking_id: int,
    now: datetime,
    customer: Customer | None = None,
) -> Booking:
    """Cancel a booking: its place becomes free again and ``cancelled_at`` is stamped.

    Staff (``booking.manage``) may cancel any booked booking of their store, also a no-show
    after its hour; a customer (``actor`` None, ``customer`` given) only their own upcoming
    ones. Cancelling an upcoming booking tells the customer (预约通知 已取消, issue 9); a
    no-show cleared after its hour does not.
    """
    booking = _booking_for(session, actor, customer, booking_id)
    if booking.status != BookingStatus.BOOKED:
        raise ValidationError("该预约已处理", "booking")
    if actor is None and booking.starts_at <= now:
        raise ValidationError("预约时段已开始，如需取消请联系门店", "booking")
    _settle(session, booking, BookingStatus.CANCELLED, cancelled_at=now)
    session.execute(
        update(BookingSlot)
        .where(BookingSlot.id == booking.slot_id, BookingSlot.booked > 0)
        .values(booked=BookingSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    if booking.starts_at > now:
        booking_messages.queue(session, booking, Event.CANCELLED, now)
    session.commit()
    session.refresh(booking)
    return booking


# --- changing --------------------------------------------------------------------------------


def _lock_slots(session: Session, slot_ids: list[int]) -> None:
    """Lock the slot rows a change touches, lowest id first: two customers swapping hours
    then queue behind each other instead of deadlocking. ``FOR NO KEY UPDATE``, the lock an
    UPDATE of ``booked`` takes anyway: unlike ``FOR UPDATE`` it does not wait for the key-share
    locks other bookings' foreign keys hold on the slot. (SQLite locks the whole database.)"""
    session.execute(
        select(BookingSlot.id)
        .where(BookingSlot.id.in_(slot_ids))
        .order_by(BookingSlot.id)
        .with_for_update(key_share=True)
    ).all()


def change(
    session: Session,
    actor: Staff | None,
    booking_id: int,
    starts_at: datetime | None,
    now: datetime,
    customer: Customer | None = None,
) -> Booking:
    """Move a booked booking to another hour of its store (issue 9 "Book maintenance: cancel
    or change").

    The new hour is checked like a new booking (on the hour, opening hours, future, 30 days,
    not an hour the customer already holds). Then, in one transaction: the booking is moved
    with a conditional UPDATE (still booked, still at its old slot — of two changes at once
    one wins), both slot rows are locked in id order, a place of the new hour is claimed with
    the conditional UPDATE of booking (``booked < capacity``) and the old place is freed. A
    full hour raises ``Conflict`` naming ``starts_at`` and the booking stays where it was.
    The customer gets a 预约通知 (已改期, with the old hour).

    Staff (``booking.manage``) change any booked booking in their scope; a customer
    (``actor`` None, ``customer`` given) only their own upcoming ones.
    """
    booking = _booking_for(session, actor, customer, booking_id)
    if booking.status != BookingStatus.BOOKED:
        raise ValidationError("该预约已处理", "booking")
    if actor is None and booking.starts_at <= now:
        raise ValidationError("预约时段已开始，如需改期请联系门店", "booking")
    store = session.get(Store, booking.store_id)
    new_at = _check_time(store, starts_at, now)
    if new_at == booking.starts_at:
        raise ValidationError("请选择与原预约不同的时段", "starts_at")
    booking_id, customer_id = booking.id, booking.customer_id
    old_at, old_slot_id = booking.starts_at, booking.slot_id
    if _holds_slot(session, customer_id, store.id, new_at, excluding=booking_id):
        raise _already_held(actor)
    new_slot_id = _get_or_create_slot(session, store, new_at).id
    moved = session.execute(
        update(Booking)
        .where(
            Booking.id == booking_id,
            Booking.status == BookingStatus.BOOKED.value,
            Booking.slot_id == old_slot_id,
        )
        .values(slot_id=new_slot_id, starts_at=new_at)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        session.rollback()
        raise Conflict("该预约已处理或已改期，请刷新后重试", "booking")
    _lock_slots(session, [old_slot_id, new_slot_id])
    if not _claim_place(session, new_slot_id):
        session.rollback()
        raise Conflict("该时段已约满，请选择其他时段", "starts_at")
    if _holds_slot(session, customer_id, store.id, new_at, excluding=booking_id):
        # The customer booked that hour a moment ago in another request.
        session.rollback()
        raise _already_held(actor)
    session.execute(
        update(BookingSlot)
        .where(BookingSlot.id == old_slot_id, BookingSlot.booked > 0)
        .values(booked=BookingSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(booking)
    booking_messages.queue(session, booking, Event.CHANGED, now, previous=old_at)
    session.commit()
    session.refresh(booking)
    return booking


def mark_done(session: Session, actor: Staff, booking_id: int, now: datetime) -> Booking:
    """The customer came: the booking is done (its place stays used). Staff only, and not
    before the booking's day."""
    booking = _booking_for(session, actor, None, booking_id)
    if booking.status != BookingStatus.BOOKED:
        raise ValidationError("该预约已处理", "booking")
    if clock.local(booking.starts_at).date() > clock.today(now):
        raise ValidationError("预约当天才能标记到店", "booking")
    _settle(session, booking, BookingStatus.DONE)
    session.commit()
    session.refresh(booking)
    return booking


# --- lists -----------------------------------------------------------------------------------


def staff_store(session: Session, actor: Staff) -> Store:
    """The store whose calendar the actor manages: their own (``booking.manage``)."""
    if actor.store_id is None:
        raise Forbidden("只有分店员工可以管理预约")
    return access.get_or_404(Store, actor.store_id, actor, MANAGE)


def store_bookings(session: Session, actor: Staff, day: date) -> list[Booking]:
    """The actor's store's bookings of one local day, every status, earliest first."""
    store = staff_store(session, actor)
    start, end = _day_bounds(day)
    query = select(Booking).where(
        Booking.store_id == store.id, Booking.starts_at >= start, Booking.starts_at < end
    )
    return list(session.scalars(access.scope(query, actor).order_by(Booking.starts_at, Booking.id)))


def customer_upcoming(session: Session, customer: Customer, now: datetime) -> list[Booking]:
    """The customer's own booked bookings that have not started yet, soonest first."""
    return list(
        session.scalars(
            select(Booking)
            .where(
                Booking.customer_id == customer.id,
                Booking.status == BookingStatus.BOOKED.value,
                Booking.starts_at > now,
            )
            .order_by(Booking.starts_at, Booking.id)
        )
    )


def find_customer(session: Session, actor: Staff, raw_phone: str) -> Customer:
    """A customer the actor may book for, found by phone (through the blind index)."""
    staff_store(session, actor)
    e164 = phones.normalise(raw_phone, "phone")
    query = select(Customer).where(Customer.phone_index == phone_index(e164))
    customer = session.scalar(access.scope(query, actor))
    if customer is None:
        raise ValidationError("本店没有该手机号的客户", "phone")
    return customer


def bookable_customer(session: Session, actor: Staff, customer_id: int) -> Customer:
    """The customer the actor is booking for, through their scope."""
    return access.get_or_404(Customer, customer_id, actor, MANAGE)


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreDay:
    """The advisor's calendar page: a day of the store's slots and its bookings."""

    store: Store
    day: date
    slots: list[Slot]
    bookings: list[Booking]

    def bookings_at(self, starts_at: datetime) -> list[Booking]:
        return [booking for booking in self.bookings if booking.starts_at == starts_at]

    @property
    def off_calendar(self) -> list[Booking]:
        """Bookings at hours no longer on the calendar (the opening hours changed since)."""
        hours = {slot.starts_at for slot in self.slots}
        return [booking for booking in self.bookings if booking.starts_at not in hours]


def store_day(session: Session, actor: Staff, day: date, now: datetime) -> StoreDay:
    """The store's calendar of ``day`` with every booking in it (``booking.manage``)."""
    store = staff_store(session, actor)
    return StoreDay(
        store, day, day_calendar(session, store, day, now), store_bookings(session, actor, day)
    )


@dataclass(frozen=True)
class BookingDay:
    """The page where one customer's booking is made: free hours of a day of the chosen store,
    the stores they may choose from and the bookings they already hold."""

    customer: Customer
    store: Store
    day: date
    slots: list[Slot]
    upcoming: list[Booking]
    stores: list[Store] = field(default_factory=list)

    @property
    def vehicles(self) -> list[Vehicle]:
        return list(self.customer.vehicles)

    @property
    def store_options(self) -> list[tuple[int, str]]:
        return [(store.id, store.name) for store in self.stores]

    def store_name(self, booking: Booking) -> str:
        """The name of the store a booking is at (one of the group's, maybe closed since)."""
        stores = self.customer.store.group.stores
        return next((store.name for store in stores if store.id == booking.store_id), "")

    @property
    def held(self) -> set[datetime]:
        """The hours of this store the customer already holds (a second booking there is
        refused)."""
        return {booking.starts_at for booking in self.upcoming if booking.store_id == self.store.id}


def _within_window(day: date, now: datetime) -> date:
    first, last = bookable_days(now)
    return min(max(day, first), last)


def booking_day(
    session: Session,
    actor: Staff | None,
    customer: Customer,
    day: date,
    now: datetime,
    store_id: int | None = None,
) -> BookingDay:
    """What the person booking sees: one day of the chosen store (``store_id``, else the
    customer's own) within the booking window (a day outside it moves to the nearest end),
    the stores to choose from and the customer's upcoming bookings.
    ``actor`` is the staff member booking for the customer (``booking.manage``), or None."""
    if actor is not None:
        access.require(actor, MANAGE, customer)
    day = _within_window(day, now)
    store = _store_for(session, customer, store_id)
    slots = day_calendar(session, store, day, now)
    return BookingDay(
        customer,
        store,
        day,
        slots,
        customer_upcoming(session, customer, now),
        bookable_stores(session, customer),
    )


@dataclass(frozen=True)
class ChangeDay:
    """The page where a booking is moved: the booking and one day of its store's hours."""

    booking: Booking
    store: Store
    day: date
    slots: list[Slot]
    held: set[datetime]  # hours of the store the customer holds (their own booking's too)


def change_day(
    session: Session,
    actor: Staff | None,
    booking_id: int,
    day: date | None,
    now: datetime,
    customer: Customer | None = None,
) -> ChangeDay:
    """One day of the booking's store to move the booking to (``day`` None: the booking's own
    day), kept within the booking window. Reached like ``change``: staff through their scope,
    a customer only for their own booked bookings."""
    booking = _booking_for(session, actor, customer, booking_id)
    if booking.status != BookingStatus.BOOKED:
        raise ValidationError("该预约已处理", "booking")
    store = session.get(Store, booking.store_id)
    day = _within_window(day or clock.local(booking.starts_at).date(), now)
    held = {
        other.starts_at
        for other in customer_upcoming(session, booking.customer, now)
        if other.store_id == store.id
    }
    return ChangeDay(booking, store, day, day_calendar(session, store, day, now), held)
