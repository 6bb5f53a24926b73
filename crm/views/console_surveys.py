"""Console: survey results 满意度与NPS (issue 9 "Surveys") — per store for a quarter, NPS with
its promoters, passives and detractors, the CS average and the answer rates; below, the low
scores with the state of their callback tasks. Rules in ``crm.services.nps``."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import Store
from crm.services import nps, surveys
from crm.services.console_lists import listing
from crm.services.console_lists import surveys as survey_list
from crm.views import downloads
from crm.views.forms import form_page, form_values, int_arg

bp = Blueprint("console_surveys", __name__, url_prefix="/console/surveys")
FILTER_FIELDS = ("period", "store")


def _store_arg(raw: str, options: dict[int, str]) -> int | None:
    if not raw:
        return None
    if not raw.isdecimal() or int(raw) not in options:
        raise ValidationError("请选择有效的分店", "store")
    return int(raw)


@bp.get("")
@login_required
def index():
    access.require(current_user, "survey.view")
    now = clock.now()
    values = form_values(FILTER_FIELDS)
    stores = db.session.scalars(
        access.scope(select(Store).order_by(Store.code), current_user)
    ).all()
    store_names = {store.id: store.name for store in stores}
    errors: dict[str, str] = {}
    period, store_id = nps.current_period(now), None
    try:
        period = nps.parse_period(values["period"], now)
        store_id = _store_arg(values["store"], store_names)
    except ValidationError as error:
        errors[error.field] = error.message
    result = nps.figures(db.session, current_user, period, store_id)
    page = db.paginate(
        nps.low_scores_query(current_user, period, store_id),
        page=int_arg("page", 1),
        per_page=nps.PER_PAGE,
        error_out=False,
    )
    return form_page(
        "console/surveys.html",
        errors,
        figures=result,
        page=page,
        values={**values, "period": period},
        period_label=surveys.period_label(period),
        store_options=list(store_names.items()),
        previous_url=_url(surveys.previous_period(period), store_id),
        next_url=_url(surveys.next_period(period), store_id),
        small_sample=nps.SMALL_SAMPLE,
        is_low=surveys.is_low,
        now=now,
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
        export_url=url_for("console_surveys.export", period=period, store=store_id or None),
    )


@bp.get("/export.xlsx")
@login_required
def export():
    return downloads.list_export(
        survey_list.SHEET.title,
        lambda: survey_list.export(db.session, current_user, request.args, clock.now()),
        url_for("console_surveys.index", **request.args.to_dict()),
    )


def _url(period: str, store_id: int | None) -> str:
    return url_for("console_surveys.index", period=period, store=store_id or None)
