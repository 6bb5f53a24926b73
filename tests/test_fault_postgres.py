"""PostgreSQL restarted under load (issue 12 "Faults survived"): while the database is down,
pages answer a clear 503 at once instead of hanging; once it is back, the same gunicorn serves
again without a restart, and the dispatcher that was sending through the outage loses no
outbox row and sends again at most the rows it had in flight.

The test runs a PostgreSQL cluster of its own (initdb in a temporary directory), so it can
stop and start it without touching the suite's database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from flask_migrate import upgrade
from sqlalchemy import select

from crm import clock, create_app
from crm.extensions import db
from crm.models import OutboxMessage, OutboxState
from crm.services import outbox
from jobs import outbox as outbox_job
from tests.conftest import TEST_PII_KEY, app_config
from tests.factories import PASSWORD
from tests.support.followers import followed_customers
from tests.support.org import build_org
from tests.test_browser import (
    BIN,
    PROJECT_ROOT,
    _control_socket_options,
    _free_port,
    _server_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MESSAGES = 40
ANSWER_WITHIN = 8  # seconds: a request during the outage is answered, never left hanging


class PostgresCluster:
    """A throw-away PostgreSQL server on a free port, stopped and started by the test."""

    def __init__(self):
        versions = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
        )
        if not versions:
            pytest.fail("PostgreSQL server binaries are not installed")
        self.bin = versions[-1]
        self.port = _free_port()
        # pytest's temporary directories are private to root; the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="crm-fault-pg-"))
        self.dir.chmod(0o755)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/crm"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.dir / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
        )
        self.start()
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "crm",
        )

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"
        )

    def destroy(self) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                *prefix,
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    server = PostgresCluster()
    try:
        server.create()
        yield server
    finally:
        server.destroy()


class Dispatcher(threading.Thread):
    """The jobs process's dispatcher: runs again and again, as the scheduler does every
    minute, and — like the scheduler — survives a run that fails."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app = app
        self.stopping = threading.Event()
        self.failures = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.app.app_context():
                try:
                    outbox_job.dispatch(db.session, clock.now())
                except Exception:
                    self.failures += 1
                finally:
                    db.session.remove()
            self.stopping.wait(0.2)


def test_pages_answer_503_during_a_database_restart_and_recover_without_an_app_restart(
    tmp_path, cluster, fake_wechat
):
    fake = fake_wechat.fake
    fake.latency = 0.05
    app = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=cluster.url,
            WECHAT_APP_ID=fake.app_id,
            WECHAT_APP_SECRET=fake.app_secret,
            WECHAT_API_BASE_URL=fake_wechat.base_url,
            DISPATCH_CONCURRENCY="1",
        )
    )
    with app.app_context():
        upgrade()
        org = build_org()
        db.session.commit()
        admin_phone = org.store_admin_a.phone
        store_id, customer_ids = followed_customers(fake, MESSAGES, clock.now())
        for number, customer_id in enumerate(customer_ids):
            outbox.enqueue(
                db.session,
                store_id=store_id,
                customer_id=customer_id,
                kind="new_car",
                due_on=date.today(),
                dedupe_key=f"new_car:fault-{number}",
                fields={"keyword1": f"fault-{number}"},
                url="/m/",
                not_before=clock.now() - timedelta(minutes=1),
                now=clock.now(),
            )
        db.session.commit()
        db.session.remove()

    port = _free_port()
    env = {**_server_env(tmp_path, cluster.url), "PII_KEY": TEST_PII_KEY}
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "30",
            *_control_socket_options(tmp_path),
            "app:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    dispatcher = Dispatcher(app)
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        staff = requests.Session()
        form = staff.get(f"{base}/console/login", timeout=5).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        logged_in = staff.post(
            f"{base}/console/login",
            data={"csrf_token": token, "phone": admin_phone, "password": PASSWORD},
            timeout=5,
            allow_redirects=False,
        )
        assert logged_in.status_code == 302
        assert staff.get(f"{base}/console/customers", timeout=5).status_code == 200

        dispatcher.start()
        deadline = time.monotonic() + 30
        while len(fake.sent) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(fake.sent) >= 5, "the dispatcher never started sending"

        cluster.stop()
        started = time.monotonic()
        page = staff.get(f"{base}/console/customers", timeout=ANSWER_WITHIN)
        assert time.monotonic() - started < ANSWER_WITHIN
        assert page.status_code == 503
        assert "系统繁忙" in page.text and page.headers["Retry-After"] == "5"
        assert requests.get(f"{base}/healthz", timeout=ANSWER_WITHIN).status_code == 200
        time.sleep(1)

        cluster.start()
        answers = []
        for _ in range(20):
            answers.append(staff.get(f"{base}/console/customers", timeout=ANSWER_WITHIN))
            if answers[-1].status_code == 200:
                break
            time.sleep(0.5)
        assert answers[-1].status_code == 200, [a.status_code for a in answers]
        assert web.poll() is None  # the same gunicorn, never restarted

        with app.app_context():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                left = db.session.scalar(
                    select(db.func.count()).where(OutboxMessage.state == OutboxState.PENDING)
                )
                db.session.remove()
                if not left:
                    break
                time.sleep(0.2)
            dispatcher.stopping.set()
            dispatcher.join(30)
            in_flight = db.session.scalar(
                select(db.func.count()).where(OutboxMessage.state == OutboxState.SENDING)
            )
            # Rows the outage caught in flight go back after the stale-claim time.
            outbox_job.dispatch(db.session, clock.now() + timedelta(minutes=11))
            states = Counter(db.session.scalars(select(OutboxMessage.state)))
            db.session.remove()
    finally:
        dispatcher.stopping.set()
        web.terminate()
        web.wait(30)
        with app.app_context():
            db.engine.dispose()

    assert dispatcher.failures >= 1  # the outage did hit the dispatcher
    assert states == Counter({OutboxState.SENT.value: MESSAGES})
    with fake.lock:
        received = Counter(m["data"]["keyword1"]["value"] for m in fake.sent)
    assert set(received) == {f"fault-{n}" for n in range(MESSAGES)}  # nothing lost
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= in_flight  # sent twice: only rows in flight when the database went
