"""Staff H5 pages of the store's maintenance-booking calendar (issue 7 "After-sales": a slot
calendar per store with capacity per hour; a full slot is refused): the day's calendar, booking
for a customer, cancelling and marking a booking done.

Each view parses input, calls one service in ``crm.services.bookings`` and renders; the
service checks ``booking.manage`` (service advisor, care specialist, store admin).
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from crm import access, clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import SERVICE_KIND_LABELS, Booking, ServiceKind
from crm.services import bookings
from crm.views import staff_h5
from crm.views.forms import form_page, form_values, local_datetime

bp = Blueprint("staff_bookings", __name__, url_prefix="/h5/bookings")
bp.before_request(staff_h5.require_staff)

BOOKING_FIELDS = ("customer_id", "day", "starts_at", "kind", "vehicle", "note")
WEEKDAYS = "一二三四五六日"


@bp.app_template_global()
def may_manage_bookings() -> bool:
    """Whether the logged-in staff member keeps the store's booking calendar."""
    return access.allowed(current_user, bookings.MANAGE)


@bp.app_template_filter("weekday_label")
def weekday_label(day: date) -> str:
    return f"周{WEEKDAYS[day.weekday()]}"


def day_arg(raw: str, errors: dict) -> date:
    """The ``day`` input (YYYY-MM-DD, a Beijing date); empty is today, anything unreadable is
    today with an error on the field."""
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            errors["day"] = "日期格式不正确，请重新选择"
    return clock.today()


def vehicle_arg(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError("请选择车辆", "vehicle")
    return int(raw)


def vehicle_options(vehicles) -> list[tuple[int, str]]:
    return [(vehicle.id, f"{vehicle.plate or '未上牌'} {vehicle.model}") for vehicle in vehicles]


def day_picker(page, now) -> dict:
    """What a booking page needs to choose a day and an hour (staff and member alike)."""
    first_day, last_day = bookings.bookable_days(now)
    return {
        "kinds": SERVICE_KIND_LABELS,
        "vehicle_options": vehicle_options(page.vehicles),
        "first_day": first_day,
        "last_day": last_day,
        "prev_day": page.day - timedelta(days=1),
        "next_day": page.day + timedelta(days=1),
    }


def _back_to(booking: Booking):
    day = clock.local(booking.starts_at).date()
    return redirect(url_for("staff_bookings.calendar", day=day.isoformat()))


@bp.get("/")
def calendar():
    """The store's calendar of one day: each hour with its places taken, and who is coming."""
    errors: dict = {}
    day = day_arg(request.args.get("day", "").strip(), errors)
    page = bookings.store_day(db.session, current_user, day, clock.now())
    return form_page(
        "h5/bookings.html",
        errors,
        page=page,
        today=clock.today(),
        kinds=SERVICE_KIND_LABELS,
        prev_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
    )


@bp.get("/customer")
def choose_customer():
    """Book for whom: find a customer of the store by phone (or come from the customer page)."""
    values, errors = form_values(("phone",)), {}
    if values["phone"]:
        try:
            customer = bookings.find_customer(db.session, current_user, values["phone"])
        except ValidationError as error:
            errors[error.field or "phone"] = error.message
        else:
            return redirect(url_for("staff_bookings.new", customer_id=customer.id))
    else:
        bookings.staff_store(db.session, current_user)
    return form_page("h5/booking_customer.html", errors, values=values)


@bp.route("/new/<int:customer_id>", methods=["GET", "POST"])
def new(customer_id: int):
    """Book an hour for a customer: vehicle, kind of service, a free hour of a day, a note."""
    now, errors, status = clock.now(), {}, None
    customer = bookings.bookable_customer(db.session, current_user, customer_id)
    values = form_values(BOOKING_FIELDS)
    day = day_arg(values["day"], errors)
    if request.method == "GET":
        values["kind"] = values["kind"] or ServiceKind.PERIODIC_MAINTENANCE.value
        if not values["vehicle"] and customer.vehicles:
            values["vehicle"] = str(customer.vehicles[0].id)
    else:
        try:
            booking = bookings.book(
                db.session,
                current_user,
                customer,
                local_datetime(values["starts_at"], "starts_at"),
                values["kind"],
                values["note"],
                vehicle_arg(values["vehicle"]),
                now,
            )
        except (ValidationError, Conflict) as error:
            errors[error.field or "starts_at"] = error.message
            status = 409 if isinstance(error, Conflict) else 400
        else:
            flash(
                f"已预约：{customer.name} {clock.local(booking.starts_at):%m-%d %H:%M} "
                f"{SERVICE_KIND_LABELS[ServiceKind(booking.kind)]}"
            )
            return _back_to(booking)
    page = bookings.booking_day(db.session, current_user, customer, day, now)
    return form_page(
        "h5/booking_form.html",
        errors,
        status,
        page=page,
        values=values,
        **day_picker(page, now),
    )


@bp.post("/<int:booking_id>/cancel")
def cancel(booking_id: int):
    """Cancel a booking: its place is free again."""
    try:
        booking = bookings.cancel(db.session, current_user, booking_id, clock.now())
    except (ValidationError, Conflict) as error:
        booking = access.get_or_404(Booking, booking_id, current_user)
        flash(error.message)
    else:
        flash(f"已取消预约：{booking.customer.name} {clock.local(booking.starts_at):%m-%d %H:%M}")
    return _back_to(booking)


@bp.post("/<int:booking_id>/done")
def done(booking_id: int):
    """The customer came in for the booking."""
    try:
        booking = bookings.mark_done(db.session, current_user, booking_id, clock.now())
    except (ValidationError, Conflict) as error:
        booking = access.get_or_404(Booking, booking_id, current_user)
        flash(error.message)
    else:
        flash(f"已标记到店：{booking.customer.name} {clock.local(booking.starts_at):%H:%M}")
    return _back_to(booking)
