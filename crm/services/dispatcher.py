"""Sending the outbox (ARCHITECTURE rule 2; issue 8 "Planner → outbox → dispatcher"). Nothing
else calls WeChat's send API.

A dispatcher claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two dispatchers
never take the same row; a conditional UPDATE from ``pending`` on SQLite), marks them
``sending`` and commits, then sends each and records the outcome with its own commit. A row
left ``sending`` by a dispatcher that died goes back to ``pending`` after ``STALE_CLAIM``:
nothing is lost, and at most the rows in flight are sent again.

Each row goes through its group's channel for the kind (issue 8 "Channels and WeChat's
rules"): an Official Account template, a one-time subscription the customer granted (one
spent per send; 43101 refused is recorded), or a staff task "send personally" for greetings.

WeChat's answers: -1 (busy) and 45009 (rate limit) retry with backoff, up to
``MAX_ATTEMPTS`` (issue 12 "Faults survived": after an outage everything is delivered, in
order of priority). Rows are claimed highest priority first; a busy answer ends the run and
the batch's untried rows go back as they were (no attempt spent); while a row waits out its
backoff nothing of its priority or lower is claimed: the queue behind it backs off with it,
and nothing overtakes it when WeChat recovers.
40001/42001 (token) are refreshed once by the client; 43004 (not following) and a customer
without a followed Official Account become ``no_channel`` and a phone task for the store's
care specialist; a kind with no channel is ``no_channel`` "not configured"; any other error
is ``failed`` with the reason, re-sendable from the console.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from crm.models import (
    CareChannel,
    CareTaskKind,
    CareTemplate,
    Customer,
    OutboxMessage,
    OutboxState,
    Store,
    SubscribeGrant,
    WeChatApp,
    WeChatIdentity,
)
from crm.services.care import planner, tasks
from crm.services.care.kinds import CareKind

RETRYABLE = frozenset({-1, 45009})
NOT_FOLLOWING = 43004
SUBSCRIPTION_REFUSED = 43101
MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)  # doubled on each attempt
STALE_CLAIM = timedelta(minutes=10)
BATCH = 50
# One run sends for at most this long; the scheduler starts the next run a minute later.
RUN_BUDGET = timedelta(seconds=50)


def release_stale_claims(session: Session, now: datetime) -> int:
    """Rows a dead dispatcher left in ``sending`` become due again."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == OutboxState.SENDING,
            OutboxMessage.claimed_at < now - STALE_CLAIM,
        )
        .values(state=OutboxState.PENDING.value)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount


