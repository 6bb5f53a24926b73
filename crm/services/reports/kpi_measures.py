"""The rows behind each KPI (PRODUCT "Reports and KPIs"; seeds [000 §2.2], [002 §5], [004]).

Each measure is a ``select(<record>, <hit>)`` of the rows a KPI is a share of — its
denominator — with ``hit`` saying whether the row counts in the numerator. The dashboard counts
the same select that the drill-down page lists, so the figure and its rows cannot disagree.
Two KPIs are about elapsed time (24 hours, 30 days); their selects carry the moments instead
and ``crm.services.reports.kpis`` decides each row in Python (a row still inside its window
and not yet done is left out until it is decided, as complaint SLAs are).

Attribution follows the funnel (``crm.services.reports.funnel``): a lead counts where it is
now; a salesperson filter picks the leads they hold, the records they logged, the deals they
made, the customers they won.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select

from crm import access
from crm.models import (
    Booking,
    BookingStatus,
    CareTask,
    CareTaskKind,
    Communication,
    Customer,
    Deal,
    DealStatus,
    Lead,
    LeadSource,
    MemberCard,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Vehicle,
)
from crm.services.reports.funnel import cohort, dealt
from crm.services.reports.periods import Month, day_start
from crm.services.reports.scope import Filters

MEMBER_ACTIVE_DAYS = 90  # (ours) a member is active after a workshop visit or booking this recent
LOST_AFTER_DAYS = 365  # no visit for a year is a lost customer [004 §10]
RETURN_WINDOW_MONTHS = 12  # return-to-shop: a workshop visit in the 12 months to the month's end


def _store_ids(actor: Staff, filters: Filters) -> Select:
    query = select(Store.id).where(access.visible(Store, actor))
    if filters.store_id is not None:
        query = query.where(Store.id == filters.store_id)
    return query


def _customers_of(actor: Staff, filters: Filters) -> ColumnElement[bool]:
    condition = and_(
        access.visible(Customer, actor), Customer.store_id.in_(_store_ids(actor, filters))
    )
    if filters.salesperson_id is not None:
        condition = and_(condition, Customer.sales_owner_id == filters.salesperson_id)
    return condition


# --- sales -----------------------------------------------------------------------------------


def lead_conversion(actor: Staff, month: Month, filters: Filters) -> Select:
    """The month's leads; hit: a deal (deposit taken, not cancelled) — 成交客户数/有效客户数."""
    return select(Lead, dealt().label("hit")).where(
        cohort(actor, month.starts, month.ends, filters)
    )


def first_follow_up(actor: Staff, month: Month, filters: Filters) -> Select:
    """The month's leads with the moment of their first logged communication."""
    first = (
        select(func.min(Communication.occurred_at))
        .where(Communication.lead_id == Lead.id)
        .scalar_subquery()
    )
    return select(Lead, Lead.created_at.label("since"), first.label("done_at")).where(
        cohort(actor, month.starts, month.ends, filters)
    )


def record_completeness(actor: Staff, month: Month, filters: Filters) -> Select:
    """Follow-ups logged in the month; hit: concerns, need changes, decision factors, the next
    step and its time all recorded [002 §3]."""
    complete = and_(
        Communication.concerns != "",
        Communication.need_changes != "",
        Communication.decision_factors != "",
        Communication.next_step != "",
        Communication.next_step_at.is_not(None),
    )
    condition = and_(
        Communication.occurred_at >= month.starts,
        Communication.occurred_at < month.ends,
        access.visible(Lead, actor),
    )
    if filters.store_id is not None:
        condition = and_(condition, Lead.store_id == filters.store_id)
    if filters.salesperson_id is not None:
        condition = and_(condition, Communication.staff_id == filters.salesperson_id)
    return select(Communication, complete.label("hit")).join(Lead).where(condition)


def dormant_activation(actor: Staff, month: Month, filters: Filters) -> Select:
    """Leads woken from the dormant pool in the month, with the moment of their first
    communication after the wake-up."""
    first_after = (
        select(func.min(Communication.occurred_at))
        .where(Communication.lead_id == Lead.id, Communication.occurred_at >= Lead.woken_at)
        .scalar_subquery()
    )
    condition = and_(
        Lead.woken_at >= month.starts, Lead.woken_at < month.ends, access.visible(Lead, actor)
    )
    if filters.store_id is not None:
        condition = and_(condition, Lead.store_id == filters.store_id)
    if filters.salesperson_id is not None:
        condition = and_(condition, Lead.owner_id == filters.salesperson_id)
    return select(Lead, Lead.woken_at.label("since"), first_after.label("done_at")).where(condition)


