"""The console's imports as Excel (issue 10 "Console pages": imports with their row-level
reports; "Excel export of any list"): the list of one kind's import batches, and one batch's
whole error report (the page lists only the first 500 errors).

Rules: what the actor may see and import (``Importer.recent_batches``, ``imports.batch_of``);
an error report names rows, columns and reasons, never a cell's value. Like every export it
takes "list.export_pii" and is written to the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.models import ImportBatch, Staff
from crm.services import imports
from crm.services.console_lists import listing

BATCH_HEADERS = (
    "导入编号",
    "上传时间",
    "分店",
    "文件",
    "状态",
    "总行数",
    "正确",
    "错误",
    "已导入",
    "操作人",
    "完成时间",
)
ERROR_HEADERS = ("行号", "列", "原因")
ERRORS_NAME, ERRORS_TITLE = "import_errors", "导入错误明细"


def titles() -> dict[str, str]:
    """Each kind's batch list, and the error report, by the names the audit log keeps."""
    batch_lists = {batches_name(kind): batches_title(kind) for kind in imports.importer_names()}
    return batch_lists | {ERRORS_NAME: ERRORS_TITLE}


def batches_name(kind: str) -> str:
    return f"imports.{kind}"


def batches_title(kind: str) -> str:
    return f"{imports.importer_named(kind).kind.noun}导入记录"


def export_batches(session: Session, actor: Staff, kind: str, now: datetime) -> tuple[bytes, int]:
    """The kind's batches the actor sees, newest first, as an .xlsx."""
    importer = imports.importer_named(kind)
    return listing.export_rows(
        session,
        actor,
        name=batches_name(kind),
        title=batches_title(kind),
        headers=BATCH_HEADERS,
        query=importer.recent_batches(actor),
        row=lambda row: _batch_cells(row[0]),
        filters={},
        now=now,
    )


def export_errors(
    session: Session, actor: Staff, batch_id: int, now: datetime
) -> tuple[bytes, int]:
    """Every error of one batch, by row, as an .xlsx."""
    batch, _importer = imports.batch_of(session, actor, batch_id)
    return listing.export_cells(
        session,
        actor,
        name=ERRORS_NAME,
        title=ERRORS_TITLE,
        headers=ERROR_HEADERS,
        cells=[[error["row"], error["column"], error["reason"]] for error in batch.errors],
        filters={"batch": batch.id},
        now=now,
    )


def _batch_cells(batch: ImportBatch) -> list:
    return [
        batch.id,
        listing.excel_time(batch.created_at),
        batch.store.name,
        batch.filename,
        batch.status_label,
        batch.total_rows,
        batch.good_rows,
        batch.bad_rows,
        batch.imported_rows,
        batch.created_by.name if batch.created_by else "命令行",
        listing.excel_time(batch.finished_at),
    ]
