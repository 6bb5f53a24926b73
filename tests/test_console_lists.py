"""The console's lists (issue 10 "Console pages"): customers searched by phone through the
blind index or by name, segment filters, leads by class/status/owner/store/created range in
Beijing days, deals, vehicles and service orders; sorting by whitelisted columns, 50 rows a
page with the total, empty states, scope per role, and the customer page logged as viewed."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from crm.errors import ValidationError
from crm.extensions import db
from crm.models import AuditEvent, CustomerSegment, Deal, LeadClass
from crm.services.console_lists import customers, leads, listing
from tests import factories as f
from tests.conftest import login


def _rows(page: str, kind: str) -> list[str]:
    return re.findall(rf'<tr data-{kind}="([^"]+)"', page)


def _listed(session, actor, spec, **values) -> list:
    view = listing.open_list(session, actor, spec, values)
    assert view.errors == {}
    return list(session.scalars(view.query))


# --- customers -------------------------------------------------------------------------------


def test_customer_found_by_phone_through_the_blind_index(session, org):
    national = org.customer_a1.phone[3:]
    query = customers.base_query(session, org.store_admin_a, customers.Filters(q=national))

    assert "phone_index" in str(query)
    assert list(session.scalars(query)) == [org.customer_a1]
    formatted = f"{national[:3]} {national[3:7]} {national[7:]}"
    assert _listed(session, org.store_admin_a, customers.SPEC, q=formatted) == [org.customer_a1]


def test_customer_phone_search_stays_inside_the_actors_scope(session, org):
    found = _listed(session, org.store_admin_a, customers.SPEC, q=org.customer_b.phone)
    assert found == []


def test_customer_found_by_part_of_the_name_among_those_in_scope(session, org):
    f.CustomerFactory(store=org.store_b, group_id=org.store_b.group_id, name="客户甲乙")

    assert _listed(session, org.store_admin_a, customers.SPEC, q="甲") == [org.customer_a1]
    by_group = _listed(session, org.group_admin, customers.SPEC, q="甲")
    assert {c.name for c in by_group} == {"客户甲", "客户甲乙"}


def test_name_search_over_too_many_customers_asks_to_narrow_it(session, org):
    filters = customers.Filters(q="甲")
    assert list(session.scalars(customers.base_query(session, org.store_admin_a, filters))) == [
        org.customer_a1
    ]
    with pytest.raises(ValidationError) as refused:
        customers.base_query(session, org.store_admin_a, filters, scan_limit=1)
    assert refused.value.field == "q" and "请先选择分店或分群" in refused.value.message


def test_customer_segment_filter_lists_only_that_value(session, org):
    for customer, value_class in ((org.customer_a1, "A"), (org.customer_a2, "C")):
        session.add(
            CustomerSegment(
                customer_id=customer.id,
                store_id=customer.store_id,
                value_class=value_class,
                computed_on=date(2026, 6, 15),
            )
        )
    session.commit()

    assert _listed(session, org.store_admin_a, customers.SPEC, value_class="A") == [org.customer_a1]
    view = listing.open_list(session, org.store_admin_a, customers.SPEC, {"value_class": "Z"})
    assert view.errors == {"value_class": "请选择有效的价值分类"}


def test_customer_list_page_shows_the_store_only_to_its_admin(client, org):
    login(client, org.store_admin_a)
    page = client.get("/console/customers").get_data(as_text=True)
    assert "客户甲" in page and "客户乙" in page and "客户丙" not in page
    assert "共 2 条" in page


def test_salesperson_sees_only_their_own_customers_and_no_export(client, org):
    login(client, org.sales_a1)
    page = client.get("/console/customers").get_data(as_text=True)
    assert _rows(page, "customer") == [str(org.customer_a1.id)]
    assert "导出 Excel" not in page


def test_bad_phone_search_is_named_beside_the_field(client, org):
    login(client, org.store_admin_a)
    response = client.get("/console/leads?q=12ab")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'data-field="q"' in page
    assert len(_rows(page, "lead")) == 3  # the unfiltered list


def test_opening_a_customer_is_logged_as_viewed(client, org, session):
    login(client, org.store_admin_a)
    page = client.get(f"/console/customers/{org.customer_a1.id}").get_data(as_text=True)

    assert "客户甲" in page
    event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_staff_id, event.customer_id, event.store_id) == (
        "customer.view",
        org.store_admin_a.id,
        org.customer_a1.id,
        org.store_a.id,
    )


def test_another_stores_customer_answers_404_and_is_not_logged(client, org, session):
    login(client, org.store_admin_a)
    assert client.get(f"/console/customers/{org.customer_b.id}").status_code == 404
    assert session.scalars(select(AuditEvent)).all() == []


# --- leads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("group_admin", {"线索甲", "线索乙", "线索丙", "池中线索"}),
        ("store_admin_a", {"线索甲", "线索乙", "池中线索"}),
        ("supervisor_a1", {"线索甲", "池中线索"}),
        ("sales_a1", {"线索甲", "池中线索"}),
        ("advisor_a", set()),
    ],
)
def test_lead_list_is_scoped_per_role(session, org, role, expected):
    listed = _listed(session, getattr(org, role), leads.SPEC)
    assert {lead.name for lead in listed} == expected


def test_lead_filters_by_owner_pool_class_and_store(session, org):
    org.lead_a2.lead_class = LeadClass.KEY.value
    session.commit()
    admin = org.group_admin

    assert _listed(session, admin, leads.SPEC, owner=str(org.sales_a1.id)) == [org.lead_a1]
    assert _listed(session, admin, leads.SPEC, owner="pool") == [org.pool_lead_a]
    assert _listed(session, admin, leads.SPEC, lead_class="key") == [org.lead_a2]
    assert _listed(session, admin, leads.SPEC, store=str(org.store_b.id)) == [org.lead_b]


def test_lead_created_at_2330_beijing_on_the_last_day_is_inside_the_range(session, org):
    late = f.LeadFactory(
        store=org.store_a, created_at=datetime(2026, 5, 31, 15, 30, tzinfo=UTC)
    )  # 23:30 on 31 May in Beijing
    admin = org.store_admin_a

    assert _listed(session, admin, leads.SPEC, start="2026-05-01", end="2026-05-31") == [late]
    assert late not in _listed(session, admin, leads.SPEC, start="2026-06-01")


def test_lead_range_backwards_is_refused_on_the_end_field(session, org):
    values = {"start": "2026-06-10", "end": "2026-06-01"}
    view = listing.open_list(session, org.store_admin_a, leads.SPEC, values)
    assert view.errors == {"end": "结束日期不能早于开始日期"}


def test_clicking_a_header_sorts_by_it_and_again_reverses(client, org, session):
    org.lead_a1.created_at = datetime(2026, 6, 1, tzinfo=UTC)
    org.lead_a2.created_at = datetime(2026, 6, 3, tzinfo=UTC)
    org.pool_lead_a.created_at = datetime(2026, 6, 2, tzinfo=UTC)
    session.commit()
    login(client, org.store_admin_a)

    newest_first = client.get("/console/leads").get_data(as_text=True)
    ids = [str(lead.id) for lead in (org.lead_a2, org.pool_lead_a, org.lead_a1)]
    assert _rows(newest_first, "lead") == ids
    header = re.search(r'href="([^"]+)" data-sort="created_at"', newest_first).group(1)
    oldest_first = client.get(header.replace("&amp;", "&")).get_data(as_text=True)
    assert _rows(oldest_first, "lead") == ids[::-1]
    assert 'aria-sort="ascending"' in oldest_first


def test_an_unknown_sort_column_falls_back_to_the_default(session, org):
    view = listing.open_list(session, org.store_admin_a, leads.SPEC, {"sort": "phone"})
    assert view.sort == leads.SPEC.default_sort


def test_lead_list_pages_by_50_with_the_total(client, org):
    for _ in range(57):
        f.LeadFactory(store=org.store_a)
    login(client, org.store_admin_a)

    first = client.get("/console/leads").get_data(as_text=True)
    second = client.get("/console/leads?page=2").get_data(as_text=True)

    assert len(_rows(first, "lead")) == 50 and len(_rows(second, "lead")) == 10
    assert "第 1 / 2 页，共 60 条" in first
    assert not set(_rows(first, "lead")) & set(_rows(second, "lead"))


def test_an_empty_list_says_so(client, org):
    login(client, org.store_admin_a)
    page = client.get("/console/leads?status=won").get_data(as_text=True)
    assert "没有符合条件的线索。" in page and "<table" not in page


# --- deals, vehicles, service orders -------------------------------------------------------


def _deal(org, lead, status="deposit", deposit_on=date(2026, 6, 1)) -> Deal:
    deal = Deal(
        store_id=lead.store_id,
        lead_id=lead.id,
        salesperson_id=lead.owner_id,
        model="凯美瑞",
        status=status,
        deposit_fen=500000,
        deposit_on=deposit_on,
    )
    db.session.add(deal)
    db.session.commit()
    return deal


def test_deal_list_filters_by_status_and_deposit_date_in_scope(client, org):
    paid = _deal(org, org.lead_a1, "paid", date(2026, 6, 10))
    _deal(org, org.lead_a2, "deposit", date(2026, 5, 10))
    _deal(org, org.lead_b)
    login(client, org.store_admin_a)

    everything = client.get("/console/deals").get_data(as_text=True)
    assert len(_rows(everything, "deal")) == 2 and "线索丙" not in everything
    june = client.get("/console/deals?start=2026-06-01&status=paid").get_data(as_text=True)
    assert _rows(june, "deal") == [str(paid.id)] and "已付全款" in june


def test_vehicle_list_finds_a_plate_and_shows_the_owner(client, org):
    car = f.VehicleFactory(customer=org.customer_a1, plate="浙A12345")
    f.VehicleFactory(customer=org.customer_a2, plate="浙A99999")
    f.VehicleFactory(customer=org.customer_b, plate="浙B12345")
    login(client, org.store_admin_a)

    page = client.get("/console/vehicles?q=12345").get_data(as_text=True)

    assert _rows(page, "vehicle") == [str(car.id)]
    assert "客户甲" in page and "浙A12345" in page


def test_service_order_list_filters_settled_orders_and_sorts_by_total(client, org):
    car = f.VehicleFactory(customer=org.customer_a1)
    cheap = f.ServiceOrderFactory(vehicle=car, work_order_no="WO-C", labour_fen=100)
    dear = f.ServiceOrderFactory(vehicle=car, work_order_no="WO-D", labour_fen=900000)
    f.ServiceOrderFactory(vehicle=car, work_order_no="WO-P", paid_on=date(2026, 6, 1))
    login(client, org.store_admin_a)

    open_orders = client.get("/console/service-orders?paid=no&sort=total_fen&order=asc")
    page = open_orders.get_data(as_text=True)

    assert _rows(page, "work-order") == [cheap.work_order_no, dear.work_order_no]
    assert "导入工单" in page


def test_service_orders_of_another_role_keep_their_scope(client, org):
    f.ServiceOrderFactory(vehicle=f.VehicleFactory(customer=org.customer_b), work_order_no="WO-B")
    login(client, org.advisor_a)
    page = client.get("/console/service-orders").get_data(as_text=True)
    assert "WO-B" not in page and "还没有工单" in page and "导入工单" not in page


def test_lists_answer_only_known_names(client, org):
    login(client, org.store_admin_a)
    assert client.get("/console/payments").status_code == 404
