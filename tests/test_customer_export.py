"""Export of one customer's data (issue 12 "PIPL: export of one customer's data (JSON +
Excel) by allowed roles … in the audit log"; crm.services.customer_export)."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm import clock
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import AuditEvent, CareTask
from crm.services import customer_export, privacy_requests
from tests.test_erasure import ID_NUMBER, a_customer_with_everything


def _export(session, actor, customer, fmt="json", **options):
    return customer_export.export(session, actor, customer.id, fmt, clock.now(), **options)


def _audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent))


def test_the_json_copy_holds_everything_we_keep_on_the_customer(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    customer = built.customer
    file = _export(session, org.store_admin_a, customer)
    data = json.loads(file.content)
    assert file.filename.startswith(f"customer-{customer.id}-") and file.filename.endswith(".json")
    assert set(data) >= {key for key, _title, _build in customer_export.SECTIONS}
    (profile,) = data["profile"]
    assert (profile["name"], profile["phone"], profile["id_number"]) == (
        customer.name,
        built.phone,
        ID_NUMBER,
    )
    assert profile["address"] == "杭州市西湖区文三路100号" and profile["sales_owner"] == "销售A1"
    assert [v["plate"] for v in data["vehicles"]] == ["浙A12345"]
    assert [o["work_items"] for o in data["service_orders"]] == ["更换机油"]
    # The linked lead and the other store's lead with the same phone.
    assert {lead["id"] for lead in data["leads"]} == {built.lead.id, built.other_store_lead.id}
    assert data["communications"][0]["content"].startswith("电话沟通")
    assert [d["model"] for d in data["deals"]] == ["凯美瑞"]
    assert data["bookings"][0]["note"] == "甲要求上午"
    assert data["complaints"][0]["photos"] == 1
    assert data["complaint_photos"] == [
        {
            "complaint_id": built.complaint.id,
            "content_type": "image/jpeg",
            "size": 3,
            "created_at": data["complaint_photos"][0]["created_at"],
        }
    ]
    assert data["surveys"][0]["comment"] == "甲：等太久"
    assert data["consents"][0]["purpose"] == "售后服务与用车提醒"
    assert {m["state"] for m in data["messages"]} == {"待发送", "已合并", "已发送"}
    assert data["messages"][0]["fields"]["plate"] == "浙A12345"
    assert {t["kind"] for t in data["care_tasks"]} == {"交车7日回访", "个人信息申请"}
    # The openid is our key to their WeChat account: shown masked.
    assert data["wechat_identities"] == [
        {
            "app": "公众号",
            "openid": "o-er****0001",
            "subscribed": False,
            "bound_at": data["wechat_identities"][0]["bound_at"],
        }
    ]


def test_the_excel_copy_has_a_sheet_per_section_with_chinese_headers(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    built.complaint.text = '=HYPERLINK("http://evil")'
    session.commit()
    file = _export(session, org.group_admin, built.customer, "xlsx")
    assert file.filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(file.content))
    assert book.sheetnames == [title for _key, title, _build in customer_export.SECTIONS]
    profile = book["个人资料"]
    headers = [cell.value for cell in profile[1]]
    assert headers[:4] == ["编号", "姓名", "手机号", "身份证号"]
    assert profile.cell(2, 3).value == built.phone and profile.cell(2, 3).data_type == "s"
    complaint = book["投诉"]
    text_column = [cell.value for cell in complaint[1]].index("内容") + 1
    cell = complaint.cell(2, text_column)
    assert cell.value == '=HYPERLINK("http://evil")' and cell.data_type == "s"
    assert [cell.value for cell in book["会员卡"][1]] == ["（无记录）"]


def test_each_export_is_in_the_audit_log_with_its_format(org, session, frozen_now):
    customer = org.customer_a1
    _export(session, org.store_admin_a, customer, "json")
    _export(session, org.store_admin_a, customer, "xlsx")
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.detail["format"]) for e in events] == [
        ("customer.export", "json"),
        ("customer.export", "xlsx"),
    ]
    assert {(e.actor_staff_id, e.customer_id, e.store_id) for e in events} == {
        (org.store_admin_a.id, customer.id, customer.store_id)
    }


@pytest.mark.parametrize("role", ["sales_a1", "supervisor_a1", "advisor_a", "care_a"])
def test_other_roles_are_forbidden_and_nothing_is_logged(org, session, frozen_now, role):
    with pytest.raises(Forbidden):
        _export(session, getattr(org, role), org.customer_a1)
    assert _audit_count(session) == 0


def test_another_stores_customer_answers_404_and_nothing_is_logged(org, session, frozen_now):
    with pytest.raises(NotFound):
        _export(session, org.store_admin_b, org.customer_a1)
    assert _audit_count(session) == 0


def test_an_unknown_format_is_refused_and_nothing_is_logged(org, session, frozen_now):
    with pytest.raises(ValidationError) as refused:
        _export(session, org.store_admin_a, org.customer_a1, "csv")
    assert refused.value.field == "format"
    assert _audit_count(session) == 0


def test_an_export_can_fulfil_the_customers_request_for_a_copy(org, session, frozen_now):
    customer = org.customer_a1
    privacy_requests.request(session, customer, "export", "", clock.now())
    assert customer_export.open_export_request(session, customer) is not None
    _export(session, org.store_admin_a, customer, "json")
    assert customer_export.open_export_request(session, customer) is not None
    file = _export(session, org.store_admin_a, customer, "xlsx", fulfil_request=True)
    assert file.request_fulfilled
    task = session.scalar(select(CareTask).where(CareTask.kind == "privacy_request"))
    assert task.done_by_id == org.store_admin_a.id and "Excel" in task.outcome
    assert customer_export.open_export_request(session, customer) is None
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last.detail == {"format": "xlsx", "request_task_id": task.id}
