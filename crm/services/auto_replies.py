"""Keywords the Official Account answers automatically (the WeChat issue, "Official Account
server"). One set for the whole account, so only the group admin edits it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound, ValidationError
from crm.models import AutoReply, Staff

KEYWORD_MAX = 30
REPLY_MAX = 600


def list_all(session: Session, actor: Staff) -> list[AutoReply]:
    access.require(actor, "store.create")
    return session.scalars(select(AutoReply).order_by(AutoReply.id)).all()


def create(session: Session, actor: Staff, keyword: str, reply: str, now: datetime) -> AutoReply:
    """Add a keyword; the oldest matching active keyword answers a message."""
    access.require(actor, "store.create")
    keyword = (keyword or "").strip()
    reply = (reply or "").strip()
    if not keyword:
        raise ValidationError("请填写关键词", "keyword")
    if len(keyword) > KEYWORD_MAX:
        raise ValidationError(f"关键词不能超过{KEYWORD_MAX}个字", "keyword")
    taken = session.scalar(
        select(AutoReply).where(func.lower(AutoReply.keyword) == keyword.lower())
    )
    if taken is not None:
        raise ValidationError(f"关键词“{keyword}”已存在", "keyword")
    if not reply:
        raise ValidationError("请填写回复内容", "reply")
    if len(reply) > REPLY_MAX:
        raise ValidationError(f"回复内容不能超过{REPLY_MAX}个字", "reply")
    rule = AutoReply(keyword=keyword, reply=reply, active=True, created_at=now)
    session.add(rule)
    session.commit()
    return rule


def _get(session: Session, actor: Staff, rule_id: int) -> AutoReply:
    access.require(actor, "store.create")
    rule = session.get(AutoReply, rule_id)
    if rule is None:
        raise NotFound()
    return rule


def set_active(session: Session, actor: Staff, rule_id: int, active: bool) -> AutoReply:
    rule = _get(session, actor, rule_id)
    rule.active = active
    session.commit()
    return rule


def delete(session: Session, actor: Staff, rule_id: int) -> None:
    session.delete(_get(session, actor, rule_id))
    session.commit()