def claim(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    """Take up to ``limit`` due rows for this dispatcher, highest priority first, then in the
    order queued (a retried row keeps its place); committed before anything is sent, returned
    in that order.

    While a row waits out a busy/quota backoff, no row of its priority or lower is taken: the
    queue behind it backs off with it (WeChat is asked once per backoff, not once per row),
    and none overtakes it when WeChat answers again (issue 12 "Faults survived")."""
    waiting = session.scalar(
        select(func.max(OutboxMessage.priority)).where(
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.not_before > now,
            OutboxMessage.errcode.in_(RETRYABLE),
        )
    )
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.not_before <= now)
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
        .limit(limit)
    )
    if waiting is not None:
        query = query.where(OutboxMessage.priority > waiting)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        session.commit()
        return []
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == OutboxState.PENDING)
        .values(
            state=OutboxState.SENDING.value,
            claimed_at=now,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    rank = {message_id: position for position, message_id in enumerate(ids)}
    return sorted(claimed, key=rank.__getitem__)


def release_untried(session: Session, message_ids: list[int]) -> None:
    """Claimed rows left unsent because WeChat answered busy: pending again as they were, the
    claim's attempt given back (attempts count what WeChat was actually asked)."""
    if message_ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(message_ids), OutboxMessage.state == OutboxState.SENDING)
            .values(state=OutboxState.PENDING.value, attempts=OutboxMessage.attempts - 1)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def _openid(session: Session, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    return session.scalar(
        select(WeChatIdentity.openid)
        .where(
            WeChatIdentity.customer_id == customer_id,
            WeChatIdentity.app == WeChatApp.OFFICIAL_ACCOUNT,
            WeChatIdentity.subscribed.is_(True),
        )
        .order_by(WeChatIdentity.bound_at.desc())
        .limit(1)
    )


def configuration(session: Session, group_id: int, kind_name: str) -> CareTemplate | None:
    """The group's channel for a kind (console 关怀渠道), if it configured one."""
    return session.scalar(
        select(CareTemplate).where(
            CareTemplate.group_id == group_id, CareTemplate.kind == kind_name
        )
    )


def channel_of(kind: CareKind | None, config: CareTemplate | None) -> CareChannel | None:
    """The configured channel; unconfigured greetings go through staff ("send personally"),
    unconfigured service notices have none (shown as "not configured", never skipped)."""
    if config is not None:
        return CareChannel(config.channel)
    if kind is not None and kind.marketing:
        return CareChannel.PERSONAL
    return None


def _finish(message: OutboxMessage, state: OutboxState, error: str = "", errcode=None) -> None:
    message.state = state.value
    message.error = error[:200]
    message.errcode = errcode


def template_data(message: OutboxMessage, config: CareTemplate) -> dict:
    """WeChat's ``data``: each template keyword filled from our field the group mapped to it."""
    return mapped_fields(message.payload["data"], config)


def opened_page(config: CareTemplate, kind_name: str, payload: dict) -> str:
    """The page the message opens: the one the group chose for the kind in 关怀渠道, unless it
    left the kind's default there — then the message's own link, which may point at the very
    record (a survey, a complaint, a booking) rather than its list."""
    kind = planner.kind(kind_name)
    own = payload.get("url") or (kind.page if kind else "/m/")
    if not config.page or (kind is not None and config.page == kind.page):
        return own
    return config.page


def mapped_fields(values: dict[str, str], config: CareTemplate) -> dict:
    mapping = config.field_map or {key: key for key in values}
    return {keyword: {"value": values.get(field, "")} for keyword, field in mapping.items()}


@dataclass(frozen=True)
class TemplateSend:
    """A claimed row that goes out as a plain template message, ready to post."""

    message_id: int
    openid: str
    template_id: str
    data: dict
    url: str


def plain_template_sends(
    session: Session, message_ids: list[int], public_base_url: str
) -> dict[int, TemplateSend]:
    """The claimed rows whose channel is a template to a followed account, prepared in three
    queries for the batch (the senders then only talk to WeChat)."""
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.payload,
            Customer.id,
            Customer.group_id,
        )
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .where(OutboxMessage.id.in_(message_ids), OutboxMessage.staff_id.is_(None))
    ).all()
    groups = {row[4] for row in rows}
    configs = {
        (config.group_id, config.kind): config
        for config in session.scalars(select(CareTemplate).where(CareTemplate.group_id.in_(groups)))
    }
    # Ordered by binding time, so the dict keeps each customer's latest followed identity.
    openids = dict(
        session.execute(
            select(WeChatIdentity.customer_id, WeChatIdentity.openid)
            .where(
                WeChatIdentity.customer_id.in_({row[3] for row in rows}),
                WeChatIdentity.app == WeChatApp.OFFICIAL_ACCOUNT,
                WeChatIdentity.subscribed.is_(True),
            )
            .order_by(WeChatIdentity.bound_at)
        ).all()
    )
    sends = {}
    for message_id, kind_name, payload, customer_id, group_id in rows:
        config = configs.get((group_id, kind_name))
        openid = openids.get(customer_id)
        usable = config is not None and config.channel == CareChannel.TEMPLATE
        if not usable or not config.template_id or openid is None:
            continue
        page = opened_page(config, kind_name, payload)
        sends[message_id] = TemplateSend(
            message_id,
            openid,
            config.template_id,
            mapped_fields(payload["data"], config),
            public_base_url.rstrip("/") + page,
        )
    return sends


