"""Redis stopped (issue 12 "Faults survived"): log-in, pages and WeChat calls keep working —
rate limits, the WeChat token cache and locks fall back to the process — and the jobs leader
steps down rather than risk two leaders, then leads again once Redis is back. Each test runs
its own redis-server, stopped and started by the test."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from flask_migrate import upgrade

from crm import coordination
from crm.extensions import db
from tests.conftest import TEST_PII_KEY, login
from tests.factories import PASSWORD
from tests.support.org import build_org
from tests.support.scratch import scratch_app
from tests.test_browser import _free_port
from tests.test_leader import Jobs, wait_for
from wechat.client import SharedTokenClient

pytestmark = [pytest.mark.redis, pytest.mark.slow]

# A request must not hang on a dead Redis: refused connections fail at once.
PAGE_LIMIT_SECONDS = 3


class RedisServer:
    """A redis-server of the test's own, on a free port, that the test can stop and start."""

    def __init__(self, tmp_path: Path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.tmp_path = tmp_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    try:
        server.start()
    except FileNotFoundError:
        pytest.fail("redis-server is not installed")
    yield server
    server.stop()
    coordination.redis_client.cache_clear()


def _timed(call):
    started = time.monotonic()
    result = call()
    assert time.monotonic() - started < PAGE_LIMIT_SECONDS
    return result


def test_console_log_in_pages_and_rate_limits_work_while_redis_is_down(tmp_path, own_redis):
    with scratch_app(tmp_path, "sqlite", REDIS_URL=own_redis.url) as app:
        upgrade()
        org = build_org()
        db.session.commit()
        admin_phone = org.store_admin_a.phone

        own_redis.stop()
        client = app.test_client()
        response = _timed(lambda: login(client, org.store_admin_a))
        assert response.status_code == 302
        page = _timed(lambda: client.get("/console/customers"))
        assert page.status_code == 200 and "客户" in page.get_data(as_text=True)

        # The log-in limit (5 a minute per address) still holds, counted in this process:
        # the log-in above was the first of the five.
        stranger = app.test_client()
        answers = [
            stranger.post("/console/login", data={"phone": admin_phone, "password": "wrong"})
            for _ in range(5)
        ]
        assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]

        own_redis.start()
        # The limiter looks for its storage again within a few seconds and counts there.
        shared = redis.Redis.from_url(own_redis.url)
        for attempt in range(40):
            again = app.test_client().post(
                "/console/login",
                data={"phone": admin_phone, "password": PASSWORD},
                environ_base={"REMOTE_ADDR": f"10.0.0.{attempt + 1}"},
            )
            assert again.status_code == 302
            if shared.keys("LIMITS*"):
                break
            time.sleep(0.25)
        assert shared.keys("LIMITS*"), "rate limits never went back to Redis"


def test_the_wechat_token_is_fetched_and_kept_in_the_process_while_redis_is_down(
    own_redis, fake_wechat
):
    client = SharedTokenClient(
        fake_wechat.fake.app_id,
        fake_wechat.fake.app_secret,
        fake_wechat.base_url,
        redis_url=own_redis.url,
    )
    own_redis.stop()

    token = _timed(lambda: client.access_token)

    assert token
    assert client.access_token == token  # the process's copy, not a second fetch
    assert len(fake_wechat.fake.token_fetches) == 1

    own_redis.start()
    fresh = SharedTokenClient(
        fake_wechat.fake.app_id,
        fake_wechat.fake.app_secret,
        fake_wechat.base_url,
        redis_url=own_redis.url,
    )
    assert fresh.access_token
    stored = redis.Redis.from_url(own_redis.url).keys(f"{coordination.KEY_PREFIX}:wechat:*")
    assert stored  # back in Redis, shared by every process again


def test_the_jobs_leader_steps_down_while_redis_is_down_and_leads_again_after(tmp_path, own_redis):
    with scratch_app(tmp_path, "sqlite") as app:
        upgrade()
        env = {
            **os.environ,
            "CRM_ENV": "test",
            "CRM_INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "PII_KEY": TEST_PII_KEY,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": own_redis.url,
            "WECHAT_APP_ID": "",
            "WECHAT_APP_SECRET": "",
            "JOBS_LEASE_SECONDS": "3",
        }
        jobs = Jobs(tmp_path, env)
        try:
            jobs.start("solo")
            wait_for("it leads", lambda: "leading as" in jobs.log("solo"), jobs)

            own_redis.stop()
            wait_for(
                "it steps down",
                lambda: "lost the scheduler lease; jobs paused" in jobs.log("solo"),
                jobs,
            )
            assert jobs.processes["solo"].poll() is None  # standing by, not crashed

            own_redis.start()
            wait_for("it leads again", lambda: jobs.log("solo").count("leading as") == 2, jobs)
        finally:
            jobs.stop_all()
