"""Maintenance bookings on the store's hourly slot calendar (PRODUCT "Who uses it": advisors
handle bookings, customers book from the member pages; issue 7 "After-sales": a slot calendar
per store with capacity per hour, double-booking a full slot is refused; issue 9 "Book
maintenance": the customer chooses the store, changes or cancels, and gets a confirmation
message): the service rules, then the staff H5 pages and the member pages over HTTP, and a
PostgreSQL race of two changes for the last place of an hour."""

from __future__ import annotations

import itertools
import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.extensions import db
from crm.models import (
    Booking,
    BookingSlot,
    BookingStatus,
    CareTemplate,
    Customer,
    Group,
    OutboxMessage,
    ServiceKind,
    Store,
    Vehicle,
    WeChatApp,
    WeChatIdentity,
)
from crm.services import bookings, care_opt_outs, dispatcher
from crm.services.identity import phone_index
from tests import factories as f
from tests.conftest import login
from wechat.client import SharedTokenClient

TODAY = date(2026, 6, 15)  # the frozen clock: Monday 10:00 in Beijing
TOMORROW = TODAY + timedelta(days=1)
MAINTENANCE = ServiceKind.PERIODIC_MAINTENANCE.value


def at(day: date, hour: int):
    return bookings.local_hour(day, hour)


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _slot(session, store, starts_at) -> BookingSlot | None:
    session.expire_all()
    return session.scalar(
        select(BookingSlot).where(
            BookingSlot.store_id == store.id, BookingSlot.starts_at == starts_at
        )
    )


def _customer(org, name: str, store=None, with_vehicle: bool = True):
    store = store or org.store_a
    customer = f.CustomerFactory(store=store, group_id=store.group_id, name=name)
    if with_vehicle:
        f.VehicleFactory(customer=customer, model="凯美瑞")
    return customer


def _book(
    session, actor, customer, starts_at, kind=MAINTENANCE, note="", vehicle="first", store_id=None
):
    if vehicle == "first":
        vehicle = customer.vehicles[0].id if customer.vehicles else None
    return bookings.book(
        session, actor, customer, starts_at, kind, note, vehicle, clock.now(), store_id=store_id
    )


@pytest.fixture
def capacity(org, session):
    """Set store A's places per hour."""

    def set_capacity(places: int):
        org.store_a.booking_capacity = places
        session.commit()

    return set_capacity


# --- the calendar ----------------------------------------------------------------------------


def test_a_day_shows_every_opening_hour_free_at_the_store_capacity(org, session, frozen_now):
    slots = bookings.day_calendar(session, org.store_a, TOMORROW, clock.now())
    assert [slot.local.hour for slot in slots] == list(range(8, 18))
    assert all(slot.capacity == 4 and slot.free == 4 and slot.open for slot in slots)
    assert _count(session, BookingSlot) == 0  # looking writes nothing


def test_hours_that_have_begun_are_shown_but_not_bookable(org, session, frozen_now):
    slots = bookings.day_calendar(session, org.store_a, TODAY, clock.now())
    assert [slot.local.hour for slot in slots if not slot.bookable] == [8, 9, 10]
    assert slots[3].local.hour == 11 and slots[3].open


def test_days_beyond_the_30_day_window_are_not_bookable(org, session, frozen_now):
    last = bookings.day_calendar(session, org.store_a, TODAY + timedelta(days=30), clock.now())
    beyond = bookings.day_calendar(session, org.store_a, TODAY + timedelta(days=31), clock.now())
    assert all(slot.open for slot in last)
    assert not any(slot.bookable for slot in beyond)


def test_the_calendar_follows_the_store_opening_hours(org, session, frozen_now):
    org.store_a.opens_hour, org.store_a.closes_hour = 9, 12
    session.commit()
    slots = bookings.day_calendar(session, org.store_a, TOMORROW, clock.now())
    assert [slot.local.strftime("%H:%M") for slot in slots] == ["09:00", "10:00", "11:00"]


# --- booking ---------------------------------------------------------------------------------


def test_booking_takes_one_place_of_its_hour(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, org.advisor_a, customer, at(TOMORROW, 9), note="顺便洗车")

    assert booking.status == BookingStatus.BOOKED
    assert booking.store_id == org.store_a.id
    assert booking.vehicle_id == customer.vehicles[0].id
    assert booking.created_by_id == org.advisor_a.id
    assert (booking.kind, booking.note) == (MAINTENANCE, "顺便洗车")
    slot = _slot(session, org.store_a, at(TOMORROW, 9))
    assert (slot.capacity, slot.booked) == (4, 1)
    assert booking.slot_id == slot.id
    nine = bookings.day_calendar(session, org.store_a, TOMORROW, clock.now())[1]
    assert (nine.local.hour, nine.booked, nine.free) == (9, 1, 3)


def test_full_slot_refuses_another_booking_and_writes_nothing(org, session, frozen_now, capacity):
    capacity(2)
    for name in ("客户一", "客户二"):
        _book(session, org.advisor_a, _customer(org, name), at(TOMORROW, 9))
    late = _customer(org, "客户三")

    with pytest.raises(Conflict) as refused:
        _book(session, org.advisor_a, late, at(TOMORROW, 9))

    assert refused.value.field == "starts_at"
    assert "约满" in refused.value.message
    assert _count(session, Booking) == 2
    assert _count(session, Booking, Booking.customer_id == late.id) == 0
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 2
    _book(session, org.advisor_a, late, at(TOMORROW, 10))  # the next hour still has room


def test_a_place_taken_between_the_check_and_the_write_is_still_refused(
    org, session, frozen_now, capacity, monkeypatch
):
    """The early check is only for a friendly message: the conditional UPDATE decides. Here
    another request takes the last place right after this one's check passed."""
    capacity(1)
    rival, late = _customer(org, "抢先"), _customer(org, "稍晚")
    checked = bookings.preview

    def check_then_lose_the_place(*args, **kwargs):
        request = checked(*args, **kwargs)
        if args[2].id == late.id:
            _book(session, None, rival, at(TOMORROW, 9))
        return request

    monkeypatch.setattr(bookings, "preview", check_then_lose_the_place)
    with pytest.raises(Conflict) as refused:
        _book(session, org.advisor_a, late, at(TOMORROW, 9))

    assert refused.value.field == "starts_at"
    assert _count(session, Booking, Booking.customer_id == late.id) == 0
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1


def test_a_customer_booking_a_full_slot_is_refused_too(org, session, frozen_now, capacity):
    capacity(1)
    _book(session, org.advisor_a, _customer(org, "先到"), at(TOMORROW, 9))
    customer = _customer(org, "后到")
    with pytest.raises(Conflict) as refused:
        _book(session, None, customer, at(TOMORROW, 9))
    assert refused.value.field == "starts_at"
    assert _count(session, Booking) == 1


