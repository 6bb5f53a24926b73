"""A dispatcher killed at random points loses nothing and re-sends at most the rows that were in
flight (ARCHITECTURE rule 2; issue 8 "Planner → outbox → dispatcher": a crash test that kills
the dispatcher with SIGKILL at random points over 50 runs).

Each run queues a batch, lets a real dispatcher process (``jobs.outbox.dispatch``, as the
scheduler runs it) send to the fake WeChat server, which answers slowly so the kill lands
mid-flight, SIGKILLs it after a random delay, then runs a clean dispatcher past the stale-claim
time until nothing is due. The first run is not killed: it measures how long a whole dispatch
takes, and the kills fall anywhere in that time. A warm process forks each dispatcher, so a
run costs milliseconds of start-up instead of an app import.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select as query

from crm.config import PROJECT_ROOT
from crm.extensions import db
from crm.models import OutboxMessage, OutboxState
from crm.services import dispatcher, outbox
from tests.conftest import TEST_PII_KEY
from tests.support import servers
from tests.support.followers import followed_customers
from wechat.client import SharedTokenClient

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, outside the quiet hours
AFTER_THE_CRASH = NOW + dispatcher.STALE_CLAIM + timedelta(seconds=1)
RUNS = 50
MESSAGES = 20  # per run
LATENCY = 0.03  # seconds the fake WeChat takes to answer each call

# Imports the app once, then forks one dispatcher per line read from stdin and reports its pid
# and how it ended (an exit code, or minus the signal that killed it).
FORK_SERVER = """
import os, sys, traceback
from datetime import datetime
from sqlalchemy.orm import configure_mappers
from crm import create_app
from crm.extensions import db
from jobs import outbox

app = create_app()
configure_mappers()  # once here, not in every dispatcher
now = datetime.fromisoformat(sys.argv[1])
print("ready", flush=True)
for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            with app.app_context():
                outbox.dispatch(db.session, now)
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    print(f"started {pid}", flush=True)
    _, waited = os.waitpid(pid, 0)
    print(f"ended {os.waitstatus_to_exitcode(waited)}", flush=True)
"""


def queue_run(run: int, store_id: int, customer_ids: list[int]) -> None:
    """One message per customer; its text names the run and the customer, so the fake's
    record tells each message apart."""
    for number, customer_id in enumerate(customer_ids):
        outbox.enqueue(
            db.session,
            store_id=store_id,
            customer_id=customer_id,
            kind="new_car",
            due_on=date(2026, 6, 15),
            dedupe_key=f"new_car:crash-{run}-{number}",
            fields={"keyword1": f"{run}-{number}"},
            url="/m/",
            not_before=NOW,
            now=NOW,
        )
    db.session.commit()


def states(run: int) -> dict[str, str]:
    """The run's rows: message text → state, read afresh."""
    db.session.rollback()
    rows = db.session.execute(
        query(OutboxMessage.payload, OutboxMessage.state).where(
            OutboxMessage.dedupe_key.like(f"new_car:crash-{run}-%")
        )
    ).all()
    db.session.rollback()
    return {payload["data"]["keyword1"]: state for payload, state in rows}


def received(fake, run: int) -> Counter:
    """How often the fake WeChat accepted each of the run's messages."""
    with fake.lock:
        texts = [message["data"]["keyword1"]["value"] for message in fake.sent]
    return Counter(text for text in texts if text.startswith(f"{run}-"))


class ForkServer:
    def __init__(self, env: dict[str, str], log):
        self.process = subprocess.Popen(
            [sys.executable, "-c", FORK_SERVER, NOW.isoformat()],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            bufsize=0,
        )
        self.log = log
        assert self.line(60) == "ready"

    def line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"the fork server said nothing for {timeout} s: {self.errors()}")
        text = self.process.stdout.readline().decode().strip()
        if not text:
            raise AssertionError(f"the fork server died: {self.errors()}")
        return text

    def errors(self) -> str:
        self.log.flush()
        return open(self.log.name).read()

    def start_dispatcher(self) -> int:
        self.process.stdin.write(b"go\n")
        started = self.line(30)
        assert started.startswith("started "), started
        return int(started.split()[1])

    def ended(self) -> int:
        ended = self.line(60)
        assert ended.startswith("ended "), ended
        return int(ended.split()[1])

    def close(self) -> None:
        with suppress(BrokenPipeError):
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process.stdout.close()


def test_a_dispatcher_killed_at_random_points_loses_nothing_and_resends_only_rows_in_flight(
    race_app, fake_wechat, tmp_path
):
    fake = fake_wechat.fake
    store_id, customer_ids = followed_customers(fake, MESSAGES, NOW)
    env = {
        **os.environ,
        "CRM_ENV": "test",
        "CRM_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-key",
        "PII_KEY": TEST_PII_KEY,
        "DATABASE_URL": race_app.extensions["crm_settings"].database_url,
        "REDIS_URL": servers.REDIS_URL,
        "WECHAT_APP_ID": fake.app_id,
        "WECHAT_APP_SECRET": fake.app_secret,
        "WECHAT_API_BASE_URL": fake_wechat.base_url,
    }
    clean = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)
    chance = random.Random(8)  # the same kill points every time the test runs
    killed_mid_flight = 0
    whole_dispatch = None  # seconds, measured by the first run
    with open(tmp_path / "dispatchers.log", "w") as log:
        server = ForkServer(env, log)
        try:
            for run in range(RUNS):
                queue_run(run, store_id, customer_ids)
                fake.latency = LATENCY
                pid = server.start_dispatcher()
                started = time.monotonic()
                if whole_dispatch is not None:
                    time.sleep(chance.uniform(0, whole_dispatch))
                    with suppress(ProcessLookupError):  # it may have finished already
                        os.kill(pid, signal.SIGKILL)
                ended = server.ended()
                assert ended in (0, -signal.SIGKILL), server.errors()
                if whole_dispatch is None:
                    assert ended == 0, server.errors()
                    whole_dispatch = time.monotonic() - started
                # Calls the dead dispatcher made are still being answered: let them land.
                time.sleep(LATENCY * 2)
                at_the_kill = states(run)
                in_flight = {text for text, state in at_the_kill.items() if state == "sending"}
                killed_mid_flight += bool(in_flight)

                fake.latency = 0
                while dispatcher.dispatch(db.session, clean, "https://x", AFTER_THE_CRASH):
                    pass

                counts = received(fake, run)
                assert set(states(run).values()) == {OutboxState.SENT.value}, run
                lost = set(at_the_kill) - set(counts)
                assert not lost, f"run {run}: never reached WeChat: {sorted(lost)}"
                twice = {text: count for text, count in counts.items() if count > 1}
                assert set(twice) <= in_flight, f"run {run}: re-sent rows not in flight {twice}"
                assert sum(twice.values()) - len(twice) <= len(in_flight)
        finally:
            fake.latency = 0
            server.close()

    # The kills really landed while messages were on their way, often enough to mean something
    # (about half of them do; a tenth is the floor below which the test would prove little).
    assert killed_mid_flight >= RUNS // 10, (killed_mid_flight, whole_dispatch)
    sent_rows = db.session.scalars(query(OutboxMessage.state)).all()
    assert sent_rows == [OutboxState.SENT.value] * (RUNS * MESSAGES)
