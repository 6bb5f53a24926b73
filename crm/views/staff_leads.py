"""Staff H5 pages of one lead or customer: the detail with its timeline, logging a follow-up
(which claims a pool lead), test drives, the class and archiving (PRODUCT "The customer
pool", "Lead classes and cadence").

Each view parses the form, calls one service and renders; a domain error is shown beside
its field and nothing is changed.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm import access, clock
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.extensions import db
from crm.models import (
    CHANNEL_LABELS,
    LEAD_CLASS_LABELS,
    LOST_REASON_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Channel,
    Lead,
    LeadClass,
    LeadStatus,
    TestDrive,
    TestDriveStatus,
)
from crm.services import deals, follow_ups, lead_classes, leads, test_drives, timeline
from crm.views import staff_h5
from crm.views.forms import form_page, form_values, local_datetime, local_input

bp = Blueprint("staff_leads", __name__, url_prefix="/h5")
bp.before_request(staff_h5.require_staff)

FOLLOW_UP_FIELDS = (
    "channel",
    "content",
    "concerns",
    "need_changes",
    "decision_factors",
    "next_step",
    "next_step_at",
    "purchase_timeframe",
    "lead_class",
    "class_reason",
    "shown_class",
)
RECORD_FIELDS = ("feelings", "model_of_interest", "trim_of_interest", "next_step", "next_step_at")


def _class_hint(lead_class: LeadClass) -> str:
    return f"系统建议：{LEAD_CLASS_LABELS[lead_class]}（{lead_classes.CADENCE_LABELS[lead_class]}）"


def _required_time(value: str, field: str, missing: str) -> datetime:
    instant = local_datetime(value, field)
    if instant is None:
        raise ValidationError(missing, field)
    return instant


def _visible_lead(lead_id: int) -> Lead | None:
    query = access.scope(select(Lead).where(Lead.id == lead_id), current_user)
    return db.session.scalar(query)


# --- the lead --------------------------------------------------------------------------------


@bp.get("/leads/<int:lead_id>")
def lead_detail(lead_id: int):
    lead, entries = timeline.for_lead(db.session, current_user, lead_id)
    drives = db.session.scalars(
        access.scope(
            select(TestDrive).where(
                TestDrive.lead_id == lead.id, TestDrive.status == TestDriveStatus.BOOKED
            ),
            current_user,
        ).order_by(TestDrive.scheduled_at)
    ).all()
    me, is_open = current_user, lead.status == LeadStatus.OPEN
    mine, owned = lead.owner_id == me.id, lead.owner_id is not None
    actions = {
        "claim": is_open and not owned and access.allowed(me, "lead.follow_up"),
        "follow_up": is_open and mine and access.allowed(me, "lead.follow_up"),
        "book": is_open and mine and access.allowed(me, "test_drive.book"),
        "reclassify": is_open and owned and access.allowed(me, "lead.reclassify"),
        "archive": is_open and owned and access.allowed(me, "lead.archive"),
        "deposit": is_open and mine and access.allowed(me, "deal.record"),
    }
    return render_template(
        "h5/lead.html",
        lead=lead,
        entries=entries,
        drives=drives,
        deals=deals.deals_of_lead(db.session, me, lead.id),
        actions=actions,
        mine=mine,
        now=clock.now(),
        cadence=lead_classes.CADENCE_LABELS[LeadClass(lead.lead_class)],
        timeframes=PURCHASE_TIMEFRAME_LABELS,
        statuses=staff_h5.STATUS_LABELS,
    )


@bp.route("/leads/<int:lead_id>/follow-up", methods=["GET", "POST"])
def follow_up(lead_id: int):
    """One screen, under 20 seconds: channel, what was said, the next step and its time; the
    class comes pre-set to the rules' suggestion. The first follow-up on a pool lead claims it."""
    now, errors = clock.now(), {}
    lead = _visible_lead(lead_id)
    if request.method == "POST":
        values = form_values(FOLLOW_UP_FIELDS)
        claiming = lead is not None and lead.owner_id is None
        try:
            chosen = "" if values["lead_class"] == values["shown_class"] else values["lead_class"]
            data = follow_ups.FollowUpInput(
                channel=values["channel"],
                content=values["content"],
                concerns=values["concerns"],
                need_changes=values["need_changes"],
                decision_factors=values["decision_factors"],
                next_step=values["next_step"],
                next_step_at=local_datetime(values["next_step_at"], "next_step_at"),
                purchase_timeframe=values["purchase_timeframe"],
                quoted=request.form.get("quoted") == "1",
                lead_class=chosen,
                class_reason=values["class_reason"],
            )
            follow_ups.log_follow_up(db.session, current_user, lead_id, data, now)
        except Conflict as error:
            page = render_template("h5/message.html", heading="未能认领", text=error.message)
            return page, 409
        except ValidationError as error:
            errors[error.field or "content"] = error.message
        else:
            flash("已认领，已记录跟进" if claiming else "已记录跟进")
            return redirect(url_for("staff_h5.home"))
    if lead is None:
        raise NotFound()
    if lead.status != LeadStatus.OPEN:
        flash("该线索已归档，不能继续跟进")
        return redirect(url_for("staff_leads.lead_detail", lead_id=lead.id))
    if lead.owner_id not in (None, current_user.id) or not access.allowed(
        current_user, "lead.follow_up"
    ):
        raise Forbidden("只有线索负责人可以记录跟进")
    if request.method == "GET":
        values = {name: "" for name in FOLLOW_UP_FIELDS}
        values.update(channel=Channel.PHONE.value, purchase_timeframe=lead.purchase_timeframe)
        quoted = lead.quoted
    else:
        quoted = request.form.get("quoted") == "1"
    timeframe = values["purchase_timeframe"]
    preview = follow_ups.FollowUpInput(
        channel=values["channel"],
        content="",
        purchase_timeframe=timeframe if timeframe in PURCHASE_TIMEFRAME_LABELS else None,
        quoted=quoted,
    )
    suggestion = follow_ups.suggested_class(db.session, lead, preview, now)
    if values["lead_class"] in ("", values["shown_class"]):
        values["lead_class"] = suggestion.value  # untouched: it follows the suggestion
    values["shown_class"] = suggestion.value
    return form_page(
        "h5/follow_up.html",
        errors,
        lead=lead,
        values=values,
        quoted=quoted,
        hint=_class_hint(suggestion),
        channels=CHANNEL_LABELS,
        classes=LEAD_CLASS_LABELS,
        timeframes=PURCHASE_TIMEFRAME_LABELS,
    )


