"""What the Official Account does with the messages and events WeChat pushes to the callback.

Each push is handled once and fast (database writes only):

- a request's (timestamp, nonce) pair is remembered; the same pair again is a replay and is
  refused. The signature covers timestamp and nonce, and stale timestamps are refused before
  this point, so a replay cannot change them; keying on the pair lets two genuine pushes share
  a random nonce at different times;
- a message (its MsgId, or for events FromUserName + CreateTime + Event) is handled once; when
  WeChat re-delivers it, the first reply is answered again and nothing changes;
- follows and unfollows are recorded on the openid's identity; scanning a binding QR code binds
  the openid to its person (``crm.services.binding``); menu clicks and text messages get a
  text reply (keyword auto-replies configured in the console);
- answers to the subscription pop-up count the customer's one-time subscription grants
  (``crm.services.subscribe_grants``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from xml.parsers.expat import ExpatError

import phonenumbers
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wechatpy import parse_message

from crm.errors import Conflict, ValidationError
from crm.models import AutoReply, CallbackReceipt, Customer, Staff, WeChatApp
from crm.services import binding, subscribe_grants, wechat_identity

KEY_LENGTH = 128  # CallbackReceipt.key
REPLY_LENGTH = 2000  # CallbackReceipt.reply

BIND_FIRST = "您尚未绑定会员身份。请向门店工作人员索取会员绑定二维码，扫码后即可使用此服务。"
WELCOME = "感谢关注！" + BIND_FIRST.removeprefix("您尚未绑定会员身份。")
NOT_A_MEMBER = "您已绑定员工身份。此菜单为会员客户服务，员工请从菜单进入工作台。"
UNKNOWN_MENU = "该菜单暂未开放，敬请期待。"
FALLBACK = "您好，消息已收到，工作人员会尽快回复您。"


class ReplayedCallback(Conflict):
    """A request whose timestamp and nonce were seen before: refused, nothing changed."""


@dataclass(frozen=True)
class Inbound:
    """One pushed message or event, as plain values."""

    openid: str  # FromUserName: the user
    account: str  # ToUserName: the Official Account's original id
    msg_type: str  # text / image / event ...
    event: str  # subscribe / subscribe_scan / unsubscribe / scan / click ... ("" for messages)
    create_time: int
    msg_id: int
    content: str  # a text message's text
    event_key: str  # a click's menu key, or a scan's scene (without "qrscene_")
    # A subscription event's answers, one per template (crm.services.subscribe_grants).
    subscriptions: tuple[subscribe_grants.Choice, ...] = ()

    @property
    def key(self) -> str:
        """The message's identity across WeChat's re-deliveries."""
        if self.msg_id:
            key = f"msg:{self.msg_id}"
        else:
            key = f"evt:{self.openid}:{self.create_time}:{self.event}"
        if len(key) > KEY_LENGTH:
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        return key


def parse(xml: str | bytes) -> Inbound:
    """Read a pushed XML message; malformed or incomplete XML raises ValidationError."""
    try:
        message = parse_message(xml)
        if message is None:
            raise ValidationError("empty message", "xml")
        openid, account = message.source, message.target
        event = getattr(message, "event", "") or ""
        inbound = Inbound(
            openid=openid or "",
            account=account or "",
            msg_type=message.type,
            event=event,
            create_time=message.time or 0,
            msg_id=message.id or 0,
            content=(getattr(message, "content", "") or "") if message.type == "text" else "",
            event_key=_event_key(message),
            subscriptions=(
                subscribe_grants.choices(xml) if event in subscribe_grants.EVENTS else ()
            ),
        )
    except (ExpatError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValidationError("malformed XML", "xml") from exc
    if not inbound.openid or not inbound.account or not inbound.create_time:
        raise ValidationError("FromUserName, ToUserName and CreateTime are required", "xml")
    return inbound


def _event_key(message) -> str:
    value = getattr(message, "scene_id", None) or getattr(message, "key", None) or ""
    return str(value)


def handle(session: Session, inbound: Inbound, *, request_key: str, now: datetime) -> str:
    """Handle one push and return the text to reply ("" for none).

    ``request_key`` is the request's timestamp and nonce: seen before, the request is a replay
    and ``ReplayedCallback`` is raised with nothing changed. A message handled before answers
    its first reply again without being handled twice.
    """
    try:
        with session.begin_nested():
            session.add(
                CallbackReceipt(kind="nonce", key=request_key[:KEY_LENGTH], received_at=now)
            )
            session.flush()
    except IntegrityError as exc:
        raise ReplayedCallback("replayed request") from exc

    receipt = CallbackReceipt(kind="message", key=inbound.key, received_at=now)
    try:
        with session.begin_nested():
            session.add(receipt)
            session.flush()
    except IntegrityError:
        earlier = session.scalar(
            select(CallbackReceipt).where(
                CallbackReceipt.kind == "message", CallbackReceipt.key == inbound.key
            )
        )
        session.commit()
        return earlier.reply if earlier is not None else ""

    reply = _dispatch(session, inbound, now)[:REPLY_LENGTH]
    receipt.reply = reply
    session.commit()
    return reply


def _dispatch(session: Session, inbound: Inbound, now: datetime) -> str:
    if inbound.msg_type == "text":
        return _auto_reply(session, inbound.content)
    if inbound.msg_type != "event":
        return ""
    if inbound.event == "unsubscribe":
        identity = wechat_identity.remember(
            session, WeChatApp.OFFICIAL_ACCOUNT, inbound.openid, None, now
        )
        identity.subscribed = False
        identity.unsubscribed_at = now
        return ""
    if inbound.event in ("subscribe", "subscribe_scan", "scan"):
        identity = wechat_identity.remember(
            session, WeChatApp.OFFICIAL_ACCOUNT, inbound.openid, None, now
        )
        if inbound.event != "scan" or not identity.subscribed:
            # A scan comes only from a follower: it also mends a follow the callback missed.
            identity.subscribed = True
            identity.subscribed_at = now
        if inbound.event == "subscribe":
            return _welcome(session, inbound.openid)
        return _bind(session, inbound.openid, inbound.event_key, now)
    if inbound.event == "click":
        return _menu(session, inbound.openid, inbound.event_key)
    if inbound.event in subscribe_grants.EVENTS:
        subscribe_grants.record(session, inbound.openid, inbound.event, inbound.subscriptions, now)
    return ""


def _welcome(session: Session, openid: str) -> str:
    person = wechat_identity.person_for_openid(session, WeChatApp.OFFICIAL_ACCOUNT, openid)
    if person is None:
        return WELCOME
    return f"欢迎回来，{person.name}！"


def _bind(session: Session, openid: str, scene: str, now: datetime) -> str:
    try:
        with session.begin_nested():
            person = binding.bind_scene(session, openid, scene, now)
    except ValidationError as error:
        return error.message
    if isinstance(person, Staff):
        return f"绑定成功：欢迎您，{person.name}。员工身份已绑定，可从菜单进入员工工作台。"
    return f"绑定成功：欢迎您，{person.name}。会员身份已绑定，可从菜单查看会员卡、车辆和保养记录。"


def _dialable(e164: str) -> str:
    """A stored E.164 number as people dial it (``0571 8888 1234``)."""
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def _my_sales(customer: Customer) -> str:
    store = customer.store
    phone = f"，门店电话：{_dialable(store.phone)}" if store.phone else ""
    owner = customer.sales_owner
    if owner is None or not owner.active:
        return f"您的专属销售顾问正在安排中，请联系{store.name}{phone}"
    return f"您的专属销售顾问：{owner.name}（{store.name}{phone}）"


# Menu click keys (the menu itself is wechat/menu.py) -> what a bound customer is told.
MENU_REPLIES = {
    "MY_SALES": _my_sales,
}


def _menu(session: Session, openid: str, key: str) -> str:
    answer = MENU_REPLIES.get(key)
    if answer is None:
        return UNKNOWN_MENU
    person = wechat_identity.person_for_openid(session, WeChatApp.OFFICIAL_ACCOUNT, openid)
    if isinstance(person, Customer):
        return answer(person)
    return NOT_A_MEMBER if person is not None else BIND_FIRST


def _auto_reply(session: Session, text: str) -> str:
    """The first active keyword (oldest first) found in the text; else a default listing them."""
    rules = session.scalars(
        select(AutoReply).where(AutoReply.active.is_(True)).order_by(AutoReply.id)
    ).all()
    folded = text.casefold()
    for rule in rules:
        if rule.keyword and rule.keyword.casefold() in folded:
            return rule.reply
    if not rules:
        return FALLBACK
    keywords = "、".join(f"“{rule.keyword}”" for rule in rules)
    return f"{FALLBACK}您也可以回复关键词获取帮助：{keywords}"
