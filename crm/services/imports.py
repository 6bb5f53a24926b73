"""Spreadsheet imports into a store, one batch at a time, whatever the rows are: leads
(PRODUCT "The customer pool": leads come from imports) and service orders (issue 7: "import
from the dealer management system by Excel like the lead import (row-level errors, dry run)").

An import happens in two steps. ``check`` validates every row and keeps the file (encrypted)
on an ``ImportBatch`` of the kind, with the report; nothing else is written. ``commit``
re-reads the file, checks it again against the store as it is now, and writes the rows in one
transaction: all rows, or, when the user chose so, only the good ones. ``import_file`` does
both for the command line and the console's upload. Here too: cancelling a batch, reading
batches, the stores one may import into, and who the command line acts as.

What differs from kind to kind is a ``RowKind``: how the file's rows are read and checked,
how the good ones are written, the template, the file size limit and the words for messages.
Each kind's module (``crm.services.lead_import``, ``crm.services.service_order_import``)
makes an ``Importer`` of its kind and offers the importer's steps as its own functions.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session, selectinload

from crm import access
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import ImportBatch, ImportStatus, Role, Staff, Store
from crm.services.import_rows import Progress, Report, row_errors_text

__all__ = [
    "MAX_FILE_BYTES",
    "Importer",
    "RowKind",
    "batch_of",
    "command_line_actor",
    "importer_named",
    "importer_names",
    "row_errors_text",
]

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class RowKind:
    """One kind of spreadsheet rows: the words for its messages and what is done with them."""

    name: str  # ImportBatch.kind
    permission: str  # the access action that may import them
    noun: str  # what a row becomes, for messages: 线索, 工单
    unit: str  # its measure word: 条, 张
    destination: str  # where the rows land, for messages ("" when it goes without saying)
    lock_name: str  # PostgreSQL advisory lock: one import of the kind per store at a time
    # Every non-empty data row as a line, with the problems the file alone shows.
    read: Callable[[bytes, Progress | None], list]
    # What depends on the store as it is now (session, store, lines, now); the lines are left
    # as they were read, since a commit checks them again.
    check: Callable[[Session, Store, list, datetime], Report]
    # Add the good rows to the session's transaction (session, actor, store, batch, good, now,
    # progress); the importer commits or rolls back.
    write: Callable[[Session, Staff, Store, ImportBatch, list, datetime, Progress | None], None]
    template: Callable[[Session, Staff], bytes]  # the downloadable template (.xlsx)
    max_file_bytes: Callable[[], int] = lambda: MAX_FILE_BYTES


_IMPORTERS: dict[str, Importer] = {}


def importer_named(name: str) -> Importer:
    """The importer of a kind by its name (``ImportBatch.kind``)."""
    return _IMPORTERS[name]


def importer_names() -> list[str]:
    """The kinds of import there are (``ImportBatch.kind``)."""
    return sorted(_IMPORTERS)


def batch_of(session: Session, actor: Staff, batch_id: int) -> tuple[ImportBatch, Importer]:
    """A batch of any kind the actor may see, and its importer; the actor must be allowed to
    import that kind."""
    batch = access.get_or_404(ImportBatch, batch_id, actor)
    importer = _IMPORTERS.get(batch.kind)
    if importer is None:
        raise NotFound()
    access.require(actor, importer.kind.permission)
    return batch, importer


def _clean_upload(file_bytes: bytes | None, filename: str, max_bytes: int) -> tuple[bytes, str]:
    if not file_bytes:
        raise ValidationError("请选择要导入的 Excel 文件", "file")
    if len(file_bytes) > max_bytes:
        raise ValidationError(f"文件不能超过 {max_bytes // (1024 * 1024)} MB", "file")
    name = os.path.basename((filename or "").replace("\\", "/")).strip() or "导入.xlsx"
    return file_bytes, name[-200:]


def _record(batch: ImportBatch, report: Report) -> None:
    batch.total_rows = report.total
    batch.good_rows = len(report.good)
    batch.errors = report.errors


def _serialise(session: Session, lock_name: str, store: Store) -> None:
    """On PostgreSQL, one import of a kind into a store at a time, so that two files cannot
    both pass the duplicate checks with the same row. The lock ends with the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:name), :store_id)"),
            {"name": lock_name, "store_id": store.id},
        )