def test_a_store_taking_no_bookings_refuses_and_creates_no_slot(org, session, frozen_now, capacity):
    capacity(0)
    with pytest.raises(Conflict) as refused:
        _book(session, org.advisor_a, _customer(org, "客户丁"), at(TOMORROW, 9))
    assert refused.value.field == "starts_at"
    assert _count(session, BookingSlot) == 0 and _count(session, Booking) == 0


def test_an_existing_slot_keeps_its_own_capacity(org, session, frozen_now, capacity):
    """A slot row is made at the store's capacity of the day it was first booked; changing the
    store's capacity later applies to hours nobody has booked yet."""
    _book(session, org.advisor_a, _customer(org, "客户一"), at(TOMORROW, 9))
    capacity(1)
    _book(session, org.advisor_a, _customer(org, "客户二"), at(TOMORROW, 9))
    slots = bookings.day_calendar(session, org.store_a, TOMORROW, clock.now())
    assert (slots[1].capacity, slots[1].booked) == (4, 2)
    assert (slots[2].capacity, slots[2].booked) == (1, 0)


@pytest.mark.parametrize("hour", [0, 7, 18, 21])
def test_booking_outside_opening_hours_is_refused_naming_the_field(org, session, frozen_now, hour):
    with pytest.raises(ValidationError) as refused:
        _book(session, org.advisor_a, _customer(org, "客户丁"), at(TOMORROW, hour))
    assert refused.value.field == "starts_at"
    assert "营业时间" in refused.value.message
    assert _count(session, Booking) == 0 and _count(session, BookingSlot) == 0


def test_booking_off_the_hour_is_refused(org, session, frozen_now):
    with pytest.raises(ValidationError) as refused:
        _book(
            session,
            org.advisor_a,
            _customer(org, "客户丁"),
            at(TOMORROW, 9) + timedelta(minutes=30),
        )
    assert refused.value.field == "starts_at" and "整点" in refused.value.message
    assert _count(session, Booking) == 0


@pytest.mark.parametrize("hour", [9, 10])  # an hour gone by, and the hour that starts now
def test_booking_an_hour_that_has_begun_is_refused(org, session, frozen_now, hour):
    with pytest.raises(ValidationError) as refused:
        _book(session, org.advisor_a, _customer(org, "客户丁"), at(TODAY, hour))
    assert refused.value.field == "starts_at"
    assert _count(session, Booking) == 0


def test_bookings_reach_30_days_ahead_and_no_further(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    _book(session, org.advisor_a, customer, at(TODAY + timedelta(days=30), 17))
    with pytest.raises(ValidationError) as refused:
        _book(session, org.advisor_a, customer, at(TODAY + timedelta(days=31), 8))
    assert refused.value.field == "starts_at" and "30天" in refused.value.message
    assert _count(session, Booking) == 1


def test_a_customer_cannot_hold_two_bookings_in_one_slot(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    _book(session, None, customer, at(TOMORROW, 9))
    with pytest.raises(Conflict) as refused:
        _book(session, org.advisor_a, customer, at(TOMORROW, 9))
    assert refused.value.field == "starts_at" and "已有预约" in refused.value.message
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1
    _book(session, org.advisor_a, customer, at(TOMORROW, 10))
    assert _count(session, Booking, Booking.customer_id == customer.id) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "oil_change"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"note": "字" * 201}, "note"),
        ({"vehicle": None}, "vehicle"),
        ({"starts_at": None}, "starts_at"),
    ],
)
def test_bad_input_is_refused_naming_the_field(org, session, frozen_now, change, field):
    customer = _customer(org, "客户丁")
    values = {"kind": MAINTENANCE, "note": "", "vehicle": "first", "starts_at": at(TOMORROW, 9)}
    values.update(change)
    with pytest.raises(ValidationError) as refused:
        _book(session, org.advisor_a, customer, values.pop("starts_at"), **values)
    assert refused.value.field == field
    assert _count(session, Booking) == 0 and _count(session, BookingSlot) == 0


def test_another_customers_vehicle_is_refused(org, session, frozen_now):
    customer, other = _customer(org, "客户丁"), _customer(org, "客户戊")
    with pytest.raises(ValidationError) as refused:
        _book(session, org.advisor_a, customer, at(TOMORROW, 9), vehicle=other.vehicles[0].id)
    assert refused.value.field == "vehicle"
    assert _count(session, Booking) == 0


def test_a_customer_without_a_vehicle_archive_may_be_booked_without_one(org, session, frozen_now):
    customer = _customer(org, "客户丁", with_vehicle=False)
    booking = _book(session, org.advisor_a, customer, at(TOMORROW, 9))
    assert booking.vehicle_id is None


def test_a_customer_booking_from_the_member_pages_has_no_staff_author(org, session, frozen_now):
    booking = _book(session, None, _customer(org, "客户丁"), at(TOMORROW, 9))
    assert booking.created_by_id is None


