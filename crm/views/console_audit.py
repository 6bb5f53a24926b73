"""Console: the audit log (issue 10 "Console pages": who viewed or exported which customer
data, who changed what). The rules are in ``crm.services.audit_log``."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user, login_required

from crm.extensions import db
from crm.services import audit_log
from crm.views.forms import form_page, int_arg

bp = Blueprint("console_audit", __name__, url_prefix="/console/audit")


@bp.get("")
@login_required
def index():
    view = audit_log.open_page(db.session, current_user, request.args)
    page = db.paginate(
        view.query, page=int_arg("page", 1), per_page=audit_log.PER_PAGE, error_out=False
    )
    return form_page(
        "console/audit.html",
        view.errors,
        view=view,
        page=page,
        values=request.args.to_dict(),
        labels=audit_log.ACTION_LABELS,
        describe=audit_log.describe,
    )
