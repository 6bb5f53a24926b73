"""The WeChat sandbox: the same client and code path, a local transport; messages land in the
sandbox inbox, per recipient, newest first. Never in production."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.config import ConfigError, load_settings
from crm.models import WeChatIdentity
from tests.conftest import login
from wechat.client import official_account_client


def _send(app, openid: str, first: str, remark: str) -> dict:
    client = official_account_client(app.extensions["crm_settings"])
    return client.message.send_template(
        openid,
        "TEMPLATE-maintenance",
        {"first": {"value": first}, "remark": {"value": remark}},
        url="/m/",
    )


def test_a_message_sent_in_the_sandbox_shows_on_the_recipients_phone(client, app, org, frozen_now):
    client.post("/m/login", data={"phone": org.customer_a1.phone})
    answer = _send(app, f"sandbox-customer-{org.customer_a1.id}", "您的爱车该保养了", "欢迎预约")
    assert answer["errcode"] == 0 and answer["msgid"]
    page = client.get("/sandbox/").get_data(as_text=True)
    phone = page.split(f'data-openid="sandbox-customer-{org.customer_a1.id}"')[1]
    assert "客户甲" in phone[:200]
    assert "您的爱车该保养了" in phone and "remark: 欢迎预约" in phone


def test_the_inbox_shows_the_newest_message_first(client, app, org, frozen_now):
    openid = f"sandbox-customer-{org.customer_a1.id}"
    _send(app, openid, "第一条", "")
    frozen_now.shift(timedelta(minutes=5))
    _send(app, openid, "第二条", "")
    page = client.get("/sandbox/").get_data(as_text=True)
    assert page.index("第二条") < page.index("第一条")


def test_an_empty_inbox_says_so(client):
    assert "还没有消息" in client.get("/sandbox/").get_data(as_text=True)


def test_the_sandbox_is_refused_at_start_up_in_production(tmp_path):
    with pytest.raises(ConfigError, match="WECHAT_APP_ID, WECHAT_APP_SECRET"):
        load_settings(
            {
                "CRM_ENV": "production",
                "CRM_INSTANCE_PATH": str(tmp_path),
                "SECRET_KEY": "s",
                "PII_KEY": "k",
            }
        )


def test_scanning_a_staff_invitation_in_the_sandbox_binds_and_shows_the_reply(
    client, org, session, frozen_now
):
    login(client, org.store_admin_a)
    page = client.post(f"/console/staff/{org.sales_a2.id}/invitation").get_data(as_text=True)
    link = re.search(r'href="(/sandbox/qr/[^"]+)"', page).group(1)
    assert "模拟扫码关注" in client.get(link).get_data(as_text=True)
    client.post(link + "/scan")
    inbox = client.get("/sandbox/").get_data(as_text=True)
    assert "绑定成功：欢迎您，销售A2。员工身份已绑定" in inbox
    bound = session.scalar(select(WeChatIdentity).where(WeChatIdentity.staff_id == org.sales_a2.id))
    assert bound.openid.startswith("sandbox-phone-") and bound.subscribed
    client.post(link + "/scan")  # the code is spent: a second phone binds nothing
    assert "已被使用" in client.get("/sandbox/").get_data(as_text=True)


def test_an_unknown_sandbox_qr_is_404(client):
    assert client.get("/sandbox/qr/nope").status_code == 404
    assert client.post("/sandbox/qr/nope/scan").status_code == 404
