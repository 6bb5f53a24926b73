"""The WeChat sandbox (embedded mode only): stands in for WeChat when no credentials are set.

It lists who can enter the staff H5 and member pages as if from WeChat.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from crm.extensions import db
from crm.models import Customer, Staff

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")
SHOWN = 12


@bp.before_request
def only_in_sandbox():
    if not current_app.extensions["crm_settings"].sandbox_enabled:
        abort(404)


@bp.get("/")
def inbox():
    staff = db.session.scalars(
        select(Staff).where(Staff.active.is_(True)).order_by(Staff.store_id, Staff.role).limit(40)
    ).all()
    customers = db.session.scalars(select(Customer).order_by(Customer.id).limit(SHOWN)).all()
    return render_template("sandbox/inbox.html", staff=staff, customers=customers)
