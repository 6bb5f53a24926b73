"""A delivery from the phone, in a real browser (Chromium through Playwright, the app under
gunicorn): a salesperson on a 375 px screen takes a deposit on a new lead, records the full
payment and delivers the car with the customer's data and the vehicle archive; a bad VIN is
refused beside its field first. The store admin then hands the customer to an advisor from
the console's hand-over list (PRODUCT "Deal and handover")."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from crm import id_cards, vin
from tests import test_browser as browser_support

pytestmark = pytest.mark.browser

server_url = browser_support.server_url
browser = browser_support.browser
page = browser_support.page

ID_NUMBER = id_cards.with_check_character("32050819850707301")
GOOD_VIN = vin.with_check_digit("LSVAX60E0P2123456")
BAD_VIN = GOOD_VIN[:8] + ("1" if GOOD_VIN[8] != "1" else "2") + GOOD_VIN[9:]


def fill(screen: Page, **fields: str) -> None:
    for name, value in fields.items():
        screen.locator(f"form [name={name}]").fill(value)


def test_salesperson_delivers_a_car_from_the_phone_and_admin_assigns_an_advisor(
    browser, server_url, page: Page
):
    browser_support.log_in(page)
    browser_support.create_store(page, code="DL01", name="交车测试店")
    browser_support.add_staff(page, "赵销售", "13900000061", "salesperson", "交车测试店")
    browser_support.add_staff(page, "钱顾问", "13900000062", "service_advisor", "交车测试店")

    context = browser_support.phone_context(browser, server_url)
    try:
        phone = context.new_page()
        browser_support.enter_h5(phone, "13900000061")

        phone.goto("/h5/leads/new")
        fill(phone, name="孙先生", phone="13912345678")
        phone.get_by_role("button", name="保存线索").click()
        expect(phone).to_have_url(re.compile(r"/h5/leads/\d+$"))

        phone.get_by_role("link", name="收取定金").click()
        fill(phone, model="凯美瑞", deposit="5000")
        phone.get_by_role("button", name="记录定金").click()
        expect(phone).to_have_url(re.compile(r"/h5/deals/\d+$"))
        expect(phone.locator(".deal-status")).to_contain_text("已交定金")

        phone.get_by_role("link", name="记录全款").click()
        fill(phone, paid="189,800")
        phone.get_by_role("button", name="记录全款").click()
        expect(phone.locator(".deal-status")).to_contain_text("已付全款")

        phone.get_by_role("link", name="交车").click()
        expect(phone.locator("form [name=name]")).to_have_value("孙先生")
        fill(
            phone,
            id_number=ID_NUMBER,
            licence_no=ID_NUMBER,
            vin=BAD_VIN,
            plate="苏E12345",
            engine_no="2AR123456",
            colour="极光蓝",
            mileage_km="15",
        )
        phone.locator("form select[name=licence_class]").select_option("C1")
        phone.locator("label[for=f-consent]").click()
        browser_support.assert_fits_the_phone(phone)
        with phone.expect_response(lambda r: r.request.method == "POST") as refused:
            phone.get_by_role("button", name="确认交车").click()
        assert refused.value.status == 400
        expect(phone.locator(".field-error[data-field=vin]")).to_contain_text("校验位")
        expect(phone.locator("form [name=plate]")).to_have_value("苏E12345")  # input kept

        fill(phone, vin=GOOD_VIN)
        if not phone.locator("#f-consent").is_checked():
            phone.locator("label[for=f-consent]").click()
        phone.get_by_role("button", name="确认交车").click()
        expect(phone).to_have_url(re.compile(r"/h5/deals/\d+$"))
        expect(phone.locator(".toast")).to_contain_text("已交车")
        expect(phone.locator(".deal-status")).to_contain_text("已交车")
        expect(phone.locator(".facts")).to_contain_text(GOOD_VIN)
        expect(phone.locator(".handover")).to_contain_text("待分配")
        browser_support.assert_fits_the_phone(phone)
    finally:
        context.close()

    page.locator("nav.mainnav").get_by_role("link", name="待分配顾问").click()
    row = page.locator("table.grid tbody tr", has_text="孙先生")
    expect(row).to_contain_text("凯美瑞")
    expect(row).to_contain_text("赵销售")
    row.locator("select[name=advisor]").select_option(label="钱顾问")
    row.get_by_role("button", name="分配").click()
    expect(page.locator(".flash")).to_contain_text("已为孙先生分配服务顾问钱顾问")
    expect(page.locator("table.grid tbody tr", has_text="孙先生")).to_have_count(0)
