"""The complaint SLA clock: time that counts only in a store's opening hours (PRODUCT
"Complaints and surveys"; issue 9: "first contact within 10 minutes (the SLA clock runs in
business hours configured per store) … callback within 24 hours of resolution").

A store is open from ``Store.opens_hour`` to ``Store.closes_hour`` on the Beijing wall clock,
every day of the week (4S stores open daily). The clock runs while the store is open and
stands still while it is closed: a complaint filed at 20:00 with 10 minutes to go is due at
opening time plus 10 minutes the next morning; one filed 5 minutes before closing has 5
minutes left the next morning. Beijing has no daylight saving, so wall-clock arithmetic is
exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from crm import clock

CONTACT_WITHIN = timedelta(minutes=10)
CALLBACK_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours, whole hours of the Beijing wall clock (``closes_hour`` may be 24)."""

    opens_hour: int
    closes_hour: int

    def __post_init__(self):
        if not 0 <= self.opens_hour < self.closes_hour <= 24:
            raise ValueError(f"opening hours {self.opens_hour}–{self.closes_hour} make no day")

    @classmethod
    def of(cls, store) -> BusinessHours:
        return cls(store.opens_hour, store.closes_hour)

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The open period of a Beijing day, as aware UTC instants."""
        midnight = datetime.combine(day, time.min, tzinfo=clock.BUSINESS_TZ)
        return (
            (midnight + timedelta(hours=self.opens_hour)).astimezone(UTC),
            (midnight + timedelta(hours=self.closes_hour)).astimezone(UTC),
        )

    def is_open(self, moment: datetime) -> bool:
        opens, closes = self.window(clock.local(moment).date())
        return opens <= moment < closes


def deadline(hours: BusinessHours, start: datetime, span: timedelta) -> datetime:
    """The instant when ``span`` of business time has passed since ``start``.

    Time outside opening hours does not count; a deadline that falls exactly at closing time
    stays there (it does not jump to the next morning).
    """
    if span < timedelta(0):
        raise ValueError("a deadline cannot lie before its start")
    remaining = span
    moment = start.astimezone(UTC)
    day = clock.local(moment).date()
    while True:
        opens, closes = hours.window(day)
        moment = max(moment, opens)
        if moment < closes:
            if remaining <= closes - moment:
                return moment + remaining
            remaining -= closes - moment
        day += timedelta(days=1)


def business_time(hours: BusinessHours, start: datetime, end: datetime) -> timedelta:
    """The business time between two instants (zero when ``end`` is not after ``start``)."""
    if end <= start:
        return timedelta(0)
    total = timedelta(0)
    day, last = clock.local(start).date(), clock.local(end).date()
    while day <= last:
        opens, closes = hours.window(day)
        overlap = min(end, closes) - max(start, opens)
        if overlap > timedelta(0):
            total += overlap
        day += timedelta(days=1)
    return total


def business_minutes(hours: BusinessHours, start: datetime, end: datetime) -> int:
    """Whole business minutes between two instants, rounded down."""
    return int(business_time(hours, start, end).total_seconds() // 60)


@dataclass(frozen=True)
class Countdown:
    """Where one SLA stands at a moment, as the H5 list shows it."""

    due_at: datetime
    minutes_left: int  # business minutes until due; 0 once due
    minutes_over: int  # business minutes past due; 0 while not due
    paused: bool  # the store is closed: the clock stands still
    breached: bool  # the deadline has passed


def countdown(hours: BusinessHours, due_at: datetime, now: datetime) -> Countdown:
    """How much business time is left before ``due_at`` (or how far past it ``now`` is)."""
    return Countdown(
        due_at=due_at,
        minutes_left=_ceil_minutes(business_time(hours, now, due_at)),
        minutes_over=business_minutes(hours, due_at, now),
        paused=not hours.is_open(now),
        breached=now > due_at,
    )


def _ceil_minutes(span: timedelta) -> int:
    seconds = span.total_seconds()
    return int(-(-seconds // 60))
