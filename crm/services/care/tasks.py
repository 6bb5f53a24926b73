"""Staff tasks from the care calendar (issue 8: 3DC, 7DC, post-service and post-repair calls,
"call next day to book", a phone call instead of a message that could not go out, greetings
to send personally): planned once, shown on the staff member's work-bench with a due time,
done with an outcome.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from crm import clock
from crm.errors import NotFound, ValidationError
from crm.models import CareTask, CareTaskKind, Customer, Role, Staff
from crm.services.insert_once import insert_once

CALL_HOUR = time(10, 0)  # calls planned for a day are due by 10:00 Beijing time
OUTCOME_MAX = 200
SHOWN = 50


def due_at(day, at: time = CALL_HOUR) -> datetime:
    """``day`` at ``at`` Beijing time, as an aware instant."""
    return datetime.combine(day, at, tzinfo=clock.BUSINESS_TZ)


def queue(
    session: Session,
    *,
    kind: CareTaskKind,
    customer: Customer,
    staff_id: int | None,
    occasion: str,
    due: datetime,
    text: str,
    now: datetime,
    vehicle_id: int | None = None,
    outbox_message_id: int | None = None,
) -> int | None:
    """Queue one task unless ``(kind, customer, occasion)`` is queued already; the new id.

    Nobody is asked to call a customer whose data was erased (issue 12 "PIPL"): None."""
    if customer.erased_at is not None:
        return None
    return insert_once(
        session,
        CareTask,
        {
            "store_id": customer.store_id,
            "staff_id": staff_id,
            "customer_id": customer.id,
            "vehicle_id": vehicle_id,
            "kind": kind.value,
            "dedupe_key": f"{kind.value}:{customer.id}:{occasion}",
            "due_at": due,
            "text": text,
            "outbox_message_id": outbox_message_id,
            "outcome": "",
            "created_at": now,
        },
    )


def care_specialist_id(session: Session, store_id: int) -> int | None:
    """The store's first active care specialist (客服专员), who calls when WeChat cannot reach."""
    return session.scalar(
        select(Staff.id)
        .where(
            Staff.store_id == store_id,
            Staff.role == Role.CARE_SPECIALIST,
            Staff.active.is_(True),
        )
        .order_by(Staff.id)
        .limit(1)
    )


def open_tasks(session: Session, actor: Staff, now: datetime) -> list[CareTask]:
    """The actor's open tasks due by the end of today, oldest first; a care specialist also
    sees their store's tasks that nobody was assigned."""
    end_of_day = due_at(clock.today(now) + timedelta(days=1), time.min)
    mine = CareTask.staff_id == actor.id
    if actor.role == Role.CARE_SPECIALIST:
        mine = or_(mine, (CareTask.staff_id.is_(None)) & (CareTask.store_id == actor.store_id))
    return list(
        session.scalars(
            select(CareTask)
            .options(selectinload(CareTask.customer))
            .where(mine, CareTask.done_at.is_(None), CareTask.due_at < end_of_day)
            .order_by(CareTask.due_at, CareTask.id)
            .limit(SHOWN)
        )
    )


def record_outcome(
    session: Session, actor: Staff, task_id: int, outcome: str, now: datetime
) -> CareTask:
    """Close one of the actor's tasks with what came of it (required, at most 200 chars)."""
    task = session.get(CareTask, task_id)
    visible = task is not None and (
        task.staff_id == actor.id
        or (
            task.staff_id is None
            and actor.role == Role.CARE_SPECIALIST
            and task.store_id == actor.store_id
        )
    )
    if not visible:
        raise NotFound("没有这条任务")
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError("请填写处理结果", field="outcome")
    if len(outcome) > OUTCOME_MAX:
        raise ValidationError(f"处理结果最多{OUTCOME_MAX}个字", field="outcome")
    if task.done_at is not None:
        raise ValidationError("这条任务已经完成", field="outcome")
    task.outcome = outcome
    task.done_at = now
    task.done_by_id = actor.id
    session.commit()
    return task
