"""Customer segments, computed daily (PRODUCT "Segments" [001 p11–16; 000 §2.2; 004 §10]).

Every customer gets one row in ``customer_segments``, recomputed by the daily job
(``compute_segments``); ``crm.services.segment_lists`` lists, counts and exports them. The
rules below are the exact definitions; each is also a plain function of this module.

Terms
-----
- **today**: the business date (Asia/Shanghai) of ``now``.
- **visit**: a day on which a service order of any of the customer's vehicles was opened
  (``ServiceOrder.opened_on``), in any store; two orders on one day are one visit. Orders
  dated after today are ignored.
- **the last 12 months**: the 365 days ending today (``today - 364`` … ``today``).
- **spend**: labour + parts, in fen, of *paid* orders (``paid_on`` set); an open bill is a
  visit but not yet spend. ``spend_12m`` counts the paid orders opened in the last 12 months.
- **paid work**: an order that is neither warranty work (保修) nor the free first maintenance
  (首保) and bills more than zero. "Free/warranty work" is every other order.
- **newest car**: the customer's vehicle with the latest purchase date (the delivery date when
  the purchase date is missing, else the day its archive was created); ties: the later archive.
- **last contact**: the later of the last visit and the newest car's delivery (``delivered_on``,
  else ``purchase_date``, else the day the archive was created).

Segments
--------
- **Car age 车龄** (the newest car):
  ``warranty`` 保修期内 — today is on or before ``warranty_until``; without it, today is
  before the purchase date + the car model's ``warranty_months`` (24 without a model);
  ``2_5y`` 2–5年 — out of warranty and today is before the purchase date + 5 years;
  ``over_5y`` 5年以上 — today is on or after the purchase date + 5 years;
  ``""`` — no vehicle, or no purchase or delivery date to tell (and no running warranty).
- **Use 用途**: the newest car's usage (private 私家车 / official 公务车 / commercial 营运车).
- **Lost 流失客户** [004 §10]: the last contact is 365 days ago or more — no visit for a year.
  A customer whose car was delivered within the last year and who never visited is not lost.
- **RFM** [000 §2.2], first match wins:
  ``lost`` 流失客户 (R far, F 0, M 0) — the customer is lost: nothing in the last 12 months;
  ``high_value`` 高价值客户 (R near, F high, M high) — last contact at most ``recent_days``
  days ago, at least ``frequent_visits`` visits and at least ``high_spend_fen`` spend in the
  last 12 months;
  ``potential`` 潜力客户 (R near, F low, M mid) — recent, but not high-value; a new-car buyer
  who has not needed the workshop yet is one;
  ``sleeping`` 沉睡客户 (R far, F low, M low) — not recent, not lost.
  Recency is measured from the last contact, frequency and spend over the last 12 months; so
  "F 0, M 0" is exactly the lost rule, and the four classes cover every customer with a car.
- **Value class 价值分类** [001 p13–16], first match wins:
  ``D`` 流失客户 — lost, and the newest car is out of warranty: stopped coming after warranty;
  ``C`` 边缘客户 — lost while the car is still under warranty ("potential lost", 潜在流失);
  or has visited, never had paid work here (only warranty / free work), and the visit
  interval exceeds ``marginal_gap_days``: the average gap between consecutive visits, or the
  days since the last visit when that is longer (one visit: the days since it);
  ``A`` 忠诚客户 — at least ``loyal_visits`` visits and ``loyal_spend_fen`` spend in the last
  12 months;
  ``B`` 机会客户 — every other customer with a car: not (yet) showing A's traits.
- A customer without any vehicle has no segment: every field ``""``, not lost.

Thresholds (``DEFAULTS``; a group overrides any of them in ``Group.segment_settings``, set by
the group admin through ``update_settings``): ``recent_days`` 180 (half a year), ``frequent_visits``
3 a year (more than the one or two maintenance visits everyone makes), ``high_spend_fen``
¥5,000 a year, ``loyal_visits`` 2 a year, ``loyal_spend_fen`` ¥3,000 a year,
``marginal_gap_days`` 182 (the seed's "consumption cycle over 6 months"). The lost window is
the seed's one year and is not configurable.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import access, clock, money
from crm.errors import ValidationError
from crm.models import (
    CarModel,
    Customer,
    CustomerSegment,
    Group,
    ServiceKind,
    ServiceOrder,
    Staff,
    Vehicle,
)

LOST_AFTER_DAYS = 365  # [004 §10]: no visit for one year
WINDOW_DAYS = 365  # "the last 12 months"
DEFAULT_WARRANTY_MONTHS = 24
OLD_CAR_YEARS = 5
FREE_KINDS = (ServiceKind.WARRANTY.value, ServiceKind.FIRST_MAINTENANCE.value)
BATCH = 2000  # rows per upsert statement

WARRANTY, TWO_TO_FIVE, OVER_FIVE = "warranty", "2_5y", "over_5y"
HIGH_VALUE, POTENTIAL, SLEEPING, LOST = "high_value", "potential", "sleeping", "lost"


# --- thresholds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    recent_days: int = 180
    frequent_visits: int = 3
    high_spend_fen: int = 500_000
    loyal_visits: int = 2
    loyal_spend_fen: int = 300_000
    marginal_gap_days: int = 182


DEFAULTS = Thresholds()


@dataclass(frozen=True)
class Setting:
    """One threshold as the console shows it. Money is typed in yuan and kept in fen."""

    key: str  # the Thresholds attribute and the key in Group.segment_settings
    label: str
    unit: str
    minimum: int  # in the stored unit (fen for money)
    maximum: int
    hint: str

    @property
    def money(self) -> bool:
        return self.key.endswith("_fen")

    @property
    def field(self) -> str:
        """The form field: the key, money in yuan (``high_spend_fen`` → ``high_spend_yuan``)."""
        return self.key.removesuffix("_fen") + "_yuan" if self.money else self.key

    @property
    def default(self) -> int:
        return getattr(DEFAULTS, self.key)


SETTINGS = (
    Setting(
        "recent_days",
        "RFM 近期：最近一次到店或交车在多少天内",
        "天",
        1,
        LOST_AFTER_DAYS - 1,
        "须短于一年（一年未到店即为流失客户）",
    ),
    Setting(
        "frequent_visits",
        "RFM 高频：近12个月到店次数至少",
        "次",
        1,
        52,
        "同一天的多张工单算一次到店",
    ),
    Setting(
        "high_spend_fen",
        "RFM 高消费：近12个月已结算消费至少",
        "元",
        100,
        10_000_000_00,
        "工时费＋配件费，只计已结算工单",
    ),
    Setting(
        "loyal_visits",
        "A类忠诚客户：近12个月到店次数至少",
        "次",
        1,
        52,
        "",
    ),
    Setting(
        "loyal_spend_fen",
        "A类忠诚客户：近12个月已结算消费至少",
        "元",
        100,
        10_000_000_00,
        "",
    ),
    Setting(
        "marginal_gap_days",
        "C类边缘客户：只做保修/免费项目且到店间隔超过",
        "天",
        30,
        LOST_AFTER_DAYS,
        "即培训资料中的“消费周期超过6个月”",
    ),
)


def thresholds_from(settings: Mapping | None) -> Thresholds:
    """A group's thresholds: its stored overrides where they are valid, else the defaults."""
    settings = settings if isinstance(settings, Mapping) else {}
    values = {}
    for setting in SETTINGS:
        value = settings.get(setting.key)
        valid = isinstance(value, int) and not isinstance(value, bool)
        if valid and setting.minimum <= value <= setting.maximum:
            values[setting.key] = value
    return Thresholds(**values)