@bp.route("/leads/<int:lead_id>/class", methods=["GET", "POST"])
def lead_class(lead_id: int):
    lead = access.get_or_404(Lead, lead_id, current_user, "lead.reclassify")
    now, errors = clock.now(), {}
    values = form_values(("lead_class", "class_reason"))
    if request.method == "GET":
        values["lead_class"] = lead.lead_class
    else:
        try:
            lead = leads.reclassify(
                db.session, current_user, lead_id, values["lead_class"], values["class_reason"], now
            )
        except ValidationError as error:
            errors[error.field or "lead_class"] = error.message
        else:
            flash(f"级别已调整为：{lead.class_label}")
            return redirect(url_for("staff_leads.lead_detail", lead_id=lead.id))
    suggestion = lead_classes.suggest(leads.evidence(db.session, lead), now)
    return form_page(
        "h5/lead_class.html",
        errors,
        lead=lead,
        values=values,
        hint=_class_hint(suggestion),
        classes=LEAD_CLASS_LABELS,
        cadences=lead_classes.CADENCE_LABELS,
    )


@bp.route("/leads/<int:lead_id>/archive", methods=["GET", "POST"])
def archive(lead_id: int):
    """Lost or archived, with a reason: the lead leaves my leads for the dormant pool."""
    lead = access.get_or_404(Lead, lead_id, current_user, "lead.archive")
    values, errors = form_values(("reason", "note")), {}
    if request.method == "POST":
        try:
            if request.form.get("confirm") != "1":
                raise ValidationError("请勾选确认后再归档", "confirm")
            lead = leads.archive(
                db.session, current_user, lead_id, values["reason"], values["note"], clock.now()
            )
        except ValidationError as error:
            errors[error.field or "reason"] = error.message
        else:
            flash(f"已战败归档：{lead.name}（{lead.lost_reason_label}），线索进入休眠池")
            return redirect(url_for("staff_h5.leads_page"))
    return form_page(
        "h5/archive.html", errors, lead=lead, values=values, reasons=LOST_REASON_LABELS
    )


