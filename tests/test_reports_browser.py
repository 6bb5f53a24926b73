"""The funnel and the KPI dashboard in a real browser (Chromium through Playwright, the app under
gunicorn): a store admin sees their store only, the group admin every store; the ECharts
charts are drawn (a canvas inside each chart) with no console error, so no inline script is
needed (issue 10 "Reports", "Done when").

With ``CRM_SCREENSHOTS=1`` the run also saves the README's screenshots to ``docs/screenshots/``
(off by default, so test runs do not rewrite tracked files).
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests import test_browser as browser_support
from tests import test_care_channels_browser as server_support

pytestmark = pytest.mark.browser

browser = browser_support.browser
page = browser_support.page
server = server_support.server
server_url = server_support.server_url

SCREENSHOTS = browser_support.PROJECT_ROOT / "docs" / "screenshots"
STORE_ADMIN_PHONE = "13900000081"
STORES = (("RPT1", "杭州西湖店"), ("RPT2", "宁波江北店"), ("RPT3", "温州鹿城店"))


def seed_reports(store_admin_phone: str) -> None:
    """Three stores with salespeople and a year of leads (some contacted, visited, sold), and
    a store admin of the first store; run in the server's environment."""
    from datetime import timedelta

    from sqlalchemy import select

    from app import app
    from crm import clock
    from crm.extensions import db
    from crm.models import Group
    from crm.services.reports import periods
    from tests import factories as f

    with app.app_context():
        group = db.session.scalar(select(Group))
        now = clock.now()
        month = periods.current(now)
        stores = [f.StoreFactory(group=group, code=code, name=name) for code, name in STORES]
        f.StaffFactory(
            store=stores[0],
            group_id=group.id,
            role="store_admin",
            name="西湖店长",
            phone=f"+86{store_admin_phone}",
        )
        for number, store in enumerate(stores):
            people = [
                f.StaffFactory(store=store, group_id=group.id, name=f"{store.name[2:4]}销售{i}")
                for i in range(1, 3)
            ]
            for back, span in enumerate(periods.trailing(month)[::-1]):
                room = min(now, span.ends) - span.starts
                for i in range(6 + 2 * number - back % 3):
                    owner = people[i % 2]
                    created = span.starts + room * ((i + 1) / 12)
                    lead = f.LeadFactory(store=store, owner=owner, created_at=created)
                    if i % 5 == 4:
                        continue
                    later = created + timedelta(minutes=30)
                    channel = "visit" if i % 2 == 0 else "phone"
                    f.CommunicationFactory(lead=lead, occurred_at=later, channel=channel)
                    if i % 4 == 0:
                        f.DealFactory(lead=lead, deposit_on=clock.today(later))
        db.session.commit()


def log_in_as(page: Page, phone: str, name: str) -> None:
    page.goto("/console/login")
    page.locator("main form [name=phone]").fill(phone)
    page.locator("main form [name=password]").fill(browser_support_password())
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".whoami")).to_contain_text(name)


def browser_support_password() -> str:
    from tests.factories import PASSWORD

    return PASSWORD


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            errors.append(f"{message.text} {message.location.get('url')}")
            # the browser's own favicon probe is not the page's
            if message.type == "error" and "favicon.ico" not in message.location.get("url", "")
            else None
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda response: (
            errors.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    return errors


def store_names(page: Page) -> list[str]:
    return page.locator("table.funnel-stores tbody tr td:first-child").all_inner_texts()


def save(page: Page, name: str) -> None:
    if os.environ.get("CRM_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


@pytest.fixture(scope="module")
def seeded(server):
    browser_support.run_in_server_environment(
        server[1], __name__, "seed_reports", STORE_ADMIN_PHONE
    )
    return server


def test_a_store_admin_sees_their_stores_funnel_and_kpis_drawn_with_echarts(seeded, page: Page):
    errors = watch_errors(page)
    log_in_as(page, STORE_ADMIN_PHONE, "西湖店长")
    page.get_by_role("link", name="报表").click()
    expect(page).to_have_url(re.compile(r"/console/reports/funnel$"))

    assert store_names(page) == ["杭州西湖店"]
    expect(page.locator("#funnel-chart canvas")).to_have_count(1)
    expect(page.locator("#trend-chart canvas")).to_have_count(1)
    assert "宁波江北店" not in page.locator("main").inner_text()

    page.get_by_role("link", name="KPI 看板").click()
    expect(page.locator('tr[data-kpi="lead_conversion"] [data-mark]')).to_have_count(1)
    expect(page.locator("#conversion-chart canvas")).to_have_count(1)
    name = page.locator('tr[data-kpi="lead_conversion"] .kpi-name')
    assert name.get_attribute("title").startswith("本月新建线索中已成交")
    assert errors == []


def test_the_group_admin_sees_every_store_side_by_side(seeded, page: Page):
    errors = watch_errors(page)
    browser_support.log_in(page)
    page.goto("/console/reports/funnel")

    assert store_names(page) == [name for _code, name in STORES]
    expect(page.locator("table.funnel-stores tfoot")).to_contain_text("合计")
    expect(page.locator("#funnel-chart canvas")).to_have_count(1)
    page.wait_for_timeout(600)  # let the charts' entry animation finish for the screenshot
    save(page, "report_funnel.png")

    page.goto("/console/reports/kpis")
    expect(page.locator("#conversion-chart canvas")).to_have_count(1)
    expect(page.locator('tr[data-kpi="insurance_renewal"]')).to_contain_text("暂无数据")
    page.wait_for_timeout(600)
    save(page, "report_kpis.png")
    assert errors == []
