"""Leads: entering a new one (with duplicate detection), reading one with its timeline,
re-classing and archiving (PRODUCT "The customer pool", "Lead classes and cadence").

Claiming a pool lead happens by logging the first communication (``follow_ups``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from crm import access, phones
from crm.errors import Conflict, ValidationError
from crm.models import (
    LEAD_CLASS_LABELS,
    Communication,
    Customer,
    Lead,
    LeadClass,
    LeadMove,
    LeadSource,
    LeadStatus,
    LostReason,
    MoveReason,
    PurchaseTimeframe,
    Staff,
    Store,
    TestDrive,
)
from crm.services import catalogue, lead_classes
from crm.services.identity import phone_index

NAME_MAX = 50
NOTE_MAX = 500
REASON_MAX = 200


@dataclass(frozen=True)
class LeadInput:
    name: str
    phone: str
    source: str
    model_of_interest: str = ""
    referrer: str = ""
    note: str = ""
    purchase_timeframe: str = ""


@dataclass(frozen=True)
class Duplicate:
    """An existing record with the same phone in the store, shown instead of a second one."""

    kind: str  # "lead" or "customer"
    record_id: int
    owner_name: str  # "" when it sits in the pool
    last_contact_at: datetime | None
    status: str = ""


class DuplicateLead(Conflict):
    def __init__(self, duplicate: Duplicate):
        owner = duplicate.owner_name or "客户池"
        noun = "线索" if duplicate.kind == "lead" else "客户"
        super().__init__(f"该手机号已是本店{noun}（{owner}）", "phone")
        self.duplicate = duplicate


def find_duplicate(session: Session, store_id: int, e164: str) -> Duplicate | None:
    """The store's lead (open ones first) or customer that already has this phone."""
    index = phone_index(e164)
    lead = session.scalar(
        select(Lead)
        .where(Lead.store_id == store_id, Lead.phone_index == index)
        .options(selectinload(Lead.owner))
        .order_by((Lead.status == LeadStatus.OPEN).desc(), Lead.id.desc())
        .limit(1)
    )
    if lead is not None:
        return Duplicate(
            "lead",
            lead.id,
            lead.owner.name if lead.owner else "",
            lead.last_contact_at,
            lead.status,
        )
    customer = session.scalar(
        select(Customer).where(Customer.store_id == store_id, Customer.phone_index == index)
    )
    if customer is not None:
        owner = session.get(Staff, customer.sales_owner_id) if customer.sales_owner_id else None
        return Duplicate("customer", customer.id, owner.name if owner else "", None)
    return None


def _clean_input(session: Session, store: Store, data: LeadInput) -> dict:
    name = data.name.strip()
    if not name:
        raise ValidationError("请填写姓名", "name")
    if len(name) > NAME_MAX:
        raise ValidationError(f"姓名不能超过{NAME_MAX}个字", "name")
    e164 = phones.normalise(data.phone)
    try:
        source = LeadSource(data.source)
    except ValueError as exc:
        raise ValidationError("请选择线索来源", "source") from exc
    referrer = data.referrer.strip()
    if source == LeadSource.REFERRAL and not referrer:
        raise ValidationError("转介绍请填写介绍人", "referrer")
    if len(referrer) > NAME_MAX:
        raise ValidationError(f"介绍人不能超过{NAME_MAX}个字", "referrer")
    model = data.model_of_interest.strip()
    if model and model not in catalogue.active_model_names(session, store.group_id):
        raise ValidationError("请选择在售车型", "model_of_interest")
    if len(data.note) > NOTE_MAX:
        raise ValidationError(f"备注不能超过{NOTE_MAX}个字", "note")
    try:
        timeframe = PurchaseTimeframe(data.purchase_timeframe)
    except ValueError as exc:
        raise ValidationError("请选择购车时间", "purchase_timeframe") from exc
    return {
        "name": name,
        "phone": e164,
        "phone_index": phone_index(e164),
        "source": source.value,
        "referrer": referrer,
        "model_of_interest": model,
        "note": data.note.strip(),
        "purchase_timeframe": timeframe.value,
    }


