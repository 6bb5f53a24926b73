"""Deals (PRODUCT "Deal and handover"): deposit → full payment → delivery, each a recorded
step on the deal. A deal can be cancelled before delivery, with a reason; the lead then goes
back to its salesperson as a key or intent lead.

While a deal is open the lead is in the ``deal`` status: it no longer returns to the pool
after 30 days and is no longer due for follow-ups. Delivery is in ``crm.services.delivery``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import access, clock, money
from crm.errors import Forbidden, ValidationError
from crm.models import (
    Deal,
    DealStatus,
    DealStep,
    DealStepKind,
    Lead,
    LeadClass,
    LeadStatus,
    Staff,
)
from crm.services import catalogue, lead_classes, leads

CANCEL_CLASSES = (LeadClass.KEY, LeadClass.INTENT)


@dataclass
class DepositInput:
    model: str
    deposit_yuan: str
    deposit_on: date | None
    trim: str = ""


def add_step(
    session: Session,
    deal: Deal,
    kind: DealStepKind,
    on: date,
    actor: Staff | None,
    now: datetime,
    amount_fen: int | None = None,
    note: str = "",
) -> DealStep:
    step = DealStep(
        deal_id=deal.id,
        kind=kind.value,
        on=on,
        amount_fen=amount_fen,
        note=note,
        staff_id=actor.id if actor else None,
        recorded_at=now,
    )
    session.add(step)
    return step


def check_day(day: date | None, field: str, now: datetime, label: str) -> date:
    """A required business date that has already come."""
    if day is None:
        raise ValidationError(f"请填写{label}", field)
    if day > clock.today(now):
        raise ValidationError(f"{label}不能晚于今天", field)
    return day


def _model_name(session: Session, group_id: int, raw: str) -> str:
    name = (raw or "").strip()
    if not name:
        raise ValidationError("请选择车型", "model")
    known = catalogue.active_model_names(session, group_id)
    if known and name not in known:
        raise ValidationError("车型不在车型库中", "model")
    return name[:50]


def take_deposit(
    session: Session, actor: Staff, lead_id: int, data: DepositInput, now: datetime
) -> Deal:
    """The first step of a deal: the owner of an open lead takes a deposit for a model."""
    lead = access.get_or_404(Lead, lead_id, actor, "deal.record")
    if lead.owner_id != actor.id:
        raise Forbidden("只有线索负责人可以记录订单")
    if lead.status != LeadStatus.OPEN:
        raise ValidationError("该线索不在跟进中，不能下定", "lead")
    model = _model_name(session, actor.group_id, data.model)
    deposit_fen = money.parse_yuan(data.deposit_yuan, "deposit", positive=True)
    deposit_on = check_day(data.deposit_on, "deposit_on", now, "定金日期")
    deal = Deal(
        store_id=lead.store_id,
        lead_id=lead.id,
        salesperson_id=actor.id,
        model=model,
        trim=(data.trim or "").strip()[:50],
        status=DealStatus.DEPOSIT.value,
        deposit_fen=deposit_fen,
        deposit_on=deposit_on,
        created_at=now,
    )
    session.add(deal)
    session.flush()
    add_step(session, deal, DealStepKind.DEPOSIT, deposit_on, actor, now, deposit_fen)
    lead.status = LeadStatus.DEAL.value
    lead.last_contact_at = now
    session.commit()
    return deal


def own_deal(session: Session, actor: Staff, deal_id: int, action: str = "deal.record") -> Deal:
    """A deal of the actor's (a supervisor's team, a store admin's store for cancelling)."""
    deal = access.get_or_404(Deal, deal_id, actor, action)
    if action == "deal.record" and deal.salesperson_id != actor.id:
        raise Forbidden("只有负责该订单的销售顾问可以记录")
    return deal


def record_payment(
    session: Session,
    actor: Staff,
    deal_id: int,
    paid_yuan: str,
    paid_on: date | None,
    now: datetime,
) -> Deal:
    """The second step: the full payment, on or after the deposit's day."""
    deal = own_deal(session, actor, deal_id)
    if deal.status != DealStatus.DEPOSIT:
        raise ValidationError(f"订单{deal.status_label}，不能再记录全款", "status")
    paid_fen = money.parse_yuan(paid_yuan, "paid", positive=True)
    paid_on = check_day(paid_on, "paid_on", now, "全款日期")
    if paid_on < deal.deposit_on:
        raise ValidationError("全款日期不能早于定金日期", "paid_on")
    deal.paid_fen, deal.paid_on = paid_fen, paid_on
    deal.status = DealStatus.PAID.value
    add_step(session, deal, DealStepKind.PAYMENT, paid_on, actor, now, paid_fen)
    session.commit()
    return deal


def cancel(
    session: Session,
    actor: Staff,
    deal_id: int,
    reason: str,
    lead_class: str,
    now: datetime,
) -> Deal:
    """Cancel an undelivered deal with a reason. The lead goes back to its salesperson, open,
    as the key or intent lead they choose, due again by that class's cadence."""
    deal = own_deal(session, actor, deal_id, "deal.cancel")
    if not deal.open:
        raise ValidationError(f"订单{deal.status_label}，不能取消", "status")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("请填写取消原因", "reason")
    if len(reason) > leads.REASON_MAX:
        raise ValidationError(f"原因不能超过{leads.REASON_MAX}个字", "reason")
    if lead_class not in {c.value for c in CANCEL_CLASSES}:
        raise ValidationError("请选择线索回到重点或意向级别", "lead_class")
    deal.status = DealStatus.CANCELLED.value
    deal.cancel_reason, deal.cancelled_at = reason, now
    add_step(session, deal, DealStepKind.CANCELLED, clock.today(now), actor, now, note=reason)
    lead = session.get(Lead, deal.lead_id)
    lead.status = LeadStatus.OPEN.value
    lead.lead_class = lead_class
    lead.class_reason = f"订单取消：{reason}"[: leads.REASON_MAX]
    lead.last_contact_at = now
    lead.due_at = lead_classes.due_at(lead_class, now, None, lead.created_at)
    session.commit()
    return deal


def deals_of_lead(session: Session, actor: Staff, lead_id: int) -> list[Deal]:
    return list(
        session.scalars(
            access.scope(select(Deal).where(Deal.lead_id == lead_id), actor).order_by(
                Deal.id.desc()
            )
        )
    )


def open_deal_of_lead(session: Session, actor: Staff, lead_id: int) -> Deal | None:
    return next((deal for deal in deals_of_lead(session, actor, lead_id) if deal.open), None)