def _post(client, send: TemplateSend, busy: threading.Event):
    """(send, WeChat's answer, its refusal); neither once WeChat said busy to another send."""
    if busy.is_set():
        return send, None, None
    try:
        answer = client.message.send_template(
            send.openid, send.template_id, send.data, url=send.url
        )
    except WeChatClientException as exc:
        if exc.errcode in RETRYABLE:
            busy.set()
        return send, None, exc
    return send, answer, None


def _record_delivered(session: Session, delivered: list, now: datetime) -> None:
    """The batch's accepted sends, recorded in one statement and one commit."""
    if delivered:
        session.execute(
            update(OutboxMessage),
            [
                {
                    "id": send.message_id,
                    "state": OutboxState.SENT.value,
                    "channel": CareChannel.TEMPLATE.value,
                    "msgid": str(answer.get("msgid", "")),
                    "sent_at": now,
                    "error": "",
                    "errcode": None,
                }
                for send, answer in delivered
            ],
        )
    session.commit()


def _record_refused_post(session: Session, send: TemplateSend, exc, now: datetime):
    message = session.get(OutboxMessage, send.message_id)
    customer = session.get(Customer, message.customer_id)
    _record_refusal(session, message, customer, planner.kind(message.kind), exc, now)
    session.commit()
    return OutboxState(message.state)


def send_one(session: Session, client, message_id: int, public_base_url: str, now: datetime):
    """Send one claimed row through its channel and record what happened."""
    message = session.get(OutboxMessage, message_id)
    if message.staff_id is not None:
        _send_to_staff(session, client, message, public_base_url, now)
        session.commit()
        return OutboxState(message.state)
    customer = session.get(Customer, message.customer_id)
    kind = planner.kind(message.kind)
    config = configuration(session, customer.group_id, message.kind)
    channel = channel_of(kind, config)
    if channel is None:
        _finish(message, OutboxState.NO_CHANNEL, "未配置该提醒的发送渠道")
    elif channel == CareChannel.OFF:
        _finish(message, OutboxState.NO_CHANNEL, "集团已关闭此类关怀")
    elif channel == CareChannel.PERSONAL:
        _hand_to_staff(session, message, customer, kind, now)
    else:
        _send_wechat(session, client, message, customer, kind, config, public_base_url, now)
    session.commit()
    return OutboxState(message.state)


def _send_to_staff(session, client, message, public_base_url: str, now: datetime) -> None:
    """A message for a staff member (a complaint to handle): a template message to the
    Official Account they follow. Nobody else can stand in, so an unreachable staff member is
    recorded (the work-bench still shows the work), never turned into a phone task."""
    group_id = session.scalar(select(Store.group_id).where(Store.id == message.store_id))
    config = configuration(session, group_id, message.kind)
    if config is None or config.channel == CareChannel.OFF or not config.template_id:
        _finish(message, OutboxState.NO_CHANNEL, "未配置该通知的模板消息")
        return
    openid = session.scalar(
        select(WeChatIdentity.openid)
        .where(
            WeChatIdentity.staff_id == message.staff_id,
            WeChatIdentity.app == WeChatApp.OFFICIAL_ACCOUNT,
            WeChatIdentity.subscribed.is_(True),
        )
        .order_by(WeChatIdentity.bound_at.desc())
        .limit(1)
    )
    if openid is None:
        _finish(message, OutboxState.NO_CHANNEL, "员工未关注公众号")
        return
    url = public_base_url.rstrip("/") + opened_page(config, message.kind, message.payload)
    try:
        response = client.message.send_template(
            openid, config.template_id, template_data(message, config), url=url
        )
    except WeChatClientException as exc:
        reason = f"{exc.errcode} {exc.errmsg}"
        message.errcode = exc.errcode
        if _retried_later(message, reason, exc, now):
            return
        if exc.errcode == NOT_FOLLOWING:
            _finish(message, OutboxState.NO_CHANNEL, "员工已取消关注公众号", exc.errcode)
        else:
            _finish(message, OutboxState.FAILED, reason, exc.errcode)
        return
    message.channel = CareChannel.TEMPLATE.value
    _finish(message, OutboxState.SENT)
    message.msgid = str(response.get("msgid", ""))
    message.sent_at = now


