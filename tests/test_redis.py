"""With REDIS_URL set, the login rate limit is kept in the real Redis (shared by every web
process), not in one process's memory."""

from __future__ import annotations

import redis

from tests.conftest import login


def test_login_attempts_are_counted_in_redis(client, org, redis_url, app):
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    server = redis.Redis.from_url(redis_url)
    try:
        login(client, org.store_admin_a, password="wrong-password")
        key = "LIMITS:LIMITER/127.0.0.1/console.login/5/1/minute"
        assert server.get(key) == b"1"
        login(client, org.store_admin_a, password="wrong-password")
        assert server.get(key) == b"2"
    finally:
        server.close()
