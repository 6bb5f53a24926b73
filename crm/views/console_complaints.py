"""Console: complaints (issue 9 "Complaints") — the list with filters by state, store and
breached SLA, the complaint timeliness of each store over a period (PRODUCT "Reports and KPIs":
complaint timeliness), and one complaint with its full timeline.

Rules live in ``crm.services.complaints``; the pages are for those who handle complaints
(``complaint.handle``: care specialists, store and group admins).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import COMPLAINT_STATE_LABELS, Store
from crm.services import complaints
from crm.services.console_lists import complaints as complaint_list
from crm.services.console_lists import listing
from crm.views import downloads
from crm.views.forms import form_page, form_values, int_arg, local_date

bp = Blueprint("console_complaints", __name__, url_prefix="/console/complaints")
FILTER_FIELDS = ("state", "store", "breached", "start", "end")


def _period(values: dict, errors: dict) -> tuple[date, date]:
    """The KPI period: ``start``..``end`` (Beijing days), by default this month so far."""
    today = clock.today()
    try:
        start = local_date(values["start"], "start") or today.replace(day=1)
        end = local_date(values["end"], "end") or today
        complaints.period_bounds(start, end)
    except ValidationError as error:
        errors[error.field] = error.message
        start, end = today.replace(day=1), today
    values["start"], values["end"] = start.isoformat(), end.isoformat()
    return start, end


@bp.get("")
@login_required
def index():
    access.require(current_user, complaints.HANDLE)
    values, errors, now = form_values(FILTER_FIELDS), {}, clock.now()
    try:
        filters = complaints.parse_filters(values)
    except ValidationError as error:
        filters, errors = complaints.ConsoleFilters(), {error.field: error.message}
    start, end = _period(values, errors)
    page = db.paginate(
        complaints.console_query(current_user, filters, now),
        page=int_arg("page", 1),
        per_page=complaints.PER_PAGE,
        error_out=False,
    )
    stores = db.session.scalars(
        access.scope(select(Store).order_by(Store.code), current_user)
    ).all()
    return form_page(
        "console/complaints.html",
        errors,
        page=page,
        values=values,
        now=now,
        is_breached=complaints.is_breached,
        figures=complaints.timeliness(db.session, current_user, start, end, now),
        state_options=[(state.value, label) for state, label in COMPLAINT_STATE_LABELS.items()],
        store_options=[(store.id, store.name) for store in stores],
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
        export_url=url_for(
            "console_complaints.export",
            **{name: values[name] for name in ("state", "store", "breached") if values[name]},
        ),
    )


@bp.get("/export.xlsx")
@login_required
def export():
    return downloads.list_export(
        complaint_list.SHEET.title,
        lambda: complaint_list.export(db.session, current_user, request.args, clock.now()),
        url_for("console_complaints.index", **request.args.to_dict()),
    )


@bp.get("/<int:complaint_id>")
@login_required
def detail(complaint_id: int):
    access.require(current_user, complaints.HANDLE)
    page = complaints.staff_page(db.session, current_user, complaint_id, clock.now())
    return render_template("console/complaint.html", page=page, complaint=page.complaint)
