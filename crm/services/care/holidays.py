"""Holiday greetings (PRODUCT "The care calendar": Spring Festival, Qingming, May Day, Mother's
Day, Father's Day, Dragon Boat, Mid-Autumn, National Day; Teacher's Day for teachers).

Every date is computed, never typed in per year: the lunar festivals from the lunar calendar
(Spring Festival 1-1, Dragon Boat 5-5, Mid-Autumn 8-15), Qingming from the solar-term table,
Mother's Day as the second Sunday of May and Father's Day as the third Sunday of June.

Who is greeted: every customer, on every festival but Teacher's Day, which goes to those
whose occupation says 教师 or 老师. We do not know who is a mother or a father, so the
Mother's and Father's Day wishes are worded for the customer's parents and family, which
fits everyone; greetings are marketing and by default a staff member sends them personally,
who can leave out a customer the wording does not suit.

The greeting goes out at 09:00 on the day; a birthday on the same day carries it.
"""

from __future__ import annotations

from calendar import MONDAY, SUNDAY
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from lunar_python import Lunar
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crm import clock
from crm.lunar_dates import lunar_date
from crm.models import Customer, Store
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

SEND_AT = time(9, 0)
TEACHER_WORDS = ("教师", "老师")

KIND = CareKind(
    name="holiday",
    label="节日祝福",
    # Just below a birthday, so a birthday on the same day carries the holiday greeting.
    priority=Rank.GREETING - 1,
    fields={
        "keyword1": "客户姓名",
        "keyword2": "节日",
        "keyword3": "祝福",
        "keyword4": "门店",
        "keyword5": "门店电话",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "中秋节",
        "keyword3": "中秋快乐，花好月圆人团圆！",
        "keyword4": "杭州A店",
        "keyword5": "0571-88880000",
    },
    marketing=True,
)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (calendar.MONDAY …) of a month: Mother's Day is
    ``nth_weekday(year, 5, SUNDAY, 2)``."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def first_monday(year: int, month: int) -> date:
    return nth_weekday(year, month, MONDAY, 1)


@cache
def spring_festival(year: int) -> date:
    """Lunar new year's day of the lunar year that starts in ``year``."""
    return lunar_date(year, 1, 1)


def qingming(year: int) -> date:
    """The day of the solar term 清明 (4 or 5 April), from lunar-python's solar-term table."""
    solar = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


@dataclass(frozen=True)
class Festival:
    key: str  # the occasion's suffix: "2027-spring_festival"
    name: str
    wish: str
    on: Callable[[int], date]
    teachers_only: bool = False


FESTIVALS: tuple[Festival, ...] = (
    Festival("spring_festival", "春节", "新春快乐，阖家幸福，万事如意！", spring_festival),
    Festival("qingming", "清明节", "清明时节出行祭扫，愿您一路平安。", qingming),
    Festival("may_day", "劳动节", "劳动节快乐，假期出行平安！", lambda y: date(y, 5, 1)),
    Festival(
        "mothers_day",
        "母亲节",
        "愿天下母亲健康平安，祝您家人幸福！",
        lambda y: nth_weekday(y, 5, SUNDAY, 2),
    ),
    Festival(
        "fathers_day",
        "父亲节",
        "愿天下父亲健康平安，祝您家人幸福！",
        lambda y: nth_weekday(y, 6, SUNDAY, 3),
    ),
    Festival(
        "dragon_boat", "端午节", "端午安康，祝您和家人健康平安！", lambda y: lunar_date(y, 5, 5)
    ),
    Festival(
        "teachers_day", "教师节", "教师节快乐，感谢您的辛勤付出！", lambda y: date(y, 9, 10), True
    ),
    Festival("mid_autumn", "中秋节", "中秋快乐，花好月圆人团圆！", lambda y: lunar_date(y, 8, 15)),
    Festival("national_day", "国庆节", "国庆快乐，假期出行一路平安！", lambda y: date(y, 10, 1)),
)


@cache
def festival_dates(year: int) -> dict[str, date]:
    """Each festival's date in ``year`` (every lunar festival we greet falls in the solar
    year its lunar year starts in). Worked out once a year: the lunar calendar is slow."""
    return {festival.key: festival.on(year) for festival in FESTIVALS}


def festivals_on(day: date) -> list[Festival]:
    """The festivals on ``day`` (Mid-Autumn and National Day can share one)."""
    dates = festival_dates(day.year)
    return [festival for festival in FESTIVALS if dates[festival.key] == day]


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """A greeting to every customer (Teacher's Day: to teachers) for each festival on
    ``day``; one query a festival, none on an ordinary day."""
    items: list[CareItem] = []
    send_at = datetime.combine(day, SEND_AT, tzinfo=clock.BUSINESS_TZ)
    for festival in festivals_on(day):
        query = (
            select(Customer.id, Customer.store_id, Customer.name, Store.name, Store.phone)
            .join(Store, Store.id == Customer.store_id)
            .order_by(Customer.id)
        )
        if festival.teachers_only:
            query = query.where(or_(*(Customer.occupation.contains(w) for w in TEACHER_WORDS)))
        items.extend(
            CareItem(
                kind=KIND,
                customer_id=customer_id,
                store_id=store_id,
                occasion=f"{day.year}-{festival.key}",
                due_on=day,
                send_at=send_at,
                values={
                    "keyword1": name,
                    "keyword2": festival.name,
                    "keyword3": festival.wish,
                    "keyword4": store_name,
                    "keyword5": store_phone or NO_STORE_PHONE,
                },
            )
            for customer_id, store_id, name, store_name, store_phone in session.execute(query)
        )
    return items
