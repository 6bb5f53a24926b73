"""WeChat answering -1 (busy) or 45009 (quota reached) for a while, then recovering (issue 12
"Faults survived"): everything queued is delivered afterwards, highest priority first, within
the retry policy (``dispatcher.MAX_ATTEMPTS`` attempts, ``BACKOFF`` doubled each time), and
nothing is sent twice.

The dispatcher runs as the scheduler runs it, once a minute, against the fake WeChat server
over real sockets; the fake's ``outage`` answers every call with the error meanwhile.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.models import CareTemplate, OutboxMessage, OutboxState, Store
from crm.services import dispatcher, outbox
from crm.services.care import birthdays, insurance, maintenance
from tests.support import servers
from tests.support.followers import followed_customers
from wechat.client import SharedTokenClient

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, outside the quiet hours
SITE = "https://crm.example.cn"
SEND = "/cgi-bin/message/template/send"
# Queued lowest first, so the ids run against the priorities.
KINDS = (birthdays.SOLAR, maintenance.KIND, insurance.COMPULSORY)
PER_KIND = 4


def minute(n: int) -> datetime:
    return NOW + timedelta(minutes=n)


def queue_mixed(fake) -> dict[str, int]:
    """``PER_KIND`` messages of each kind to different followers; openid -> priority."""
    store_id, customer_ids = followed_customers(fake, len(KINDS) * PER_KIND, NOW)
    group_id = db.session.get(Store, store_id).group_id
    db.session.add_all(
        CareTemplate(group_id=group_id, kind=kind.name, template_id=f"tmpl-{kind.name}")
        for kind in KINDS
    )
    priorities = {}
    for number, customer_id in enumerate(customer_ids):
        kind = KINDS[number // PER_KIND]
        outbox.enqueue(
            db.session,
            store_id=store_id,
            customer_id=customer_id,
            kind=kind.name,
            due_on=date(2026, 6, 15),
            dedupe_key=f"outage:{kind.name}:{customer_id}",
            fields={"keyword1": f"第{number}条"},
            url="/m/",
            not_before=NOW,
            now=NOW,
            priority=kind.priority,
        )
        priorities[f"o-follower-{number}"] = kind.priority
    db.session.commit()
    return priorities


def messages() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def sends_asked(fake) -> int:
    return sum(1 for _method, path in fake.requests if path == SEND)


@pytest.fixture
def wechat(fake_wechat):
    fake = fake_wechat.fake
    client = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)
    assert client.access_token  # fetched before the outage, as a running deployment holds one
    return fake, client


def run_minutes(client, first: int, last: int) -> Counter:
    outcomes: Counter = Counter()
    for n in range(first, last + 1):
        outcomes.update(dispatcher.dispatch(db.session, client, SITE, minute(n)))
    return outcomes


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_messages_queued_through_an_outage_are_all_delivered_once_highest_priority_first(
    session, wechat, errcode
):
    fake, client = wechat
    priorities = queue_mixed(fake)

    with fake.outage(errcode):
        outcomes = run_minutes(client, 0, 6)
    assert fake.sent == [] and outcomes == {"pending": 3}
    # Only the first of the queue was offered, at 0, 1 and 3 minutes (backoff 1, then 2,
    # then 4 minutes); nothing of lower priority was tried behind its back.
    assert sends_asked(fake) == 3
    waiting = [m for m in messages() if m.attempts]
    assert [(m.kind, m.attempts, m.errcode) for m in waiting] == [
        (insurance.COMPULSORY.name, 3, errcode)
    ]
    assert waiting[0].not_before == minute(3) + dispatcher.BACKOFF * 4
    assert {m.state for m in messages()} == {OutboxState.PENDING}

    assert run_minutes(client, 7, 7) == {"sent": len(priorities)}
    delivered = [priorities[sent["touser"]] for sent in fake.sent]
    assert delivered == sorted(priorities.values(), reverse=True)
    assert sorted(sent["touser"] for sent in fake.sent) == sorted(priorities)  # each once
    rows = messages()
    assert {m.state for m in rows} == {OutboxState.SENT}
    assert Counter(m.attempts for m in rows) == {1: len(rows) - 1, 4: 1}
    assert all(m.errcode is None and m.error == "" for m in rows)
    assert run_minutes(client, 8, 30) == {} and len(fake.sent) == len(priorities)


def test_wechat_recovering_at_once_still_lets_nothing_overtake_the_refused_message(session, wechat):
    fake, client = wechat
    priorities = queue_mixed(fake)
    fake.fail_next(SEND, -1)  # busy for one call only

    assert run_minutes(client, 0, 0) == {"pending": 1}
    assert fake.sent == [] and sends_asked(fake) == 1  # the rest of the batch was held back
    assert [m.attempts for m in messages()].count(0) == len(priorities) - 1

    assert run_minutes(client, 1, 1) == {"sent": len(priorities)}
    assert [priorities[sent["touser"]] for sent in fake.sent] == sorted(
        priorities.values(), reverse=True
    )


def test_an_outage_longer_than_the_retry_policy_fails_the_message_for_a_resend(session, wechat):
    fake, client = wechat
    priorities = queue_mixed(fake)

    with fake.outage(45009):
        outcomes = run_minutes(client, 0, 15)
    # Attempts at 0, 1, 3, 7 and 15 minutes: the fifth refusal is final.
    assert sends_asked(fake) == dispatcher.MAX_ATTEMPTS
    assert outcomes == {"pending": dispatcher.MAX_ATTEMPTS - 1, "failed": 1}
    [failed] = [m for m in messages() if m.state == OutboxState.FAILED]
    assert (failed.kind, failed.attempts, failed.errcode) == (
        insurance.COMPULSORY.name,
        dispatcher.MAX_ATTEMPTS,
        45009,
    )
    assert failed.error.startswith("45009")  # shown on the console's 发送队列 for 重新发送

    # The rest had never been offered: they go as soon as WeChat answers again.
    assert run_minutes(client, 16, 16) == {"sent": len(priorities) - 1}
    assert [priorities[sent["touser"]] for sent in fake.sent] == sorted(
        priorities.values(), reverse=True
    )[1:]


def test_parallel_senders_stop_at_the_busy_answer_and_deliver_everything_once_after(
    race_app, fake_wechat
):
    """On PostgreSQL the dispatcher posts with several senders at once: a busy answer stops
    them all; the ones in flight count as tried, the rest go back untried."""
    if not servers.uses_postgres():
        servers.missing("PostgreSQL (DATABASE_URL)")
    fake = fake_wechat.fake
    fake.latency = 0.02
    client = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)
    assert client.access_token
    priorities = queue_mixed(fake)
    concurrency = 4

    def run(n: int) -> Counter:
        return dispatcher.dispatch(db.session, client, SITE, minute(n), concurrency=concurrency)

    with fake.outage(-1):
        refused = run(0)
    asked = sends_asked(fake)
    assert 1 <= asked <= concurrency and refused == {"pending": asked}
    rows = messages()
    assert sum(m.attempts for m in rows) == asked
    assert {m.state for m in rows} == {OutboxState.PENDING}

    delivered = Counter()
    for n in range(1, 4):
        delivered.update(run(n))
    assert delivered == {"sent": len(priorities)}
    assert sorted(sent["touser"] for sent in fake.sent) == sorted(priorities)
    assert {m.state for m in messages()} == {OutboxState.SENT}
