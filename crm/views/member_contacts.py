"""My advisor and my salesperson on the member pages (issue 9): names with tap-to-call
phones, the store's address, phone and rescue phone."""

from __future__ import annotations

from flask import Blueprint, render_template

from crm.extensions import db
from crm.services import member_contacts
from crm.views import member_h5

bp = Blueprint("member_contacts", __name__, url_prefix="/m")
bp.before_request(member_h5.require_customer)


@bp.get("/contacts")
def index():
    customer = member_h5._current_customer()
    contacts = member_contacts.for_customer(db.session, customer)
    return render_template("member/contacts.html", contacts=contacts)
