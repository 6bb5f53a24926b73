"""What the sandbox inbox shows: each recipient's phone, their messages newest first."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import SandboxMessage, WeChatIdentity
from crm.services.wechat_identity import Person, bound_person


@dataclass(frozen=True)
class Phone:
    openid: str
    person: Person | None
    messages: list[SandboxMessage]


def phones(session: Session, limit: int) -> list[Phone]:
    """The latest ``limit`` messages grouped by recipient, the most recently messaged first."""
    messages = session.scalars(
        select(SandboxMessage)
        .order_by(SandboxMessage.sent_at.desc(), SandboxMessage.id.desc())
        .limit(limit)
    ).all()
    by_openid: dict[str, list[SandboxMessage]] = {}
    for message in messages:
        by_openid.setdefault(message.openid, []).append(message)
    identities = {
        found.openid: found
        for found in session.scalars(
            select(WeChatIdentity).where(WeChatIdentity.openid.in_(list(by_openid)))
        )
    }
    return [
        Phone(openid, bound_person(identities.get(openid)), sent)
        for openid, sent in by_openid.items()
    ]
