"""Re-encrypting personal data under the current ``PII_KEY`` (issue 12 "Security": key
rotation, resumable after a crash; PRODUCT "Organisation and access": personal data encrypted).

Rotating a key: put the new key first in ``PII_KEY`` (``new:…,old:…``), restart, then run
``flask --app app crm rotate-pii-key``. Every value records the id of the key that sealed it
(``v1.<kid>.…``, ``crm/crypto.py``), so the command needs no progress file: it looks for
values not yet under the current key, re-encrypts them one batch per transaction, and a run
stopped at any point — a crash, a kill, a deploy — simply finds fewer of them next time.

Each value is written back only if it is still the ciphertext that was read (a conditional
UPDATE), so a customer edited by a salesperson in the meantime keeps the edit; the next run
finds nothing left to do for that row because the edit was sealed under the current key.

The blind index (phone look-ups) is keyed from the *last* key in ``PII_KEY``, so it does not
change; keep that key at the end of the list after the rotation (it no longer encrypts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnClause, TableClause, Text, and_, column, func, not_, or_, select
from sqlalchemy import table as table_clause
from sqlalchemy.orm import Session

from crm import crypto
from crm.extensions import db
from crm.models.types import EncryptedText

BATCH = 500


@dataclass(frozen=True)
class EncryptedColumns:
    """One table's encrypted columns as plain text: reading and writing through these sees
    the stored ciphertext, past the models' decrypting type."""

    table: TableClause
    key: ColumnClause
    columns: tuple[ColumnClause, ...]


def encrypted_columns() -> list[EncryptedColumns]:
    """Every table holding personal data, found from the models."""
    found = []
    for model_table in db.metadata.sorted_tables:
        names = [c.name for c in model_table.columns if isinstance(c.type, EncryptedText)]
        if not names:
            continue
        (key,) = model_table.primary_key.columns
        raw = table_clause(
            model_table.name, column(key.name), *(column(name, Text) for name in names)
        )
        found.append(EncryptedColumns(raw, raw.c[key.name], tuple(raw.c[n] for n in names)))
    return found


def _stale(raw: ColumnClause, prefix: str):
    return and_(raw.is_not(None), not_(raw.startswith(prefix)))


def _prefix() -> str:
    return f"v1.{crypto.cipher().current_kid}."


def pending(session: Session) -> int:
    """How many values are not yet sealed under the current key."""
    prefix = _prefix()
    return sum(
        session.scalar(select(func.count()).select_from(entry.table).where(_stale(raw, prefix)))
        for entry in encrypted_columns()
        for raw in entry.columns
    )


def rotate(
    session: Session,
    batch_size: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
    max_batches: int | None = None,
) -> int:
    """Re-encrypt every value not under the current key, ``batch_size`` rows per commit; the
    number of values re-encrypted. ``max_batches`` stops early (a rerun does the rest)."""
    cipher, prefix = crypto.cipher(), _prefix()
    done = batches = 0
    for entry in encrypted_columns():
        last_id = None
        while max_batches is None or batches < max_batches:
            query = (
                select(entry.key, *entry.columns)
                .where(or_(*(_stale(raw, prefix) for raw in entry.columns)))
                .order_by(entry.key)
                .limit(batch_size)
            )
            if last_id is not None:
                query = query.where(entry.key > last_id)
            rows = session.execute(query).all()
            if not rows:
                break
            for row_id, *values in rows:
                for raw, value in zip(entry.columns, values, strict=True):
                    if value is None or value.startswith(prefix):
                        continue
                    # Only if still the value read: an edit made meanwhile is kept.
                    done += session.execute(
                        entry.table.update()
                        .where(entry.key == row_id, raw == value)
                        .values({raw.name: cipher.encrypt(cipher.decrypt(value))})
                    ).rowcount
            session.commit()
            batches += 1
            last_id = rows[-1][0]
            if progress is not None:
                progress(entry.table.name, done)
    return done
