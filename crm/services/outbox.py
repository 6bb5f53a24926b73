"""Queueing messages (ARCHITECTURE rule 2: the outbox). A reminder is a row with a dedupe key;
queueing the same key again — a second planner run, two planners at once — does nothing.

WeChat (since May 2023) shows at most 20 characters of each template value, so values are cut
here, where the console's preview and the sent message come from one payload.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import clock
from crm.models import OutboxMessage, OutboxState

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
) -> bool:
    """Queue one message unless its dedupe key is already queued; True when queued now.

    One INSERT … ON CONFLICT DO NOTHING, so concurrent planners never raise or double up.
    """
    values = {
        "store_id": store_id,
        "customer_id": customer_id,
        "kind": kind,
        "due_on": due_on,
        "dedupe_key": dedupe_key,
        "payload": {"data": {key: shown(value) for key, value in fields.items()}, "url": url},
        "not_before": not_before,
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "error": "",
        "msgid": "",
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(OutboxMessage).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    elif dialect == "sqlite":
        statement = sqlite.insert(OutboxMessage).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
    else:
        raise RuntimeError(f"the outbox needs PostgreSQL or SQLite, not {dialect}")
    # RETURNING tells a row written from a conflict skipped, on every driver (rowcount does not).
    written = session.execute(statement.values(**values).returning(OutboxMessage.id)).first()
    return written is not None
