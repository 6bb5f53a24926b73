"""The sales funnel per store per month: leads → communications → store visits/appointments →
deals, group-wide (every store side by side), per store and per salesperson (PRODUCT "Reports
and KPIs"; issue 10 "Reports").

What counts — a **cohort** funnel, so that every step is a subset of the one before and each
conversion is a share of real leads:

* **leads**: leads created in the Beijing calendar month (``crm.services.reports.periods``: a
  lead created at 23:30 Beijing time on the month's last day counts in that month).
* **communications**: those leads with at least one logged communication (phone, WeChat,
  showroom visit, test drive — PRODUCT "The customer pool": the salesperson logs calls, chats,
  showroom visits and test drives).
* **visits**: those leads that came to the store or made an appointment to: a communication
  logged as a showroom visit (到店) or a test drive (试驾), or a test-drive booking that was not
  cancelled (PRODUCT "The customer pool": a logged test-drive appointment enters the plan).
  After-sales workshop bookings are customers', not leads', and do not count.
* **deals**: those leads with a deal (deposit taken) that was not cancelled (PRODUCT "Deal and
  handover").

Later steps count whenever they happened, so a month's funnel keeps filling while its leads
are worked. Attribution: a lead counts for the store it belongs to **now** (a lead moved to
another store moves its whole history with it: the funnel answers "what became of the leads
this store holds") and, per salesperson, for the salesperson who holds it now; unclaimed pool
leads are a row of their own. A salesperson who left keeps the leads still in their name (the
ones they won: open leads are handed on when they leave) and is marked 已离职.

Everything is counted in SQL — one ``GROUP BY`` over the month's leads with ``EXISTS`` probes
on the indexed ``lead_id`` columns — so the number of queries does not depend on the number of
rows, and only the leads the actor sees (``crm.access``) are counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound
from crm.models import (
    Channel,
    Communication,
    Deal,
    DealStatus,
    Lead,
    Staff,
    TestDrive,
    TestDriveStatus,
)
from crm.services.reports import periods
from crm.services.reports.scope import EVERYTHING, VIEW, Filters, salespeople, stores

STEPS = (("leads", "线索"), ("communications", "沟通"), ("visits", "到店/预约"), ("deals", "成交"))
VISIT_CHANNELS = (Channel.VISIT.value, Channel.TEST_DRIVE.value)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class _Conversions:
    """Step conversions of a funnel's counts; None where the step before is empty."""

    leads: int
    communications: int
    visits: int
    deals: int

    @property
    def contact_rate(self) -> float | None:
        return _share(self.communications, self.leads)

    @property
    def visit_rate(self) -> float | None:
        return _share(self.visits, self.communications)

    @property
    def deal_rate(self) -> float | None:
        return _share(self.deals, self.visits)

    @property
    def conversion(self) -> float | None:
        """Leads to deals: the lead conversion KPI (≥ 30%)."""
        return _share(self.deals, self.leads)

    def steps(self) -> list[tuple[str, str, int]]:
        return [(key, label, getattr(self, key)) for key, label in STEPS]


@dataclass(frozen=True)
class FunnelCounts(_Conversions):
    leads: int = 0
    communications: int = 0
    visits: int = 0
    deals: int = 0

    def __add__(self, other: FunnelCounts) -> FunnelCounts:
        return FunnelCounts(*(getattr(self, k) + getattr(other, k) for k, _ in STEPS))


@dataclass(frozen=True)
class FunnelRow(_Conversions):
    """One store's funnel for the month."""

    store_id: int
    store_name: str
    leads: int
    communications: int
    visits: int
    deals: int


@dataclass(frozen=True)
class SalespersonFunnelRow(_Conversions):
    """One salesperson's funnel for the month (``staff_id`` None: the unclaimed pool)."""

    staff_id: int | None
    staff_name: str
    store_name: str
    left: bool
    leads: int
    communications: int
    visits: int
    deals: int


@dataclass(frozen=True)
class MonthFunnel(_Conversions):
    """One month of the trend."""

    month: periods.Month
    leads: int
    communications: int
    visits: int
    deals: int


# --- the SQL --------------------------------------------------------------------------------


def _communicated() -> ColumnElement[bool]:
    return exists().where(Communication.lead_id == Lead.id)


def _visited() -> ColumnElement[bool]:
    return or_(
        exists().where(Communication.lead_id == Lead.id, Communication.channel.in_(VISIT_CHANNELS)),
        exists().where(
            TestDrive.lead_id == Lead.id, TestDrive.status != TestDriveStatus.CANCELLED.value
        ),
    )


def dealt() -> ColumnElement[bool]:
    return exists().where(Deal.lead_id == Lead.id, Deal.status != DealStatus.CANCELLED.value)


