"""The console in a real browser: Debian's Chromium, driven through Playwright, against the app
served by gunicorn in a subprocess with its own fresh database (SQLite, or PostgreSQL when
DATABASE_URL says so).

A group admin logs in, opens a store and adds a salesperson to it; a duplicate store code is
refused beside the field and nothing is created. The staff H5 log-in fits a phone screen. On a
375 px phone a salesperson claims a pool lead by logging a follow-up and sees the work-bench
change, while the lead leaves a colleague's pool. The run also saves screenshots of the console
and the work-bench to ``test-artifacts/``.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.support import servers

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "console.png"
WORKBENCH_SCREENSHOT = PROJECT_ROOT / "test-artifacts" / "h5-workbench.png"
PHONE_VIEWPORT = {"width": 375, "height": 667}
BEIJING = ZoneInfo("Asia/Shanghai")
BIN = Path(sys.executable).parent  # the virtualenv's bin/: flask and gunicorn live beside python
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

ADMIN_NAME = "王总"
ADMIN_PHONE = "13900000001"
ADMIN_PASSWORD = "browser-admin-pass"
STARTUP_SECONDS = 30

# Settings the app reads from the environment; the server gets only the ones set here.
APP_VARIABLES = re.compile(
    r"^(CRM_|WECHAT_|MINIPROGRAM_|QWEATHER_|FLASK_)|"
    r"^(DATABASE_URL|REDIS_URL|SECRET_KEY|PII_KEY|LOGIN_RATE_LIMIT)$"
)


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(tmp_dir: Path, database_url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not APP_VARIABLES.match(name)}
    env.update(
        CRM_ENV="development",
        CRM_INSTANCE_PATH=str(tmp_dir / "instance"),
        DATABASE_URL=database_url,
        SECRET_KEY="browser-test-secret-key",
        PII_KEY=base64.b64encode(b"b" * 32).decode(),
        # Every test logs in afresh, and with a shared Redis the limiter's count outlives a run.
        LOGIN_RATE_LIMIT="100 per minute",
    )
    if servers.REDIS_URL:
        env["REDIS_URL"] = servers.REDIS_URL
    return env


def _flask(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "app", *args],
        cwd=PROJECT_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"flask {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def _control_socket_options(tmp_dir: Path) -> list[str]:
    """Keep gunicorn's control socket (gunicorn 25.1+; by default ~/.gunicorn/gunicorn.ctl, shared
    with any other gunicorn of this user) in the test's own directory."""
    help_text = subprocess.run(
        [str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False
    ).stdout
    if "--control-socket" not in help_text:
        return []
    return ["--control-socket", str(tmp_dir / "gunicorn.ctl")]


def _wait_until_healthy(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"gunicorn exited {process.returncode} on start:\n{log_path.read_text()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(
        f"gunicorn did not answer /healthz within {STARTUP_SECONDS}s:\n{log_path.read_text()}",
        pytrace=False,
    )


@contextmanager
def gunicorn(env: dict[str, str], tmp_dir: Path) -> Iterator[str]:
    """The app under gunicorn (one worker) on a free port with ``env``, until the block ends;
    its URL. The log is ``tmp_dir/gunicorn.log``."""
    log_path = tmp_dir / "gunicorn.log"
    base_url = f"http://127.0.0.1:{_free_port()}"
    command = [
        str(BIN / "gunicorn"),
        "--bind",
        base_url.removeprefix("http://"),
        "--workers",
        "1",
        *_control_socket_options(tmp_dir),
        "app:app",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_healthy(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_in_server_environment(env: dict[str, str], module: str, name: str, *args: str) -> None:
    """Call ``module``'s function ``name`` in a Python process with the server's settings (to
    seed what the pages under test need)."""
    call = f"from {module} import {name}; {name}(*{args!r})"
    result = subprocess.run(
        [sys.executable, "-c", call],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{call} failed\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    """The app under gunicorn (one worker) on a free port, with a migrated, empty database
    holding only the group admin; its URL."""
    tmp_dir = tmp_path_factory.mktemp("browser")
    dialect = "postgresql" if servers.uses_postgres() else "sqlite"
    database_url = servers.scratch_database(tmp_dir, dialect)
    env = _server_env(tmp_dir, database_url)
    try:
        _flask(env, "db", "upgrade")
        _flask(
            env,
            "crm",
            "create-staff",
            "--name",
            ADMIN_NAME,
            "--phone",
            ADMIN_PHONE,
            "--role",
            "group_admin",
            "--password-stdin",
            stdin=ADMIN_PASSWORD + "\n",
        )
        with gunicorn(env, tmp_dir) as base_url:
            yield base_url
    finally:
        if dialect == "postgresql":
            servers.drop_postgres_database(database_url)


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        servers.missing("Chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server_url):
    """A fresh desktop browser context (no cookies) on the server."""
    context = browser.new_context(
        base_url=server_url, viewport={"width": 1280, "height": 800}, locale="zh-CN"
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Page, phone: str = ADMIN_PHONE, password: str = ADMIN_PASSWORD) -> None:
    """Log into the console through its form and land on the dashboard."""
    page.goto("/console/login")
    page.locator("main form [name=phone]").fill(phone)
    page.locator("main form [name=password]").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console/$"))
    expect(page.locator(".whoami")).to_contain_text(ADMIN_NAME)


def fill_form(page: Page, **fields: str) -> None:
    """Type into the named inputs of the page's form."""
    for name, value in fields.items():
        page.locator(f"main form [name={name}]").fill(value)


def create_store(page: Page, code: str, name: str, **more: str) -> None:
    page.goto("/console/stores")
    page.get_by_role("link", name="新建分店").click()
    expect(page).to_have_url(re.compile(r"/console/stores/new$"))
    fill_form(page, code=code, name=name, **more)
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/console/stores/\d+$"))


def store_rows(page: Page):
    """The rows of the store list at /console/stores."""
    page.goto("/console/stores")
    return page.locator("table.grid tbody tr")


# --- the tests -------------------------------------------------------------------------------


def test_admin_logs_in_and_creates_a_store_and_a_staff_member(page):
    log_in(page)

    page.locator("nav.mainnav").get_by_role("link", name="分店", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/stores$"))
    page.get_by_role("link", name="新建分店").click()
    fill_form(
        page,
        code="HZ01",
        name="杭州西湖店",
        city="杭州",
        address="西湖区文三路 100 号",
        phone="057188880001",
        rescue_phone="13900000099",
    )
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/console/stores/\d+$"))
    expect(page.locator("h1")).to_contain_text("杭州西湖店")
    expect(page.locator(".flash")).to_have_text("已创建分店：杭州西湖店")

    page.locator("nav.mainnav").get_by_role("link", name="分店", exact=True).click()
    listed = page.locator("table.grid tbody tr", has_text="HZ01")
    expect(listed).to_contain_text("杭州西湖店")
    expect(listed).to_contain_text("杭州")
    expect(listed).to_contain_text("营业")

    page.goto("/console/staff/new")
    fill_form(page, name="李销售", phone="13900000002", password="sales-pass-123")
    page.locator("main form select[name=role]").select_option("salesperson")
    page.locator("main form select[name=store_id]").select_option(label="杭州西湖店")
    page.get_by_role("button", name="保存").click()
    expect(page).to_have_url(re.compile(r"/console/staff/\d+$"))
    expect(page.locator(".flash")).to_have_text("已添加员工：李销售")

    page.locator("nav.mainnav").get_by_role("link", name="员工", exact=True).click()
    member = page.locator("table.grid tbody tr", has_text="李销售")
    expect(member).to_contain_text("杭州西湖店")
    expect(member).to_contain_text("在职")
    expect(member).not_to_contain_text("13900000002")  # the list masks phone numbers

    page.locator("nav.mainnav").get_by_role("link", name="概览").click()
    expect(page.locator("[data-figure=stores]")).to_have_text("1")
    expect(page.locator("[data-figure=staff]")).to_have_text("2")

    # The store's own page, with its new salesperson, is the README's picture of the console.
    page.locator("nav.mainnav").get_by_role("link", name="分店", exact=True).click()
    page.get_by_role("link", name="杭州西湖店").click()
    expect(page.locator("table.grid")).to_contain_text("李销售")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_duplicate_store_code_shows_the_error_beside_the_field_and_creates_nothing(page):
    log_in(page)
    create_store(page, code="NB01", name="宁波鄞州店")
    rows_before = store_rows(page).count()
    assert rows_before >= 1

    page.get_by_role("link", name="新建分店").click()
    fill_form(page, code="nb01", name="宁波重复店", city="宁波")
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/console/stores/new")
    ) as posted:
        page.get_by_role("button", name="保存").click()
    assert posted.value.status == 400

    expect(page).to_have_url(re.compile(r"/console/stores/new$"))
    code_field = page.locator(".field", has=page.locator("input[name=code]"))
    error = code_field.locator("p.error[role=alert][data-field=code]")
    expect(error).to_be_visible()
    expect(error).to_contain_text("已被")
    expect(error).to_contain_text("宁波鄞州店")
    expect(page.locator("p.error[role=alert]")).to_have_count(1)
    expect(page.locator("main form [name=name]")).to_have_value("宁波重复店")  # input is kept

    rows = store_rows(page)
    expect(rows).to_have_count(rows_before)
    expect(page.locator("table.grid")).not_to_contain_text("宁波重复店")


def test_staff_h5_login_fits_a_375px_wide_phone_screen(browser, server_url):
    context = browser.new_context(
        base_url=server_url, viewport={"width": 375, "height": 812}, is_mobile=True
    )
    try:
        phone = context.new_page()
        phone.goto("/h5/login")
        expect(phone.locator("#phone")).to_be_visible()
        expect(phone.get_by_role("button", name="进入工作台")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()


def test_a_staff_invitation_scanned_in_the_sandbox_shows_the_reply_on_the_new_phone(page):
    log_in(page)
    create_store(page, code="WZ01", name="温州鹿城店")
    page.goto("/console/staff/new")
    fill_form(page, name="周顾问", phone="13900000031")
    page.locator("main form select[name=role]").select_option("service_advisor")
    page.locator("main form select[name=store_id]").select_option(label="温州鹿城店")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash")).to_have_text("已添加员工：周顾问")

    page.get_by_role("button", name="微信绑定二维码").click()
    expect(page.locator(".qr svg")).to_be_visible()
    page.get_by_role("link", name="在沙箱中模拟扫码").click()
    page.get_by_role("button", name="模拟扫码关注").click()

    expect(page).to_have_url(re.compile(r"/sandbox/$"))
    phone = page.locator("section.phone", has_text="周顾问")
    expect(phone).to_contain_text("绑定成功：欢迎您，周顾问。员工身份已绑定")


# --- the salesperson's phone -----------------------------------------------------------------


def add_staff(page: Page, name: str, phone: str, role: str, store: str) -> None:
    page.goto("/console/staff/new")
    fill_form(page, name=name, phone=phone)
    page.locator("main form select[name=role]").select_option(role)
    page.locator("main form select[name=store_id]").select_option(label=store)
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash")).to_have_text(f"已添加员工：{name}")


def phone_context(browser, server_url):
    return browser.new_context(
        base_url=server_url, viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True, locale="zh-CN"
    )


def enter_h5(phone: Page, staff_phone: str) -> None:
    """The sandbox log-in of the staff H5 pages: the phone number stands in for WeChat."""
    phone.goto("/h5/login")
    phone.locator("#phone").fill(staff_phone)
    phone.get_by_role("button", name="进入工作台").click()
    expect(phone).to_have_url(re.compile(r"/h5/$"))


def assert_fits_the_phone(phone: Page) -> None:
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]


def later_today(minutes: int = 15) -> str:
    """A ``datetime-local`` value later today on a Beijing wall clock (waiting past midnight
    when today has no room left, so the follow-up is due today)."""
    now = datetime.now(BEIJING)
    if (now + timedelta(minutes=minutes)).date() != now.date():
        time.sleep(
            (timedelta(days=1) - (now - now.replace(hour=0, minute=0, second=0))).seconds + 2
        )
        now = datetime.now(BEIJING)
    return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


def test_salesperson_claims_a_pool_lead_on_a_phone_and_the_workbench_updates(
    browser, server_url, page
):
    log_in(page)
    create_store(page, code="SZ01", name="苏州园区店")
    add_staff(page, "陈销售", "13900000041", "salesperson", "苏州园区店")
    add_staff(page, "林销售", "13900000042", "salesperson", "苏州园区店")

    prospect_context = phone_context(browser, server_url)
    mine_context = phone_context(browser, server_url)
    colleague_context = phone_context(browser, server_url)
    try:
        # Two prospects leave their numbers through the store's public enquiry form: the pool.
        prospect = prospect_context.new_page()
        for name, number in (("吴女士", "13900000051"), ("郑先生", "13900000052")):
            prospect.goto("/m/enquiry/SZ01")
            prospect.locator("form [name=name]").fill(name)
            prospect.locator("form [name=phone]").fill(number)
            prospect.get_by_label("同意门店就购车事宜与我联系").check()
            prospect.get_by_role("button", name="提交").click()
            expect(prospect.locator(".weui-msg__title")).to_have_text("已收到，顾问将尽快与您联系")

        colleague = colleague_context.new_page()
        enter_h5(colleague, "13900000042")
        colleague.goto("/h5/pool")
        expect(colleague.locator(".pool-list")).to_contain_text("吴女士")

        mine = mine_context.new_page()
        enter_h5(mine, "13900000041")
        expect(mine.locator("[data-class=intent]")).to_have_text("0")
        expect(mine.locator(".pool-link")).to_contain_text("客户池：2 条待认领")
        expect(mine.locator("#due-today")).to_contain_text("今天没有计划中的跟进")
        assert_fits_the_phone(mine)

        mine.locator("nav.tabbar").get_by_role("link", name="客户池").click()
        expect(mine).to_have_url(re.compile(r"/h5/pool$"))
        assert_fits_the_phone(mine)
        mine.locator(".pool-list a", has_text="吴女士").click()
        expect(mine.locator("h2")).to_contain_text("跟进认领：吴女士")
        expect(mine.locator("textarea[name=content]")).to_be_focused()
        expect(mine.locator(".class-hint")).to_contain_text("系统建议：潜在（每周1次）")
        assert_fits_the_phone(mine)

        mine.get_by_role("radio", name="微信").check()
        mine.locator("textarea[name=content]").fill("微信沟通：想买家用SUV，一个月内提车")
        mine.locator("input[name=next_step]").fill("邀约周六到店试驾")
        mine.locator("input[name=next_step_at]").fill(later_today())
        mine.locator("select[name=purchase_timeframe]").select_option(label="一个月内")
        mine.get_by_role("button", name="认领并保存").click()

        expect(mine).to_have_url(re.compile(r"/h5/$"))
        expect(mine.locator(".toast")).to_contain_text("已认领，已记录跟进")
        expect(mine.locator("#due-today")).to_contain_text("吴女士")
        expect(mine.locator("#due-today [data-count=today]")).to_have_text("1")
        expect(mine.locator("[data-class=intent]")).to_have_text("1")
        expect(mine.locator(".pool-link")).to_contain_text("客户池：1 条待认领")
        assert_fits_the_phone(mine)
        WORKBENCH_SCREENSHOT.parent.mkdir(exist_ok=True)
        mine.screenshot(path=str(WORKBENCH_SCREENSHOT))

        colleague.reload()
        expect(colleague.locator(".pool-list")).to_contain_text("郑先生")
        expect(colleague.locator(".pool-list")).not_to_contain_text("吴女士")
    finally:
        prospect_context.close()
        mine_context.close()
        colleague_context.close()
