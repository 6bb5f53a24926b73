"""The 客户分群 console page over HTTP: the list, its filters and counts, the Excel export, the
thresholds form, the segment on the customer pages, and who sees what."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm import clock
from crm.models import Customer, CustomerSegment, Group
from crm.services import segment_lists, segments
from tests import factories as f
from tests.conftest import login


@dataclass
class Fleet:
    loyal: Customer  # store A: recent paying regular, private car under warranty
    gone: Customer  # store A: commercial car, out of warranty, no visit since 2024
    far: Customer  # store B: official car over five years old, seen this spring


@pytest.fixture
def fleet(org, session) -> Fleet:
    """The org's customers get cars and service history; segments are computed."""
    loyal, gone, far = org.customer_a1, org.customer_a2, org.customer_b
    car = f.VehicleFactory(customer=loyal, purchase_date=date(2025, 2, 1))
    for opened in (date(2025, 12, 1), date(2026, 5, 20)):
        f.ServiceOrderFactory(
            vehicle=car, opened_on=opened, labour_fen=200_000, parts_fen=0, paid_on=opened
        )
    car = f.VehicleFactory(customer=gone, purchase_date=date(2022, 1, 1), usage="commercial")
    f.ServiceOrderFactory(vehicle=car, opened_on=date(2024, 3, 1), paid_on=date(2024, 3, 1))
    car = f.VehicleFactory(customer=far, purchase_date=date(2019, 5, 1), usage="official")
    f.ServiceOrderFactory(vehicle=car, opened_on=date(2026, 4, 1), paid_on=date(2026, 4, 1))
    segments.compute_segments(session, clock.now())
    return Fleet(loyal, gone, far)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _listed(page: str) -> set[int]:
    return {int(found) for found in re.findall(r'<tr data-customer="(\d+)"', page)}


def _count(page: str, dimension: str, value: str) -> int:
    found = re.search(rf'data-count="{dimension}:{value}"><a [^>]*>[^<]*<b>(\d+)</b>', page)
    assert found, f"no count for {dimension}:{value}"
    return int(found.group(1))


def _sheet(response) -> list[tuple]:
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(response.data), read_only=True)
    return list(workbook.active.iter_rows(values_only=True))


# --- the list ---------------------------------------------------------------------------------


def test_segment_page_lists_customers_with_their_segments(client, org, fleet):
    login(client, org.store_admin_a)
    page = _text(client.get("/console/segments"))
    assert "客户分群" in page and "数据日期 2026-06-15" in page
    assert _listed(page) == {fleet.loyal.id, fleet.gone.id}
    loyal_row = re.search(rf'<tr data-customer="{fleet.loyal.id}">.*?</tr>', page, re.S).group(0)
    for label in (
        "客户甲",
        "保修期内",
        "私家车",
        "A类 忠诚客户",
        "潜力客户",
        "2026-05-20",
        "¥4,000.00",
    ):
        assert label in loyal_row
    gone_row = re.search(rf'<tr data-customer="{fleet.gone.id}">.*?</tr>', page, re.S).group(0)
    for label in ("客户乙", "2–5年", "营运车", "D类 流失客户", "流失客户", "已流失"):
        assert label in gone_row
    national = fleet.loyal.phone[3:]
    assert f"{national[:3]}****{national[-4:]}" in page and national not in page