def read_settings(session: Session, group_id: int) -> Thresholds:
    settings = session.scalar(select(Group.segment_settings).where(Group.id == group_id))
    return thresholds_from(settings)


def settings_form_values(thresholds: Thresholds) -> dict[str, str]:
    """The thresholds as the settings form shows them (money in yuan)."""
    return {item.field: _shown(item, getattr(thresholds, item.key)) for item in SETTINGS}


def _shown(setting: Setting, value: int) -> str:
    if not setting.money:
        return str(value)
    yuan = Decimal(value) / money.FEN_PER_YUAN
    return f"{yuan:.0f}" if yuan == yuan.to_integral_value() else f"{yuan:.2f}"


def _parse_setting(setting: Setting, text: str) -> int:
    span = f"{_shown(setting, setting.minimum)}–{_shown(setting, setting.maximum)}"
    if setting.money:
        value = money.parse_yuan(text, setting.field, positive=True)
        if not setting.minimum <= value <= setting.maximum:
            raise ValidationError(f"金额须在 {span} 元之间", setting.field)
        return value
    if not text.isdecimal() or not setting.minimum <= int(text) <= setting.maximum:
        raise ValidationError(f"请填写 {span} 之间的整数（{setting.unit}）", setting.field)
    return int(text)


def update_settings(
    session: Session, actor: Staff, values: Mapping[str, object], now: datetime
) -> Thresholds:
    """Save the group's thresholds (group admin) and recompute its segments at once.

    ``values`` maps each setting's form field to what was typed (money in yuan); a blank field
    means the default. Bad input raises ``ValidationError`` naming the field, nothing saved.
    Only values that differ from the defaults are stored.
    """
    access.require(actor, "segment.configure")
    chosen: dict[str, int] = {}
    for setting in SETTINGS:
        raw = values.get(setting.field)
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        value = _parse_setting(setting, text)
        if value != setting.default:
            chosen[setting.key] = value
    group = session.get(Group, actor.group_id)
    group.segment_settings = chosen
    compute_segments(session, now, group_id=group.id)  # commits the settings with the rows
    return thresholds_from(chosen)


