"""The report pages in the console: figures in the HTML, scopes, filters and their errors
(issue 10 "Reports")."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import time_machine

from tests import factories as f
from tests.conftest import login

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OCTOBER_LEAD = datetime(2026, 10, 31, 15, 30, tzinfo=UTC)  # 23:30 Beijing, 31 October


def seed(org):
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a1, created_at=OCTOBER_LEAD)
    f.CommunicationFactory(lead=lead, occurred_at=OCTOBER_LEAD, channel="visit")
    f.DealFactory(lead=lead)
    for _ in range(3):
        f.LeadFactory(store=org.store_b, owner=org.sales_b, created_at=OCTOBER_LEAD)


def cells(html: str, store_id: int) -> dict[str, str]:
    row = re.search(rf'<tr data-store="{store_id}">(.*?)</tr>', html, re.S).group(1)
    return dict(re.findall(r'data-figure="(\w+)">([^<]*)<', row))


def test_the_group_admin_sees_every_store_side_by_side(org, client, session):
    seed(org)
    with time_machine.travel(NOW, tick=False):
        login(client, org.group_admin)
        html = client.get("/console/reports/funnel?month=2026-10").get_data(as_text=True)

    assert cells(html, org.store_a.id) == {
        "leads": "1",
        "communications": "1",
        "visits": "1",
        "deals": "1",
        "conversion": "100.0%",
    }
    assert cells(html, org.store_b.id)["leads"] == "3"
    assert "销售A1" in html and "销售B" in html
    assert 'data-chart="funnel"' in html and "echarts.min.js" in html
    assert "<script>" not in html  # charts are drawn by static/js/reports.js


def test_a_store_admin_sees_their_store_only_and_another_store_is_404(org, client, session):
    seed(org)
    with time_machine.travel(NOW, tick=False):
        login(client, org.store_admin_a)
        html = client.get("/console/reports/funnel?month=2026-10").get_data(as_text=True)
        other = client.get(f"/console/reports/funnel?month=2026-10&store={org.store_b.id}")

    assert "杭州A店" in html and "宁波B店" not in html and "销售B" not in html
    assert f'data-store="{org.store_b.id}"' not in html
    assert other.status_code == 404


def test_the_kpi_dashboard_shows_actual_target_mark_and_definition(org, client, session):
    seed(org)
    with time_machine.travel(NOW, tick=False):
        login(client, org.store_admin_a)
        html = client.get("/console/reports/kpis?month=2026-10").get_data(as_text=True)

    row = re.search(r'<tr data-kpi="lead_conversion">(.*?)</tr>', html, re.S).group(1)
    assert "<b>100.0%</b>" in row and "≥30%" in row and 'data-mark="green"' in row
    assert 'title="本月新建线索中已成交' in row
    unavailable = re.search(r'<tr data-kpi="insurance_renewal">(.*?)</tr>', html, re.S).group(1)
    assert "暂无数据" in unavailable


def test_the_drill_down_lists_the_leads_behind_the_conversion(org, client, session):
    seed(org)
    with time_machine.travel(NOW, tick=False):
        login(client, org.store_admin_a)
        page = client.get("/console/reports/kpis/lead_conversion?month=2026-10")
        unknown = client.get("/console/reports/kpis/no_such_kpi?month=2026-10")

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "共 1 条" in html and 'data-hit="true"' in html
    assert "2026-10-31 23:30" in html
    assert unknown.status_code == 404


def test_a_bad_month_is_shown_beside_the_field_and_nothing_else_changes(org, client, session):
    with time_machine.travel(NOW, tick=False):
        login(client, org.store_admin_a)
        bad = client.get("/console/reports/funnel?month=2026-13")
        future = client.get("/console/reports/kpis?month=2027-01")

    assert bad.status_code == 400
    assert '<p class="error" role="alert" data-field="month">月份格式应为如 2026-10</p>' in (
        bad.get_data(as_text=True)
    )
    assert future.status_code == 400 and "不能选择未来的月份" in future.get_data(as_text=True)


def test_a_salesperson_cannot_open_the_reports(org, client, session):
    with time_machine.travel(NOW, tick=False):
        login(client, org.sales_a1)
        response = client.get("/console/reports/funnel")
    assert response.status_code == 403
