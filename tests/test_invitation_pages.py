"""Binding QR codes on screen: staff invitations in the console, member-binding codes on the
console and on the salesperson's phone."""

from __future__ import annotations

from sqlalchemy import select

from crm.models import BindingInvitation
from tests.conftest import login


def _invitations(session, **whom):
    return session.scalars(select(BindingInvitation).filter_by(**whom)).all()


def test_admin_shows_a_new_staff_members_invitation_qr(client, org, session):
    login(client, org.store_admin_a)
    response = client.post(f"/console/staff/{org.sales_a2.id}/invitation")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<svg" in page and "销售A2" in page and "仅可使用一次" in page
    (invitation,) = _invitations(session, staff_id=org.sales_a2.id)
    assert invitation.scene.startswith("bind") and invitation.ticket.startswith("sandbox-")


def test_admin_cannot_invite_staff_of_another_store(client, org, session):
    login(client, org.store_admin_a)
    response = client.post(f"/console/staff/{org.sales_b.id}/invitation")
    assert response.status_code == 404
    assert _invitations(session, staff_id=org.sales_b.id) == []


def test_salesperson_shows_their_customer_a_member_binding_qr_on_the_phone(client, org, session):
    client.post("/h5/login", data={"phone": org.sales_a1.phone})
    home = client.get("/h5/").get_data(as_text=True)
    assert f'action="/h5/customers/{org.customer_a1.id}/binding-qr"' in home
    response = client.post(f"/h5/customers/{org.customer_a1.id}/binding-qr")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<svg" in page and "请客户甲扫码成为会员" in page
    assert len(_invitations(session, customer_id=org.customer_a1.id)) == 1


def test_salesperson_cannot_make_a_code_for_a_colleagues_customer(client, org, session):
    client.post("/h5/login", data={"phone": org.sales_a1.phone})
    response = client.post(f"/h5/customers/{org.customer_a2.id}/binding-qr")
    assert response.status_code == 404
    assert _invitations(session, customer_id=org.customer_a2.id) == []


def test_member_binding_qr_from_the_customer_page(client, org, session):
    login(client, org.store_admin_a)
    page = client.get(f"/console/customers/{org.customer_a1.id}").get_data(as_text=True)
    assert "会员绑定二维码" in page
    response = client.post(f"/console/customers/{org.customer_a1.id}/invitation")
    assert response.status_code == 200 and "客户甲" in response.get_data(as_text=True)
