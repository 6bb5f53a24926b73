"""Entering, re-classing and archiving leads (PRODUCT "The customer pool", "Lead classes
and cadence")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from crm import clock
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import Lead, LeadMove, LeadStatus, MoveReason
from crm.services import leads, timeline
from crm.services.leads import DuplicateLead, LeadInput
from tests import factories as f


@pytest.fixture
def models(org):
    f.CarModelFactory(group_id=org.store_a.group_id, name="凯美瑞")
    f.CarModelFactory(group_id=org.store_a.group_id, name="停售车", active=False)


def new(**overrides) -> LeadInput:
    values = {"name": "王先生", "phone": "13912345678", "source": "showroom"}
    values.update(overrides)
    return LeadInput(**values)


def lead_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Lead))


def test_salespersons_new_lead_is_theirs_and_due_for_a_call_within_the_hour(
    org, session, frozen_now, models
):
    lead = leads.create_lead(session, org.sales_a1, new(model_of_interest="凯美瑞"), clock.now())
    assert lead.owner_id == org.sales_a1.id
    assert lead.store_id == org.store_a.id
    assert lead.due_at == clock.now() + timedelta(hours=1)
    assert lead.phone == "+8613912345678"
    move = session.scalar(select(LeadMove).where(LeadMove.lead_id == lead.id))
    assert move.reason == MoveReason.CREATED


def test_store_admins_new_lead_goes_to_the_pool(org, session, frozen_now):
    lead = leads.create_lead(session, org.store_admin_a, new(), clock.now())
    assert lead.owner_id is None
    assert lead.due_at is None


def test_phone_is_stored_encrypted(org, session, frozen_now):
    lead = leads.create_lead(session, org.sales_a1, new(), clock.now())
    raw = session.execute(text("SELECT phone, name FROM leads WHERE id = :id"), {"id": lead.id})
    phone, name = raw.one()
    assert "13912345678" not in phone
    assert "王先生" not in name


def test_duplicate_phone_in_the_store_shows_the_owner_instead_of_a_second_record(
    org, session, frozen_now
):
    org.lead_a1.last_contact_at = clock.now() - timedelta(days=2)
    session.commit()
    before = lead_count(session)
    with pytest.raises(DuplicateLead) as error:
        leads.create_lead(session, org.sales_a2, new(phone=org.lead_a1.phone), clock.now())
    duplicate = error.value.duplicate
    assert (duplicate.kind, duplicate.owner_name) == ("lead", "销售A1")
    assert duplicate.last_contact_at == clock.now() - timedelta(days=2)
    assert "销售A1" in error.value.message
    assert lead_count(session) == before


def test_duplicate_of_a_store_customer_is_detected(org, session, frozen_now):
    with pytest.raises(DuplicateLead) as error:
        leads.create_lead(session, org.sales_a2, new(phone=org.customer_a1.phone), clock.now())
    assert error.value.duplicate.kind == "customer"


def test_same_phone_in_another_store_is_not_a_duplicate(org, session, frozen_now):
    lead = leads.create_lead(session, org.sales_b, new(phone=org.lead_a1.phone), clock.now())
    assert lead.store_id == org.store_b.id


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"phone": "12345"}, "phone"),
        ({"source": "tv"}, "source"),
        ({"source": "referral", "referrer": ""}, "referrer"),
        ({"model_of_interest": "不存在的车"}, "model_of_interest"),
        ({"model_of_interest": "停售车"}, "model_of_interest"),
        ({"purchase_timeframe": "soon"}, "purchase_timeframe"),
    ],
)
def test_bad_new_lead_names_the_field_and_creates_nothing(
    org, session, frozen_now, models, overrides, field
):
    before = lead_count(session)
    with pytest.raises(ValidationError) as error:
        leads.create_lead(session, org.sales_a1, new(**overrides), clock.now())
    assert error.value.field == field
    assert lead_count(session) == before


def test_referral_keeps_who_referred(org, session, frozen_now):
    lead = leads.create_lead(
        session, org.sales_a1, new(source="referral", referrer="老客户李四"), clock.now()
    )
    assert lead.referrer == "老客户李四"


def test_service_advisor_cannot_enter_leads(org, session, frozen_now):
    with pytest.raises(Forbidden):
        leads.create_lead(session, org.advisor_a, new(), clock.now())


def test_enquiry_through_a_salespersons_qr_code_is_theirs(org, session, frozen_now):
    lead = leads.create_enquiry(
        session, org.store_a, new(source="qr_code"), clock.now(), org.sales_a1
    )
    assert lead.owner_id == org.sales_a1.id
    assert lead.consented_at == clock.now()


def test_enquiry_without_a_salesperson_lands_in_the_pool(org, session, frozen_now):
    lead = leads.create_enquiry(session, org.store_a, new(source="online"), clock.now(), None)
    assert lead.owner_id is None


def test_enquiry_through_a_left_salesperson_lands_in_the_pool(org, session, frozen_now):
    org.sales_a1.active = False
    session.commit()
    lead = leads.create_enquiry(
        session, org.store_a, new(source="qr_code"), clock.now(), org.sales_a1
    )
    assert lead.owner_id is None


def test_lost_lead_keeps_its_reason_and_goes_to_the_dormant_pool(org, session, frozen_now):
    lead = leads.archive(
        session, org.sales_a1, org.lead_a1.id, "competitor", "买了对手车", clock.now()
    )
    assert (lead.status, lead.lead_class, lead.owner_id) == (LeadStatus.LOST, "dormant", None)
    assert (lead.lost_reason, lead.lost_note, lead.lost_at) == (
        "competitor",
        "买了对手车",
        clock.now(),
    )
    assert lead.lost_reason_label == "已购竞品"
    move = session.scalar(
        select(LeadMove).where(LeadMove.lead_id == lead.id, LeadMove.reason == "archived")
    )
    assert (move.from_owner_id, move.moved_by_id) == (org.sales_a1.id, org.sales_a1.id)


def test_archiving_needs_a_known_reason(org, session, frozen_now):
    with pytest.raises(ValidationError) as error:
        leads.archive(session, org.sales_a1, org.lead_a1.id, "bored", "", clock.now())
    assert error.value.field == "reason"
    assert org.lead_a1.status == LeadStatus.OPEN


def test_reclassifying_against_the_rules_needs_a_reason(org, session, frozen_now):
    with pytest.raises(ValidationError) as error:
        leads.reclassify(session, org.sales_a1, org.lead_a1.id, "key", "", clock.now())
    assert error.value.field == "class_reason"
    lead = leads.reclassify(session, org.sales_a1, org.lead_a1.id, "key", "已谈价格", clock.now())
    assert (lead.lead_class, lead.class_reason) == ("key", "已谈价格")


def test_salesperson_cannot_reclassify_another_salespersons_lead(org, session, frozen_now):
    with pytest.raises(NotFound):
        leads.reclassify(session, org.sales_a2, org.lead_a1.id, "key", "x", clock.now())


def test_customer_timeline_shows_every_contact_by_anyone_newest_first(org, session, frozen_now):
    first = f.LeadFactory(store=org.store_a, owner=org.sales_a1, customer_id=org.customer_a1.id)
    second = f.LeadFactory(store=org.store_a, owner=org.sales_a2, customer_id=org.customer_a1.id)
    f.CommunicationFactory(lead=first, content="最早", occurred_at=clock.now() - timedelta(days=3))
    f.CommunicationFactory(lead=second, content="最新", occurred_at=clock.now() - timedelta(days=1))
    f.CommunicationFactory(lead=first, content="中间", occurred_at=clock.now() - timedelta(days=2))
    customer, entries = timeline.for_customer(session, org.sales_a1, org.customer_a1.id)
    contents = [dict(entry.lines)["沟通内容"] for entry in entries if entry.kind == "communication"]
    assert contents == ["最新", "中间", "最早"]
    assert [entry.staff_name for entry in entries if entry.kind == "communication"] == [
        "销售A2",
        "销售A1",
        "销售A1",
    ]


def test_customer_timeline_of_another_salespersons_customer_is_not_found(org, session):
    with pytest.raises(NotFound):
        timeline.for_customer(session, org.sales_a2, org.customer_a1.id)
