"""Staff H5 and member pages in sandbox mode (no WeChat credentials): entering by phone."""

from __future__ import annotations

import pytest

from crm import create_app
from tests import factories as f
from tests.conftest import app_config


def test_staff_enters_the_workbench_by_phone_in_the_sandbox(client, org):
    response = client.post("/h5/login", data={"phone": org.sales_a1.phone}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert org.sales_a1.name in page
    assert "线索甲" in page  # their own lead
    assert "线索乙" not in page  # a colleague's
    assert "客户池：1 条待认领" in page


def test_unknown_phone_gets_a_clear_message_on_the_h5_login(client, org):
    response = client.post("/h5/login", data={"phone": "13900001111"})
    assert response.status_code == 400
    assert "该手机号不是在职员工" in response.get_data(as_text=True)


def test_left_staff_cannot_enter_the_workbench(client, org, session):
    org.sales_a1.active = False
    session.commit()
    response = client.post("/h5/login", data={"phone": org.sales_a1.phone})
    assert response.status_code == 400


def test_customer_sees_their_vehicles_and_service_history(client, org):
    vehicle = f.VehicleFactory(customer=org.customer_a1, plate="浙A12345")
    f.ServiceOrderFactory(vehicle=vehicle, work_items="更换机油机滤", labour_fen=12000, parts_fen=0)
    response = client.post("/m/login", data={"phone": org.customer_a1.phone}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "客户甲" in page and "浙A12345" in page
    assert "更换机油机滤" in page and "¥120.00" in page


def test_member_pages_send_strangers_to_login(client):
    response = client.get("/m/")
    assert response.status_code == 302 and response.location.endswith("/m/login")


@pytest.fixture
def wechat_configured_client(tmp_path, app, session):
    configured = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID="wx-real",
            WECHAT_APP_SECRET="real-secret",
        )
    )
    return configured.test_client()


def test_sandbox_log_in_is_off_when_wechat_credentials_are_set(wechat_configured_client, org):
    response = wechat_configured_client.get("/h5/login")
    assert response.status_code == 302
    assert response.location.startswith("https://open.weixin.qq.com/connect/oauth2/authorize")
    posted = wechat_configured_client.post("/m/login", data={"phone": org.customer_a1.phone})
    assert posted.status_code == 302 and "open.weixin.qq.com" in posted.location
    assert wechat_configured_client.get("/m/").status_code == 302  # still not logged in
    assert wechat_configured_client.get("/sandbox/").status_code == 404


def test_sandbox_page_lists_who_can_enter(client, org):
    page = client.get("/sandbox/").get_data(as_text=True)
    assert "微信沙箱" in page and org.sales_a1.name in page and "客户甲" in page


def test_front_page_says_where_to_go(client):
    page = client.get("/").get_data(as_text=True)
    for place in ("/console/", "/h5/", "/m/", "/sandbox/"):
        assert f'href="{place}"' in page


def test_sandbox_log_in_offers_demo_people_to_enter_as(client, org):
    page = client.get("/h5/login").get_data(as_text=True)
    assert "以“销售A1”登录" in page and "以“A店管理员”登录" in page
    response = client.post("/h5/login", data={"phone": org.store_admin_b.phone})
    assert response.status_code == 302
    assert "以“客户甲”登录" in client.get("/m/login").get_data(as_text=True)


def test_workbench_page_title_is_plain_text(client, org):
    client.post("/h5/login", data={"phone": org.sales_a1.phone})
    page = client.get("/h5/").get_data(as_text=True)
    assert "<title>工作台</title>" in page
    assert page.count("我的客户") == 1
