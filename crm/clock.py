"""The one place that says what time it is.

Services take ``now``/``today`` as arguments; callers at the edge (views, jobs, CLI) ask this
module. Tests freeze it with ``time-machine``. Stored times are UTC; business calendars
(working days, quiet hours, "before 08:30") are Asia/Shanghai.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def local(instant: datetime) -> datetime:
    """An instant seen on a Beijing wall clock."""
    return instant.astimezone(BUSINESS_TZ)


def today(instant: datetime | None = None) -> date:
    """The business date (Asia/Shanghai) at ``instant`` (default: now)."""
    return local(instant or now()).date()