def test_the_preview_checks_everything_and_writes_nothing(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    vehicle_id = customer.vehicles[0].id
    checked = bookings.preview(
        session, None, customer, at(TOMORROW, 9), MAINTENANCE, " 异响 ", vehicle_id, clock.now()
    )
    assert (checked.starts_at, checked.note, checked.kind_label) == (
        at(TOMORROW, 9),
        "异响",
        "定期保养",
    )
    assert _count(session, Booking) == 0 and _count(session, BookingSlot) == 0


# --- who may book ----------------------------------------------------------------------------


def test_a_salesperson_may_not_book_maintenance(org, session, frozen_now):
    with pytest.raises(Forbidden):
        _book(session, org.sales_a1, org.customer_a1, at(TOMORROW, 9), vehicle=None)
    assert _count(session, Booking) == 0


@pytest.mark.parametrize("role", ["advisor_a", "care_a", "store_admin_a"])
def test_store_service_staff_may_book_for_the_stores_customers(org, session, frozen_now, role):
    booking = _book(session, getattr(org, role), org.customer_a1, at(TOMORROW, 9), vehicle=None)
    assert booking.customer_id == org.customer_a1.id


def test_another_stores_customer_answers_not_found(org, session, frozen_now):
    with pytest.raises(NotFound):
        _book(session, org.advisor_a, org.customer_b, at(TOMORROW, 9), vehicle=None)
    assert _count(session, Booking) == 0


# --- cancelling and done ---------------------------------------------------------------------


def test_cancel_frees_the_place(org, session, frozen_now, capacity):
    capacity(1)
    first = _book(session, org.advisor_a, _customer(org, "客户一"), at(TOMORROW, 9))
    frozen_now.shift(timedelta(minutes=5))

    cancelled = bookings.cancel(session, org.advisor_a, first.id, clock.now())

    assert cancelled.status == BookingStatus.CANCELLED
    assert cancelled.cancelled_at == clock.now()
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 0
    second = _book(session, org.advisor_a, _customer(org, "客户二"), at(TOMORROW, 9))
    assert second.slot_id == first.slot_id


def test_cancelling_twice_frees_one_place_only(org, session, frozen_now):
    booking = _book(session, org.advisor_a, _customer(org, "客户一"), at(TOMORROW, 9))
    _book(session, org.advisor_a, _customer(org, "客户二"), at(TOMORROW, 9))
    bookings.cancel(session, org.advisor_a, booking.id, clock.now())
    with pytest.raises(ValidationError) as refused:
        bookings.cancel(session, org.advisor_a, booking.id, clock.now())
    assert refused.value.field == "booking"
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1


def test_a_customer_cancels_only_their_own_upcoming_bookings(org, session, frozen_now):
    mine, theirs = _customer(org, "客户一"), _customer(org, "客户二")
    own = _book(session, None, mine, at(TOMORROW, 9))
    other = _book(session, None, theirs, at(TOMORROW, 9))

    with pytest.raises(NotFound):
        bookings.cancel(session, None, other.id, clock.now(), customer=mine)
    with pytest.raises(NotFound):
        bookings.cancel(session, None, own.id, clock.now())  # nobody logged in
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 2

    frozen_now.move_to(at(TOMORROW, 9) + timedelta(minutes=10))
    with pytest.raises(ValidationError) as refused:
        bookings.cancel(session, None, own.id, clock.now(), customer=mine)
    assert refused.value.field == "booking" and "联系门店" in refused.value.message
    # the advisor may still cancel a no-show
    bookings.cancel(session, org.advisor_a, own.id, clock.now())
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1


def test_another_stores_advisor_cannot_touch_a_booking(org, session, frozen_now):
    advisor_b = f.StaffFactory(
        store=org.store_b, group_id=org.store_b.group_id, role="service_advisor"
    )
    booking = _book(session, org.advisor_a, _customer(org, "客户一"), at(TOMORROW, 9))
    for action in (bookings.cancel, bookings.mark_done):
        with pytest.raises(NotFound):
            action(session, advisor_b, booking.id, clock.now())
    session.expire_all()
    assert session.get(Booking, booking.id).status == BookingStatus.BOOKED


def test_mark_done_on_the_day_keeps_the_place_used(org, session, frozen_now):
    booking = _book(session, org.advisor_a, _customer(org, "客户一"), at(TOMORROW, 9))
    with pytest.raises(ValidationError) as refused:
        bookings.mark_done(session, org.advisor_a, booking.id, clock.now())
    assert refused.value.field == "booking" and "当天" in refused.value.message

    frozen_now.move_to(at(TOMORROW, 8) + timedelta(minutes=50))
    done = bookings.mark_done(session, org.advisor_a, booking.id, clock.now())

    assert done.status == BookingStatus.DONE and done.cancelled_at is None
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1
    with pytest.raises(ValidationError):
        bookings.cancel(session, org.advisor_a, booking.id, clock.now())


# --- lists -----------------------------------------------------------------------------------


def test_the_store_day_lists_that_days_bookings_of_the_store_only(org, session, frozen_now):
    late = _book(session, org.advisor_a, _customer(org, "晚到"), at(TOMORROW, 15))
    early = _book(session, org.advisor_a, _customer(org, "早到"), at(TOMORROW, 9))
    gone = _book(session, org.advisor_a, _customer(org, "取消"), at(TOMORROW, 11))
    bookings.cancel(session, org.advisor_a, gone.id, clock.now())
    _book(session, org.advisor_a, _customer(org, "后天"), at(TOMORROW + timedelta(days=1), 9))
    store_b_customer = _customer(org, "B店客户", store=org.store_b)
    _book(session, None, store_b_customer, at(TOMORROW, 9))

    page = bookings.store_day(session, org.advisor_a, TOMORROW, clock.now())

    assert [booking.id for booking in page.bookings] == [early.id, gone.id, late.id]
    assert [booking.id for booking in page.bookings_at(at(TOMORROW, 9))] == [early.id]
    assert page.store.id == org.store_a.id and page.day == TOMORROW
    assert page.slots[1].booked == 1  # 09:00 at store A only


def test_a_salesperson_has_no_booking_calendar(org, session, frozen_now):
    with pytest.raises(Forbidden):
        bookings.store_day(session, org.sales_a1, TOMORROW, clock.now())


def test_a_customers_upcoming_bookings_leave_out_past_cancelled_and_others(
    org, session, frozen_now
):
    mine, other = _customer(org, "客户一"), _customer(org, "客户二")
    soon = _book(session, None, mine, at(TODAY, 11))
    later = _book(session, None, mine, at(TOMORROW, 9))
    gone = _book(session, None, mine, at(TOMORROW, 10))
    bookings.cancel(session, None, gone.id, clock.now(), customer=mine)
    _book(session, None, other, at(TOMORROW, 9))

    assert bookings.customer_upcoming(session, mine, clock.now()) == [soon, later]
    frozen_now.move_to(at(TODAY, 11) + timedelta(minutes=1))
    assert bookings.customer_upcoming(session, mine, clock.now()) == [later]


def test_staff_find_a_stores_customer_by_phone(org, session, frozen_now):
    found = bookings.find_customer(session, org.advisor_a, org.customer_a1.phone[3:])
    assert found.id == org.customer_a1.id
    with pytest.raises(ValidationError) as other_store:
        bookings.find_customer(session, org.advisor_a, org.customer_b.phone)
    assert other_store.value.field == "phone"
    with pytest.raises(ValidationError) as garbled:
        bookings.find_customer(session, org.advisor_a, "12345")
    assert garbled.value.field == "phone"


def test_the_booking_day_stays_within_the_window(org, session, frozen_now):
    customer = _customer(org, "客户一")
    before = bookings.booking_day(session, None, customer, TODAY - timedelta(days=3), clock.now())
    after = bookings.booking_day(
        session, org.advisor_a, customer, TODAY + timedelta(days=90), clock.now()
    )
    assert before.day == TODAY and after.day == TODAY + timedelta(days=30)
    assert [vehicle.id for vehicle in after.vehicles] == [customer.vehicles[0].id]


# --- staff pages -----------------------------------------------------------------------------


def _text(response) -> str:
    return response.get_data(as_text=True)


def _error(page: str, field: str) -> str:
    match = re.search(rf'data-field="{field}">([^<]*)<', page)
    assert match, f"no error shown for {field}"
    return match.group(1)


def _slot_section(page: str, hour: str) -> str:
    match = re.search(
        rf'<section class="booking-slot" data-slot="{hour}">.*?</section>', page, re.S
    )
    assert match, f"no slot {hour}"
    return match.group(0)


def _hour_choice(page: str, hour: str) -> str:
    match = re.search(rf'<label class="choice" data-hour="{hour}">.*?</label>', page, re.S)
    assert match, f"no choice for {hour}"
    return match.group(0)


def test_booking_pages_send_strangers_to_the_log_in(client, org, frozen_now):
    for path in (
        "/h5/bookings/",
        "/h5/bookings/customer",
        f"/h5/bookings/new/{org.customer_a1.id}",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/h5/login"), path
    response = client.get("/m/bookings/")
    assert response.status_code == 302 and response.location.endswith("/m/login")


def test_the_calendar_shows_each_hour_with_its_bookings(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    _book(session, None, customer, at(TOMORROW, 9), note="异响检查")
    login(client, org.advisor_a)

    page = _text(client.get("/h5/bookings/?day=2026-06-16"))

    assert "保养预约 · 杭州A店" in page and "06月16日 周二" in page
    nine = _slot_section(page, "09:00")
    assert "已约 <span data-booked>1</span>/4" in nine
    assert "客户丁" in nine and "定期保养" in nine and "异响检查" in nine
    assert customer.vehicles[0].plate in nine and "客户自助预约" in nine
    assert "已预约" in nine and "取消" in nine and "到店" not in nine  # not before its day
    assert "客户丁" not in _slot_section(page, "10:00")
    assert 'href="/h5/bookings/?day=2026-06-15" rel="prev"' in page
    assert 'href="/h5/bookings/?day=2026-06-17" rel="next"' in page


def test_the_calendar_shows_a_full_hour_and_past_hours(client, org, session, frozen_now, capacity):
    capacity(1)
    _book(session, org.advisor_a, _customer(org, "客户丁"), at(TODAY, 11))
    login(client, org.advisor_a)
    page = _text(client.get("/h5/bookings/"))
    assert "（今天）" in page
    assert "已约 <span data-booked>1</span>/1 · 已约满" in _slot_section(page, "11:00")
    assert "到店" in _slot_section(page, "11:00")
    assert "不可预约" in _slot_section(page, "09:00")


def test_a_garbled_day_shows_today_with_an_error(client, org, frozen_now):
    login(client, org.advisor_a)
    response = client.get("/h5/bookings/?day=16/06")
    assert response.status_code == 400
    assert _error(_text(response), "day") == "日期格式不正确，请重新选择"
    assert "06月15日 周一（今天）" in _text(response)


def test_a_salesperson_gets_403_on_the_calendar(client, org, frozen_now):
    login(client, org.sales_a1)
    assert client.get("/h5/bookings/").status_code == 403
    assert client.get(f"/h5/bookings/new/{org.customer_a1.id}").status_code == 403


def test_staff_book_for_a_customer_through_the_form(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    vehicle = customer.vehicles[0]
    login(client, org.advisor_a)

    form = _text(client.get(f"/h5/bookings/new/{customer.id}?day=2026-06-16"))
    assert "预约保养：客户丁" in form
    assert f'<option value="{vehicle.id}" selected>{vehicle.plate} 凯美瑞</option>' in form
    assert 'value="periodic_maintenance" selected' in form
    assert "余4个" in _hour_choice(form, "09:00")

    posted = client.post(
        f"/h5/bookings/new/{customer.id}",
        data={
            "day": "2026-06-16",
            "starts_at": "2026-06-16T09:00",
            "kind": "first_maintenance",
            "vehicle": str(vehicle.id),
            "note": "首保",
        },
    )

    assert posted.status_code == 302
    assert posted.location.endswith("/h5/bookings/?day=2026-06-16")
    booking = session.scalar(select(Booking).where(Booking.customer_id == customer.id))
    assert booking.starts_at == at(TOMORROW, 9) and booking.kind == "first_maintenance"
    assert booking.created_by_id == org.advisor_a.id
    page = _text(client.get(posted.location))
    assert "已预约：客户丁 06-16 09:00 首保" in page
    assert "客户丁" in _slot_section(page, "09:00")


def test_a_full_hour_is_greyed_out_and_posting_it_is_refused(
    client, org, session, frozen_now, capacity
):
    capacity(1)
    _book(session, None, _customer(org, "先到"), at(TOMORROW, 9))
    customer = _customer(org, "后到")
    login(client, org.advisor_a)

    form = _text(client.get(f"/h5/bookings/new/{customer.id}?day=2026-06-16"))
    assert "disabled" in _hour_choice(form, "09:00") and "已约满" in _hour_choice(form, "09:00")
    assert "disabled" not in _hour_choice(form, "10:00")

    posted = client.post(
        f"/h5/bookings/new/{customer.id}",
        data={
            "day": "2026-06-16",
            "starts_at": "2026-06-16T09:00",
            "kind": MAINTENANCE,
            "vehicle": str(customer.vehicles[0].id),
        },
    )
    assert posted.status_code == 409
    assert _error(_text(posted), "starts_at") == "该时段已约满，请选择其他时段"
    assert _count(session, Booking, Booking.customer_id == customer.id) == 0


def test_a_bad_form_shows_the_error_beside_the_field(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    login(client, org.advisor_a)
    posted = client.post(
        f"/h5/bookings/new/{customer.id}",
        data={"day": "2026-06-16", "starts_at": "", "kind": MAINTENANCE, "vehicle": "x"},
    )
    assert posted.status_code == 400
    assert _error(_text(posted), "vehicle") == "请选择车辆"
    posted = client.post(
        f"/h5/bookings/new/{customer.id}",
        data={"day": "2026-06-16", "kind": MAINTENANCE, "vehicle": customer.vehicles[0].id},
    )
    assert posted.status_code == 400
    assert _error(_text(posted), "starts_at") == "请选择预约时段"
    assert _count(session, Booking) == 0


def test_staff_find_the_customer_by_phone_first(client, org, frozen_now):
    login(client, org.advisor_a)
    assert "为客户预约保养" in _text(client.get("/h5/bookings/customer"))
    found = client.get("/h5/bookings/customer", query_string={"phone": org.customer_a1.phone})
    assert found.status_code == 302
    assert found.location.endswith(f"/h5/bookings/new/{org.customer_a1.id}")
    missing = client.get("/h5/bookings/customer", query_string={"phone": org.customer_b.phone})
    assert missing.status_code == 400
    assert _error(_text(missing), "phone") == "本店没有该手机号的客户"


def test_another_stores_customer_answers_404_on_the_form(client, org, session, frozen_now):
    login(client, org.advisor_a)
    assert client.get(f"/h5/bookings/new/{org.customer_b.id}").status_code == 404
    posted = client.post(
        f"/h5/bookings/new/{org.customer_b.id}",
        data={"starts_at": "2026-06-16T09:00", "kind": MAINTENANCE},
    )
    assert posted.status_code == 404
    assert _count(session, Booking) == 0


def test_the_customer_page_offers_booking_to_service_staff_only(client, org, frozen_now):
    path = f"/h5/customers/{org.customer_a1.id}"
    link = f'href="/h5/bookings/new/{org.customer_a1.id}">预约保养</a>'
    login(client, org.advisor_a)
    assert link in _text(client.get(path))
    client.post("/h5/logout")
    login(client, org.sales_a1)
    assert link not in _text(client.get(path))


def test_staff_cancel_and_mark_done_from_the_calendar(client, org, session, frozen_now):
    cancelled = _book(session, None, _customer(org, "客户一"), at(TODAY, 11))
    arrived = _book(session, None, _customer(org, "客户二"), at(TODAY, 11))
    login(client, org.advisor_a)

    response = client.post(f"/h5/bookings/{cancelled.id}/cancel")
    assert response.status_code == 302 and response.location.endswith("?day=2026-06-15")
    assert "已取消预约：客户一 06-15 11:00" in _text(client.get(response.location))
    response = client.post(f"/h5/bookings/{arrived.id}/done")
    assert "已标记到店：客户二 11:00" in _text(client.get(response.location))

    session.expire_all()
    assert session.get(Booking, cancelled.id).status == BookingStatus.CANCELLED
    assert session.get(Booking, arrived.id).status == BookingStatus.DONE
    eleven = _slot_section(_text(client.get("/h5/bookings/")), "11:00")
    assert "已约 <span data-booked>1</span>/4" in eleven
    assert "已取消" in eleven and "已到店" in eleven
    again = client.post(f"/h5/bookings/{cancelled.id}/cancel")
    assert "该预约已处理" in _text(client.get(again.location))


def test_another_stores_booking_answers_404(client, org, session, frozen_now):
    booking = _book(session, None, _customer(org, "B店客户", store=org.store_b), at(TOMORROW, 9))
    login(client, org.advisor_a)
    assert client.post(f"/h5/bookings/{booking.id}/cancel").status_code == 404
    assert client.post(f"/h5/bookings/{booking.id}/done").status_code == 404
    session.expire_all()
    assert session.get(Booking, booking.id).status == BookingStatus.BOOKED


# --- member pages ----------------------------------------------------------------------------


def _member_login(client, customer):
    client.post("/m/login", data={"phone": customer.phone})


def test_the_member_home_links_to_booking(client, org, frozen_now):
    _member_login(client, org.customer_a1)
    assert 'href="/m/bookings/">预约保养</a>' in _text(client.get("/m/"))


def test_a_member_books_an_hour_after_confirming_it(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    vehicle = customer.vehicles[0]
    _member_login(client, customer)

    page = _text(client.get("/m/bookings/?day=2026-06-16"))
    assert "您还没有待到店的预约" in page and "06月16日 周二" in page
    assert f'<option value="{vehicle.id}" selected>' in page
    assert "余4个" in _hour_choice(page, "09:00")

    choice = {
        "day": "2026-06-16",
        "starts_at": "2026-06-16T09:00",
        "kind": MAINTENANCE,
        "vehicle": str(vehicle.id),
        "note": "顺便洗车",
    }
    confirm = client.get("/m/bookings/confirm", query_string=choice)
    summary = _text(confirm)
    assert confirm.status_code == 200
    assert "2026-06-16 09:00" in summary and "定期保养" in summary
    assert f"{vehicle.plate} 凯美瑞" in summary and "顺便洗车" in summary
    assert _count(session, Booking) == 0  # nothing written before confirming

    done = client.post("/m/bookings/confirm", data=choice)

    assert done.status_code == 302 and done.location.endswith("/m/bookings/")
    booking = session.scalar(select(Booking).where(Booking.customer_id == customer.id))
    assert booking.created_by_id is None and booking.vehicle_id == vehicle.id
    page = _text(client.get(done.location))
    assert "预约成功：06月16日 09:00 定期保养，请按时到店" in page
    upcoming = re.search(r'<section id="upcoming".*?</section>', page, re.S).group(0)
    assert "2026-06-16 09:00" in upcoming and "取消预约" in upcoming
    mine = _hour_choice(_text(client.get("/m/bookings/?day=2026-06-16")), "09:00")
    assert "已预约" in mine and "disabled" in mine  # a second booking there would be refused


def test_a_member_is_refused_a_full_hour(client, org, session, frozen_now, capacity):
    capacity(1)
    _book(session, org.advisor_a, _customer(org, "先到"), at(TOMORROW, 9))
    customer = _customer(org, "后到")
    _member_login(client, customer)
    choice = {
        "day": "2026-06-16",
        "starts_at": "2026-06-16T09:00",
        "kind": MAINTENANCE,
        "vehicle": str(customer.vehicles[0].id),
    }
    for response in (
        client.get("/m/bookings/confirm", query_string=choice),
        client.post("/m/bookings/confirm", data=choice),
    ):
        assert response.status_code == 409
        assert _error(_text(response), "starts_at") == "该时段已约满，请选择其他时段"
    assert _count(session, Booking, Booking.customer_id == customer.id) == 0


def test_a_member_is_told_which_field_is_wrong(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    _member_login(client, customer)
    response = client.post(
        "/m/bookings/confirm",
        data={
            "day": "2026-06-16",
            "starts_at": "2026-06-16T19:00",
            "kind": MAINTENANCE,
            "vehicle": str(customer.vehicles[0].id),
        },
    )
    assert response.status_code == 400
    assert "营业时间" in _error(_text(response), "starts_at")
    assert _count(session, Booking) == 0


def test_a_member_cancels_an_upcoming_booking(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))
    other = _book(session, None, _customer(org, "客户戊"), at(TOMORROW, 9))
    _member_login(client, customer)

    assert client.post(f"/m/bookings/{other.id}/cancel").status_code == 404
    response = client.post(f"/m/bookings/{booking.id}/cancel")

    assert response.status_code == 302
    page = _text(client.get(response.location))
    assert "已取消 06月16日 09:00 的预约" in page and "您还没有待到店的预约" in page
    session.expire_all()
    assert session.get(Booking, booking.id).status == BookingStatus.CANCELLED
    assert session.get(Booking, other.id).status == BookingStatus.BOOKED
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1


# --- choosing the store (issue 9) ------------------------------------------------------------


def test_a_customer_books_at_another_store_of_the_group(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9), store_id=org.store_b.id)

    assert booking.store_id == org.store_b.id
    assert _slot(session, org.store_b, at(TOMORROW, 9)).booked == 1
    assert _slot(session, org.store_a, at(TOMORROW, 9)) is None
    # Store B's advisors see it on their calendar and may handle it; store A's still see it
    # with their customer.
    advisor_b = f.StaffFactory(
        store=org.store_b, group_id=org.store_b.group_id, role="service_advisor"
    )
    assert [b.id for b in bookings.store_bookings(session, advisor_b, TOMORROW)] == [booking.id]
    assert bookings.store_bookings(session, org.advisor_a, TOMORROW) == []
    bookings.cancel(session, advisor_b, booking.id, clock.now())


def test_the_booking_page_offers_the_groups_active_stores_own_first(org, session, frozen_now):
    closed = f.StoreFactory(group=org.store_a.group, name="已停业店", active=False)
    elsewhere = f.StoreFactory(name="别的集团店")
    customer = _customer(org, "B店客户", store=org.store_b)
    page = bookings.booking_day(session, None, customer, TOMORROW, clock.now())
    assert page.store.id == org.store_b.id
    assert [store.id for store in page.stores] == [org.store_b.id, org.store_a.id]
    assert closed.id not in page.store_options and elsewhere.id not in page.store_options
    chosen = bookings.booking_day(
        session, None, customer, TOMORROW, clock.now(), store_id=org.store_a.id
    )
    assert chosen.store.id == org.store_a.id


@pytest.mark.parametrize("which", ["closed", "other_group", "missing"])
def test_a_store_outside_the_group_or_closed_is_refused_naming_the_field(
    org, session, frozen_now, which
):
    store_id = {
        "closed": lambda: f.StoreFactory(group=org.store_a.group, active=False).id,
        "other_group": lambda: f.StoreFactory().id,
        "missing": lambda: 999999,
    }[which]()
    customer = _customer(org, "客户丁")
    with pytest.raises(ValidationError) as refused:
        _book(session, None, customer, at(TOMORROW, 9), store_id=store_id)
    assert refused.value.field == "store"
    assert _count(session, Booking) == 0 and _count(session, BookingSlot) == 0


# --- changing a booking (issue 9) ------------------------------------------------------------


def test_changing_moves_the_booking_and_its_place_in_one_go(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))

    moved = bookings.change(
        session, None, booking.id, at(TOMORROW, 14), clock.now(), customer=customer
    )

    assert moved.id == booking.id and moved.starts_at == at(TOMORROW, 14)
    assert moved.status == BookingStatus.BOOKED
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 0
    fourteen = _slot(session, org.store_a, at(TOMORROW, 14))
    assert fourteen.booked == 1 and moved.slot_id == fourteen.id
    # The advisor's calendar shows it at its new hour.
    day = bookings.store_day(session, org.advisor_a, TOMORROW, clock.now())
    assert [b.id for b in day.bookings_at(at(TOMORROW, 14))] == [booking.id]
    assert day.bookings_at(at(TOMORROW, 9)) == []


def test_changing_into_a_full_hour_leaves_the_booking_where_it_was(
    org, session, frozen_now, capacity
):
    capacity(1)
    _book(session, None, _customer(org, "先到"), at(TOMORROW, 14))
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))
    messages_before = _count(session, OutboxMessage)

    with pytest.raises(Conflict) as refused:
        bookings.change(session, None, booking.id, at(TOMORROW, 14), clock.now(), customer=customer)

    assert refused.value.field == "starts_at"
    assert refused.value.message == "该时段已约满，请选择其他时段"
    session.expire_all()
    assert session.get(Booking, booking.id).starts_at == at(TOMORROW, 9)
    assert _slot(session, org.store_a, at(TOMORROW, 9)).booked == 1
    assert _slot(session, org.store_a, at(TOMORROW, 14)).booked == 1
    assert _count(session, OutboxMessage) == messages_before


@pytest.mark.parametrize(
    ("new_hour", "field", "message"),
    [
        (9, "starts_at", "请选择与原预约不同的时段"),
        (19, "starts_at", "请选择营业时间内的时段（8:00–18:00）"),
        (None, "starts_at", "请选择预约时段"),
    ],
)
def test_a_bad_new_hour_is_refused_naming_the_field(
    org, session, frozen_now, new_hour, field, message
):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))
    new_at = at(TOMORROW, new_hour) if new_hour is not None else None
    with pytest.raises(ValidationError) as refused:
        bookings.change(session, None, booking.id, new_at, clock.now(), customer=customer)
    assert (refused.value.field, refused.value.message) == (field, message)
    session.expire_all()
    assert session.get(Booking, booking.id).starts_at == at(TOMORROW, 9)


