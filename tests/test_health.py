"""Liveness (``/healthz``), readiness (``/readyz``) and ``flask doctor``: each names the part
that fails and what to do about it."""

from __future__ import annotations

import pytest

from crm import create_app, crypto
from crm.extensions import db, limiter
from crm.services.health import migration_heads
from tests.conftest import app_config
from tests.support import servers

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def make_app(app, tmp_path):
    """Build extra apps with other settings; dispose their engines afterwards.

    The PII cipher and the rate limiter are process-wide, and each ``create_app`` re-points
    them, so they are handed back to the session app at the end.
    """
    built = []

    def make(**overrides):
        new = create_app(app_config(tmp_path, **overrides))
        built.append(new)
        return new

    yield make
    for new in built:
        with new.app_context():
            db.session.remove()
            db.engine.dispose()
    crypto.configure(app.extensions["crm_settings"].pii_key)
    limiter.init_app(app)


@pytest.fixture
def scratch_url(tmp_path, request):
    """A brand-new, never migrated database of the parametrised dialect (default SQLite)."""
    dialect = getattr(request, "param", "sqlite")
    url = servers.scratch_database(tmp_path, dialect)
    yield url
    if dialect == "postgresql":
        servers.drop_postgres_database(url)


def lines_of(output: str) -> dict[str, str]:
    """``{check name: whole line}`` for the check lines ``flask doctor`` prints."""
    checks = {}
    for line in output.splitlines():
        if line.startswith(("OK   ", "FAIL ")) and ":" in line:
            checks[line[5:].split(":", 1)[0]] = line
    return checks


# --- /healthz and /readyz -------------------------------------------------------------------


def test_healthz_answers_ok_without_touching_anything(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_reports_database_redis_and_wechat_ready(client):
    response = client.get("/readyz")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis", "wechat"}
    assert all(check["ok"] for check in body["checks"].values()), body
    assert "reachable" in body["checks"]["database"]["detail"]
    assert "sandbox" in body["checks"]["wechat"]["detail"]


def test_readyz_fails_naming_redis_when_redis_is_unreachable(make_app, database_url):
    app = make_app(DATABASE_URL=database_url, REDIS_URL=UNREACHABLE_REDIS)

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert body["checks"]["redis"]["ok"] is False
    assert UNREACHABLE_REDIS in body["checks"]["redis"]["detail"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["wechat"]["ok"] is True


def test_readyz_fails_naming_wechat_when_the_app_secret_is_refused(
    make_app, database_url, fake_wechat
):
    app = make_app(
        DATABASE_URL=database_url,
        WECHAT_APP_ID=fake_wechat.fake.app_id,
        WECHAT_APP_SECRET="wrong",
        WECHAT_API_BASE_URL=fake_wechat.base_url,
    )

    response = app.test_client().get("/readyz")

    assert response.status_code == 503
    wechat = response.get_json()["checks"]["wechat"]
    assert wechat["ok"] is False
    assert "errcode 40125" in wechat["detail"]
    assert fake_wechat.fake.issued_tokens == []


def test_readyz_obtains_a_wechat_token_with_the_right_secret(make_app, database_url, fake_wechat):
    app = make_app(
        DATABASE_URL=database_url,
        WECHAT_APP_ID=fake_wechat.fake.app_id,
        WECHAT_APP_SECRET=fake_wechat.fake.app_secret,
        WECHAT_API_BASE_URL=fake_wechat.base_url,
    )

    response = app.test_client().get("/readyz")

    assert response.status_code == 200, response.get_json()
    wechat = response.get_json()["checks"]["wechat"]
    assert wechat == {"ok": True, "detail": f"access token obtained from {fake_wechat.base_url}"}
    assert ("POST", "/cgi-bin/stable_token") in fake_wechat.fake.requests
    assert len(fake_wechat.fake.issued_tokens) == 1


# --- flask doctor ---------------------------------------------------------------------------


def test_doctor_passes_with_one_ok_line_per_check(cli, app):
    result = cli.invoke(args=["doctor"])

    assert result.exit_code == 0, result.output
    checks = lines_of(result.output)
    assert list(checks) == ["configuration", "database", "migrations", "redis", "wechat"]
    assert all(line.startswith("OK   ") for line in checks.values()), result.output
    assert checks["configuration"] == "OK   configuration: test mode"
    dialect = "postgresql" if servers.uses_postgres() else "sqlite"
    assert checks["database"] == f"OK   database: {dialect} reachable"
    assert (
        checks["migrations"] == f"OK   migrations: at head {', '.join(sorted(migration_heads()))}"
    )
    assert result.output.rstrip().endswith("all checks passed")


@pytest.mark.parametrize("scratch_url", ["sqlite", "postgresql"], indirect=True)
def test_doctor_fails_when_migrations_are_not_at_head(make_app, scratch_url):
    app = make_app(DATABASE_URL=scratch_url)

    result = app.test_cli_runner().invoke(args=["doctor"])

    assert result.exit_code == 1
    checks = lines_of(result.output)
    assert checks["database"].startswith("OK   database:")
    migrations = checks["migrations"]
    assert migrations.startswith("FAIL migrations: database at none, code at ")
    assert "run flask --app app db upgrade" in migrations
    assert "1 problem(s) found" in result.stderr
    assert "all checks passed" not in result.output


def test_doctor_fails_when_the_database_is_unreachable(make_app, tmp_path):
    # A SQLite file inside a directory that does not exist cannot be opened.
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'crm.sqlite3'}")

    result = app.test_cli_runner().invoke(args=["doctor"])

    assert result.exit_code == 1
    checks = lines_of(result.output)
    assert checks["database"].startswith("FAIL database: cannot query: OperationalError")
    assert "migrations" not in checks


def test_doctor_lists_production_configuration_problems(make_app, scratch_url):
    app = make_app(
        CRM_ENV="production",
        DATABASE_URL=scratch_url,
        REDIS_URL="",
        WECHAT_APP_ID="wx-prod",
        WECHAT_APP_SECRET="prod-secret",
        WECHAT_API_BASE_URL="http://127.0.0.1:1",
    )

    result = app.test_cli_runner().invoke(args=["doctor"])

    assert result.exit_code == 1
    checks = lines_of(result.output)
    assert checks["configuration"] == (
        "FAIL configuration: DATABASE_URL is SQLite; production runs on PostgreSQL; "
        "REDIS_URL is not set; production needs Redis"
    )
    assert checks["redis"] == "FAIL redis: REDIS_URL is not set"
    assert checks["wechat"].startswith("FAIL wechat: cannot reach http://127.0.0.1:1")
