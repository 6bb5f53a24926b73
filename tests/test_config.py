"""Settings from the environment: production refuses to start without keys, development makes
its own, database URLs mean psycopg 3, and production cookies are locked down."""

from __future__ import annotations

import base64
import stat

import pytest

from crm import create_app, crypto
from crm.config import ConfigError, load_settings
from crm.extensions import db, limiter
from tests.conftest import TEST_PII_KEY, app_config

KEYS = {
    "SECRET_KEY": "a-real-secret",
    "PII_KEY": TEST_PII_KEY,
    "WECHAT_APP_ID": "wx-prod",
    "WECHAT_APP_SECRET": "prod-secret",
}


@pytest.fixture
def instance(tmp_path):
    return tmp_path / "instance"


@pytest.mark.parametrize(
    "missing",
    [
        ["SECRET_KEY"],
        ["PII_KEY"],
        ["SECRET_KEY", "PII_KEY"],
        ["WECHAT_APP_ID", "WECHAT_APP_SECRET"],
    ],
)
def test_production_refuses_to_start_without_its_keys(instance, missing):
    environ = {"CRM_ENV": "production", "CRM_INSTANCE_PATH": str(instance), **KEYS}
    for name in missing:
        del environ[name]

    with pytest.raises(ConfigError) as raised:
        load_settings(environ)

    assert str(raised.value) == f"production mode needs {', '.join(missing)} in the environment"
    assert not instance.exists(), "production mode must never generate keys"


def test_production_with_its_keys_uses_them_and_warns_of_nothing(instance):
    settings = load_settings({"CRM_ENV": "production", "CRM_INSTANCE_PATH": str(instance), **KEYS})

    assert settings.production
    assert (settings.secret_key, settings.pii_key) == (KEYS["SECRET_KEY"], KEYS["PII_KEY"])
    assert settings.warnings == ()


def test_an_unknown_mode_is_refused_by_name():
    with pytest.raises(ConfigError, match="CRM_ENV must be development, production or test"):
        load_settings({"CRM_ENV": "staging"})


def test_development_generates_keys_under_the_instance_path_once(instance):
    environ = {"CRM_INSTANCE_PATH": str(instance)}

    first = load_settings(environ)

    assert first.env == "development"
    secret_file, pii_file = instance / "secret_key", instance / "pii_key"
    assert secret_file.read_text().strip() == first.secret_key
    assert pii_file.read_text().strip() == first.pii_key
    assert len(first.secret_key) == 64
    assert len(base64.b64decode(first.pii_key)) == 32
    for path in (secret_file, pii_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.warnings) == 2
    assert all("generated a development" in warning for warning in first.warnings)
    assert str(secret_file) in first.warnings[0]
    assert str(pii_file) in first.warnings[1]

    second = load_settings(environ)

    assert (second.secret_key, second.pii_key) == (first.secret_key, first.pii_key)
    assert second.warnings == (
        "using the development SECRET_KEY from instance/",
        "using the development PII_KEY from instance/",
    )


def test_development_keys_from_the_environment_need_no_files(instance):
    settings = load_settings({"CRM_INSTANCE_PATH": str(instance), **KEYS})

    assert (settings.secret_key, settings.pii_key) == (KEYS["SECRET_KEY"], KEYS["PII_KEY"])
    assert settings.warnings == ()
    assert not instance.exists()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://crm:pw@db:5432/crm", "postgresql+psycopg://crm:pw@db:5432/crm"),
        ("postgresql://crm@127.0.0.1/crm", "postgresql+psycopg://crm@127.0.0.1/crm"),
        ("postgresql+psycopg://crm@db/crm", "postgresql+psycopg://crm@db/crm"),
        ("sqlite:////var/lib/crm/crm.sqlite3", "sqlite:////var/lib/crm/crm.sqlite3"),
    ],
)
def test_database_urls_are_normalised_to_psycopg_3(instance, given, expected):
    settings = load_settings({"CRM_INSTANCE_PATH": str(instance), "DATABASE_URL": given, **KEYS})

    assert settings.database_url == expected
    assert settings.uses_postgres is expected.startswith("postgresql")


def test_the_default_database_is_sqlite_under_the_instance_path(instance):
    keys = {"SECRET_KEY": KEYS["SECRET_KEY"], "PII_KEY": KEYS["PII_KEY"]}
    settings = load_settings({"CRM_INSTANCE_PATH": str(instance), **keys})

    assert settings.database_url == f"sqlite:///{instance / 'crm.sqlite3'}"
    assert settings.embedded
    assert settings.wechat_sandbox and settings.sandbox_enabled


def test_production_app_has_secure_http_only_lax_cookies(app, tmp_path):
    production = create_app(
        app_config(
            tmp_path,
            CRM_ENV="production",
            DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite3'}",
            REDIS_URL="",
            WECHAT_APP_ID="wx-prod",
            WECHAT_APP_SECRET="prod-secret",
        )
    )
    try:
        config = production.config
        assert production.extensions["crm_settings"].production
        assert config["SECRET_KEY"] == "test-secret-key"
        assert config["SESSION_COOKIE_SECURE"] is True
        assert config["SESSION_COOKIE_HTTPONLY"] is True
        assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
        assert config["REMEMBER_COOKIE_SECURE"] is True
        assert config["REMEMBER_COOKIE_HTTPONLY"] is True
        assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
        # The test app (not production) lets cookies travel over plain http for local use.
        assert app.config["SESSION_COOKIE_SECURE"] is False
    finally:
        with production.app_context():
            db.engine.dispose()
        crypto.configure(app.extensions["crm_settings"].pii_key)
        limiter.init_app(app)