def test_a_customer_changes_only_their_own_upcoming_booked_bookings(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    other = _book(session, None, _customer(org, "客户戊"), at(TOMORROW, 9))
    with pytest.raises(NotFound):
        bookings.change(session, None, other.id, at(TOMORROW, 10), clock.now(), customer=customer)
    today = _book(session, None, customer, at(TODAY, 11))
    with pytest.raises(ValidationError) as begun:
        bookings.change(
            session,
            None,
            today.id,
            at(TOMORROW, 10),
            clock.now() + timedelta(hours=2),
            customer=customer,
        )
    assert begun.value.field == "booking"
    cancelled = _book(session, None, customer, at(TOMORROW, 12))
    bookings.cancel(session, None, cancelled.id, clock.now(), customer=customer)
    with pytest.raises(ValidationError, match="该预约已处理"):
        bookings.change(
            session, None, cancelled.id, at(TOMORROW, 13), clock.now(), customer=customer
        )


def test_staff_change_a_booking_in_their_scope_only(org, session, frozen_now):
    booking = _book(session, None, _customer(org, "客户丁"), at(TOMORROW, 9))
    moved = bookings.change(session, org.advisor_a, booking.id, at(TOMORROW, 10), clock.now())
    assert moved.starts_at == at(TOMORROW, 10)
    with pytest.raises(NotFound):
        bookings.change(session, org.store_admin_b, booking.id, at(TOMORROW, 11), clock.now())


def test_changing_into_an_hour_the_customer_already_holds_is_refused(org, session, frozen_now):
    customer = f.CustomerFactory(store=org.store_a, group_id=org.store_a.group_id)
    first = f.VehicleFactory(customer=customer)
    f.VehicleFactory(customer=customer)
    _book(session, None, customer, at(TOMORROW, 9), vehicle=first.id)
    second = _book(session, None, customer, at(TOMORROW, 10), vehicle=customer.vehicles[1].id)
    with pytest.raises(Conflict, match="已有预约"):
        bookings.change(session, None, second.id, at(TOMORROW, 9), clock.now(), customer=customer)


# --- confirmation messages (issue 9) ---------------------------------------------------------


def _notices(session, customer) -> list[OutboxMessage]:
    session.expire_all()
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.customer_id == customer.id, OutboxMessage.kind == "booking_update")
            .order_by(OutboxMessage.id)
        )
    )