def test_counts_per_segment_value(client, org, fleet):
    login(client, org.group_admin)
    page = _text(client.get("/console/segments"))
    assert _count(page, "value_class", "A") == 1
    assert _count(page, "value_class", "B") == 1
    assert _count(page, "value_class", "D") == 1
    assert _count(page, "value_class", "C") == 0
    assert _count(page, "car_age", "over_5y") == 1
    assert _count(page, "lost", "yes") == 1 and _count(page, "lost", "no") == 2
    # Counts of one dimension follow the filters on the others.
    lost_only = _text(client.get("/console/segments?lost=yes"))
    assert _count(lost_only, "value_class", "A") == 0
    assert _count(lost_only, "value_class", "D") == 1
    assert _count(lost_only, "lost", "no") == 2  # what choosing "not lost" would list


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("value_class=D", {"gone"}),
        ("value_class=A", {"loyal"}),
        ("lost=yes", {"gone"}),
        ("lost=no", {"loyal", "far"}),
        ("rfm=lost", {"gone"}),
        ("rfm=potential", {"loyal", "far"}),
        ("car_age=warranty", {"loyal"}),
        ("car_age=over_5y", {"far"}),
        ("usage=commercial", {"gone"}),
        ("usage=official&rfm=potential", {"far"}),
        ("usage=private&lost=yes", set()),
    ],
)
def test_filters_narrow_the_list(client, org, fleet, query, expected):
    login(client, org.group_admin)
    page = _text(client.get(f"/console/segments?{query}"))
    assert _listed(page) == {getattr(fleet, name).id for name in expected}
    if not expected:
        assert "没有符合条件的客户" in page


def test_group_admin_filters_by_store(client, org, fleet):
    login(client, org.group_admin)
    page = _text(client.get(f"/console/segments?store={org.store_b.id}"))
    assert _listed(page) == {fleet.far.id}
    assert 'name="store"' in page and "宁波B店" in page


def test_a_customer_without_a_vehicle_is_listed_as_unsegmented(client, org, fleet, session):
    bare = f.CustomerFactory(store=org.store_a, group_id=org.store_a.group_id, name="无车客户")
    segments.compute_segments(session, clock.now())
    login(client, org.store_admin_a)
    page = _text(client.get("/console/segments?value_class=none"))
    assert _listed(page) == {bare.id}
    assert _count(page, "value_class", "none") == 1


def test_an_unknown_filter_value_is_named_and_lists_nothing(client, org, fleet):
    login(client, org.group_admin)
    response = client.get("/console/segments?rfm=vip")
    assert response.status_code == 400
    assert re.search(r'data-field="rfm">请选择有效的RFM<', _text(response))
    assert _listed(_text(response)) == set()


@pytest.mark.parametrize("store", ["abc", "0", "99999999999999999999"])
def test_a_bad_store_filter_is_named(client, org, fleet, store):
    login(client, org.group_admin)
    response = client.get(f"/console/segments?store={store}")
    assert response.status_code == 400
    assert re.search(r'data-field="store">请选择有效的分店<', _text(response))


def test_segment_list_is_paginated(client, org, session):
    for number in range(23):
        customer = f.CustomerFactory(
            store=org.store_b, group_id=org.store_b.group_id, name=f"批量{number:02d}"
        )
        f.VehicleFactory(customer=customer)
    segments.compute_segments(session, clock.now())
    login(client, org.store_admin_b)
    first = _text(client.get("/console/segments"))
    second = _text(client.get("/console/segments?page=2"))
    assert len(_listed(first)) == 20 and len(_listed(second)) == 4  # 23 + 客户丙
    assert not _listed(first) & _listed(second)
    assert "第 1 / 2 页，共 24 条" in first


def test_page_before_the_first_computation_says_so(client, org):
    login(client, org.store_admin_a)
    page = _text(client.get("/console/segments"))
    assert "尚未计算" in page and "没有符合条件的客户" in page


# --- access ------------------------------------------------------------------------------------


def test_store_admin_sees_only_their_store(client, org, fleet):
    login(client, org.store_admin_a)
    page = _text(client.get("/console/segments"))
    assert fleet.far.id not in _listed(page) and "客户丙" not in page
    assert 'name="store"' not in page  # one store: no store filter
    other_store = _text(client.get(f"/console/segments?store={org.store_b.id}"))
    assert _listed(other_store) == set()
    assert _count(page, "car_age", "over_5y") == 0  # store B's old car is not counted


