"""The console's outbox page 发送队列 (issue 8 "Outbox page"): filters and counts per state, who
sees which store's rows, re-sending a refused message, and tomorrow's calendar per kind —
through the service and over HTTP."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, Forbidden, NotFound
from crm.models import OutboxMessage, OutboxState
from crm.services import care_opt_outs, dispatcher, outbox_console
from crm.services.care import new_car
from tests.conftest import login
from tests.test_outbox import SITE, following, handed_over, wechat_client, with_template

__all__ = ["wechat_client"]  # the fixture, used by name

_occasions = itertools.count(1)


def queued(session, customer, state=OutboxState.PENDING, at=None, kind="new_car", **more):
    """A row as the planner and the dispatcher leave it, in the customer's store."""
    message = OutboxMessage(
        store_id=customer.store_id,
        customer_id=customer.id,
        kind=kind,
        due_on=clock.today(at or clock.now()),
        dedupe_key=f"{kind}:{customer.id}:{next(_occasions)}",
        payload={"data": {"keyword1": "周顾问"}, "url": "/m/"},
        not_before=at or clock.now(),
        state=state.value,
        attempts=more.pop("attempts", 0),
        **more,
    )
    session.add(message)
    session.commit()
    return message


def listed(session, actor, **args) -> list[int]:
    filters = outbox_console.parse_filters(args)
    return [m.id for m in session.scalars(outbox_console.list_query(actor, filters))]


def state_counts(session, actor, **args) -> dict[str, int]:
    filters = outbox_console.parse_filters(args)
    return {c.state.value: c.count for c in outbox_console.counts(session, actor, filters)}


# --- who sees what ----------------------------------------------------------------------------


def test_a_store_admin_sees_only_their_stores_rows_and_the_group_admin_all(
    org, session, frozen_now
):
    mine = queued(session, org.customer_a1)
    theirs = queued(session, org.customer_b, OutboxState.FAILED, errcode=40037)

    assert listed(session, org.store_admin_a) == [mine.id]
    assert state_counts(session, org.store_admin_a)["failed"] == 0
    assert listed(session, org.store_admin_b) == [theirs.id]
    assert set(listed(session, org.group_admin)) == {mine.id, theirs.id}
    # Choosing the other store as a filter does not widen the scope.
    assert listed(session, org.store_admin_a, store=str(org.store_b.id)) == []


@pytest.mark.parametrize("role", ["sales_a1", "advisor_a", "care_a", "supervisor_a1"])
def test_only_admins_open_the_outbox(org, session, frozen_now, role):
    with pytest.raises(Forbidden):
        outbox_console.list_query(getattr(org, role), outbox_console.OutboxFilters())


# --- filters and counts -----------------------------------------------------------------------


def test_filters_by_kind_state_store_and_the_beijing_day(org, session, frozen_now):
    late_evening = datetime(2026, 6, 15, 15, 30, tzinfo=UTC)  # 23:30 on the 15th in Beijing
    after_midnight = datetime(2026, 6, 15, 16, 30, tzinfo=UTC)  # 00:30 on the 16th
    evening = queued(session, org.customer_a1, at=late_evening)
    night = queued(session, org.customer_a2, OutboxState.SENT, at=after_midnight)
    greeting = queued(session, org.customer_a1, kind="birthday_solar")
    far = queued(session, org.customer_b, OutboxState.FAILED)
    admin = org.group_admin

    assert listed(session, admin, day="2026-06-16") == [night.id]
    assert set(listed(session, admin, day="2026-06-15")) == {evening.id, greeting.id, far.id}
    assert listed(session, admin, kind="birthday_solar") == [greeting.id]
    assert listed(session, admin, state="failed") == [far.id]
    assert listed(session, admin, store=str(org.store_b.id)) == [far.id]
    assert listed(session, admin, state="pending", kind="new_car") == [evening.id]
    # The latest send time first; the same time, the latest row first.
    assert listed(session, admin) == [night.id, evening.id, far.id, greeting.id]


def test_counts_per_state_follow_the_other_filters(org, session, frozen_now):
    queued(session, org.customer_a1)
    queued(session, org.customer_a2, OutboxState.FAILED)
    queued(session, org.customer_a2, OutboxState.NO_CHANNEL, kind="holiday")
    queued(session, org.customer_b, OutboxState.FAILED)

    everything = state_counts(session, org.group_admin)
    assert (everything["pending"], everything["failed"], everything["no_channel"]) == (1, 2, 1)
    assert everything["sent"] == 0  # every state is listed, zeros too
    # The chosen state does not narrow its own counts; the other filters do.
    assert state_counts(session, org.group_admin, state="failed") == everything
    in_store_a = state_counts(session, org.group_admin, store=str(org.store_a.id))
    assert (in_store_a["failed"], in_store_a["no_channel"]) == (1, 1)
    assert state_counts(session, org.group_admin, kind="holiday")["no_channel"] == 1
    assert state_counts(session, org.group_admin, kind="holiday")["failed"] == 0


