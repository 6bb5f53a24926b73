"""The Official Account menu pushed from code, and JS-SDK signatures for H5 pages."""

from __future__ import annotations

import hashlib

import pytest

from crm import create_app
from tests.conftest import app_config


@pytest.fixture
def configured(tmp_path, app, session, fake_wechat):
    return create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID=fake_wechat.fake.app_id,
            WECHAT_APP_SECRET=fake_wechat.fake.app_secret,
            WECHAT_API_BASE_URL=fake_wechat.base_url,
            PUBLIC_BASE_URL="https://crm.example.com",
        )
    )


def test_push_menu_sends_the_menu_defined_in_code(configured, fake_wechat):
    result = configured.test_cli_runner().invoke(args=["wechat", "push-menu"])
    assert result.exit_code == 0, result.output
    assert "menu pushed to wx-test-app: 会员中心, 预约保养, 服务" in result.output
    (pushed,) = fake_wechat.fake.menus
    assert pushed["button"][0] == {
        "type": "view",
        "name": "会员中心",
        "url": "https://crm.example.com/m/",
    }
    service = pushed["button"][2]["sub_button"]
    assert {"type": "click", "name": "我的销售顾问", "key": "MY_SALES"} in service
    assert {"type": "view", "name": "工作台", "url": "https://crm.example.com/h5/"} in service


def test_push_menu_reports_wechats_refusal(configured, fake_wechat):
    fake_wechat.fake.fail_next("/cgi-bin/menu/create", 45009)
    result = configured.test_cli_runner().invoke(args=["wechat", "push-menu"])
    assert result.exit_code == 1
    assert "WeChat refused the menu: 45009" in result.output


def test_push_menu_in_the_sandbox_goes_nowhere_but_says_so(app, session):
    result = app.test_cli_runner().invoke(args=["wechat", "push-menu"])
    assert result.exit_code == 0 and "menu pushed to the sandbox" in result.output


def test_jssdk_signature_matches_wechats_algorithm(client, org):
    client.post("/m/login", data={"phone": org.customer_a1.phone})
    page = "https://crm.example.com/m/complaint?x=1"
    config = client.get("/wechat/jssdk", query_string={"url": page + "#top"}).get_json()
    plain = (
        f"jsapi_ticket=sandbox-jsapi&noncestr={config['nonceStr']}"
        f"&timestamp={config['timestamp']}&url={page}"
    )
    assert config["signature"] == hashlib.sha1(plain.encode()).hexdigest()
    assert config["appId"] == "wx-sandbox"


def test_jssdk_needs_a_logged_in_person_and_a_full_url(client, org):
    assert client.get("/wechat/jssdk?url=https://x.example/").status_code == 401
    client.post("/m/login", data={"phone": org.customer_a1.phone})
    response = client.get("/wechat/jssdk?url=/relative")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "url"
