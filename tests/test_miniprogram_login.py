"""Log-in from the mini-program against the fake WeChat: jscode2session, the billed phone API
called once, binding by openid and by unionid, and tokens that stop working when staff leave."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm import clock, create_app
from crm.models import Customer, WeChatApp, WeChatIdentity
from crm.services import org as organisation
from tests.conftest import app_config
from tests.fakes.wechat import MINIPROGRAM_APP

LOGIN = "/api/v1/auth/miniprogram"


@pytest.fixture
def api(tmp_path, app, session, fake_wechat):
    configured = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            MINIPROGRAM_APP_ID=MINIPROGRAM_APP[0],
            MINIPROGRAM_APP_SECRET=MINIPROGRAM_APP[1],
            WECHAT_API_BASE_URL=fake_wechat.base_url,
        )
    )
    return configured.test_client()


@pytest.fixture
def fake(fake_wechat):
    return fake_wechat.fake


def _national(e164: str) -> str:
    return e164.removeprefix("+86")


def test_staff_member_logs_in_with_the_verified_phone_and_gets_a_token_with_the_role(
    api, fake, org
):
    fake.add_js_code("js-1", openid="o-mini-sales", unionid="u-sales")
    fake.add_phone_code("ph-1", _national(org.sales_a1.phone))
    response = api.post(LOGIN, json={"code": "js-1", "phone_code": "ph-1", "audience": "staff"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["staff"]["role"] == "salesperson" and body["staff"]["name"] == "销售A1"
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["staff"]["id"] == org.sales_a1.id


def test_the_billed_phone_api_is_called_once_then_the_openid_alone_logs_in(api, fake, org):
    fake.add_js_code("js-1", openid="o-mini-cust")
    fake.add_phone_code("ph-1", _national(org.customer_a1.phone))
    first = api.post(LOGIN, json={"code": "js-1", "phone_code": "ph-1"})
    assert first.get_json()["customer"]["name"] == "客户甲"
    fake.add_js_code("js-2", openid="o-mini-cust")
    second = api.post(LOGIN, json={"code": "js-2"})
    assert second.get_json()["customer"]["id"] == org.customer_a1.id
    assert fake.phone_calls == 1


def test_an_openid_is_bound_through_the_unionid_of_an_official_account_binding(
    api, fake, org, session
):
    session.add(
        WeChatIdentity(
            app=WeChatApp.OFFICIAL_ACCOUNT.value,
            openid="o-oa-cust",
            unionid="u-cust",
            customer_id=org.customer_b.id,
            bound_at=clock.now(),
        )
    )
    session.commit()
    fake.add_js_code("js-1", openid="o-mini-cust", unionid="u-cust")
    response = api.post(LOGIN, json={"code": "js-1"})
    assert response.get_json()["customer"]["id"] == org.customer_b.id
    assert fake.phone_calls == 0


def test_an_unknown_customer_phone_is_offered_membership_and_no_record_is_invented(
    api, fake, org, session
):
    before = session.scalar(select(func.count()).select_from(Customer))
    fake.add_js_code("js-1", openid="o-stranger")
    fake.add_phone_code("ph-1", "13911112222")
    body = api.post(LOGIN, json={"code": "js-1", "phone_code": "ph-1"}).get_json()
    assert body["registered"] is False
    assert body["membership_offer"]["phone"] == "139****2222"
    assert "token" not in body
    assert session.scalar(select(func.count()).select_from(Customer)) == before


def test_an_unknown_staff_phone_is_told_it_is_not_registered(api, fake, org):
    fake.add_js_code("js-1", openid="o-stranger")
    fake.add_phone_code("ph-1", "13911112222")
    response = api.post(LOGIN, json={"code": "js-1", "phone_code": "ph-1", "audience": "staff"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_registered"
    assert "未登记为员工" in response.get_json()["error"]["message"]


def test_first_log_in_without_a_phone_code_asks_for_the_phone(api, fake, org):
    fake.add_js_code("js-1", openid="o-new")
    response = api.post(LOGIN, json={"code": "js-1"})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "phone_code"


@pytest.mark.parametrize(("prepare", "message"), [(False, "登录凭证无效"), (True, "已使用")])
def test_an_invalid_or_reused_code_is_refused_with_a_clear_message(
    api, fake, org, prepare, message
):
    if prepare:
        fake.add_js_code("js-1", openid="o-x")
        fake.used_codes.add("js-1")
    response = api.post(LOGIN, json={"code": "js-1"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == "code" and message in error["message"]


def test_a_left_staff_members_token_and_binding_stop_working_at_once(api, fake, org, session):
    fake.add_js_code("js-1", openid="o-mini-sales")
    fake.add_phone_code("ph-1", _national(org.sales_a1.phone))
    token = api.post(LOGIN, json={"code": "js-1", "phone_code": "ph-1"}).get_json()["token"]
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401 and "停用" in me.get_json()["error"]["message"]
    fake.add_js_code("js-2", openid="o-mini-sales")
    again = api.post(LOGIN, json={"code": "js-2"})
    assert again.status_code == 400 and "停用" in again.get_json()["error"]["message"]


def test_a_forged_token_is_refused(api):
    response = api.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.get_json()["error"] == {
        "code": "invalid_token",
        "message": "登录凭证无效",
        "field": "token",
    }


def test_a_body_that_is_not_json_names_the_body(api):
    response = api.post(LOGIN, data="code=1", content_type="text/plain")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"


def test_without_mini_program_credentials_log_in_answers_503(client):
    response = client.post(LOGIN, json={"code": "js-1"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "miniprogram_not_configured"
