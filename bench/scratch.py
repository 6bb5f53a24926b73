"""A scratch database for a benchmark: beside ``DATABASE_URL`` (PostgreSQL in CI) or a
temporary SQLite file, migrated, and dropped afterwards."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from crm import create_app
from crm.extensions import db


@contextmanager
def scratch_app(**settings) -> Iterator[Flask]:
    """An app on a new database beside DATABASE_URL (or a temporary SQLite file), migrated."""
    from flask_migrate import upgrade

    from tests.support import servers

    with tempfile.TemporaryDirectory() as tmp:
        dialect = "postgresql" if servers.uses_postgres() else "sqlite"
        url = servers.scratch_database(Path(tmp), dialect)
        try:
            app = create_app(
                {
                    "CRM_ENV": "test",
                    "CRM_INSTANCE_PATH": str(Path(tmp) / "instance"),
                    "SECRET_KEY": "bench-secret-key",
                    "PII_KEY": base64.b64encode(os.urandom(32)).decode(),
                    "REDIS_URL": "",
                    "DATABASE_URL": url,
                    "TESTING": True,
                    **settings,
                }
            )
            with app.app_context():
                upgrade()
            yield app
            with app.app_context():
                db.engine.dispose()
        finally:
            if dialect == "postgresql":
                servers.drop_postgres_database(url)
