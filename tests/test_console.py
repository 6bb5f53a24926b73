"""The desktop console over HTTP: log-in, security of the session, and the organisation forms."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import clock, create_app
from crm.models import Staff, Store
from tests import factories as f
from tests.conftest import app_config, login
from tests.factories import PASSWORD


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_login_page_asks_for_phone_and_password(client):
    page = client.get("/console/login").get_data(as_text=True)
    assert "员工登录" in page and 'name="phone"' in page and 'name="password"' in page


def test_wrong_password_is_refused_in_chinese(client, org):
    response = login(client, org.store_admin_a, password="wrong-password")
    assert response.status_code == 400
    assert "手机号或密码不正确" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_admin_logs_in_and_sees_the_figures_of_their_store(client, org):
    response = login(client, org.store_admin_a)
    assert response.status_code == 302 and response.location.endswith("/console/")
    page = client.get("/console/").get_data(as_text=True)
    assert re.search(r'data-figure="customers">2<', page)
    assert re.search(r'data-figure="pool_leads">1<', page)
    assert "杭州A店" in page


def test_group_admin_sees_the_whole_group(client, org):
    login(client, org.group_admin)
    page = client.get("/console/").get_data(as_text=True)
    assert re.search(r'data-figure="customers">3<', page)
    assert re.search(r'data-figure="stores">2<', page)


def test_login_is_rate_limited(client, org):
    for _ in range(5):
        assert login(client, org.store_admin_a, password="wrong-password").status_code == 400
    blocked = login(client, org.store_admin_a)
    assert blocked.status_code == 429
    assert "尝试次数过多" in blocked.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, org):
    response = login(client, org.store_admin_a)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_session_cookie_is_secure(tmp_path, app):
    production = create_app(
        app_config(
            tmp_path,
            CRM_ENV="production",
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID="wx-prod",
            WECHAT_APP_SECRET="prod-secret",
        )
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is False  # test/dev mode serves plain http


@pytest.fixture
def csrf_client(tmp_path, app, session):
    guarded = create_app(
        app_config(
            tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], WTF_CSRF_ENABLED=True
        )
    )
    return guarded.test_client()


def test_forms_without_the_csrf_token_are_refused(csrf_client, org):
    response = csrf_client.post(
        "/console/login", data={"phone": org.store_admin_a.phone, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)


def test_forms_with_the_csrf_token_are_accepted(csrf_client, org):
    page = csrf_client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = csrf_client.post(
        "/console/login",
        data={"phone": org.store_admin_a.phone, "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302


def test_session_survives_a_restart_with_the_same_secret_key(tmp_path, app, client, org):
    login(client, org.store_admin_a)
    cookie = client.get_cookie("crm_session")
    restarted = create_app(app_config(tmp_path, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"]))
    other = restarted.test_client()
    other.set_cookie("crm_session", cookie.value)
    assert other.get("/console/").status_code == 200


def test_logout_ends_the_session(client, org):
    login(client, org.store_admin_a)
    assert client.post("/console/logout").status_code == 302
    assert client.get("/console/").status_code == 302


def test_left_staff_members_session_stops_working_at_once(client, app, org):
    login(client, org.sales_a1)
    assert client.get("/console/").status_code == 200
    admin = app.test_client()
    login(admin, org.store_admin_a)
    assert admin.post(f"/console/staff/{org.sales_a1.id}/leave").status_code == 302
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.location


def test_admin_creates_a_store_through_the_form(client, org, session):
    login(client, org.group_admin)
    response = client.post(
        "/console/stores/new",
        data={"code": "WZ01", "name": "温州鹿城店", "city": "温州", "phone": "0577-88001234"},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "已创建分店：温州鹿城店" in page
    assert session.scalar(select(Store).where(Store.code == "WZ01")).phone == "+8657788001234"


def test_duplicate_store_code_is_shown_beside_the_field_and_nothing_changes(client, org, session):
    login(client, org.group_admin)
    before = _count(session, Store)
    response = client.post("/console/stores/new", data={"code": "A01", "name": "重复店"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'data-field="code">分店编码 A01 已被“杭州A店”使用<', page)
    assert 'value="重复店"' in page  # what was typed is kept
    assert _count(session, Store) == before


def test_store_admin_cannot_open_the_new_store_form(client, org):
    login(client, org.store_admin_a)
    assert client.get("/console/stores/new").status_code == 403


def test_admin_adds_staff_through_the_form(client, org, session):
    login(client, org.store_admin_a)
    response = client.post(
        "/console/staff/new",
        data={
            "name": "新同事",
            "phone": "13900000077",
            "role": "service_advisor",
            "store_id": str(org.store_a.id),
            "password": "long-enough-1",
        },
        follow_redirects=True,
    )
    assert "已添加员工：新同事" in response.get_data(as_text=True)
    staff = session.scalar(select(Staff).where(Staff.name == "新同事"))
    assert (staff.role, staff.store_id) == ("service_advisor", org.store_a.id)


def test_moving_staff_to_a_store_outside_scope_is_refused_on_the_page(client, org, session):
    login(client, org.store_admin_a)
    response = client.post(
        f"/console/staff/{org.sales_a1.id}",
        data={
            "name": org.sales_a1.name,
            "phone": org.sales_a1.phone,
            "role": "salesperson",
            "store_id": str(org.store_b.id),
        },
    )
    assert response.status_code == 400
    assert "所选分店不存在或不在您的管理范围内" in response.get_data(as_text=True)
    session.refresh(org.sales_a1)
    assert org.sales_a1.store_id == org.store_a.id


def test_staff_list_is_paginated_and_filtered(client, org, session):
    for number in range(25):
        f.StaffFactory(store=org.store_b, group_id=org.store_b.group_id, name=f"批量{number:02d}")
    login(client, org.store_admin_b)
    first = client.get("/console/staff").get_data(as_text=True)
    second = client.get("/console/staff?page=2").get_data(as_text=True)
    rows = re.compile(r'href="/console/staff/(\d+)"')
    assert len(rows.findall(first)) == 20
    assert len(rows.findall(second)) == 7  # 25 + B's admin and salesperson
    assert not set(rows.findall(first)) & set(rows.findall(second))
    assert "第 1 / 2 页，共 27 条" in first and "下一页" in first
    advisors = client.get("/console/staff?role=service_advisor").get_data(as_text=True)
    assert "没有符合条件的员工" in advisors


def test_customer_list_masks_phone_numbers(client, org):
    login(client, org.store_admin_a)
    page = client.get("/console/customers").get_data(as_text=True)
    national = org.customer_a1.phone[3:]
    assert f"{national[:3]}****{national[-4:]}" in page
    assert national not in page


def test_leaving_staff_page_offers_colleagues_to_take_over_the_leads(client, org):
    login(client, org.store_admin_a)
    page = client.get(f"/console/staff/{org.sales_a1.id}").get_data(as_text=True)
    assert "线索移交给" in page
    assert f'<option value="{org.sales_a2.id}">销售A2' in page
    assert "销售B" not in page  # another store's salesperson cannot take them


def test_leaving_with_a_named_colleague_hands_over_the_leads(client, org, session):
    login(client, org.store_admin_a)
    response = client.post(
        f"/console/staff/{org.sales_a1.id}/leave",
        data={"hand_to": str(org.sales_a2.id)},
        follow_redirects=True,
    )
    assert "1 条线索已移交指定同事" in response.get_data(as_text=True)
    session.refresh(org.lead_a1)
    assert org.lead_a1.owner_id == org.sales_a2.id


def test_leaving_with_a_non_sales_colleague_as_receiver_changes_nothing(client, org, session):
    login(client, org.store_admin_a)
    response = client.post(
        f"/console/staff/{org.sales_a1.id}/leave",
        data={"hand_to": str(org.advisor_a.id)},
        follow_redirects=True,
    )
    assert "请选择同店在职的销售顾问接手" in response.get_data(as_text=True)
    session.refresh(org.sales_a1)
    session.refresh(org.lead_a1)
    assert org.sales_a1.active is True
    assert org.lead_a1.owner_id == org.sales_a1.id


def test_customer_page_shows_every_contact_newest_first(client, org, session):
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a1, customer_id=org.customer_a1.id)
    f.CommunicationFactory(
        lead=lead, content="第一次电话", occurred_at=clock.now() - timedelta(days=2)
    )
    f.CommunicationFactory(
        lead=lead, content="到店看车", occurred_at=clock.now() - timedelta(days=1)
    )
    login(client, org.store_admin_a)
    page = client.get(f"/console/customers/{org.customer_a1.id}").get_data(as_text=True)
    assert "沟通记录" in page
    assert page.index("到店看车") < page.index("第一次电话")
