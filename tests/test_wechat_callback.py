"""The Official Account server at /wechat/callback, driven the way WeChat drives it: signed
(and in safe mode AES-encrypted) XML posts built with wechatpy, replies read back the same way."""

from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta

import pytest
import xmltodict
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from crm import clock, create_app
from crm.extensions import db
from crm.models import AutoReply, BindingInvitation, CallbackReceipt, WeChatApp, WeChatIdentity
from crm.services import binding
from crm.services import org as organisation
from tests.conftest import app_config
from wechat.client import SharedTokenClient
from wechat.menu import MY_SALESPERSON_KEY

TOKEN = "callback-token-42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx-test-app"
ACCOUNT = "gh_dealer_oa"
URL = "/wechat/callback"

_nonces = itertools.count(100000)
_msg_ids = itertools.count(6000000001)


def _configured_app(app, tmp_path_factory, **settings):
    configured = create_app(
        app_config(
            tmp_path_factory.mktemp("oa"),
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            **settings,
        )
    )
    yield configured
    with configured.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def plain_app(app, tmp_path_factory):
    yield from _configured_app(app, tmp_path_factory, WECHAT_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def safe_app(app, tmp_path_factory):
    yield from _configured_app(
        app, tmp_path_factory, WECHAT_TOKEN=TOKEN, WECHAT_AES_KEY=AES_KEY, WECHAT_APP_ID=APP_ID
    )


def _signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _now() -> str:
    return str(int(clock.now().timestamp()))


class WeChatServer:
    """Posts to the callback as WeChat does: signed query, XML body, encrypted in safe mode."""

    def __init__(self, client, crypto: WeChatCrypto | None = None):
        self.client = client
        self.crypto = crypto

    def params(self, timestamp: str | None = None, nonce: str | None = None) -> dict:
        timestamp = timestamp or _now()
        nonce = nonce or str(next(_nonces))
        return {
            "signature": _signature(TOKEN, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": "ignored",
        }

    def post(self, xml: str, params: dict | None = None):
        params = params or self.params()
        if self.crypto is None:
            return self.client.post(URL, query_string=params, data=xml.encode())
        sealed = xmltodict.parse(
            self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"])
        )["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
        )
        query = {**params, "encrypt_type": "aes", "msg_signature": sealed["MsgSignature"]}
        return self.client.post(URL, query_string=query, data=body.encode())

    def reply(self, response) -> dict:
        """The reply as a dict (decrypted in safe mode); {} for WeChat's "success"."""
        assert response.status_code == 200, response.get_data(as_text=True)
        text = response.get_data(as_text=True)
        if text == "success":
            return {}
        if self.crypto is not None:
            sealed = xmltodict.parse(text)["xml"]
            text = self.crypto.decrypt_message(
                text, sealed["MsgSignature"], sealed["TimeStamp"], sealed["Nonce"]
            )
        return xmltodict.parse(text)["xml"]

    def content(self, response) -> str:
        return self.reply(response).get("Content", "")


@pytest.fixture
def wechat(plain_app, session, frozen_now):
    return WeChatServer(plain_app.test_client())


@pytest.fixture
def safe_wechat(safe_app, session, frozen_now):
    return WeChatServer(safe_app.test_client(), WeChatCrypto(TOKEN, AES_KEY, APP_ID))


def event(openid: str, name: str, key: str | None = None, created: int | None = None) -> str:
    key_node = "" if key is None else f"<EventKey><![CDATA[{key}]]></EventKey>"
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or _now()}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{name}]]></Event>{key_node}</xml>"
    )


def text(openid: str, content: str, msg_id: int | None = None) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{_now()}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or next(_msg_ids)}</MsgId></xml>"
    )


def _identity(session, openid: str) -> WeChatIdentity | None:
    return session.scalar(
        select(WeChatIdentity).where(
            WeChatIdentity.app == WeChatApp.OFFICIAL_ACCOUNT, WeChatIdentity.openid == openid
        )
    )


def _receipts(session) -> int:
    return session.scalar(select(func.count()).select_from(CallbackReceipt))


@pytest.fixture
def qr_client(fake_wechat):
    fake = fake_wechat.fake
    return SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)


def _invite(session, actor, qr_client, **person) -> BindingInvitation:
    return binding.create_invitation(session, actor, now=clock.now(), qr_client=qr_client, **person)


