"""Console: customer segments 客户分群 — the list with its filters and counts, the Excel export,
and the group's thresholds (PRODUCT "Segments"; rules in ``crm.services.segments``, lists and
export in ``crm.services.segment_lists``)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import Store
from crm.services import segment_lists, segments
from crm.views import downloads
from crm.views.forms import form_page, form_values, int_arg

bp = Blueprint("console_segments", __name__, url_prefix="/console/segments")
PER_PAGE = 20
FILTER_FIELDS = ("store", *(dimension.name for dimension in segment_lists.DIMENSIONS))


@bp.app_template_filter("segment_labels")
def segment_labels(segment) -> list[tuple[str, str]]:
    """A customer's segment as (title, label) pairs, for the customer pages."""
    return segment_lists.describe(segment)


@bp.get("")
@login_required
def index():
    values = form_values(FILTER_FIELDS)
    try:
        filters = segment_lists.parse_filters(values)
    except ValidationError as error:
        return _list_page(values, segment_lists.SegmentFilters(), {error.field: error.message})
    return _list_page(values, filters, {})


def _list_page(values: dict, filters: segment_lists.SegmentFilters, errors: dict):
    page, counts = None, {}
    if not errors:
        query = segment_lists.segment_query(current_user, filters)
        page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
        counts = segment_lists.counts(db.session, current_user, filters)
    stores = db.session.scalars(
        access.scope(select(Store).order_by(Store.code), current_user)
    ).all()
    return form_page(
        "console/segments.html",
        errors,
        page=page,
        counts=counts,
        dimensions=segment_lists.DIMENSIONS,
        filters=filters,
        link=lambda name, value: _list_url(filters, name, value),
        export_url=url_for("console_segments.export", **filters.args()),
        values=values,
        store_options=[(store.id, store.name) for store in stores],
        computed_on=segment_lists.computed_on(db.session, current_user),
        can_export=access.allowed(current_user, "segment.export"),
        can_configure=access.allowed(current_user, "segment.configure"),
        labels={
            "car_age": segment_lists.CAR_AGE_LABELS,
            "usage": segment_lists.USAGE_LABELS,
            "value_class": segment_lists.VALUE_CLASS_LABELS,
            "rfm": segment_lists.RFM_LABELS,
        },
    )


def _list_url(filters: segment_lists.SegmentFilters, name: str, value: str) -> str:
    """The list with one filter set to ``value`` ("" clears it), the others kept."""
    args = {**filters.args(), name: value}
    return url_for("console_segments.index", **{k: v for k, v in args.items() if v})


@bp.get("/export.xlsx")
@login_required
def export():
    access.require(current_user, "segment.export")
    filters = segment_lists.parse_filters(form_values(FILTER_FIELDS))
    content, _count = segment_lists.export(db.session, current_user, filters)
    return downloads.xlsx(content, f"客户分群_{clock.today():%Y%m%d}.xlsx")


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    access.require(current_user, "segment.configure")
    fields = tuple(setting.field for setting in segments.SETTINGS)
    errors = {}
    if request.method == "POST":
        values = form_values(fields)
        try:
            segments.update_settings(db.session, current_user, values, clock.now())
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash("分群阈值已保存，全集团客户已按新阈值重新分群")
            return redirect(url_for("console_segments.settings"))
    else:
        thresholds = segments.read_settings(db.session, current_user.group_id)
        values = segments.settings_form_values(thresholds)
    defaults = segments.settings_form_values(segments.DEFAULTS)
    return form_page(
        "console/segments_settings.html",
        errors,
        values=values,
        defaults=defaults,
        settings=segments.SETTINGS,
    )


@bp.post("/recompute")
@login_required
def recompute():
    count = segments.recompute_group(db.session, current_user, clock.now())
    flash(f"已重新计算 {count} 位客户的分群")
    return redirect(url_for("console_segments.index"))
