"""The scheduler's leader lease (issue 8: a second ``jobs run`` stays idle behind a leader lock,
Redis in production and the database in embedded mode, and takes over within 60 s when the
leader dies; the scheduler never starts inside gunicorn workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import update

from crm import clock, coordination
from crm.config import PROJECT_ROOT, load_settings
from crm.extensions import db
from crm.models import LeaderLease
from crm.services import leader
from tests.conftest import FROZEN_AT, TEST_PII_KEY
from tests.support import servers
from tests.support.scratch import scratch_app

TTL = timedelta(seconds=30)
BIN = Path(sys.executable).parent  # the virtualenv's bin/, where ``flask`` lives
LEASE_SECONDS = 3  # the processes' lease: a takeover within about 4 s
TAKEOVER_LIMIT = 60  # seconds (issue 8)


# --- the database lease -----------------------------------------------------------------------


def test_the_first_holder_takes_a_free_lease_and_a_second_is_refused(session):
    assert leader.take(session, "scheduler", "host-a:1:aa", TTL, FROZEN_AT)
    assert not leader.take(session, "scheduler", "host-b:2:bb", TTL, FROZEN_AT)
    assert not leader.take(session, "scheduler", "host-b:2:bb", TTL, FROZEN_AT + TTL)
    assert leader.holder_of(session, "scheduler", FROZEN_AT + TTL) == "host-a:1:aa"


def test_the_holder_renews_its_lease_and_the_expiry_moves_on(session):
    assert leader.take(session, "scheduler", "host-a:1:aa", TTL, FROZEN_AT)
    renewed_at = FROZEN_AT + timedelta(seconds=10)
    assert leader.take(session, "scheduler", "host-a:1:aa", TTL, renewed_at)

    lease = session.get(LeaderLease, "scheduler")
    session.refresh(lease)
    assert (lease.holder, lease.expires_at) == ("host-a:1:aa", renewed_at + TTL)
    # Past the first expiry, the renewed lease still stands.
    later = FROZEN_AT + TTL + timedelta(seconds=5)
    assert not leader.take(session, "scheduler", "host-b:2:bb", TTL, later)
    assert leader.holder_of(session, "scheduler", later) == "host-a:1:aa"


def test_an_expired_lease_is_taken_over_and_its_old_holder_cannot_renew_it(session):
    assert leader.take(session, "scheduler", "host-a:1:aa", TTL, FROZEN_AT)
    after_expiry = FROZEN_AT + TTL + timedelta(seconds=1)
    assert leader.holder_of(session, "scheduler", after_expiry) is None

    assert leader.take(session, "scheduler", "host-b:2:bb", TTL, after_expiry)
    assert not leader.take(session, "scheduler", "host-a:1:aa", TTL, after_expiry)
    assert leader.holder_of(session, "scheduler", after_expiry) == "host-b:2:bb"


def test_only_the_holder_can_release_the_lease(session):
    assert leader.take(session, "scheduler", "host-a:1:aa", TTL, FROZEN_AT)
    assert not leader.give_up(session, "scheduler", "host-b:2:bb")
    assert leader.holder_of(session, "scheduler", FROZEN_AT) == "host-a:1:aa"
    assert leader.give_up(session, "scheduler", "host-a:1:aa")
    assert leader.take(session, "scheduler", "host-b:2:bb", TTL, FROZEN_AT)


def test_leases_of_different_names_do_not_block_each_other(session):
    assert leader.take(session, "scheduler", "host-a:1:aa", TTL, FROZEN_AT)
    assert leader.take(session, "another", "host-b:2:bb", TTL, FROZEN_AT)


def test_a_process_knows_it_holds_the_lease_only_after_taking_it(session, frozen_now):
    mine = leader.DatabaseLease(session, "scheduler", leader.holder_id(), 30)
    theirs = leader.DatabaseLease(session, "scheduler", leader.holder_id(), 30)
    assert not mine.held()
    assert mine.hold() and mine.held()
    assert not theirs.hold() and not theirs.held()
    assert theirs.current_holder() == mine.holder
    mine.release()
    assert not mine.held() and mine.current_holder() is None
    assert theirs.hold()


def test_the_holder_id_names_host_and_process_and_differs_each_time():
    first, second = leader.holder_id(), leader.holder_id()
    assert first != second
    assert first.split(":")[-2] == str(os.getpid())


def test_the_lease_is_kept_in_redis_when_configured_and_in_the_database_otherwise(
    session, tmp_path
):
    environ = {"CRM_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s", "PII_KEY": TEST_PII_KEY}
    embedded = load_settings(environ)
    production = load_settings({**environ, "REDIS_URL": "redis://127.0.0.1:1/0"})
    assert isinstance(leader.lease_for(embedded, session), leader.DatabaseLease)
    lease = leader.lease_for(production, session)
    assert isinstance(lease, leader.RedisLease) and lease.key == "crm:leader:scheduler"
    assert embedded.jobs_lease_seconds == lease.ttl_seconds == 30


# --- the Redis lease ----------------------------------------------------------------------------


@pytest.fixture
def redis_client(redis_url):
    client = coordination.redis_client(redis_url)
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield client, name
    client.delete(f"{coordination.KEY_PREFIX}:leader:{name}")


def test_redis_lease_first_holder_wins_and_a_second_is_refused(redis_client):
    client, name = redis_client
    first = leader.RedisLease(client, name, "host-a:1:aa", 30)
    second = leader.RedisLease(client, name, "host-b:2:bb", 30)
    assert first.hold()
    assert not second.hold()
    assert client.get(first.key) == b"host-a:1:aa"
    assert 29_000 < client.pttl(first.key) <= 30_000


def test_redis_lease_renewal_extends_only_the_holders_expiry(redis_client):
    client, name = redis_client
    first = leader.RedisLease(client, name, "host-a:1:aa", 30)
    second = leader.RedisLease(client, name, "host-b:2:bb", 30)
    assert first.hold()
    client.pexpire(first.key, 5_000)  # as if 25 s had passed
    assert not second.hold()
    assert client.pttl(first.key) <= 5_000  # the refused holder did not extend it
    assert first.hold()
    assert client.pttl(first.key) > 29_000


def test_redis_lease_expires_and_is_taken_over(redis_client):
    client, name = redis_client
    first = leader.RedisLease(client, name, "host-a:1:aa", 0.2)
    second = leader.RedisLease(client, name, "host-b:2:bb", 30)
    assert first.hold()
    assert not second.hold()
    time.sleep(0.3)
    assert second.hold()
    assert not first.hold()  # the old holder's renewal finds someone else's key
    assert second.current_holder() == "host-b:2:bb"


def test_redis_lease_release_leaves_another_holders_key_alone(redis_client):
    client, name = redis_client
    first = leader.RedisLease(client, name, "host-a:1:aa", 30)
    second = leader.RedisLease(client, name, "host-b:2:bb", 30)
    assert first.hold()
    second.release()
    assert first.current_holder() == "host-a:1:aa"
    first.release()
    assert first.current_holder() is None
    assert second.hold()


# --- jobs run -----------------------------------------------------------------------------------


def test_the_scheduler_refuses_to_start_inside_gunicorn(cli, app, monkeypatch):
    # gunicorn's arbiter sets this for itself and every worker it forks.
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/27.0.1")
    with app.app_context():
        result = cli.invoke(args=["jobs", "run", "--once"])
    assert result.exit_code != 0
    assert "never runs inside gunicorn" in result.output
    assert "return_stale_leads" not in result.output


def test_jobs_run_once_stands_aside_while_another_process_leads(cli, app, session):
    other = leader.lease_for(app.extensions["crm_settings"], session)
    assert other.hold()
    try:
        with app.app_context():
            refused = cli.invoke(args=["jobs", "run", "--once"])
        assert refused.exit_code == 1
        assert "another jobs process holds the scheduler lease" in refused.output
        assert other.holder in refused.output
        assert "return_stale_leads:" not in refused.output
        assert other.current_holder() == other.holder  # its lease untouched
    finally:
        other.release()

    with app.app_context():
        ran = cli.invoke(args=["jobs", "run", "--once"])
    assert ran.exit_code == 0, ran.output
    assert "return_stale_leads: 0" in ran.output
    assert other.current_holder() is None  # released when done


class Jobs:
    """Two real ``flask --app app jobs run`` processes on one scratch database."""

    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.tmp_path = tmp_path
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        with open(self.tmp_path / f"{name}.log", "wb") as log:
            process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "jobs", "run"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(f"--- {name}:\n{self.log(name)}" for name in self.processes)

    def named(self, pid: int) -> str:
        return next(name for name, p in self.processes.items() if p.pid == pid)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait(10)


def wait_for(what: str, check: Callable, jobs: Jobs, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"not within {timeout} s: {what}\n{jobs.logs()}")


def holder_pid(holder: str | None) -> int | None:
    return int(holder.split(":")[-2]) if holder else None


@pytest.mark.parametrize("store", ["database", "redis"])
def test_a_standby_scheduler_takes_over_when_the_leader_is_killed(tmp_path, store, request):
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else ""
    dialect = "postgresql" if servers.uses_postgres() else "sqlite"
    with scratch_app(tmp_path, dialect) as app:
        upgrade()
        settings = app.extensions["crm_settings"].with_overrides(redis_url=redis_url)
        watcher = leader.lease_for(settings, db.session)  # reads the lease; never takes it

        def steal() -> None:
            if redis_url:
                watcher.client.set(watcher.key, "intruder:1:00", px=3_600_000)
                return
            db.session.execute(
                update(LeaderLease).values(
                    holder="intruder:1:00", expires_at=clock.now() + timedelta(hours=1)
                )
            )
            db.session.commit()

        def free() -> None:
            if redis_url:
                watcher.client.delete(watcher.key)
            else:
                leader.give_up(db.session, leader.SCHEDULER, "intruder:1:00")

        free()

        env = {
            **os.environ,
            "CRM_ENV": "test",
            "CRM_INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-key",
            "PII_KEY": TEST_PII_KEY,
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": redis_url,
            "WECHAT_APP_ID": "",
            "WECHAT_APP_SECRET": "",
            "JOBS_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        jobs = Jobs(tmp_path, env)
        try:
            jobs.start("a")
            jobs.start("b")
            first = wait_for(
                "one process leads",
                lambda: holder_pid(watcher.current_holder()),
                jobs,
            )
            leader_name = jobs.named(first)
            standby_name = "b" if leader_name == "a" else "a"
            standby = jobs.processes[standby_name]
            wait_for("the other stands by", lambda: "standing by" in jobs.log(standby_name), jobs)
            assert "leading as" in jobs.log(leader_name)
            assert "leading as" not in jobs.log(standby_name)
            assert holder_pid(watcher.current_holder()) == first  # still the same leader

            jobs.processes[leader_name].send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            wait_for(
                "the standby takes over",
                lambda: holder_pid(watcher.current_holder()) == standby.pid,
                jobs,
                timeout=TAKEOVER_LIMIT,
            )
            assert time.monotonic() - killed_at < TAKEOVER_LIMIT
            wait_for("it says so", lambda: "leading as" in jobs.log(standby_name), jobs)

            # A leader whose lease was taken pauses its jobs, then leads again once it is free.
            steal()
            wait_for(
                "the leader notices it lost the lease",
                lambda: "lost the scheduler lease; jobs paused" in jobs.log(standby_name),
                jobs,
            )
            assert standby.poll() is None
            free()
            wait_for(
                "it leads again",
                lambda: jobs.log(standby_name).count("leading as") == 2,
                jobs,
            )

            # A clean stop frees the lease at once for the next process.
            standby.send_signal(signal.SIGTERM)
            assert standby.wait(30) == 0, jobs.logs()
            assert watcher.current_holder() is None
            assert "scheduler stopped" in jobs.log(standby_name)
        finally:
            jobs.stop_all()
            free()
