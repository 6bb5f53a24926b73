"""One-time subscriptions the customers granted (issue 8 "Channels and WeChat's rules": a
subscribe message where the customer has granted one — the product counts the grants it
holds per customer and kind and spends one per send; 43101, refused, is recorded).

The Official Account pushes ``subscribe_msg_popup_event`` when a customer answers the
subscription pop-up (on one of our H5 pages or in an article), one ``List`` entry per
template: ``accept`` adds one grant to every kind their group sends through a subscribe
template with that id (``CareTemplate.channel`` "subscribe"), ``reject`` records the refusal
and keeps the grants already given (each one-time grant stands on its own).
``subscribe_msg_change_event`` only ever says ``reject``: the customer turned the notification
off in WeChat's settings, so the grants left are dropped too — WeChat would refuse them.

The dispatcher spends the grants (``crm.services.dispatcher``: one per send, 43101 recorded).
An answer from an openid not bound to a customer cannot be counted for anyone and is dropped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import xmltodict
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wechatpy.utils import to_text

from crm.models import CareChannel, CareTemplate, Customer, SubscribeGrant, WeChatApp
from crm.services import wechat_identity

POPUP = "subscribe_msg_popup_event"
CHANGE = "subscribe_msg_change_event"
EVENTS = frozenset({POPUP, CHANGE})
# WeChat's documented example of the change event reuses the pop-up's element name.
ELEMENTS = ("SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent")
APP = WeChatApp.OFFICIAL_ACCOUNT.value


@dataclass(frozen=True)
class Choice:
    """The customer's answer for one template: accepted, or refused."""

    template_id: str
    accepted: bool


def choices(xml: str | bytes) -> tuple[Choice, ...]:
    """The answers a subscription event carries (one ``List`` entry per template; WeChat
    sends a lone entry as an element, several as repeated elements)."""
    message = xmltodict.parse(to_text(xml))["xml"]
    info = next((message[name] for name in ELEMENTS if isinstance(message.get(name), dict)), {})
    entries = info.get("List") or []
    if isinstance(entries, dict):
        entries = [entries]
    return tuple(
        Choice(str(entry["TemplateId"]), entry.get("SubscribeStatusString") == "accept")
        for entry in entries
        if isinstance(entry, dict) and entry.get("TemplateId")
    )


def record(
    session: Session, openid: str, event: str, answers: tuple[Choice, ...], now: datetime
) -> dict[str, int]:
    """Count the customer's answers against the kinds sent through each template; how many
    grants were added and refusals recorded. Part of the caller's transaction."""
    customer = wechat_identity.person_for_openid(session, WeChatApp.OFFICIAL_ACCOUNT, openid)
    counts = {"granted": 0, "refused": 0}
    if not isinstance(customer, Customer) or not answers:
        return counts
    kinds = _kinds_by_template(session, customer.group_id, {a.template_id for a in answers})
    for answer in answers:
        for kind in kinds.get(answer.template_id, ()):
            if answer.accepted:
                _grant(session, customer.id, kind, now)
                counts["granted"] += 1
            else:
                _refuse(session, customer.id, kind, now, drop_remaining=event == CHANGE)
                counts["refused"] += 1
    return counts


def _kinds_by_template(session: Session, group_id: int, template_ids: set[str]):
    kinds: dict[str, list[str]] = defaultdict(list)
    for template_id, kind in session.execute(
        select(CareTemplate.template_id, CareTemplate.kind)
        .where(
            CareTemplate.group_id == group_id,
            CareTemplate.channel == CareChannel.SUBSCRIBE.value,
            CareTemplate.template_id.in_(template_ids),
        )
        .order_by(CareTemplate.kind)
    ):
        kinds[template_id].append(kind)
    return kinds


def _grant(session: Session, customer_id: int, kind: str, now: datetime) -> None:
    """One more grant; a fresh grant supersedes an earlier refusal."""
    _upsert(
        session,
        customer_id,
        kind,
        {"remaining": SubscribeGrant.remaining + 1, "refused_at": None, "updated_at": now},
        {"remaining": 1, "refused_at": None, "updated_at": now},
    )


def _refuse(session, customer_id: int, kind: str, now: datetime, drop_remaining: bool) -> None:
    changes: dict = {"refused_at": now, "updated_at": now}
    if drop_remaining:
        changes["remaining"] = 0
    _upsert(
        session,
        customer_id,
        kind,
        changes,
        {"remaining": 0, "refused_at": now, "updated_at": now},
    )


def _upsert(session: Session, customer_id: int, kind: str, changes: dict, first: dict) -> None:
    """Change the customer's grant row for the kind, creating it when there is none. An
    UPDATE first, then an INSERT in a savepoint; a concurrent first insert wins and is
    updated instead (the unique (customer, kind, app) decides)."""
    statement = (
        update(SubscribeGrant)
        .where(
            SubscribeGrant.customer_id == customer_id,
            SubscribeGrant.kind == kind,
            SubscribeGrant.app == APP,
        )
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(SubscribeGrant(customer_id=customer_id, kind=kind, app=APP, **first))
            session.flush()
    except IntegrityError:
        session.execute(statement)
