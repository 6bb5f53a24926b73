"""The work-bench summary a salesperson sees first on the phone."""

from __future__ import annotations

from datetime import timedelta

from crm import clock
from crm.models import LeadClass
from crm.services import workbench
from tests import factories as f


def test_workbench_counts_own_open_leads_by_class_and_the_store_pool(org, session):
    f.LeadFactory(store=org.store_a, owner=org.sales_a1, lead_class=LeadClass.KEY.value)
    f.LeadFactory(store=org.store_a, owner=None)
    f.LeadFactory(store=org.store_b, owner=None)  # another store's pool is not ours
    bench = workbench.summary(session, org.sales_a1)
    assert bench.open_by_class == {"potential": 1, "key": 1}
    assert bench.pool_size == 2


def test_workbench_lists_never_contacted_leads_first_then_the_longest_waiting(org, session):
    recent = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="近期")
    recent.last_contact_at = clock.now() - timedelta(days=1)
    old = f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="很久")
    old.last_contact_at = clock.now() - timedelta(days=20)
    session.commit()
    names = [lead.name for lead in workbench.summary(session, org.sales_a1).stalest]
    assert names == ["线索甲", "很久", "近期"]


def test_workbench_lists_the_salespersons_own_customers(org, session):
    bench = workbench.summary(session, org.sales_a1)
    assert [customer.name for customer in bench.customers] == ["客户甲"]