def test_booking_changing_and_cancelling_each_queue_a_notice(org, session, frozen_now):
    org.store_a.phone = "0571-88880001"
    customer = _customer(org, "客户丁")
    plate = customer.vehicles[0].plate
    booking = _book(session, None, customer, at(TOMORROW, 9))
    bookings.change(session, None, booking.id, at(TOMORROW, 14), clock.now(), customer=customer)
    bookings.cancel(session, None, booking.id, clock.now(), customer=customer)

    booked, changed, cancelled = _notices(session, customer)
    assert booked.payload == {
        "data": {
            "keyword1": "杭州A店",
            "keyword2": "06月16日 09:00",
            "keyword3": f"定期保养 {plate} 凯美瑞",
            "keyword4": "已预约",
            "keyword5": "0571-88880001",
        },
        "url": "/m/bookings/",
    }
    assert changed.payload["data"]["keyword2"] == "06月16日 14:00"
    assert changed.payload["data"]["keyword4"] == "已改期（原06-16 09:00）"
    assert cancelled.payload["data"]["keyword4"] == "已取消"
    for notice in (booked, changed, cancelled):
        assert notice.store_id == org.store_a.id and notice.state == "pending"
        assert notice.not_before == clock.now() and notice.due_on == TODAY
        assert notice.vehicle_id == customer.vehicles[0].id


