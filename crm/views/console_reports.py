"""Console: reports (issue 10 "Reports") — the monthly sales funnel (group-wide, per store, per
salesperson, a 12-month trend) and the KPI dashboard with a drill-down to the rows behind
each figure.

Counting lives in ``crm.services.reports``; the pages are for store admins, the group admin and
supervisors (``report.view``), each over their own scope.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from crm import clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.services.reports import funnel, kpis, periods, scope
from crm.views.forms import form_values, int_arg

bp = Blueprint("console_reports", __name__, url_prefix="/console/reports")
FILTER_FIELDS = ("month", "store", "salesperson")


def _filters(now):
    """The month, store and salesperson filters; a bad value is shown beside its field and
    the report falls back to the whole scope for the current month."""
    values, errors = form_values(FILTER_FIELDS), {}
    try:
        month = periods.parse(values["month"], now)
    except ValidationError as error:
        errors[error.field] = error.message
        month = periods.current(now)
    values["month"] = month.key
    try:
        filters = scope.parse_filters(
            db.session, current_user, values["store"], values["salesperson"]
        )
    except ValidationError as error:
        errors[error.field] = error.message
        filters = scope.EVERYTHING
        values["store"] = values["salesperson"] = ""
    options = dict(
        store_options=[(s.id, s.name) for s in scope.stores(db.session, current_user)],
        salesperson_options=[
            (p.id, p.name + ("（已离职）" if not p.active else ""))
            for p in scope.salespeople(db.session, current_user, filters)
        ],
    )
    return month, filters, values, errors, options


def _render(template: str, errors: dict, **context):
    return render_template(template, errors=errors, **context), 400 if errors else 200


@bp.get("/funnel")
@login_required
def funnel_page():
    now = clock.now()
    month, filters, values, errors, options = _filters(now)
    args = dict(month_start=month.first, now=now, filters=filters)
    stores = funnel.group_funnel(db.session, current_user, **args)
    people = funnel.salesperson_funnel(db.session, current_user, **args)
    trend = funnel.funnel_trend(db.session, current_user, **args)
    return _render(
        "console/reports/funnel.html",
        errors,
        month=month,
        values=values,
        stores=stores,
        people=people,
        total=funnel.total(stores),
        trend=trend,
        **options,
    )


@bp.get("/kpis")
@login_required
def kpis_page():
    now = clock.now()
    month, filters, values, errors, options = _filters(now)
    args = dict(month_start=month.first, now=now, filters=filters)
    figures = kpis.dashboard(db.session, current_user, **args)
    trend = funnel.funnel_trend(db.session, current_user, **args)
    return _render(
        "console/reports/kpis.html",
        errors,
        month=month,
        values=values,
        figures=figures,
        trend=trend,
        **options,
    )


@bp.get("/kpis/<key>")
@login_required
def kpi_rows(key: str):
    now = clock.now()
    month, filters, values, errors, options = _filters(now)
    page = int_arg("page", 1)
    spec, rows, total = kpis.drill_down(
        db.session, current_user, key, month_start=month.first, now=now, filters=filters, page=page
    )
    pages = max(1, -(-total // kpis.PER_PAGE))
    return _render(
        "console/reports/kpi_rows.html",
        errors,
        month=month,
        values=values,
        spec=spec,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        **options,
    )
