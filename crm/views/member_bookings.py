"""Member pages for booking maintenance (PRODUCT "Who uses it": the customer books
maintenance from the member pages; issue 7 "After-sales"; issue 9 "Book maintenance: choose
car, store, slot, note; confirmation message; cancel or change"): pick a store, a day and a
free hour for one of the customer's vehicles, confirm, see the upcoming bookings, move one to
another hour or cancel it.

Each view parses input, calls one service in ``crm.services.bookings`` (as the customer:
``actor=None``) and renders.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, request, url_for

from crm import clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import SERVICE_KIND_LABELS, ServiceKind
from crm.services import bookings
from crm.views import member_h5
from crm.views.forms import form_page, form_values, local_datetime
from crm.views.staff_bookings import day_arg, day_picker, vehicle_arg

bp = Blueprint("member_bookings", __name__, url_prefix="/m/bookings")
bp.before_request(member_h5.require_customer)
FIELDS = ("store", "day", "starts_at", "kind", "vehicle", "note")


def store_arg(raw: str) -> int | None:
    """The chosen store's id; empty is the customer's own store."""
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError("请选择本集团营业中的门店", "store")
    return int(raw)


def _status(error: ValidationError | Conflict) -> int:
    return 409 if isinstance(error, Conflict) else 400


def _picker(values: dict, errors: dict, status: int | None = None):
    """The booking page: upcoming bookings, then a store and a day's free hours to choose."""
    customer, now = member_h5._current_customer(), clock.now()
    day = day_arg(values["day"], errors)
    try:
        page = bookings.booking_day(
            db.session, None, customer, day, now, store_arg(values["store"])
        )
    except ValidationError as error:
        errors[error.field] = error.message
        values["store"] = ""
        page = bookings.booking_day(db.session, None, customer, day, now)
    values["store"] = str(page.store.id)
    return form_page(
        "member/bookings.html",
        errors,
        status,
        page=page,
        values=values,
        **day_picker(page, now),
    )


def _refused(values: dict, error: ValidationError | Conflict):
    return _picker(values, {error.field or "starts_at": error.message}, _status(error))


@bp.get("/")
def index():
    values = form_values(FIELDS)
    values["kind"] = values["kind"] or ServiceKind.PERIODIC_MAINTENANCE.value
    customer = member_h5._current_customer()
    if not values["vehicle"] and customer.vehicles:
        values["vehicle"] = str(customer.vehicles[0].id)
    return _picker(values, {})


@bp.route("/confirm", methods=["GET", "POST"])
def confirm():
    """GET: check the chosen hour and show it for confirmation (nothing written yet).
    POST: book it."""
    values = form_values(FIELDS)
    customer, now = member_h5._current_customer(), clock.now()
    try:
        starts_at = local_datetime(values["starts_at"], "starts_at")
        vehicle_id = vehicle_arg(values["vehicle"])
        store_id = store_arg(values["store"])
        action = bookings.preview if request.method == "GET" else bookings.book
        result = action(
            db.session,
            None,
            customer,
            starts_at,
            values["kind"],
            values["note"],
            vehicle_id,
            now,
            store_id=store_id,
        )
    except (ValidationError, Conflict) as error:
        return _refused(values, error)
    if request.method == "GET":
        return form_page("member/booking_confirm.html", {}, proposal=result, values=values)
    booking = result
    flash(
        f"预约成功：{clock.local(booking.starts_at):%m月%d日 %H:%M} "
        f"{SERVICE_KIND_LABELS[ServiceKind(booking.kind)]}，请按时到店"
    )
    return redirect(url_for("member_bookings.index"))


@bp.route("/<int:booking_id>/change", methods=["GET", "POST"])
def change(booking_id: int):
    """Move one of my upcoming bookings to another hour of its store: the new place is taken
    and the old one freed at once; a full hour leaves the booking where it was."""
    customer, now = member_h5._current_customer(), clock.now()
    values, errors, status = form_values(("day", "starts_at")), {}, None
    if request.method == "POST":
        try:
            booking = bookings.change(
                db.session,
                None,
                booking_id,
                local_datetime(values["starts_at"], "starts_at"),
                now,
                customer=customer,
            )
        except (ValidationError, Conflict) as error:
            errors[error.field or "starts_at"] = error.message
            status = _status(error)
        else:
            flash(f"已改期：{clock.local(booking.starts_at):%m月%d日 %H:%M}，请按时到店")
            return redirect(url_for("member_bookings.index"))
    day = day_arg(values["day"], errors) if values["day"] else None
    try:
        page = bookings.change_day(db.session, None, booking_id, day, now, customer=customer)
    except ValidationError as error:
        flash(error.message)
        return redirect(url_for("member_bookings.index"))
    first_day, last_day = bookings.bookable_days(now)
    return form_page(
        "member/booking_change.html",
        errors,
        status,
        page=page,
        values=values,
        first_day=first_day,
        last_day=last_day,
        one_day=timedelta(days=1),
    )


@bp.post("/<int:booking_id>/cancel")
def cancel(booking_id: int):
    """Cancel one of my upcoming bookings; the hour is free for others again."""
    customer = member_h5._current_customer()
    try:
        booking = bookings.cancel(db.session, None, booking_id, clock.now(), customer=customer)
    except (ValidationError, Conflict) as error:
        flash(error.message)
    else:
        flash(f"已取消 {clock.local(booking.starts_at):%m月%d日 %H:%M} 的预约")
    return redirect(url_for("member_bookings.index"))
