"""Scoping (ARCHITECTURE rule 1): each role sees exactly its records; a record outside the
actor's scope answers 404 — not 403, and not the record."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import access, clock
from crm.errors import Forbidden, NotFound
from crm.models import Customer, Lead, Staff, Store
from tests.conftest import login

# role attribute -> (customers seen, leads seen, stores seen)
VISIBILITY = {
    "group_admin": (
        {"customer_a1", "customer_a2", "customer_b"},
        {"lead_a1", "lead_a2", "lead_b", "pool_lead_a"},
        {"store_a", "store_b"},
    ),
    "store_admin_a": (
        {"customer_a1", "customer_a2"},
        {"lead_a1", "lead_a2", "pool_lead_a"},
        {"store_a"},
    ),
    "supervisor_a1": ({"customer_a1"}, {"lead_a1", "pool_lead_a"}, {"store_a"}),
    "sales_a1": ({"customer_a1"}, {"lead_a1", "pool_lead_a"}, {"store_a"}),
    "sales_b": ({"customer_b"}, {"lead_b"}, {"store_b"}),
    "advisor_a": ({"customer_a1", "customer_a2"}, set(), {"store_a"}),
    "care_a": (
        {"customer_a1", "customer_a2"},
        {"lead_a1", "lead_a2", "pool_lead_a"},
        {"store_a"},
    ),
}
ALL_CUSTOMERS = {"customer_a1", "customer_a2", "customer_b"}
ALL_STORES = {"store_a", "store_b"}


def _names(org, session, model, actor, candidates):
    ids = set(session.scalars(access.scope(select(model.id), actor, model)))
    return {name for name in candidates if getattr(org, name).id in ids}


@pytest.mark.parametrize("role", VISIBILITY)
def test_scope_shows_each_role_exactly_its_records(org, session, role):
    actor = getattr(org, role)
    customers, leads, stores = VISIBILITY[role]
    assert _names(org, session, Customer, actor, ALL_CUSTOMERS) == customers
    all_leads = {"lead_a1", "lead_a2", "lead_b", "pool_lead_a"}
    assert _names(org, session, Lead, actor, all_leads) == leads
    assert _names(org, session, Store, actor, ALL_STORES) == stores


@pytest.mark.parametrize("role", VISIBILITY)
def test_record_outside_scope_raises_not_found_not_forbidden(org, role):
    actor = getattr(org, role)
    customers, _, _ = VISIBILITY[role]
    for name in ALL_CUSTOMERS - customers:
        with pytest.raises(NotFound):
            access.get_or_404(Customer, getattr(org, name).id, actor)
    for name in customers:
        assert access.get_or_404(Customer, getattr(org, name).id, actor) is getattr(org, name)


def test_role_without_the_action_gets_forbidden_on_a_visible_record(org):
    with pytest.raises(Forbidden):
        access.require(org.sales_a1, "staff.edit", org.sales_a1)
    with pytest.raises(NotFound):
        access.require(org.store_admin_a, "staff.edit", org.sales_b)


def test_a_left_staff_member_sees_nothing(org, session):
    org.sales_a1.active = False
    org.sales_a1.left_at = clock.now()
    session.commit()
    assert session.scalars(access.scope(select(Customer), org.sales_a1)).all() == []
    assert session.scalars(access.scope(select(Lead), org.sales_a1)).all() == []


def test_supervisor_sees_the_team_staff_but_not_other_teams(org, session):
    seen = set(session.scalars(access.scope(select(Staff.name), org.supervisor_a1, Staff)))
    assert seen == {"销售A1", "A一组主管"}


# --- over HTTP: the console answers 404 for another's record, by id -------------------------

HTTP_CASES = [
    # (actor, record attribute, url pattern, visible?)
    ("store_admin_a", "customer_a1", "/console/customers/{id}", True),
    ("store_admin_a", "customer_b", "/console/customers/{id}", False),
    ("store_admin_b", "customer_a2", "/console/customers/{id}", False),
    ("sales_a1", "customer_a1", "/console/customers/{id}", True),
    ("sales_a1", "customer_a2", "/console/customers/{id}", False),
    ("supervisor_a1", "customer_a1", "/console/customers/{id}", True),
    ("supervisor_a1", "customer_a2", "/console/customers/{id}", False),
    ("advisor_a", "customer_a2", "/console/customers/{id}", True),
    ("advisor_a", "customer_b", "/console/customers/{id}", False),
    ("care_a", "customer_b", "/console/customers/{id}", False),
    ("group_admin", "customer_b", "/console/customers/{id}", True),
    ("store_admin_a", "sales_a2", "/console/staff/{id}", True),
    ("store_admin_a", "sales_b", "/console/staff/{id}", False),
    ("supervisor_a1", "sales_a2", "/console/staff/{id}", False),
    ("sales_a1", "sales_a2", "/console/staff/{id}", False),
    ("store_admin_b", "store_a", "/console/stores/{id}", False),
    ("store_admin_a", "store_a", "/console/stores/{id}", True),
    ("group_admin", "store_b", "/console/stores/{id}", True),
]


@pytest.mark.parametrize(("actor", "record", "url", "visible"), HTTP_CASES)
def test_console_answers_404_for_records_outside_the_actors_scope(
    client, org, actor, record, url, visible
):
    login(client, getattr(org, actor))
    target = getattr(org, record)
    response = client.get(url.format(id=target.id))
    page = response.get_data(as_text=True)
    if visible:
        assert response.status_code == 200
        assert target.name in page
    else:
        assert response.status_code == 404
        assert target.name not in page
        assert "页面或记录不存在" in page or "记录不存在" in page
