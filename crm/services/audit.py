"""Appending to the audit log (issue 10 "Console pages": who viewed or exported which customer
data, who changed what; issue 12 "PIPL": exports and erasures are all in the audit log).

One function writes every row, so every caller records the same shape. It adds the row to the
caller's session and does not commit: the event lands in the same transaction as the change it
describes, or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.models import AuditEvent, Customer, Staff

# Keys that would put personal data into the log; ``record`` refuses them.
_PII_KEYS = frozenset(
    {"phone", "mobile", "id_number", "id_card", "name", "address", "plate", "vin"}
)


def record(
    session: Session,
    actor: Staff | Customer | None,
    action: str,
    *,
    subject_type: str,
    subject_id: int | None,
    customer_id: int | None = None,
    store_id: int | None = None,
    detail: dict | None = None,
    now: datetime,
) -> AuditEvent:
    """Append one audit event. ``actor`` None means the system (a scheduled job).

    ``detail`` holds ids, counts and field names, never personal data: a key such as
    ``phone`` or ``name`` raises ValueError, because the log is kept longer than the data.
    """
    detail = dict(detail or {})
    leaked = _PII_KEYS.intersection(detail)
    if leaked:
        raise ValueError(f"audit detail must not carry personal data: {sorted(leaked)}")
    event = AuditEvent(
        occurred_at=now,
        actor_kind=_actor_kind(actor),
        actor_staff_id=actor.id if isinstance(actor, Staff) else None,
        actor_customer_id=actor.id if isinstance(actor, Customer) else None,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        customer_id=customer_id,
        store_id=store_id,
        detail=detail,
    )
    session.add(event)
    return event


def _actor_kind(actor: Staff | Customer | None) -> str:
    if isinstance(actor, Staff):
        return "staff"
    if isinstance(actor, Customer):
        return "customer"
    return "system"
