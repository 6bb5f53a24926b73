"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and
they run backwards to an empty database and forwards again."""

from __future__ import annotations

from pprint import pformat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from crm.extensions import db
from crm.services.health import migration_heads
from tests.support.scratch import scratch_app

DIALECTS = ["sqlite", "postgresql"]


def _table_names() -> set[str]:
    with db.engine.connect() as connection:
        return set(inspect(connection).get_table_names())


def _current_revisions() -> set[str]:
    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_migrated_schema_matches_the_models(tmp_path, dialect):
    with scratch_app(tmp_path, dialect):
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        assert diff == [], f"models and migrations disagree on {dialect}:\n{pformat(diff)}"
        assert _current_revisions() == migration_heads()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_downgrade_to_base_removes_every_table_and_upgrade_rebuilds_them(tmp_path, dialect):
    with scratch_app(tmp_path, dialect):
        upgrade()
        app_tables = set(db.metadata.tables)
        assert app_tables <= _table_names()

        downgrade(revision="base")
        assert _table_names() <= {"alembic_version"}
        assert _current_revisions() == set()

        upgrade()
        assert app_tables <= _table_names()
        assert _current_revisions() == migration_heads()
