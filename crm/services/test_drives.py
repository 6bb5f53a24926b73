"""Test drives: booked into the salesperson's plan, then recorded (PRODUCT "The customer
pool": a logged test-drive appointment enters the plan and triggers a reminder).

The reminder shows on the work-bench; the WeChat reminder joins the outbox with the care
engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crm import access
from crm.errors import Forbidden, ValidationError
from crm.models import Channel, Lead, LeadStatus, Staff, TestDrive, TestDriveStatus
from crm.services import follow_ups

CAR_MAX = 50


def book(
    session: Session, actor: Staff, lead_id: int, scheduled_at: datetime, car: str, now: datetime
) -> TestDrive:
    """Book a test drive on one of the actor's own open leads."""
    lead = access.get_or_404(Lead, lead_id, actor, "test_drive.book")
    if lead.status != LeadStatus.OPEN:
        raise ValidationError("该线索已归档", "lead")
    if lead.owner_id is None:
        raise ValidationError("请先记录一次跟进以认领该线索", "lead")
    if lead.owner_id != actor.id:
        raise Forbidden("只有线索负责人可以预约试驾")
    car = car.strip()
    if not car:
        raise ValidationError("请填写试驾车辆", "car")
    if len(car) > CAR_MAX:
        raise ValidationError(f"试驾车辆不能超过{CAR_MAX}个字", "car")
    if scheduled_at <= now:
        raise ValidationError("试驾时间应晚于现在", "scheduled_at")
    drive = TestDrive(
        lead_id=lead.id, staff_id=actor.id, scheduled_at=scheduled_at, car=car, created_at=now
    )
    session.add(drive)
    session.commit()
    return drive


def _own_booked_drive(actor: Staff, drive_id: int) -> TestDrive:
    drive = access.get_or_404(TestDrive, drive_id, actor, "test_drive.book")
    if drive.staff_id != actor.id:
        raise Forbidden("只有预约的销售顾问可以操作")
    if drive.status != TestDriveStatus.BOOKED:
        raise ValidationError("该试驾已处理", "test_drive")
    return drive


@dataclass(frozen=True)
class DriveRecord:
    feelings: str
    model_of_interest: str = ""
    trim_of_interest: str = ""
    next_step: str = ""
    next_step_at: datetime | None = None


def record(
    session: Session, actor: Staff, drive_id: int, data: DriveRecord, now: datetime
) -> TestDrive:
    """Record how the drive went: the customer's feelings and the model and trim they now
    want. It counts as a test-drive contact on the lead (and so as a follow-up)."""
    drive = _own_booked_drive(actor, drive_id)
    if not data.feelings.strip():
        raise ValidationError("请填写试驾感受", "feelings")
    for field in ("model_of_interest", "trim_of_interest"):
        if len(getattr(data, field)) > CAR_MAX:
            raise ValidationError(f"不能超过{CAR_MAX}个字", field)
    drive.status = TestDriveStatus.DONE.value
    drive.driven_at = now
    drive.feelings = data.feelings.strip()
    drive.model_of_interest = data.model_of_interest.strip()
    drive.trim_of_interest = data.trim_of_interest.strip()
    lead = drive.lead
    if drive.model_of_interest:
        lead.model_of_interest = drive.model_of_interest
    if drive.trim_of_interest:
        lead.trim_of_interest = drive.trim_of_interest
    try:
        follow_ups.log_follow_up(
            session,
            actor,
            drive.lead_id,
            follow_ups.FollowUpInput(
                channel=Channel.TEST_DRIVE.value,
                content=f"试驾 {drive.car}：{drive.feelings}",
                next_step=data.next_step,
                next_step_at=data.next_step_at,
            ),
            now,
        )
    except Exception:
        session.rollback()
        raise
    return drive


def cancel(session: Session, actor: Staff, drive_id: int) -> TestDrive:
    drive = _own_booked_drive(actor, drive_id)
    drive.status = TestDriveStatus.CANCELLED.value
    session.commit()
    return drive