def test_salesperson_sees_only_their_own_customers_and_cannot_export(client, org, fleet):
    login(client, org.sales_a1)
    page = _text(client.get("/console/segments"))
    assert _listed(page) == {fleet.loyal.id}
    assert "/console/segments/export.xlsx" not in page
    assert "/console/segments/settings" not in page
    assert client.get("/console/segments/export.xlsx").status_code == 403


def test_service_advisor_is_refused_the_export(client, org, fleet):
    login(client, org.advisor_a)
    assert _listed(_text(client.get("/console/segments"))) == {fleet.loyal.id, fleet.gone.id}
    response = client.get("/console/segments/export.xlsx?value_class=D")
    assert response.status_code == 403
    assert "没有权限" in _text(response)


def test_the_segment_page_needs_a_log_in(client, org):
    response = client.get("/console/segments")
    assert response.status_code == 302 and "/console/login" in response.location
    assert client.get("/console/segments/export.xlsx").status_code == 302


# --- the export ----------------------------------------------------------------------------


def test_group_admin_exports_the_filtered_list_with_names_and_phones(client, org, fleet):
    login(client, org.group_admin)
    page = _text(client.get("/console/segments?lost=no"))
    assert 'href="/console/segments/export.xlsx?lost=no"' in page
    response = client.get("/console/segments/export.xlsx?lost=no")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _sheet(response)
    assert rows[0] == segment_lists.EXPORT_HEADERS
    by_id = {row[0]: row for row in rows[1:]}
    assert set(by_id) == {fleet.loyal.id, fleet.far.id}
    loyal = by_id[fleet.loyal.id]
    assert loyal[1:9] == (
        "客户甲",
        fleet.loyal.phone[3:],
        "杭州A店",
        "保修期内",
        "私家车",
        "A类 忠诚客户",
        "潜力客户",
        "否",
    )
    assert loyal[9] == datetime(2026, 5, 20)
    assert (loyal[10], loyal[11], loyal[12]) == (2, 4000, 4000)
    far = by_id[fleet.far.id]
    assert (far[1], far[3], far[4], far[5]) == ("客户丙", "宁波B店", "5年以上", "公务车")


def test_store_admin_exports_only_their_store(client, org, fleet):
    login(client, org.store_admin_a)
    rows = _sheet(client.get("/console/segments/export.xlsx"))
    assert {row[0] for row in rows[1:]} == {fleet.loyal.id, fleet.gone.id}
    rows = _sheet(client.get(f"/console/segments/export.xlsx?store={org.store_b.id}"))
    assert rows == [segment_lists.EXPORT_HEADERS]


def test_export_of_lost_customers_lists_them(client, org, fleet):
    login(client, org.group_admin)
    rows = _sheet(client.get("/console/segments/export.xlsx?value_class=D&lost=yes"))
    assert [(row[0], row[1], row[8]) for row in rows[1:]] == [(fleet.gone.id, "客户乙", "是")]


def test_export_never_logs_personal_data(client, org, fleet, caplog):
    login(client, org.group_admin)
    with caplog.at_level(logging.DEBUG):
        rows = _sheet(client.get("/console/segments/export.xlsx"))
    assert len(rows) == 4
    assert "segment export by staff" in caplog.text
    for customer in (fleet.loyal, fleet.gone, fleet.far):
        assert customer.name not in caplog.text
        assert customer.phone[3:] not in caplog.text


def test_export_with_a_bad_filter_is_refused_naming_it(client, org, fleet):
    login(client, org.group_admin)
    response = client.get("/console/segments/export.xlsx?car_age=ancient")
    assert response.status_code == 400
    assert "请选择有效的车龄" in _text(response)


# --- thresholds ----------------------------------------------------------------------------


