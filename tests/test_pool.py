"""The 30-day rule of the customer pool (PRODUCT "The customer pool")."""

from __future__ import annotations

from datetime import timedelta

from crm import clock
from crm.services.pool import return_stale_leads
from tests import factories as f


def test_lead_returns_to_pool_after_30_days_without_contact(org, session):
    org.lead_a1.last_contact_at = clock.now() - timedelta(days=30, minutes=1)
    session.commit()
    assert return_stale_leads(session, clock.now()) == 1
    session.refresh(org.lead_a1)
    assert org.lead_a1.owner_id is None


def test_lead_contacted_within_30_days_stays_with_its_owner(org, session):
    org.lead_a1.last_contact_at = clock.now() - timedelta(days=29, hours=23)
    session.commit()
    assert return_stale_leads(session, clock.now()) == 0
    session.refresh(org.lead_a1)
    assert org.lead_a1.owner_id == org.sales_a1.id


def test_never_contacted_lead_counts_from_its_claim(org, session):
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a2)
    lead.claimed_at = clock.now() - timedelta(days=31)
    session.commit()
    assert return_stale_leads(session, clock.now()) == 1
    session.refresh(lead)
    assert lead.owner_id is None


def test_returning_stale_leads_twice_changes_nothing_the_second_time(org, session):
    org.lead_a1.last_contact_at = clock.now() - timedelta(days=40)
    session.commit()
    assert return_stale_leads(session, clock.now()) == 1
    assert return_stale_leads(session, clock.now()) == 0