def _hand_to_staff(session, message, customer: Customer, kind, now: datetime) -> None:
    """A greeting for the salesperson (else the advisor) to send from their own WeChat."""
    text = kind.personal_text(message.payload["data"]) if kind else ""
    tasks.queue(
        session,
        kind=CareTaskKind.SEND_PERSONALLY,
        customer=customer,
        staff_id=customer.sales_owner_id or customer.advisor_id,
        occasion=message.dedupe_key,
        due=now,
        text=text,
        now=now,
        vehicle_id=message.vehicle_id,
        outbox_message_id=message.id,
    )
    message.channel = CareChannel.PERSONAL.value
    _finish(message, OutboxState.SENT)
    message.sent_at = now


def _phone_instead(session, message, customer: Customer, kind, reason: str, now) -> None:
    """The message cannot reach the customer: the store's care specialist calls instead."""
    _finish(message, OutboxState.NO_CHANNEL, reason, message.errcode)
    if kind is None or kind.marketing or not kind.call_if_unreachable:
        return  # a greeting, or a city-wide warning, is not worth a phone call each
    tasks.queue(
        session,
        kind=CareTaskKind.PHONE_INSTEAD,
        customer=customer,
        staff_id=tasks.care_specialist_id(session, customer.store_id),
        occasion=message.dedupe_key,
        due=now,
        text=f"{reason}，请电话告知：\n" + kind.personal_text(message.payload["data"]),
        now=now,
        vehicle_id=message.vehicle_id,
        outbox_message_id=message.id,
    )


