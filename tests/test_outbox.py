"""The outbox and its dispatcher with the first care kind, new-car care (ARCHITECTURE rule 2;
PRODUCT "Deal and handover": the customer is told who serves them). Sending goes through real
wechatpy calls to the fake WeChat server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import (
    CareTemplate,
    OutboxMessage,
    OutboxState,
    SandboxMessage,
    WeChatApp,
    WeChatIdentity,
)
from crm.services import delivery, dispatcher, handover, outbox
from crm.services.care import new_car, planner
from tests import factories as f
from tests.test_deals import delivered, delivery_input, paid_deal
from wechat.client import SharedTokenClient

SITE = "https://crm.example.cn"


@pytest.fixture
def wechat_client(fake_wechat):
    fake = fake_wechat.fake
    return SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)


def handed_over(session, org):
    deal = delivered(session, org)
    handover.assign_advisor(
        session, org.store_admin_a, deal.customer_id, org.advisor_a.id, clock.now()
    )
    return deal


def following(session, fake_wechat, customer_id, openid="o-customer-1"):
    session.add(
        WeChatIdentity(
            app=WeChatApp.OFFICIAL_ACCOUNT.value,
            openid=openid,
            customer_id=customer_id,
            subscribed=True,
            bound_at=clock.now(),
        )
    )
    fake_wechat.fake.subscribe(openid)
    session.commit()


def with_template(session, org, template_id="tmpl-new-car"):
    session.add(
        CareTemplate(group_id=org.store_a.group_id, kind=new_car.KIND.name, template_id=template_id)
    )
    session.commit()


def rows(session):
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def test_new_car_message_waits_for_the_advisor_then_names_them(org, session, frozen_now):
    org.store_a.phone, org.store_a.rescue_phone = "0571-88880001", "13900009999"
    org.store_a.address = "杭州市西湖区文三路100号"
    deal = delivered(session, org)
    assert rows(session) == []  # nobody to introduce yet

    handover.assign_advisor(
        session, org.store_admin_a, deal.customer_id, org.advisor_a.id, clock.now()
    )
    [message] = rows(session)
    assert (message.kind, message.customer_id, message.state) == (
        "new_car",
        deal.customer_id,
        "pending",
    )
    assert message.dedupe_key == f"new_car:{deal.customer_id}:{deal.vehicle_id}"
    assert message.payload["data"] == {
        "keyword1": "服务顾问A",
        "keyword2": "0571-88880001",
        "keyword3": "13900009999",
        "keyword4": "杭州市西湖区文三路100号",
        "keyword5": "2026-12-15或5012公里",
    }
    assert message.not_before == clock.now()


def test_second_car_of_a_customer_with_an_advisor_is_introduced_at_delivery(
    org, session, frozen_now
):
    org.customer_a1.advisor_id = org.advisor_a.id
    session.commit()

    lead = f.LeadFactory(
        store=org.store_a,
        owner=org.sales_a1,
        phone=org.customer_a1.phone,
        phone_index=org.customer_a1.phone_index,
    )
    deal = paid_deal(session, org.sales_a1, lead)
    delivery.deliver(session, org.sales_a1, deal.id, delivery_input(), clock.now())
    assert [m.customer_id for m in rows(session)] == [org.customer_a1.id]


def test_planning_twice_queues_each_message_once(org, session, frozen_now):
    deal = handed_over(session, org)
    assert planner.plan_day(session, clock.today(), clock.now())["new_car"] == 0
    session.execute(OutboxMessage.__table__.delete())
    session.commit()
    assert planner.plan_day(session, clock.today(), clock.now())["new_car"] == 1
    assert planner.plan_day(session, clock.today(), clock.now())["new_car"] == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert rows(session)[0].dedupe_key == f"new_car:{deal.customer_id}:{deal.vehicle_id}"


def test_handover_in_the_evening_waits_for_the_morning(org, session, frozen_now):
    deal = delivered(session, org)
    evening = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)  # 22:30 in Beijing
    handover.assign_advisor(session, org.store_admin_a, deal.customer_id, org.advisor_a.id, evening)
    assert rows(session)[0].not_before == datetime(2026, 6, 16, 0, 0, tzinfo=UTC)  # 08:00


def test_template_values_are_cut_to_what_wechat_shows():
    assert (
        outbox.shown("杭州市西湖区文三路100号华星科技大厦一楼展厅")
        == "杭州市西湖区文三路100号华星科技大厦…"
    )
    assert len(outbox.shown("x" * 40)) == 20


def test_dispatcher_sends_the_template_to_the_followed_account(
    org, session, frozen_now, fake_wechat, wechat_client
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    with_template(session, org)
    outcome = dispatcher.dispatch(session, wechat_client, SITE, clock.now())
    assert outcome == {"sent": 1}
    [sent] = fake_wechat.fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-customer-1", "tmpl-new-car")
    assert sent["data"]["keyword1"] == {"value": "服务顾问A"}
    assert sent["url"] == f"{SITE}/m/"
    message = rows(session)[0]
    assert (message.state, message.msgid, message.attempts) == ("sent", str(sent["msgid"]), 1)
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {}  # sent once


def test_customer_not_following_gets_no_message_and_the_reason_is_kept(
    org, session, frozen_now, fake_wechat, wechat_client
):
    handed_over(session, org)
    with_template(session, org)
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"no_channel": 1}
    assert rows(session)[0].error == "客户未关注公众号"
    assert fake_wechat.fake.sent == []


def test_kind_without_a_template_is_no_channel_not_a_silent_skip(
    org, session, frozen_now, fake_wechat, wechat_client
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"no_channel": 1}
    assert rows(session)[0].error == "未配置该提醒的发送渠道"


def test_rate_limited_send_is_retried_after_a_backoff(
    org, session, frozen_now, fake_wechat, wechat_client
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    with_template(session, org)
    fake_wechat.fake.fail_next("/cgi-bin/message/template/send", 45009)
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"pending": 1}
    message = rows(session)[0]
    assert (message.errcode, message.not_before) == (45009, clock.now() + timedelta(minutes=1))
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {}  # not yet
    later = clock.now() + timedelta(minutes=1)
    assert dispatcher.dispatch(session, wechat_client, SITE, later) == {"sent": 1}
    assert len(fake_wechat.fake.sent) == 1 and rows(session)[0].attempts == 2


def test_unsubscribed_since_planning_is_no_channel(
    org, session, frozen_now, fake_wechat, wechat_client
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    with_template(session, org)
    fake_wechat.fake.subscribed.discard("o-customer-1")
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"no_channel": 1}
    assert rows(session)[0].errcode == 43004


def test_other_errors_fail_with_the_reason(org, session, frozen_now, fake_wechat, wechat_client):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    with_template(session, org)
    fake_wechat.fake.fail_next("/cgi-bin/message/template/send", 40037)
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"failed": 1}
    message = rows(session)[0]
    assert message.state == OutboxState.FAILED and message.error.startswith("40037")


def test_rows_left_sending_by_a_dead_dispatcher_are_sent_again(
    org, session, frozen_now, fake_wechat, wechat_client
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    with_template(session, org)
    assert dispatcher.claim(session, clock.now()) == [rows(session)[0].id]  # then it died
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {}
    soon = clock.now() + dispatcher.STALE_CLAIM + timedelta(seconds=1)
    assert dispatcher.dispatch(session, wechat_client, SITE, soon) == {"sent": 1}
    assert len(fake_wechat.fake.sent) == 1


def test_jobs_plan_and_dispatch_commands_send_through_the_sandbox(
    cli, org, session, frozen_now, fake_wechat
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id, openid="sandbox-phone-1")
    with_template(session, org)
    session.execute(OutboxMessage.__table__.delete())
    session.commit()

    planned = cli.invoke(args=["jobs", "plan", "--date", clock.today().isoformat()])
    assert planned.exit_code == 0 and "new_car: 1 queued" in planned.output
    again = cli.invoke(args=["jobs", "plan", "--date", clock.today().isoformat()])
    assert "new_car: 0 queued" in again.output

    sent = cli.invoke(args=["jobs", "dispatch"])
    assert sent.exit_code == 0 and "sent: 1" in sent.output, sent.output
    inbox = session.scalars(select(SandboxMessage)).all()
    assert [m.openid for m in inbox] == ["sandbox-phone-1"] and "服务顾问A" in inbox[0].body
    assert cli.invoke(args=["jobs", "dispatch"]).output.strip() == "nothing due"