class Importer:
    """The batch steps for one kind of rows."""

    def __init__(self, kind: RowKind):
        self.kind = kind
        _IMPORTERS[kind.name] = self

    def imported_text(self, count: int, *, where: bool = True) -> str:
        """``已导入 12 条线索到客户池`` (``where``: with the destination, if the kind has one)."""
        kind = self.kind
        landed = f"到{kind.destination}" if where and kind.destination else ""
        return f"已导入 {count} {kind.unit}{kind.noun}{landed}"

    def template(self, session: Session, actor: Staff) -> bytes:
        access.require(actor, self.kind.permission)
        return self.kind.template(session, actor)

    # --- the steps -----------------------------------------------------------------------------

    def _importable_store(self, session: Session, actor: Staff, store: Store | int | None) -> Store:
        store_id = store.id if isinstance(store, Store) else store
        if not store_id:
            raise ValidationError("请选择要导入的分店", "store")
        found = access.get_or_404(Store, store_id, actor, self.kind.permission)
        if not found.active:
            raise ValidationError(f"{found.name}已停用，不能导入{self.kind.noun}", "store")
        return found

    def _check(
        self, session: Session, actor: Staff, store, upload: tuple[bytes, str], now, progress
    ) -> tuple[ImportBatch, list]:
        """``check``, also handing back the lines read (``upload``: the file and its name)."""
        kind = self.kind
        target = self._importable_store(session, actor, store)
        file_bytes, filename = _clean_upload(*upload, kind.max_file_bytes())
        lines = kind.read(file_bytes, progress)
        report = kind.check(session, target, lines, now)
        batch = ImportBatch(
            store_id=target.id,
            created_by_id=actor.id,
            kind=kind.name,
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
        self,
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
        read at all (not an .xlsx, no header, required columns missing) raises
        ValidationError and keeps nothing."""
        batch, _lines = self._check(session, actor, store, (file_bytes, filename), now, progress)
        return batch

    def _open_batch(self, session: Session, actor: Staff, batch_id: int) -> ImportBatch:
        batch = self.get_batch(session, actor, batch_id)
        if batch.status == ImportStatus.IMPORTED:
            raise Conflict("该文件已导入，不能重复导入", "batch")
        if batch.status == ImportStatus.CANCELLED:
            raise Conflict("该导入已取消，请重新上传文件", "batch")
        return batch

    def commit(
        self,
        session: Session,
        actor: Staff,
        batch_id: int,
        now: datetime,
        good_rows_only: bool,
        progress: Progress | None = None,
    ) -> ImportBatch:
        """Write the rows of a checked batch, in one transaction.

        The kept file is read and checked again, since the store may have changed since the
        check. With bad rows, nothing is written unless ``good_rows_only``; the batch's report
        is brought up to date either way.
        """
        batch = self._open_batch(session, actor, batch_id)
        store = self._importable_store(session, actor, batch.store_id)
        lines = self.kind.read(base64.b64decode(batch.content or ""), progress)
        return self._write(session, actor, batch, store, lines, now, good_rows_only, progress)

    def _write(
        self,
        session: Session,
        actor: Staff,
        batch: ImportBatch,
        store: Store,
        lines: list,
        now: datetime,
        good_rows_only: bool,
        progress: Progress | None,
    ) -> ImportBatch:
        kind = self.kind
        try:
            _serialise(session, kind.lock_name, store)
            report = kind.check(session, store, lines, now)
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
                session.commit()  # the up-to-date report is kept; not one row was written
                raise refusal
            # Claim the batch: of two concurrent commits, the second finds it no longer CHECKED.
            claimed = session.execute(
                update(ImportBatch)
                .where(ImportBatch.id == batch.id, ImportBatch.status == ImportStatus.CHECKED)
                .values(status=ImportStatus.IMPORTED.value)
            )
            if claimed.rowcount != 1:
                raise Conflict("该文件已导入，不能重复导入", "batch")
            kind.write(session, actor, store, batch, report.good, now, progress)
            batch.imported_rows = len(report.good)
            batch.finished_at = now
            batch.content = None  # the rows now hold the data; the file is not kept
            session.commit()
        except Exception:
            # All or nothing: a failure anywhere leaves no row of this file behind.
            session.rollback()
            raise
        return batch

    def import_file(
        self,
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
        batch, lines = self._check(session, actor, store, (file_bytes, filename), now, progress)
        if dry_run or batch.good_rows == 0 or (batch.errors and not good_rows_only):
            return batch
        target = self._importable_store(session, actor, batch.store_id)
        try:
            return self._write(session, actor, batch, target, lines, now, good_rows_only, progress)
        except ValidationError:
            # The store changed between the check and the write; the batch holds the new report.
            return batch

    def cancel(self, session: Session, actor: Staff, batch_id: int, now: datetime) -> ImportBatch:
        """Give up a checked batch: nothing is imported and the kept file is dropped."""
        batch = self._open_batch(session, actor, batch_id)
        batch.status = ImportStatus.CANCELLED.value
        batch.content = None
        batch.finished_at = now
        session.commit()
        return batch

    # --- reading batches -----------------------------------------------------------------------

    def get_batch(self, session: Session, actor: Staff, batch_id: int) -> ImportBatch:
        batch = access.get_or_404(ImportBatch, batch_id, actor, self.kind.permission)
        if batch.kind != self.kind.name:
            raise NotFound()
        return batch

    def recent_batches(self, actor: Staff) -> Select:
        """The kind's batches of the stores the actor may import into, newest first."""
        access.require(actor, self.kind.permission)
        return (
            access.scope(select(ImportBatch).where(ImportBatch.kind == self.kind.name), actor)
            .options(selectinload(ImportBatch.store), selectinload(ImportBatch.created_by))
            .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        )

    def importable_stores(self, session: Session, actor: Staff) -> list[Store]:
        """The active stores the actor may import into: the group admin's every store, a
        store admin's own."""
        access.require(actor, self.kind.permission)
        return list(
            session.scalars(
                access.scope(select(Store).where(Store.active.is_(True)), actor).order_by(
                    Store.code
                )
            )
        )


def command_line_actor(session: Session, store_code: str | None) -> tuple[Staff, Store]:
    """Who the import commands act as, and into which store: the group's administrator, as
    ``org.bootstrap_staff`` does, with no staff record behind it (so the batch and the rows
    have no creator). ``store_code`` may be left out when the group has only one store."""
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
