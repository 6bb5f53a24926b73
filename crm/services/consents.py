"""Consent records (issue 12 "PIPL: consent records"; PRODUCT "Organisation and access":
collecting data needs the customer's consent and a stated purpose, 个人信息保护法 Art. 13–16).

Every decision is a row of ``consents`` — purpose, granted or withdrawn, channel, the privacy
notice's version, who recorded it (a staff member, or nobody when the customer chose on the
member page) and when. Rows are never changed: the current state of a purpose is its latest
row, and the history stays as evidence (also after an erasure, crm.services.erasure).

Purposes:

* ``service_reminders`` (售后服务与用车提醒) and ``membership`` (会员服务) are *necessary* to
  serve the customer who bought or services a car here (PIPL Art. 13(2), performing a
  contract). They are recorded when given; withdrawing them means asking for deletion, which
  the member page offers (crm.services.privacy_requests), so they cannot be withdrawn here.
* ``marketing`` (优惠与活动信息) is optional: the customer withdraws it on ``/m/privacy`` and
  staff record a paper or phone withdrawal on the console. Withdrawing it switches off every
  marketing kind of care (holiday, seasonal, anniversary, trade-in greetings) through the
  existing opt-outs (crm.services.care_opt_outs), which the planner, the surveys and the
  outbox already honour; granting it again switches them back on. A customer who never
  decided keeps the default of the care engine (greetings go out through staff, PRODUCT
  "The care calendar").

Recording the state a purpose is already in adds nothing (a double tap records one row).
Every change is in the audit log ("consent.grant" / "consent.withdraw").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound, ValidationError
from crm.models import CareOptOut, CareTask, Consent, Customer, Staff
from crm.services import audit, care_opt_outs, customer_export
from crm.services.privacy_requests import CHANNEL_LABELS, PURPOSE_LABELS

# The version of the privacy notice (/m/privacy) a consent was given under.
POLICY_VERSION = "2026-11"
MARKETING = "marketing"
# Purposes necessary to serve the customer: withdrawn only by asking for deletion.
ESSENTIAL = frozenset({"service_reminders", "membership"})
PURPOSES = tuple(PURPOSE_LABELS)
NOTE_MAX = 200
MEMBER_CHANNEL = "wechat"
DECISIONS = {"grant": "同意", "withdraw": "撤回"}


@dataclass(frozen=True)
class ConsentState:
    """One purpose as it stands: its latest decision, or none recorded (``granted`` None)."""

    purpose: str
    label: str
    essential: bool
    granted: bool | None
    channel: str = ""
    channel_label: str = ""
    recorded_at: datetime | None = None
    policy_version: str = ""

    @property
    def withdrawable(self) -> bool:
        return not self.essential and self.granted is not False

    @property
    def grantable(self) -> bool:
        return self.granted is not True


def latest(session: Session, customer: Customer, purpose: str) -> Consent | None:
    """The customer's latest decision on ``purpose``, if any."""
    return session.scalar(
        select(Consent)
        .where(Consent.customer_id == customer.id, Consent.purpose == purpose)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc())
        .limit(1)
    )


def current(session: Session, customer: Customer) -> list[ConsentState]:
    """Each purpose with its current state (the latest row), in the notice's order."""
    states = []
    for purpose in PURPOSES:
        row = latest(session, customer, purpose)
        label, essential = PURPOSE_LABELS[purpose], purpose in ESSENTIAL
        if row is None:
            states.append(ConsentState(purpose, label, essential, None))
            continue
        states.append(
            ConsentState(
                purpose,
                label,
                essential,
                row.granted,
                row.channel,
                CHANNEL_LABELS.get(row.channel, row.channel),
                row.recorded_at,
                row.policy_version,
            )
        )
    return states


def history(session: Session, customer: Customer) -> list[Consent]:
    """Every decision on record, newest first."""
    return list(
        session.scalars(
            select(Consent)
            .where(Consent.customer_id == customer.id)
            .order_by(Consent.recorded_at.desc(), Consent.id.desc())
        )
    )


