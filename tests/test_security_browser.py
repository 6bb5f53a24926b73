"""The Content-Security-Policy in a real browser (issue 12 "Security"): Debian's Chromium opens
console, staff H5 and member pages served by gunicorn and reports no CSP violation and no
console error — no "Refused to execute inline script", no refused style — and a ``data-confirm``
form still asks first: cancelling keeps it unsent, confirming sends it.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import test_browser as browser_support

pytestmark = pytest.mark.browser

server_url = browser_support.server_url
browser = browser_support.browser

# Playwright's init scripts run outside the page's CSP, so this listener sees every violation.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""

CONSOLE_PAGES = (
    "/console/",
    "/console/stores",
    "/console/staff",
    "/console/customers",
    "/console/segments",
    "/console/outbox",
    "/console/complaints",
    "/console/surveys",
    "/console/auto-replies",
    "/console/care-channels",
    "/console/imports",
    "/no-such-page",
)
H5_PAGES = ("/h5/", "/h5/pool", "/h5/leads", "/h5/leads/new", "/h5/my-qr", "/h5/no-such-page")
MEMBER_PAGES = ("/m/login", "/m/enquiry/CSP01")


class Watcher:
    """Collects CSP violations and console errors of the pages of one browser context."""

    def __init__(self, context):
        self.errors: list[str] = []
        context.add_init_script(RECORD_VIOLATIONS)
        context.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        # A missing page answers 404 on purpose; Chromium logs the status as a console error.
        if message.type == "error" and "404" not in text:
            self.errors.append(text)

    def visit(self, page: Page, path: str) -> None:
        response = page.goto(path)
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("load")
        violations = page.evaluate("window.__cspViolations")
        assert not violations, f"{path}: {violations}"
        assert not self.errors, f"{path}: {self.errors}"


def test_console_h5_and_member_pages_run_under_the_policy_without_violations(browser, server_url):
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 800})
    try:
        watcher = Watcher(context)
        page = context.new_page()
        browser_support.log_in(page)
        browser_support.create_store(page, code="CSP01", name="安全测试店")
        browser_support.add_staff(page, "安销售", "13900000071", "salesperson", "安全测试店")
        for path in CONSOLE_PAGES:
            watcher.visit(page, path)
        page.goto("/console/stores")
        page.get_by_role("link", name="安全测试店").click()
        watcher.visit(page, page.url)
        page.goto("/console/staff")
        page.get_by_role("link", name="安销售").click()
        watcher.visit(page, page.url)
    finally:
        context.close()

    phone_context = browser_support.phone_context(browser, server_url)
    try:
        watcher = Watcher(phone_context)
        phone = phone_context.new_page()
        watcher.visit(phone, "/h5/login")
        browser_support.enter_h5(phone, "13900000071")
        for path in (*H5_PAGES, *MEMBER_PAGES):
            watcher.visit(phone, path)
    finally:
        phone_context.close()


def test_a_data_confirm_form_asks_and_cancelling_does_not_send_it(browser, server_url):
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 800})
    try:
        watcher = Watcher(context)
        page = context.new_page()
        browser_support.log_in(page)
        browser_support.create_store(page, code="CSP02", name="确认测试店")
        store_url = page.url
        asked: list[str] = []
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

        def dismiss(dialog):
            asked.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", dismiss)
        page.get_by_role("button", name="停用分店").click()
        page.wait_for_timeout(300)
        assert asked == ["确定停用该分店？"]
        assert not posts, "a cancelled confirmation must not send the form"
        page.reload()
        expect(page.locator("h1")).not_to_contain_text("已停用")

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="停用分店").click()
        expect(page.locator(".flash")).to_contain_text("已停用")
        expect(page.locator("h1")).to_contain_text("已停用")
        assert re.search(r"/console/stores/\d+$", store_url) and page.url == store_url
        watcher.visit(page, store_url)
    finally:
        context.close()
