"""Writing a lead import's good rows as leads in the store's pool (PRODUCT "The customer
pool": imported leads wait in the pool for the first salesperson who calls).

On PostgreSQL the rows go in with COPY on the session's own connection, under the store's
import lock that ``crm.services.imports`` took; elsewhere (SQLite) with a Core insert of the
table, a thousand rows at a time. Either way the values are what the ORM would write, and the
rows are part of the session's transaction, which ``crm.services.imports`` commits or rolls back.

Speed (the import issue: 50,000 rows within three times a bare Core insert of the same rows):
COPY, with name and phone encrypted row by row as ``EncryptedText`` does.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from crm import crypto
from crm.models import Lead, LeadStatus, Store
from crm.services.import_rows import IMPORTING, PROGRESS_EVERY, Progress, Reporter
from crm.services.lead_rows import Line

# The columns an imported lead is written with, for COPY; every NOT NULL column is given
# (the ORM's defaults, spelled out), the nullable ones left out are NULL: no owner (the
# store's pool), no customer, never claimed, contacted, lost, woken or due.
_COPY_COLUMNS = (
    "store_id",
    "name",
    "phone",
    "phone_index",
    "lead_class",
    "status",
    "source",
    "model_of_interest",
    "trim_of_interest",
    "referrer",
    "note",
    "purchase_timeframe",
    "quoted",
    "class_reason",
    "lost_reason",
    "lost_note",
    "created_by_id",
    "created_at",
)


def insert_leads(
    session: Session,
    store: Store,
    lines: list[Line],
    created_by_id: int | None,
    now: datetime,
    progress: Progress | None,
) -> None:
    total = len(lines)
    reporter = Reporter(progress, IMPORTING)
    if session.get_bind().dialect.name == "postgresql":
        _copy_leads(session, store, lines, created_by_id, now, reporter)
    else:
        for start in range(0, total, PROGRESS_EVERY):
            chunk = lines[start : start + PROGRESS_EVERY]
            # Through the table, so the column types encrypt name and phone and store times
            # as the ORM does.
            session.execute(
                insert(Lead.__table__),
                [_orm_values(line, store, created_by_id, now) for line in chunk],
            )
            reporter.row(start + len(chunk), total)
    reporter.finish(total)


def _orm_values(line: Line, store: Store, created_by_id: int | None, now: datetime) -> dict:
    return {
        "store_id": store.id,
        "owner_id": None,
        "customer_id": None,
        "name": line.name,
        "phone": line.phone,
        "phone_index": line.phone_index,
        "lead_class": line.lead_class,
        "status": LeadStatus.OPEN.value,
        "source": line.source,
        "model_of_interest": line.model,
        "trim_of_interest": "",
        "referrer": line.referrer,
        "note": line.note,
        "purchase_timeframe": line.timeframe,
        "quoted": False,
        "class_reason": "",
        "lost_reason": "",
        "lost_note": "",
        "created_by_id": created_by_id,
        "created_at": now,
    }


def _copy_leads(
    session: Session,
    store: Store,
    lines: list[Line],
    created_by_id: int | None,
    now: datetime,
    reporter: Reporter,
) -> None:
    """COPY through psycopg on the session's own connection, so the rows are part of the
    session's transaction. Values are what the ORM would write: name and phone encrypted as
    ``EncryptedText`` does, an aware UTC timestamp."""
    encrypt = crypto.cipher().encrypt
    open_status = LeadStatus.OPEN.value
    driver_connection = session.connection().connection.driver_connection
    statement = f"COPY leads ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for written, line in enumerate(lines, start=1):
            copy.write_row(
                (
                    store.id,
                    encrypt(line.name),
                    encrypt(line.phone),
                    line.phone_index,
                    line.lead_class,
                    open_status,
                    line.source,
                    line.model,
                    "",
                    line.referrer,
                    line.note,
                    line.timeframe,
                    False,
                    "",
                    "",
                    "",
                    created_by_id,
                    now,
                )
            )
            reporter.row(written, len(lines))
