"""Console: importing leads from Excel (upload, report, import the good rows, cancel), with a
progress bar fed through the shared progress board while the upload request runs."""

from __future__ import annotations

import io
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
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from crm import clock, coordination, spreadsheets
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import ImportStatus
from crm.services import lead_import
from crm.views.forms import int_arg

bp = Blueprint("console_imports", __name__, url_prefix="/console/imports")
PER_PAGE = 20
ERRORS_SHOWN = 500
PROGRESS_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")


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


def _upload_page(values: dict, errors: dict, status: int = 200):
    stores = lead_import.importable_stores(db.session, current_user)
    query = lead_import.recent_batches(current_user)
    page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    html = render_template(
        "console/imports/index.html",
        stores=stores,
        page=page,
        values=values,
        errors=errors,
        progress_key=uuid.uuid4().hex,
        max_megabytes=lead_import.MAX_FILE_BYTES // (1024 * 1024),
    )
    return html, status


@bp.get("")
@login_required
def index():
    return _upload_page({"store_id": str(current_user.store_id or "")}, {})


@bp.post("")
@login_required
def upload():
    """Check the file; import it at once when every row is good (unless "only check")."""
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
        batch = lead_import.import_file(
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
        return _upload_page(values, {error.field or "file": error.message}, 400)
    if batch.status == ImportStatus.IMPORTED:
        flash(f"已导入 {batch.imported_rows} 条线索到客户池")
    return redirect(url_for("console_imports.detail", batch_id=batch.id))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error=None):
    # Also raised before the view runs, when the CSRF check reads an oversized form.
    if not current_user.is_authenticated:
        return redirect(url_for("console.login"))
    message = f"文件不能超过 {lead_import.MAX_FILE_BYTES // (1024 * 1024)} MB"
    return _upload_page({"store_id": str(current_user.store_id or "")}, {"file": message}, 400)


@bp.get("/template.xlsx")
@login_required
def template():
    content = lead_import.template(db.session, current_user)
    return send_file(
        io.BytesIO(content),
        mimetype=spreadsheets.XLSX_MIME,
        as_attachment=True,
        download_name="线索导入模板.xlsx",
    )


@bp.get("/progress/<key>")
@login_required
def progress(key: str):
    entry = _board().get(_board_key(key)) if PROGRESS_KEY.match(key) else None
    return jsonify(entry or {"done": 0, "total": 0, "phase": ""})


@bp.get("/<int:batch_id>")
@login_required
def detail(batch_id: int):
    batch = lead_import.get_batch(db.session, current_user, batch_id)
    return render_template(
        "console/imports/detail.html",
        batch=batch,
        errors=batch.errors[:ERRORS_SHOWN],
        hidden_errors=max(len(batch.errors) - ERRORS_SHOWN, 0),
        progress_key=uuid.uuid4().hex,
    )


@bp.post("/<int:batch_id>/commit")
@login_required
def commit(batch_id: int):
    good_rows_only = request.form.get("good_rows_only") == "1"
    try:
        batch = lead_import.commit(
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
        flash(f"已导入 {batch.imported_rows} 条线索到客户池")
    return redirect(url_for("console_imports.detail", batch_id=batch_id))


@bp.post("/<int:batch_id>/cancel")
@login_required
def cancel(batch_id: int):
    try:
        lead_import.cancel(db.session, current_user, batch_id, clock.now())
    except Conflict as error:
        flash(error.message)
    else:
        flash("已取消本次导入，文件未保留")
    return redirect(url_for("console_imports.detail", batch_id=batch_id))
