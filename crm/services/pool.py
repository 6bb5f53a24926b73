"""The customer pool: browsing it, and every way a lead goes back to it (PRODUCT "The
customer pool", "Organisation and access", "Lead classes and cadence")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import Session

from crm import access
from crm.errors import ValidationError
from crm.models import Lead, LeadClass, LeadMove, LeadStatus, MoveReason, Role, Staff
from crm.services import audit, leads
from crm.services.lead_classes import DORMANT_AFTER

CONTACT_WINDOW = timedelta(days=30)
WARN_BEFORE_RETURN = timedelta(days=3)
WAKE_AFTER = timedelta(days=91)  # archived leads are woken quarterly

# Pool age filters: days since the lead entered.
AGE_BUCKETS: dict[str, tuple[int | None, int | None]] = {
    "week": (None, 7),
    "month": (7, 30),
    "older": (30, None),
}
AGE_LABELS = {"week": "7天内", "month": "7–30天", "older": "30天以上"}


def last_touch():
    """When the owner last touched a lead: the last contact, else the claim, else entry."""
    return func.coalesce(Lead.last_contact_at, Lead.claimed_at, Lead.created_at)


@dataclass(frozen=True)
class PoolFilters:
    model_of_interest: str = ""
    source: str = ""
    lead_class: str = ""
    age: str = ""
    phone: str = ""


def browse_query(actor: Staff, filters: PoolFilters, now: datetime) -> Select:
    """The store's unclaimed open leads the actor may see, newest first."""
    query = access.scope(
        select(Lead).where(
            Lead.owner_id.is_(None),
            Lead.status == LeadStatus.OPEN,
            Lead.store_id == actor.store_id,
        ),
        actor,
    )
    query = leads.filtered(
        query,
        leads.LeadFilters(
            lead_class=filters.lead_class,
            status="",
            model_of_interest=filters.model_of_interest,
            source=filters.source,
            phone=filters.phone,
        ),
    )
    if filters.age:
        if filters.age not in AGE_BUCKETS:
            raise ValidationError("请选择入池时间", "age")
        newer_than, older_than = AGE_BUCKETS[filters.age]
        if newer_than is not None:
            query = query.where(Lead.created_at <= now - timedelta(days=newer_than))
        if older_than is not None:
            query = query.where(Lead.created_at > now - timedelta(days=older_than))
    return query.order_by(Lead.created_at.desc(), Lead.id.desc())


def _release(
    session: Session,
    condition,
    to_owner_id: int | None,
    moved_by: Staff | None,
    reason: MoveReason,
    now: datetime,
    **values,
) -> list[int]:
    """Move the leads matching ``condition`` to ``to_owner_id`` (None: the pool) in one
    statement, recording each move. Re-checking the condition in the UPDATE keeps a lead that
    was touched in the meantime where it is."""
    rows = session.execute(select(Lead.id, Lead.owner_id).where(condition)).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    due = None
    if to_owner_id is not None:
        due = now  # the new owner should get in touch at once
    moved = session.execute(
        update(Lead)
        .where(Lead.id.in_(ids), condition)
        .values(owner_id=to_owner_id, claimed_at=now if to_owner_id else None, due_at=due, **values)
        .returning(Lead.id)
        .execution_options(synchronize_session=False)
    ).scalars()
    moved_ids = set(moved)
    previous = {row.id: row.owner_id for row in rows}
    session.add_all(
        LeadMove(
            lead_id=lead_id,
            from_owner_id=previous[lead_id],
            to_owner_id=to_owner_id,
            moved_by_id=moved_by.id if moved_by else None,
            reason=reason.value,
            moved_at=now,
        )
        for lead_id in sorted(moved_ids)
    )
    return sorted(moved_ids)


def return_stale_leads(session: Session, now: datetime) -> int:
    """An owner must communicate with each lead at least once every 30 days; otherwise the lead
    returns to the pool. Returns how many leads went back. Idempotent: a second run finds none.
    """
    stale = (
        Lead.owner_id.is_not(None),
        Lead.status == LeadStatus.OPEN,
        last_touch() < now - CONTACT_WINDOW,
    )
    moved = _release(session, and_(*stale), None, None, MoveReason.STALE, now)
    session.commit()
    return len(moved)


def release_leads_of(
    session: Session, actor: Staff, leaver: Staff, to_colleague_id: int | None, now: datetime
) -> int:
    """A salesperson who leaves hands all their open leads back to the pool, or to one named
    colleague of the same store, in the caller's transaction, each move recorded with who made
    it (PRODUCT "Organisation and access"). Returns how many leads moved."""
    colleague = None
    if to_colleague_id is not None:
        colleague = access.get_or_404(Staff, to_colleague_id, actor)
        if (
            colleague.id == leaver.id
            or not colleague.active
            or colleague.store_id != leaver.store_id
            or colleague.role not in (Role.SALESPERSON, Role.SUPERVISOR)
        ):
            raise ValidationError("请选择同店在职的销售顾问接手", "hand_to")
    condition = and_(Lead.owner_id == leaver.id, Lead.status == LeadStatus.OPEN)
    moved = _release(
        session,
        condition,
        colleague.id if colleague else None,
        actor,
        MoveReason.STAFF_LEFT,
        now,
    )
    if moved:
        # Who handed whose leads to whom, for the audit log (issue 10 "Console pages").
        audit.record(
            session,
            actor,
            "lead.reassign",
            subject_type="staff",
            subject_id=leaver.id,
            store_id=leaver.store_id,
            detail={
                "leads": len(moved),
                "from_staff": leaver.id,
                "to_staff": colleague.id if colleague else None,
            },
            now=now,
        )
    return len(moved)


def wake_dormant_leads(session: Session, now: datetime) -> int:
    """Archived (lost) leads rest in the dormant pool and are woken quarterly: a quarter after
    they were archived they reopen in the store's pool as dormant leads, for the quarterly
    greeting and news (PRODUCT "Lead classes and cadence"). Idempotent."""
    condition = and_(
        Lead.status == LeadStatus.LOST,
        func.coalesce(Lead.lost_at, Lead.created_at) <= now - WAKE_AFTER,
    )
    moved = _release(
        session,
        condition,
        None,
        None,
        MoveReason.WOKEN,
        now,
        status=LeadStatus.OPEN.value,
        lead_class=LeadClass.DORMANT.value,
        woken_at=now,
    )
    session.commit()
    return len(moved)


def mark_dormant_leads(session: Session, now: datetime) -> int:
    """A lead with no interaction for six months is dormant (PRODUCT "Lead classes")."""
    result = session.execute(
        update(Lead)
        .where(
            Lead.status == LeadStatus.OPEN,
            Lead.lead_class != LeadClass.DORMANT,
            last_touch() <= now - DORMANT_AFTER,
        )
        .values(lead_class=LeadClass.DORMANT.value)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount or 0


def days_left_in_hand(last_touched: datetime, now: datetime) -> int:
    """Whole days until an untouched lead returns to the pool (0: it goes at the next run)."""
    remaining = last_touched + CONTACT_WINDOW - now
    return max(0, remaining.days + (1 if remaining.seconds else 0))
