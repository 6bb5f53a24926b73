"""A customer's care opt-outs 关怀订阅 (issue 8 "No harassment": a kind the customer opted out
of is never queued; PRODUCT "The care calendar").

Staff who serve the customer record the customer's wish on the console's customer page, kind
by kind; each opt-out keeps who recorded it and when. The planner's policy
(``crm.services.care.policy``) leaves opted-out kinds out of the outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    return [KindChoice(kind, kind.name in chosen) for kind in planner.all_kinds()]


def set_opt_outs(
    session: Session, actor: Staff, customer_id: int, kinds: Iterable[str], now: datetime
) -> set[str]:
    """Make ``kinds`` exactly the care kinds the customer receives no more: new opt-outs are
    recorded with the actor and ``now``, kinds no longer chosen are sent again. An unknown
    kind raises a ``ValidationError`` on ``kinds`` naming it, and nothing changes."""
    customer = access.get_or_404(Customer, customer_id, actor, "care.opt_out")
    known = {kind.name for kind in planner.all_kinds()}
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
