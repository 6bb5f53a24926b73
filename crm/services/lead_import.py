"""Importing leads from an Excel file into a store's pool, one batch at a time (PRODUCT "The
customer pool": leads come from imports; imported leads wait in the pool for the first
salesperson who calls).

An import happens in two steps. ``check`` validates every row and keeps the file (encrypted)
on an ``ImportBatch`` with the report; nothing else is written. ``commit`` re-reads the file,
checks it again against the store as it is now, and writes the leads in one transaction:
all rows, or, when the user chose so, only the good ones. ``import_file`` does both for the
command line and the console's upload. Here too: cancelling a batch, reading batches, and who
the command line acts as.

The steps are the same for every kind of import (``crm.services.imports``); this module is
the lead kind. The rows themselves (columns, reading, checking, the template) are in
``crm.services.lead_rows``; writing them as leads (COPY on PostgreSQL) is in
``crm.services.lead_rows_writer``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.models import ImportBatch, Staff, Store
from crm.services import imports, lead_rows, lead_rows_writer
from crm.services.import_rows import Progress, row_errors_text

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

MAX_FILE_BYTES = imports.MAX_FILE_BYTES


def _write_leads(
    session: Session,
    actor: Staff,
    store: Store,
    batch: ImportBatch,
    good: list[lead_rows.Line],
    now: datetime,
    progress: Progress | None,
) -> None:
    lead_rows_writer.insert_leads(session, store, good, actor.id, now, progress)


IMPORTER = imports.Importer(
    imports.RowKind(
        name="leads",
        permission="lead.import",
        noun="线索",
        unit="条",
        destination="客户池",
        lock_name="crm.lead_import",
        read=lead_rows.read_lines,
        check=lambda session, store, lines, _now: lead_rows.against_store(session, store, lines),
        write=_write_leads,
        template=lead_rows.template,
        max_file_bytes=lambda: MAX_FILE_BYTES,  # this module's, read when used
    )
)

check = IMPORTER.check
commit = IMPORTER.commit
import_file = IMPORTER.import_file
cancel = IMPORTER.cancel
get_batch = IMPORTER.get_batch
recent_batches = IMPORTER.recent_batches
importable_stores = IMPORTER.importable_stores
template = IMPORTER.template
command_line_actor = imports.command_line_actor
