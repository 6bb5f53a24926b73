"""Statutory working days in mainland China: weekends and public holidays off, make-up
working days (调休) on. Used for "hand the customer to an advisor within 1 working day"
(PRODUCT "Deal and handover").

The calendar comes from ``chinese-calendar``, which knows each year once the State Council
has published it. For a year it does not know yet we fall back to Monday–Friday and say so in
the log, rather than stopping deliveries.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

import chinese_calendar

from crm import clock

log = logging.getLogger(__name__)


def is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        log.warning("no statutory calendar for %s yet; counting Monday-Friday", day.year)
        return day.weekday() < 5


def next_working_day(day: date) -> date:
    """The first working day strictly after ``day``."""
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def one_working_day_after(moment: datetime) -> datetime:
    """The deadline for something due "within 1 working day" of ``moment`` (UTC).

    Started on a working day: the same wall-clock time on the next working day. Started on a
    day off (a delivery on a Sunday or during Golden Week): the end of the first working day
    after it, since no working time has passed yet.
    """
    local = clock.local(moment)
    if is_working_day(local.date()):
        due = datetime.combine(next_working_day(local.date()), local.timetz())
    else:
        end_of = next_working_day(local.date()) + timedelta(days=1)
        due = datetime.combine(end_of, time(0, 0), tzinfo=clock.BUSINESS_TZ)
    return due.astimezone(moment.tzinfo)
