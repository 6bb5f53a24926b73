"""Member pages for surveys (issue 9 "Surveys"): the open surveys, and one survey's answer
page — a 1–5 score (CS) or 0–10 (NPS) and a comment; the answer given on a later visit; 已过期
for an expired one. Rules in ``crm.services.surveys``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for

from crm import clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import Customer
from crm.services import surveys
from crm.views import member_h5
from crm.views.forms import form_page, form_values

bp = Blueprint("member_surveys", __name__, url_prefix="/m/surveys")
FIELDS = ("score", "comment")


@bp.before_request
def require_customer():
    """Every page needs a customer logged into the member pages."""
    if member_h5._current_customer() is None:
        return redirect(url_for("member_h5.login"))
    return None


@bp.app_template_global("open_survey_count")
def open_survey_count(customer: Customer) -> int:
    """How many surveys wait for the customer's answer (the member home's link)."""
    return len(surveys.open_surveys(db.session, customer, clock.now()))


@bp.get("/")
def index():
    customer = member_h5._current_customer()
    pages = surveys.open_surveys(db.session, customer, clock.now())
    return form_page("member/surveys.html", {}, pages=pages)


@bp.get("/<int:survey_id>")
def show(survey_id: int):
    customer = member_h5._current_customer()
    page = surveys.survey_page(db.session, customer, survey_id, clock.now())
    return form_page("member/survey.html", {}, page=page, values={})


@bp.post("/<int:survey_id>")
def submit(survey_id: int):
    customer, now = member_h5._current_customer(), clock.now()
    values = form_values(FIELDS)
    try:
        result = surveys.answer(
            db.session, customer, survey_id, values["score"], values["comment"], now
        )
    except (ValidationError, Conflict) as error:
        page = surveys.survey_page(db.session, customer, survey_id, now)
        status = 409 if isinstance(error, Conflict) else 400
        errors = {error.field or "score": error.message}
        return form_page("member/survey.html", errors, status, page=page, values=values)
    if result.recorded:
        flash("提交成功，感谢您的评价！")
    return redirect(url_for("member_surveys.show", survey_id=survey_id))
