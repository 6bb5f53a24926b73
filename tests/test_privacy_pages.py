"""The PIPL pages (issue 12): the console's 个人信息与授权 page of a customer (consents,
export download, erasure with confirmation) and the member's consent choices on /m/privacy."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from crm import clock
from crm.models import AuditEvent, CareOptOut, Consent, Customer
from crm.services import erasure
from crm.services.care import holidays
from tests.conftest import login


def _text(response) -> str:
    return response.get_data(as_text=True)


def _error(page: str, field: str) -> str:
    match = re.search(rf'data-field="{field}">([^<]*)<', page)
    assert match, f"no error shown for {field}"
    return match.group(1)


def _audits(session, action: str) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def _privacy_url(customer) -> str:
    return f"/console/customers/{customer.id}/privacy"


def test_the_customer_page_links_to_the_privacy_page_with_admin_actions(client, org, frozen_now):
    login(client, org.store_admin_a)
    page = _text(client.get(f"/console/customers/{org.customer_a1.id}"))
    assert _privacy_url(org.customer_a1) in page
    assert "导出个人信息" in page and "删除个人信息" in page


def test_an_admin_sees_consents_export_and_erase_a_salesperson_only_consents(
    client, org, frozen_now
):
    login(client, org.store_admin_a)
    page = _text(client.get(_privacy_url(org.customer_a1)))
    assert 'class="grid consent-states"' in page and "优惠与活动信息" in page
    assert 'class="card export-form"' in page and 'class="card narrow erase-form"' in page
    client.post("/console/logout")
    login(client, org.sales_a1)
    page = _text(client.get(_privacy_url(org.customer_a1)))
    assert 'class="card narrow consent-form"' in page
    assert "export-form" not in page and "erase-form" not in page


def test_staff_record_a_paper_consent_and_bad_input_is_shown_beside_the_field(
    client, org, session, frozen_now
):
    login(client, org.sales_a1)
    url = f"/console/customers/{org.customer_a1.id}/consents"
    response = client.post(url, data={"purpose": "", "decision": "grant", "channel": "paper"})
    assert response.status_code == 400
    assert _error(_text(response), "purpose") == "请选择授权用途"
    response = client.post(
        url,
        data={"purpose": "marketing", "decision": "withdraw", "channel": "paper", "note": "A-1"},
    )
    assert response.status_code == 302
    page = _text(client.get(_privacy_url(org.customer_a1)))
    row = re.search(r'data-purpose="marketing">(.*?)</tr>', page, re.S).group(1)
    assert "已撤回" in row and "纸质" in row
    consent = session.scalars(select(Consent)).one()
    assert (consent.granted, consent.note, consent.recorded_by_id) == (
        False,
        "A-1",
        org.sales_a1.id,
    )


def test_another_stores_customer_answers_404_on_every_privacy_route(client, org, frozen_now):
    login(client, org.store_admin_b)
    customer = org.customer_a1
    assert client.get(_privacy_url(customer)).status_code == 404
    base = f"/console/customers/{customer.id}"
    assert client.post(f"{base}/export", data={"format": "json"}).status_code == 404
    assert client.post(f"{base}/erase", data={"confirm": str(customer.id)}).status_code == 404
    data = {"purpose": "marketing", "decision": "grant", "channel": "paper"}
    assert client.post(f"{base}/consents", data=data).status_code == 404


def test_an_admin_downloads_the_json_copy_and_it_is_logged(client, org, session, frozen_now):
    login(client, org.store_admin_a)
    customer = org.customer_a1
    response = client.post(f"/console/customers/{customer.id}/export", data={"format": "json"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data)["profile"][0]["phone"] == customer.phone
    assert _audits(session, "customer.export") == 1


def test_a_salesperson_gets_403_and_nothing_is_logged_as_exported(client, org, session, frozen_now):
    login(client, org.sales_a1)
    response = client.post(
        f"/console/customers/{org.customer_a1.id}/export", data={"format": "xlsx"}
    )
    assert response.status_code == 403
    assert org.customer_a1.phone not in _text(response)
    assert _audits(session, "customer.export") == 0


def test_erasing_asks_for_the_customer_id_then_anonymises(client, org, session, frozen_now):
    login(client, org.store_admin_a)
    customer = org.customer_a1
    url = f"/console/customers/{customer.id}/erase"
    response = client.post(url, data={"confirm": "确定"})
    assert response.status_code == 400
    assert _error(_text(response), "confirm") == f"请输入客户编号 {customer.id} 以确认删除"
    assert _audits(session, "customer.erase") == 0
    response = client.post(url, data={"confirm": str(customer.id)})
    assert response.status_code == 302
    page = _text(client.get(response.headers["Location"]))
    assert "已删除该客户的个人信息" in page and 'data-erased="1"' in page
    assert "erase-form" not in page
    session.expire_all()
    assert session.get(Customer, customer.id).name == erasure.anonymous_name(customer.id)
    assert _audits(session, "customer.erase") == 1


def test_an_erased_member_is_logged_out_and_cannot_log_in_again(client, org, session, frozen_now):
    customer = org.customer_a1
    phone = customer.phone
    client.post("/m/login", data={"phone": phone})
    assert client.get("/m/privacy").status_code == 200
    erasure.erase(session, org.store_admin_a, customer.id, str(customer.id), clock.now())
    response = client.get("/m/privacy")
    assert response.status_code == 302 and response.headers["Location"].endswith("/m/login")
    response = client.post("/m/login", data={"phone": phone})
    assert "没有找到该手机号的会员" in _text(response)


def test_the_member_withdraws_and_grants_marketing_on_the_privacy_page(
    client, org, session, frozen_now
):
    customer = org.customer_a1
    client.post("/m/login", data={"phone": customer.phone})
    page = _text(client.get("/m/privacy"))
    row = re.search(r'data-purpose="marketing">(.*?)</div></div>', page, re.S).group(1)
    assert 'value="grant"' in row and "未授权" in row
    response = client.post(
        "/m/privacy/consents", data={"purpose": "marketing", "decision": "withdraw"}
    )
    assert response.status_code == 302
    page = _text(client.get("/m/privacy"))
    assert "您已撤回“优惠与活动信息”授权" in page
    row = re.search(r'data-purpose="marketing">(.*?)</div></div>', page, re.S).group(1)
    assert "已撤回" in row and 'value="grant"' in row
    kinds = set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )
    assert holidays.KIND.name in kinds
    prefs = _text(client.get("/m/preferences"))
    assert 'class="weui-cells__tips marketing-withdrawn"' in prefs
    response = client.post("/m/preferences", data={holidays.KIND.name: ["off", "on"]})
    assert response.status_code == 400
    assert "重新同意" in _error(_text(response), holidays.KIND.name)


def test_the_member_cannot_withdraw_a_purpose_the_service_needs(client, org, frozen_now):
    customer = org.customer_a1
    client.post("/m/login", data={"phone": customer.phone})
    page = _text(client.get("/m/privacy"))
    row = re.search(r'data-purpose="service_reminders">(.*?)</div></div>', page, re.S).group(1)
    assert "<form" not in row
    response = client.post(
        "/m/privacy/consents", data={"purpose": "service_reminders", "decision": "withdraw"}
    )
    assert response.status_code == 400
    assert "申请删除" in _error(_text(response), "purpose")
