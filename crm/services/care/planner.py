"""The daily planner (issue 8 "Planner → outbox → dispatcher"): works out what is due on a day
for every customer and queues it in the outbox through the no-harassment policy. Each care
kind plans itself; running the planner twice, or two planners at once, queues each item once
(the outbox's dedupe key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime

from sqlalchemy.orm import Session

from crm.services import booking_messages, complaints, surveys
from crm.services.care import (
    after_service,
    anniversary,
    birthdays,
    delivery_calls,
    holidays,
    inspection,
    insurance,
    maintenance,
    new_car,
    part_checks,
    policy,
    seasonal,
    weather,
)
from crm.services.care.kinds import CareItem, CareKind

Planner = Callable[[Session, date, datetime], Iterable[CareItem]]

# Every kind of PRODUCT "The care calendar" that the planner queues, with its planner.
KINDS: dict[str, tuple[CareKind, Planner]] = {
    kind.name: (kind, plan)
    for kind, plan in (
        (new_car.KIND, new_car.plan),
        (birthdays.SOLAR, birthdays.plan_solar),
        (birthdays.LUNAR, birthdays.plan_lunar),
        (holidays.KIND, holidays.plan),
        (anniversary.KIND, anniversary.plan),
        (anniversary.TRADE_IN, anniversary.plan_trade_in),
        (seasonal.KIND, seasonal.plan),
        (maintenance.KIND, maintenance.plan),
        (part_checks.KIND, part_checks.plan),
        (insurance.COMPULSORY, insurance.plan_compulsory),
        (insurance.COMMERCIAL, insurance.plan_commercial),
        (inspection.KIND, inspection.plan),
        (after_service.KIND, after_service.plan),
    )
}

TaskPlanner = Callable[[Session, date, datetime], int]

# Staff tasks of the calendar (3DC, 7DC, post-service and post-repair calls), each planner
# queueing its tasks through crm.services.care.tasks.queue and returning how many are new.
TASK_PLANNERS: dict[str, TaskPlanner] = {
    "delivery_3dc": delivery_calls.plan_three_day_calls,
    "delivery_7dc": delivery_calls.plan_seven_day_visits,
    "post_service_call": after_service.plan_post_service_calls,
    "repair_callback": after_service.plan_repair_callbacks,
}

# Kinds queued by something other than the daily planner (weather warnings when polled).
EVENT_KINDS: dict[str, CareKind] = {
    weather.KIND.name: weather.KIND,
    after_service.REPAIR_THANKS.name: after_service.REPAIR_THANKS,
    surveys.SURVEY_CS.name: surveys.SURVEY_CS,
    surveys.SURVEY_NPS.name: surveys.SURVEY_NPS,
    booking_messages.KIND.name: booking_messages.KIND,
    **{kind.name: kind for kind in complaints.KINDS},
}


def kind(name: str) -> CareKind | None:
    """The kind called ``name``, planned or event-driven."""
    if name in KINDS:
        return KINDS[name][0]
    return EVENT_KINDS.get(name)


def all_kinds() -> list[CareKind]:
    return [entry[0] for entry in KINDS.values()] + list(EVENT_KINDS.values())


def items_for(session: Session, day: date, now: datetime) -> list[CareItem]:
    """Everything due on ``day`` before the policy (the console's calendar of tomorrow)."""
    items: list[CareItem] = []
    for _kind, plan in KINDS.values():
        items.extend(plan(session, day, now))
    return items


def plan_day(session: Session, day: date, now: datetime) -> dict[str, int]:
    """Queue everything due on ``day``; how many new rows (messages and tasks) each kind
    queued."""
    queued = policy.apply(session, day, items_for(session, day, now), now)
    counts = {name: queued.get(name, 0) for name in KINDS}
    for name, plan_tasks in TASK_PLANNERS.items():
        counts[name] = plan_tasks(session, day, now)
    session.commit()
    return counts