def test_group_admin_sees_the_thresholds_with_their_defaults(client, org):
    login(client, org.group_admin)
    page = _text(client.get("/console/segments/settings"))
    assert 'name="recent_days" type="text" inputmode="decimal" value="180"' in page
    assert 'name="high_spend_yuan" type="text" inputmode="decimal" value="5000"' in page
    assert "默认 3 次" in page


def test_group_admin_saves_thresholds_and_segments_follow(client, org, fleet, session):
    login(client, org.group_admin)
    response = client.post(
        "/console/segments/settings",
        data={"frequent_visits": "2", "high_spend_yuan": "3000", "recent_days": ""},
        follow_redirects=True,
    )
    page = _text(response)
    assert "分群阈值已保存" in page
    assert 'name="frequent_visits" type="text" inputmode="decimal" value="2"' in page
    group = session.get(Group, org.store_a.group_id)
    session.refresh(group)
    assert group.segment_settings == {"frequent_visits": 2, "high_spend_fen": 300_000}
    row = session.get(CustomerSegment, fleet.loyal.id)
    session.refresh(row)
    assert row.rfm == "high_value"


def test_bad_threshold_is_shown_beside_the_field_and_nothing_changes(client, org, fleet, session):
    login(client, org.group_admin)
    response = client.post(
        "/console/segments/settings", data={"frequent_visits": "2", "recent_days": "400"}
    )
    assert response.status_code == 400
    page = _text(response)
    assert re.search(r'data-field="recent_days">请填写 1–364 之间的整数（天）<', page)
    assert 'value="400"' in page  # what was typed is kept
    group = session.get(Group, org.store_a.group_id)
    session.refresh(group)
    assert group.segment_settings == {}


def test_only_the_group_admin_opens_the_thresholds(client, org):
    for staff in (org.store_admin_a, org.sales_a1):
        login(client, staff)
        assert client.get("/console/segments/settings").status_code == 403
        assert client.post("/console/segments/settings", data={}).status_code == 403
        assert client.post("/console/segments/recompute").status_code == 403
        client.post("/console/logout")


def test_group_admin_recomputes_at_once(client, org, session):
    f.VehicleFactory(customer=org.customer_b, purchase_date=date(2019, 1, 1))
    login(client, org.group_admin)
    page = _text(client.get("/console/segments"))
    assert "立即重新计算" in page and "尚未计算" in page
    response = client.post("/console/segments/recompute", follow_redirects=True)
    page = _text(response)
    assert "已重新计算 3 位客户的分群" in page
    assert _listed(page) == {org.customer_a1.id, org.customer_a2.id, org.customer_b.id}


# --- the customer pages --------------------------------------------------------------------


def test_console_customer_page_shows_the_segment(client, org, fleet):
    login(client, org.store_admin_a)
    page = _text(client.get(f"/console/customers/{fleet.gone.id}"))
    section = page[page.index("<h2>客户分群</h2>") : page.index("<h2>车辆</h2>")]
    for label in ("2–5年", "营运车", "D类 流失客户", "已流失（一年未到店）", "2024-03-01"):
        assert label in section


def test_console_customer_page_before_the_first_computation(client, org):
    login(client, org.store_admin_a)
    page = _text(client.get(f"/console/customers/{org.customer_a1.id}"))
    assert "尚未分群" in page


def test_staff_h5_customer_page_shows_the_segment(client, org, fleet):
    login(client, org.sales_a1)
    page = _text(client.get(f"/h5/customers/{fleet.loyal.id}"))
    assert "客户分群（2026-06-15）" in page
    for label in ("保修期内", "私家车", "A类 忠诚客户", "潜力客户", "未流失"):
        assert label in page


def test_customer_segments_of_other_stores_stay_hidden(client, org, fleet, session):
    login(client, org.store_admin_a)
    assert client.get(f"/console/customers/{fleet.far.id}").status_code == 404
    visible = session.scalars(select(CustomerSegment.customer_id)).all()
    assert fleet.far.id in visible  # the row exists; the page just does not show it
