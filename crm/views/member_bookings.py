"""Member pages for booking maintenance (PRODUCT "Who uses it": the customer books
maintenance from the member pages; issue 7 "After-sales"): pick a day and a free hour for one
of the customer's vehicles, confirm, see and cancel the upcoming bookings.

Each view parses input, calls one service in ``crm.services.bookings`` (as the customer:
``actor=None``) and renders.
"""

from __future__ import annotations

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
FIELDS = ("day", "starts_at", "kind", "vehicle", "note")


@bp.before_request
def require_customer():
    """Every page needs a customer logged into the member pages."""
    if member_h5._current_customer() is None:
        return redirect(url_for("member_h5.login"))
    return None


def _picker(values: dict, errors: dict, status: int | None = None):
    """The booking page: upcoming bookings, then a day's free hours to choose from."""
    customer, now = member_h5._current_customer(), clock.now()
    day = day_arg(values["day"], errors)
    page = bookings.booking_day(db.session, None, customer, day, now)
    return form_page(
        "member/bookings.html",
        errors,
        status,
        page=page,
        values=values,
        **day_picker(page, now),
    )


def _refused(values: dict, error: ValidationError | Conflict):
    errors = {error.field or "starts_at": error.message}
    return _picker(values, errors, 409 if isinstance(error, Conflict) else 400)


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
        action = bookings.preview if request.method == "GET" else bookings.book
        result = action(
            db.session, None, customer, starts_at, values["kind"], values["note"], vehicle_id, now
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
