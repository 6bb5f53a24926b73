"""Console: the car models the group sells (group admin). Leads and imports pick from it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.services import catalogue
from crm.views.forms import form_page, form_values

bp = Blueprint("console_catalogue", __name__, url_prefix="/console/car-models")


@bp.route("", methods=["GET", "POST"])
@login_required
def car_models():
    access.require(current_user, "catalogue.edit")
    values, errors = form_values(("name",)), {}
    if request.method == "POST":
        try:
            model = catalogue.add_model(db.session, current_user, values["name"], clock.now())
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash(f"已添加车型：{model.name}")
            return redirect(url_for("console_catalogue.car_models"))
    models = catalogue.list_models(db.session, current_user)
    return form_page(
        "console/car_models.html",
        errors,
        models=models,
        values=values,
        schedule_fields=catalogue.SCHEDULE_FIELDS,
    )


@bp.post("/<int:model_id>/active")
@login_required
def car_model_active(model_id: int):
    active = request.form.get("active") == "1"
    model = catalogue.set_model_active(db.session, current_user, model_id, active)
    flash(f"车型“{model.name}”已{'恢复在售' if active else '停售'}")
    return redirect(url_for("console_catalogue.car_models"))


@bp.post("/<int:model_id>/schedule")
@login_required
def car_model_schedule(model_id: int):
    values = form_values(tuple(catalogue.SCHEDULE_FIELDS))
    try:
        model = catalogue.set_schedule(db.session, current_user, model_id, values)
    except ValidationError as error:
        flash(f"未保存：{error.message}", "error")
    else:
        flash(f"已保存“{model.name}”的保养周期和质保期")
    return redirect(url_for("console_catalogue.car_models"))
