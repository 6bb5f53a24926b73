"""Logging a follow-up on a lead; the first one on a pool lead claims it (PRODUCT "The
customer pool", "Lead classes and cadence")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm import access
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.models import (
    LEAD_CLASS_LABELS,
    Channel,
    Communication,
    Lead,
    LeadClass,
    LeadMove,
    LeadStatus,
    MoveReason,
    PurchaseTimeframe,
    Staff,
)
from crm.services import lead_classes, leads

TEXT_MAX = 2000
NEXT_STEP_MAX = 200


@dataclass(frozen=True)
class FollowUpInput:
    channel: str
    content: str
    concerns: str = ""
    need_changes: str = ""
    decision_factors: str = ""
    next_step: str = ""
    next_step_at: datetime | None = None
    purchase_timeframe: str | None = None  # None: unchanged
    quoted: bool | None = None  # None: unchanged
    lead_class: str = ""  # "": take the suggestion
    class_reason: str = ""


def _check(data: FollowUpInput, now: datetime) -> None:
    try:
        Channel(data.channel)
    except ValueError as exc:
        raise ValidationError("请选择沟通方式", "channel") from exc
    if not data.content.strip():
        raise ValidationError("请填写沟通内容", "content")
    for field in ("content", "concerns", "need_changes", "decision_factors"):
        if len(getattr(data, field)) > TEXT_MAX:
            raise ValidationError(f"内容不能超过{TEXT_MAX}个字", field)
    if len(data.next_step) > NEXT_STEP_MAX:
        raise ValidationError(f"下一步不能超过{NEXT_STEP_MAX}个字", "next_step")
    if data.next_step_at is not None and data.next_step_at <= now:
        raise ValidationError("下次跟进时间应晚于现在", "next_step_at")
    if data.next_step.strip() and data.next_step_at is None:
        raise ValidationError("请填写下次跟进时间", "next_step_at")
    if data.purchase_timeframe is not None:
        try:
            PurchaseTimeframe(data.purchase_timeframe)
        except ValueError as exc:
            raise ValidationError("请选择购车时间", "purchase_timeframe") from exc
    if data.lead_class:
        try:
            LeadClass(data.lead_class)
        except ValueError as exc:
            raise ValidationError("请选择线索级别", "lead_class") from exc


def suggested_class(session: Session, lead: Lead, data: FollowUpInput, now: datetime) -> LeadClass:
    """The class the rules give the lead once this follow-up is logged."""
    evidence = leads.evidence(session, lead, extra_interactions=1)
    timeframe = data.purchase_timeframe
    quoted = data.quoted
    evidence = lead_classes.Evidence(
        interactions=evidence.interactions,
        test_drove=evidence.test_drove or data.channel == Channel.TEST_DRIVE,
        quoted=evidence.quoted if quoted is None else quoted,
        timeframe=PurchaseTimeframe(evidence.timeframe if timeframe is None else timeframe),
    )
    return lead_classes.suggest(evidence, now)


def _claim(session: Session, actor: Staff, lead: Lead, now: datetime) -> None:
    """Make a pool lead the actor's in one conditional UPDATE: of two salespeople claiming at
    the same moment, the database lets exactly one through."""
    claimed = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.owner_id.is_(None), Lead.status == LeadStatus.OPEN)
        .values(owner_id=actor.id, claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        session.rollback()
        holder = session.scalar(
            select(Staff.name).join(Lead, Lead.owner_id == Staff.id).where(Lead.id == lead.id)
        )
        raise Conflict(f"该线索刚被{holder or '其他同事'}认领，请换一条", "lead")
    session.refresh(lead)
    leads.record_move(session, lead, None, actor.id, actor, MoveReason.CLAIMED, now)


def _lead_to_follow(session: Session, actor: Staff, lead_id: int) -> Lead:
    """The lead, through the actor's scope. A pool lead a colleague has just claimed is out of
    scope now; say so plainly rather than "not found"."""
    try:
        return access.get_or_404(Lead, lead_id, actor, "lead.follow_up")
    except NotFound:
        holder = session.scalar(
            select(Staff.name)
            .join(LeadMove, LeadMove.to_owner_id == Staff.id)
            .join(Lead, Lead.id == LeadMove.lead_id)
            .where(
                LeadMove.lead_id == lead_id,
                LeadMove.reason == MoveReason.CLAIMED,
                Lead.owner_id == LeadMove.to_owner_id,
                Lead.store_id == actor.store_id,
            )
            .order_by(LeadMove.moved_at.desc())
            .limit(1)
        )
        if holder is None:
            raise
        raise Conflict(f"该线索已被{holder}认领", "lead") from None


def log_follow_up(
    session: Session, actor: Staff, lead_id: int, data: FollowUpInput, now: datetime
) -> Communication:
    """Record one contact with a lead: channel, content, concerns, need changes, decision
    factors and the next step with its time.

    - The first communication on a pool lead claims it; it leaves everyone else's pool.
    - The lead's class follows the rules' suggestion unless the salesperson picks another,
      which needs a reason.
    - The lead becomes due again at the earlier of the next step and the class cadence.
    """
    lead = _lead_to_follow(session, actor, lead_id)
    if lead.status != LeadStatus.OPEN:
        raise ValidationError("该线索已归档，不能继续跟进", "lead")
    _check(data, now)
    suggestion = suggested_class(session, lead, data, now)
    chosen = LeadClass(data.lead_class) if data.lead_class else suggestion
    reason = data.class_reason.strip()
    if chosen != suggestion and not reason:
        raise ValidationError(
            f"系统建议级别为“{LEAD_CLASS_LABELS[suggestion]}”，调整级别请填写原因",
            "class_reason",
        )
    if len(reason) > leads.REASON_MAX:
        raise ValidationError(f"原因不能超过{leads.REASON_MAX}个字", "class_reason")

    if lead.owner_id is None:
        _claim(session, actor, lead, now)
    elif lead.owner_id != actor.id:
        raise Forbidden("只有线索负责人可以记录跟进")

    communication = Communication(
        lead_id=lead.id,
        staff_id=actor.id,
        channel=data.channel,
        content=data.content.strip(),
        concerns=data.concerns.strip(),
        need_changes=data.need_changes.strip(),
        decision_factors=data.decision_factors.strip(),
        next_step=data.next_step.strip(),
        next_step_at=data.next_step_at,
        lead_class=chosen.value,
        class_reason=reason if chosen != suggestion else "",
        occurred_at=now,
    )
    session.add(communication)
    if data.purchase_timeframe is not None:
        lead.purchase_timeframe = data.purchase_timeframe
    if data.quoted is not None:
        lead.quoted = data.quoted
    lead.lead_class = chosen.value
    lead.class_reason = communication.class_reason
    lead.last_contact_at = now
    lead.due_at = lead_classes.due_at(chosen, now, data.next_step_at, lead.created_at)
    session.commit()
    return communication
