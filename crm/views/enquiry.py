"""The public enquiry form a prospect opens from a store's link or a salesperson's personal
QR code (``/m/enquiry/<store code>[?ref=<token>]``). No log-in; rate-limited; the prospect
consents to be contacted about buying a car before anything is stored."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db, limiter
from crm.services import catalogue, enquiry_links
from crm.views.forms import form_page, form_values

bp = Blueprint("enquiry", __name__, url_prefix="/m/enquiry")
RATE_LIMIT = "10/minute"


@bp.route("/<store_code>", methods=["GET", "POST"])
@limiter.limit(RATE_LIMIT, methods=["POST"], error_message="提交过于频繁，请稍后再试")
def form(store_code: str):
    store = enquiry_links.open_store(db.session, store_code)
    ref = request.values.get("ref", "")
    values, errors = form_values(("name", "phone", "model_of_interest")), {}
    consent = request.form.get("consent") == "1"
    if request.method == "POST":
        salesperson = enquiry_links.salesperson_for(
            db.session, store, current_app.config["SECRET_KEY"], ref
        )
        try:
            enquiry_links.submit(
                db.session,
                store,
                enquiry_links.EnquiryInput(**values, consent=consent),
                salesperson,
                clock.now(),
            )
        except ValidationError as error:
            errors[error.field or "name"] = error.message
        else:
            return render_template("member/enquiry_done.html", store=store)
    return form_page(
        "member/enquiry.html",
        errors,
        store=store,
        ref=ref,
        values=values,
        consent=consent,
        models=sorted(catalogue.active_model_names(db.session, store.group_id)),
    )
