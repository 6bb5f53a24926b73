"""Console: importing from Excel (upload, report, import the good rows, cancel), with a
progress bar fed through the shared progress board while the upload request runs — leads into
a store's pool at /console/imports, service orders from the dealer management system at
/console/service-orders/import (issue 7). The service-order list, where their import
starts, is one of the console's lists (crm.views.console_lists).

One set of views serves every kind of import: the upload page, upload and template take the
kind from their address; a batch's report, commit and cancel take it from the batch.
"""

from __future__ import annotations

import re
import uuid

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from crm import access, clock, coordination
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import ImportStatus
from crm.services import imports, lead_import, service_order_import
from crm.services.console_lists import imports as import_lists
from crm.services.console_lists import listing
from crm.views import downloads
from crm.views.forms import int_arg

bp = Blueprint("console_imports", __name__, url_prefix="/console")
PER_PAGE = 20
ERRORS_SHOWN = 500
PROGRESS_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
LEADS = {"kind": lead_import.IMPORTER.kind.name}
SERVICE_ORDERS = {"kind": service_order_import.IMPORTER.kind.name}
TEMPLATE_NAMES = {"leads": "线索导入模板.xlsx", "service_orders": "工单导入模板.xlsx"}


def _board() -> coordination.ProgressBoard:
    return coordination.progress_board(current_app.extensions["crm_settings"].redis_url)


def _board_key(key: str) -> str:
    # Namespaced by the staff member, so nobody can read another's progress.
    return f"import:{current_user.id}:{key}"


def _progress_from_form():
    key = request.form.get("progress_key", "")
    if not PROGRESS_KEY.match(key):
        return None
    board, board_key = _board(), _board_key(key)
    return lambda done, total, phase: board.set(board_key, done, total, phase)


def _too_large_text(importer: imports.Importer) -> str:
    return f"文件不能超过 {importer.kind.max_file_bytes() // (1024 * 1024)} MB"


def _upload_page(importer: imports.Importer, values: dict, errors: dict, status: int = 200):
    stores = importer.importable_stores(db.session, current_user)
    query = importer.recent_batches(current_user)
    page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    html = render_template(
        "console/imports/index.html",
        kind=importer.kind,
        stores=stores,
        page=page,
        values=values,
        errors=errors,
        progress_key=uuid.uuid4().hex,
        max_megabytes=importer.kind.max_file_bytes() // (1024 * 1024),
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
    )
    return html, status


# Each kind's own address; the rule nearest the function is registered first, so ``url_for``
# without a kind builds the lead import's.
@bp.get("/service-orders/import", defaults=SERVICE_ORDERS)
@bp.get("/imports", defaults=LEADS)
@login_required
def index(kind: str):
    store_id = str(current_user.store_id or "")
    return _upload_page(imports.importer_named(kind), {"store_id": store_id}, {})


@bp.post("/service-orders/import", defaults=SERVICE_ORDERS)
@bp.post("/imports", defaults=LEADS)
@login_required
def upload(kind: str):
    """Check the file; import it at once when every row is good (unless "only check")."""
    importer = imports.importer_named(kind)
    try:
        upload_file = request.files.get("file")
        values = {
            "store_id": request.form.get("store_id", "") or str(current_user.store_id or ""),
            "check_only": "1" if request.form.get("check_only") else "",
        }
    except RequestEntityTooLarge:
        return too_large()
    store_id = int(values["store_id"]) if values["store_id"].isdigit() else 0
    try:
        batch = importer.import_file(
            db.session,
            current_user,
            store_id,
            upload_file.read() if upload_file else b"",
            upload_file.filename if upload_file else "",
            clock.now(),
            dry_run=bool(values["check_only"]),
            progress=_progress_from_form(),
        )
    except ValidationError as error:
        return _upload_page(importer, values, {error.field or "file": error.message}, 400)
    if batch.status == ImportStatus.IMPORTED:
        flash(importer.imported_text(batch.imported_rows))
    return redirect(url_for("console_imports.detail", batch_id=batch.id))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error=None):
    # Also raised before the view runs, when the CSRF check reads an oversized form.
    if not current_user.is_authenticated:
        return redirect(url_for("console.login"))
    importer = imports.importer_named((request.view_args or {}).get("kind", LEADS["kind"]))
    store_id = str(current_user.store_id or "")
    return _upload_page(importer, {"store_id": store_id}, {"file": _too_large_text(importer)}, 400)


@bp.get("/service-orders/import/template.xlsx", defaults=SERVICE_ORDERS)
@bp.get("/imports/template.xlsx", defaults=LEADS)
@login_required
def template(kind: str):
    content = imports.importer_named(kind).template(db.session, current_user)
    return downloads.xlsx(content, TEMPLATE_NAMES[kind])


@bp.get("/service-orders/import/batches.xlsx", defaults=SERVICE_ORDERS)
@bp.get("/imports/batches.xlsx", defaults=LEADS)
@login_required
def batches_export(kind: str):
    return downloads.list_export(
        import_lists.batches_sheet(kind).title,
        lambda: import_lists.export_batches(db.session, current_user, kind, clock.now()),
        url_for("console_imports.index", kind=kind),
    )


@bp.get("/imports/<int:batch_id>/errors.xlsx")
@login_required
def errors_export(batch_id: int):
    return downloads.list_export(
        import_lists.ERRORS_SHEET.title,
        lambda: import_lists.export_errors(db.session, current_user, batch_id, clock.now()),
        url_for("console_imports.detail", batch_id=batch_id),
    )


@bp.get("/imports/progress/<key>")
@login_required
def progress(key: str):
    entry = _board().get(_board_key(key)) if PROGRESS_KEY.match(key) else None
    return jsonify(entry or {"done": 0, "total": 0, "phase": ""})


@bp.get("/imports/<int:batch_id>")
@login_required
def detail(batch_id: int):
    batch, importer = imports.batch_of(db.session, current_user, batch_id)
    return render_template(
        "console/imports/detail.html",
        batch=batch,
        kind=importer.kind,
        errors=batch.errors[:ERRORS_SHOWN],
        hidden_errors=max(len(batch.errors) - ERRORS_SHOWN, 0),
        progress_key=uuid.uuid4().hex,
        may_export=access.allowed(current_user, listing.EXPORT_PERMISSION),
    )


@bp.post("/imports/<int:batch_id>/commit")
@login_required
def commit(batch_id: int):
    _batch, importer = imports.batch_of(db.session, current_user, batch_id)
    good_rows_only = request.form.get("good_rows_only") == "1"
    try:
        batch = importer.commit(
            db.session,
            current_user,
            batch_id,
            clock.now(),
            good_rows_only=good_rows_only,
            progress=_progress_from_form(),
        )
    except (ValidationError, Conflict) as error:
        flash(error.message)
    else:
        flash(importer.imported_text(batch.imported_rows))
    return redirect(url_for("console_imports.detail", batch_id=batch_id))


@bp.post("/imports/<int:batch_id>/cancel")
@login_required
def cancel(batch_id: int):
    _batch, importer = imports.batch_of(db.session, current_user, batch_id)
    try:
        importer.cancel(db.session, current_user, batch_id, clock.now())
    except Conflict as error:
        flash(error.message)
    else:
        flash("已取消本次导入，文件未保留")
    return redirect(url_for("console_imports.detail", batch_id=batch_id))