# --- test drives -----------------------------------------------------------------------------


@bp.route("/leads/<int:lead_id>/test-drives/new", methods=["GET", "POST"])
def test_drive_new(lead_id: int):
    """Book a time and a car: the drive enters the salesperson's plan (the work-bench)."""
    lead = access.get_or_404(Lead, lead_id, current_user, "test_drive.book")
    now, errors = clock.now(), {}
    values = form_values(("scheduled_at", "car"))
    if request.method == "GET":
        values["car"] = lead.model_of_interest
    else:
        try:
            when = _required_time(values["scheduled_at"], "scheduled_at", "请选择试驾时间")
            drive = test_drives.book(db.session, current_user, lead_id, when, values["car"], now)
        except ValidationError as error:
            errors[error.field or "scheduled_at"] = error.message
        else:
            flash(f"已预约试驾：{clock.local(drive.scheduled_at):%m-%d %H:%M} {drive.car}")
            return redirect(url_for("staff_leads.lead_detail", lead_id=lead_id))
    return form_page(
        "h5/test_drive_form.html",
        errors,
        lead=lead,
        values=values,
        models=staff_h5.model_names(),
        earliest=local_input(now),
    )


@bp.post("/test-drives/<int:drive_id>/cancel")
def test_drive_cancel(drive_id: int):
    try:
        drive = test_drives.cancel(db.session, current_user, drive_id)
    except ValidationError as error:
        drive = access.get_or_404(TestDrive, drive_id, current_user)
        flash(error.message)
    else:
        flash(f"已取消试驾：{clock.local(drive.scheduled_at):%m-%d %H:%M} {drive.car}")
    return redirect(url_for("staff_leads.lead_detail", lead_id=drive.lead_id))


@bp.route("/test-drives/<int:drive_id>/record", methods=["GET", "POST"])
def test_drive_record(drive_id: int):
    """How the drive went: feelings, the model and trim now wanted, and the next step."""
    drive = access.get_or_404(TestDrive, drive_id, current_user, "test_drive.book")
    errors = {}
    values = form_values(RECORD_FIELDS)
    if request.method == "GET":
        if drive.status != TestDriveStatus.BOOKED:
            flash("该试驾已处理")
            return redirect(url_for("staff_leads.lead_detail", lead_id=drive.lead_id))
        values["model_of_interest"] = drive.lead.model_of_interest
    else:
        try:
            data = test_drives.DriveRecord(
                feelings=values["feelings"],
                model_of_interest=values["model_of_interest"],
                trim_of_interest=values["trim_of_interest"],
                next_step=values["next_step"],
                next_step_at=local_datetime(values["next_step_at"], "next_step_at"),
            )
            test_drives.record(db.session, current_user, drive_id, data, clock.now())
        except ValidationError as error:
            errors[error.field or "feelings"] = error.message
        else:
            flash("已记录试驾")
            return redirect(url_for("staff_leads.lead_detail", lead_id=drive.lead_id))
    return form_page(
        "h5/test_drive_record.html",
        errors,
        drive=drive,
        values=values,
        models=staff_h5.model_names(),
    )


# --- customers -------------------------------------------------------------------------------


@bp.get("/customers/<int:customer_id>")
def customer_detail(customer_id: int):
    customer, entries = timeline.for_customer(db.session, current_user, customer_id)
    return render_template(
        "h5/customer.html",
        customer=customer,
        entries=entries,
        mine=customer.sales_owner_id == current_user.id,
    )