# --- the URL check (GET) ------------------------------------------------------------------


def test_valid_signature_echoes_echostr(wechat):
    response = wechat.client.get(URL, query_string={**wechat.params(), "echostr": "echo-7781"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "echo-7781"


def test_forged_signature_gets_no_echo(wechat):
    params = {**wechat.params(), "echostr": "echo-7781"}
    params["signature"] = _signature("guessed-token", params["timestamp"], params["nonce"])
    response = wechat.client.get(URL, query_string=params)
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "echo-7781" not in body and "invalid signature" in body


def test_missing_signature_gets_no_echo(wechat):
    response = wechat.client.get(URL, query_string={"echostr": "echo-7781"})
    assert response.status_code == 403


def test_callback_without_a_token_says_it_is_not_configured(client):
    response = client.get(URL, query_string={"echostr": "x", "signature": "s"})
    assert response.status_code == 503
    assert "WECHAT_TOKEN" in response.get_data(as_text=True)
    assert client.post(URL, data=b"<xml/>").status_code == 503


# --- checks on every post -------------------------------------------------------------------


def test_forged_post_signature_is_refused_and_changes_nothing(wechat, session):
    params = wechat.params()
    params["signature"] = _signature("guessed-token", params["timestamp"], params["nonce"])
    response = wechat.post(event("o-fan", "subscribe"), params)
    assert response.status_code == 403
    assert _identity(session, "o-fan") is None and _receipts(session) == 0


def test_stale_timestamp_is_refused_and_changes_nothing(wechat, session):
    old = str(int(clock.now().timestamp()) - 301)
    response = wechat.post(event("o-fan", "subscribe"), wechat.params(timestamp=old))
    assert response.status_code == 403
    assert "stale timestamp" in response.get_data(as_text=True)
    future = str(int(clock.now().timestamp()) + 301)
    assert (
        wechat.post(event("o-fan", "subscribe"), wechat.params(timestamp=future)).status_code == 403
    )
    assert _identity(session, "o-fan") is None and _receipts(session) == 0


def test_timestamp_within_five_minutes_is_accepted(wechat, session):
    recent = str(int(clock.now().timestamp()) - 300)
    response = wechat.post(event("o-fan", "subscribe"), wechat.params(timestamp=recent))
    assert response.status_code == 200
    assert _identity(session, "o-fan").subscribed is True


def test_replayed_nonce_is_rejected_and_changes_nothing(wechat, session):
    params = wechat.params()
    assert wechat.post(event("o-fan", "subscribe"), params).status_code == 200
    # An eavesdropper re-sends the signed query with another body: the signature still holds.
    replay = wechat.post(event("o-fan", "unsubscribe"), params)
    assert replay.status_code == 409
    assert "replayed" in replay.get_data(as_text=True)
    identity = _identity(session, "o-fan")
    assert identity.subscribed is True and identity.unsubscribed_at is None


def test_malformed_xml_is_a_400_and_changes_nothing(wechat, session):
    params = wechat.params()
    for body in ("<xml><FromUserName>o-fan</From", "not xml at all", "<xml>text</xml>", ""):
        response = wechat.post(body, params)
        assert response.status_code == 400, body
    missing_sender = f"<xml><ToUserName>{ACCOUNT}</ToUserName><MsgType>text</MsgType></xml>"
    assert wechat.post(missing_sender, params).status_code == 400
    assert _receipts(session) == 0
    # Nothing was remembered, not even the nonce: the same signed query still works.
    assert wechat.post(event("o-fan", "subscribe"), params).status_code == 200


# --- safe mode --------------------------------------------------------------------------------


def test_safe_mode_decrypts_the_message_and_encrypts_the_reply(safe_wechat, session):
    session.add(AutoReply(keyword="保养", reply="保养预约请拨打门店电话或在会员页预约。"))
    session.commit()
    response = safe_wechat.post(text("o-fan", "我想预约保养"))
    assert response.mimetype == "application/xml"
    raw = response.get_data(as_text=True)
    assert "<Encrypt>" in raw and "保养预约" not in raw
    reply = safe_wechat.reply(response)
    assert reply["Content"] == "保养预约请拨打门店电话或在会员页预约。"
    assert reply["ToUserName"] == "o-fan" and reply["FromUserName"] == ACCOUNT


def test_safe_mode_refuses_plaintext_messages(safe_wechat, session):
    plain = WeChatServer(safe_wechat.client)
    response = plain.post(event("o-fan", "subscribe"))
    assert response.status_code == 403
    assert "encrypted message required" in response.get_data(as_text=True)
    assert _identity(session, "o-fan") is None


def test_safe_mode_refuses_a_forged_message_signature(safe_wechat, session):
    params = safe_wechat.params()
    sealed = xmltodict.parse(
        safe_wechat.crypto.encrypt_message(
            event("o-fan", "subscribe"), params["nonce"], params["timestamp"]
        )
    )["xml"]
    body = f"<xml><Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>"
    query = {**params, "encrypt_type": "aes", "msg_signature": "0" * 40}
    response = safe_wechat.client.post(URL, query_string=query, data=body.encode())
    assert response.status_code == 403
    assert _identity(session, "o-fan") is None and _receipts(session) == 0


def test_safe_mode_subscribe_event_round_trip(safe_wechat, session):
    reply = safe_wechat.reply(safe_wechat.post(event("o-fan", "subscribe")))
    assert reply["Content"].startswith("感谢关注")
    assert _identity(session, "o-fan").subscribed is True


# --- handled once ------------------------------------------------------------------------------


def test_redelivered_msgid_is_handled_once_and_answers_the_first_reply(wechat, session):
    rule = AutoReply(keyword="救援", reply="道路救援请拨打 400-800-1234。")
    session.add(rule)
    session.commit()
    message = text("o-fan", "需要救援", msg_id=6100000001)
    first = wechat.content(wechat.post(message))
    assert first == "道路救援请拨打 400-800-1234。"

    rule.reply = "救援电话已更换。"
    session.commit()
    again = wechat.content(wechat.post(message))  # WeChat retries with a new nonce
    assert again == first
    handled = session.scalars(select(CallbackReceipt).where(CallbackReceipt.kind == "message"))
    assert [(r.key, r.reply) for r in handled] == [("msg:6100000001", first)]


def test_redelivered_scan_event_answers_the_first_reply_and_binds_once(
    wechat, session, org, qr_client
):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    scan = event("o-sales", "SCAN", invitation.scene, created=int(clock.now().timestamp()))
    first = wechat.content(wechat.post(scan))
    assert first.startswith("绑定成功：欢迎您，销售A1")
    again = wechat.content(wechat.post(scan))
    assert again == first  # not "already used": the re-delivery is not handled again
    session.refresh(invitation)
    assert invitation.used_by_openid == "o-sales"


# --- follows ---------------------------------------------------------------------------------


def test_subscribe_then_unsubscribe_records_the_follow(wechat, session, frozen_now):
    followed_at = clock.now()
    welcome = wechat.content(wechat.post(event("o-fan", "subscribe")))
    assert welcome.startswith("感谢关注") and "绑定" in welcome
    identity = _identity(session, "o-fan")
    assert identity.subscribed is True and identity.subscribed_at == followed_at

    frozen_now.shift(timedelta(hours=2))
    response = wechat.post(event("o-fan", "unsubscribe"))
    assert response.get_data(as_text=True) == "success"
    session.refresh(identity)
    assert identity.subscribed is False
    assert identity.unsubscribed_at == followed_at + timedelta(hours=2)
    assert identity.subscribed_at == followed_at


def test_a_bound_customer_who_follows_again_is_welcomed_by_name(wechat, session, org, qr_client):
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    binding.bind_by_scene(session, "o-member", invitation.scene, clock.now())
    assert wechat.content(wechat.post(event("o-member", "subscribe"))) == "欢迎回来，客户甲！"


# --- binding by QR code -----------------------------------------------------------------------


def test_scan_binds_a_staff_member_then_the_code_is_spent(wechat, session, org, qr_client):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    reply = wechat.content(wechat.post(event("o-sales", "SCAN", invitation.scene)))
    assert reply.startswith("绑定成功：欢迎您，销售A1") and "员工身份已绑定" in reply
    identity = _identity(session, "o-sales")
    assert identity.staff_id == org.sales_a1.id and identity.bound_at == clock.now()
    assert identity.subscribed is True  # a scan comes only from a follower

    second = wechat.content(wechat.post(event("o-someone-else", "SCAN", invitation.scene)))
    assert "已被使用" in second
    assert _identity(session, "o-someone-else").staff_id is None
    session.refresh(invitation)
    assert invitation.used_by_openid == "o-sales" and invitation.used_at == clock.now()


def test_follow_by_scanning_a_member_code_binds_the_customer(wechat, session, org, qr_client):
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    reply = wechat.content(
        wechat.post(event("o-member", "subscribe", f"qrscene_{invitation.scene}"))
    )
    assert reply.startswith("绑定成功：欢迎您，客户甲") and "会员身份已绑定" in reply
    identity = _identity(session, "o-member")
    assert identity.customer_id == org.customer_a1.id and identity.subscribed is True


def test_expired_invitation_binds_nothing(wechat, session, org, qr_client, frozen_now):
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    frozen_now.shift(timedelta(minutes=31))
    reply = wechat.content(wechat.post(event("o-member", "SCAN", invitation.scene)))
    assert "二维码已过期" in reply
    assert _identity(session, "o-member").customer_id is None
    session.refresh(invitation)
    assert invitation.used_at is None


def test_unknown_scene_binds_nothing(wechat, session, org):
    reply = wechat.content(wechat.post(event("o-member", "SCAN", "bind:made-up")))
    assert "二维码无效" in reply
    identity = _identity(session, "o-member")
    assert identity.staff_id is None and identity.customer_id is None


def test_left_staff_cannot_be_bound(wechat, session, org, qr_client):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a2.id)
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a2.id, clock.now())
    reply = wechat.content(wechat.post(event("o-left", "SCAN", invitation.scene)))
    assert "离职" in reply and "绑定成功" not in reply
    assert _identity(session, "o-left").staff_id is None


