"""Staff H5 pages (WeUI, phone-sized). Until WeChat OAuth lands, staff enter through the
sandbox log-in (embedded mode only)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from sqlalchemy import func, select

from crm import access
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import LEAD_CLASS_LABELS, Lead, LeadStatus
from crm.services.identity import find_staff_by_phone

bp = Blueprint("staff_h5", __name__, url_prefix="/h5")


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("staff_h5.login"))
    mine = access.scope(select(Lead), current_user).where(
        Lead.owner_id == current_user.id, Lead.status == LeadStatus.OPEN
    )
    by_class = dict(
        db.session.execute(
            access.scope(
                select(Lead.lead_class, func.count()).where(
                    Lead.owner_id == current_user.id, Lead.status == LeadStatus.OPEN
                ),
                current_user,
                Lead,
            ).group_by(Lead.lead_class)
        ).all()
    )
    pool = db.session.scalar(
        access.scope(
            select(func.count())
            .select_from(Lead)
            .where(Lead.owner_id.is_(None), Lead.status == LeadStatus.OPEN),
            current_user,
            Lead,
        )
    )
    leads = db.session.scalars(
        mine.order_by(Lead.last_contact_at.asc().nulls_first()).limit(20)
    ).all()
    return render_template(
        "h5/home.html", by_class=by_class, labels=LEAD_CLASS_LABELS, pool=pool, leads=leads
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sandbox stand-in for WeChat OAuth: the phone picks the staff member."""
    sandbox = current_app.extensions["crm_settings"].sandbox_enabled
    errors = {}
    phone = (request.form.get("phone") or "").strip()
    if request.method == "POST" and sandbox:
        try:
            staff = find_staff_by_phone(db.session, phone)
            if staff is None or not staff.active:
                raise ValidationError("该手机号不是在职员工", "phone")
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            login_user(staff)
            return redirect(url_for("staff_h5.home"))
    status = 400 if errors else 200
    return render_template("h5/login.html", sandbox=sandbox, phone=phone, errors=errors), status
