"""Queueing messages (ARCHITECTURE rule 2: the outbox). A reminder is a row with a dedupe key;
queueing the same key again — a second planner run, two planners at once — does nothing.

WeChat (since May 2023) shows at most 20 characters of each template value, so values are cut
here, where the console's preview and the sent message come from one payload.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from crm import clock
from crm.models import OutboxMessage, OutboxState
from crm.services.insert_once import insert_once

VALUE_MAX = 20
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)  # Asia/Shanghai (issue 8 "No harassment")


def outside_quiet_hours(moment: datetime) -> datetime:
    """``moment``, or 08:00 the next morning when it falls in the quiet hours (21:00–08:00)."""
    local = clock.local(moment)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return moment
    day = local.date() + timedelta(days=1 if local.time() >= QUIET_FROM else 0)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=clock.BUSINESS_TZ).astimezone(moment.tzinfo)


def shown(value: str) -> str:
    """A template value as WeChat displays it: at most 20 characters."""
    text = str(value or "")
    return text if len(text) <= VALUE_MAX else text[: VALUE_MAX - 1] + "…"


def payload(fields: dict[str, str], url: str) -> dict:
    """A row's payload: the values as WeChat will show them, and the page it opens."""
    return {"data": {key: shown(value) for key, value in fields.items()}, "url": url}


def enqueue(
    session: Session,
    *,
    store_id: int,
    customer_id: int | None,
    kind: str,
    due_on: date,
    dedupe_key: str,
    fields: dict[str, str],
    url: str,
    not_before: datetime,
    now: datetime,
    vehicle_id: int | None = None,
    priority: int = 0,
    bundled_into_id: int | None = None,
    staff_id: int | None = None,
) -> int | None:
    """Queue one message unless its dedupe key is already queued; the new row's id, or None.

    One INSERT … ON CONFLICT DO NOTHING, so concurrent planners never raise or double up. A
    row bundled into another message is never sent on its own (``bundled``). With
    ``staff_id`` the message goes to that staff member's WeChat instead of the customer's.
    """
    state = OutboxState.BUNDLED if bundled_into_id else OutboxState.PENDING
    return insert_once(
        session,
        OutboxMessage,
        {
            "store_id": store_id,
            "customer_id": customer_id,
            "staff_id": staff_id,
            "vehicle_id": vehicle_id,
            "kind": kind,
            "due_on": due_on,
            "dedupe_key": dedupe_key,
            "payload": payload(fields, url),
            "not_before": not_before,
            "priority": priority,
            "bundled_into_id": bundled_into_id,
            "channel": "",
            "state": state.value,
            "attempts": 0,
            "error": "",
            "msgid": "",
            "created_at": now,
        },
    )
