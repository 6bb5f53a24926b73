"""The customer's own care messages on the member page (issue 8 "No harassment"): what went
out, newest first, each with the greetings and campaigns bundled into it, so a bundled item
still reaches the customer (the message opens this page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import CareChannel, Customer, OutboxMessage, OutboxState
from crm.services.care import planner

SHOWN = 10


@dataclass(frozen=True)
class Entry:
    sent_at: datetime
    text: str
    bundled: list[str]


def _text(message: OutboxMessage) -> str:
    kind = planner.kind(message.kind)
    return kind.personal_text(message.payload["data"]) if kind else ""


def recent(session: Session, customer: Customer) -> list[Entry]:
    """The customer's last messages sent through WeChat, with what was bundled into them."""
    sent = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.customer_id == customer.id,
            OutboxMessage.state == OutboxState.SENT,
            OutboxMessage.channel.in_([CareChannel.TEMPLATE.value, CareChannel.SUBSCRIBE.value]),
        )
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(SHOWN)
    ).all()
    riders: dict[int, list[str]] = {message.id: [] for message in sent}
    for rider in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.bundled_into_id.in_(list(riders)))
        .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
    ):
        riders[rider.bundled_into_id].append(_text(rider))
    return [Entry(message.sent_at, _text(message), riders[message.id]) for message in sent]
