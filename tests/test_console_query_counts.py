"""Every console list issues a number of SQL statements independent of its row count (issue
10 "Performance"): a page of 3 rows and a full page (out of 60) cost the same."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import event

from crm import clock
from crm.extensions import db
from crm.models import AuditEvent, Deal, ImportBatch, OutboxMessage, Role
from crm.services import audit
from tests import factories as f
from tests.conftest import login

PAGES = ["customers", "leads", "deals", "vehicles", "service-orders"]


@contextmanager
def counted(app):
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _populate(store, admin, advisor, count: int) -> None:
    """``count`` customers, each with an owner, an advisor, a segment-less car, a service
    order, a lead, a deal, a failed message, a complaint, a low NPS answer and an import,
    all at ``store``."""
    for _ in range(count):
        owner = f.StaffFactory(store=store, role=Role.SALESPERSON.value)
        customer = f.CustomerFactory(store=store, sales_owner_id=owner.id, advisor_id=advisor.id)
        vehicle = f.VehicleFactory(customer=customer)
        f.ServiceOrderFactory(vehicle=vehicle, advisor_id=advisor.id)
        lead = f.LeadFactory(store=store, owner=owner, customer_id=customer.id)
        db.session.add(
            Deal(
                store_id=store.id,
                lead_id=lead.id,
                salesperson_id=owner.id,
                customer_id=customer.id,
                model="凯美瑞",
                deposit_fen=500000,
                deposit_on=date(2026, 6, 1),
            )
        )
        db.session.add(
            OutboxMessage(
                store_id=store.id,
                customer_id=customer.id,
                kind="new_car",
                due_on=date(2026, 6, 15),
                dedupe_key=f"count:{customer.id}",
                payload={},
                not_before=clock.now(),
                state="failed",
            )
        )
        f.ComplaintFactory(customer=customer)
        f.SurveyFactory(customer=customer, score=2)
        db.session.add(ImportBatch(store_id=store.id, filename="a.xlsx", created_by_id=admin.id))
        audit.record(
            db.session,
            owner,
            "customer.view",
            subject_type="customer",
            subject_id=customer.id,
            customer_id=customer.id,
            store_id=store.id,
            now=clock.now(),
        )
    db.session.commit()


def _statements(client, path: str) -> tuple[int, str]:
    with counted(client.application) as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


@pytest.fixture
def small_and_large(session, frozen_now):
    group = f.GroupFactory()
    small, large = (f.StoreFactory(group=group), f.StoreFactory(group=group))
    admins = []
    for store, count in ((small, 3), (large, 60)):
        admin = f.StaffFactory(store=store, role=Role.STORE_ADMIN.value)
        advisor = f.StaffFactory(store=store, role=Role.SERVICE_ADVISOR.value)
        _populate(store, admin, advisor, count)
        admins.append(admin)
    return admins


@pytest.mark.parametrize("name", PAGES)
def test_a_console_list_costs_the_same_queries_for_3_rows_and_for_60(client, small_and_large, name):
    small_admin, large_admin = small_and_large
    login(client, small_admin)
    client.get(f"/console/{name}")  # warm up: anything cached once per process
    few, small_page = _statements(client, f"/console/{name}")
    client.post("/console/logout")
    login(client, large_admin)
    client.get(f"/console/{name}")
    many, large_page = _statements(client, f"/console/{name}")

    assert "共 3 条" in small_page and "共 60 条" in large_page
    assert large_page.count("<tr data-") == 50
    assert few == many


def test_the_audit_log_page_costs_the_same_queries_for_3_events_and_for_60(
    client, small_and_large, session
):
    small_admin, large_admin = small_and_large
    assert session.query(AuditEvent).count() == 63
    login(client, small_admin)
    client.get("/console/audit")
    few, small_page = _statements(client, "/console/audit")
    client.post("/console/logout")
    login(client, large_admin)
    client.get("/console/audit")
    many, large_page = _statements(client, "/console/audit")

    assert small_page.count("<tr data-event") == 3
    assert large_page.count("<tr data-event") == 50
    assert few == many


# The older pages: (address, what marks one row, rows a full page shows)
OLDER_PAGES = {
    "outbox": ("<tr data-message", 50),
    "complaints": ("<tr data-complaint", 20),
    "surveys": ("<tr data-survey", 30),
    "staff": ("<tr data-staff", 20),
    "imports": ("<tr data-batch", 20),
}


@pytest.mark.parametrize("name", sorted(OLDER_PAGES))
def test_an_older_console_page_costs_the_same_queries_for_few_rows_and_a_full_page(
    client, small_and_large, name
):
    row, per_page = OLDER_PAGES[name]
    small_admin, large_admin = small_and_large
    login(client, small_admin)
    client.get(f"/console/{name}")
    few, small_page = _statements(client, f"/console/{name}")
    client.post("/console/logout")
    login(client, large_admin)
    client.get(f"/console/{name}")
    many, large_page = _statements(client, f"/console/{name}")

    # The staff list holds the store's admin and advisor too.
    assert small_page.count(row) == (5 if name == "staff" else 3)
    assert large_page.count(row) == per_page
    assert few == many
