"""The application factory (ARCHITECTURE "Layout": ``create_app(config)``)."""

from __future__ import annotations

import logging
import os

from flask import Flask
from sqlalchemy import event

from crm import crypto
from crm.config import PROJECT_ROOT, Settings, load_settings
from crm.extensions import csrf, db, limiter, login_manager, migrate

log = logging.getLogger("crm")


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides environment variables (upper-case names such as
    ``DATABASE_URL``) and Flask settings (``TESTING``...), for tests and scripts."""
    config = dict(config or {})
    settings: Settings = config.pop("SETTINGS", None) or load_settings(
        {**os.environ, **{k: str(v) for k, v in config.items() if k in _ENV_NAMES}}
    )
    flask_overrides = {k: v for k, v in config.items() if k not in _ENV_NAMES}

    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(_flask_config(settings))
    app.config.update(flask_overrides)
    app.extensions["crm_settings"] = settings
    for warning in settings.warnings:
        log.warning(warning)

    crypto.configure(settings.pii_key)
    _init_database(app, settings)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)

    from crm import cli, views, web_security

    views.register(app)
    cli.register(app)
    web_security.register(app)
    return app


_ENV_NAMES = frozenset(
    {
        "CRM_ENV",
        "CRM_INSTANCE_PATH",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "PII_KEY",
        "WECHAT_APP_ID",
        "WECHAT_APP_SECRET",
        "WECHAT_TOKEN",
        "WECHAT_AES_KEY",
        "MINIPROGRAM_APP_ID",
        "MINIPROGRAM_APP_SECRET",
        "WECHAT_API_BASE_URL",
        "QWEATHER_KEY",
        "QWEATHER_API_BASE_URL",
        "LOGIN_RATE_LIMIT",
        "PUBLIC_BASE_URL",
        "DISPATCH_CONCURRENCY",
        "JOBS_LEASE_SECONDS",
    }
)


def _flask_config(settings: Settings) -> dict:
    engine_options: dict = {"pool_pre_ping": True}
    if settings.uses_postgres:
        # The dispatcher's senders each hold a connection while they record an outcome.
        overflow = max(10, settings.dispatch_concurrency)
        engine_options.update(
            pool_size=5, max_overflow=overflow, connect_args={"connect_timeout": 5}
        )
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": not settings.debug,
        "SESSION_COOKIE_NAME": "crm_session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": not settings.debug,
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_HEADERS_ENABLED": True,
        # Lead imports accept Excel files up to 20 MB; the form around the file needs a little
        # more. Anything larger is refused before it is read.
        "MAX_CONTENT_LENGTH": 21 * 1024 * 1024,
        "JSON_AS_ASCII": False,
    }


def _init_database(app: Flask, settings: Settings) -> None:
    if settings.database_url.startswith("sqlite"):
        settings.instance_path.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    if settings.database_url.startswith("sqlite"):
        with app.app_context():
            _sqlite_pragmas(db.engine)


def _sqlite_pragmas(engine) -> None:
    """Foreign keys on, and let SQLAlchemy drive transactions so SAVEPOINT works (the pysqlite
    recipe from SQLAlchemy's SQLite dialect docs)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN")