# --- the rules, as plain functions -----------------------------------------------------------


@dataclass(frozen=True)
class CarFacts:
    """What the rules need of the customer's newest car."""

    purchase_date: date | None
    delivered_on: date | None
    warranty_until: date | None
    warranty_months: int | None
    usage: str
    archived_on: date  # the day the vehicle archive was created

    @property
    def since(self) -> date | None:
        return self.purchase_date or self.delivered_on

    @property
    def handed_over(self) -> date:
        return self.delivered_on or self.purchase_date or self.archived_on


@dataclass(frozen=True)
class VisitFacts:
    """A customer's service history, aggregated."""

    first_visit: date
    last_visit: date
    visit_days: int  # distinct days with an order, ever
    visits_12m: int
    spend_12m_fen: int
    spend_total_fen: int
    paid_work_orders: int


def under_warranty(car: CarFacts, today: date) -> bool:
    if car.warranty_until is not None:
        return today <= car.warranty_until
    if car.since is None:
        return False
    return today < _plus_months(car.since, car.warranty_months or DEFAULT_WARRANTY_MONTHS)


def car_age(car: CarFacts | None, today: date) -> str:
    """保修期内 / 2–5年 / 5年以上 of the newest car; "" without a car or a date to tell."""
    if car is None:
        return ""
    if under_warranty(car, today):
        return WARRANTY
    if car.since is None:
        return ""
    return TWO_TO_FIVE if today < _plus_months(car.since, OLD_CAR_YEARS * 12) else OVER_FIVE


@functools.lru_cache(maxsize=16384)
def _plus_months(day: date, months: int) -> date:
    """``day`` + ``months`` calendar months (31 Jan + 1 month = 28/29 Feb); cached, as a
    hundred thousand cars share a few thousand purchase dates."""
    return day + relativedelta(months=months)


def last_contact(car: CarFacts | None, visits: VisitFacts | None) -> date | None:
    """The later of the last visit and the newest car's delivery."""
    dates = [d for d in (car.handed_over if car else None, visits and visits.last_visit) if d]
    return max(dates) if dates else None


def is_lost(car: CarFacts | None, visits: VisitFacts | None, today: date) -> bool:
    """No visit (and no car delivered) for 365 days [004 §10]."""
    contact = last_contact(car, visits)
    return contact is not None and (today - contact).days >= LOST_AFTER_DAYS


def visit_interval_days(visits: VisitFacts, today: date) -> float:
    """The average gap between consecutive visits, or the days since the last visit when that
    is longer."""
    since_last = (today - visits.last_visit).days
    if visits.visit_days < 2:
        return since_last
    average = (visits.last_visit - visits.first_visit).days / (visits.visit_days - 1)
    return max(average, since_last)


def rfm_class(
    car: CarFacts | None, visits: VisitFacts | None, thresholds: Thresholds, today: date
) -> str:
    if car is None:
        return ""
    if is_lost(car, visits, today):
        return LOST
    if (today - last_contact(car, visits)).days > thresholds.recent_days:
        return SLEEPING
    frequent = visits is not None and visits.visits_12m >= thresholds.frequent_visits
    if frequent and visits.spend_12m_fen >= thresholds.high_spend_fen:
        return HIGH_VALUE
    return POTENTIAL


def value_class(
    car: CarFacts | None, visits: VisitFacts | None, thresholds: Thresholds, today: date
) -> str:
    if car is None:
        return ""
    if is_lost(car, visits, today):
        return "C" if under_warranty(car, today) else "D"
    if visits is None:  # never visited: neither marginal nor loyal
        return "B"
    only_free = visits.paid_work_orders == 0  # only warranty / free work here
    if only_free and visit_interval_days(visits, today) > thresholds.marginal_gap_days:
        return "C"
    loyal = visits.visits_12m >= thresholds.loyal_visits
    return "A" if loyal and visits.spend_12m_fen >= thresholds.loyal_spend_fen else "B"


def classify(
    car: CarFacts | None, visits: VisitFacts | None, thresholds: Thresholds, today: date
) -> dict:
    """One customer's segment row (without the keys)."""
    return {
        "car_age": car_age(car, today),
        "usage": car.usage if car else "",
        "value_class": value_class(car, visits, thresholds, today),
        "rfm": rfm_class(car, visits, thresholds, today),
        "lost": is_lost(car, visits, today),
        "last_visit_on": visits.last_visit if visits else None,
        "visits_12m": visits.visits_12m if visits else 0,
        "spend_12m_fen": visits.spend_12m_fen if visits else 0,
        "spend_total_fen": visits.spend_total_fen if visits else 0,
        "computed_on": today,
    }


