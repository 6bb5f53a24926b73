"""Console: the audit log (issue 10 "Console pages": who viewed or exported which customer
data, who changed what). The rules are in ``crm.services.audit_log``."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required

from crm import access, clock
from crm.extensions import db
from crm.services import audit_log
from crm.services.console_lists import listing
from crm.views import downloads
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
        who=audit_log.who,
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
        export_url=url_for(
            "console_audit.export",
            **{k: v for k, v in request.args.to_dict().items() if k != "page"},
        ),
    )


@bp.get("/export.xlsx")
@login_required
def export():
    return downloads.list_export(
        audit_log.SHEET.title,
        lambda: audit_log.export(db.session, current_user, request.args, clock.now()),
        url_for("console_audit.index", **request.args.to_dict()),
    )
