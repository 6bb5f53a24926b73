from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm.models import AuditEvent
from crm.services import audit
from tests.factories import CustomerFactory, StaffFactory

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_an_event_names_actor_and_subject_by_id(session):
    staff = StaffFactory(role="store_admin")
    customer = CustomerFactory(store=staff.store)
    audit.record(
        session,
        staff,
        "customer.export",
        subject_type="customer",
        subject_id=customer.id,
        customer_id=customer.id,
        store_id=customer.store_id,
        detail={"format": "xlsx", "rows": 1},
        now=NOW,
    )
    session.flush()
    event = session.scalars(select(AuditEvent)).one()
    assert (event.actor_kind, event.actor_staff_id, event.actor_customer_id) == (
        "staff",
        staff.id,
        None,
    )
    assert (event.action, event.customer_id, event.occurred_at) == (
        "customer.export",
        customer.id,
        NOW,
    )
    assert event.detail == {"format": "xlsx", "rows": 1}


def test_a_customer_or_the_system_can_be_the_actor(session):
    customer = CustomerFactory()
    by_customer = audit.record(
        session,
        customer,
        "privacy.request",
        subject_type="customer",
        subject_id=customer.id,
        now=NOW,
    )
    by_system = audit.record(
        session, None, "customer.erase", subject_type="customer", subject_id=customer.id, now=NOW
    )
    assert (by_customer.actor_kind, by_customer.actor_customer_id) == ("customer", customer.id)
    assert (by_system.actor_kind, by_system.actor_staff_id) == ("system", None)


@pytest.mark.parametrize("key", ["phone", "id_number", "name"])
def test_personal_data_is_refused_in_the_detail(session, key):
    with pytest.raises(ValueError, match=key):
        audit.record(
            session,
            None,
            "customer.view",
            subject_type="customer",
            subject_id=1,
            detail={key: "x"},
            now=NOW,
        )
    assert session.scalars(select(AuditEvent)).all() == []