# --- the daily computation -------------------------------------------------------------------


def compute_segments(session: Session, now: datetime, group_id: int | None = None) -> int:
    """Recompute every customer's segment row (of one group, or of all), upserting them; the
    number of customers. Idempotent: a second run writes the same rows. A fixed number of
    queries whatever the number of customers: service orders are aggregated per customer in
    SQL, cars and customers read in one query each, rows written in batches."""
    today = clock.today(now)
    groups = select(Group.id, Group.segment_settings)
    if group_id is not None:
        groups = groups.where(Group.id == group_id)
    thresholds = {gid: thresholds_from(settings) for gid, settings in session.execute(groups)}
    visits = _visit_facts(session, today, group_id)
    cars = _newest_cars(session, group_id)
    customers = select(Customer.id, Customer.group_id, Customer.store_id).order_by(Customer.id)
    if group_id is not None:
        customers = customers.where(Customer.group_id == group_id)
    count, batch = 0, []
    for customer_id, customer_group, store_id in session.execute(customers).all():
        row = classify(
            cars.get(customer_id),
            visits.get(customer_id),
            thresholds.get(customer_group, DEFAULTS),
            today,
        )
        batch.append({"customer_id": customer_id, "store_id": store_id, **row})
        if len(batch) >= BATCH:
            count += _upsert(session, batch)
            batch = []
    if batch:
        count += _upsert(session, batch)
    session.commit()
    return count


def recompute_group(session: Session, actor: Staff, now: datetime) -> int:
    """Recompute the actor's group at once (group admin), not waiting for the nightly job."""
    access.require(actor, "segment.configure")
    return compute_segments(session, now, group_id=actor.group_id)


def _visit_facts(session: Session, today: date, group_id: int | None) -> dict[int, VisitFacts]:
    window_start = today - timedelta(days=WINDOW_DAYS)  # exclusive
    order = ServiceOrder
    total = order.labour_fen + order.parts_fen
    paid = order.paid_on.is_not(None)
    in_window = order.opened_on > window_start
    query = (
        select(
            Vehicle.customer_id,
            func.min(order.opened_on),
            func.max(order.opened_on),
            func.count(distinct(order.opened_on)),
            func.count(distinct(case((in_window, order.opened_on)))),
            func.coalesce(func.sum(case((and_(paid, in_window), total), else_=0)), 0),
            func.coalesce(func.sum(case((paid, total), else_=0)), 0),
            func.count(case((and_(order.kind.not_in(FREE_KINDS), total > 0), order.id))),
        )
        .join(Vehicle, Vehicle.id == order.vehicle_id)
        .where(order.opened_on <= today)
        .group_by(Vehicle.customer_id)
    )
    if group_id is not None:
        query = query.join(Customer, Customer.id == Vehicle.customer_id).where(
            Customer.group_id == group_id
        )
    return {
        row[0]: VisitFacts(row[1], row[2], row[3], row[4], int(row[5]), int(row[6]), row[7])
        for row in session.execute(query)
    }


def _newest_cars(session: Session, group_id: int | None) -> dict[int, CarFacts]:
    query = select(
        Vehicle.customer_id,
        Vehicle.id,
        Vehicle.purchase_date,
        Vehicle.delivered_on,
        Vehicle.warranty_until,
        CarModel.warranty_months,
        Vehicle.usage,
        Vehicle.created_at,
    ).outerjoin(CarModel, CarModel.id == Vehicle.car_model_id)
    if group_id is not None:
        query = query.join(Customer, Customer.id == Vehicle.customer_id).where(
            Customer.group_id == group_id
        )
    newest: dict[int, tuple[tuple[date, int], CarFacts]] = {}
    for row in session.execute(query):
        customer_id, vehicle_id, bought, delivered, until, months, usage, created = row
        car = CarFacts(bought, delivered, until, months, str(usage or ""), clock.today(created))
        key = (car.since or car.archived_on, vehicle_id)
        if customer_id not in newest or key > newest[customer_id][0]:
            newest[customer_id] = (key, car)
    return {customer_id: car for customer_id, (_key, car) in newest.items()}


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _upsert(session: Session, rows: list[dict]) -> int:
    """Insert or update the rows in one statement (executemany), keyed by customer: a
    customer's existing row gets every other column of the new one."""
    table = CustomerSegment.__table__
    statement = _INSERTS[session.get_bind().dialect.name](table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_={name: statement.excluded[name] for name in rows[0] if name != "customer_id"},
    )
    session.execute(statement, rows)
    return len(rows)
