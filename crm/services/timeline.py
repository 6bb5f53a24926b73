"""The timeline of every contact with a lead or a customer, by anyone, newest first (issue
"Sales from the phone": customer detail), with the steps of their deals (PRODUCT "Deal and
handover")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm import access, money
from crm.models import Communication, Customer, Deal, DealStep, Lead, LeadMove, TestDrive


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # "communication", "test_drive", "move", "deal"
    title: str
    staff_name: str
    lines: list[tuple[str, str]] = field(default_factory=list)  # (label, text), empty skipped


def _communication(item: Communication) -> Entry:
    lines = [
        ("沟通内容", item.content),
        ("客户顾虑", item.concerns),
        ("需求变化", item.need_changes),
        ("决策因素", item.decision_factors),
        ("下一步", item.next_step),
        ("级别调整原因", item.class_reason),
    ]
    return Entry(
        at=item.occurred_at,
        kind="communication",
        title=item.channel_label,
        staff_name=item.staff.name if item.staff else "",
        lines=[(label, text) for label, text in lines if text],
    )


def _test_drive(drive: TestDrive) -> Entry:
    lines = [
        ("试驾车辆", drive.car),
        ("试驾感受", drive.feelings),
        ("意向车型", drive.model_of_interest),
        ("意向配置", drive.trim_of_interest),
    ]
    return Entry(
        at=drive.created_at,
        kind="test_drive",
        title=f"预约试驾（{drive.status_label}）",
        staff_name=drive.staff.name if drive.staff else "",
        lines=[(label, text) for label, text in lines if text],
    )


def _move(move: LeadMove) -> Entry:
    target = move.to_owner.name if move.to_owner else "客户池"
    return Entry(
        at=move.moved_at,
        kind="move",
        title=f"{move.reason_label} → {target}",
        staff_name=move.moved_by.name if move.moved_by else "系统",
    )


def _deal_step(step: DealStep) -> Entry:
    lines = [
        ("车型", step.deal.model),
        ("金额", money.yuan(step.amount_fen) if step.amount_fen else ""),
        ("说明", step.note),
    ]
    return Entry(
        at=step.recorded_at,
        kind="deal",
        title=step.kind_label,
        staff_name=step.staff.name if step.staff else "系统",
        lines=[(label, text) for label, text in lines if text],
    )


def _entries(session: Session, lead_ids: list[int]) -> list[Entry]:
    if not lead_ids:
        return []
    communications = session.scalars(
        select(Communication)
        .where(Communication.lead_id.in_(lead_ids))
        .options(selectinload(Communication.staff))
    ).all()
    drives = session.scalars(
        select(TestDrive)
        .where(TestDrive.lead_id.in_(lead_ids))
        .options(selectinload(TestDrive.staff))
    ).all()
    moves = session.scalars(
        select(LeadMove)
        .where(LeadMove.lead_id.in_(lead_ids))
        .options(
            selectinload(LeadMove.to_owner),
            selectinload(LeadMove.moved_by),
        )
    ).all()
    steps = session.scalars(
        select(DealStep)
        .join(Deal)
        .where(Deal.lead_id.in_(lead_ids))
        .options(selectinload(DealStep.deal), selectinload(DealStep.staff))
    ).all()
    entries = [
        *(_deal_step(step) for step in steps),
        *(_communication(item) for item in communications),
        *(_test_drive(drive) for drive in drives),
        *(_move(move) for move in moves),
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def for_lead(session: Session, actor, lead_id: int) -> tuple[Lead, list[Entry]]:
    """A lead the actor may see, with everything that happened on it, newest first."""
    lead = access.get_or_404(Lead, lead_id, actor)
    return lead, _entries(session, [lead.id])


def for_customer(session: Session, actor, customer_id: int) -> tuple[Customer, list[Entry]]:
    """A customer the actor may see, with every contact on all their leads, by anyone."""
    customer = access.get_or_404(Customer, customer_id, actor)
    lead_ids = list(session.scalars(select(Lead.id).where(Lead.customer_id == customer.id)))
    return customer, _entries(session, lead_ids)
