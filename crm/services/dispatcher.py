"""Sending the outbox (ARCHITECTURE rule 2; issue 8 "Planner → outbox → dispatcher"). Nothing
else calls WeChat's send API.

A dispatcher claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two dispatchers
never take the same row; a conditional UPDATE from ``pending`` on SQLite), marks them
``sending`` and commits, then sends each and records the outcome with its own commit. A row
left ``sending`` by a dispatcher that died goes back to ``pending`` after ``STALE_CLAIM``:
nothing is lost, and at most the rows in flight are sent again.

WeChat's answers: -1 (busy) and 45009 (rate limit) retry with backoff, up to
``MAX_ATTEMPTS``; 40001/42001 (token) are refreshed once by the client; 43004 (not following)
and a customer without a followed Official Account or a kind without a template become
``no_channel`` with the reason; any other error is ``failed`` with the reason.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from crm.models import (
    CareTemplate,
    Customer,
    OutboxMessage,
    OutboxState,
    WeChatApp,
    WeChatIdentity,
)

RETRYABLE = frozenset({-1, 45009})
NOT_FOLLOWING = 43004
MAX_ATTEMPTS = 5
BACKOFF = timedelta(minutes=1)  # doubled on each attempt
STALE_CLAIM = timedelta(minutes=10)
BATCH = 50


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
    """Take up to ``limit`` due rows for this dispatcher; committed before anything is sent."""
    query = (
        select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.not_before <= now)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
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
    return sorted(claimed)


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


def _template_id(session: Session, message: OutboxMessage) -> str | None:
    group_id = session.scalar(select(Customer.group_id).where(Customer.id == message.customer_id))
    return session.scalar(
        select(CareTemplate.template_id).where(
            CareTemplate.group_id == group_id, CareTemplate.kind == message.kind
        )
    )


def _finish(message: OutboxMessage, state: OutboxState, error: str = "", errcode=None) -> None:
    message.state = state.value
    message.error = error[:200]
    message.errcode = errcode


def send_one(session: Session, client, message_id: int, public_base_url: str, now: datetime):
    """Send one claimed row and record what WeChat said."""
    message = session.get(OutboxMessage, message_id)
    openid = _openid(session, message.customer_id)
    template_id = _template_id(session, message) if openid else None
    if openid is None:
        _finish(message, OutboxState.NO_CHANNEL, "客户未关注公众号")
    elif template_id is None:
        _finish(message, OutboxState.NO_CHANNEL, "未配置该提醒的模板消息")
    else:
        data = {key: {"value": value} for key, value in message.payload["data"].items()}
        url = public_base_url.rstrip("/") + message.payload.get("url", "/m/")
        try:
            response = client.message.send_template(openid, template_id, data, url=url)
        except WeChatClientException as exc:
            _record_refusal(message, exc, now)
        else:
            _finish(message, OutboxState.SENT)
            message.msgid = str(response.get("msgid", ""))
            message.sent_at = now
    session.commit()
    return OutboxState(message.state)


def _record_refusal(message: OutboxMessage, exc: WeChatClientException, now: datetime) -> None:
    reason = f"{exc.errcode} {exc.errmsg}"
    if exc.errcode in RETRYABLE and message.attempts < MAX_ATTEMPTS:
        _finish(message, OutboxState.PENDING, reason, exc.errcode)
        message.not_before = now + BACKOFF * (2 ** (message.attempts - 1))
    elif exc.errcode == NOT_FOLLOWING:
        _finish(message, OutboxState.NO_CHANNEL, "客户已取消关注公众号", exc.errcode)
    else:
        _finish(message, OutboxState.FAILED, reason, exc.errcode)


def dispatch(
    session: Session, client, public_base_url: str, now: datetime, limit: int = BATCH
) -> Counter:
    """Release stale claims, claim what is due, send it; the outcomes counted by state."""
    release_stale_claims(session, now)
    outcomes: Counter = Counter()
    for message_id in claim(session, now, limit):
        outcomes[send_one(session, client, message_id, public_base_url, now).value] += 1
    return outcomes
