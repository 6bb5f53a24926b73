"""Maintenance bookings for the customer (issue 9 "Book maintenance: choose car, store, slot,
note; confirmation message; cancel or change"; issue 11 "Customers"): the free hours of a
store's day, book, change, cancel, and my upcoming bookings — through
``crm.services.bookings`` as the customer (``actor=None``), as on the member pages."""

from __future__ import annotations

from marshmallow import fields, validate

from crm import clock
from crm.api.auth import current_customer, customer_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.pagination import cursor_page
from crm.api.schemas import ApiSchema, PageArgs, page_of, record_id, text
from crm.extensions import db
from crm.models import ServiceKind
from crm.services import bookings

bp = ApiBlueprint(
    "api_customer_bookings", __name__, url_prefix="/member/bookings", description="保养预约"
)
KINDS = [kind.value for kind in ServiceKind]


class BookingOut(ApiSchema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    vehicle_id = fields.Integer(required=True, allow_none=True)
    starts_at = fields.AwareDateTime(required=True)
    kind = fields.String(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)


class StoreOut(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class SlotOut(ApiSchema):
    starts_at = fields.AwareDateTime(required=True)
    capacity = fields.Integer(required=True)
    booked = fields.Integer(required=True)
    free = fields.Integer(required=True)
    open = fields.Boolean(required=True, metadata={"description": "现在可以预约"})


class DayArgs(ApiSchema):
    day = fields.Date(load_default=None, metadata={"label": "日期"})
    store = record_id("门店", "请选择本集团营业中的门店", load_default=None)


class DayOut(ApiSchema):
    store = fields.Nested(StoreOut, required=True)
    day = fields.Date(required=True)
    first_day = fields.Date(required=True)
    last_day = fields.Date(required=True)
    stores = fields.List(fields.Nested(StoreOut), required=True)
    slots = fields.List(fields.Nested(SlotOut), required=True)


class BookIn(ApiSchema):
    starts_at = fields.AwareDateTime(required=True, metadata={"label": "预约时段"})
    kind = fields.String(
        load_default=ServiceKind.PERIODIC_MAINTENANCE.value,
        validate=validate.OneOf(KINDS, error="请选择服务类型"),
        metadata={"label": "服务类型"},
    )
    vehicle = record_id("车辆", "请选择车辆", load_default=None, allow_none=True)
    store = record_id("门店", "请选择本集团营业中的门店", load_default=None, allow_none=True)
    note = text("备注", bookings.NOTE_MAX, load_default="")


class ChangeIn(ApiSchema):
    starts_at = fields.AwareDateTime(required=True, metadata={"label": "预约时段"})


@bp.get("")
@customer_required
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(BookingOut, "BookingPage"))
def upcoming(args):
    """My upcoming bookings, soonest first."""
    listed = bookings.customer_upcoming(db.session, current_customer(), clock.now())
    return cursor_page(listed, args, key=lambda booking: (booking.starts_at, booking.id))


@bp.get("/slots")
@customer_required
@bp.arguments(DayArgs, location="query")
@bp.etag
@bp.response(200, DayOut)
def slots(args):
    """One day of a store's hours with their free places (default: today, my own store); a
    day outside the 30-day window moves to its nearest end."""
    now = clock.now()
    page = bookings.booking_day(
        db.session, None, current_customer(), args["day"] or clock.today(now), now, args["store"]
    )
    first_day, last_day = bookings.bookable_days(now)
    return {
        "store": page.store,
        "day": page.day,
        "first_day": first_day,
        "last_day": last_day,
        "stores": page.stores,
        "slots": page.slots,
    }


@bp.post("")
@customer_required
@idempotent
@bp.arguments(BookIn)
@bp.response(201, BookingOut)
def book(data):
    """Book an hour for one of my cars (a confirmation message follows). A full hour is 409."""
    return bookings.book(
        db.session,
        None,
        current_customer(),
        data["starts_at"],
        data["kind"],
        data["note"],
        data["vehicle"],
        clock.now(),
        store_id=data["store"],
    )


@bp.post(f"/<{ID}:booking_id>/change")
@customer_required
@bp.arguments(ChangeIn)
@bp.response(200, BookingOut)
def change(data, booking_id: int):
    """Move one of my upcoming bookings to another hour of its store."""
    return bookings.change(
        db.session, None, booking_id, data["starts_at"], clock.now(), customer=current_customer()
    )


@bp.post(f"/<{ID}:booking_id>/cancel")
@customer_required
@bp.response(200, BookingOut)
def cancel(booking_id: int):
    """Cancel one of my upcoming bookings; the hour is free for others again."""
    return bookings.cancel(db.session, None, booking_id, clock.now(), customer=current_customer())
