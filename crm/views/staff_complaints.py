"""Staff H5 pages for complaints (issue 9 "Complaints"): the list with SLA countdowns and
breached badges, one complaint with its actions (已联系客户, 指派, 已解决, 已回访) and timeline,
and recording a phone complaint for a customer found by phone.

Each view parses input, calls one service in ``crm.services.complaints`` and renders; the
service checks who may act (``complaint.handle``, the assignee, ``complaint.record``).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm import access, clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import ROOT_CAUSE_LABELS, Customer
from crm.services import complaints
from crm.views import member_complaints, staff_h5
from crm.views.forms import form_page, form_values
from crm.views.staff_bookings import vehicle_arg, vehicle_options

bp = Blueprint("staff_complaints", __name__, url_prefix="/h5/complaints")
bp.before_request(staff_h5.require_staff)

ACTION_FIELDS = ("note", "assignee", "resolution", "root_cause", "callback_note", "satisfied")
SATISFIED = {"yes": True, "no": False}


@bp.app_template_global()
def complaint_bench() -> int | None:
    """The work-bench's 客诉 entry: the open complaints a handler sees (also when none), or
    the ones assigned to anyone else (only when there are some)."""
    if not current_user.is_authenticated:
        return None
    count = complaints.open_count(db.session, current_user)
    return count if count or access.allowed(current_user, complaints.HANDLE) else None


@bp.get("/")
def index():
    closed = request.args.get("closed") == "1"
    rows = complaints.staff_list(db.session, current_user, clock.now(), closed=closed)
    return render_template(
        "h5/complaints.html",
        rows=rows,
        closed=closed,
        may_record=access.allowed(current_user, complaints.RECORD),
    )


def _detail(complaint_id: int, values: dict, errors: dict, status: int | None = None):
    page = complaints.staff_page(db.session, current_user, complaint_id, clock.now())
    return form_page(
        "h5/complaint.html",
        errors,
        status,
        page=page,
        complaint=page.complaint,
        values=values,
        staff_options=[(s.id, f"{s.name}（{s.role_label}）") for s in page.assignable],
        root_causes=ROOT_CAUSE_LABELS.items(),
    )


@bp.get("/<int:complaint_id>")
def detail(complaint_id: int):
    return _detail(complaint_id, {}, {})


def _act(complaint_id: int, action, done: str):
    """Run one handling step; a refusal shows the page again with the error by its field."""
    values = form_values(ACTION_FIELDS)
    try:
        action(values)
    except Conflict as error:
        # Somebody else did it first: the form it came from is gone, so say so at the top.
        return _detail(complaint_id, values, {"conflict": error.message}, 409)
    except ValidationError as error:
        return _detail(complaint_id, values, {error.field or "note": error.message})
    flash(done)
    return redirect(url_for("staff_complaints.detail", complaint_id=complaint_id))


@bp.post("/<int:complaint_id>/contact")
def contact(complaint_id: int):
    return _act(
        complaint_id,
        lambda v: complaints.record_first_contact(
            db.session, current_user, complaint_id, v["note"], clock.now()
        ),
        "已记录首次联系",
    )


def _assignee(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


@bp.post("/<int:complaint_id>/assign")
def assign(complaint_id: int):
    return _act(
        complaint_id,
        lambda v: complaints.assign(
            db.session, current_user, complaint_id, _assignee(v["assignee"]), clock.now()
        ),
        "已指派负责人",
    )


@bp.post("/<int:complaint_id>/resolve")
def resolve(complaint_id: int):
    return _act(
        complaint_id,
        lambda v: complaints.resolve(
            db.session, current_user, complaint_id, v["resolution"], v["root_cause"], clock.now()
        ),
        "已记录解决结果，请在24小时（营业时间）内回访客户",
    )


@bp.post("/<int:complaint_id>/callback")
def callback(complaint_id: int):
    return _act(
        complaint_id,
        lambda v: complaints.record_callback(
            db.session,
            current_user,
            complaint_id,
            v["callback_note"],
            SATISFIED.get(v["satisfied"]),
            clock.now(),
        ),
        "已记录回访，投诉办结",
    )


@bp.get("/<int:complaint_id>/photos/<int:photo_id>")
def photo(complaint_id: int, photo_id: int):
    found = complaints.staff_photo(db.session, current_user, complaint_id, photo_id)
    return member_complaints.photo_response(found)


@bp.route("/phone", methods=["GET", "POST"])
def phone():
    """Record a phone complaint: find the customer by phone, then write down what they said."""
    values = form_values(("phone", "customer_id", "text", "vehicle"))
    errors: dict[str, str] = {}
    customer: Customer | None = None
    chosen = int(values["customer_id"]) if values["customer_id"].isdigit() else None
    try:
        customer = complaints.caller(db.session, current_user, values["phone"], chosen)
        if request.method == "POST" and customer is not None:
            data = complaints.ComplaintInput(values["text"], vehicle_arg(values["vehicle"]))
            complaint = complaints.record_phone_complaint(
                db.session, current_user, customer.id, data, clock.now()
            )
            flash("已登记电话投诉，客服专员已收到通知")
            return redirect(url_for("staff_complaints.detail", complaint_id=complaint.id))
    except ValidationError as error:
        errors[error.field or "text"] = error.message
    return form_page(
        "h5/complaint_phone.html",
        errors,
        values=values,
        customer=customer,
        vehicle_options=vehicle_options(customer.vehicles) if customer else [],
    )
