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
