"""The salesperson's work-bench summary (PRODUCT "The customer pool", "Lead classes")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import access
from crm.models import Customer, Lead, LeadStatus, Staff

STALEST_SHOWN = 20
CUSTOMERS_SHOWN = 10


@dataclass(frozen=True)
class Workbench:
    open_by_class: dict[str, int]
    pool_size: int
    stalest: list[Lead]  # own open leads, least recently contacted first
    customers: list[Customer]  # own won customers, newest first (member-binding QR at delivery)


def summary(session: Session, actor: Staff) -> Workbench:
    """The actor's own open leads by class, the store pool's size, the leads that have waited
    longest for contact (never contacted first), and their newest customers."""
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
    customers = session.scalars(
        access.scope(select(Customer).where(Customer.sales_owner_id == actor.id), actor)
        .order_by(Customer.created_at.desc(), Customer.id.desc())
        .limit(CUSTOMERS_SHOWN)
    ).all()
    return Workbench(dict(by_class), pool_size or 0, list(stalest), list(customers))
