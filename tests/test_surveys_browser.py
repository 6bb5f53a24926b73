"""Answering a CS survey on a phone, in a real browser (Chromium through Playwright at 375 px,
the app under gunicorn; issue 9 "Done when": answer a survey): the customer opens the survey
from 我的问卷, taps a score, adds a comment and submits; the thank-you shows; opening it again
shows the answer given; the low score put a callback on the care specialist's work-bench."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import test_browser as browser_support
from tests import test_care_channels_browser as care_browser

pytestmark = pytest.mark.browser

browser = browser_support.browser
server = care_browser.server  # gunicorn on a fresh database, with its environment
server_url = care_browser.server_url

STORE_CODE = "SV01"
CARE_PHONE = "13900000081"
CUSTOMER_PHONE = "13900000082"


def seed_settled_order() -> None:
    """A store with a care specialist, and a customer whose service order was settled today,
    with the CS survey the 15-minute job queues for it. Run in the server's environment."""
    from app import app
    from crm import clock
    from crm.extensions import db
    from crm.models import Group, Role
    from crm.services import surveys
    from tests import factories as f

    with app.app_context():
        group = db.session.scalar(db.select(Group).limit(1))
        store = f.StoreFactory(group=group, code=STORE_CODE, name="问卷测试店")
        f.StaffFactory(
            store=store,
            group_id=group.id,
            name="周客服",
            phone=f"+86{CARE_PHONE}",
            role=Role.CARE_SPECIALIST.value,
        )
        customer = f.CustomerFactory(
            store=store, group_id=group.id, name="吴先生", phone=f"+86{CUSTOMER_PHONE}"
        )
        car = f.VehicleFactory(customer=customer, plate="浙A9S001", model="雅阁")
        today = clock.today()
        f.ServiceOrderFactory(vehicle=car, store_id=store.id, opened_on=today, paid_on=today)
        assert surveys.queue_cs_surveys(db.session, clock.now()) == 1


def enter_member_pages(phone, customer_phone: str) -> None:
    """The sandbox log-in of the member pages: the phone number stands in for WeChat."""
    phone.goto("/m/login")
    phone.locator("#phone").fill(customer_phone)
    phone.get_by_role("button", name="进入会员中心").click()
    expect(phone).to_have_url(re.compile(r"/m/$"))


def test_customer_answers_a_cs_survey_on_a_phone_and_the_low_score_is_called_back(browser, server):
    base_url, env = server
    browser_support.run_in_server_environment(env, __name__, "seed_settled_order")

    context = browser_support.phone_context(browser, base_url)
    try:
        phone = context.new_page()
        enter_member_pages(phone, CUSTOMER_PHONE)
        phone.get_by_role("link", name=re.compile("我的问卷")).click()
        expect(phone).to_have_url(re.compile(r"/m/surveys/$"))
        phone.locator("a[data-survey]", has_text="浙A9S001 雅阁").click()
        expect(phone).to_have_url(re.compile(r"/m/surveys/\d+$"))
        survey_url = phone.url
        expect(phone.locator(".page-head")).to_contain_text("服务满意度调查")
        browser_support.assert_fits_the_phone(phone)

        phone.locator("label[for=score-2]").tap()
        expect(phone.locator("#score-2")).to_be_checked()
        phone.locator("textarea[name=comment]").fill("等了两个小时才交车")
        phone.get_by_role("button", name="提交评价").tap()

        expect(phone).to_have_url(survey_url)
        expect(phone.locator(".toast")).to_contain_text("感谢您的评价")
        expect(phone.locator("[data-state=answered] [data-score]")).to_have_text("2")
        expect(phone.locator("[data-comment]")).to_contain_text("等了两个小时才交车")
        browser_support.assert_fits_the_phone(phone)

        phone.goto(survey_url)
        expect(phone.locator(".toast")).to_have_count(0)
        expect(phone.locator("[data-state=answered] [data-score]")).to_have_text("2")
        expect(phone.locator("input[name=score]")).to_have_count(0)
        phone.goto("/m/surveys/")
        expect(phone.locator(".empty")).to_contain_text("目前没有待填写的问卷")
    finally:
        context.close()

    staff_context = browser_support.phone_context(browser, base_url)
    try:
        bench = staff_context.new_page()
        browser_support.enter_h5(bench, CARE_PHONE)
        task = bench.locator("#care-tasks .care-task", has_text="吴先生")
        expect(task).to_contain_text("满意度回访")
        expect(task).to_contain_text("2分")
        expect(task).to_contain_text("等了两个小时才交车")
    finally:
        staff_context.close()
