"""The audit-log page (issue 10 "Console pages": who viewed or exported which customer data,
who changed what), and the changes the services record in it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm import clock
from crm.errors import Forbidden
from crm.models import AuditEvent, Role
from crm.services import audit, audit_log, handover
from crm.services import org as organisation
from tests.conftest import login


def _events(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _view(session, actor, customer, at=None):
    audit.record(
        session,
        actor,
        "customer.view",
        subject_type="customer",
        subject_id=customer.id,
        customer_id=customer.id,
        store_id=customer.store_id,
        now=at or clock.now(),
    )
    session.commit()


def _listed(session, actor, **values) -> list[AuditEvent]:
    view = audit_log.open_page(session, actor, values)
    return list(session.scalars(view.query))


def test_store_admin_reads_their_stores_events_and_the_group_admin_all(session, org):
    _view(session, org.sales_a1, org.customer_a1)
    _view(session, org.sales_b, org.customer_b)

    seen_by_a = _listed(session, org.store_admin_a)
    assert [e.customer_id for e in seen_by_a] == [org.customer_a1.id]
    assert {e.customer_id for e in _listed(session, org.group_admin)} == {
        org.customer_a1.id,
        org.customer_b.id,
    }


@pytest.mark.parametrize("role", ["sales_a1", "supervisor_a1", "advisor_a", "care_a"])
def test_other_roles_may_not_read_the_audit_log(client, session, org, role):
    with pytest.raises(Forbidden):
        audit_log.open_page(session, getattr(org, role), {})
    login(client, getattr(org, role))
    assert client.get("/console/audit").status_code == 403
    assert "审计日志" not in client.get("/console/").get_data(as_text=True)


def test_filters_by_action_staff_customer_and_beijing_days(session, org):
    late = datetime(2026, 5, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 May in Beijing
    _view(session, org.sales_a1, org.customer_a1, at=late)
    _view(session, org.sales_a2, org.customer_a2)
    organisation.reinstate_staff(session, org.store_admin_a, org.sales_a1.id, clock.now())
    admin = org.store_admin_a

    assert len(_listed(session, admin)) == 2  # reinstating an active member changes nothing
    assert [e.actor_staff_id for e in _listed(session, admin, staff=str(org.sales_a2.id))] == [
        org.sales_a2.id
    ]
    assert [e.occurred_at for e in _listed(session, admin, end="2026-05-31")] == [late]
    assert _listed(session, admin, start="2026-06-01", customer=str(org.customer_a1.id)) == []
    assert len(_listed(session, admin, action="customer.view")) == 2
    assert _listed(session, admin, action="list.export") == []


def test_bad_filter_is_shown_beside_its_field(client, org):
    login(client, org.store_admin_a)
    response = client.get("/console/audit?customer=abc")
    assert response.status_code == 400
    assert 'data-field="customer">客户编号应为正整数<' in response.get_data(as_text=True)


def test_page_shows_who_did_what_to_which_customer(client, org, session):
    login(client, org.store_admin_a)
    client.get(f"/console/customers/{org.customer_a1.id}")
    client.get("/console/leads/export.xlsx?lead_class=key")

    page = client.get("/console/audit").get_data(as_text=True)

    rows = re.findall(r'<tr data-event="\d+" data-action="([^"]+)"', page)
    assert rows == ["list.export", "customer.view"]
    assert "查看客户资料" in page and "导出列表" in page and "A店管理员" in page
    assert f"#{org.customer_a1.id}" in page and "lead_class=key" in page
    assert org.customer_a1.phone[3:] not in page and "客户甲" not in page


def test_staff_changes_are_recorded_by_the_services(session, org):
    admin, now = org.store_admin_a, clock.now()
    data = organisation.StaffInput(
        name="销售A1",
        phone=org.sales_a1.phone,
        role=Role.SUPERVISOR.value,
        store_id=org.store_a.id,
        team_id=org.team_a1.id,
    )
    organisation.update_staff(session, admin, org.sales_a1.id, data, now)
    organisation.set_staff_left(session, admin, org.sales_a1.id, now, hand_to=org.sales_a2.id)
    organisation.reinstate_staff(session, admin, org.sales_a1.id, now)

    (change,) = _events(session, "staff.update")
    assert change.detail == {"fields": ["role"], "role": ["salesperson", "supervisor"]}
    (left,) = _events(session, "staff.leave")
    assert left.detail == {"leads": 1, "to_staff": org.sales_a2.id}
    (moved,) = _events(session, "lead.reassign")
    assert moved.detail == {"leads": 1, "from_staff": org.sales_a1.id, "to_staff": org.sales_a2.id}
    assert [e.subject_id for e in _events(session, "staff.reinstate")] == [org.sales_a1.id]
    assert {e.store_id for e in session.scalars(select(AuditEvent))} == {org.store_a.id}


def test_store_edits_are_recorded_with_the_fields_changed(session, org):
    data = organisation.StoreInput(code="A01", name="杭州A店", city="湖州")
    organisation.update_store(session, org.group_admin, org.store_a.id, data, clock.now())
    organisation.update_store(session, org.group_admin, org.store_a.id, data, clock.now())
    organisation.set_store_active(session, org.group_admin, org.store_b.id, False, clock.now())

    (edit,) = _events(session, "store.update")  # the second save changed nothing
    assert edit.detail == {"fields": ["city"]} and edit.store_id == org.store_a.id
    assert [e.subject_id for e in _events(session, "store.deactivate")] == [org.store_b.id]


def test_assigning_an_advisor_is_recorded(session, org):
    handover.assign_advisor(
        session, org.store_admin_a, org.customer_a1.id, org.advisor_a.id, clock.now()
    )
    (event,) = _events(session, "customer.assign_advisor")
    assert (event.customer_id, event.detail) == (org.customer_a1.id, {"advisor": org.advisor_a.id})