def test_staff_bookings_notify_the_customer_too(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, org.advisor_a, customer, at(TOMORROW, 9))
    bookings.cancel(session, org.advisor_a, booking.id, clock.now())
    assert [n.payload["data"]["keyword4"] for n in _notices(session, customer)] == [
        "已预约",
        "已取消",
    ]


def test_a_no_show_cleared_after_its_hour_sends_nothing(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TODAY, 11))
    bookings.cancel(session, org.advisor_a, booking.id, clock.now() + timedelta(hours=3))
    assert [n.payload["data"]["keyword4"] for n in _notices(session, customer)] == ["已预约"]


def test_a_booking_in_the_evening_is_confirmed_the_next_morning(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    evening = clock.now() + timedelta(hours=12)  # 22:00 Beijing
    bookings.book(
        session, None, customer, at(TOMORROW, 9), MAINTENANCE, "", customer.vehicles[0].id, evening
    )
    [notice] = _notices(session, customer)
    assert clock.local(notice.not_before).strftime("%m-%d %H:%M") == "06-16 08:00"


def test_a_customer_who_switched_booking_notices_off_gets_none(org, session, frozen_now):
    customer = _customer(org, "客户丁")
    care_opt_outs.set_member_choices(session, customer, {"booking_update": "off"}, clock.now())
    _book(session, None, customer, at(TOMORROW, 9))
    assert _notices(session, customer) == []


def test_the_notice_goes_out_as_a_template_message(org, session, frozen_now, fake_wechat):
    customer = _customer(org, "客户丁")
    session.add(
        WeChatIdentity(
            app=WeChatApp.OFFICIAL_ACCOUNT.value,
            openid="o-member-1",
            customer_id=customer.id,
            subscribed=True,
            bound_at=clock.now(),
        )
    )
    session.add(
        CareTemplate(group_id=org.store_a.group_id, kind="booking_update", template_id="tmpl-bk")
    )
    fake_wechat.fake.subscribe("o-member-1")
    session.commit()
    _book(session, None, customer, at(TOMORROW, 9))

    fake = fake_wechat.fake
    client = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)
    assert dispatcher.dispatch(session, client, "https://crm.example.cn", clock.now()) == {
        "sent": 1
    }
    [sent] = fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-member-1", "tmpl-bk")
    assert sent["data"]["keyword4"] == {"value": "已预约"}
    assert sent["url"] == "https://crm.example.cn/m/bookings/"


