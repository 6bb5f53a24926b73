"""One-time subscription messages (issue 8 "Channels and WeChat's rules": where the customer
has granted one, the product counts the grants per customer and kind and spends one per
send; 43101, refused, is recorded). Sending goes through real wechatpy calls to the fake
WeChat; grants arrive as signed pushes to the Official Account callback."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import clock, create_app
from crm.extensions import db
from crm.models import CareTemplate, OutboxMessage, SubscribeGrant, WeChatApp
from crm.services import dispatcher, outbox, subscribe_grants
from tests.conftest import app_config
from tests.test_outbox import SITE, following
from tests.test_wechat_callback import ACCOUNT, TOKEN, WeChatServer
from wechat.client import SharedTokenClient

OPENID = "o-customer-1"
KIND = "insurance"


@pytest.fixture(scope="module")
def oa_app(app, tmp_path_factory):
    """The app with the Official Account's callback token set, on the tests' database."""
    configured = create_app(
        app_config(
            tmp_path_factory.mktemp("oa"),
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_TOKEN=TOKEN,
        )
    )
    yield configured
    with configured.app_context():
        db.engine.dispose()


@pytest.fixture
def wechat_client(fake_wechat):
    fake = fake_wechat.fake
    return SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)


@pytest.fixture
def customer(org, session, fake_wechat):
    following(session, fake_wechat, org.customer_a1.id, openid=OPENID)
    return org.customer_a1


def subscribe_channel(session, org, kind=KIND, template_id="sub-tmpl-1", channel="subscribe"):
    session.add(
        CareTemplate(
            group_id=org.store_a.group_id, kind=kind, template_id=template_id, channel=channel
        )
    )
    session.commit()


def granted(session, customer, remaining: int, kind=KIND) -> None:
    session.add(
        SubscribeGrant(
            customer_id=customer.id,
            kind=kind,
            app=WeChatApp.OFFICIAL_ACCOUNT.value,
            remaining=remaining,
        )
    )
    session.commit()


def grant(session, customer, kind=KIND) -> SubscribeGrant | None:
    return session.scalar(
        select(SubscribeGrant).where(
            SubscribeGrant.customer_id == customer.id, SubscribeGrant.kind == kind
        )
    )


def queue(session, org, customer, *occasions: str) -> None:
    for occasion in occasions:
        outbox.enqueue(
            session,
            store_id=org.store_a.id,
            customer_id=customer.id,
            kind=KIND,
            due_on=clock.today(),
            dedupe_key=f"{KIND}:{customer.id}:{occasion}",
            fields={"keyword1": "交强险", "keyword2": occasion},
            url="/m/",
            not_before=clock.now(),
            now=clock.now(),
        )
    session.commit()


def rows(session) -> list[OutboxMessage]:
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


# --- spending grants ----------------------------------------------------------------------


def test_each_send_spends_one_grant_then_the_template_takes_over(
    org, session, frozen_now, customer, fake_wechat, wechat_client
):
    subscribe_channel(session, org)
    granted(session, customer, 2)
    queue(session, org, customer, "2026-06-20", "2026-06-21", "2026-06-22")

    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"sent": 3}

    sent = fake_wechat.fake.sent
    assert [m["kind"] for m in sent] == ["subscribe", "subscribe", "template"]
    first = sent[0]
    assert (first["touser"], first["template_id"]) == (OPENID, "sub-tmpl-1")
    assert first["page"] == f"{SITE}/m/"
    assert first["data"]["keyword2"] == {"value": "2026-06-20"}
    assert [m.channel for m in rows(session)] == ["subscribe", "subscribe", "template"]
    assert grant(session, customer).remaining == 0


def test_without_a_grant_or_a_template_the_message_has_no_channel(
    org, session, frozen_now, customer, fake_wechat, wechat_client
):
    subscribe_channel(session, org, template_id="")
    queue(session, org, customer, "2026-06-20")

    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"no_channel": 1}
    assert rows(session)[0].error == "客户没有可用的订阅授权"
    assert fake_wechat.fake.sent == []


def test_a_refusal_43101_fails_the_message_and_drops_the_grants(
    org, session, frozen_now, customer, fake_wechat, wechat_client
):
    subscribe_channel(session, org)
    granted(session, customer, 2)
    fake_wechat.fake.refuse_subscriptions(OPENID)
    queue(session, org, customer, "2026-06-20")

    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"failed": 1}

    [message] = rows(session)
    assert (message.state, message.errcode) == ("failed", 43101)
    assert "客户拒收订阅消息" in message.error
    session.expire_all()
    refused = grant(session, customer)
    assert (refused.remaining, refused.refused_at) == (0, clock.now())
    assert fake_wechat.fake.sent == []


# --- grants from the Official Account callback ------------------------------------------


@pytest.fixture
def wechat(oa_app, session, frozen_now):
    return WeChatServer(oa_app.test_client())


def subscription_event(
    openid: str, *answers: tuple[str, str], event=subscribe_grants.POPUP, created=None
):
    entries = "".join(
        f"<List><TemplateId><![CDATA[{template_id}]]></TemplateId>"
        f"<SubscribeStatusString><![CDATA[{status}]]></SubscribeStatusString>"
        "<PopupScene>1</PopupScene></List>"
        for template_id, status in answers
    )
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created or int(clock.now().timestamp())}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>"
        f"<SubscribeMsgPopupEvent>{entries}</SubscribeMsgPopupEvent></xml>"
    )


def test_accepting_the_popup_grants_each_kind_sent_through_that_template(
    org, session, wechat, customer
):
    subscribe_channel(session, org, kind="insurance", template_id="sub-tmpl-1")
    subscribe_channel(session, org, kind="inspection", template_id="sub-tmpl-1")
    subscribe_channel(session, org, kind="maintenance", template_id="sub-tmpl-2")
    subscribe_channel(session, org, kind="new_car", template_id="sub-tmpl-1", channel="template")
    earlier = str(int(clock.now().timestamp()) - 60)

    response = wechat.post(
        subscription_event(
            OPENID, ("sub-tmpl-1", "accept"), ("sub-tmpl-2", "reject"), created=earlier
        )
    )
    assert wechat.reply(response) == {}

    assert grant(session, customer, "insurance").remaining == 1
    assert grant(session, customer, "inspection").remaining == 1
    refused = grant(session, customer, "maintenance")
    assert (refused.remaining, refused.refused_at) == (0, clock.now())
    assert grant(session, customer, "new_car") is None  # a template message needs no grant

    # WeChat re-delivers the same push: counted once. A second answer adds a second grant.
    wechat.post(subscription_event(OPENID, ("sub-tmpl-1", "accept"), created=earlier))
    wechat.post(subscription_event(OPENID, ("sub-tmpl-1", "accept")))
    session.expire_all()
    assert grant(session, customer, "insurance").remaining == 2


def test_turning_the_notification_off_drops_the_grants_left(org, session, wechat, customer):
    subscribe_channel(session, org)
    granted(session, customer, 3)

    wechat.post(subscription_event(OPENID, ("sub-tmpl-1", "reject"), event=subscribe_grants.CHANGE))

    session.expire_all()
    turned_off = grant(session, customer)
    assert (turned_off.remaining, turned_off.refused_at) == (0, clock.now())


def test_an_answer_from_someone_not_bound_grants_nothing(org, session, wechat):
    subscribe_channel(session, org)

    response = wechat.post(subscription_event("o-stranger", ("sub-tmpl-1", "accept")))

    assert response.status_code == 200
    assert session.scalars(select(SubscribeGrant)).all() == []


def test_a_lone_answer_and_the_change_events_own_element_are_read(frozen_now):
    lone = subscription_event(OPENID, ("sub-tmpl-1", "accept"))
    assert subscribe_grants.choices(lone) == (subscribe_grants.Choice("sub-tmpl-1", True),)
    changed = lone.replace("SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent")
    assert subscribe_grants.choices(changed) == (subscribe_grants.Choice("sub-tmpl-1", True),)
