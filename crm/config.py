"""Every setting, read from the environment in one place.

Embedded mode (the default) needs nothing: SQLite under ``instance/``, no Redis, the WeChat
sandbox, and dev keys generated under ``instance/`` on first run. Production mode
(``CRM_ENV=production``) refuses to start without ``SECRET_KEY``, ``PII_KEY`` and the WeChat
credentials (no sandbox in production).
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WECHAT_DEFAULT_API_BASE = "https://api.weixin.qq.com"


class ConfigError(RuntimeError):
    """The configuration cannot run; the message names the variable."""


def _bounded_int(env, name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    env: str = "development"  # development | production | test
    instance_path: Path = PROJECT_ROOT / "instance"
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    pii_key: str = ""
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_token: str = ""
    wechat_aes_key: str = ""
    miniprogram_app_id: str = ""
    miniprogram_app_secret: str = ""
    wechat_api_base_url: str = WECHAT_DEFAULT_API_BASE
    qweather_key: str = ""
    qweather_api_base_url: str = "https://devapi.qweather.com"
    timezone: str = "Asia/Shanghai"
    login_rate_limit: str = "5 per minute"
    public_base_url: str = "http://127.0.0.1:5000"  # where WeChat sends people (menu links)
    # The scheduler's leader lease (crm/services/leader.py): a standby ``jobs run`` takes over
    # within this many seconds (plus one retry) of the leader's death.
    jobs_lease_seconds: int = 30
    # Messages the dispatcher has in flight to WeChat at once (issue 8; default 16).
    dispatch_concurrency: int = 16
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def debug(self) -> bool:
        return not self.production

    @property
    def embedded(self) -> bool:
        """SQLite and no Redis: the one-laptop mode."""
        return self.database_url.startswith("sqlite") and not self.redis_url

    @property
    def wechat_sandbox(self) -> bool:
        return not (self.wechat_app_id and self.wechat_app_secret)

    @property
    def sandbox_enabled(self) -> bool:
        """The offline WeChat stand-in and its log-ins: never in production mode."""
        return self.wechat_sandbox and not self.production

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def with_overrides(self, **overrides) -> Settings:
        return replace(self, **overrides)


def _normalise_database_url(url: str) -> str:
    # Heroku-style and plain postgres:// URLs mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _dev_key(instance_path: Path, name: str, make) -> tuple[str, str | None]:
    """Read a generated key from instance/, creating it on first run (embedded mode only)."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip(), None
    instance_path.mkdir(parents=True, exist_ok=True)
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value, f"generated a development {name} under {path}; set it in the environment"


def load_settings(environ: dict | None = None, **overrides) -> Settings:
    """Build the settings from ``environ`` (default ``os.environ``) plus explicit overrides."""
    env = os.environ if environ is None else environ
    mode = env.get("CRM_ENV", "development").strip().lower() or "development"
    if mode not in ("development", "production", "test"):
        raise ConfigError(f"CRM_ENV must be development, production or test, not {mode!r}")
    instance_path = Path(env.get("CRM_INSTANCE_PATH") or PROJECT_ROOT / "instance")
    database_url = _normalise_database_url(
        env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'crm.sqlite3'}"
    )
    warnings: list[str] = []

    secret_key = env.get("SECRET_KEY", "")
    pii_key = env.get("PII_KEY", "")
    if mode == "production":
        # The WeChat sandbox is refused in production: real credentials are required.
        required = (
            ("SECRET_KEY", secret_key),
            ("PII_KEY", pii_key),
            ("WECHAT_APP_ID", env.get("WECHAT_APP_ID", "")),
            ("WECHAT_APP_SECRET", env.get("WECHAT_APP_SECRET", "")),
        )
        missing = [name for name, value in required if not value]
        if missing:
            raise ConfigError(f"production mode needs {', '.join(missing)} in the environment")
    else:
        if not secret_key:
            secret_key, warning = _dev_key(
                instance_path, "secret_key", lambda: secrets.token_hex(32)
            )
            warnings.append(warning or "using the development SECRET_KEY from instance/")
        if not pii_key:
            pii_key, warning = _dev_key(
                instance_path, "pii_key", lambda: base64.b64encode(os.urandom(32)).decode()
            )
            warnings.append(warning or "using the development PII_KEY from instance/")

    settings = Settings(
        env=mode,
        instance_path=instance_path,
        database_url=database_url,
        redis_url=env.get("REDIS_URL", ""),
        secret_key=secret_key,
        pii_key=pii_key,
        wechat_app_id=env.get("WECHAT_APP_ID", ""),
        wechat_app_secret=env.get("WECHAT_APP_SECRET", ""),
        wechat_token=env.get("WECHAT_TOKEN", ""),
        wechat_aes_key=env.get("WECHAT_AES_KEY", ""),
        miniprogram_app_id=env.get("MINIPROGRAM_APP_ID", ""),
        miniprogram_app_secret=env.get("MINIPROGRAM_APP_SECRET", ""),
        wechat_api_base_url=(env.get("WECHAT_API_BASE_URL") or WECHAT_DEFAULT_API_BASE).rstrip("/"),
        qweather_key=env.get("QWEATHER_KEY", ""),
        qweather_api_base_url=(
            env.get("QWEATHER_API_BASE_URL") or "https://devapi.qweather.com"
        ).rstrip("/"),
        login_rate_limit=env.get("LOGIN_RATE_LIMIT", "5 per minute"),
        public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        jobs_lease_seconds=_bounded_int(env, "JOBS_LEASE_SECONDS", 30, 1, 3600),
        dispatch_concurrency=_bounded_int(env, "DISPATCH_CONCURRENCY", 16, 1, 64),
        warnings=tuple(warnings),
    )
    return settings.with_overrides(**overrides) if overrides else settings
