"""Console: one customer's personal information (issue 12 "PIPL"): their consents, with the
paper or phone consent staff record; the download of everything we hold on them (JSON or
Excel); and the erasure of their personal data, confirmed by typing the customer's id.

Rules live in ``crm.services.consents``, ``crm.services.customer_export`` and
``crm.services.erasure``; exporting and erasing are for store and group admins.
"""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, request, send_file, url_for
from flask_login import current_user, login_required

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.services import consents, customer_export, erasure
from crm.services.privacy_requests import CHANNEL_LABELS
from crm.views.forms import form_page, form_values

bp = Blueprint("console_privacy", __name__, url_prefix="/console/customers")
CONSENT_FIELDS = ("purpose", "decision", "channel", "note")
DEFAULTS = {"purpose": "", "decision": "grant", "channel": "paper", "note": "", "confirm": ""}
STAFF_CHANNELS = {key: label for key, label in CHANNEL_LABELS.items() if key != "wechat"}


def _page(customer_id: int, errors: dict, values: dict | None = None, status: int | None = None):
    page = consents.console_page(db.session, current_user, customer_id)
    return form_page(
        "console/privacy/customer.html",
        errors,
        status,
        page=page,
        customer=page.customer,
        values={**DEFAULTS, **(values or {})},
        purposes=[(state.purpose, state.label) for state in page.states],
        decisions=list(consents.DECISIONS.items()),
        channels=list(STAFF_CHANNELS.items()),
        formats=list(customer_export.FORMATS.items()),
    )


@bp.get("/<int:customer_id>/privacy")
@login_required
def show(customer_id: int):
    return _page(customer_id, {})


@bp.post("/<int:customer_id>/consents")
@login_required
def record_consent(customer_id: int):
    values = form_values(CONSENT_FIELDS)
    try:
        consents.record(db.session, current_user, customer_id, values, clock.now())
    except ValidationError as error:
        return _page(customer_id, {error.field: error.message}, values)
    flash("授权记录已登记")
    return redirect(url_for("console_privacy.show", customer_id=customer_id))


@bp.post("/<int:customer_id>/export")
@login_required
def export(customer_id: int):
    fmt = request.form.get("format", "")
    try:
        file = customer_export.export(
            db.session,
            current_user,
            customer_id,
            fmt,
            clock.now(),
            fulfil_request=request.form.get("fulfil") == "1",
        )
    except ValidationError as error:
        return _page(customer_id, {error.field: error.message})
    response = send_file(
        io.BytesIO(file.content),
        mimetype=file.content_type,
        as_attachment=True,
        download_name=file.filename,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:customer_id>/erase")
@login_required
def erase(customer_id: int):
    values = form_values(("confirm",))
    try:
        done = erasure.erase(db.session, current_user, customer_id, values["confirm"], clock.now())
    except ValidationError as error:
        return _page(customer_id, {error.field: error.message}, {"confirm": values["confirm"]})
    flash("该客户的个人信息此前已删除" if done.already else "已删除该客户的个人信息")
    return redirect(url_for("console_privacy.show", customer_id=customer_id))
