"""A customer's care opt-outs 关怀订阅 (issue 8 "No harassment": a kind the customer opted out
of is never queued; PRODUCT "The care calendar").

Staff who serve the customer record the customer's wish on the console's customer page, kind
by kind; each opt-out keeps who recorded it and when. The planner's policy
(``crm.services.care.policy``) leaves opted-out kinds out of the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import ValidationError
from crm.models import CareOptOut, Customer, Staff
from crm.services.care import planner
from crm.services.care.kinds import CareKind


@dataclass(frozen=True)
class KindChoice:
    kind: CareKind
    opted_out: bool


def for_customer(session: Session, actor: Staff, customer_id: int) -> list[KindChoice]:
    """Every care kind, and whether the customer (in the actor's scope) opted out of it."""
    customer = access.get_or_404(Customer, customer_id, actor)
    chosen = set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )
    return [KindChoice(kind, kind.name in chosen) for kind in member_kinds()]


def set_opt_outs(
    session: Session, actor: Staff, customer_id: int, kinds: Iterable[str], now: datetime
) -> set[str]:
    """Make ``kinds`` exactly the care kinds the customer receives no more: new opt-outs are
    recorded with the actor and ``now``, kinds no longer chosen are sent again. An unknown
    kind raises a ``ValidationError`` on ``kinds`` naming it, and nothing changes."""
    customer = access.get_or_404(Customer, customer_id, actor, "care.opt_out")
    known = {kind.name for kind in member_kinds()}
    wanted = {name.strip() for name in kinds if name.strip()}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValidationError(f"未知的关怀类型：{'、'.join(unknown)}", "kinds")
    current = set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )
    # Only registered kinds are switched back on; an opt-out of a kind since retired stays.
    resumed = (current & known) - wanted
    if resumed:
        session.execute(
            delete(CareOptOut).where(
                CareOptOut.customer_id == customer.id, CareOptOut.kind.in_(sorted(resumed))
            )
        )
    for name in sorted(wanted - current):
        session.add(
            CareOptOut(customer_id=customer.id, kind=name, recorded_at=now, recorded_by_id=actor.id)
        )
    session.commit()
    return wanted


# --- the customer's own choices (member page 关怀设置) ------------------------------------------


@dataclass(frozen=True)
class MemberChoice:
    """One kind of care as the customer sees it on ``/m/preferences``."""

    kind: CareKind
    receiving: bool

    @property
    def switchable(self) -> bool:
        """Service-critical reminders (insurance, inspection, weather) cannot be switched off;
        one that staff switched off at the customer's request may be switched back on."""
        return not self.kind.critical or not self.receiving

    @property
    def field(self) -> str:
        return self.kind.name


ON, OFF = "on", "off"


def member_kinds() -> list[CareKind]:
    """The kinds a customer receives (messages addressed to staff are not theirs to choose)."""
    return [kind for kind in planner.all_kinds() if not kind.for_staff]


def for_member(session: Session, customer: Customer) -> list[MemberChoice]:
    """Every kind of care the customer may receive, and whether they receive it (issue 9
    "Preferences"): each unless the customer or staff switched it off — a critical kind only
    staff can switch off, at the customer's request on the console.
    Service-critical kinds first, then by the planner's priority."""
    off = _opted_out_kinds(session, customer)
    kinds = sorted(member_kinds(), key=lambda kind: (not kind.critical, -kind.priority))
    return [MemberChoice(kind, kind.name not in off) for kind in kinds]


def _opted_out_kinds(session: Session, customer: Customer) -> set[str]:
    return set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )


def set_member_choices(
    session: Session, customer: Customer, choices: Mapping[str, str], now: datetime
) -> list[MemberChoice]:
    """The customer switches kinds of care on (``"on"``) and off (``"off"``) themselves
    (issue 9 "Preferences: service-critical ones cannot be switched off, the others can").

    Each key is a kind's name; kinds not given keep their setting. Switching off a critical
    kind (one staff recorded off at the customer's request stays off until switched on), an
    unknown or staff-only kind, or any value but on/off raises a ``ValidationError`` naming
    that field, and nothing changes. An opt-out the customer records has no staff author
    (``recorded_by_id`` None); the planner's policy then leaves the kind out.
    """
    known = {kind.name: kind for kind in member_kinds()}
    current = _opted_out_kinds(session, customer)
    wanted_off: set[str] = set()
    wanted_on: set[str] = set()
    for name, value in choices.items():
        kind = known.get(name)
        if kind is None:
            raise ValidationError("没有这种关怀类型", name)
        if value not in (ON, OFF):
            raise ValidationError("请选择接收或不接收", name)
        if value == OFF and kind.critical and name not in current:
            raise ValidationError(f"{kind.label}关系到用车安全和法定义务，不能关闭", name)
        (wanted_off if value == OFF else wanted_on).add(name)
    resumed = current & wanted_on
    if resumed:
        session.execute(
            delete(CareOptOut).where(
                CareOptOut.customer_id == customer.id, CareOptOut.kind.in_(sorted(resumed))
            )
        )
    for name in sorted(wanted_off - current):
        session.add(
            CareOptOut(customer_id=customer.id, kind=name, recorded_at=now, recorded_by_id=None)
        )
    session.commit()
    return for_member(session, customer)
