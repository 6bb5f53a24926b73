"""Excel exports of the console's lists (issue 10 "Console pages": Excel export of any list,
only for roles allowed to export PII; exports are logged)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm import clock
from crm.errors import Forbidden, ValidationError
from crm.models import AuditEvent, Deal
from crm.services.console_lists import LISTS, leads, listing
from tests import factories as f
from tests.conftest import login


def _sheet(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def test_admin_exports_every_page_of_the_filtered_list_with_phones(client, org, session):
    for _ in range(57):
        f.LeadFactory(store=org.store_a, owner=org.sales_a1)
    login(client, org.store_admin_a)

    page = client.get(f"/console/leads?owner={org.sales_a1.id}").get_data(as_text=True)
    assert "导出 Excel" in page
    response = client.get(f"/console/leads/export.xlsx?owner={org.sales_a1.id}")

    assert response.status_code == 200
    rows = _sheet(response.data)
    assert rows[0][:3] == ("线索编号", "姓名", "手机号")
    assert len(rows) == 1 + 58  # header + all pages (57 + 线索甲), not just the first 50
    assert org.lead_a1.phone[3:] in {row[2] for row in rows}
    assert "线索乙" not in {row[1] for row in rows}


def test_every_export_is_logged_with_list_filters_and_count_but_no_personal_data(
    client, org, session
):
    login(client, org.store_admin_a)
    phone = org.customer_a1.phone[3:]
    client.get(f"/console/customers/export.xlsx?q={phone}")

    event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_staff_id, event.store_id) == (
        "list.export",
        org.store_admin_a.id,
        org.store_a.id,
    )
    assert event.detail == {"list": "customers", "filters": {"search": "phone"}, "rows": 1}
    assert phone not in str(event.detail)


@pytest.mark.parametrize("role", ["sales_a1", "supervisor_a1", "advisor_a", "care_a"])
@pytest.mark.parametrize("name", sorted(LISTS))
def test_roles_without_pii_export_get_no_button_and_403(client, org, session, role, name):
    login(client, getattr(org, role))
    page = client.get(f"/console/{name}").get_data(as_text=True)
    assert "导出 Excel" not in page
    assert client.get(f"/console/{name}/export.xlsx").status_code == 403
    assert session.scalars(select(AuditEvent)).all() == []


def test_export_service_refuses_a_salesperson(session, org):
    with pytest.raises(Forbidden):
        listing.export(session, org.sales_a1, leads.SPEC, {}, clock.now())


def test_export_over_the_cap_is_refused_with_the_count_and_not_logged(session, org):
    with pytest.raises(ValidationError) as refused:
        listing.export(session, org.store_admin_a, leads.SPEC, {}, clock.now(), limit=2)

    assert "共 3 行" in refused.value.message and "上限 2 行" in refused.value.message
    assert session.scalars(select(AuditEvent)).all() == []


def test_export_with_a_bad_filter_returns_to_the_list_with_the_message(client, org, session):
    login(client, org.store_admin_a)
    response = client.get("/console/leads/export.xlsx?lead_class=bogus", follow_redirects=True)
    assert "请选择有效的级别" in response.get_data(as_text=True)
    assert session.scalars(select(AuditEvent)).all() == []


@pytest.mark.parametrize("name", sorted(LISTS))
def test_each_list_exports_only_what_the_store_admin_sees(client, org, session, name):
    car_a = f.VehicleFactory(customer=org.customer_a1)
    car_b = f.VehicleFactory(customer=org.customer_b)
    f.ServiceOrderFactory(vehicle=car_a)
    f.ServiceOrderFactory(vehicle=car_b)
    for lead in (org.lead_a1, org.lead_b):
        session.add(
            Deal(
                store_id=lead.store_id,
                lead_id=lead.id,
                salesperson_id=lead.owner_id,
                model="凯美瑞",
                deposit_fen=1000,
                deposit_on=clock.today(),
            )
        )
    session.commit()
    content, count = listing.export(session, org.store_admin_a, LISTS[name], {}, clock.now())

    text = str(_sheet(content))
    assert count == len(_sheet(content)) - 1 and count > 0
    assert "宁波B店" not in text and "客户丙" not in text and "线索丙" not in text
