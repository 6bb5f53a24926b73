"""The salesperson's work-bench summary (PRODUCT "The customer pool", "Lead classes")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import access
from crm.models import Lead, LeadStatus, Staff

STALEST_SHOWN = 20


@dataclass(frozen=True)
class Workbench:
    open_by_class: dict[str, int]
    pool_size: int
    stalest: list[Lead]  # own open leads, least recently contacted first


def summary(session: Session, actor: Staff) -> Workbench:
    """The actor's own open leads by class, the store pool's size, and the leads that have
    waited longest for contact (never contacted first)."""
    own_open = (Lead.owner_id == actor.id, Lead.status == LeadStatus.OPEN)
    by_class = session.execute(
        access.scope(select(Lead.lead_class, func.count()).where(*own_open), actor, Lead).group_by(
            Lead.lead_class
        )
    ).all()
    pool_size = session.scalar(
        access.scope(
            select(func.count())
            .select_from(Lead)
            .where(Lead.owner_id.is_(None), Lead.status == LeadStatus.OPEN),
            actor,
            Lead,
        )
    )
    stalest = session.scalars(
        access.scope(select(Lead).where(*own_open), actor)
        .order_by(Lead.last_contact_at.asc().nulls_first(), Lead.id)
        .limit(STALEST_SHOWN)
    ).all()
    return Workbench(dict(by_class), pool_size or 0, list(stalest))
