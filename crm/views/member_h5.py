"""Member pages for customers (WeUI): the member home with its grid of entries, the member
card with the QR code the advisor scans at the desk (issue 9 "Member card"), and the log-in
(WeChat OAuth, or the sandbox log-in by phone in embedded mode)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, session, url_for

from crm import web_security
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import Customer
from crm.services import auth, member_home, membership
from crm.services.identity import find_customer_by_phone
from crm.views import wechat_oauth
from crm.views.invitations import qr_svg

bp = Blueprint("member_h5", __name__, url_prefix="/m")
SESSION_KEY = "customer_id"
EPOCH_KEY = "customer_epoch"


def _current_customer() -> Customer | None:
    customer_id = session.get(SESSION_KEY)
    customer = db.session.get(Customer, customer_id) if customer_id else None
    # An erased customer (PIPL, crm.services.erasure) is logged out for good; a cookie from
    # before a log-out (an older epoch) is refused.
    if customer is None or customer.erased_at is not None:
        return None
    return customer if session.get(EPOCH_KEY) == customer.session_epoch else None


def require_customer():
    """Before every member page: a customer logged into the member pages, else the log-in."""
    if _current_customer() is None:
        return redirect(url_for("member_h5.login"))
    return None


@bp.get("/")
def home():
    customer = _current_customer()
    if customer is None:
        return redirect(url_for("member_h5.login"))
    return render_template("member/home.html", page=member_home.home(db.session, customer))


@bp.get("/card")
def card():
    """The member card: tier, number and its QR code (which opens the card holder's page for
    staff), spend, benefits and the gap to the next tier."""
    customer = _current_customer()
    if customer is None:
        return redirect(url_for("member_h5.login"))
    view = membership.card_view(db.session, customer)
    qr = None
    if view is not None:
        base = current_app.extensions["crm_settings"].public_base_url
        qr = qr_svg(base + url_for("staff_member_cards.open_card", card_no=view.card_no))
    return render_template("member/card.html", customer=customer, card=view, qr=qr)


def _member(db_session, phone):
    customer = find_customer_by_phone(db_session, phone)
    if customer is None:
        raise ValidationError("没有找到该手机号的会员", "phone")
    return customer


def _enter(person):
    if not isinstance(person, Customer):
        return render_template(
            "h5/message.html", heading="会员中心", text="该微信绑定的是员工身份，请进入员工工作台"
        ), 403
    # The OAuth code stays marked as used, so a refresh of the return URL cannot replay it.
    web_security.begin_login_session(wechat_oauth.USED_CODE_KEY)
    session[SESSION_KEY] = person.id
    session[EPOCH_KEY] = person.session_epoch
    return redirect(url_for("member_h5.home"))


@bp.get("/oauth")
def oauth_return():
    return wechat_oauth.finish("member_h5.oauth_return", "member_h5.home", _enter, "会员中心")


@bp.route("/login", methods=["GET", "POST"])
def login():
    return wechat_oauth.login(
        "member_h5.oauth_return",
        people="customers",
        find_person=_member,
        enter=_enter,
        heading="会员中心",
        placeholder="购车时登记的手机号",
        button="进入会员中心",
        menu_entry="会员中心",
    )


@bp.post("/logout")
def logout():
    customer = _current_customer()
    if customer is not None:
        auth.end_all_sessions(db.session, customer)
    web_security.end_session()
    return redirect(url_for("member_h5.login"))
