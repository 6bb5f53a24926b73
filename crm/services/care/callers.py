"""Who makes a care call (issue 8: staff tasks from the care calendar): the first of the
candidates, in the caller's order of preference, who still works here. With nobody left the
task is queued for no one, and the store's care specialist finds it on their work-bench
(``tasks.open_tasks``) rather than it waiting on the bench of someone who has left."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Staff
from crm.services.care.policy import CHUNK


def choose(session: Session, candidates: Sequence[Sequence[int | None]]) -> list[int | None]:
    """For each row of candidates, the first active staff member (or None); one query per
    500 distinct staff, however many rows."""
    wanted = sorted({staff_id for row in candidates for staff_id in row if staff_id})
    active: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        active.update(
            session.scalars(
                select(Staff.id).where(
                    Staff.id.in_(wanted[start : start + CHUNK]), Staff.active.is_(True)
                )
            )
        )
    return [next((staff_id for staff_id in row if staff_id in active), None) for row in candidates]
