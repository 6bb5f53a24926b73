"""The work-bench a salesperson sees first on the phone (PRODUCT "The customer pool", "Lead
classes and cadence")."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from crm import clock
from crm.extensions import db
from crm.models import Lead, LeadClass, TestDrive
from crm.services import pool, workbench
from crm.services.identity import phone_index
from tests import factories as f
from tests.conftest import login


def test_workbench_counts_own_open_leads_by_class_and_the_store_pool(org, session, frozen_now):
    f.LeadFactory(store=org.store_a, owner=org.sales_a1, lead_class=LeadClass.KEY.value)
    f.LeadFactory(store=org.store_a, owner=None)
    f.LeadFactory(store=org.store_b, owner=None)  # another store's pool is not ours
    bench = workbench.summary(session, org.sales_a1, clock.now())
    assert bench.open_by_class == {"potential": 1, "key": 1}
    assert bench.pool_size == 2


def test_new_lead_not_called_within_one_hour_is_flagged_late(org, session, frozen_now):
    fresh = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="刚来的")
    late = f.LeadFactory(
        store=org.store_a,
        owner=org.sales_a1,
        name="等了两小时",
        created_at=clock.now() - timedelta(hours=2),
    )
    bench = workbench.summary(session, org.sales_a1, clock.now())
    flags = {item.lead.name: item.late for item in bench.new_leads}
    assert flags[late.name] is True
    assert flags[fresh.name] is False


def test_contacted_leads_are_split_into_overdue_and_due_today(org, session, frozen_now):
    now = clock.now()  # 10:00 in Beijing
    overdue = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="逾期")
    overdue.last_contact_at, overdue.due_at = now - timedelta(days=8), now - timedelta(days=1)
    today = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="今天")
    today.last_contact_at, today.due_at = now - timedelta(days=3), now + timedelta(hours=5)
    later = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="后天")
    later.last_contact_at, later.due_at = now, now + timedelta(days=2)
    session.commit()
    bench = workbench.summary(session, org.sales_a1, now)
    assert [lead.name for lead in bench.overdue] == ["逾期"]
    assert [lead.name for lead in bench.due_today] == ["今天"]
    assert (bench.overdue_count, bench.due_today_count) == (1, 1)


def test_due_today_ends_at_beijing_midnight(org, session, frozen_now):
    now = clock.now()  # 10:00 Beijing; midnight is 14 hours away
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a1, last_contact_at=now)
    lead.due_at = now + timedelta(hours=13, minutes=59)
    session.commit()
    assert workbench.summary(session, org.sales_a1, now).due_today_count == 1
    lead.due_at = now + timedelta(hours=14)
    session.commit()
    assert workbench.summary(session, org.sales_a1, now).due_today_count == 0


def test_owner_sees_leads_about_to_return_to_the_pool_three_days_before(org, session, frozen_now):
    now = clock.now()
    soon = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="快退回")
    soon.last_contact_at = now - timedelta(days=28)
    safe = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="还早")
    safe.last_contact_at = now - timedelta(days=26)
    session.commit()
    bench = workbench.summary(session, org.sales_a1, now)
    assert [(item.lead.name, item.days_left) for item in bench.returning] == [("快退回", 2)]


def test_workbench_lists_the_salespersons_own_customers(org, session, frozen_now):
    bench = workbench.summary(session, org.sales_a1, clock.now())
    assert [customer.name for customer in bench.customers] == ["客户甲"]


@contextmanager
def counting_queries(session):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _add_leads(session, org, first: int, count: int) -> None:
    """Owned leads in every state the work-bench shows, plus pool leads, inserted in bulk."""
    now = clock.now()
    rows = []
    for number in range(first, first + count):
        phone = f"+86137{number:08d}"
        owner = org.sales_a1.id if number % 2 else None
        rows.append(
            {
                "store_id": org.store_a.id,
                "owner_id": owner,
                "name": f"批量{number}",
                "phone": phone,
                "phone_index": phone_index(phone),
                "lead_class": "intent",
                "status": "open",
                "source": "import",
                "last_contact_at": None if number % 3 == 0 else now - timedelta(days=number % 29),
                "due_at": now + timedelta(hours=(number % 48) - 24),
                "created_at": now - timedelta(days=number % 40),
            }
        )
    session.execute(insert(Lead), rows)
    session.commit()


@pytest.mark.parametrize("view", ["workbench", "pool"])
def test_workbench_and_pool_issue_as_many_queries_for_5000_leads_as_for_10(
    org, session, frozen_now, view
):
    def run() -> int:
        session.expire_all()
        with counting_queries(session) as statements:
            if view == "workbench":
                workbench.summary(session, org.sales_a1, clock.now())
            else:
                query = pool.browse_query(org.sales_a1, pool.PoolFilters(), clock.now())
                page = db.paginate(query, page=1, per_page=20, error_out=False)
                [lead.source_label for lead in page.items]
        return len(statements)

    _add_leads(session, org, 0, 10)
    few = run()
    _add_leads(session, org, 10, 4990)
    many = run()
    assert few >= 3  # the counter sees the page's queries
    assert few == many


def _add_test_drives_today(session, org) -> None:
    owned = session.scalars(
        select(Lead.id).where(Lead.owner_id == org.sales_a1.id).order_by(Lead.id).limit(30)
    ).all()
    session.execute(
        insert(TestDrive),
        [
            {
                "lead_id": lead_id,
                "staff_id": org.sales_a1.id,
                "scheduled_at": clock.now() + timedelta(hours=1),
                "car": "试驾车",
                "status": "booked",
                "created_at": clock.now(),
            }
            for lead_id in owned
        ],
    )
    session.commit()


@pytest.mark.parametrize("page", ["/h5/", "/h5/pool", "/h5/leads"])
def test_phone_pages_issue_as_many_queries_for_5000_leads_as_for_10(
    client, org, session, frozen_now, page
):
    login(client, org.sales_a1)

    def run() -> int:
        session.expire_all()
        with counting_queries(session) as statements:
            response = client.get(page)
        assert response.status_code == 200
        return len(statements)

    _add_leads(session, org, 0, 10)
    _add_test_drives_today(session, org)
    few = run()
    _add_leads(session, org, 10, 4990)
    _add_test_drives_today(session, org)
    many = run()
    assert few >= 3  # the counter sees the page's queries
    assert few == many
