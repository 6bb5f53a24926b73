"""A complaint on two phones, in a real browser (Chromium through Playwright, the app under
gunicorn, 375 px screens): a customer files a complaint with a photo through the file input
and sees it listed; the store's care specialist opens it from the work-bench and records the
first contact, which the customer then sees on the complaint's progress (issue 9
"Complaints")."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import test_browser as browser_support
from tests import test_care_channels_browser as server_support

pytestmark = pytest.mark.browser

# The browser, a fresh desktop page, and the gunicorn server with its environment.
browser = browser_support.browser
page = browser_support.page
server = server_support.server
server_url = server_support.server_url

STORE_CODE, STORE_NAME = "KS01", "客诉测试店"
CUSTOMER_PHONE = "13912340077"
CARE_PHONE = "13900000071"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 200


def seed_customer(store_code: str, phone: str) -> None:
    """A customer of the store (as a delivery would leave one), run in the server's
    environment: the browser cannot create customers from the member side."""
    from sqlalchemy import select

    from app import app
    from crm.extensions import db
    from crm.models import Store
    from tests import factories as f

    with app.app_context():
        store = db.session.scalar(select(Store).where(Store.code == store_code))
        f.CustomerFactory(store=store, group_id=store.group_id, name="周女士", phone=f"+86{phone}")


def test_customer_files_a_complaint_with_a_photo_and_the_care_specialist_contacts_them(
    browser, server, page: Page, tmp_path
):
    server_url, env = server
    browser_support.log_in(page)
    browser_support.create_store(page, code=STORE_CODE, name=STORE_NAME)
    browser_support.add_staff(page, "吴客服", CARE_PHONE, "care_specialist", STORE_NAME)
    browser_support.run_in_server_environment(
        env, __name__, "seed_customer", STORE_CODE, CUSTOMER_PHONE
    )
    photo = tmp_path / "scratch.jpg"
    photo.write_bytes(JPEG)

    customer_context = browser_support.phone_context(browser, server_url)
    care_context = browser_support.phone_context(browser, server_url)
    try:
        member = customer_context.new_page()
        member.goto("/m/login")
        member.locator("#phone").fill(CUSTOMER_PHONE)
        member.get_by_role("button", name="进入会员中心").click()
        expect(member).to_have_url(re.compile(r"/m/$"))
        member.get_by_role("link", name="我的投诉").click()
        member.get_by_role("link", name="我要投诉").click()
        expect(member).to_have_url(re.compile(r"/m/complaints/new$"))

        member.locator("form textarea[name=text]").fill("保养后车门有划痕，前台说不是我们弄的")
        member.locator("input[type=file][name=photos]").set_input_files(str(photo))
        browser_support.assert_fits_the_phone(member)
        member.get_by_role("button", name="提交投诉").click()

        expect(member).to_have_url(re.compile(r"/m/complaints/\d+$"))
        expect(member.locator(".toast")).to_contain_text("投诉已提交")
        expect(member.locator("[data-state]")).to_have_text("待联系")
        expect(member.locator(".photo-links a")).to_have_count(1)
        member.get_by_role("link", name="我的投诉").click()
        listed = member.locator(".complaint-list a", has_text="保养后车门有划痕")
        expect(listed).to_contain_text("待联系")
        browser_support.assert_fits_the_phone(member)

        care = care_context.new_page()
        browser_support.enter_h5(care, CARE_PHONE)
        entry = care.locator("#complaints-entry")
        expect(entry.locator("[data-count=complaints]")).to_have_text("1")
        entry.click()
        row = care.locator(".complaint-list a", has_text="周女士")
        expect(row).to_contain_text("保养后车门有划痕")
        expect(row.locator(".sla")).to_contain_text("首次联系")
        browser_support.assert_fits_the_phone(care)
        row.click()

        expect(care.locator(".complaint-text")).to_contain_text("保养后车门有划痕")
        care.locator("#contact-form textarea[name=note]").fill("已致电周女士致歉，约明天到店查看")
        care.get_by_role("button", name="已联系客户").click()
        expect(care.locator(".toast")).to_contain_text("已记录首次联系")
        expect(care.locator("[data-state]")).to_have_text("处理中")
        contacted = care.locator("[data-event=contacted]")
        expect(contacted).to_contain_text("吴客服")
        expect(contacted).to_contain_text("约明天到店查看")
        expect(care.locator("#contact-form")).to_have_count(0)
        browser_support.assert_fits_the_phone(care)

        member.reload()
        listed = member.locator(".complaint-list a", has_text="保养后车门有划痕")
        expect(listed).to_contain_text("处理中")
        listed.click()
        expect(member.locator(".complaint-steps")).to_contain_text("客服已与您联系")
    finally:
        customer_context.close()
        care_context.close()
