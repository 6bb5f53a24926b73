"""Several people booking the last place of one hour at the same moment, each on their own
real PostgreSQL connection: exactly one gets it, the others are told the hour is full, and the
slot's count never passes its capacity (issue 7 "After-sales": double-booking a full slot is
refused)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import event, func, select

from crm.errors import Conflict
from crm.extensions import db
from crm.models import Booking, BookingSlot, Customer, Group, Role, Staff, Store, Vehicle
from crm.services import bookings

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
NINE_TOMORROW = datetime(2026, 6, 16, 1, 0, tzinfo=UTC)  # Tuesday 09:00 in Beijing
BOOKED = "booked"


def _seed(customers: int, capacity: int) -> tuple[int, list[int]]:
    """A store with ``capacity`` places per hour, one advisor, and customers with a car each."""
    from crm.services.identity import phone_index

    group = Group(name="集团", created_at=NOW)
    db.session.add(group)
    db.session.flush()
    store = Store(
        group_id=group.id, code="R01", name="竞速店", booking_capacity=capacity, created_at=NOW
    )
    db.session.add(store)
    db.session.flush()
    advisor = Staff(
        group_id=group.id,
        store_id=store.id,
        name="服务顾问",
        phone="+8613900000999",
        phone_index=phone_index("+8613900000999"),
        role=Role.SERVICE_ADVISOR.value,
        created_at=NOW,
    )
    people = []
    for number in range(customers):
        phone = f"+8613811110{number:03d}"
        person = Customer(
            group_id=group.id,
            store_id=store.id,
            name=f"客户{number}",
            phone=phone,
            phone_index=phone_index(phone),
            created_at=NOW,
        )
        people.append(person)
    db.session.add_all([advisor, *people])
    db.session.flush()
    db.session.add_all(
        Vehicle(
            customer_id=person.id,
            store_id=store.id,
            vin=f"LVGRACE0000{number:06d}",
            model="凯美瑞",
            created_at=NOW,
        )
        for number, person in enumerate(people)
    )
    db.session.commit()
    return advisor.id, [person.id for person in people]


def _fill(customer_ids: list[int], advisor_id: int) -> None:
    """Book the 09:00 slot for these customers, one after the other."""
    advisor = db.session.get(Staff, advisor_id)
    for customer_id in customer_ids:
        _book(db.session, advisor, customer_id)


def _book(session, actor, customer_id: int):
    customer = session.get(Customer, customer_id)
    return bookings.book(
        session,
        actor,
        customer,
        NINE_TOMORROW,
        "periodic_maintenance",
        "",
        customer.vehicles[0].id,
        NOW,
    )


def _book_in_own_connection(app, customer_id: int, outcomes: dict, key=None, hook=None):
    with app.app_context():
        # The session object itself: a listener on the scoped_session would land on the
        # Session class and hold every later commit of the test run.
        session = db.session()
        if hook is not None:
            event.listen(session, "before_commit", hook)
        key = customer_id if key is None else key
        try:
            _book(session, None, customer_id)
            outcomes[key] = "booked"
        except Conflict as error:
            outcomes[key] = error.message
        finally:
            if hook is not None:
                event.remove(session, "before_commit", hook)
            db.session.remove()


def _race(app, entrants: list[tuple[object, int]]) -> dict:
    """Start every (key, customer) booking at the same moment, each on its own connection."""
    start = threading.Barrier(len(entrants))
    outcomes: dict = {}

    def racer(key, customer_id):
        start.wait(10)
        _book_in_own_connection(app, customer_id, outcomes, key)

    threads = [threading.Thread(target=racer, args=entrant) for entrant in entrants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _state():
    db.session.expire_all()
    slots = db.session.execute(select(BookingSlot.capacity, BookingSlot.booked)).all()
    held = db.session.scalars(
        select(Booking.customer_id).where(Booking.status == BOOKED).order_by(Booking.id)
    ).all()
    return slots, held


def test_many_customers_racing_for_the_last_place_leave_exactly_one_booking(race_app):
    advisor_id, customer_ids = _seed(customers=9, capacity=3)
    _fill(customer_ids[:2], advisor_id)  # two of three places gone
    racers = customer_ids[2:]

    outcomes = _race(race_app, [(customer_id, customer_id) for customer_id in racers])

    winners = [key for key, outcome in outcomes.items() if outcome == "booked"]
    assert len(outcomes) == len(racers)
    assert len(winners) == 1
    assert all(
        outcome == "该时段已约满，请选择其他时段"
        for outcome in outcomes.values()
        if outcome != "booked"
    )
    slots, held = _state()
    assert slots == [(3, 3)]
    assert held == [*customer_ids[:2], winners[0]]


def test_the_first_bookings_of_a_new_hour_create_one_slot_and_respect_its_capacity(race_app):
    """Nobody has booked the hour yet: every racer tries to create its slot row at once. The
    unique constraint keeps one row; the conditional UPDATE keeps the count at capacity."""
    _, customer_ids = _seed(customers=8, capacity=2)

    outcomes = _race(race_app, [(customer_id, customer_id) for customer_id in customer_ids])

    winners = sorted(key for key, outcome in outcomes.items() if outcome == "booked")
    assert len(outcomes) == len(customer_ids)
    assert len(winners) == 2
    slots, held = _state()
    assert slots == [(2, 2)]
    assert sorted(held) == winners


def test_one_customer_double_submitting_gets_one_booking(race_app):
    """The same customer taps "确认预约" on two phones at once: one booking, one place used."""
    _, (customer_id,) = _seed(customers=1, capacity=4)

    outcomes = _race(race_app, [(tap, customer_id) for tap in range(4)])

    assert len(outcomes) == 4
    assert list(outcomes.values()).count("booked") == 1
    refusals = [outcome for outcome in outcomes.values() if outcome != "booked"]
    assert refusals and all("已有预约" in outcome for outcome in refusals)
    slots, held = _state()
    assert slots == [(4, 1)]
    assert held == [customer_id]


def test_a_second_booking_waits_for_the_first_and_is_refused(race_app):
    """A holds the slot's row (place claimed, not yet committed) while B tries the last
    place: B's UPDATE waits on A's row lock, then finds the hour full."""
    advisor_id, (earlier, first, second) = _seed(customers=3, capacity=2)
    _fill([earlier], advisor_id)  # the slot row exists; one place left
    first_holds_the_row = threading.Event()

    def hold_before_commit(_session):
        first_holds_the_row.set()
        threading.Event().wait(0.5)  # B reaches its UPDATE and blocks meanwhile

    outcomes: dict = {}
    a = threading.Thread(
        target=_book_in_own_connection,
        args=(race_app, first, outcomes, None, hold_before_commit),
    )
    a.start()
    assert first_holds_the_row.wait(10)
    _book_in_own_connection(race_app, second, outcomes)
    a.join(10)

    assert outcomes == {first: "booked", second: "该时段已约满，请选择其他时段"}
    slots, held = _state()
    assert slots == [(2, 2)]
    assert held == [earlier, first]
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 2