# --- member pages: store, change -------------------------------------------------------------


def test_a_member_chooses_the_store_and_books_there(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    _member_login(client, customer)

    page = _text(client.get("/m/bookings/?day=2026-06-16"))
    assert f'<option value="{org.store_a.id}" selected>杭州A店</option>' in page
    assert f'<option value="{org.store_b.id}">宁波B店</option>' in page
    page = _text(client.get(f"/m/bookings/?day=2026-06-16&store={org.store_b.id}"))
    assert f'<option value="{org.store_b.id}" selected>宁波B店</option>' in page
    assert f'<input type="hidden" name="store" value="{org.store_b.id}">' in page

    choice = {
        "store": str(org.store_b.id),
        "day": "2026-06-16",
        "starts_at": "2026-06-16T09:00",
        "kind": MAINTENANCE,
        "vehicle": str(customer.vehicles[0].id),
    }
    assert "宁波B店" in _text(client.get("/m/bookings/confirm", query_string=choice))
    done = client.post("/m/bookings/confirm", data=choice)
    assert done.status_code == 302
    booking = session.scalar(select(Booking).where(Booking.customer_id == customer.id))
    assert booking.store_id == org.store_b.id
    upcoming = re.search(
        r'<section id="upcoming".*?</section>', _text(client.get("/m/bookings/")), re.S
    )
    assert "宁波B店" in upcoming.group(0) and "改期" in upcoming.group(0)


def test_a_garbled_store_shows_the_own_store_with_an_error(client, org, session, frozen_now):
    _member_login(client, _customer(org, "客户丁"))
    response = client.get("/m/bookings/?store=abc")
    assert response.status_code == 400
    assert _error(_text(response), "store") == "请选择本集团营业中的门店"
    assert f'<option value="{org.store_a.id}" selected>' in _text(response)


def test_a_member_changes_a_booking_to_another_hour(client, org, session, frozen_now):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))
    _member_login(client, customer)

    form = _text(client.get(f"/m/bookings/{booking.id}/change"))
    assert "原预约时间" in form and "2026-06-16 09:00" in form
    assert "已预约" in _hour_choice(form, "09:00") and "disabled" in _hour_choice(form, "09:00")
    assert "余4个" in _hour_choice(form, "14:00")
    later = _text(client.get(f"/m/bookings/{booking.id}/change?day=2026-06-17"))
    assert "06月17日 周三" in later

    done = client.post(
        f"/m/bookings/{booking.id}/change",
        data={"day": "2026-06-16", "starts_at": "2026-06-16T14:00"},
    )

    assert done.status_code == 302 and done.location.endswith("/m/bookings/")
    page = _text(client.get(done.location))
    assert "已改期：06月16日 14:00，请按时到店" in page
    session.expire_all()
    assert session.get(Booking, booking.id).starts_at == at(TOMORROW, 14)


