"""The 30-day rule of the customer pool (PRODUCT "The customer pool")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm import clock
from crm.errors import NotFound, ValidationError
from crm.models import LeadMove, LeadStatus, MoveReason
from crm.services import leads, pool
from crm.services import org as organisation
from crm.services.pool import mark_dormant_leads, return_stale_leads, wake_dormant_leads
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


def test_lead_returned_for_staleness_records_the_move(org, session, frozen_now):
    org.lead_a1.last_contact_at = clock.now() - timedelta(days=31)
    session.commit()
    return_stale_leads(session, clock.now())
    move = session.scalar(select(LeadMove).where(LeadMove.lead_id == org.lead_a1.id))
    assert (move.reason, move.from_owner_id, move.to_owner_id, move.moved_by_id) == (
        MoveReason.STALE,
        org.sales_a1.id,
        None,
        None,
    )


def test_leaving_salespersons_leads_return_to_the_pool_with_a_record(org, session, frozen_now):
    second = f.LeadFactory(store=org.store_a, owner=org.sales_a1)
    won = f.LeadFactory(store=org.store_a, owner=org.sales_a1, status=LeadStatus.WON.value)
    _staff, moved = organisation.set_staff_left(
        session, org.store_admin_a, org.sales_a1.id, clock.now()
    )
    assert moved == 2
    for lead in (org.lead_a1, second):
        session.refresh(lead)
        assert lead.owner_id is None
    session.refresh(won)
    assert won.owner_id == org.sales_a1.id  # a won deal stays with whoever won it
    moves = session.scalars(select(LeadMove).where(LeadMove.reason == MoveReason.STAFF_LEFT)).all()
    assert {(move.lead_id, move.moved_by_id) for move in moves} == {
        (org.lead_a1.id, org.store_admin_a.id),
        (second.id, org.store_admin_a.id),
    }


def test_leaving_salespersons_leads_can_go_to_a_named_colleague(org, session, frozen_now):
    _staff, moved = organisation.set_staff_left(
        session, org.store_admin_a, org.sales_a1.id, clock.now(), hand_to=org.sales_a2.id
    )
    assert moved == 1
    session.refresh(org.lead_a1)
    assert org.lead_a1.owner_id == org.sales_a2.id
    assert org.lead_a1.due_at == clock.now()  # the new owner should call at once


@pytest.mark.parametrize("receiver", ["sales_b", "advisor_a", "sales_a1"])
def test_leads_cannot_go_to_another_stores_or_a_non_sales_colleague(
    org, session, frozen_now, receiver
):
    with pytest.raises((ValidationError, NotFound)):
        organisation.set_staff_left(
            session,
            org.store_admin_a,
            org.sales_a1.id,
            clock.now(),
            hand_to=getattr(org, receiver).id,
        )
    session.refresh(org.sales_a1)
    session.refresh(org.lead_a1)
    assert org.sales_a1.active is True
    assert org.lead_a1.owner_id == org.sales_a1.id


def test_archived_lead_wakes_into_the_pool_a_quarter_later(org, session, frozen_now):
    leads.archive(session, org.sales_a1, org.lead_a1.id, "postponed", "", clock.now())
    assert wake_dormant_leads(session, clock.now() + timedelta(days=90)) == 0
    assert wake_dormant_leads(session, clock.now() + timedelta(days=91)) == 1
    session.refresh(org.lead_a1)
    assert (org.lead_a1.status, org.lead_a1.lead_class, org.lead_a1.owner_id) == (
        LeadStatus.OPEN,
        "dormant",
        None,
    )
    assert wake_dormant_leads(session, clock.now() + timedelta(days=92)) == 0


def test_six_months_without_interaction_makes_a_pool_lead_dormant(org, session, frozen_now):
    org.pool_lead_a.last_contact_at = clock.now() - timedelta(days=181)
    session.commit()
    assert mark_dormant_leads(session, clock.now()) == 1
    assert mark_dormant_leads(session, clock.now()) == 0
    session.refresh(org.pool_lead_a)
    assert org.pool_lead_a.lead_class == "dormant"


def test_pool_is_searched_by_model_source_class_and_age(org, session, frozen_now):
    now = clock.now()
    wanted = f.LeadFactory(
        store=org.store_a,
        model_of_interest="凯美瑞",
        source="auto_show",
        lead_class="intent",
        created_at=now - timedelta(days=10),
    )
    f.LeadFactory(store=org.store_a, model_of_interest="凯美瑞", source="online")
    f.LeadFactory(store=org.store_a, model_of_interest="汉兰达", source="auto_show")

    def found(**filters):
        query = pool.browse_query(org.sales_a2, pool.PoolFilters(**filters), now)
        return [lead.id for lead in session.scalars(query)]

    assert found(model_of_interest="凯美瑞", source="auto_show") == [wanted.id]
    assert found(lead_class="intent") == [wanted.id]
    assert wanted.id in found(age="month")
    assert wanted.id not in found(age="week")
    assert found(phone=wanted.phone) == [wanted.id]


def test_pool_age_filter_refuses_unknown_buckets(org, session, frozen_now):
    with pytest.raises(ValidationError):
        pool.browse_query(org.sales_a1, pool.PoolFilters(age="decade"), clock.now())
