"""The weather-warning poll as a job (``jobs/schedule.py``), inside an app context."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from crm.services import qweather
from crm.services.care import weather


def poll(session: Session, now: datetime) -> dict[str, int] | str:
    """Poll QWeather and queue the new warnings; says so, and does nothing, without a key."""
    api = qweather.client(current_app.extensions["crm_settings"])
    if api is None:
        return qweather.NOT_CONFIGURED
    return weather.poll(session, api, now)