def grant(
    session: Session,
    actor: Staff | Customer,
    customer: Customer,
    purpose: str,
    channel: str,
    now: datetime,
    note: str = "",
) -> Consent:
    """Record that the customer consents to ``purpose`` (see the module's rules); the row
    standing for the current state, new or already there. Commits."""
    return _decide(session, actor, customer, purpose, channel, True, now, note)


def withdraw(
    session: Session,
    actor: Staff | Customer,
    customer: Customer,
    purpose: str,
    channel: str,
    now: datetime,
    note: str = "",
) -> Consent:
    """Record that the customer withdraws ``purpose``; only an optional purpose may be
    withdrawn (a necessary one is refused on ``purpose``: ask for deletion instead).
    Withdrawing marketing switches off marketing care. Commits."""
    return _decide(session, actor, customer, purpose, channel, False, now, note)


def record(
    session: Session, actor: Staff, customer_id: int, values: Mapping[str, str], now: datetime
) -> Consent:
    """A staff member records a decision the customer made on paper, by phone or in the
    showroom (the console form: ``purpose``, ``decision`` grant/withdraw, ``channel``,
    ``note``), for a customer in their scope (else 404). As ``grant`` / ``withdraw``."""
    customer = access.get_or_404(Customer, customer_id, actor)
    decision = values.get("decision", "")
    if decision not in DECISIONS:
        raise ValidationError("请选择同意或撤回", "decision")
    decide = grant if decision == "grant" else withdraw
    return decide(
        session,
        actor,
        customer,
        values.get("purpose", ""),
        values.get("channel", ""),
        now,
        note=values.get("note", ""),
    )


def choose(
    session: Session, customer: Customer, purpose: str, decision: str, now: datetime
) -> Consent:
    """The customer's own decision on the member page (``decision`` grant/withdraw), recorded
    through WeChat. As ``grant`` / ``withdraw``."""
    if decision not in DECISIONS:
        raise ValidationError("请选择同意或撤回", "decision")
    decide = grant if decision == "grant" else withdraw
    return decide(session, customer, customer, purpose, MEMBER_CHANNEL, now)


@dataclass(frozen=True)
class HistoryEntry:
    """One decision as the console lists it."""

    recorded_at: datetime
    purpose: str
    granted: bool
    channel: str
    policy_version: str
    recorded_by: str  # the staff member, or 客户本人
    note: str


@dataclass(frozen=True)
class ConsolePage:
    """The console's 个人信息与授权 page of one customer."""

    customer: Customer
    states: list[ConsentState]
    history: list[HistoryEntry]
    export_request: CareTask | None
    may_export: bool
    may_erase: bool


def console_page(session: Session, actor: Staff, customer_id: int) -> ConsolePage:
    """A customer in the actor's scope (else 404) with their consents, their open request for
    a copy, and whether the actor may export or erase (store and group admins)."""
    customer = access.get_or_404(Customer, customer_id, actor)
    return ConsolePage(
        customer=customer,
        states=current(session, customer),
        history=_entries(session, history(session, customer)),
        export_request=customer_export.open_export_request(session, customer),
        may_export=access.allowed(actor, "customer.export_pii"),
        may_erase=access.allowed(actor, "customer.erase") and customer.erased_at is None,
    )


def _entries(session: Session, rows: list[Consent]) -> list[HistoryEntry]:
    staff_ids = {row.recorded_by_id for row in rows if row.recorded_by_id}
    names = dict(
        session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))).tuples().all()
    )
    return [
        HistoryEntry(
            row.recorded_at,
            PURPOSE_LABELS.get(row.purpose, row.purpose),
            row.granted,
            CHANNEL_LABELS.get(row.channel, row.channel),
            row.policy_version,
            names.get(row.recorded_by_id, "") if row.recorded_by_id else "客户本人",
            row.note,
        )
        for row in rows
    ]


