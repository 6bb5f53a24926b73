"""Staff H5 pages (WeUI, phone-sized). Until WeChat OAuth lands, staff enter through the
sandbox log-in (embedded mode only)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_user, logout_user

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import LEAD_CLASS_LABELS, Staff
from crm.services import workbench
from crm.services.identity import find_staff_by_phone
from crm.views import invitations, wechat_oauth

bp = Blueprint("staff_h5", __name__, url_prefix="/h5")


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("staff_h5.login"))
    bench = workbench.summary(db.session, current_user, clock.now())
    return render_template("h5/home.html", bench=bench, labels=LEAD_CLASS_LABELS)


@bp.post("/customers/<int:customer_id>/binding-qr")
def customer_binding_qr(customer_id: int):
    """Shown on the salesperson's phone at delivery: the customer scans it to become a member."""
    if not current_user.is_authenticated:
        return redirect(url_for("staff_h5.login"))
    return invitations.show_new_invitation("h5/binding_qr.html", customer_id=customer_id)


def _active_staff(session, phone):
    staff = find_staff_by_phone(session, phone)
    if staff is None or not staff.active:
        raise ValidationError("该手机号不是在职员工", "phone")
    return staff


def _enter(person):
    if not isinstance(person, Staff):
        return render_template(
            "h5/message.html", heading="员工工作台", text="该微信绑定的是会员身份，请进入会员中心"
        ), 403
    login_user(person)
    return redirect(url_for("staff_h5.home"))


@bp.post("/logout")
def logout():
    logout_user()
    return redirect(url_for("staff_h5.login"))


@bp.get("/oauth")
def oauth_return():
    return wechat_oauth.finish("staff_h5.oauth_return", "staff_h5.home", _enter, "员工工作台")


@bp.route("/login", methods=["GET", "POST"])
def login():
    return wechat_oauth.login(
        "staff_h5.oauth_return",
        people="staff",
        find_person=_active_staff,
        enter=_enter,
        heading="员工工作台",
        placeholder="员工登记的手机号",
        button="进入工作台",
        menu_entry="员工工作台",
    )
