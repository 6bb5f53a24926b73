"""Importing leads from an Excel file into a store's pool, one batch at a time (PRODUCT "The
customer pool": leads come from imports; imported leads wait in the pool for the first
salesperson who calls).

An import happens in two steps. ``check`` validates every row and keeps the file (encrypted)
on an ``ImportBatch`` with the report; nothing else is written. ``commit`` re-reads the file,
checks it again against the store as it is now, and writes the leads in one transaction:
all rows, or, when the user chose so, only the good ones. ``import_file`` does both for the
command line and the console's upload. Here too: cancelling a batch, reading batches, and who
the command line acts as.

The rows themselves (columns, reading, checking, the template) are in
``crm.services.lead_rows``; writing them as leads (COPY on PostgreSQL) is in
``crm.services.lead_rows_writer``.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, selectinload

from crm import access
from crm.errors import Conflict, ValidationError
from crm.models import ImportBatch, ImportStatus, Role, Staff, Store
from crm.services import lead_rows_writer
from crm.services.lead_rows import (
    Line,
    Progress,
    Report,
    against_store,
    read_lines,
    row_errors_text,
    template,
)

__all__ = [
    "MAX_FILE_BYTES",
    "cancel",
    "check",
    "command_line_actor",
    "commit",
    "get_batch",
    "import_file",
    "importable_stores",
    "recent_batches",
    "row_errors_text",
    "template",
]

MAX_FILE_BYTES = 20 * 1024 * 1024


# --- the steps ---------------------------------------------------------------------------------


def _importable_store(session: Session, actor: Staff, store: Store | int | None) -> Store:
    store_id = store.id if isinstance(store, Store) else store
    if not store_id:
        raise ValidationError("请选择要导入的分店", "store")
    found = access.get_or_404(Store, store_id, actor, "lead.import")
    if not found.active:
        raise ValidationError(f"{found.name}已停用，不能导入线索", "store")
    return found


def _clean_upload(file_bytes: bytes | None, filename: str) -> tuple[bytes, str]:
    if not file_bytes:
        raise ValidationError("请选择要导入的 Excel 文件", "file")
    if len(file_bytes) > MAX_FILE_BYTES:
        raise ValidationError(f"文件不能超过 {MAX_FILE_BYTES // (1024 * 1024)} MB", "file")
    name = os.path.basename((filename or "").replace("\\", "/")).strip() or "导入.xlsx"
    return file_bytes, name[-200:]


def _record(batch: ImportBatch, report: Report) -> None:
    batch.total_rows = report.total
    batch.good_rows = len(report.good)
    batch.errors = report.errors


def _check(
    session: Session,
    actor: Staff,
    store: Store | int | None,
    file_bytes: bytes,
    filename: str,
    now: datetime,
    progress: Progress | None,
) -> tuple[ImportBatch, list[Line]]:
    target = _importable_store(session, actor, store)
    file_bytes, filename = _clean_upload(file_bytes, filename)
    lines = read_lines(file_bytes, progress)
    report = against_store(session, target, lines)
    batch = ImportBatch(
        store_id=target.id,
        created_by_id=actor.id,
        filename=filename,
        status=ImportStatus.CHECKED.value,
        imported_rows=0,
        content=base64.b64encode(file_bytes).decode("ascii"),
        created_at=now,
    )
    _record(batch, report)
    session.add(batch)
    session.commit()
    return batch, lines


def check(
    session: Session,
    actor: Staff,
    store: Store | int | None,
    file_bytes: bytes,
    filename: str,
    now: datetime,
    progress: Progress | None = None,
) -> ImportBatch:
    """Validate every row of the file for ``store`` (a Store or its id) and keep the file
    (encrypted) with the report on a new batch. Writes nothing else. A file that cannot be
    read at all (not an .xlsx, no header, required columns missing) raises ValidationError
    and keeps nothing."""
    batch, _lines = _check(session, actor, store, file_bytes, filename, now, progress)
    return batch


def _open_batch(session: Session, actor: Staff, batch_id: int) -> ImportBatch:
    batch = access.get_or_404(ImportBatch, batch_id, actor, "lead.import")
    if batch.status == ImportStatus.IMPORTED:
        raise Conflict("该文件已导入，不能重复导入", "batch")
    if batch.status == ImportStatus.CANCELLED:
        raise Conflict("该导入已取消，请重新上传文件", "batch")
    return batch


def commit(
    session: Session,
    actor: Staff,
    batch_id: int,
    now: datetime,
    good_rows_only: bool,
    progress: Progress | None = None,
) -> ImportBatch:
    """Write the leads of a checked batch into the store's pool, in one transaction.

    The kept file is read and checked again, since the store may have gained leads or
    customers, or stopped selling a model, since the check. With bad rows, nothing is
    written unless ``good_rows_only``; the batch's report is brought up to date either way.
    """
    batch = _open_batch(session, actor, batch_id)
    store = _importable_store(session, actor, batch.store_id)
    lines = read_lines(base64.b64decode(batch.content or ""), progress)
    return _write(session, actor, batch, store, lines, now, good_rows_only, progress)


def _write(
    session: Session,
    actor: Staff,
    batch: ImportBatch,
    store: Store,
    lines: list[Line],
    now: datetime,
    good_rows_only: bool,
    progress: Progress | None,
) -> ImportBatch:
    try:
        lead_rows_writer.serialise_imports_into(session, store)
        report = against_store(session, store, lines)
        _record(batch, report)
        refusal = None
        if report.errors and not good_rows_only:
            refusal = ValidationError(
                f"有 {batch.bad_rows} 行错误，未导入；可选择仅导入正确的 {batch.good_rows} 行",
                "good_rows_only",
            )
        elif not report.good:
            refusal = ValidationError("没有可导入的正确行", "file")
        if refusal is not None:
            session.commit()  # the up-to-date report is kept; not one lead was written
            raise refusal
        # Claim the batch: of two concurrent commits, the second finds it no longer CHECKED.
        claimed = session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch.id, ImportBatch.status == ImportStatus.CHECKED)
            .values(status=ImportStatus.IMPORTED.value)
        )
        if claimed.rowcount != 1:
            raise Conflict("该文件已导入，不能重复导入", "batch")
        lead_rows_writer.insert_leads(session, store, report.good, actor.id, now, progress)
        batch.imported_rows = len(report.good)
        batch.finished_at = now
        batch.content = None  # the leads now hold the data; the file is not kept
        session.commit()
    except Exception:
        # All or nothing: a failure anywhere leaves no lead of this file behind.
        session.rollback()
        raise
    return batch


def import_file(
    session: Session,
    actor: Staff,
    store: Store | int | None,
    file_bytes: bytes,
    filename: str,
    now: datetime,
    *,
    dry_run: bool = False,
    good_rows_only: bool = False,
    progress: Progress | None = None,
) -> ImportBatch:
    """Check the file, then import it unless ``dry_run`` or it has bad rows (with
    ``good_rows_only``, the good rows are imported anyway). The batch tells what happened:
    IMPORTED, or still CHECKED with its report. The rows read by the check are checked
    against the store once more right before writing, without reading the file again."""
    batch, lines = _check(session, actor, store, file_bytes, filename, now, progress)
    if dry_run or batch.good_rows == 0 or (batch.errors and not good_rows_only):
        return batch
    target = _importable_store(session, actor, batch.store_id)
    try:
        return _write(session, actor, batch, target, lines, now, good_rows_only, progress)
    except ValidationError:
        # The store changed between the check and the write; the batch holds the new report.
        return batch


def cancel(session: Session, actor: Staff, batch_id: int, now: datetime) -> ImportBatch:
    """Give up a checked batch: nothing is imported and the kept file is dropped."""
    batch = _open_batch(session, actor, batch_id)
    batch.status = ImportStatus.CANCELLED.value
    batch.content = None
    batch.finished_at = now
    session.commit()
    return batch


# --- reading batches ---------------------------------------------------------------------------


def get_batch(session: Session, actor: Staff, batch_id: int) -> ImportBatch:
    return access.get_or_404(ImportBatch, batch_id, actor, "lead.import")


def recent_batches(actor: Staff) -> Select:
    """The batches of the stores the actor may import into, newest first."""
    access.require(actor, "lead.import")
    return (
        access.scope(select(ImportBatch), actor)
        .options(selectinload(ImportBatch.store), selectinload(ImportBatch.created_by))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
    )


def importable_stores(session: Session, actor: Staff) -> list[Store]:
    """The active stores the actor may import into: the group admin's every store, a store
    admin's own."""
    access.require(actor, "lead.import")
    return list(
        session.scalars(
            access.scope(select(Store).where(Store.active.is_(True)), actor).order_by(Store.code)
        )
    )


def command_line_actor(session: Session, store_code: str | None) -> tuple[Staff, Store]:
    """Who the ``crm import`` command acts as, and into which store: the group's
    administrator, as ``org.bootstrap_staff`` does, with no staff record behind it (so the
    batch and the leads have no creator). ``store_code`` may be left out when the group has
    only one store."""
    if store_code:
        store = session.scalar(select(Store).where(func.lower(Store.code) == store_code.lower()))
        if store is None:
            raise ValidationError(f"分店 {store_code} 不存在", "store")
    else:
        stores = session.scalars(select(Store).order_by(Store.code)).all()
        if not stores:
            raise ValidationError("还没有分店，请先创建分店", "store")
        groups = {store.group_id for store in stores}
        if len(stores) > 1 or len(groups) > 1:
            codes = "、".join(store.code for store in stores)
            raise ValidationError(f"有多家分店，请用 --store 指定分店编码（{codes}）", "store")
        store = stores[0]
    actor = Staff(id=None, group_id=store.group_id, role=Role.GROUP_ADMIN.value, active=True)
    return actor, store
