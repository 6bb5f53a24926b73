"""Report months: Beijing calendar months as half-open UTC intervals (PRODUCT "Reports and
KPIs"; ARCHITECTURE rule 3).

A lead created on 31 October at 23:30 Beijing time is 15:30 UTC that day and counts in
October; one created on 1 November at 00:30 Beijing time (16:30 UTC on 31 October) counts in
November.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from crm import clock
from crm.errors import ValidationError

TREND_MONTHS = 12


@dataclass(frozen=True)
class Month:
    """One Beijing calendar month: ``first`` day, and ``starts``..``ends`` in UTC (half-open)."""

    first: date

    @property
    def starts(self) -> datetime:
        return day_start(self.first)

    @property
    def ends(self) -> datetime:
        return day_start(self.next().first)

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.next().first.toordinal() - 1)

    @property
    def key(self) -> str:
        return self.first.strftime("%Y-%m")

    @property
    def label(self) -> str:
        return f"{self.first.year}年{self.first.month}月"

    def next(self) -> Month:
        year, month = divmod(self.first.year * 12 + self.first.month, 12)
        return Month(date(year, month + 1, 1))

    def previous(self) -> Month:
        year, month = divmod(self.first.year * 12 + self.first.month - 2, 12)
        return Month(date(year, month + 1, 1))

    def quarter(self) -> str:
        """The survey period ("2026Q4") the month falls in."""
        return f"{self.first.year}Q{(self.first.month - 1) // 3 + 1}"


def day_start(day: date) -> datetime:
    """Midnight starting a Beijing day, in UTC."""
    return datetime.combine(day, time.min, tzinfo=clock.BUSINESS_TZ).astimezone(UTC)


def month_of(month_start: date) -> Month:
    """The month beginning on ``month_start`` (which must be a first day)."""
    if month_start.day != 1:
        raise ValidationError("月份应从1日开始", "month")
    return Month(month_start)


def current(now: datetime) -> Month:
    return Month(clock.today(now).replace(day=1))


def parse(raw: str, now: datetime) -> Month:
    """A month typed as "2026-10"; empty is the current month. A month after the current one
    has no figures yet and is refused."""
    text = (raw or "").strip()
    if not text:
        return current(now)
    try:
        month = Month(datetime.strptime(text, "%Y-%m").date())
    except ValueError:
        raise ValidationError("月份格式应为如 2026-10", "month") from None
    if month.first > current(now).first:
        raise ValidationError("不能选择未来的月份", "month")
    return month


def trailing(month: Month, count: int = TREND_MONTHS) -> list[Month]:
    """``count`` months ending with ``month``, oldest first."""
    months = [month]
    while len(months) < count:
        months.append(months[-1].previous())
    return months[::-1]
