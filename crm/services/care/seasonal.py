"""Seasonal campaigns (PRODUCT "The care calendar": winter, summer, May Day / National Day
trips, Spring Festival safety — bundled with other care **to avoid several contacts in a short
time**).

Each campaign has a computed day: winter care on the first Monday of December, summer care
on the first Monday of July, the trip checks on 25 April and 25 September (a few days before
the holiday week), Spring Festival safety ten days before the Spring Festival. It goes to
every customer with a vehicle — it is an invitation to the workshop. The policy lets it ride
along with any other message of the customer's week and sends it alone only when there is
none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from crm import clock
from crm.models import Customer, Store, Vehicle
from crm.services.care.holidays import first_monday, spring_festival
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank

SEND_AT = time(10, 0)
SPRING_FESTIVAL_LEAD = timedelta(days=10)

KIND = CareKind(
    name="seasonal",
    label="季节关怀",
    priority=Rank.CAMPAIGN,
    fields={
        "keyword1": "客户姓名",
        "keyword2": "活动",
        "keyword3": "内容",
        "keyword4": "门店",
        "keyword5": "预约电话",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "冬季关爱检测",
        "keyword3": "免费检测电瓶、暖风、防冻液",
        "keyword4": "杭州A店",
        "keyword5": "0571-88880000",
    },
    marketing=True,
    bundle_only=True,
)


@dataclass(frozen=True)
class Campaign:
    key: str  # the occasion's suffix: "2027-winter"
    name: str
    content: str
    on: Callable[[int], date]


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        "spring_festival_safety",
        "春节安全检测",
        "返乡前免费检测，平安回家过年",
        lambda y: spring_festival(y) - SPRING_FESTIVAL_LEAD,
    ),
    Campaign(
        "may_day_trip", "五一出行检测", "假期出行前免费检测轮胎刹车", lambda y: date(y, 4, 25)
    ),
    Campaign("summer", "夏季关爱检测", "免费检测空调、冷却液、轮胎", lambda y: first_monday(y, 7)),
    Campaign(
        "national_day_trip", "国庆出行检测", "假期出行前免费检测轮胎刹车", lambda y: date(y, 9, 25)
    ),
    Campaign("winter", "冬季关爱检测", "免费检测电瓶、暖风、防冻液", lambda y: first_monday(y, 12)),
)


@cache
def campaign_dates(year: int) -> dict[str, date]:
    """Each campaign's day in ``year`` (the Spring Festival one is in January or February:
    the festival is never before 21 January); worked out once a year."""
    return {campaign.key: campaign.on(year) for campaign in CAMPAIGNS}


def plan(session: Session, day: date, now: datetime) -> list[CareItem]:
    """The campaign of ``day``, if any, for every customer with a vehicle; one query."""
    dates = campaign_dates(day.year)
    campaigns = [campaign for campaign in CAMPAIGNS if dates[campaign.key] == day]
    if not campaigns:
        return []
    has_vehicle = exists().where(Vehicle.customer_id == Customer.id)
    rows = session.execute(
        select(Customer.id, Customer.store_id, Customer.name, Store.name, Store.phone)
        .join(Store, Store.id == Customer.store_id)
        .where(has_vehicle)
        .order_by(Customer.id)
    ).all()
    send_at = datetime.combine(day, SEND_AT, tzinfo=clock.BUSINESS_TZ)
    return [
        CareItem(
            kind=KIND,
            customer_id=customer_id,
            store_id=store_id,
            occasion=f"{day.year}-{campaign.key}",
            due_on=day,
            send_at=send_at,
            values={
                "keyword1": name,
                "keyword2": campaign.name,
                "keyword3": campaign.content,
                "keyword4": store_name,
                "keyword5": store_phone or NO_STORE_PHONE,
            },
        )
        for campaign in campaigns
        for customer_id, store_id, name, store_name, store_phone in rows
    ]
