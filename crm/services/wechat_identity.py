"""Which person an openid belongs to, and binding one (the WeChat issue, "Log-in").

An openid is bound to exactly one staff member or customer. A left staff member's binding
stops working at once (it is kept, so reinstating them restores it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.models import Customer, Staff, WeChatApp, WeChatIdentity

Person = Staff | Customer


def identity(session: Session, app: WeChatApp, openid: str) -> WeChatIdentity | None:
    return session.scalar(
        select(WeChatIdentity).where(WeChatIdentity.app == app, WeChatIdentity.openid == openid)
    )


def bound_person(found: WeChatIdentity | None) -> Person | None:
    """The active person an identity is bound to, or None."""
    if found is None:
        return None
    if found.staff_id is not None:
        return found.staff if found.staff.active else None
    return found.customer


def person_for_openid(session: Session, app: WeChatApp, openid: str) -> Person | None:
    return bound_person(identity(session, app, openid))


def remember(
    session: Session, app: WeChatApp, openid: str, unionid: str | None, now: datetime
) -> WeChatIdentity:
    """The identity row for this openid, created on first sight (race-safe: a concurrent
    insert of the same openid wins and is used); the unionid is kept up to date. Flushes, does
    not commit (the caller's service owns the transaction)."""
    found = identity(session, app, openid)
    if found is None:
        found = WeChatIdentity(app=app.value, openid=openid, created_at=now)
        try:
            with session.begin_nested():
                session.add(found)
                session.flush()
        except IntegrityError:
            # A concurrent request recorded the same openid first: use its row.
            found = identity(session, app, openid)
    if unionid and found.unionid != unionid:
        found.unionid = unionid
    session.flush()
    return found


def bind(found: WeChatIdentity, person: Person, now: datetime) -> None:
    """Bind the identity to ``person`` (replacing any earlier binding of this openid)."""
    found.staff_id = person.id if isinstance(person, Staff) else None
    found.customer_id = person.id if isinstance(person, Customer) else None
    found.bound_at = now


def person_sharing_unionid(session: Session, found: WeChatIdentity) -> Person | None:
    """The active person bound to another identity (another app) with the same unionid."""
    if not found.unionid:
        return None
    siblings = session.scalars(
        select(WeChatIdentity).where(
            WeChatIdentity.unionid == found.unionid,
            WeChatIdentity.id != found.id,
            (WeChatIdentity.staff_id.is_not(None)) | (WeChatIdentity.customer_id.is_not(None)),
        )
    )
    for sibling in siblings:
        person = bound_person(sibling)
        if person is not None:
            return person
    return None


def sandbox_openid(person: Person) -> str:
    kind = "staff" if isinstance(person, Staff) else "customer"
    return f"sandbox-{kind}-{person.id}"


def enter_sandbox(session: Session, person: Person, now: datetime) -> WeChatIdentity:
    """In the sandbox, entering as a person gives them a followed, bound Official Account
    openid, so messages to them can be delivered to the sandbox inbox."""
    found = remember(session, WeChatApp.OFFICIAL_ACCOUNT, sandbox_openid(person), None, now)
    bind(found, person, now)
    if not found.subscribed:
        found.subscribed = True
        found.subscribed_at = now
    session.commit()
    return found
