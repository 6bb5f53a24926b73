"""No secrets or personal data in the logs (issue 12 "Security", ASVS 7.1.1).

A whole demo runs as in production and every line it logs is captured: ``crm seed-demo`` into a
fresh database; gunicorn with ``deploy/gunicorn.conf.py`` (its access log) and the app's own
logging at INFO; a scripted tour of the console, the staff H5 and the member pages, with log-ins
by phone, wrong passwords, searches by phone and URLs with query strings; the dispatcher against
the fake WeChat; the jobs once. Then the captured logs are searched for every seeded phone
number and ID number (read back from the database) and for the SECRET_KEY and PII_KEY values:
none may appear.

(``seed-demo`` itself prints the demo staff log-ins for the operator on purpose; that output is
a command's answer, not a log, and is left out.)
"""

from __future__ import annotations

import base64
import http.cookiejar
import os
import re
import secrets
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from crm import create_app, crypto
from crm.extensions import db
from crm.models import Customer, Lead, Role, Staff
from tests import test_browser as browser_support
from tests.conftest import TEST_PII_KEY, app_config
from tests.fakes.wechat import FakeWeChatServer
from tests.support import servers

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEPLOY_CONFIG = PROJECT_ROOT / "deploy" / "gunicorn.conf.py"
BIN = Path(sys.executable).parent
DEMO_PASSWORD = "demo12345"

# deploy/gunicorn.conf.py as it is, plus the app's loggers at INFO on stderr (production leaves
# them at WARNING; INFO shows more, so the search is stricter).
GUNICORN_CONFIG = f"""
import logging
import runpy

globals().update(
    {{k: v for k, v in runpy.run_path({str(DEPLOY_CONFIG)!r}).items() if not k.startswith("_")}}
)


def post_worker_init(worker):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
"""


