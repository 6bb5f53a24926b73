"""Console: handing delivered customers to after-sales advisors (store admin), and the
membership programme (group admin) — PRODUCT "Deal and handover", "Membership"."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import Group
from crm.services import handover, membership
from crm.views.forms import form_page, local_target

bp = Blueprint("console_aftersales", __name__, url_prefix="/console")


@bp.get("/handovers")
@login_required
def handovers():
    access.require(current_user, "advisor.assign")
    deals = handover.awaiting_advisor(db.session, current_user)
    store_ids = {deal.store_id for deal in deals}
    advisors = {sid: handover.advisors_of_store(db.session, sid) for sid in store_ids}
    return form_page("console/handovers.html", {}, deals=deals, advisors=advisors, now=clock.now())


@bp.post("/customers/<int:customer_id>/advisor")
@login_required
def assign_advisor(customer_id: int):
    raw = request.form.get("advisor", "")
    try:
        advisor_id = int(raw) if raw.isdigit() else None
        customer = handover.assign_advisor(
            db.session, current_user, customer_id, advisor_id, clock.now()
        )
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash(f"已为{customer.name}分配服务顾问{customer.advisor.name}")
    back = local_target(request.form.get("back"))
    return redirect(back or url_for("console_aftersales.handovers"))


def _tier_entries(tiers) -> list[membership.TierInput]:
    return [
        membership.TierInput(
            code=tier.code,
            name=request.form.get(f"{tier.code}.name", ""),
            threshold_yuan=request.form.get(f"{tier.code}.threshold", ""),
            benefits=request.form.get(f"{tier.code}.benefits", ""),
        )
        for tier in tiers
    ]


@bp.route("/membership", methods=["GET", "POST"])
@login_required
def membership_settings():
    access.require(current_user, "membership.configure")
    tiers = membership.tiers(db.session, current_user.group_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        window = request.form.get("window_months", "")
        try:
            membership.configure(
                db.session, current_user, _tier_entries(tiers), window, clock.now()
            )
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash("会员等级已保存，全部会员卡已按新规则重新计算")
            return redirect(url_for("console_aftersales.membership_settings"))
    values = request.form if request.method == "POST" else {}
    return form_page(
        "console/membership.html",
        errors,
        tiers=tiers,
        values=values,
        window=db.session.get(Group, current_user.group_id).tier_window_months,
    )
