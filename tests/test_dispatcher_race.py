"""Dispatchers running at once on real PostgreSQL connections (ARCHITECTURE rule 2, rule 6):
``FOR UPDATE SKIP LOCKED`` hands each due row to exactly one of them, so every message reaches
the (fake) WeChat server once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import OutboxMessage
from crm.services import dispatcher, outbox
from tests.support.followers import followed_customers
from wechat.client import SharedTokenClient

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)
MESSAGES = 40


def _seed(fake) -> None:
    store_id, customer_ids = followed_customers(fake, MESSAGES, NOW)
    for number, customer_id in enumerate(customer_ids):
        outbox.enqueue(
            db.session,
            store_id=store_id,
            customer_id=customer_id,
            kind="new_car",
            due_on=date(2026, 6, 15),
            dedupe_key=f"new_car:race-{number}",
            fields={"keyword1": "服务顾问"},
            url="/m/",
            not_before=NOW,
            now=NOW,
        )
    db.session.commit()


def test_three_dispatchers_at_once_send_every_message_exactly_once(race_app, fake_wechat):
    fake = fake_wechat.fake
    _seed(fake)
    start = threading.Barrier(3)
    totals: list = []

    def run():
        with race_app.app_context():
            client = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)
            start.wait(10)
            try:
                # Small batches so the three really interleave.
                while outcome := dispatcher.dispatch(db.session, client, "https://x", NOW, 5):
                    totals.append(outcome)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    recipients = [message["touser"] for message in fake.sent]
    assert len(recipients) == MESSAGES and len(set(recipients)) == MESSAGES
    assert sum(outcome["sent"] for outcome in totals) == MESSAGES
    sent_rows = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "sent")
    )
    assert sent_rows == MESSAGES


def test_enqueue_from_two_connections_at_once_queues_one_row(race_app, fake_wechat):
    _seed(fake_wechat.fake)
    start = threading.Barrier(2)
    queued: list[bool] = []

    def plan():
        with race_app.app_context():
            start.wait(10)
            queued.append(
                outbox.enqueue(
                    db.session,
                    store_id=1,
                    customer_id=1,
                    kind="new_car",
                    due_on=date(2026, 6, 16),
                    dedupe_key="new_car:twice",
                    fields={},
                    url="/m/",
                    not_before=NOW,
                    now=NOW,
                )
                is not None
            )
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=plan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(queued) == [False, True]
    count = db.session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.dedupe_key == "new_car:twice")
    )
    assert count == 1
