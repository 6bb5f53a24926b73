"""Official Account H5 log-in: silent OAuth (snsapi_base) against the fake WeChat."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from crm import clock, create_app
from crm.models import WeChatApp, WeChatIdentity
from crm.services import binding
from crm.services.wechat_inbound import Inbound, handle
from tests.conftest import app_config
from wechat.client import SharedTokenClient

OAUTH_EXCHANGE = ("GET", "/sns/oauth2/access_token")


@pytest.fixture
def web(tmp_path, app, session, fake_wechat):
    configured = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID=fake_wechat.fake.app_id,
            WECHAT_APP_SECRET=fake_wechat.fake.app_secret,
            WECHAT_API_BASE_URL=fake_wechat.base_url,
        )
    )
    return configured.test_client()


@pytest.fixture
def fake(fake_wechat):
    return fake_wechat.fake


def _bind(session, app, openid, person_field, person, unionid=None):
    session.add(
        WeChatIdentity(
            app=app.value,
            openid=openid,
            unionid=unionid,
            bound_at=clock.now(),
            **{person_field: person.id},
        )
    )
    session.commit()


def _authorize(web, login_path: str) -> dict:
    """Follow our redirect to WeChat's authorise page; return its query (state, redirect)."""
    response = web.get(login_path)
    assert response.status_code == 302
    url = urlparse(response.location)
    assert (url.netloc, url.path) == ("open.weixin.qq.com", "/connect/oauth2/authorize")
    return {key: values[0] for key, values in parse_qs(url.query).items()}


def test_h5_log_in_starts_silent_oauth_with_a_state(web, fake):
    query = _authorize(web, "/h5/login")
    assert query["appid"] == fake.app_id
    assert query["scope"] == "snsapi_base"
    assert query["redirect_uri"] == "http://localhost/h5/oauth"
    assert len(query["state"]) >= 16


def test_a_bound_staff_member_is_logged_in_by_the_openid(web, fake, org, session):
    _bind(session, WeChatApp.OFFICIAL_ACCOUNT, "o-sales", "staff_id", org.sales_a1)
    fake.add_oauth_code("c-1", openid="o-sales")
    state = _authorize(web, "/h5/login")["state"]
    response = web.get(f"/h5/oauth?code=c-1&state={state}")
    assert response.status_code == 302 and response.location.endswith("/h5/")
    assert "销售A1" in web.get("/h5/").get_data(as_text=True)


def test_a_refreshed_oauth_return_does_not_replay_the_code(web, fake, org, session):
    _bind(session, WeChatApp.OFFICIAL_ACCOUNT, "o-sales", "staff_id", org.sales_a1)
    fake.add_oauth_code("c-1", openid="o-sales")
    state = _authorize(web, "/h5/login")["state"]
    web.get(f"/h5/oauth?code=c-1&state={state}")
    again = web.get(f"/h5/oauth?code=c-1&state={state}")
    assert again.status_code == 302 and again.location.endswith("/h5/")
    assert fake.requests.count(OAUTH_EXCHANGE) == 1


def test_an_unbound_openid_is_told_how_to_bind_and_remembered(web, fake, org, session):
    fake.add_oauth_code("c-1", openid="o-new", unionid="u-new")
    state = _authorize(web, "/m/login")["state"]
    page = web.get(f"/m/oauth?code=c-1&state={state}").get_data(as_text=True)
    assert "还没有绑定身份" in page
    remembered = session.scalar(select(WeChatIdentity).where(WeChatIdentity.openid == "o-new"))
    assert (remembered.unionid, remembered.customer_id) == ("u-new", None)
    assert web.get("/m/").status_code == 302


def test_an_openid_is_bound_through_the_unionid_of_a_mini_program_binding(web, fake, org, session):
    _bind(session, WeChatApp.MINIPROGRAM, "o-mini", "customer_id", org.customer_a1, "u-1")
    fake.add_oauth_code("c-1", openid="o-oa", unionid="u-1")
    state = _authorize(web, "/m/login")["state"]
    web.get(f"/m/oauth?code=c-1&state={state}")
    assert "客户甲" in web.get("/m/").get_data(as_text=True)
    oa = session.scalar(select(WeChatIdentity).where(WeChatIdentity.openid == "o-oa"))
    assert oa.customer_id == org.customer_a1.id


def test_a_left_staff_members_binding_stops_working_at_once(web, fake, org, session):
    _bind(session, WeChatApp.OFFICIAL_ACCOUNT, "o-sales", "staff_id", org.sales_a1)
    org.sales_a1.active = False
    session.commit()
    fake.add_oauth_code("c-1", openid="o-sales")
    state = _authorize(web, "/h5/login")["state"]
    web.get(f"/h5/oauth?code=c-1&state={state}")
    assert web.get("/h5/").status_code == 302


def test_a_wrong_state_is_refused(web, fake, org):
    fake.add_oauth_code("c-1", openid="o-x")
    _authorize(web, "/h5/login")
    response = web.get("/h5/oauth?code=c-1&state=forged")
    assert response.status_code == 400 and "授权已失效" in response.get_data(as_text=True)
    assert fake.requests.count(OAUTH_EXCHANGE) == 0


def test_an_invalid_code_is_explained(web, fake, org):
    state = _authorize(web, "/h5/login")["state"]
    response = web.get(f"/h5/oauth?code=nope&state={state}")
    assert response.status_code == 400 and "40029" in response.get_data(as_text=True)


def test_a_customer_identity_does_not_open_the_staff_workbench(web, fake, org, session):
    _bind(session, WeChatApp.OFFICIAL_ACCOUNT, "o-cust", "customer_id", org.customer_a1)
    fake.add_oauth_code("c-1", openid="o-cust")
    state = _authorize(web, "/h5/login")["state"]
    response = web.get(f"/h5/oauth?code=c-1&state={state}")
    assert response.status_code == 403 and "会员身份" in response.get_data(as_text=True)


def test_a_new_staff_member_binds_by_scanning_the_invitation_then_logs_in_by_oauth(
    web, fake, org, session
):
    base_url = web.application.extensions["crm_settings"].wechat_api_base_url
    qr_client = SharedTokenClient(fake.app_id, fake.app_secret, base_url)
    invitation = binding.create_invitation(
        session, org.store_admin_a, staff_id=org.sales_a2.id, now=clock.now(), qr_client=qr_client
    )
    scan = Inbound(
        "o-new-phone",
        "gh_1",
        "event",
        "subscribe_scan",
        int(clock.now().timestamp()),
        0,
        "",
        invitation.scene,
    )
    assert "员工身份已绑定" in handle(session, scan, request_key="t:n", now=clock.now())
    fake.add_oauth_code("c-1", openid="o-new-phone")
    state = _authorize(web, "/h5/login")["state"]
    web.get(f"/h5/oauth?code=c-1&state={state}")
    assert "销售A2" in web.get("/h5/").get_data(as_text=True)
    web.post("/h5/logout")
    assert web.get("/h5/").status_code == 302
