"""Real servers for tests: PostgreSQL and Redis from the environment, scratch databases.

Locally a missing server skips the tests that need it; under ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


def missing(what: str) -> None:
    """Skip locally, fail in CI: a server CI should have started is absent."""
    message = f"{what} is not available"
    if IN_CI:
        pytest.fail(f"{message}, and CI=true requires it", pytrace=False)
    pytest.skip(message)


def uses_postgres() -> bool:
    return POSTGRES_URL.startswith(("postgres://", "postgresql"))


def _psycopg_url(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_postgres_database(suffix: str) -> str:
    """A new, empty database beside the one ``DATABASE_URL`` names; returns its URL."""
    import psycopg

    base = make_url(_psycopg_url(POSTGRES_URL))
    name = f"{base.database}_{suffix}"
    admin = base.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    import psycopg

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def scratch_database(tmp_dir: Path, dialect: str) -> str:
    """A new empty database of ``dialect`` ('sqlite' or 'postgresql')."""
    if dialect == "sqlite":
        return f"sqlite:///{tmp_dir / f'scratch-{uuid.uuid4().hex[:8]}.sqlite3'}"
    if not uses_postgres():
        missing("PostgreSQL (DATABASE_URL)")
    return create_postgres_database(f"scratch_{uuid.uuid4().hex[:8]}")