def referral_rate(actor: Staff, month: Month, filters: Filters) -> Select:
    """Deals made (deposit taken) in the month and not cancelled; hit: the lead was referred by
    a customer (转介绍)."""
    condition = and_(
        Deal.deposit_on >= month.first,
        Deal.deposit_on <= month.last_day,
        Deal.status != DealStatus.CANCELLED.value,
        access.visible(Deal, actor),
    )
    if filters.store_id is not None:
        condition = and_(condition, Lead.store_id == filters.store_id)
    if filters.salesperson_id is not None:
        condition = and_(condition, Deal.salesperson_id == filters.salesperson_id)
    hit = Lead.source == LeadSource.REFERRAL.value
    return select(Deal, hit.label("hit")).join(Lead, Deal.lead_id == Lead.id).where(condition)


def return_visit_7d(actor: Staff, month: Month, filters: Filters, now) -> Select:
    """7-day return-visit calls (7DC) due in the month, up to now; hit: done."""
    condition = and_(
        CareTask.kind == CareTaskKind.DELIVERY_VISIT_7D.value,
        CareTask.due_at >= month.starts,
        CareTask.due_at < month.ends,
        CareTask.due_at <= now,
        _customers_of(actor, filters),
    )
    hit = CareTask.done_at.is_not(None)
    return (
        select(CareTask, hit.label("hit"))
        .join(Customer, CareTask.customer_id == Customer.id)
        .where(condition)
    )


# --- after-sales and members ---------------------------------------------------------------


def _orders_between(first: date, last: date, *extra) -> ColumnElement[bool]:
    return exists().where(
        ServiceOrder.vehicle_id == Vehicle.id,
        ServiceOrder.opened_on >= first,
        ServiceOrder.opened_on <= last,
        *extra,
    )


def return_to_shop(actor: Staff, month: Month, filters: Filters) -> Select:
    """Cars sold before the month (delivered, or bought when no delivery was recorded); hit:
    a workshop visit (service order) in the 12 months to the month's end."""
    window_first = month
    for _ in range(RETURN_WINDOW_MONTHS - 1):
        window_first = window_first.previous()
    sold_on = func.coalesce(Vehicle.delivered_on, Vehicle.purchase_date)
    condition = and_(
        sold_on.is_not(None),
        sold_on < month.first,
        Vehicle.store_id.in_(_store_ids(actor, filters)),
        Vehicle.customer_id.in_(select(Customer.id).where(_customers_of(actor, filters))),
    )
    hit = _orders_between(window_first.first, month.last_day)
    return select(Vehicle, hit.label("hit")).where(condition)


def _customer_orders(*conditions) -> ColumnElement[bool]:
    return exists().where(
        ServiceOrder.vehicle_id == Vehicle.id, Vehicle.customer_id == Customer.id, *conditions
    )


def lost_recall(actor: Staff, month: Month, filters: Filters) -> Select:
    """Customers lost when the month began — they had come to the workshop, but not in the
    year before [004 §10]; hit: a service order in the month."""
    lost_since = month.first - timedelta(days=LOST_AFTER_DAYS)
    condition = and_(
        _customers_of(actor, filters),
        _customer_orders(ServiceOrder.opened_on < month.first),
        ~_customer_orders(
            ServiceOrder.opened_on >= lost_since, ServiceOrder.opened_on < month.first
        ),
    )
    hit = _customer_orders(
        ServiceOrder.opened_on >= month.first, ServiceOrder.opened_on <= month.last_day
    )
    return select(Customer, hit.label("hit")).where(condition)


def member_activity(actor: Staff, month: Month, filters: Filters) -> Select:
    """Members (a member card issued before the month's end); hit: a workshop visit or a
    booking in the 90 days to the month's end."""
    since = month.next().first - timedelta(days=MEMBER_ACTIVE_DAYS)
    booked = exists().where(
        Booking.customer_id == Customer.id,
        Booking.created_at >= day_start(since),
        Booking.created_at < month.ends,
        Booking.status != BookingStatus.CANCELLED.value,
    )
    visited = _customer_orders(
        ServiceOrder.opened_on >= since, ServiceOrder.opened_on <= month.last_day
    )
    condition = and_(
        _customers_of(actor, filters),
        exists().where(MemberCard.customer_id == Customer.id, MemberCard.issued_at < month.ends),
    )
    return select(Customer, or_(visited, booked).label("hit")).where(condition)


def maintenance_visits(kind: ServiceKind):
    def measure(actor: Staff, month: Month, filters: Filters) -> Select:
        """Service orders of one kind opened in the month at the stores in view."""
        condition = and_(
            ServiceOrder.kind == kind.value,
            ServiceOrder.opened_on >= month.first,
            ServiceOrder.opened_on <= month.last_day,
            ServiceOrder.store_id.in_(_store_ids(actor, filters)),
        )
        return select(ServiceOrder, literal(True).label("hit")).where(condition)

    return measure
