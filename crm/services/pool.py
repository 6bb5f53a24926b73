"""The customer pool (PRODUCT "The customer pool")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from crm.models import Lead, LeadStatus

CONTACT_WINDOW = timedelta(days=30)


def return_stale_leads(session: Session, now: datetime) -> int:
    """An owner must communicate with each lead at least once every 30 days; otherwise the lead
    returns to the pool. Returns how many leads went back. Idempotent: a second run finds none.
    """
    cutoff = now - CONTACT_WINDOW
    last_touch = func.coalesce(Lead.last_contact_at, Lead.claimed_at, Lead.created_at)
    result = session.execute(
        update(Lead)
        .where(Lead.owner_id.is_not(None), Lead.status == LeadStatus.OPEN, last_touch < cutoff)
        .values(owner_id=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount or 0
