"""Idempotency keys of the JSON API (issue 11: "idempotency keys on POSTs that create things
(a retried POST creates once)").

One row per (principal, key): claimed before the request runs, completed with the response it
produced. The stored response is what a retry gets back; it may name the customer's own data,
so it is encrypted at rest like every other personal field.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db
from crm.models.types import EncryptedText, UTCDateTime


class IdempotencyKey(db.Model):
    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "customer:<id>" or "staff:<id>": a key is private to whoever sent it.
    principal: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the method, path and body the key was first used with.
    fingerprint: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Set together when the first request finished; None while it is in flight.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None]
    response: Mapped[str | None] = mapped_column(EncryptedText)
