"""One access token for all processes (the WeChat issue, "One access_token for all
processes"): fetched with stable_token under a lock, shared, refreshed once on rejection."""

from __future__ import annotations

import threading

import pytest
from wechatpy.exceptions import APILimitedException, WeChatClientException

from crm import create_app
from tests.conftest import app_config
from wechat.client import official_account_client

OPENID = "o-customer-1"
INFO = "/cgi-bin/user/info"


@pytest.fixture
def wechat_apps(tmp_path, fake_wechat):
    """Two app instances (think: two gunicorn workers) configured for the fake WeChat."""
    config = app_config(
        tmp_path,
        WECHAT_APP_ID=fake_wechat.fake.app_id,
        WECHAT_APP_SECRET=fake_wechat.fake.app_secret,
        WECHAT_API_BASE_URL=fake_wechat.base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    )
    return [create_app(config), create_app(config)]


def _client(app):
    return official_account_client(app.extensions["crm_settings"])


def _hammer(apps, calls_each: int, midway=None):
    """8 threads, 4 per app instance, each making ``calls_each`` API calls."""
    failures: list[BaseException] = []
    half = threading.Barrier(9) if midway else None

    def work(app):
        client = _client(app)
        try:
            for number in range(calls_each):
                if half and number == calls_each // 2:
                    half.wait(timeout=10)  # everyone pauses while the token rotates
                    half.wait(timeout=10)
                assert client.user.get(OPENID)["openid"] == OPENID
        except BaseException as exc:  # collected and asserted on below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(apps[n % 2],)) for n in range(8)]
    for thread in threads:
        thread.start()
    if half:
        half.wait(timeout=10)
        midway()
        half.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=30)
    return failures


def test_eight_concurrent_callers_on_two_app_instances_cause_one_token_fetch(
    wechat_apps, fake_wechat
):
    failures = _hammer(wechat_apps, calls_each=5)
    assert failures == []
    assert fake_wechat.fake.token_fetches == [("/cgi-bin/stable_token", fake_wechat.fake.app_id)]
    assert len(fake_wechat.fake.issued_tokens) == 1
    assert fake_wechat.fake.requests.count(("GET", INFO)) == 40


def test_a_token_rotation_mid_flight_issues_at_most_two_tokens_and_no_call_fails(
    wechat_apps, fake_wechat
):
    failures = _hammer(wechat_apps, calls_each=6, midway=fake_wechat.fake.expire_tokens)
    assert failures == []
    assert len(fake_wechat.fake.issued_tokens) <= 2
    assert fake_wechat.fake.requests.count(("GET", INFO)) >= 48


def test_a_token_cancelled_by_someone_else_is_replaced_and_the_call_retried(
    wechat_apps, fake_wechat
):
    client = _client(wechat_apps[0])
    client.user.get(OPENID)
    # Another program fetches with cgi-bin/token, which cancels every earlier token (40001).
    fake_wechat.fake.token(
        {
            "grant_type": "client_credential",
            "appid": fake_wechat.fake.app_id,
            "secret": fake_wechat.fake.app_secret,
        }
    )
    assert _client(wechat_apps[1]).user.get(OPENID)["openid"] == OPENID
    assert fake_wechat.fake.requests.count(("GET", INFO)) == 3  # the rejected call, then retry


def test_a_refreshed_token_is_retried_once_only(wechat_apps, fake_wechat):
    client = _client(wechat_apps[0])
    fake_wechat.fake.fail_next(INFO, 40001, 40001)
    with pytest.raises(WeChatClientException) as caught:
        client.user.get(OPENID)
    assert caught.value.errcode == 40001
    assert fake_wechat.fake.requests.count(("GET", INFO)) == 2


def test_errors_other_than_token_ones_are_not_retried(wechat_apps, fake_wechat):
    fake_wechat.fake.fail_next(INFO, 45009)
    with pytest.raises(APILimitedException):
        _client(wechat_apps[0]).user.get(OPENID)
    assert fake_wechat.fake.requests.count(("GET", INFO)) == 1


def test_wrong_secret_is_reported_with_wechats_errcode(tmp_path, fake_wechat):
    app = create_app(
        app_config(
            tmp_path,
            WECHAT_APP_ID=fake_wechat.fake.app_id,
            WECHAT_APP_SECRET="wrong",
            WECHAT_API_BASE_URL=fake_wechat.base_url,
            DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        )
    )
    with pytest.raises(WeChatClientException) as caught:
        _client(app).user.get(OPENID)
    assert caught.value.errcode == 40125


def test_api_groups_with_their_own_wechat_address_are_sent_to_the_configured_base(
    wechat_apps, fake_wechat
):
    fake_wechat.fake.add_js_code("js-1", openid="o-mini-1", unionid="u-1")
    answer = _client(wechat_apps[0]).wxa.code_to_session("js-1")
    assert answer["openid"] == "o-mini-1"
    assert ("GET", "/sns/jscode2session") in fake_wechat.fake.requests
