"""WeChat identities bound to staff and customers, one-time binding invitations, and the
callback's memory of what it has already handled (replay and re-delivery protection)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class WeChatApp(StrEnum):
    OFFICIAL_ACCOUNT = "oa"
    MINIPROGRAM = "mp"


class WeChatIdentity(db.Model):
    """One openid of one WeChat app, bound to a staff member or a customer (or not yet)."""

    __tablename__ = "wechat_identities"
    __table_args__ = (UniqueConstraint("app", "openid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app: Mapped[WeChatApp] = mapped_column(String(4))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    subscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    staff = relationship("Staff")
    customer = relationship("Customer")


class BindingInvitation(db.Model):
    """A one-time parametric QR code: scanning it binds the scanner's openid to the person."""

    __tablename__ = "binding_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    scene: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    ticket: Mapped[str] = mapped_column(String(200), default="")
    qr_url: Mapped[str] = mapped_column(String(300), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_by_openid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    staff = relationship("Staff", foreign_keys=[staff_id])
    customer = relationship("Customer")


class CallbackReceipt(db.Model):
    """What the Official Account callback has seen: nonces (replays are refused) and message
    keys (WeChat re-delivers up to 3 times; each message is handled once)."""

    __tablename__ = "wechat_callback_receipts"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "nonce" | "message"
    key: Mapped[str] = mapped_column(String(128))
    reply: Mapped[str] = mapped_column(String(2000), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)


class AutoReply(db.Model):
    """A keyword the Official Account answers automatically (configured in the console)."""

    __tablename__ = "wechat_auto_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    keyword: Mapped[str] = mapped_column(String(30), unique=True)
    reply: Mapped[str] = mapped_column(String(600))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class SandboxMessage(db.Model):
    """A message the product sent while in the WeChat sandbox: what the recipient's phone would
    show. The same sending code runs in production; only the transport differs."""

    __tablename__ = "sandbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # template / text / qrcode ...
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(String(4000), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    msgid: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
