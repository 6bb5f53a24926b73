"""The salesperson's work-bench 工作台 (PRODUCT "The customer pool", "Lead classes and
cadence"): what to do today, in a fixed number of queries however many leads there are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from crm import access, clock
from crm.models import Customer, Lead, LeadStatus, Staff, TestDrive, TestDriveStatus
from crm.services import pool
from crm.services.lead_classes import FIRST_CALL_WITHIN

LIST_SHOWN = 50
CUSTOMERS_SHOWN = 10


@dataclass(frozen=True)
class Returning:
    lead: Lead
    days_left: int


@dataclass(frozen=True)
class NewLead:
    lead: Lead
    late: bool  # not called within the first hour: shown red


@dataclass(frozen=True)
class Workbench:
    open_by_class: dict[str, int]
    pool_size: int
    new_leads: list[NewLead]
    overdue: list[Lead]
    overdue_count: int
    due_today: list[Lead]
    due_today_count: int
    test_drives: list[TestDrive]  # today's, booked or done
    returning: list[Returning]  # back to the pool within 3 days unless contacted
    customers: list[Customer]  # own won customers, newest first (member-binding QR at delivery)


def _day_bounds(now: datetime) -> tuple[datetime, datetime]:
    local_midnight = datetime.combine(clock.today(now), time.min, tzinfo=clock.BUSINESS_TZ)
    start = local_midnight.astimezone(now.tzinfo)
    return start, start + timedelta(days=1)


def summary(session: Session, actor: Staff, now: datetime) -> Workbench:
    """The actor's day: new leads awaiting their first call (red after an hour), follow-ups
    overdue and due today by class cadence and planned next step, today's test drives, leads
    about to return to the pool, counts by class, the pool's size and their newest customers."""
    day_start, day_end = _day_bounds(now)
    own_open = access.scope(
        select(Lead).where(Lead.owner_id == actor.id, Lead.status == LeadStatus.OPEN), actor
    )
    contacted = own_open.where(Lead.last_contact_at.is_not(None))

    by_class = session.execute(
        access.scope(
            select(Lead.lead_class, func.count()).where(
                Lead.owner_id == actor.id, Lead.status == LeadStatus.OPEN
            ),
            actor,
            Lead,
        ).group_by(Lead.lead_class)
    ).all()
    pool_size = session.scalar(
        select(func.count()).select_from(
            pool.browse_query(actor, pool.PoolFilters(), now).order_by(None).subquery()
        )
    )

    new_leads = session.scalars(
        own_open.where(Lead.last_contact_at.is_(None))
        .order_by(Lead.created_at, Lead.id)
        .limit(LIST_SHOWN)
    ).all()

    overdue_query = contacted.where(Lead.due_at < day_start)
    today_query = contacted.where(Lead.due_at >= day_start, Lead.due_at < day_end)
    overdue = session.scalars(overdue_query.order_by(Lead.due_at).limit(LIST_SHOWN)).all()
    due_today = session.scalars(today_query.order_by(Lead.due_at).limit(LIST_SHOWN)).all()
    overdue_count, today_count = session.execute(
        select(
            select(func.count()).select_from(overdue_query.subquery()).scalar_subquery(),
            select(func.count()).select_from(today_query.subquery()).scalar_subquery(),
        )
    ).one()

    test_drives = session.scalars(
        access.scope(
            select(TestDrive).where(
                TestDrive.staff_id == actor.id,
                TestDrive.status != TestDriveStatus.CANCELLED,
                TestDrive.scheduled_at >= day_start,
                TestDrive.scheduled_at < day_end,
            ),
            actor,
        )
        .options(selectinload(TestDrive.lead))
        .order_by(TestDrive.scheduled_at)
    ).all()

    warn_from = now - pool.CONTACT_WINDOW + pool.WARN_BEFORE_RETURN
    returning_rows = session.execute(
        own_open.add_columns(pool.last_touch().label("touched"))
        .where(pool.last_touch() <= warn_from)
        .order_by(pool.last_touch(), Lead.id)
        .limit(LIST_SHOWN)
    ).all()

    customers = session.scalars(
        access.scope(select(Customer).where(Customer.sales_owner_id == actor.id), actor)
        .order_by(Customer.created_at.desc(), Customer.id.desc())
        .limit(CUSTOMERS_SHOWN)
    ).all()
    return Workbench(
        open_by_class=dict(by_class),
        pool_size=pool_size or 0,
        new_leads=[NewLead(lead, now - lead.created_at > FIRST_CALL_WITHIN) for lead in new_leads],
        overdue=list(overdue),
        overdue_count=overdue_count,
        due_today=list(due_today),
        due_today_count=today_count,
        test_drives=list(test_drives),
        returning=[
            Returning(row.Lead, pool.days_left_in_hand(row.touched, now)) for row in returning_rows
        ],
        customers=list(customers),
    )
