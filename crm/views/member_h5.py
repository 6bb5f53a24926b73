"""Member pages for customers (WeUI). Until WeChat OAuth lands, customers enter through the
sandbox log-in (embedded mode only)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for

from crm.errors import ValidationError
from crm.extensions import db
from crm.models import Customer
from crm.services.identity import find_customer_by_phone

bp = Blueprint("member_h5", __name__, url_prefix="/m")
SESSION_KEY = "customer_id"


def _current_customer() -> Customer | None:
    customer_id = session.get(SESSION_KEY)
    return db.session.get(Customer, customer_id) if customer_id else None


@bp.get("/")
def home():
    customer = _current_customer()
    if customer is None:
        return redirect(url_for("member_h5.login"))
    return render_template("member/home.html", customer=customer)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sandbox stand-in for WeChat OAuth: the phone picks the customer."""
    sandbox = current_app.extensions["crm_settings"].sandbox_enabled
    errors = {}
    phone = (request.form.get("phone") or "").strip()
    if request.method == "POST" and sandbox:
        try:
            customer = find_customer_by_phone(db.session, phone)
            if customer is None:
                raise ValidationError("没有找到该手机号的会员", "phone")
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            session.clear()
            session[SESSION_KEY] = customer.id
            return redirect(url_for("member_h5.home"))
    status = 400 if errors else 200
    return render_template("member/login.html", sandbox=sandbox, phone=phone, errors=errors), status


@bp.post("/logout")
def logout():
    session.pop(SESSION_KEY, None)
    return redirect(url_for("member_h5.login"))
