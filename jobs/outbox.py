"""The planner and dispatcher as jobs: the scheduler's entries and the ``jobs plan`` /
``jobs dispatch`` commands call these, inside an app context."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app
from sqlalchemy.orm import Session

from crm import clock
from crm.services import dispatcher
from crm.services.care import planner
from wechat.client import official_account_client


def plan(session: Session, now: datetime, day: date | None = None) -> dict[str, int]:
    return planner.plan_day(session, day or clock.today(now), now)


def dispatch(session: Session, now: datetime) -> dict[str, int]:
    settings = current_app.extensions["crm_settings"]
    client = official_account_client(settings)
    return dict(
        dispatcher.dispatch(
            session,
            client,
            settings.public_base_url,
            now,
            concurrency=settings.dispatch_concurrency,
        )
    )
