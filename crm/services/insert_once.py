"""Idempotent inserts (ARCHITECTURE rule 6): a row keyed by a unique column is written once
however often, and however concurrently, it is planned."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_once(session: Session, model, values: dict, key: str = "dedupe_key") -> int | None:
    """INSERT … ON CONFLICT (key) DO NOTHING; the new row's id, or None when it existed.

    RETURNING tells a row skipped by the conflict on every driver (rowcount does not).
    """
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise RuntimeError(f"idempotent inserts need PostgreSQL or SQLite, not {dialect}")
    statement = (
        _INSERTS[dialect](model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(model.id)
    )
    return session.execute(statement).scalar()


def insert_many_once(session: Session, model, rows: list[dict], key: str = "dedupe_key") -> dict:
    """Many rows in one statement, each skipped when its ``key`` exists: ``{key: id}`` of the
    rows written now."""
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise RuntimeError(f"idempotent inserts need PostgreSQL or SQLite, not {dialect}")
    table = model.__table__
    statement = (
        _INSERTS[dialect](table)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(table.c[key], table.c.id)
    )
    # Core, not the ORM's bulk insert: one INSERT … RETURNING for many rows (insertmanyvalues).
    return dict(session.connection().execute(statement, rows).tuples().all())
