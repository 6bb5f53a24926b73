"""Care channels and the outbox in a real browser (Chromium through Playwright, the app under
gunicorn): the group admin configures new-car care as an Official Account template, watches
the preview follow the mapping and a long sample value as they type (cut at 20 characters, as
WeChat shows it), saves it, then re-sends from the outbox page a message WeChat refused, which
goes back to the queue (issue 8 "Channels and WeChat's rules", "Outbox page")."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import test_browser as browser_support
from tests.support import servers

pytestmark = pytest.mark.browser

# The browser and a fresh page, as the console's browser tests use them; the server is theirs
# too, started below so that the test also knows its environment.
browser = browser_support.browser
page = browser_support.page

LONG_ADDRESS = "杭州市西湖区文三路100号华星科技大厦一楼展厅"
SHOWN_ADDRESS = "杭州市西湖区文三路100号华星科技大厦…"  # 20 characters, as WeChat cuts it
STORE_CODE, STORE_NAME = "CC01", "关怀测试店"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``test_browser.server_url``'s gunicorn on a fresh database holding the group admin,
    with the environment it runs in: (base URL, environment)."""
    tmp_dir = tmp_path_factory.mktemp("care-browser")
    dialect = "postgresql" if servers.uses_postgres() else "sqlite"
    database_url = servers.scratch_database(tmp_dir, dialect)
    env = browser_support._server_env(tmp_dir, database_url)
    try:
        browser_support._flask(env, "db", "upgrade")
        browser_support._flask(
            env,
            "crm",
            "create-staff",
            "--name",
            browser_support.ADMIN_NAME,
            "--phone",
            browser_support.ADMIN_PHONE,
            "--role",
            "group_admin",
            "--password-stdin",
            stdin=browser_support.ADMIN_PASSWORD + "\n",
        )
        with browser_support.gunicorn(env, tmp_dir) as base_url:
            yield base_url, env
    finally:
        if dialect == "postgresql":
            servers.drop_postgres_database(database_url)


@pytest.fixture(scope="module")
def server_url(server):
    return server[0]


def seed_refused_message(store_code: str) -> None:
    """A customer of the store and their new-car message that WeChat refused (40037): what
    the dispatcher leaves behind when a template id is wrong. Run in the server's environment
    (``python -c``), as the sandbox never refuses a message."""
    from sqlalchemy import select

    from app import app
    from crm import clock
    from crm.extensions import db
    from crm.models import OutboxMessage, OutboxState, Store
    from tests import factories as f

    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == store_code))
        customer = f.CustomerFactory(store=store, group_id=store.group_id, name="沈女士")
        db.session.add(
            OutboxMessage(
                store_id=store.id,
                customer_id=customer.id,
                kind="new_car",
                due_on=clock.today(),
                dedupe_key=f"new_car:{customer.id}:browser",
                payload={"data": {"keyword1": "周顾问"}, "url": "/m/"},
                not_before=clock.now(),
                state=OutboxState.FAILED.value,
                attempts=1,
                errcode=40037,
                error="40037 invalid template_id",
                created_at=clock.now(),
            )
        )
        db.session.commit()


def test_admin_configures_a_template_with_a_live_preview_and_resends_a_refused_message(
    server, page: Page
):
    browser_support.log_in(page)
    browser_support.create_store(page, code=STORE_CODE, name=STORE_NAME)
    browser_support.run_in_server_environment(
        server[1], __name__, "seed_refused_message", STORE_CODE
    )

    page.locator("nav.mainnav").get_by_role("link", name="关怀渠道").click()
    new_car = page.locator("table.care-channels tr[data-kind=new_car]")
    expect(new_car.locator("td.alarm").first).to_have_text("未配置")
    new_car.get_by_role("link", name="配置").click()
    expect(page).to_have_url(re.compile(r"/console/care-channels/new_car$"))

    preview = page.locator("#channel-preview")
    page.locator("main form select[name=channel]").select_option(label="公众号模板消息")
    page.locator("main form [name=template_id]").fill("ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY")
    # A mapping as the admin types it: the preview follows, line by line.
    with page.expect_request(lambda r: "/preview?" in r.url) as asked:
        page.locator("main form [name=field_map]").fill("thing1: 门店地址\nremark: 服务顾问")
    assert asked.value.resource_type == "fetch"
    expect(preview.locator("[data-preview-error]")).to_contain_text("remark")
    page.locator("main form [name=field_map]").fill("thing1: 门店地址\ntime2: 首次保养")
    expect(preview.locator("dt")).to_have_text(["门店地址", "首次保养"])
    expect(page).to_have_url(re.compile(r"/console/care-channels/new_car$"))  # no reload

    address = page.locator("main form [name=sample_keyword4]")
    address.fill("")
    address.press_sequentially(LONG_ADDRESS)
    expect(preview.locator("[data-preview-line=门店地址]")).to_have_text(SHOWN_ADDRESS)
    expect(preview).not_to_contain_text(LONG_ADDRESS)
    expect(preview).not_to_contain_text("服务顾问")  # not mapped: not shown
    page.locator("main form [name=page]").fill("/m/bookings")
    expect(preview.locator("[data-preview-page]")).to_have_text("打开 /m/bookings")

    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash")).to_have_text("已保存“新车关怀”的发送渠道")
    expect(new_car.locator("td").nth(1)).to_have_text("公众号模板消息")
    expect(new_car).to_have_attribute("data-status", "configured")

    page.locator("nav.mainnav").get_by_role("link", name="发送队列").click()
    row = page.locator("table.outbox-grid tbody tr", has_text="沈女士")
    expect(row).to_contain_text("发送失败")
    expect(row).to_contain_text("40037 invalid template_id")
    expect(page.locator("[data-count=failed] b")).to_have_text("1")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="重新发送").click()
    expect(page.locator(".flash")).to_contain_text("已重新排队")
    expect(row).to_contain_text("待发送")
    expect(row.get_by_role("button", name="重新发送")).to_have_count(0)
    expect(page.locator("[data-count=failed] b")).to_have_text("0")
    expect(page.locator("[data-count=pending] b")).to_have_text("1")
