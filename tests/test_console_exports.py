"""Excel exports of the console's older pages — 发送队列, complaints, surveys, staff, stores,
imports (with an import's whole error report) and the audit log (issue 10 "Console pages":
Excel export of any list, only for roles allowed to export PII; exports are logged).

Each export holds every row of the page's filter (not just the first page), only what the
actor's scope shows, the phones where the list has people; each is one "list.export" event.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm import clock
from crm.errors import Forbidden, ValidationError
from crm.models import AuditEvent, ImportBatch, OutboxState
from crm.services import audit_log
from crm.services.console_lists import complaints as complaint_list
from crm.services.console_lists import imports as import_lists
from crm.services.console_lists import outbox as outbox_list
from crm.services.console_lists import staff as staff_members
from crm.services.console_lists import stores as store_list
from crm.services.console_lists import surveys as survey_list
from tests import factories as f
from tests.conftest import login
from tests.test_outbox_console import queued


def sheet(content: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def column(rows: list[tuple], header: str) -> list:
    index = rows[0].index(header)
    return [row[index] for row in rows[1:]]


def export_events(session) -> list[AuditEvent]:
    return session.scalars(
        select(AuditEvent).where(AuditEvent.action == "list.export").order_by(AuditEvent.id)
    ).all()


# --- 发送队列 ----------------------------------------------------------------------------------


def test_outbox_export_holds_every_page_of_the_filter_with_phone_and_reason(org, session):
    for _ in range(52):
        queued(session, org.customer_a1, OutboxState.FAILED, errcode=43101, error="用户拒收")
    queued(session, org.customer_a2, OutboxState.SENT)
    queued(session, org.customer_b, OutboxState.FAILED, error="B店失败")

    content, count = outbox_list.export(
        session, org.store_admin_a, {"state": "failed"}, clock.now()
    )

    rows = sheet(content)
    assert count == 52 == len(rows) - 1  # more than the page's 50
    assert set(column(rows, "手机号")) == {org.customer_a1.phone[3:]}
    assert set(column(rows, "原因")) == {"用户拒收"} and set(column(rows, "错误码")) == {43101}
    assert set(column(rows, "分店")) == {"杭州A店"} and set(column(rows, "状态")) == {"发送失败"}
    (event,) = export_events(session)
    assert event.detail == {"list": "outbox", "filters": {"state": "failed"}, "rows": 52}


def test_outbox_page_links_its_export_with_the_current_filter(client, org, session):
    queued(session, org.customer_a1, OutboxState.FAILED, error="用户拒收")
    login(client, org.store_admin_a)

    page = client.get("/console/outbox?state=failed").get_data(as_text=True)
    assert 'href="/console/outbox/export.xlsx?state=failed"' in page
    response = client.get("/console/outbox/export.xlsx?state=failed")
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert column(sheet(response.data), "客户") == [org.customer_a1.name]


# --- complaints ---------------------------------------------------------------------------------


def test_complaint_export_keeps_the_breached_filter_and_the_store_scope(org, session, frozen_now):
    late = f.ComplaintFactory(customer=org.customer_a1, text="等了两个小时")
    on_time = f.ComplaintFactory(customer=org.customer_a2, text="洗车不干净")
    f.ComplaintFactory(customer=org.customer_b, text="B店投诉")
    on_time.contact_due_at = clock.now() + timedelta(hours=2)
    session.commit()
    frozen_now.shift(timedelta(minutes=30))  # the first one's 10 minutes are over

    everything = sheet(complaint_list.export(session, org.store_admin_a, {}, clock.now())[0])
    breached = sheet(
        complaint_list.export(session, org.store_admin_a, {"breached": "1"}, clock.now())[0]
    )

    assert sorted(column(everything, "内容")) == sorted(["等了两个小时", "洗车不干净"])
    assert column(breached, "投诉编号") == [late.id]
    assert column(breached, "是否超时") == ["是"]
    assert column(breached, "手机号") == [org.customer_a1.phone[3:]]
    events = export_events(session)
    assert [e.detail["filters"] for e in events] == [{}, {"breached": True}]


def test_a_care_specialist_handles_complaints_but_may_not_export_them(client, org, session):
    f.ComplaintFactory(customer=org.customer_a1)
    login(client, org.care_a)

    page = client.get("/console/complaints").get_data(as_text=True)
    assert "data-complaint" in page and "data-export" not in page
    assert client.get("/console/complaints/export.xlsx").status_code == 403
    with pytest.raises(Forbidden):
        complaint_list.export(session, org.care_a, {}, clock.now())
    assert export_events(session) == []


# --- surveys ------------------------------------------------------------------------------------


def test_survey_export_holds_the_quarters_surveys_answered_or_not_with_their_class(org, session):
    promoter = f.SurveyFactory(customer=org.customer_a1, score=10, comment="很满意")
    detractor = f.SurveyFactory(customer=org.customer_a2, score=3)
    waiting = f.SurveyFactory(customer=org.customer_a1)
    low_cs = f.SurveyFactory(customer=org.customer_a2, kind="cs", score=2)
    f.SurveyFactory(customer=org.customer_a1, period="2026Q1", score=9)
    f.SurveyFactory(customer=org.customer_b, score=0)

    content, count = survey_list.export(session, org.store_admin_a, {}, clock.now())

    rows = sheet(content)
    cells = zip(column(rows, "分类"), column(rows, "状态"), strict=True)
    by_id = dict(zip(column(rows, "问卷编号"), cells, strict=True))
    assert count == 4
    assert by_id == {
        promoter.id: ("推荐者", "已作答"),
        detractor.id: ("贬损者", "已作答"),
        waiting.id: (None, "待作答"),  # an empty cell
        low_cs.id: ("低分", "已作答"),
    }
    assert "很满意" in column(rows, "留言")
    (event,) = export_events(session)
    assert event.detail == {"list": "surveys", "filters": {"period": "2026Q2"}, "rows": 4}


def test_survey_export_of_another_quarter_and_a_bad_quarter(client, org, session):
    f.SurveyFactory(customer=org.customer_a1, period="2026Q1", score=9)
    login(client, org.group_admin)

    page = client.get("/console/surveys?period=2026Q1").get_data(as_text=True)
    assert "/console/surveys/export.xlsx?period=2026Q1" in page
    rows = sheet(client.get("/console/surveys/export.xlsx?period=2026Q1").data)
    assert column(rows, "季度") == ["2026年第1季度"]

    refused = client.get("/console/surveys/export.xlsx?period=soon", follow_redirects=True)
    assert refused.headers["Content-Type"].startswith("text/html")
    assert len(export_events(session)) == 1


# --- staff and stores ---------------------------------------------------------------------------


def test_staff_export_filters_by_role_and_status_within_the_store(org, session, frozen_now):
    org.sales_a2.active = False
    session.commit()

    active_sales = sheet(
        staff_members.export(session, org.store_admin_a, {"role": "salesperson"}, clock.now())[0]
    )
    everyone = sheet(
        staff_members.export(session, org.store_admin_a, {"status": "all"}, clock.now())[0]
    )

    assert column(active_sales, "姓名") == ["销售A1"]
    assert column(active_sales, "手机号") == [org.sales_a1.phone[3:]]
    assert "销售A2" in column(everyone, "姓名") and "销售B" not in column(everyone, "姓名")
    assert set(column(everyone, "分店")) == {"杭州A店"}


def test_a_bad_staff_filter_is_named_and_exports_nothing(client, org, session):
    login(client, org.store_admin_a)

    response = client.get("/console/staff?role=boss")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请选择有效的角色" in page and "销售A1" in page
    refused = client.get("/console/staff/export.xlsx?role=boss", follow_redirects=True)
    assert "请选择有效的角色" in refused.get_data(as_text=True)
    with pytest.raises(ValidationError):
        staff_members.export(session, org.store_admin_a, {"status": "gone"}, clock.now())
    assert export_events(session) == []


def test_store_export_counts_staff_in_post_and_keeps_to_the_scope(org, session):
    org.sales_b.active = False
    session.commit()

    group = sheet(store_list.export(session, org.group_admin, clock.now())[0])
    own = sheet(store_list.export(session, org.store_admin_a, clock.now())[0])

    in_post = dict(zip(column(group, "分店编码"), column(group, "在职员工"), strict=True))
    assert in_post == {"A01": 6, "B01": 1}  # B: its admin; its salesperson has left
    assert column(own, "名称") == ["杭州A店"]


# --- imports ------------------------------------------------------------------------------------


def test_an_imports_whole_error_report_exports_beyond_the_500_on_the_page(client, org, session):
    errors = [{"row": row, "column": "手机", "reason": "手机号格式不正确"} for row in range(2, 602)]
    batch = ImportBatch(
        store_id=org.store_a.id, filename="线索.xlsx", total_rows=700, good_rows=100, errors=errors
    )
    session.add(batch)
    session.commit()
    login(client, org.store_admin_a)

    page = client.get(f"/console/imports/{batch.id}").get_data(as_text=True)
    assert "导出全部 600 条错误" in page and "另有 100 条错误未列出" in page
    rows = sheet(client.get(f"/console/imports/{batch.id}/errors.xlsx").data)

    assert rows[0] == ("行号", "列", "原因") and len(rows) == 601
    assert rows[-1] == (601, "手机", "手机号格式不正确")
    (event,) = export_events(session)
    assert event.detail == {"list": "import_errors", "filters": {"batch": batch.id}, "rows": 600}


def test_import_batches_export_lists_the_kinds_batches_of_the_scope(org, session):
    mine = ImportBatch(store_id=org.store_a.id, filename="a.xlsx", total_rows=3, errors=[])
    theirs = ImportBatch(store_id=org.store_b.id, filename="b.xlsx", errors=[])
    orders = ImportBatch(store_id=org.store_a.id, kind="service_orders", filename="o.xlsx")
    session.add_all([mine, theirs, orders])
    session.commit()

    leads = sheet(import_lists.export_batches(session, org.store_admin_a, "leads", clock.now())[0])
    service = sheet(
        import_lists.export_batches(session, org.group_admin, "service_orders", clock.now())[0]
    )

    assert column(leads, "文件") == ["a.xlsx"] and column(leads, "总行数") == [3]
    assert column(service, "文件") == ["o.xlsx"]


# --- the audit log ------------------------------------------------------------------------------


def test_audit_export_holds_the_filtered_events_and_is_itself_logged(client, org, session):
    login(client, org.store_admin_a)
    client.get(f"/console/customers/{org.customer_a1.id}")
    client.get("/console/outbox/export.xlsx")

    page = client.get("/console/audit").get_data(as_text=True)
    assert "列表：</span>发送队列" in page  # the list by its title, not its name
    rows = sheet(client.get("/console/audit/export.xlsx?action=list.export").data)

    assert column(rows, "操作") == ["导出列表"]
    assert column(rows, "操作人") == ["A店管理员"]
    assert column(rows, "详情") == ["列表：发送队列；筛选：无；行数：0"]
    last = export_events(session)[-1]
    assert last.detail == {"list": "audit", "filters": {"action": "list.export"}, "rows": 1}
    assert audit_log.describe(last)[0] == ("列表", "审计日志")


# --- who may export -----------------------------------------------------------------------------

PAGES = {
    "outbox": ("/console/outbox", "/console/outbox/export.xlsx"),
    "complaints": ("/console/complaints", "/console/complaints/export.xlsx"),
    "surveys": ("/console/surveys", "/console/surveys/export.xlsx"),
    "staff": ("/console/staff", "/console/staff/export.xlsx"),
    "stores": ("/console/stores", "/console/stores/export.xlsx"),
    "imports": ("/console/imports", "/console/imports/batches.xlsx"),
    "audit": ("/console/audit", "/console/audit/export.xlsx"),
}


@pytest.mark.parametrize("role", ["sales_a1", "supervisor_a1", "advisor_a", "care_a"])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_roles_without_pii_export_get_no_export_link_and_403(client, org, session, role, name):
    page_url, export_url = PAGES[name]
    f.ComplaintFactory(customer=org.customer_a1)
    login(client, getattr(org, role))

    page = client.get(page_url)
    assert "data-export" not in page.get_data(as_text=True)
    assert client.get(export_url).status_code == 403
    assert export_events(session) == []


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_offers_the_store_admin_its_export(client, org, session, name):
    page_url, export_url = PAGES[name]
    queued(session, org.customer_a1, OutboxState.FAILED)
    f.ComplaintFactory(customer=org.customer_a1)
    f.SurveyFactory(customer=org.customer_a1, score=8)
    session.add(ImportBatch(store_id=org.store_a.id, filename="a.xlsx", errors=[]))
    session.commit()
    login(client, org.store_admin_a)
    client.get(f"/console/customers/{org.customer_a1.id}")  # an audit event to list

    page = client.get(page_url).get_data(as_text=True)
    assert "data-export" in page and export_url.split("?")[0] in page
    response = client.get(export_url)
    assert response.status_code == 200 and len(sheet(response.data)) > 1
    assert "宁波B店" not in str(sheet(response.data)) and "客户丙" not in str(sheet(response.data))
