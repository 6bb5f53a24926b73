"""Handing a new car owner to after-sales (PRODUCT "Deal and handover": hand the customer to
an after-sales advisor within 1 working day, telling the customer who it is; issue 7: with an
alarm to the store admin if none is assigned by then).

A customer who already has an advisor (a second car) keeps them and is handed over at
delivery. Otherwise the deal waits for the store admin (or an advisor taking the customer on)
until one working day after delivery (``crm.services.working_days``); the job
``raise_handover_alarms`` marks every deal still waiting past its deadline, once, and the
console shows these alarms to the store admin first. At the hand-over the customer is told who
serves them: the new-car care message (``crm.services.care.new_car``) is queued in the outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import access, clock
from crm.errors import ValidationError
from crm.models import Customer, Deal, DealStatus, DealStepKind, Role, Staff
from crm.services import audit, deals, working_days
from crm.services.care import new_car


def start(session: Session, deal: Deal, customer: Customer, now: datetime) -> None:
    """At delivery: keep the customer's active advisor, or set the one-working-day deadline."""
    current = session.get(Staff, customer.advisor_id) if customer.advisor_id else None
    if current is not None and current.active and current.store_id == deal.store_id:
        deal.advisor_assigned_at = now
        note = f"沿用服务顾问{current.name}"
        deals.add_step(session, deal, DealStepKind.ADVISOR, clock.today(now), None, now, note=note)
        session.flush()
        new_car.queue_for_deal(session, deal, now)
    else:
        deal.handover_due_at = working_days.one_working_day_after(now)


def advisors_of_store(session: Session, store_id: int) -> list[Staff]:
    return list(
        session.scalars(
            select(Staff)
            .where(
                Staff.store_id == store_id,
                Staff.role == Role.SERVICE_ADVISOR,
                Staff.active.is_(True),
            )
            .order_by(Staff.name)
        )
    )


def assign_advisor(
    session: Session, actor: Staff, customer_id: int, advisor_id: int | None, now: datetime
) -> Customer:
    """Make ``advisor_id`` the customer's after-sales advisor: an active service advisor of
    the customer's store. An advisor may only take a customer on themselves. Every delivered
    deal of the customer still waiting for an advisor is handed over now."""
    customer = access.get_or_404(Customer, customer_id, actor, "advisor.assign")
    if actor.role == Role.SERVICE_ADVISOR and advisor_id != actor.id:
        raise ValidationError("服务顾问只能把客户分配给自己", "advisor")
    advisor = session.get(Staff, advisor_id) if advisor_id else None
    if (
        advisor is None
        or not advisor.active
        or advisor.role != Role.SERVICE_ADVISOR
        or advisor.store_id != customer.store_id
    ):
        raise ValidationError("请选择本店在职的服务顾问", "advisor")
    if customer.advisor_id != advisor.id:
        audit.record(
            session,
            actor,
            "customer.assign_advisor",
            subject_type="customer",
            subject_id=customer.id,
            customer_id=customer.id,
            store_id=customer.store_id,
            detail={"advisor": advisor.id},
            now=now,
        )
    customer.advisor_id = advisor.id
    waiting = session.scalars(
        select(Deal).where(
            Deal.customer_id == customer.id,
            Deal.status == DealStatus.DELIVERED,
            Deal.advisor_assigned_at.is_(None),
        )
    )
    for deal in waiting:
        deal.advisor_assigned_at = now
        note = f"服务顾问：{advisor.name}"
        deals.add_step(session, deal, DealStepKind.ADVISOR, clock.today(now), actor, now, note=note)
        session.flush()
        new_car.queue_for_deal(session, deal, now)
    session.commit()
    return customer


def awaiting_advisor(session: Session, actor: Staff) -> list[Deal]:
    """Delivered deals whose customer has no advisor yet, the most overdue first."""
    query = select(Deal).where(
        Deal.status == DealStatus.DELIVERED, Deal.advisor_assigned_at.is_(None)
    )
    return list(session.scalars(access.scope(query, actor).order_by(Deal.handover_due_at)))


def raise_handover_alarms(session: Session, now: datetime) -> int:
    """Mark, once, every delivered deal still without an advisor past its deadline. A single
    conditional UPDATE, so two schedulers running it at once alarm each deal once."""
    result = session.execute(
        update(Deal)
        .where(
            Deal.status == DealStatus.DELIVERED,
            Deal.advisor_assigned_at.is_(None),
            Deal.handover_due_at <= now,
            Deal.handover_alarm_at.is_(None),
        )
        .values(handover_alarm_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount
