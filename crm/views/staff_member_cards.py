"""The staff end of the member card's QR code (issue 9 "Member card: a QR the advisor can scan
at the desk"): ``/h5/cards/<card_no>`` opens the card holder's customer page for staff who
may see the customer; anyone else gets 404. Like every ``/h5`` page it needs a staff log-in.
"""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask_login import current_user

from crm.extensions import db
from crm.services import member_cards
from crm.views import staff_h5

bp = Blueprint("staff_member_cards", __name__, url_prefix="/h5/cards")
bp.before_request(staff_h5.require_staff)


@bp.get("/<card_no>")
def open_card(card_no: str):
    customer = member_cards.holder(db.session, current_user, card_no)
    return redirect(url_for("staff_leads.customer_detail", customer_id=customer.id))