def _spend_grant(session: Session, customer_id: int, kind_name: str, now: datetime) -> bool:
    """Spend one of the customer's one-time subscriptions for the kind, if any is left."""
    spent = session.execute(
        update(SubscribeGrant)
        .where(
            SubscribeGrant.customer_id == customer_id,
            SubscribeGrant.kind == kind_name,
            SubscribeGrant.app == WeChatApp.OFFICIAL_ACCOUNT.value,
            SubscribeGrant.remaining > 0,
        )
        .values(remaining=SubscribeGrant.remaining - 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount > 0


def _send_wechat(session, client, message, customer, kind, config, public_base_url, now):
    openid = _openid(session, customer.id)
    if openid is None:
        _phone_instead(session, message, customer, kind, "客户未关注公众号", now)
        return
    subscribe = config.channel == CareChannel.SUBSCRIBE and _spend_grant(
        session, customer.id, message.kind, now
    )
    if not subscribe and not config.template_id:
        reason = (
            "客户没有可用的订阅授权"
            if config.channel == CareChannel.SUBSCRIBE
            else "未配置该提醒的模板消息"
        )
        _finish(message, OutboxState.NO_CHANNEL, reason)
        return
    data = template_data(message, config)
    url = public_base_url.rstrip("/") + opened_page(config, message.kind, message.payload)
    try:
        if subscribe:
            response = client.message.send_subscribe_message(
                openid, config.template_id, data, page=url
            )
        else:
            response = client.message.send_template(openid, config.template_id, data, url=url)
    except WeChatClientException as exc:
        _record_refusal(session, message, customer, kind, exc, now)
    else:
        message.channel = (CareChannel.SUBSCRIBE if subscribe else CareChannel.TEMPLATE).value
        _finish(message, OutboxState.SENT)
        message.msgid = str(response.get("msgid", ""))
        message.sent_at = now


def _retried_later(message, reason: str, exc: WeChatClientException, now) -> bool:
    """WeChat was busy or rate-limited: try again later, backing off, up to MAX_ATTEMPTS."""
    if exc.errcode not in RETRYABLE or message.attempts >= MAX_ATTEMPTS:
        return False
    _finish(message, OutboxState.PENDING, reason, exc.errcode)
    message.not_before = now + BACKOFF * (2 ** (message.attempts - 1))
    return True


def _record_refusal(session, message, customer, kind, exc: WeChatClientException, now) -> None:
    reason = f"{exc.errcode} {exc.errmsg}"
    message.errcode = exc.errcode
    if _retried_later(message, reason, exc, now):
        return
    if exc.errcode == NOT_FOLLOWING:
        _phone_instead(session, message, customer, kind, "客户已取消关注公众号", now)
    elif exc.errcode == SUBSCRIPTION_REFUSED:
        _finish(message, OutboxState.FAILED, f"{reason}（客户拒收订阅消息）", exc.errcode)
        session.execute(
            update(SubscribeGrant)
            .where(SubscribeGrant.customer_id == customer.id, SubscribeGrant.kind == message.kind)
            .values(refused_at=now, remaining=0)
            .execution_options(synchronize_session=False)
        )
    else:
        _finish(message, OutboxState.FAILED, reason, exc.errcode)


def dispatch(
    session: Session,
    client,
    public_base_url: str,
    now: datetime,
    limit: int = BATCH,
    concurrency: int = 1,
    budget: timedelta = RUN_BUDGET,
) -> Counter:
    """Release stale claims, then claim and send what is due, batch after batch, until
    nothing is due, ``budget`` is spent or WeChat answers busy (the next run picks up the
    rest); the outcomes counted by state.

    A batch goes out in priority order. Plain template messages are prepared for the whole
    batch, then posted by ``concurrency`` senders at once on PostgreSQL (a send waits on
    WeChat, not on us); the accepted ones are recorded together (a crash before re-sends at
    most that batch). Other channels go one by one through ``send_one``. After a -1/45009 no
    further row is posted: the untried ones are released (``release_untried``).
    """
    release_stale_claims(session, now)
    outcomes: Counter = Counter()
    bind = session.get_bind()
    # SQLite serialises writers, and a session bound to one connection (a test's) cannot
    # share it between threads: senders run in parallel on a PostgreSQL engine only.
    parallel = isinstance(bind, Engine) and bind.dialect.name == "postgresql"
    workers = concurrency if parallel and concurrency > 1 else 1
    busy = threading.Event()  # WeChat answered -1/45009: this run sends nothing more
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        while time.monotonic() - started < budget.total_seconds() and not busy.is_set():
            claimed = claim(session, now, max(limit, workers * 16))
            if not claimed:
                break
            sends = plain_template_sends(session, claimed, public_base_url)
            untried: list[int] = []
            run: list[TemplateSend] = []
            # In claimed (priority) order: a row through another channel waits for the
            # template sends ranked above it.
            for message_id in [*claimed, None]:
                if message_id in sends:
                    run.append(sends[message_id])
                    continue
                untried += _post_run(session, client, pool, run, busy, now, outcomes)
                run = []
                if message_id is None:
                    break
                if busy.is_set():
                    untried.append(message_id)
                    continue
                state = send_one(session, client, message_id, public_base_url, now)
                outcomes[state.value] += 1
                if state == OutboxState.PENDING:
                    busy.set()
            release_untried(session, untried)
    return outcomes


def _post_run(session, client, pool, run: list[TemplateSend], busy, now, outcomes) -> list[int]:
    """Post consecutive template sends (at once on a pool), record the outcomes; the ids left
    untried because WeChat said busy."""
    if not run:
        return []
    posted = (
        pool.map(lambda send: _post(client, send, busy), run)
        if pool is not None
        else (_post(client, send, busy) for send in run)
    )
    delivered, untried = [], []
    for send, answer, exc in posted:
        if exc is not None:
            outcomes[_record_refused_post(session, send, exc, now).value] += 1
        elif answer is None:
            untried.append(send.message_id)
        else:
            delivered.append((send, answer))
    _record_delivered(session, delivered, now)
    if delivered:
        outcomes[OutboxState.SENT.value] += len(delivered)
    return untried
