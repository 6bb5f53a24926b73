"""The daily planner (issue 8 "Planner → outbox → dispatcher"): works out what is due on a day
for every customer and queues it in the outbox. Each care kind plans itself; running the
planner twice, or two planners at once, queues each item once (the outbox's dedupe key).

Care kinds planned so far: new-car care. The others of PRODUCT "The care calendar" join here
as they are built.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from crm.services.care import new_car

KINDS = {new_car.KIND: new_car.plan}


def plan_day(session: Session, day: date, now: datetime) -> dict[str, int]:
    """Queue everything due on ``day``; how many new rows each kind queued."""
    return {kind: plan(session, day, now) for kind, plan in KINDS.items()}