# --- menu clicks and text ---------------------------------------------------------------------


def test_my_sales_menu_names_the_bound_customers_salesperson_and_store_phone(
    wechat, session, org, qr_client
):
    org.store_a.phone = "+8657188881234"
    session.commit()
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    binding.bind_by_scene(session, "o-member", invitation.scene, clock.now())
    reply = wechat.content(wechat.post(event("o-member", "CLICK", MY_SALESPERSON_KEY)))
    assert reply == "您的专属销售顾问：销售A1（杭州A店，门店电话：0571 8888 1234）"


def test_my_sales_menu_tells_a_bound_staff_member_it_is_for_members(
    wechat, session, org, qr_client
):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    binding.bind_by_scene(session, "o-sales", invitation.scene, clock.now())
    reply = wechat.content(wechat.post(event("o-sales", "CLICK", MY_SALESPERSON_KEY)))
    assert "员工身份" in reply and "会员" in reply


def test_my_sales_menu_asks_strangers_to_bind_first(wechat, session):
    reply = wechat.content(wechat.post(event("o-stranger", "CLICK", MY_SALESPERSON_KEY)))
    assert "尚未绑定" in reply and "二维码" in reply


def test_unknown_menu_key_gets_a_polite_text(wechat, session):
    assert "暂未开放" in wechat.content(wechat.post(event("o-fan", "CLICK", "NO_SUCH_KEY")))


def test_text_answers_the_first_active_matching_auto_reply(wechat, session):
    session.add_all(
        [
            AutoReply(keyword="保养", reply="旧的保养说明", active=False),
            AutoReply(keyword="地址", reply="杭州市西湖区文三路 100 号"),
            AutoReply(keyword="保养价格", reply="首保免费，之后按里程计价。"),
        ]
    )
    session.commit()
    assert wechat.content(wechat.post(text("o-fan", "请问保养价格多少"))) == (
        "首保免费，之后按里程计价。"
    )
    assert wechat.content(wechat.post(text("o-fan", "门店地址在哪"))) == "杭州市西湖区文三路 100 号"


def test_unmatched_text_gets_a_default_listing_the_keywords(wechat, session):
    session.add_all(
        [AutoReply(keyword="地址", reply="..."), AutoReply(keyword="救援", reply="...")]
    )
    session.add(AutoReply(keyword="停用", reply="...", active=False))
    session.commit()
    reply = wechat.content(wechat.post(text("o-fan", "你好")))
    assert "消息已收到" in reply and "“地址”" in reply and "“救援”" in reply
    assert "停用" not in reply