def create_lead(
    session: Session,
    actor: Staff,
    data: LeadInput,
    now: datetime,
    *,
    to_pool: bool = False,
) -> Lead:
    """Enter a lead met at the showroom, an auto show, by referral or otherwise.

    A salesperson's new lead is theirs (due for a first call within the hour); a store admin's,
    or one entered with ``to_pool``, goes to the store's pool. A phone the store already has
    raises ``DuplicateLead`` naming the owner instead of creating a second record.
    """
    access.require(actor, "lead.create")
    store = session.get(Store, actor.store_id) if actor.store_id else None
    if store is None:
        raise ValidationError("只有分店员工可以录入线索", "store")
    owner = None if to_pool or actor.role not in access.SALES_ROLES else actor
    return _add_lead(session, store, data, now, owner=owner, created_by=actor)


def create_enquiry(
    session: Session, store: Store, data: LeadInput, now: datetime, salesperson: Staff | None
) -> Lead:
    """A prospect's own enquiry from the public form: through a salesperson's personal QR
    code it is theirs, otherwise it lands in the store's pool. A phone the store already
    knows is not entered twice (the existing record stands; no error is shown to the public).
    """
    owner = salesperson if salesperson is not None and salesperson.active else None
    if owner is not None and owner.store_id != store.id:
        owner = None
    return _add_lead(session, store, data, now, owner=owner, created_by=None, consented=True)


def _add_lead(
    session: Session,
    store: Store,
    data: LeadInput,
    now: datetime,
    *,
    owner: Staff | None,
    created_by: Staff | None,
    consented: bool = False,
) -> Lead:
    values = _clean_input(session, store, data)
    duplicate = find_duplicate(session, store.id, values["phone"])
    if duplicate is not None:
        raise DuplicateLead(duplicate)
    lead = Lead(
        store_id=store.id,
        owner_id=owner.id if owner else None,
        lead_class=LeadClass.POTENTIAL.value,
        status=LeadStatus.OPEN.value,
        claimed_at=now if owner else None,
        created_by_id=created_by.id if created_by else None,
        consented_at=now if consented else None,
        created_at=now,
        **values,
    )
    lead.lead_class = lead_classes.suggest(evidence(session, lead), now).value
    if owner is not None:
        lead.due_at = lead_classes.due_at(lead.lead_class, None, None, now)
    session.add(lead)
    session.flush()
    record_move(session, lead, None, lead.owner_id, created_by, MoveReason.CREATED, now)
    session.commit()
    return lead


def record_move(
    session: Session,
    lead: Lead,
    from_owner_id: int | None,
    to_owner_id: int | None,
    moved_by: Staff | None,
    reason: MoveReason,
    now: datetime,
) -> None:
    session.add(
        LeadMove(
            lead_id=lead.id,
            from_owner_id=from_owner_id,
            to_owner_id=to_owner_id,
            moved_by_id=moved_by.id if moved_by else None,
            reason=reason.value,
            moved_at=now,
        )
    )


def evidence(session: Session, lead: Lead, extra_interactions: int = 0) -> lead_classes.Evidence:
    """What the class rules see for ``lead``; ``extra_interactions`` counts contacts about to
    be logged."""
    interactions, test_drove = 0, False
    if lead.id is not None:
        interactions = session.scalar(
            select(func.count()).select_from(Communication).where(Communication.lead_id == lead.id)
        )
        test_drove = (
            session.scalar(
                select(TestDrive.id)
                .where(TestDrive.lead_id == lead.id, TestDrive.driven_at.is_not(None))
                .limit(1)
            )
            is not None
        )
    return lead_classes.Evidence(
        interactions=(interactions or 0) + extra_interactions,
        test_drove=test_drove,
        quoted=lead.quoted,
        timeframe=PurchaseTimeframe(lead.purchase_timeframe),
    )


