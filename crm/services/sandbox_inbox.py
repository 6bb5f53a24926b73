"""What the sandbox inbox shows: each recipient's phone, their messages newest first."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm.models import BindingInvitation, Customer, SandboxMessage, Staff, WeChatIdentity
from crm.services import wechat_inbound
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


def scan(session: Session, ticket: str, now: datetime) -> SandboxMessage:
    """A new phone scans the binding QR code ``ticket`` and follows the Official Account.

    The event goes through the same handling as one pushed by WeChat to the callback; the
    reply the callback would send lands in the inbox, on that phone.
    """
    invitation = session.scalar(select(BindingInvitation).where(BindingInvitation.ticket == ticket))
    if invitation is None:
        raise NotFound("二维码不存在或已失效")
    openid = f"sandbox-phone-{secrets.token_hex(6)}"
    event = wechat_inbound.Inbound(
        openid=openid,
        account="gh_sandbox",
        msg_type="event",
        event="subscribe_scan",
        create_time=int(now.timestamp()),
        msg_id=0,
        content="",
        event_key=invitation.scene,
    )
    reply = wechat_inbound.handle(session, event, request_key=f"sandbox:{openid}", now=now)
    message = SandboxMessage(
        openid=openid, kind="reply", body=reply, msgid=secrets.token_hex(6), sent_at=now
    )
    session.add(message)
    session.commit()
    return message


def people_to_enter_as(session: Session, kind: str, limit: int = 8) -> list[Person]:
    """Whom the sandbox log-in offers: active staff (one per role first) or customers."""
    if kind == "staff":
        staff = session.scalars(
            select(Staff)
            .where(Staff.active.is_(True))
            .order_by(Staff.store_id, Staff.role, Staff.id)
        ).all()
        first_of_role: dict[tuple, Staff] = {}
        for member in staff:
            first_of_role.setdefault((member.store_id, member.role), member)
        return list(first_of_role.values())[:limit]
    return list(session.scalars(select(Customer).order_by(Customer.id).limit(limit)))
