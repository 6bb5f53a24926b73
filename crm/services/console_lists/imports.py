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
ERRORS_SHEET = listing.Sheet("import_errors", "导入错误明细", ("行号", "列", "原因"))


def titles() -> dict[str, str]:
    """Each kind's batch list, and the error report, by the names the audit log keeps."""
    sheets = [batches_sheet(kind) for kind in imports.importer_names()] + [ERRORS_SHEET]
    return {sheet.name: sheet.title for sheet in sheets}


def batches_sheet(kind: str) -> listing.Sheet:
    noun = imports.importer_named(kind).kind.noun
    return listing.Sheet(f"imports.{kind}", f"{noun}导入记录", BATCH_HEADERS)


def export_batches(session: Session, actor: Staff, kind: str, now: datetime) -> tuple[bytes, int]:
    """The kind's batches the actor sees, newest first, as an .xlsx."""
    query = imports.importer_named(kind).recent_batches(actor)
    return listing.export_rows(
        session, actor, batches_sheet(kind), query, lambda row: _batch_cells(row[0]), {}, now
    )


def export_errors(
    session: Session, actor: Staff, batch_id: int, now: datetime
) -> tuple[bytes, int]:
    """Every error of one batch, by row, as an .xlsx."""
    batch, _importer = imports.batch_of(session, actor, batch_id)
    cells = [[error["row"], error["column"], error["reason"]] for error in batch.errors]
    return listing.export_cells(session, actor, ERRORS_SHEET, cells, {"batch": batch.id}, now)


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
