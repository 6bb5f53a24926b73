"""Weather warnings (PRODUCT "The care calendar": weather — thunderstorm, typhoon, cold snap,
heat wave in the customer's city; message + "call us"; issue 8).

Not planned by the day but polled (every 15 minutes, ``jobs/schedule.py``): for every city
customers live in, QWeather's warnings in force (``crm.services.qweather``); each new one of
the four kinds becomes one message to every customer of that city, with the advice for the
hazard and their store's rescue phone. A warning is remembered by QWeather's id
(``WeatherWarning``), so polling again sends nothing; a warning that only updates one already
sent (a colour change of the same typhoon) is remembered without messaging again, and a
cancelled one is ignored. Messages go through the no-harassment policy as critical: they go
on their day whatever else is queued, outside the quiet hours (a warning at night goes out at
08:00), and a greeting of that day rides along with them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock
from crm.models import Customer, Store, WeatherWarning
from crm.services.care import policy
from crm.services.care.kinds import NO_STORE_PHONE, CareItem, CareKind, Rank
from crm.services.insert_once import insert_once

if TYPE_CHECKING:
    from crm.services.qweather import Alert

log = logging.getLogger(__name__)

KIND = CareKind(
    name="weather",
    label="天气预警关怀",
    priority=Rank.CRITICAL,
    # Thousands of customers share a warning: no phone call each for those WeChat misses.
    call_if_unreachable=False,
    fields={
        "keyword1": "预警信息",
        "keyword2": "预警时间",
        "keyword3": "温馨提示",
        "keyword4": "救援电话",
    },
    sample={
        "keyword1": "台风蓝色预警[Ⅳ级/一般]",
        "keyword2": "6月15日10:30至16日10:30",
        "keyword3": "请将车停在高处，远离大树和广告牌",
        "keyword4": "0571-88889999",
    },
)

THUNDERSTORM, TYPHOON, COLD, HEAT = "thunderstorm", "typhoon", "cold", "heat"

# QWeather's event codes (dev.qweather.com "预警事件列表") for the four hazards.
EVENT_CODES = {
    "1014": THUNDERSTORM,  # 雷电
    "1020": THUNDERSTORM,  # 雷雨大风
    "1043": THUNDERSTORM,  # 雷暴
    "1058": THUNDERSTORM,  # 雷暴大风
    "1085": THUNDERSTORM,  # 雷雨强风
    "1001": TYPHOON,  # 台风
    "1049": TYPHOON,  # 台风暴雨
    "1005": COLD,  # 寒潮
    "1039": COLD,  # 强降温
    "1009": HEAT,  # 高温
    "1010": HEAT,  # 热浪
    "1024": HEAT,  # 高温中暑
}
# QWeather warns that codes may be added or changed: an unknown code is read by its name.
NAME_WORDS = (("台风", TYPHOON), ("寒潮", COLD), ("高温", HEAT), ("雷", THUNDERSTORM))
AT_SEA = ("海上", "海区")  # sea warnings concern ships, not drivers

ADVICE = {
    THUNDERSTORM: "雷雨天请减速慢行，勿在大树下停车",
    TYPHOON: "请将车停在高处，远离大树和广告牌",
    COLD: "请检查防冻液和胎压，注意路面结冰",
    HEAT: "勿将儿童和打火机留在车内",
}


class WarningSource(Protocol):
    """What the poll needs of QWeather (``crm.services.qweather.QWeather``)."""

    def city_id(self, city: str) -> str | None: ...

    def warnings(self, location_id: str) -> list[Alert]: ...


def hazard(alert: Alert) -> str | None:
    """Which of the four hazards a warning is about, or None (fog, rainstorm, at sea …)."""
    if alert.type in EVENT_CODES:
        return EVENT_CODES[alert.type]
    if alert.type_name.startswith(AT_SEA):
        return None
    return next((kind for word, kind in NAME_WORDS if word in alert.type_name), None)


def headline(alert: Alert) -> str:
    """The title without the sender ("杭州市气象台发布台风蓝色预警…" → "台风蓝色预警…")."""
    title = alert.title or f"{alert.type_name}预警"
    if alert.sender:
        title = title.removeprefix(alert.sender).removeprefix("发布")
    return title


def period(alert: Alert) -> str:
    """When the warning is in force, on a Beijing clock ("6月15日10:30至16日10:30")."""
    start = alert.start_time or alert.pub_time
    if start is None:
        return ""
    begin = clock.local(start)
    text = f"{begin.month}月{begin.day}日{begin:%H:%M}"
    if alert.end_time is None:
        return text + "起"
    end = clock.local(alert.end_time)
    return f"{text}至{end.day}日{end:%H:%M}"


@dataclass(frozen=True)
class _Found:
    alert: Alert
    hazard: str
    cities: tuple[str, ...]


def poll(session: Session, source: WarningSource, now: datetime) -> dict[str, int]:
    """Queue one message per customer for each new warning in their city; how many warnings
    were new and how many messages were queued.

    QWeather is asked everything first and the database written after, so a refused key or an
    outage changes nothing. Commits.
    """
    found = _fetch(session, source, now)
    if not found:
        return {"warnings": 0, "queued": 0}
    asked = {f.alert.id for f in found} | {f.alert.related for f in found if f.alert.related}
    seen = set(session.scalars(select(WeatherWarning.id).where(WeatherWarning.id.in_(asked))))
    items: list[CareItem] = []
    new = 0
    for entry in found:
        alert = entry.alert
        if alert.id in seen:
            continue
        if not _remember(session, entry, now):
            continue  # a concurrent poll took it
        seen.add(alert.id)
        new += 1
        if alert.status == "update" and alert.related in seen:
            continue  # the same event, already sent to these customers
        items.extend(_items(session, entry, now))
    queued = policy.apply(session, clock.today(now), items, now)
    session.commit()
    return {"warnings": new, "queued": queued.get(KIND.name, 0)}


def _fetch(session: Session, source: WarningSource, now: datetime) -> list[_Found]:
    """Every warning of the four kinds in force in a city customers live in (no writes)."""
    cities = session.scalars(
        select(Customer.city).where(Customer.city != "").distinct().order_by(Customer.city)
    ).all()
    by_location: dict[str, list[str]] = defaultdict(list)
    for city in cities:
        location = source.city_id(city)
        if location is None:
            log.warning("QWeather does not know the city %r; no weather warnings for it", city)
            continue
        by_location[location].append(city)  # "杭州" and "杭州市" share one place
    found: dict[str, _Found] = {}
    for location, names in by_location.items():
        for alert in source.warnings(location):
            kind = hazard(alert)
            if kind is None or alert.status == "cancel" or alert.id in found:
                continue
            if alert.end_time is not None and alert.end_time <= now:
                continue
            found[alert.id] = _Found(alert, kind, tuple(names))
    # Oldest first, so an update comes after the warning it replaces.
    return sorted(found.values(), key=lambda f: (f.alert.pub_time or now, f.alert.id))


def _remember(session: Session, entry: _Found, now: datetime) -> bool:
    alert = entry.alert
    return (
        insert_once(
            session,
            WeatherWarning,
            {
                "id": alert.id,
                "city": "/".join(entry.cities)[:50],
                "kind": entry.hazard,
                "title": alert.title[:200],
                "text": alert.text,
                "severity": (alert.severity_color or alert.severity)[:20],
                "starts_at": alert.start_time or alert.pub_time,
                "seen_at": now,
            },
            key="id",
        )
        is not None
    )


def _items(session: Session, entry: _Found, now: datetime) -> list[CareItem]:
    """One message for every customer of the warning's cities (one query)."""
    alert = entry.alert
    rows = session.execute(
        select(Customer.id, Customer.store_id, Store.rescue_phone, Store.phone)
        .join(Store, Store.id == Customer.store_id)
        .where(Customer.city.in_(entry.cities))
        .order_by(Customer.id)
    )
    common = {
        "keyword1": headline(alert),
        "keyword2": period(alert),
        "keyword3": ADVICE[entry.hazard],
    }
    return [
        CareItem(
            kind=KIND,
            customer_id=customer_id,
            store_id=store_id,
            occasion=alert.id,
            due_on=clock.today(now),
            send_at=now,
            values={**common, "keyword4": rescue_phone or phone or NO_STORE_PHONE},
        )
        for customer_id, store_id, rescue_phone, phone in rows
    ]