@pytest.mark.parametrize(
    ("argument", "value"),
    [("state", "lost"), ("day", "2026-13-01"), ("store", "abc"), ("kind", "新车")],
)
def test_an_unreadable_filter_is_refused_naming_it(argument, value):
    with pytest.raises(outbox_console.ValidationError) as refused:
        outbox_console.parse_filters({argument: value})
    assert refused.value.field == argument


# --- re-sending -------------------------------------------------------------------------------


def test_a_message_wechat_refused_is_resent_from_the_console_and_goes_out(
    org, session, frozen_now, fake_wechat, wechat_client
):
    deal = handed_over(session, org)
    following(session, fake_wechat, deal.customer_id)
    with_template(session, org, template_id="tmpl-wrong")
    fake_wechat.fake.fail_next("/cgi-bin/message/template/send", 40037)
    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"failed": 1}
    [message] = session.scalars(select(OutboxMessage)).all()
    assert (message.errcode, message.attempts) == (40037, 1)

    later = clock.now() + timedelta(hours=2)
    outbox_console.resend(session, org.store_admin_a, message.id, later)
    session.refresh(message)
    assert (message.state, message.not_before, message.attempts) == ("pending", later, 0)
    assert (message.errcode, message.error) == (None, "")

    assert dispatcher.dispatch(session, wechat_client, SITE, later) == {"sent": 1}
    assert [sent["touser"] for sent in fake_wechat.fake.sent] == ["o-customer-1"]


def test_a_message_without_a_channel_can_be_resent_once_the_channel_is_set(
    org, session, frozen_now
):
    message = queued(session, org.customer_a1, OutboxState.NO_CHANNEL, attempts=1)
    message.error = "未配置该提醒的发送渠道"
    session.commit()
    resent = outbox_console.resend(session, org.group_admin, message.id, clock.now())
    assert (resent.state, resent.error, resent.attempts) == ("pending", "", 0)


@pytest.mark.parametrize(
    "state", [OutboxState.SENT, OutboxState.PENDING, OutboxState.SENDING, OutboxState.BUNDLED]
)
def test_resending_a_message_that_was_not_refused_is_refused_and_changes_nothing(
    org, session, frozen_now, state
):
    message = queued(session, org.customer_a1, state, attempts=1)
    before = message.not_before
    with pytest.raises(Conflict) as refused:
        outbox_console.resend(
            session, org.store_admin_a, message.id, clock.now() + timedelta(hours=1)
        )
    assert "只有发送失败或无可用渠道的消息可以重新发送" in refused.value.message
    assert message.state_label in refused.value.message
    session.refresh(message)
    assert (message.state, message.attempts, message.not_before) == (state.value, 1, before)


def test_another_stores_message_cannot_be_resent_nor_by_a_salesperson(org, session, frozen_now):
    message = queued(session, org.customer_a1, OutboxState.FAILED)
    with pytest.raises(NotFound):
        outbox_console.resend(session, org.store_admin_b, message.id, clock.now())
    with pytest.raises(Forbidden):
        outbox_console.resend(session, org.sales_a1, message.id, clock.now())
    session.refresh(message)
    assert message.state == "failed"


# --- tomorrow ---------------------------------------------------------------------------------


def outbox_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_tomorrow_counts_rows_queued_for_tomorrow_and_what_the_planner_would_add(
    org, session, frozen_now
):
    tomorrow_morning = datetime(2026, 6, 16, 0, 0, tzinfo=UTC)  # 08:00 on the 16th
    handed_over(session, org)  # queued its new-car message today
    session.execute(OutboxMessage.__table__.delete())  # ... lost: tomorrow's plan catches up
    session.commit()
    queued(session, org.customer_a1, at=tomorrow_morning)
    queued(session, org.customer_a2, at=tomorrow_morning, kind="retired_kind")
    queued(session, org.customer_a2, OutboxState.FAILED, at=tomorrow_morning)  # not going out
    queued(session, org.customer_a2, at=tomorrow_morning + timedelta(days=1))  # the day after
    queued(session, org.customer_b, at=tomorrow_morning)  # store B's
    rows_before = outbox_rows(session)

    plan = outbox_console.tomorrow(session, org.store_admin_a, clock.now())

    assert plan.day == date(2026, 6, 16)
    counts = {row.kind: (row.label, row.queued, row.planned) for row in plan.kinds}
    assert counts["new_car"] == (new_car.KIND.label, 1, 1)
    assert counts["retired_kind"] == ("retired_kind", 1, 0)  # an unknown kind: its raw name
    assert outbox_rows(session) == rows_before  # a dry run writes nothing
    store_b = outbox_console.tomorrow(session, org.store_admin_b, clock.now())
    assert {row.kind: (row.queued, row.planned) for row in store_b.kinds}.get("new_car") == (1, 0)


