"""Idempotency keys for the JSON API (issue 11: "idempotency keys on POSTs that create things
(a retried POST creates once)").

The rules, after the IETF draft "The Idempotency-Key HTTP Header Field":

- A key belongs to one principal (``"customer:<id>"`` / ``"staff:<id>"``); another person's
  identical key is a different key.
- The first request with a key claims it (a row, committed before the work starts, unique per
  principal and key); when the work succeeds its status and body are stored, and every retry
  with the same key gets that response back without running anything again.
- The same key with a different request (method, path or body) is refused naming the
  ``Idempotency-Key`` header (422); a retry while the first request is still running is
  told so (409) — of two concurrent requests exactly one does the work.
- A request that failed (bad input, a rule said no) releases its key: nothing was created,
  so the client may fix the request and retry with the same key.
- A claim whose request died mid-way (a crashed worker) is taken over after ``LEASE``; keys
  are kept ``KEEP`` (24 hours) and then purged by the daily job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.errors import Conflict, DomainError, ValidationError
from crm.models import IdempotencyKey

HEADER = "Idempotency-Key"
LEASE = timedelta(minutes=5)
KEEP = timedelta(hours=24)
_KEY = re.compile(r"^[\x21-\x7e]{1,100}$")  # visible ASCII, as a header value can carry


class KeyReused(DomainError):
    """The key was first used with a different request."""

    http_status = 422
    code = "idempotency_key_reused"


class KeyInFlight(Conflict):
    """The first request with this key is still being processed."""

    code = "idempotency_key_in_flight"


@dataclass(frozen=True)
class Stored:
    """The response of the request that first used a key."""

    status_code: int
    body: str


@dataclass(frozen=True)
class Claim:
    key_id: int
    replay: Stored | None  # set: answer with this instead of running the request


def checked_key(raw: str) -> str:
    """The header's value, or a ValidationError naming ``Idempotency-Key``."""
    if not _KEY.match(raw or ""):
        raise ValidationError("Idempotency-Key 须为1到100个可见ASCII字符", HEADER)
    return raw


def _find(session: Session, principal: str, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.principal == principal, IdempotencyKey.key == key
        )
    )


def _take_over(session: Session, row: IdempotencyKey, fingerprint: str, now: datetime) -> bool:
    """Re-claim an expired key or a dead request's claim; False if someone else did first."""
    taken = session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row.id, IdempotencyKey.claimed_at == row.claimed_at)
        .values(
            fingerprint=fingerprint,
            claimed_at=now,
            completed_at=None,
            status_code=None,
            response=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return taken == 1


def claim(session: Session, principal: str, key: str, fingerprint: str, now: datetime) -> Claim:
    """Claim ``key`` for ``principal``'s request (identified by ``fingerprint``), committed
    at once so a concurrent retry sees it. Returns the stored response when the key was used
    before with this request; raises ``KeyReused`` (422) when it was used with another one,
    ``KeyInFlight`` (409) while that first request still runs, ``ValidationError`` for a
    malformed key. Issue 11."""
    key = checked_key(key)
    row = _find(session, principal, key)
    if row is None:
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyKey(
                        principal=principal, key=key, fingerprint=fingerprint, claimed_at=now
                    )
                )
        except IntegrityError:
            pass  # a concurrent request with the same key claimed it first
        else:
            session.commit()
            return Claim(_find(session, principal, key).id, None)
        row = _find(session, principal, key)
        if row is None:  # ... and failed and released it again in the meantime
            raise KeyInFlight("相同 Idempotency-Key 的请求正在处理中，请稍后重试", HEADER)
    expired = row.claimed_at <= now - KEEP
    if expired and _take_over(session, row, fingerprint, now):
        return Claim(row.id, None)
    if row.fingerprint != fingerprint:
        raise KeyReused("该 Idempotency-Key 已用于另一个请求，请换一个新的", HEADER)
    if row.completed_at is not None:
        return Claim(row.id, Stored(row.status_code, row.response))
    if row.claimed_at <= now - LEASE and _take_over(session, row, fingerprint, now):
        return Claim(row.id, None)
    raise KeyInFlight("相同 Idempotency-Key 的请求正在处理中，请稍后重试", HEADER)


def complete(session: Session, key_id: int, status_code: int, body: str, now: datetime) -> None:
    """Store the response of the request that claimed the key: retries get it back."""
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == key_id)
        .values(completed_at=now, status_code=status_code, response=body)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def release(session: Session, key_id: int) -> None:
    """The request failed and created nothing: forget the claim so a retry runs again."""
    session.rollback()
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.id == key_id, IdempotencyKey.completed_at.is_(None)
        )
    )
    session.commit()


def forget_principal(session: Session, principal: str) -> None:
    """Drop every remembered reply of one principal (a customer's erasure, issue 12 "PIPL"):
    the stored bodies may hold their personal data. Does not commit."""
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.principal == principal))


def purge(session: Session, now: datetime) -> int:
    """Forget keys older than ``KEEP`` (the daily job); returns how many went."""
    gone = session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.claimed_at <= now - KEEP)
    ).rowcount
    session.commit()
    return gone
