"""Staff H5 pages of a deal: deposit, full payment, delivery and cancelling (PRODUCT "Deal and
handover"). Thin views: each parses the form, calls one service and renders; a domain error
shows beside its field and changes nothing."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import (
    LEAD_CLASS_LABELS,
    VEHICLE_USAGE_LABELS,
    Deal,
    Lead,
    LeadClass,
)
from crm.services import catalogue, deals, delivery
from crm.views import staff_h5
from crm.views.forms import form_page, form_values, local_date, whole_number

bp = Blueprint("staff_deals", __name__, url_prefix="/h5")
bp.before_request(staff_h5.require_staff)

DEPOSIT_FIELDS = ("model", "trim", "deposit", "deposit_on")
PAYMENT_FIELDS = ("paid", "paid_on")
CANCEL_FIELDS = ("reason", "lead_class")
DATE_FIELDS = (
    "delivered_on",
    "birthday",
    "licence_expiry",
    "purchase_date",
    "first_maintenance_date",
    "compulsory_insurance_expiry",
    "commercial_insurance_expiry",
    "inspection_due",
)
NUMBER_FIELDS = ("mileage_km", "first_maintenance_km")
TEXT_FIELDS = (
    "name",
    "id_number",
    "licence_no",
    "licence_class",
    "gender",
    "occupation",
    "address",
    "city",
    "hobbies",
    "employer",
    "vin",
    "plate",
    "engine_no",
    "transmission_no",
    "colour",
    "usage",
)
CANCEL_CLASSES = [(c.value, LEAD_CLASS_LABELS[c]) for c in deals.CANCEL_CLASSES]


def _deal(deal_id: int) -> Deal:
    return access.get_or_404(Deal, deal_id, current_user)


@bp.get("/deals/<int:deal_id>")
def deal_detail(deal_id: int):
    deal = _deal(deal_id)
    mine = deal.salesperson_id == current_user.id
    return render_template(
        "h5/deal.html",
        deal=deal,
        mine=mine,
        can_cancel=deal.open and access.allowed(current_user, "deal.cancel"),
    )


@bp.route("/leads/<int:lead_id>/deposit", methods=["GET", "POST"])
def deposit(lead_id: int):
    lead = access.get_or_404(Lead, lead_id, current_user, "deal.record")
    errors: dict[str, str] = {}
    values = form_values(DEPOSIT_FIELDS)
    if request.method == "POST":
        try:
            data = deals.DepositInput(
                model=values["model"],
                trim=values["trim"],
                deposit_yuan=values["deposit"],
                deposit_on=local_date(values["deposit_on"], "deposit_on"),
            )
            deal = deals.take_deposit(db.session, current_user, lead.id, data, clock.now())
        except ValidationError as error:
            errors[error.field or "deposit"] = error.message
        else:
            flash("已记录定金")
            return redirect(url_for("staff_deals.deal_detail", deal_id=deal.id))
    else:
        values.update(model=lead.model_of_interest, trim=lead.trim_of_interest)
        values["deposit_on"] = clock.today().isoformat()
    models = sorted(catalogue.active_model_names(db.session, current_user.group_id))
    return form_page("h5/deposit_form.html", errors, lead=lead, values=values, models=models)


@bp.route("/deals/<int:deal_id>/payment", methods=["GET", "POST"])
def payment(deal_id: int):
    deal = _deal(deal_id)
    errors: dict[str, str] = {}
    values = form_values(PAYMENT_FIELDS)
    if request.method == "POST":
        try:
            paid_on = local_date(values["paid_on"], "paid_on")
            deals.record_payment(
                db.session, current_user, deal.id, values["paid"], paid_on, clock.now()
            )
        except ValidationError as error:
            errors[error.field or "paid"] = error.message
        else:
            flash("已记录全款")
            return redirect(url_for("staff_deals.deal_detail", deal_id=deal.id))
    else:
        values["paid_on"] = clock.today().isoformat()
    return form_page("h5/payment_form.html", errors, deal=deal, values=values)


def _delivery_input(values: dict[str, str]) -> delivery.DeliveryInput:
    dates = {name: local_date(values[name], name) for name in DATE_FIELDS}
    numbers = {name: whole_number(values[name], name) for name in NUMBER_FIELDS}
    texts = {name: values[name] for name in TEXT_FIELDS}
    return delivery.DeliveryInput(
        consent=request.form.get("consent") == "1",
        **dates,
        **texts,
        **numbers,
    )


@bp.route("/deals/<int:deal_id>/delivery", methods=["GET", "POST"])
def deliver(deal_id: int):
    """The delivery on one long form: the customer and licence, the vehicle archive, then the
    insurance and inspection dates if known."""
    deal = _deal(deal_id)
    errors: dict[str, str] = {}
    values = form_values(TEXT_FIELDS + DATE_FIELDS + NUMBER_FIELDS)
    if request.method == "POST":
        try:
            delivery.deliver(
                db.session, current_user, deal.id, _delivery_input(values), clock.now()
            )
        except ValidationError as error:
            errors[error.field or "status"] = error.message
        else:
            flash("已交车：车辆档案、保养计划和会员卡已生成")
            return redirect(url_for("staff_deals.deal_detail", deal_id=deal.id))
    else:
        values.update(name=deal.lead.name, delivered_on=clock.today().isoformat(), mileage_km="0")
        values["usage"] = "private"
    return form_page(
        "h5/delivery_form.html",
        errors,
        deal=deal,
        values=values,
        consent=request.form.get("consent") == "1",
        usages=list(VEHICLE_USAGE_LABELS.items()),
        licence_classes=[(c, c) for c in delivery.LICENCE_CLASSES],
    )


@bp.route("/deals/<int:deal_id>/cancel", methods=["GET", "POST"])
def cancel(deal_id: int):
    deal = _deal(deal_id)
    errors: dict[str, str] = {}
    values = form_values(CANCEL_FIELDS)
    if request.method == "POST":
        try:
            deals.cancel(
                db.session,
                current_user,
                deal.id,
                values["reason"],
                values["lead_class"],
                clock.now(),
            )
        except ValidationError as error:
            errors[error.field or "reason"] = error.message
        else:
            flash("订单已取消，线索回到您的跟进列表")
            return redirect(url_for("staff_leads.lead_detail", lead_id=deal.lead_id))
    else:
        values["lead_class"] = LeadClass.KEY.value
    return form_page(
        "h5/deal_cancel.html", errors, deal=deal, values=values, classes=CANCEL_CLASSES
    )