def _tally(condition: ColumnElement[bool]):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def cohort(actor: Staff, starts: datetime, ends: datetime, filters: Filters) -> ColumnElement:
    """The leads created in ``starts``..``ends`` that the actor sees, narrowed by the filters
    (shared with the KPIs that are shares of the month's leads)."""
    condition = and_(Lead.created_at >= starts, Lead.created_at < ends, access.visible(Lead, actor))
    if filters.store_id is not None:
        condition = and_(condition, Lead.store_id == filters.store_id)
    if filters.salesperson_id is not None:
        condition = and_(condition, Lead.owner_id == filters.salesperson_id)
    return condition


def _counted(key, condition: ColumnElement) -> select:
    return (
        select(
            key.label("key"),
            func.count(Lead.id).label("leads"),
            _tally(_communicated()).label("communications"),
            _tally(_visited()).label("visits"),
            _tally(dealt()).label("deals"),
        )
        .where(condition)
        .group_by(key)
    )


def _by_key(session: Session, key, condition: ColumnElement) -> dict:
    return {
        row.key: FunnelCounts(
            int(row.leads), int(row.communications), int(row.visits), int(row.deals)
        )
        for row in session.execute(_counted(key, condition))
    }


# --- the public functions ------------------------------------------------------------------


def group_funnel(
    session: Session,
    actor: Staff,
    *,
    month_start: date,
    now: datetime,
    filters: Filters = EVERYTHING,
) -> list[FunnelRow]:
    """Every store the actor sees, side by side, with its funnel for the month beginning on
    ``month_start`` (a store admin: their store; the group admin: every store; a supervisor:
    the team's leads and the store's pool). Two queries whatever the number of rows."""
    access.require(actor, VIEW)
    month = periods.month_of(month_start)
    counts = _by_key(session, Lead.store_id, cohort(actor, month.starts, month.ends, filters))
    empty = FunnelCounts()
    return [
        FunnelRow(store.id, store.name, *_values(counts.get(store.id, empty)))
        for store in stores(session, actor, filters)
    ]


def store_funnel(
    session: Session, actor: Staff, *, store_id: int, month_start: date, now: datetime
) -> FunnelRow:
    """One store's funnel for the month; a store outside the actor's scope is NotFound."""
    rows = group_funnel(
        session, actor, month_start=month_start, now=now, filters=Filters(store_id=store_id)
    )
    if not rows:
        raise NotFound()
    return rows[0]


def total(rows: Iterable[_Conversions]) -> FunnelCounts:
    """The rows added up (the group's or the team's funnel)."""
    result = FunnelCounts()
    for row in rows:
        result = result + FunnelCounts(*(getattr(row, key) for key, _ in STEPS))
    return result


def salesperson_funnel(
    session: Session,
    actor: Staff,
    *,
    month_start: date,
    now: datetime,
    filters: Filters = EVERYTHING,
) -> list[SalespersonFunnelRow]:
    """The month's funnel per salesperson the actor sees (a supervisor: the team), then the
    unclaimed pool. Active salespeople are listed even with nothing to count; a leaver only
    when leads in their name count this month, marked as having left."""
    access.require(actor, VIEW)
    month = periods.month_of(month_start)
    counts = _by_key(session, Lead.owner_id, cohort(actor, month.starts, month.ends, filters))
    store_names = {store.id: store.name for store in stores(session, actor)}
    rows = []
    for person in salespeople(session, actor, filters):
        if filters.salesperson_id is not None and person.id != filters.salesperson_id:
            continue
        figures = counts.get(person.id)
        if figures is None and not person.active:
            continue
        rows.append(
            SalespersonFunnelRow(
                person.id,
                person.name,
                store_names.get(person.store_id, ""),
                not person.active,
                *_values(figures or FunnelCounts()),
            )
        )
    if None in counts:
        rows.append(
            SalespersonFunnelRow(None, "客户池（未认领）", "", False, *_values(counts[None]))
        )
    return rows


def funnel_trend(
    session: Session,
    actor: Staff,
    *,
    month_start: date,
    now: datetime,
    filters: Filters = EVERYTHING,
    months: int = periods.TREND_MONTHS,
) -> list[MonthFunnel]:
    """The funnel of each of the ``months`` months ending with ``month_start``'s, oldest first:
    one grouped query, the month of each lead picked by a ``CASE`` over the months' UTC
    bounds (portable across SQLite and PostgreSQL, Beijing months throughout)."""
    access.require(actor, VIEW)
    span = periods.trailing(periods.month_of(month_start), months)
    bucket = case(
        *(
            (Lead.created_at >= month.starts, index)
            for index, month in reversed(list(enumerate(span)))
        ),
        else_=-1,
    )
    counts = _by_key(session, bucket, cohort(actor, span[0].starts, span[-1].ends, filters))
    empty = FunnelCounts()
    return [
        MonthFunnel(month, *_values(counts.get(index, empty))) for index, month in enumerate(span)
    ]


def _values(counts: FunnelCounts) -> tuple[int, int, int, int]:
    return counts.leads, counts.communications, counts.visits, counts.deals
