"""The customer's care settings and privacy page (issue 9 "Preferences"): which kinds of care
to receive (``/m/preferences``; the service-critical ones always on), and the PIPL consent
page (``/m/privacy``) with the request for an export or deletion of their data."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for

from crm import clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.services import care_opt_outs, consents, privacy_requests
from crm.views import member_h5
from crm.views.forms import form_page, form_values

bp = Blueprint("member_preferences", __name__, url_prefix="/m")
bp.before_request(member_h5.require_customer)

NOT_A_CHOICE = {"csrf_token"}
REQUEST_FIELDS = ("kind", "note")


def _posted_choices() -> dict[str, str]:
    """Each kind's posted value. A switch posts a hidden ``off`` then, when on, ``on``: the
    last value wins."""
    return {
        name: request.form.getlist(name)[-1] for name in request.form if name not in NOT_A_CHOICE
    }


@bp.route("/preferences", methods=["GET", "POST"])
def preferences():
    customer = member_h5._current_customer()
    errors: dict = {}
    if request.method == "POST":
        try:
            # Through the consents: marketing stays off while its consent is withdrawn.
            consents.set_member_choices(db.session, customer, _posted_choices(), clock.now())
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash("关怀设置已保存")
            return redirect(url_for("member_preferences.preferences"))
    choices = care_opt_outs.for_member(db.session, customer)
    return form_page(
        "member/preferences.html",
        errors,
        choices=choices,
        marketing_withdrawn=consents.marketing_withdrawn(db.session, customer),
    )


def _privacy(values: dict, errors: dict, status: int | None = None):
    customer = member_h5._current_customer()
    page = privacy_requests.page(db.session, customer)
    return form_page(
        "member/privacy.html",
        errors,
        status,
        page=page,
        values=values,
        kinds=privacy_requests.KINDS,
        answer_within=privacy_requests.ANSWER_WITHIN,
        customer=customer,
        consent_states=consents.current(db.session, customer),
    )


@bp.get("/privacy")
def privacy():
    return _privacy({"kind": "", "note": ""}, {})


@bp.post("/privacy")
def privacy_request():
    values = form_values(REQUEST_FIELDS)
    customer = member_h5._current_customer()
    try:
        privacy_requests.request(db.session, customer, values["kind"], values["note"], clock.now())
    except (ValidationError, Conflict) as error:
        return _privacy(
            values, {error.field: error.message}, 409 if isinstance(error, Conflict) else 400
        )
    flash(f"已收到您的申请：{privacy_requests.KINDS[values['kind']][0]}，客服专员会尽快与您联系")
    return redirect(url_for("member_preferences.privacy"))


@bp.post("/privacy/consents")
def privacy_consent():
    """The customer grants or withdraws an optional purpose (PIPL, crm.services.consents)."""
    values = form_values(("purpose", "decision"))
    customer = member_h5._current_customer()
    try:
        row = consents.choose(
            db.session, customer, values["purpose"], values["decision"], clock.now()
        )
    except ValidationError as error:
        return _privacy({"kind": "", "note": ""}, {error.field: error.message})
    label = privacy_requests.PURPOSE_LABELS[row.purpose]
    flash(f"您已同意“{label}”" if row.granted else f"您已撤回“{label}”授权")
    return redirect(url_for("member_preferences.privacy"))