def test_a_member_changing_into_a_full_hour_sees_the_error_and_keeps_the_booking(
    client, org, session, frozen_now, capacity
):
    capacity(1)
    _book(session, None, _customer(org, "先到"), at(TOMORROW, 14))
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))
    _member_login(client, customer)

    refused = client.post(
        f"/m/bookings/{booking.id}/change",
        data={"day": "2026-06-16", "starts_at": "2026-06-16T14:00"},
    )

    assert refused.status_code == 409
    assert _error(_text(refused), "starts_at") == "该时段已约满，请选择其他时段"
    session.expire_all()
    assert session.get(Booking, booking.id).starts_at == at(TOMORROW, 9)


def test_another_customers_booking_cannot_be_changed_from_the_member_pages(
    client, org, session, frozen_now
):
    other = _book(session, None, _customer(org, "客户戊"), at(TOMORROW, 9))
    _member_login(client, _customer(org, "客户丁"))
    assert client.get(f"/m/bookings/{other.id}/change").status_code == 404
    posted = client.post(f"/m/bookings/{other.id}/change", data={"starts_at": "2026-06-16T10:00"})
    assert posted.status_code == 404
    session.expire_all()
    assert session.get(Booking, other.id).starts_at == at(TOMORROW, 9)


def test_the_staff_calendar_shows_a_changed_booking_at_its_new_hour(
    client, org, session, frozen_now
):
    customer = _customer(org, "客户丁")
    booking = _book(session, None, customer, at(TOMORROW, 9))
    bookings.change(session, None, booking.id, at(TOMORROW, 15), clock.now(), customer=customer)
    login(client, org.advisor_a)
    page = _text(client.get("/h5/bookings/?day=2026-06-16"))
    assert "客户丁" in _slot_section(page, "15:00")
    assert "客户丁" not in _slot_section(page, "09:00")
    assert "已约 <span data-booked>0</span>/4" in _slot_section(page, "09:00")


# --- a race for the last place (PostgreSQL) --------------------------------------------------


def test_two_customers_changing_into_the_last_place_at_once_leave_one_there(race_app):
    """Two customers move their bookings into the one free place of 15:00 at the same moment,
    each on its own connection: one gets it, the other's booking stays where it was."""
    store, (first, second) = _race_seed(capacity=2)
    taken = {
        customer_id: _race_book(customer_id, hour)
        for customer_id, hour in ((first, 9), (second, 10))
    }
    filler = _race_customer(store)
    _race_book(filler, 15)  # one of 15:00's two places is gone

    outcomes = _race_changes(race_app, {first: (taken[first], 15), second: (taken[second], 15)})

    assert sorted(outcomes.values()) == ["moved", "该时段已约满，请选择其他时段"]
    winner = next(c for c, outcome in outcomes.items() if outcome == "moved")
    loser = first if winner == second else second
    db.session.expire_all()
    hours = {
        b.customer_id: clock.local(b.starts_at).hour
        for b in db.session.scalars(select(Booking).where(Booking.status == "booked"))
    }
    assert hours == {winner: 15, loser: 9 if loser == first else 10, filler: 15}
    counts = dict(
        db.session.execute(select(BookingSlot.starts_at, BookingSlot.booked)).tuples().all()
    )
    assert counts[at(TOMORROW, 15)] == 2
    assert counts[at(TOMORROW, 9 if winner == first else 10)] == 0
    assert counts[at(TOMORROW, 9 if loser == first else 10)] == 1
    changed = [
        message.customer_id
        for message in db.session.scalars(select(OutboxMessage))
        if message.payload["data"]["keyword4"].startswith("已改期")
    ]
    assert changed == [winner]


def test_two_customers_swapping_hours_at_once_both_move_without_a_deadlock(race_app):
    """A moves 09:00 → 10:00 while B moves 10:00 → 09:00, with room in both hours: each
    change takes a place in the hour the other frees. Locking the two slot rows in one order
    (not claim-then-free) lets the second wait for the first instead of deadlocking."""
    store, (first, second) = _race_seed(capacity=2)
    nine, ten = _race_book(first, 9), _race_book(second, 10)

    outcomes = _race_changes(race_app, {first: (nine, 10), second: (ten, 9)})

    assert outcomes == {first: "moved", second: "moved"}
    db.session.expire_all()
    counts = dict(
        db.session.execute(select(BookingSlot.starts_at, BookingSlot.booked)).tuples().all()
    )
    assert counts == {at(TOMORROW, 9): 1, at(TOMORROW, 10): 1}
    hours = dict(db.session.execute(select(Booking.id, Booking.starts_at)).tuples().all())
    assert hours == {nine: at(TOMORROW, 10), ten: at(TOMORROW, 9)}


def _race_changes(app, moves: dict[int, tuple[int, int]]) -> dict:
    """Start every customer's change (booking id, new hour) at the same moment, each on its
    own connection; what each was told."""
    start = threading.Barrier(len(moves))
    outcomes: dict = {}

    def mover(customer_id: int, booking_id: int, hour: int) -> None:
        with app.app_context():
            session = db.session()
            customer = session.get(Customer, customer_id)
            start.wait(10)
            try:
                bookings.change(
                    session, None, booking_id, at(TOMORROW, hour), RACE_NOW, customer=customer
                )
                outcomes[customer_id] = "moved"
            except Conflict as error:
                outcomes[customer_id] = error.message
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=mover, args=(customer_id, booking_id, hour))
        for customer_id, (booking_id, hour) in moves.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == len(moves)
    return outcomes


RACE_NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # the frozen clock's moment


def _race_seed(capacity: int):
    group = Group(name="集团", created_at=RACE_NOW)
    db.session.add(group)
    db.session.flush()
    store = Store(
        group_id=group.id, code="R01", name="竞速店", booking_capacity=capacity, created_at=RACE_NOW
    )
    db.session.add(store)
    db.session.commit()
    return store, [_race_customer(store), _race_customer(store)]


_race_numbers = itertools.count()


def _race_customer(store) -> int:
    number = next(_race_numbers)
    phone = f"+8613822220{number:03d}"
    person = Customer(
        group_id=store.group_id,
        store_id=store.id,
        name=f"客户{number}",
        phone=phone,
        phone_index=phone_index(phone),
        created_at=RACE_NOW,
    )
    db.session.add(person)
    db.session.flush()
    db.session.add(
        Vehicle(
            customer_id=person.id,
            store_id=store.id,
            vin=f"LVGRACE1000{number:06d}",
            model="凯美瑞",
            created_at=RACE_NOW,
        )
    )
    db.session.commit()
    return person.id


def _race_book(customer_id: int, hour: int) -> int:
    customer = db.session.get(Customer, customer_id)
    booking = bookings.book(
        db.session,
        None,
        customer,
        at(TOMORROW, hour),
        MAINTENANCE,
        "",
        customer.vehicles[0].id,
        RACE_NOW,
    )
    return booking.id
