"""The WeChat sandbox (embedded mode only): stands in for WeChat when no credentials are set.

Its page lists who can enter the staff H5 and member pages; ``phone_login`` is the stand-in
for WeChat OAuth on those pages: the typed phone picks the person.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import BindingInvitation, Customer, Staff
from crm.services import sandbox_inbox, wechat_identity
from crm.views.forms import form_page

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")
SHOWN = 12
MESSAGES_SHOWN = 200


def _enabled() -> bool:
    return current_app.extensions["crm_settings"].sandbox_enabled


@bp.before_request
def only_in_sandbox():
    if not _enabled():
        abort(404)


@bp.get("/")
def inbox():
    staff = db.session.scalars(
        select(Staff).where(Staff.active.is_(True)).order_by(Staff.store_id, Staff.role).limit(40)
    ).all()
    customers = db.session.scalars(select(Customer).order_by(Customer.id).limit(SHOWN)).all()
    return render_template(
        "sandbox/inbox.html",
        staff=staff,
        customers=customers,
        phones=sandbox_inbox.phones(db.session, limit=MESSAGES_SHOWN),
    )


@bp.get("/qr/<ticket>")
def qr(ticket: str):
    """What a binding QR code leads to in the sandbox: a phone that can scan it."""
    invitation = db.session.scalar(
        select(BindingInvitation).where(BindingInvitation.ticket == ticket)
    )
    if invitation is None:
        abort(404)
    return render_template("sandbox/qr.html", invitation=invitation)


@bp.post("/qr/<ticket>/scan")
def scan(ticket: str):
    sandbox_inbox.scan(db.session, ticket, clock.now())
    return redirect(url_for("sandbox.inbox"))


def phone_login(find_person, enter, people: str, **wording):
    """Render the H5 log-in; on POST in the sandbox, ``find_person(session, phone)`` picks the
    person (or raises ValidationError) and ``enter(person)`` answers; the page also offers to
    enter as one of the ``people`` ("staff" or "customers"). Outside the sandbox the page points
    to the Official Account menu instead."""
    enabled = _enabled()
    errors: dict[str, str] = {}
    phone = (request.form.get("phone") or "").strip()
    if request.method == "POST" and enabled:
        try:
            person = find_person(db.session, phone)
        except ValidationError as error:
            errors[error.field or "phone"] = error.message
        else:
            wechat_identity.enter_sandbox(db.session, person, clock.now())
            return enter(person)
    offered = sandbox_inbox.people_to_enter_as(db.session, people) if enabled else []
    return form_page(
        "h5/sandbox_login.html",
        errors,
        sandbox=enabled,
        phone=phone,
        offered=offered,
        **wording,
    )
