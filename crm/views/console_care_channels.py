"""Console: care channels 关怀渠道 per group, with the live preview of what WeChat will show, and
a customer's care opt-outs 关怀订阅 (issue 8; rules in ``crm.services.care_channels`` and
``crm.services.care_opt_outs``)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from crm import access, clock
from crm.errors import ValidationError
from crm.extensions import db
from crm.models import CARE_CHANNEL_LABELS, CareChannel
from crm.services import care_channels, care_opt_outs
from crm.services.care.kinds import CareKind
from crm.views.forms import form_page, form_values

bp = Blueprint("console_care_channels", __name__, url_prefix="/console")
FIELDS = ("channel", "template_id", "field_map", "page")
SAMPLE_PREFIX = "sample_"


@bp.get("/care-channels")
@login_required
def index():
    access.require(current_user, "care.configure")
    kinds = care_channels.status_for_group(db.session, current_user.group_id)
    return render_template(
        "console/care_channels.html",
        kinds=list(kinds.values()),
        not_configured=care_channels.NOT_CONFIGURED,
    )


@bp.route("/care-channels/<kind_name>", methods=["GET", "POST"])
@login_required
def edit(kind_name: str):
    kind, config = care_channels.current(db.session, current_user, kind_name)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = form_values(FIELDS)
        try:
            care_channels.configure(db.session, current_user, kind.name, values, clock.now())
        except ValidationError as error:
            errors[error.field] = error.message
        else:
            flash(f"已保存“{kind.label}”的发送渠道")
            return redirect(url_for("console_care_channels.index"))
    else:
        values = care_channels.form_values(kind, config)
    sample = _sample(kind)
    return form_page(
        "console/care_channel_form.html",
        errors,
        kind=kind,
        values=values,
        sample=sample,
        channel_options=[(channel.value, label) for channel, label in CARE_CHANNEL_LABELS.items()],
        preview_url=url_for("console_care_channels.preview", kind_name=kind.name),
        **_preview_context(kind, values, sample),
    )


@bp.get("/care-channels/<kind_name>/preview")
@login_required
def preview(kind_name: str):
    """The preview box alone, for the form's script to refresh as the admin types."""
    kind, _config = care_channels.current(db.session, current_user, kind_name)
    values = form_values(FIELDS)
    return render_template(
        "console/care_channel_preview.html",
        kind=kind,
        **_preview_context(kind, values, _sample(kind)),
    )


def _sample(kind: CareKind) -> dict[str, str]:
    """The sample customer's values, as the admin edited them on the form (else the kind's)."""
    source = request.form if request.method == "POST" else request.args
    return {
        name: source.get(f"{SAMPLE_PREFIX}{name}", kind.sample.get(name, ""))
        for name in kind.fields
    }


def _preview_context(kind: CareKind, values: dict[str, str], sample: dict[str, str]) -> dict:
    lines, error = care_channels.preview_of_form(kind, values.get("field_map", ""), sample)
    channel = values.get("channel", "")
    return {
        "lines": lines,
        "preview_error": error,
        "preview_channel": channel,
        "personal_text": kind.personal_text(sample) if channel == CareChannel.PERSONAL else "",
        "page_path": values.get("page") or kind.page,
    }


# --- a customer's opt-outs -------------------------------------------------------------------


@bp.post("/customers/<int:customer_id>/care-opt-outs")
@login_required
def customer_opt_outs(customer_id: int):
    try:
        care_opt_outs.set_opt_outs(
            db.session, current_user, customer_id, request.form.getlist("kinds"), clock.now()
        )
    except ValidationError as error:
        flash(error.message, "error")
    else:
        flash("关怀订阅已保存")
    return redirect(url_for("console.customer_detail", customer_id=customer_id))
