"""Test fixtures: one database per test session (SQLite, or PostgreSQL when DATABASE_URL says
so), a savepoint per test rolled back afterwards, a frozen clock, factories, and the fake
WeChat server."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import time_machine
from flask import has_app_context
from flask.globals import app_ctx
from flask_migrate import upgrade
from sqlalchemy.orm import scoped_session, sessionmaker

from crm import coordination, create_app
from crm.extensions import db, limiter
from tests.fakes.qweather import FakeQWeatherServer
from tests.fakes.wechat import FakeWeChatServer
from tests.support import servers

TEST_PII_KEY = base64.b64encode(b"k" * 32).decode()
FROZEN_AT = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a Monday


def app_config(tmp_dir, **overrides) -> dict:
    """The settings every test app shares; ``overrides`` win."""
    config = {
        "CRM_ENV": "test",
        "CRM_INSTANCE_PATH": str(tmp_dir / "instance"),
        "SECRET_KEY": "test-secret-key",
        "PII_KEY": TEST_PII_KEY,
        "REDIS_URL": servers.REDIS_URL,
        "WECHAT_APP_ID": "",
        "WECHAT_APP_SECRET": "",
        "LOGIN_RATE_LIMIT": "5 per minute",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if servers.uses_postgres():
        url = servers.create_postgres_database("test")
        yield url
        servers.drop_postgres_database(url)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    application = create_app(app_config(tmp_path_factory.mktemp("app"), DATABASE_URL=database_url))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


def _scope_key() -> int:
    # Each request gets its own session (as in production); test code outside a request
    # shares scope 0.
    return id(app_ctx._get_current_object()) if has_app_context() else 0


@pytest.fixture
def session(app):
    """A session inside a transaction that is rolled back after the test.

    Services commit as usual; with ``create_savepoint`` their commits release savepoints of
    the outer transaction, which the test never commits.
    """
    with app.app_context():
        connection = db.engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
    original = db.session
    db.session = scoped_session(factory, scopefunc=_scope_key)
    try:
        yield db.session
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()
        with app.app_context():
            limiter.reset()


@pytest.fixture
def client(app, session):
    return app.test_client()


@pytest.fixture
def cli(app, session):
    return app.test_cli_runner()


@pytest.fixture
def frozen_now():
    """The clock stands still at FROZEN_AT; ``traveller.shift(...)`` moves it."""
    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def fake_wechat_server():
    with FakeWeChatServer() as server:
        yield server


@pytest.fixture
def fake_wechat(fake_wechat_server):
    """The fake WeChat, reset, with no access token shared from an earlier test."""
    fake_wechat_server.fake.reset()
    forget_shared_wechat_tokens()
    return fake_wechat_server


@pytest.fixture(scope="session")
def fake_qweather_server():
    with FakeQWeatherServer() as server:
        yield server


@pytest.fixture
def fake_qweather(fake_qweather_server):
    """The fake QWeather, reset: no cities, no warnings, nothing asked yet."""
    fake_qweather_server.fake.reset()
    return fake_qweather_server


def forget_shared_wechat_tokens() -> None:
    coordination.wechat_storage("")._data.clear()
    if servers.REDIS_URL:
        client = coordination.redis_client(servers.REDIS_URL)
        for key in client.scan_iter(f"{coordination.KEY_PREFIX}:wechat:*"):
            client.delete(key)


@pytest.fixture
def redis_url():
    if not servers.REDIS_URL:
        servers.missing("Redis (REDIS_URL)")
    return servers.REDIS_URL


@pytest.fixture
def org(session, frozen_now):
    from tests.support.org import build_org

    return build_org()


def login(client, staff, password=None):
    """Log ``staff`` into the console through the real form."""
    from tests.factories import PASSWORD

    return client.post(
        "/console/login", data={"phone": staff.phone, "password": password or PASSWORD}
    )


@pytest.fixture
def race_app(tmp_path):
    """An app on its own migrated PostgreSQL database, for races between real connections
    (the test session's savepoint cannot be shared between threads)."""
    from tests.support.scratch import scratch_app  # it builds on app_config above

    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL)")
    with scratch_app(tmp_path, "postgresql") as app:
        upgrade()
        yield app