def reclassify(
    session: Session, actor: Staff, lead_id: int, lead_class: str, reason: str, now: datetime
) -> Lead:
    """Set a lead's class by hand. A class other than the rules' suggestion needs a reason,
    which is kept (PRODUCT "Lead classes and cadence")."""
    lead = access.get_or_404(Lead, lead_id, actor, "lead.reclassify")
    try:
        chosen = LeadClass(lead_class)
    except ValueError as exc:
        raise ValidationError("请选择线索级别", "lead_class") from exc
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise ValidationError(f"原因不能超过{REASON_MAX}个字", "class_reason")
    suggested = lead_classes.suggest(evidence(session, lead), now)
    if chosen != suggested and not reason:
        raise ValidationError(
            f"系统建议级别为“{LEAD_CLASS_LABELS[suggested]}”，调整级别请填写原因", "class_reason"
        )
    lead.lead_class = chosen.value
    lead.class_reason = reason if chosen != suggested else ""
    if lead.owner_id is not None and lead.status == LeadStatus.OPEN:
        lead.due_at = lead_classes.due_at(
            chosen, lead.last_contact_at, _planned_next_step(session, lead), lead.created_at
        )
    session.commit()
    return lead


def _planned_next_step(session: Session, lead: Lead) -> datetime | None:
    return session.scalar(
        select(Communication.next_step_at)
        .where(Communication.lead_id == lead.id)
        .order_by(Communication.occurred_at.desc(), Communication.id.desc())
        .limit(1)
    )


def archive(
    session: Session, actor: Staff, lead_id: int, reason: str, note: str, now: datetime
) -> Lead:
    """A lost or archived lead keeps its reason and goes to the dormant pool, to be woken
    quarterly (PRODUCT "Lead classes and cadence")."""
    lead = access.get_or_404(Lead, lead_id, actor, "lead.archive")
    if lead.status != LeadStatus.OPEN:
        raise ValidationError("该线索已归档", "lead")
    try:
        lost_reason = LostReason(reason)
    except ValueError as exc:
        raise ValidationError("请选择战败原因", "reason") from exc
    if len(note) > REASON_MAX:
        raise ValidationError(f"说明不能超过{REASON_MAX}个字", "note")
    previous_owner = lead.owner_id
    lead.status = LeadStatus.LOST.value
    lead.lead_class = LeadClass.DORMANT.value
    lead.lost_reason = lost_reason.value
    lead.lost_note = note.strip()
    lead.lost_at = now
    lead.owner_id = None
    lead.claimed_at = None
    lead.due_at = None
    record_move(session, lead, previous_owner, None, actor, MoveReason.ARCHIVED, now)
    session.commit()
    return lead


@dataclass(frozen=True)
class LeadFilters:
    lead_class: str = ""
    status: str = LeadStatus.OPEN.value
    model_of_interest: str = ""
    source: str = ""
    phone: str = ""


def filtered(query: Select, filters: LeadFilters) -> Select:
    if filters.lead_class:
        query = query.where(Lead.lead_class == filters.lead_class)
    if filters.status:
        query = query.where(Lead.status == filters.status)
    if filters.model_of_interest:
        query = query.where(Lead.model_of_interest == filters.model_of_interest)
    if filters.source:
        query = query.where(Lead.source == filters.source)
    if filters.phone:
        query = query.where(Lead.phone_index == phone_index(phones.normalise(filters.phone)))
    return query


def my_leads_query(actor: Staff, filters: LeadFilters) -> Select:
    """The leads the actor follows: a salesperson's own; a supervisor's team; a store admin's
    store (the pool is listed separately). Soonest due first."""
    owned = or_(Lead.owner_id.is_not(None), Lead.status != LeadStatus.OPEN)
    query = access.scope(select(Lead).where(owned), actor)
    return (
        filtered(query, filters)
        .options(selectinload(Lead.owner))
        .order_by(Lead.due_at.asc().nulls_last(), Lead.id.desc())
    )
