"""A mixed load on gunicorn + PostgreSQL: staff work-bench, pool list, follow-up posts and
member cards from 50 concurrent clients for 60 s, against ``/healthz`` under the same load.

Issue 12 "Load": no errors, and the 95th-percentile latency of each page at most 5x that of
``/healthz`` measured in the same run; the throughput is reported. gunicorn runs with the
production settings (deploy/gunicorn.conf.py: workers from the cores, gthread) on a scratch
PostgreSQL database beside ``DATABASE_URL``, seeded with the demo group (``crm seed-demo``'s
data: two stores, every role, customers with member cards, leads); Redis from ``REDIS_URL``
when set. The H5 pages log in through the sandbox's phone log-in (no WeChat needed), each
client keeping its own session and CSRF token, as a phone does.

The clients are threads of this process on loopback, bounded in number and time: each picks
its next request from a fixed mix, waits for the answer and goes again. Run from the
repository root:

    python -m bench.load [--users 50] [--seconds 60]

Exits 1 on any error or a ratio over 5. Tests call ``run(...)``.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import select

from crm import clock, create_app
from crm.extensions import db
from crm.models import Customer, Lead, LeadStatus, MemberCard, Role, Staff

MAX_RATIO = 5.0
PROJECT_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
HEALTHZ = "healthz"
# (label, weight): what a client asks for next, drawn at random with these weights.
MIX = (
    ("workbench", 3),
    ("pool", 3),
    ("follow_up", 1),
    ("member_card", 3),
    (HEALTHZ, 2),
)
STAFF_SHARE = 0.6  # of the clients are salespeople on their phones; the rest are members
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Figures:
    users: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(len(times) for times in self.latencies.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def p95(self, label: str) -> float:
        times = sorted(self.latencies[label])
        return times[min(len(times) - 1, int(len(times) * 0.95))]

    def ratios(self) -> dict[str, float]:
        baseline = self.p95(HEALTHZ)
        return {label: self.p95(label) / baseline for label, _ in MIX if label != HEALTHZ}

    def report(self) -> str:
        lines = [
            f"{self.users} clients for {self.seconds:.0f} s: {self.requests} requests, "
            f"{self.throughput:.0f} requests/s, {len(self.errors)} errors"
        ]
        ratios = self.ratios()
        for label, _ in MIX:
            times = self.latencies[label]
            ratio = "" if label == HEALTHZ else f"  {ratios[label]:.2f}x /healthz"
            lines.append(
                f"  {label:<12} {len(times):>6} requests  p95 {self.p95(label) * 1000:7.1f} ms"
                f"{ratio}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Cast:
    """Who the clients log in as: salespeople with their open leads, and members."""

    salespeople: list[tuple[str, list[int]]]  # (phone, ids of their open leads)
    members: list[str]  # phones of customers holding a member card


def _settings(tmp_dir: Path, database_url: str) -> dict[str, str]:
    return {
        # The sandbox log-in stands in for WeChat's OAuth, as in the demo.
        "CRM_ENV": "development",
        "CRM_INSTANCE_PATH": str(tmp_dir / "instance"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "load-bench-secret-key",
        "PII_KEY": base64.b64encode(os.urandom(32)).decode(),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }


def _seed(settings: dict[str, str], customers: int) -> Cast:
    """Migrate and seed the demo group in this process; who can log in."""
    from flask_migrate import upgrade

    from crm.services import demo

    app = create_app({**settings, "TESTING": True})
    with app.app_context():
        upgrade()
        demo.seed(db.session, clock.now(), customers=customers)
        sellers = db.session.scalars(
            select(Staff).where(Staff.role == Role.SALESPERSON.value).order_by(Staff.id)
        ).all()
        salespeople = []
        for person in sellers:
            leads = db.session.scalars(
                select(Lead.id).where(
                    Lead.owner_id == person.id, Lead.status == LeadStatus.OPEN.value
                )
            ).all()
            if leads:
                salespeople.append((person.phone, list(leads)))
        members = db.session.scalars(
            select(Customer.phone).join(MemberCard, MemberCard.customer_id == Customer.id)
        ).all()
        db.session.remove()
        db.engine.dispose()
    if not salespeople or not members:
        raise RuntimeError("the demo data has no salesperson with leads or no member")
    return Cast(salespeople, list(members))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _gunicorn(settings: dict[str, str], tmp_dir: Path) -> Iterator[str]:
    """gunicorn with deploy/gunicorn.conf.py on a free loopback port; its URL."""
    port = _free_port()
    env = {
        **os.environ,
        **settings,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": str(tmp_dir / "access.log"),
        "GUNICORN_ERROR_LOG": str(tmp_dir / "error.log"),
    }
    command = [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "app:app"]
    help_text = subprocess.run(
        [str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--control-socket" in help_text:  # gunicorn 25.1+: keep it out of ~/.gunicorn
        command[1:1] = ["--control-socket", str(tmp_dir / "gunicorn.ctl")]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited {process.returncode}:\n{_log(tmp_dir)}")
            try:
                if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{_log(tmp_dir)}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _log(tmp_dir: Path) -> str:
    path = tmp_dir / "error.log"
    return path.read_text()[-4000:] if path.exists() else ""


class Client:
    """One phone: its own cookies, CSRF token and log-in; asks, times and records."""

    def __init__(self, base_url: str, figures: Figures, lock: threading.Lock, seed: int):
        self.base_url = base_url
        self.figures = figures
        self.lock = lock
        self.http = requests.Session()
        self.rng = random.Random(seed)
        self.csrf = ""

    def _record(self, label: str, elapsed: float, problem: str | None) -> None:
        with self.lock:
            self.figures.latencies[label].append(elapsed)
            if problem:
                self.figures.errors.append(f"{label}: {problem}")

    def request(self, label: str, method: str, path: str, expect: int, **options) -> str:
        """Time one request; anything but the ``expect``ed status is an error."""
        started = time.perf_counter()
        problem = None
        body = ""
        try:
            response = self.http.request(
                method, self.base_url + path, allow_redirects=False, timeout=30, **options
            )
            body = response.text
            if response.status_code != expect:
                problem = f"{method} {path} answered {response.status_code}"
        except requests.RequestException as exc:
            problem = f"{method} {path} failed: {exc.__class__.__name__}"
        self._record(label, time.perf_counter() - started, problem)
        return body

    def log_in(self, area: str, phone: str) -> None:
        """The sandbox log-in of ``/h5`` or ``/m``: the page's CSRF token, then the phone."""
        page = self.http.get(f"{self.base_url}/{area}/login", timeout=30).text
        token = CSRF.search(page)
        answer = self.http.post(
            f"{self.base_url}/{area}/login",
            data={"csrf_token": token.group(1) if token else "", "phone": phone},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302:
            raise RuntimeError(f"log-in to /{area} as a demo user answered {answer.status_code}")
        self.csrf = CSRF.search(self.http.get(f"{self.base_url}/{area}/", timeout=30).text)
        self.csrf = self.csrf.group(1) if self.csrf else token.group(1)


class Salesperson(Client):
    def __init__(self, *args, phone: str, leads: list[int]):
        super().__init__(*args)
        self.leads = leads
        self.log_in("h5", phone)

    def act(self, label: str) -> None:
        if label == "workbench":
            self.request(label, "GET", "/h5/", 200)
        elif label == "pool":
            self.request(label, "GET", "/h5/pool", 200)
        elif label == "follow_up":
            later = clock.local(clock.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
            self.request(
                label,
                "POST",
                f"/h5/leads/{self.rng.choice(self.leads)}/follow-up",
                302,
                data={
                    "csrf_token": self.csrf,
                    "channel": "phone",
                    "content": "电话回访：客户关心保养费用，周末可到店",
                    "next_step": "周六邀约到店试驾",
                    "next_step_at": later,
                    "purchase_timeframe": "",
                    "lead_class": "",
                    "shown_class": "",
                },
            )
        else:
            self.request(label, "GET", "/healthz", 200)


class Member(Client):
    def __init__(self, *args, phone: str):
        super().__init__(*args)
        self.log_in("m", phone)

    def act(self, label: str) -> None:
        if label == "member_card":
            self.request(label, "GET", "/m/card", 200)
        else:
            self.request(label, "GET", "/healthz", 200)


def _load(base_url: str, cast: Cast, users: int, seconds: float) -> Figures:
    figures = Figures(users, seconds)
    lock = threading.Lock()
    staff_users = round(users * STAFF_SHARE)
    clients: list[Client] = []
    for number in range(users):
        if number < staff_users:
            phone, leads = cast.salespeople[number % len(cast.salespeople)]
            clients.append(Salesperson(base_url, figures, lock, number, phone=phone, leads=leads))
        else:
            phone = cast.members[number % len(cast.members)]
            clients.append(Member(base_url, figures, lock, number, phone=phone))
    staff_mix = [(label, weight) for label, weight in MIX if label != "member_card"]
    member_mix = [(label, weight) for label, weight in MIX if label in ("member_card", HEALTHZ)]
    start = threading.Barrier(users + 1)
    deadline = [0.0]

    def work(client: Client) -> None:
        mix = staff_mix if isinstance(client, Salesperson) else member_mix
        labels = [label for label, _ in mix]
        weights = [weight for _, weight in mix]
        start.wait()
        while time.monotonic() < deadline[0]:
            client.act(client.rng.choices(labels, weights)[0])

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + seconds
    started = time.monotonic()
    start.wait()
    for thread in threads:
        thread.join(seconds + 60)
    figures.seconds = time.monotonic() - started
    return figures


def run(users: int = 50, seconds: float = 60, customers: int = 200) -> Figures:
    """Seed a scratch PostgreSQL database, serve it with gunicorn and load it; the figures."""
    from tests.support import servers

    if not servers.uses_postgres():
        raise RuntimeError("the load benchmark runs on PostgreSQL (DATABASE_URL)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        database_url = servers.create_postgres_database(f"load_{uuid.uuid4().hex[:8]}")
        try:
            settings = _settings(tmp_dir, database_url)
            cast = _seed(settings, customers)
            with _gunicorn(settings, tmp_dir) as base_url:
                return _load(base_url, cast, users, seconds)
        finally:
            servers.drop_postgres_database(database_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    arguments = parser.parse_args(argv)
    figures = run(arguments.users, arguments.seconds)
    print(figures.report())
    for error in figures.errors[:10]:
        print("error:", error)
    too_slow = any(ratio > MAX_RATIO for ratio in figures.ratios().values())
    return 1 if figures.errors or too_slow else 0


if __name__ == "__main__":
    sys.exit(main())
