"""Readiness and self-diagnosis: what ``/readyz`` and ``flask doctor`` report.

Each check returns one line a person can act on; none raises.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from crm.config import PROJECT_ROOT, Settings
from crm.services import care_channels
from wechat.client import official_account_client

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # Worth a look but not a failure (printed WARN; ``doctor`` still exits 0).
    warning: bool = False

    def line(self) -> str:
        status = "FAIL" if not self.ok else "WARN" if self.warning else "OK  "
        return f"{status} {self.name}: {self.detail}"


def check_configuration(settings: Settings) -> Check:
    problems = []
    if settings.production:
        if settings.database_url.startswith("sqlite"):
            problems.append("DATABASE_URL is SQLite; production runs on PostgreSQL")
        if not settings.redis_url:
            problems.append("REDIS_URL is not set; production needs Redis")
    if problems:
        return Check("configuration", False, "; ".join(problems))
    return Check("configuration", True, f"{settings.env} mode")


def check_database(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable"
        session.rollback()
        return Check(
            "database", False, f"cannot query: {type(exc).__name__}: {exc}".splitlines()[0]
        )
    return Check("database", True, f"{session.get_bind().dialect.name} reachable")


def migration_heads() -> set[str]:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return set(ScriptDirectory.from_config(config).get_heads())


def check_migrations(session: Session) -> Check:
    try:
        current = set(MigrationContext.configure(session.connection()).get_current_heads())
    except Exception as exc:
        session.rollback()
        return Check("migrations", False, f"cannot read revision: {exc}".splitlines()[0])
    heads = migration_heads()
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        return Check(
            "migrations",
            False,
            f"database at {have}, code at {', '.join(sorted(heads))}; "
            "run flask --app app db upgrade",
        )
    return Check("migrations", True, f"at head {', '.join(sorted(heads))}")


def check_redis(settings: Settings) -> Check:
    if not settings.redis_url:
        if settings.production:
            return Check("redis", False, "REDIS_URL is not set")
        return Check("redis", True, "not configured: in-process cache and locks (embedded mode)")
    try:
        client = redis.Redis.from_url(
            settings.redis_url, socket_timeout=2, socket_connect_timeout=2
        )
        client.ping()
    except redis.RedisError as exc:
        return Check("redis", False, f"cannot reach {settings.redis_url}: {exc}")
    return Check("redis", True, "reachable")


def check_wechat(settings: Settings) -> Check:
    if settings.wechat_sandbox:  # never in production: load_settings refuses it
        return Check(
            "wechat", True, "sandbox (no credentials set): WeChat calls are answered locally"
        )
    try:
        official_account_client(settings).fetch_access_token()
    except WeChatClientException as exc:
        return Check("wechat", False, f"token refused: errcode {exc.errcode} {exc.errmsg}")
    except Exception as exc:  # network errors of every kind
        return Check("wechat", False, f"cannot reach {settings.wechat_api_base_url}: {exc}")
    return Check("wechat", True, f"access token obtained from {settings.wechat_api_base_url}")


def check_care_channels(session: Session) -> list[Check]:
    """One line per group naming the care kinds it has no usable channel for (未配置 in the
    console's 关怀渠道): their reminders would end ``no_channel`` (issue 8 "Channels")."""
    checks = []
    for group, kinds in care_channels.unconfigured_by_group(session):
        name = f"care channels {group.name}"
        if kinds:
            labels = "、".join(kind.label for kind in kinds)
            detail = f"未配置 {labels}; configure them in the console (关怀渠道)"
            checks.append(Check(name, True, detail, warning=True))
        else:
            checks.append(Check(name, True, "every care kind has a channel"))
    return checks


def readiness(session: Session, settings: Settings) -> list[Check]:
    return [check_database(session), check_redis(settings), check_wechat(settings)]


def diagnose(session: Session, settings: Settings) -> list[Check]:
    database = check_database(session)
    checks = [check_configuration(settings), database]
    migrations = check_migrations(session) if database.ok else None
    if migrations is not None:
        checks.append(migrations)
    checks += [check_redis(settings), check_wechat(settings)]
    if migrations is not None and migrations.ok:
        checks += check_care_channels(session)
    return checks
