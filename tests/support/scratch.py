"""Apps on brand-new databases, for tests that need real commits and several connections."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from crm import create_app
from crm.extensions import db
from tests.conftest import app_config
from tests.support import servers


@contextmanager
def scratch_app(tmp_path: Path, dialect: str, **overrides) -> Iterator[Flask]:
    """An app on a brand-new empty database of ``dialect``, inside its app context."""
    url = servers.scratch_database(tmp_path, dialect)
    try:
        app = create_app(app_config(tmp_path, DATABASE_URL=url, **overrides))
        with app.app_context():
            try:
                yield app
            finally:
                db.session.remove()
                db.engine.dispose()
    finally:
        if dialect == "postgresql":
            servers.drop_postgres_database(url)
