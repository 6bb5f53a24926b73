"""Erasing one customer's personal data on request (issue 12 "PIPL: deletion on request —
personal data erased or anonymised, business records kept with the link cut, all in the audit
log"; 个人信息保护法 Art. 47; PRODUCT "Organisation and access").

What happens, in one transaction:

* **The customer row becomes an anonymous tombstone.** Name → ``已注销客户#<id>``; phone,
  ID number, address, driving licence and every other personal column emptied (every
  encrypted column of ``customers`` is found from the model, so a new one cannot be missed);
  the blind indexes are replaced by a value no phone or ID number hashes to, so a search by
  the old phone finds nothing and the phone may register again as a new customer.
  ``erased_at`` marks it.
* **Business records are kept, pointing to the tombstone**: leads, communications, deals,
  vehicles and their service orders, bookings, complaints, surveys, outbox rows, care tasks
  and the member card keep their rows, so the funnel, NPS, complaint timeliness and the
  workshop's figures do not change. What cut the link to the person is that the tombstone no
  longer identifies anybody (anonymised data is not personal information, PIPL Art. 4/73).
  Free text written about or by the customer (lead notes, communication notes, complaint
  texts, survey comments, booking notes, task texts, message contents) is emptied and
  complaint photos are deleted, because free text may name or describe the person.
* **Leads** of the customer — linked, or with the same phone (customers are matched to
  their records by phone, PRODUCT) — lose name, phone and blind index like the customer.
* **Vehicles**: the VIN, model, engine and transmission numbers, dates and service history
  stay — the vehicle archive serves warranty and recalls (缺陷汽车产品召回管理条例) and the
  repair records must be kept (机动车维修管理规定: 维修档案); they describe the car, which
  may have another owner by now. The plate is emptied (it is registered to the person), and
  so are the insurance and inspection dates and the maintenance plan, which only plan care
  for the person.
* **Contact stops**: WeChat identities are unbound and unused binding invitations expire
  (no OAuth, phone or QR log-in can reach the tombstone), one-time subscriptions and the
  segment are deleted, every kind of care is opted out (the planner, surveys and booking
  messages honour opt-outs), pending messages are cancelled and open care tasks closed.
* **Consents and the audit log are kept as evidence**: they hold no personal data.

Erasing an erased customer changes nothing and logs nothing: a conditional UPDATE stamps
``erased_at`` once, so two admins pressing at once erase once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from crm import access
from crm.errors import ValidationError
from crm.models import (
    BindingInvitation,
    Booking,
    CareOptOut,
    CareTask,
    CareTaskKind,
    Communication,
    Complaint,
    ComplaintEvent,
    ComplaintPhoto,
    Customer,
    CustomerSegment,
    Lead,
    OutboxMessage,
    OutboxState,
    Staff,
    SubscribeGrant,
    Survey,
    TestDrive,
    Vehicle,
    WeChatIdentity,
)
from crm.models.types import EncryptedText
from crm.services import audit, care_opt_outs, idempotency

ACTION = "customer.erase"
CANCELLED = "客户个人信息已删除，已取消发送"
TASK_CLOSED = "客户个人信息已删除，任务关闭"
REQUEST_DONE = "已按客户申请删除其个人信息"

# The encrypted columns this module erases, per table; the others hold no customer's data.
# A test walks every model's EncryptedText columns against these two, so a new one is placed.
ERASED_COLUMNS = {
    "customers": {"name", "phone", "id_number", "address", "licence_no"},
    "leads": {"name", "phone"},
    # The JSON API's remembered replies (crm.services.idempotency, kept a day): the
    # customer's own are deleted; staff's about them age out within the day.
    "api_idempotency_keys": {"response"},
}
NOT_CUSTOMER_DATA = {
    "staff": {"phone"},  # staff members' own phones: not the customer's data
    # An uploaded lead spreadsheet is dropped once imported; a checked batch is cancelled or
    # imported by its store within the day, and holds many people's rows, not one record.
    "import_batches": {"content"},
}

# Customer columns that describe the person, and what they become.
_CUSTOMER_PLAIN = {
    "gender": "",
    "birthday": None,
    "occupation": "",
    "city": "",
    "hobbies": "",
    "employer": "",
    "licence_class": "",
    "licence_expiry": None,
}
# Free text about the customer, per model: emptied, rows kept.
_LEAD_TEXT = {"note": "", "referrer": "", "lost_note": ""}
_COMMUNICATION_TEXT = {
    "content": "",
    "concerns": "",
    "need_changes": "",
    "decision_factors": "",
    "next_step": "",
}
_VEHICLE_PERSONAL = {
    "plate": "",
    "compulsory_insurance_expiry": None,
    "commercial_insurance_expiry": None,
    "inspection_due": None,
    "next_service_kind": "",
    "next_service_on": None,
    "next_service_km": None,
}


def anonymous_name(customer_id: int) -> str:
    return f"已注销客户#{customer_id}"


def erased_index(customer_id: int) -> str:
    """Stands in for a blind index: never a hex digest, so no phone or ID number finds it."""
    return f"erased:{customer_id}"


@dataclass
class Erasure:
    """What one erasure did (``already`` when the customer had been erased before)."""

    customer: Customer
    already: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def erase(session: Session, actor: Staff, customer_id: int, confirm: str, now: datetime) -> Erasure:
    """Erase the customer's personal data as the module describes, in one transaction, and
    record "customer.erase" in the audit log. Only store and group admins
    (``customer.erase``; another store's customer answers 404, another role 403).

    ``confirm`` must be the customer's id, typed by the admin; anything else is refused on
    ``confirm`` and nothing changes. An erased customer is returned as it is (``already``).
    """
    customer = access.get_or_404(Customer, customer_id, actor, "customer.erase")
    if customer.erased_at is not None:
        return Erasure(customer, already=True)
    if (confirm or "").strip() != str(customer.id):
        raise ValidationError(f"请输入客户编号 {customer.id} 以确认删除", "confirm")
    stamped = session.execute(
        update(Customer)
        .where(Customer.id == customer.id, Customer.erased_at.is_(None))
        .values(erased_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not stamped:  # erased a moment ago by another request
        session.rollback()
        session.refresh(customer)
        return Erasure(customer, already=True)
    old_phone_index = customer.phone_index
    counts = {
        "leads": _erase_leads(session, customer, old_phone_index),
        "vehicles": _erase_vehicles(session, customer),
        "identities_unbound": _unbind(session, customer, now),
        "messages_cancelled": _cancel_messages(session, customer),
        "tasks_closed": _close_tasks(session, actor, customer, now),
        "complaint_photos": _erase_complaints(session, customer),
    }
    _erase_other_text(session, customer)
    idempotency.forget_principal(session, f"customer:{customer.id}")
    _opt_out_of_everything(session, actor, customer, now)
    _anonymise(customer, now)
    audit.record(
        session,
        actor,
        ACTION,
        subject_type="customer",
        subject_id=customer.id,
        customer_id=customer.id,
        store_id=customer.store_id,
        detail=counts,
        now=now,
    )
    session.commit()
    return Erasure(customer, counts=counts)


def _anonymise(customer: Customer, now: datetime) -> None:
    for column in Customer.__table__.columns:
        if isinstance(column.type, EncryptedText):
            setattr(customer, column.key, None if column.nullable else "")
    customer.name = anonymous_name(customer.id)
    customer.phone_index = erased_index(customer.id)
    customer.id_number_index = None
    for name, value in _CUSTOMER_PLAIN.items():
        setattr(customer, name, value)
    customer.erased_at = now


def _erase_leads(session: Session, customer: Customer, old_phone_index: str) -> int:
    leads = session.scalars(
        select(Lead).where(
            or_(Lead.customer_id == customer.id, Lead.phone_index == old_phone_index)
        )
    ).all()
    for lead in leads:
        for column in Lead.__table__.columns:
            if isinstance(column.type, EncryptedText):
                setattr(lead, column.key, None if column.nullable else "")
        lead.name = anonymous_name(customer.id)
        lead.phone_index = erased_index(customer.id)
        for name, value in _LEAD_TEXT.items():
            setattr(lead, name, value)
    lead_ids = [lead.id for lead in leads]
    if lead_ids:
        session.execute(
            update(Communication)
            .where(Communication.lead_id.in_(lead_ids))
            .values(**_COMMUNICATION_TEXT)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(TestDrive)
            .where(TestDrive.lead_id.in_(lead_ids))
            .values(feelings="")
            .execution_options(synchronize_session=False)
        )
    return len(leads)


def _erase_vehicles(session: Session, customer: Customer) -> int:
    return session.execute(
        update(Vehicle)
        .where(Vehicle.customer_id == customer.id)
        .values(**_VEHICLE_PERSONAL)
        .execution_options(synchronize_session=False)
    ).rowcount


def _unbind(session: Session, customer: Customer, now: datetime) -> int:
    unbound = session.execute(
        update(WeChatIdentity)
        .where(WeChatIdentity.customer_id == customer.id)
        .values(customer_id=None, bound_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(
        update(BindingInvitation)
        .where(
            BindingInvitation.customer_id == customer.id,
            BindingInvitation.used_at.is_(None),
            BindingInvitation.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(SubscribeGrant).where(SubscribeGrant.customer_id == customer.id))
    session.execute(delete(CustomerSegment).where(CustomerSegment.customer_id == customer.id))
    return unbound


def _cancel_messages(session: Session, customer: Customer) -> int:
    """Pending messages to or about the customer are cancelled (with those bundled into
    them); every message of theirs loses its contents, keeping kind, state and times."""
    pending = list(
        session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.customer_id == customer.id,
                OutboxMessage.state == OutboxState.PENDING.value,
            )
        )
    )
    if pending:
        session.execute(
            update(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.id.in_(pending),
                    (OutboxMessage.bundled_into_id.in_(pending))
                    & (OutboxMessage.state == OutboxState.BUNDLED.value),
                )
            )
            .values(state=OutboxState.FAILED.value, error=CANCELLED)
            .execution_options(synchronize_session=False)
        )
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.customer_id == customer.id)
    ).all()
    for message in messages:
        message.payload = {"data": {}, "url": (message.payload or {}).get("url", "")}
    return len(pending)


def _close_tasks(session: Session, actor: Staff, customer: Customer, now: datetime) -> int:
    tasks = session.scalars(select(CareTask).where(CareTask.customer_id == customer.id)).all()
    closed = 0
    for task in tasks:
        task.text = ""
        if task.done_at is None:
            deletion = task.kind == CareTaskKind.PRIVACY_REQUEST.value and ":delete:" in (
                task.dedupe_key
            )
            task.outcome = REQUEST_DONE if deletion else TASK_CLOSED
            task.done_at = now
            task.done_by_id = actor.id
            closed += 1
        else:
            task.outcome = ""
    return closed


def _erase_complaints(session: Session, customer: Customer) -> int:
    complaint_ids = select(Complaint.id).where(Complaint.customer_id == customer.id)
    session.execute(
        update(Complaint)
        .where(Complaint.customer_id == customer.id)
        .values(text="", resolution="", callback_note="")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ComplaintEvent)
        .where(ComplaintEvent.complaint_id.in_(complaint_ids))
        .values(note="")
        .execution_options(synchronize_session=False)
    )
    return session.execute(
        delete(ComplaintPhoto)
        .where(ComplaintPhoto.complaint_id.in_(complaint_ids))
        .execution_options(synchronize_session=False)
    ).rowcount


def _erase_other_text(session: Session, customer: Customer) -> None:
    for model, column in ((Survey, "comment"), (Booking, "note")):
        session.execute(
            update(model)
            .where(model.customer_id == customer.id)
            .values({column: ""})
            .execution_options(synchronize_session=False)
        )


def _opt_out_of_everything(
    session: Session, actor: Staff, customer: Customer, now: datetime
) -> None:
    chosen = set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )
    for kind in care_opt_outs.member_kinds():
        if kind.name not in chosen:
            session.add(
                CareOptOut(
                    customer_id=customer.id,
                    kind=kind.name,
                    recorded_at=now,
                    recorded_by_id=actor.id,
                )
            )
