"""Console: the outbox 发送队列 — every message with its state, the failed ones' reasons and a
re-send button, and tomorrow's calendar (issue 8; rules in ``crm.services.outbox_console``)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from crm import access, clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import CARE_CHANNEL_LABELS, OUTBOX_STATE_LABELS, Store
from crm.services import outbox_console
from crm.services.console_lists import listing
from crm.services.console_lists import outbox as outbox_list
from crm.views import downloads
from crm.views.forms import form_page, form_values, int_arg, local_target

bp = Blueprint("console_outbox", __name__, url_prefix="/console/outbox")
FILTER_FIELDS = ("kind", "state", "store", "day", "message")


@bp.app_template_filter("care_kind_label")
def care_kind_label(name: str) -> str:
    return outbox_console.kind_label(name)


@bp.get("")
@login_required
def index():
    access.require(current_user, "outbox.view")
    values = form_values(FILTER_FIELDS)
    errors: dict[str, str] = {}
    try:
        filters = outbox_console.parse_filters(values)
    except ValidationError as error:
        filters, errors = outbox_console.OutboxFilters(), {error.field: error.message}
    page, counts = None, []
    if not errors:
        query = outbox_console.list_query(current_user, filters)
        page = db.paginate(
            query, page=int_arg("page", 1), per_page=outbox_console.PER_PAGE, error_out=False
        )
        counts = outbox_console.counts(db.session, current_user, filters)
    stores = db.session.scalars(
        access.scope(select(Store).order_by(Store.code), current_user)
    ).all()
    return form_page(
        "console/outbox.html",
        errors,
        page=page,
        counts=counts,
        filters=filters,
        values=values,
        state_link=lambda state: _list_url(filters, state=state),
        store_options=[(store.id, store.name) for store in stores],
        store_names={store.id: store.name for store in stores},
        kind_options=outbox_console.kind_options(filters),
        state_options=[(state.value, label) for state, label in OUTBOX_STATE_LABELS.items()],
        channel_labels={channel.value: label for channel, label in CARE_CHANNEL_LABELS.items()},
        resendable={state.value for state in outbox_console.RESENDABLE},
        can_resend=access.allowed(current_user, "outbox.resend"),
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
        export_url=url_for("console_outbox.export", **filters.args()),
        tomorrow=outbox_console.tomorrow(db.session, current_user, clock.now()),
    )


@bp.get("/export.xlsx")
@login_required
def export():
    return downloads.list_export(
        outbox_list.SHEET.title,
        lambda: outbox_list.export(db.session, current_user, request.args, clock.now()),
        url_for("console_outbox.index", **request.args.to_dict()),
    )


def _list_url(filters: outbox_console.OutboxFilters, **changed: str) -> str:
    """The list with some filters changed ("" clears one), the others kept."""
    args = {**filters.args(), **changed}
    return url_for("console_outbox.index", **{k: v for k, v in args.items() if v})


@bp.post("/<int:message_id>/resend")
@login_required
def resend(message_id: int):
    try:
        message = outbox_console.resend(db.session, current_user, message_id, clock.now())
    except Conflict as error:
        flash(error.message, "error")
    else:
        flash(f"消息 #{message.id} 已重新排队，将立即发送")
    back = local_target(request.form.get("back"), prefix="/console/outbox")
    return redirect(back or url_for("console_outbox.index"))
