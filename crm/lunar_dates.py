"""Lunar-calendar dates for birthdays (PRODUCT "The care calendar": the lunar and the solar
birthday), through ``lunar-python``.

A lunar birthday is kept as month*100+day of the lunar date of birth; a birth in a leap month
counts as that month (the regular one comes every year, the leap one rarely).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from lunar_python import Lunar, LunarYear, Solar


def _lunar(day: date) -> Lunar:
    return Solar.fromYmd(day.year, day.month, day.day).getLunar()


def lunar_mmdd(day: date) -> int:
    """The lunar month*100+day of a solar date (leap months as their regular month)."""
    lunar = _lunar(day)
    return abs(lunar.getMonth()) * 100 + lunar.getDay()


@lru_cache(maxsize=1024)
def lunar_birthdays_on(day: date) -> tuple[int, ...]:
    """The lunar birthdays (month*100+day) celebrated on the solar ``day``.

    Nothing in a leap month (its regular month already had the birthdays); on the 29th of a
    29-day month, the 30th's birthdays too (that month has no 30th this year).
    """
    lunar = _lunar(day)
    month = lunar.getMonth()
    if month < 0:
        return ()
    key = month * 100 + lunar.getDay()
    if lunar.getDay() == 29:
        length = LunarYear.fromYear(lunar.getYear()).getMonth(month).getDayCount()
        if length == 29:
            return (key, month * 100 + 30)
    return (key,)


def solar_birthdays_on(day: date) -> list[int]:
    """The solar birthdays (month*100+day) celebrated on ``day``: 29 February's on 28 February
    in a common year."""
    keys = [day.month * 100 + day.day]
    if (day.month, day.day) == (2, 28) and not _is_leap_year(day.year):
        keys.append(229)
    return keys


def _is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def lunar_date(year: int, month: int, day: int) -> date:
    """The solar date of lunar ``year``-``month``-``day`` (festivals: Spring Festival 1-1,
    Dragon Boat 5-5, Mid-Autumn 8-15)."""
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())