class Tour:
    """A browser stand-in: cookies, CSRF tokens from the forms, no redirects followed blindly."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        self.token = ""

    def get(self, path: str, **query: str) -> str:
        url = self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        return self._open(urllib.request.Request(url))

    def post(self, path: str, **form: str) -> str:
        data = urllib.parse.urlencode({"csrf_token": self.token, **form}).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=data))

    def _open(self, request) -> str:
        try:
            with self.opener.open(request, timeout=30) as response:
                page = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:  # 4xx pages are part of the tour
            page = error.read().decode("utf-8", "replace")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if found:
            self.token = found.group(1)
        return page


def _seeded_people(env: dict[str, str]) -> dict:
    """Phones and ID numbers of everybody the demo seeded, decrypted with its PII_KEY."""
    app = create_app(app_config(Path(env["CRM_INSTANCE_PATH"]), **_app_settings(env)))
    # create_app set the process-wide cipher to the demo's key; later tests in this process
    # must keep encrypting under the test key.
    with app.app_context():
        try:
            customers = db.session.scalars(select(Customer)).all()
            staff = db.session.scalars(select(Staff)).all()
            leads = db.session.scalars(select(Lead)).all()
            return {
                "phones": {p.phone for p in [*customers, *staff, *leads] if p.phone},
                "id_numbers": {c.id_number for c in customers if c.id_number},
                "customers": [(c.id, c.phone) for c in customers[:5]],
                "admin": next(s.phone for s in staff if s.role == Role.GROUP_ADMIN),
                "store_admin": next(s.phone for s in staff if s.role == Role.STORE_ADMIN),
                "sales": next(s.phone for s in staff if s.role == Role.SALESPERSON),
                "leads": [(lead.id, lead.phone) for lead in leads[:3]],
            }
        finally:
            db.session.remove()
            db.engine.dispose()
            crypto.configure(TEST_PII_KEY)


def _app_settings(env: dict[str, str]) -> dict[str, str]:
    return {
        "DATABASE_URL": env["DATABASE_URL"],
        "SECRET_KEY": env["SECRET_KEY"],
        "PII_KEY": env["PII_KEY"],
        "REDIS_URL": env.get("REDIS_URL", ""),
    }


def _national(phone: str) -> str:
    return phone.removeprefix("+86")


def _command(env: dict[str, str], log, *args: str) -> None:
    """A flask command whose output is part of the captured logs."""
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"flask {' '.join(args)} exited {result.returncode}"


def _tour(base_url: str, people: dict) -> None:
    console = Tour(base_url)
    console.get("/console/login")
    wrong = console.post("/console/login", phone=_national(people["admin"]), password="wrong-pass")
    assert "手机号或密码不正确" in wrong
    console.post("/console/login", phone=_national(people["admin"]), password=DEMO_PASSWORD)
    assert "退出" in console.get("/console/")
    for customer_id, phone in people["customers"]:
        console.get("/console/customers", q=_national(phone), phone=phone)
        console.get(f"/console/customers/{customer_id}")
    for path in ("/console/staff", "/console/stores", "/console/outbox", "/console/complaints"):
        console.get(path, q=_national(people["sales"]))
    console.get("/console/no-such-page", phone=_national(people["admin"]))

    staff = Tour(base_url)
    staff.get("/h5/login")
    staff.post("/h5/login", phone=_national(people["sales"]))
    assert "工作台" in staff.get("/h5/")
    for lead_id, phone in people["leads"]:
        staff.get("/h5/pool", phone=_national(phone))
        staff.get(f"/h5/leads/{lead_id}")
    staff.get("/h5/leads/new")
    staff.post("/h5/leads/new", name="日志测试", phone=_national(people["leads"][0][1]))

    for _, phone in people["customers"][:2]:
        member = Tour(base_url)
        member.get("/m/login")
        member.post("/m/login", phone=_national(phone))
        for path in ("/m/", "/m/card", "/m/vehicles/", "/m/bookings/", "/m/complaints/"):
            member.get(path)
        member.post("/m/logout")


@pytest.fixture
def demo_env(tmp_path):
    dialect = "postgresql" if servers.uses_postgres() else "sqlite"
    database_url = servers.scratch_database(tmp_path, dialect)
    env = browser_support._server_env(tmp_path, database_url)
    env.update(
        SECRET_KEY=secrets.token_hex(32),
        PII_KEY=base64.b64encode(os.urandom(32)).decode(),
        LOGIN_RATE_LIMIT="100 per minute",
    )
    try:
        yield env
    finally:
        if dialect == "postgresql":
            servers.drop_postgres_database(database_url)


def test_a_full_demo_run_logs_no_phone_id_number_or_key(demo_env, tmp_path):
    env = demo_env
    browser_support._flask(env, "db", "upgrade")
    browser_support._flask(env, "crm", "seed-demo", "--customers", "30")
    people = _seeded_people(env)
    assert len(people["phones"]) > 30 and people["id_numbers"]

    config = tmp_path / "gunicorn_test.conf.py"
    config.write_text(GUNICORN_CONFIG)
    captured = tmp_path / "captured.log"
    port = browser_support._free_port()
    web_env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
    }
    with captured.open("wb") as log:
        process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "-c",
                str(config),
                *browser_support._control_socket_options(tmp_path),
                "app:app",
            ],
            cwd=PROJECT_ROOT,
            env=web_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            browser_support._wait_until_healthy(process, base_url, captured)
            _tour(base_url, people)
        finally:
            process.terminate()
            process.wait(timeout=20)

        with FakeWeChatServer() as wechat:
            jobs_env = {
                **env,
                "WECHAT_APP_ID": wechat.fake.app_id,
                "WECHAT_APP_SECRET": wechat.fake.app_secret,
                "WECHAT_API_BASE_URL": wechat.base_url,
            }
            _command(jobs_env, log, "jobs", "plan")
            _command(jobs_env, log, "jobs", "dispatch")
            _command(jobs_env, log, "jobs", "run", "--once")

    text = captured.read_text(encoding="utf-8", errors="replace")
    assert f"GET /console/customers/{people['customers'][0][0]} " in text  # the access log ran
    assert "POST /h5/login" in text and " 200 " in text
    assert "dispatch_outbox" in text and "compute_segments" in text  # the jobs ran and logged

    leaks = sorted(
        {_national(p) for p in people["phones"] if _national(p) in text}
        | {n for n in people["id_numbers"] if n in text}
    )
    assert not leaks, f"personal data in the logs: {leaks}"
    for name in ("SECRET_KEY", "PII_KEY"):
        assert env[name] not in text, f"{name} in the logs"
        if name == "PII_KEY":
            raw = base64.b64decode(env[name])
            assert raw.hex() not in text
