"""Dispatcher throughput against the fake WeChat server answering after 50 ms.

Issue 8: the dispatcher sends at least 70% of (concurrency / latency) messages per second,
concurrency being a setting (DISPATCH_CONCURRENCY, default 16). The ceiling
``concurrency / latency`` is what senders that did nothing but wait on WeChat would reach;
the ratio is the measured rate over it, both from this run.

The fake server runs in its own process (as WeChat runs elsewhere), so its work does not
share this interpreter. Run from the repository root against ``DATABASE_URL`` (PostgreSQL:
SQLite serialises writers and the dispatcher sends one at a time there):

    python -m bench.dispatch_throughput [--messages 3000] [--latency 0.05] [--concurrency 16]

Exits 1 when the ratio is below 0.70. Tests call ``run(...)``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, date, datetime

from sqlalchemy import func, insert, select

from bench.scratch import scratch_app
from crm import crypto
from crm.extensions import db
from crm.models import (
    CareTemplate,
    Customer,
    Group,
    OutboxMessage,
    OutboxState,
    Store,
    WeChatApp,
    WeChatIdentity,
)
from crm.services import dispatcher
from crm.services.identity import phone_index
from wechat.client import official_account_client

MIN_RATIO = 0.70
NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)


def _openid(number: int) -> str:
    return f"o-bench-{number}"


def _serve(latency: float, messages: int, ready, stop) -> None:
    """The child process: a fake WeChat where every bench customer follows the account."""
    from tests.fakes.wechat import FakeWeChatServer

    with FakeWeChatServer() as server:
        server.fake.latency = latency
        for number in range(messages):
            server.fake.subscribe(_openid(number))
        ready.put((server.base_url, server.fake.app_id, server.fake.app_secret))
        stop.wait()


def _seed(messages: int) -> None:
    """One group whose every customer follows the account and has one message due."""
    group = Group(name="压测集团", created_at=NOW)
    db.session.add(group)
    db.session.flush()
    store = Store(group_id=group.id, code="BENCH", name="压测分店", created_at=NOW)
    db.session.add_all([store, CareTemplate(group_id=group.id, kind="new_car", template_id="t")])
    db.session.flush()
    cipher = crypto.cipher()
    customers = []
    for number in range(messages):
        phone = f"+86137{number:08d}"
        customers.append(
            {
                "group_id": group.id,
                "store_id": store.id,
                "name": cipher.encrypt(f"客户{number}"),
                "phone": cipher.encrypt(phone),
                "phone_index": phone_index(phone),
                "created_at": NOW,
            }
        )
    ids = db.session.scalars(insert(Customer).returning(Customer.id), customers).all()
    db.session.execute(
        insert(WeChatIdentity),
        [
            {
                "app": WeChatApp.OFFICIAL_ACCOUNT.value,
                "openid": _openid(number),
                "customer_id": customer_id,
                "subscribed": True,
                "bound_at": NOW,
            }
            for number, customer_id in enumerate(ids)
        ],
    )
    db.session.execute(
        insert(OutboxMessage),
        [
            {
                "store_id": store.id,
                "customer_id": customer_id,
                "kind": "new_car",
                "due_on": date(2026, 6, 15),
                "dedupe_key": f"bench:{customer_id}",
                "payload": {"data": {"keyword1": "周顾问"}, "url": "/m/"},
                "not_before": NOW,
                "state": OutboxState.PENDING.value,
                "created_at": NOW,
            }
            for customer_id in ids
        ],
    )
    db.session.commit()


def run(messages: int, latency: float, concurrency: int) -> tuple[float, float]:
    """(messages sent per second, the ceiling concurrency / latency)."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(latency, messages, ready, stop), daemon=True)
    server.start()
    try:
        base_url, app_id, app_secret = ready.get(timeout=60)
        settings = {
            "WECHAT_APP_ID": app_id,
            "WECHAT_APP_SECRET": app_secret,
            "WECHAT_API_BASE_URL": base_url,
            "DISPATCH_CONCURRENCY": str(concurrency),
        }
        with scratch_app(**settings) as app, app.app_context():
            _seed(messages)
            client = official_account_client(app.extensions["crm_settings"])
            assert client.access_token  # fetched before timing: not part of sending
            started = time.perf_counter()
            outcomes = dispatcher.dispatch(
                db.session, client, "http://bench", NOW, concurrency=concurrency
            )
            elapsed = time.perf_counter() - started
            sent = db.session.scalar(
                select(func.count()).where(OutboxMessage.state == OutboxState.SENT)
            )
            if sent != messages or outcomes.get("sent") != messages:
                raise RuntimeError(f"not everything was sent: {dict(outcomes)}")
    finally:
        stop.set()
        server.join(10)
    return messages / elapsed, concurrency / latency


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    arguments = parser.parse_args(argv)
    rate, ceiling = run(arguments.messages, arguments.latency, arguments.concurrency)
    ratio = rate / ceiling
    print(f"messages: {arguments.messages}, latency {arguments.latency * 1000:.0f} ms")
    print(f"concurrency:  {arguments.concurrency}")
    print(f"ceiling:      {ceiling:.0f} messages/s")
    print(f"dispatcher:   {rate:.0f} messages/s")
    print(f"ratio:        {ratio:.2f} (at least {MIN_RATIO})")
    return 1 if ratio < MIN_RATIO else 0


if __name__ == "__main__":
    sys.exit(main())