def set_member_choices(
    session: Session, customer: Customer, choices: Mapping[str, str], now: datetime
) -> list[care_opt_outs.MemberChoice]:
    """The customer's 关怀设置 (``/m/preferences``), kept in step with their consent: while
    marketing consent is withdrawn, switching a marketing kind on is refused on that kind
    (they grant marketing again on ``/m/privacy``). Otherwise as
    ``care_opt_outs.set_member_choices``."""
    if marketing_withdrawn(session, customer):
        for kind in marketing_kinds():
            if choices.get(kind.name) == care_opt_outs.ON:
                raise ValidationError(
                    "您已撤回“优惠与活动信息”授权，请先在隐私与授权页重新同意", kind.name
                )
    return care_opt_outs.set_member_choices(session, customer, choices, now)


def marketing_withdrawn(session: Session, customer: Customer) -> bool:
    row = latest(session, customer, MARKETING)
    return row is not None and not row.granted


def marketing_kinds():
    """The care kinds that are marketing (greetings, campaigns): what the consent covers."""
    return [kind for kind in care_opt_outs.member_kinds() if kind.marketing]


def _decide(
    session: Session,
    actor: Staff | Customer,
    customer: Customer,
    purpose: str,
    channel: str,
    granted: bool,
    now: datetime,
    note: str,
) -> Consent:
    _check_actor(session, actor, customer)
    if customer.erased_at is not None:
        raise ValidationError("该客户的个人信息已删除，不能再登记授权", "purpose")
    if purpose not in PURPOSE_LABELS:
        raise ValidationError("请选择授权用途", "purpose")
    if not granted and purpose in ESSENTIAL:
        raise ValidationError(
            f"“{PURPOSE_LABELS[purpose]}”是为您提供服务所必需的，如需撤回请申请删除个人信息",
            "purpose",
        )
    if isinstance(actor, Customer):
        channel = channel or MEMBER_CHANNEL
        if channel != MEMBER_CHANNEL:
            raise ValidationError("请选择授权方式", "channel")
    elif channel not in CHANNEL_LABELS:
        raise ValidationError("请选择授权方式", "channel")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"备注不能超过{NOTE_MAX}个字", "note")
    before = latest(session, customer, purpose)
    if before is not None and before.granted == granted:
        return before
    staff_id = actor.id if isinstance(actor, Staff) else None
    row = Consent(
        customer_id=customer.id,
        purpose=purpose,
        channel=channel,
        granted=granted,
        note=note,
        policy_version=POLICY_VERSION,
        recorded_at=now,
        recorded_by_id=staff_id,
    )
    session.add(row)
    session.flush()
    if purpose == MARKETING:
        _switch_marketing_care(session, customer, granted, staff_id, now)
    audit.record(
        session,
        actor,
        "consent.grant" if granted else "consent.withdraw",
        subject_type="consent",
        subject_id=row.id,
        customer_id=customer.id,
        store_id=customer.store_id,
        detail={"purpose": purpose, "channel": channel},
        now=now,
    )
    session.commit()
    return row


def _check_actor(session: Session, actor: Staff | Customer, customer: Customer) -> None:
    """Staff record for customers in their scope (others answer 404); a customer only for
    themselves."""
    if isinstance(actor, Staff):
        access.require(actor, "customer.consent", customer)
    elif not (isinstance(actor, Customer) and actor.id == customer.id):
        raise NotFound()


def _switch_marketing_care(
    session: Session, customer: Customer, granted: bool, staff_id: int | None, now: datetime
) -> None:
    names = sorted(kind.name for kind in marketing_kinds())
    if granted:
        session.execute(
            delete(CareOptOut).where(
                CareOptOut.customer_id == customer.id, CareOptOut.kind.in_(names)
            )
        )
        return
    already = set(
        session.scalars(
            select(CareOptOut.kind).where(
                CareOptOut.customer_id == customer.id, CareOptOut.kind.in_(names)
            )
        )
    )
    for name in names:
        if name not in already:
            session.add(
                CareOptOut(
                    customer_id=customer.id, kind=name, recorded_at=now, recorded_by_id=staff_id
                )
            )