def test_tomorrow_leaves_out_what_is_queued_already_or_opted_out(org, session, frozen_now):
    deal = handed_over(session, org)  # the new-car message is queued: not planned again
    before = outbox_console.tomorrow(session, org.store_admin_a, clock.now())
    assert "new_car" not in {row.kind for row in before.kinds if row.planned}

    session.execute(OutboxMessage.__table__.delete())
    session.commit()
    care_opt_outs.set_opt_outs(
        session, org.store_admin_a, deal.customer_id, ["new_car"], clock.now()
    )
    after = outbox_console.tomorrow(session, org.store_admin_a, clock.now())
    assert "new_car" not in {row.kind for row in after.kinds if row.planned}


# --- over HTTP --------------------------------------------------------------------------------


def _text(response) -> str:
    return response.get_data(as_text=True)


def _row(page: str, message_id: int) -> str:
    found = re.search(rf'<tr data-message="{message_id}".*?</tr>', page, re.S)
    assert found, f"no row for message {message_id}"
    return found.group(0)


def test_outbox_page_shows_the_failed_rows_reason_and_a_resend_button(
    client, org, session, frozen_now
):
    carrier = queued(session, org.customer_a1, OutboxState.SENT, channel="template")
    failed = queued(
        session,
        org.customer_a2,
        OutboxState.FAILED,
        attempts=1,
        errcode=40037,
        error="40037 invalid template_id",
    )
    bundled = queued(
        session,
        org.customer_a1,
        OutboxState.BUNDLED,
        kind="holiday_x",
        bundled_into_id=carrier.id,
    )
    queued(session, org.customer_b, OutboxState.FAILED, errcode=40003)
    login(client, org.store_admin_a)

    response = client.get("/console/outbox")
    assert response.status_code == 200
    page = _text(response)
    row = _row(page, failed.id)
    for text in ("客户乙", "新车关怀", "发送失败", "40037", "invalid template_id", "重新发送"):
        assert text in row
    assert row.count("40037") == 1  # the reason already starts with the code
    assert org.customer_a2.phone not in page  # phones are masked
    assert "csrf_token" in row and 'data-confirm="确定重新发送这条消息' in row
    assert "重新发送" not in _row(page, carrier.id)
    assert "公众号模板消息" in _row(page, carrier.id)
    bundled_row = _row(page, bundled.id)
    assert "holiday_x" in bundled_row  # unknown kind: the raw name
    assert f'href="/console/outbox?message={carrier.id}"' in bundled_row
    assert "客户丙" not in page  # store B's row
    assert re.search(r'data-count="failed"><a [^>]*>发送失败 <b>1</b>', page)
    assert "明日发送计划" in page and "2026-06-16" in page

    filtered = _text(client.get(f"/console/outbox?message={carrier.id}"))
    assert f'data-message="{carrier.id}"' in filtered
    assert f'data-message="{failed.id}"' not in filtered


def test_resend_over_http_requeues_the_row_and_refuses_a_sent_one(client, org, session, frozen_now):
    failed = queued(session, org.customer_a1, OutboxState.FAILED, errcode=40037, attempts=2)
    sent = queued(session, org.customer_a2, OutboxState.SENT)
    login(client, org.group_admin)

    response = client.post(
        f"/console/outbox/{failed.id}/resend",
        data={"back": "/console/outbox?state=failed"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert response.request.path == "/console/outbox"
    assert response.request.query_string == b"state=failed"
    assert f"消息 #{failed.id} 已重新排队" in _text(response)
    session.refresh(failed)
    assert (failed.state, failed.attempts, failed.errcode) == ("pending", 0, None)

    refused = client.post(f"/console/outbox/{sent.id}/resend", follow_redirects=True)
    assert "只有发送失败或无可用渠道的消息可以重新发送，这条消息已发送" in _text(refused)
    session.refresh(sent)
    assert sent.state == "sent"


def test_outbox_page_answers_404_for_another_stores_row_and_403_for_sales(
    client, org, session, frozen_now
):
    failed = queued(session, org.customer_a1, OutboxState.FAILED)
    login(client, org.store_admin_b)
    assert client.post(f"/console/outbox/{failed.id}/resend").status_code == 404
    client.post("/console/logout")
    login(client, org.sales_a1)
    assert client.get("/console/outbox").status_code == 403
    assert "发送队列" not in _text(client.get("/console/"))  # not in the menu either


def test_empty_outbox_says_so_and_a_bad_filter_is_shown_beside_it(client, org, frozen_now):
    login(client, org.store_admin_a)
    page = _text(client.get("/console/outbox"))
    assert "发送队列还是空的" in page
    assert "明日发送计划" in page

    filtered = _text(client.get("/console/outbox?state=sent"))
    assert "没有符合条件的消息" in filtered

    bad = client.get("/console/outbox?day=2026-02-30")
    assert bad.status_code == 400
    assert 'data-field="day"' in _text(bad)
