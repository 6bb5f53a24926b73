"""The periodic jobs, one declarative list (ARCHITECTURE "Models to follow": Redash
``tasks/schedule.py``). Each entry calls one service function with (session, now)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crm.services import complaints, handover, idempotency, pool, segments, surveys
from jobs import outbox, weather


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    run: Callable  # (session, now) -> result
    trigger: str  # APScheduler trigger name
    trigger_args: dict


SCHEDULE: tuple[PeriodicJob, ...] = (
    # Leads untouched for 30 days return to the pool; hourly keeps the pool honest.
    PeriodicJob("return_stale_leads", pool.return_stale_leads, "cron", {"minute": 5}),
    # Six months without interaction makes a lead dormant; archived leads wake quarterly.
    # Daily, early morning Beijing time, before anyone opens the work-bench.
    PeriodicJob("mark_dormant_leads", pool.mark_dormant_leads, "cron", {"hour": 2, "minute": 15}),
    PeriodicJob("wake_dormant_leads", pool.wake_dormant_leads, "cron", {"hour": 2, "minute": 20}),
    # Customer segments (car age, use, value class, RFM, lost), recomputed for every group.
    PeriodicJob("compute_segments", segments.compute_segments, "cron", {"hour": 3, "minute": 0}),
    # A delivered customer without an after-sales advisor one working day on alarms the
    # store admin; every 10 minutes so the alarm is never much later than the deadline.
    PeriodicJob(
        "raise_handover_alarms", handover.raise_handover_alarms, "cron", {"minute": "*/10"}
    ),
    # The care planner queues the day's messages (idempotent: dedupe keys); the dispatcher
    # sends what is due every minute.
    PeriodicJob("plan_care", outbox.plan, "cron", {"hour": 6, "minute": 0}),
    PeriodicJob("dispatch_outbox", outbox.dispatch, "cron", {"minute": "*"}),
    # Weather warnings (thunderstorm, typhoon, cold snap, heat wave) in customers' cities:
    # QWeather is polled every 15 minutes so a warning reaches customers while it matters.
    PeriodicJob("poll_weather", weather.poll, "cron", {"minute": "*/15"}),
    # A complaint's first contact (10 business minutes) or callback (24 business hours) past
    # its deadline is escalated to the store admin within a minute, once (issue 9).
    PeriodicJob("escalate_complaints", complaints.escalate_overdue, "cron", {"minute": "*"}),
    # The CS survey soon after each settled service order; the quarter's NPS surveys each
    # morning of its first four weeks, before they go out at 10:00 (issue 9 "Surveys").
    PeriodicJob("queue_cs_surveys", surveys.queue_cs_surveys, "cron", {"minute": "*/15"}),
    PeriodicJob("queue_nps_surveys", surveys.queue_nps_surveys, "cron", {"hour": 9, "minute": 30}),
    # The API's remembered replies may name a customer: kept a day, then forgotten (issue 11).
    PeriodicJob("purge_idempotency_keys", idempotency.purge, "cron", {"hour": 4, "minute": 10}),
)
