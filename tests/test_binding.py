"""Binding WeChat identities to people as a service: one-time QR invitations issued through the
fake WeChat, spending them, recognising an openid by its unionid, and left staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import BindingInvitation, WeChatApp, WeChatIdentity
from crm.services import binding, wechat_identity
from crm.services import org as organisation
from wechat.client import SharedTokenClient


@pytest.fixture
def qr_client(fake_wechat):
    fake = fake_wechat.fake
    return SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)


def _invitations(session) -> int:
    return session.scalar(select(func.count()).select_from(BindingInvitation))


def _identity(session, openid, app=WeChatApp.OFFICIAL_ACCOUNT) -> WeChatIdentity | None:
    return session.scalar(
        select(WeChatIdentity).where(WeChatIdentity.app == app, WeChatIdentity.openid == openid)
    )


def _invite(session, actor, qr_client, **person) -> BindingInvitation:
    return binding.create_invitation(session, actor, now=clock.now(), qr_client=qr_client, **person)


def test_store_admin_invites_a_staff_member_with_a_week_long_qr_code(
    session, org, qr_client, fake_wechat
):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    assert invitation.scene.startswith("bind:") and len(invitation.scene) > 12
    assert fake_wechat.fake.qrcodes[invitation.ticket] == invitation.scene
    assert invitation.qr_url == f"http://weixin.qq.com/q/{invitation.ticket}"
    assert invitation.expires_at == clock.now() + timedelta(days=7)
    assert invitation.staff_id == org.sales_a1.id and invitation.customer_id is None
    assert invitation.created_by_id == org.store_admin_a.id
    assert ("POST", "/cgi-bin/qrcode/create") in fake_wechat.fake.requests


def test_each_invitation_gets_its_own_scene(session, org, qr_client):
    first = _invite(session, org.group_admin, qr_client, staff_id=org.sales_b.id)
    second = _invite(session, org.group_admin, qr_client, staff_id=org.sales_b.id)
    assert first.scene != second.scene and first.ticket != second.ticket


def test_salesperson_makes_a_half_hour_member_code_for_their_own_customer(session, org, qr_client):
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    assert invitation.customer_id == org.customer_a1.id and invitation.staff_id is None
    assert invitation.expires_at == clock.now() + timedelta(minutes=30)


def test_salesperson_cannot_make_a_code_for_a_colleagues_customer(
    session, org, qr_client, fake_wechat
):
    with pytest.raises(NotFound):
        _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a2.id)
    assert _invitations(session) == 0
    assert fake_wechat.fake.qrcodes == {}


def test_salesperson_cannot_invite_staff(session, org, qr_client):
    with pytest.raises(NotFound):
        _invite(session, org.sales_a1, qr_client, staff_id=org.sales_a2.id)
    with pytest.raises(Forbidden):
        _invite(session, org.sales_a1, qr_client, staff_id=org.sales_a1.id)
    assert _invitations(session) == 0


def test_store_admin_cannot_invite_staff_of_another_store(session, org, qr_client):
    with pytest.raises(NotFound):
        _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_b.id)
    assert _invitations(session) == 0


def test_an_invitation_names_exactly_one_person(session, org, qr_client):
    for person in ({}, {"staff_id": org.sales_a1.id, "customer_id": org.customer_a1.id}):
        with pytest.raises(ValidationError) as caught:
            _invite(session, org.group_admin, qr_client, **person)
        assert caught.value.field == "staff_id"
    assert _invitations(session) == 0


def test_a_left_staff_member_cannot_be_invited(session, org, qr_client, fake_wechat):
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())
    with pytest.raises(ValidationError) as caught:
        _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    assert "已离职" in caught.value.message and caught.value.field == "staff_id"
    assert _invitations(session) == 0 and fake_wechat.fake.qrcodes == {}


def test_wechat_refusing_the_qr_code_stores_no_invitation(session, org, qr_client, fake_wechat):
    fake_wechat.fake.fail_next("/cgi-bin/qrcode/create", 45009)
    with pytest.raises(binding.QRCodeUnavailable) as caught:
        _invite(session, org.group_admin, qr_client, staff_id=org.sales_a1.id)
    assert caught.value.http_status == 503 and "稍后重试" in caught.value.message
    assert _invitations(session) == 0


def test_scanning_binds_the_person_and_spends_the_code(session, org, qr_client):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    person = binding.bind_by_scene(session, "o-sales-a1", invitation.scene, clock.now())
    assert person.id == org.sales_a1.id
    identity = _identity(session, "o-sales-a1")
    assert identity.staff_id == org.sales_a1.id and identity.bound_at == clock.now()
    session.refresh(invitation)
    assert invitation.used_at == clock.now() and invitation.used_by_openid == "o-sales-a1"
    assert (
        wechat_identity.person_for_openid(session, WeChatApp.OFFICIAL_ACCOUNT, "o-sales-a1")
        == person
    )

    with pytest.raises(ValidationError) as caught:
        binding.bind_by_scene(session, "o-stranger", invitation.scene, clock.now())
    assert "已被使用" in caught.value.message
    assert (
        wechat_identity.person_for_openid(session, WeChatApp.OFFICIAL_ACCOUNT, "o-stranger") is None
    )


def test_an_expired_code_binds_nothing(session, org, qr_client, frozen_now):
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    frozen_now.shift(timedelta(minutes=30))
    with pytest.raises(ValidationError) as caught:
        binding.bind_by_scene(session, "o-late", invitation.scene, clock.now())
    assert "已过期" in caught.value.message
    session.refresh(invitation)
    assert invitation.used_at is None
    assert _identity(session, "o-late") is None


def test_an_unknown_scene_binds_nothing(session, org):
    with pytest.raises(ValidationError) as caught:
        binding.bind_by_scene(session, "o-guess", "bind:guessed", clock.now())
    assert "无效" in caught.value.message and caught.value.field == "scene"
    assert _identity(session, "o-guess") is None


def test_a_staff_member_who_left_after_the_invitation_cannot_be_bound(session, org, qr_client):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a2.id)
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a2.id, clock.now())
    with pytest.raises(ValidationError) as caught:
        binding.bind_by_scene(session, "o-sales-a2", invitation.scene, clock.now())
    assert "离职" in caught.value.message
    session.refresh(invitation)
    assert invitation.used_at is None


def test_a_wechat_bound_to_a_salesperson_does_not_take_their_customers_code(
    session, org, qr_client
):
    own = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    binding.bind_by_scene(session, "o-sales-a1", own.scene, clock.now())
    members = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    with pytest.raises(ValidationError) as caught:
        binding.bind_by_scene(session, "o-sales-a1", members.scene, clock.now())
    assert "已绑定员工“销售A1”" in caught.value.message
    session.refresh(members)
    assert members.used_at is None  # the customer can still scan it
    assert _identity(session, "o-sales-a1").staff_id == org.sales_a1.id
    customer = binding.bind_by_scene(session, "o-customer-a1", members.scene, clock.now())
    assert customer.id == org.customer_a1.id


def test_a_left_staff_members_binding_stops_working_at_once(session, org, qr_client):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    binding.bind_by_scene(session, "o-sales-a1", invitation.scene, clock.now())
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())
    assert (
        wechat_identity.person_for_openid(session, WeChatApp.OFFICIAL_ACCOUNT, "o-sales-a1") is None
    )


def test_an_unbound_openid_is_recognised_by_a_bound_unionid(session, org, qr_client):
    invitation = _invite(session, org.sales_a1, qr_client, customer_id=org.customer_a1.id)
    binding.bind_by_scene(session, "o-oa-customer", invitation.scene, clock.now())
    _identity(session, "o-oa-customer").unionid = "u-customer"
    session.commit()

    person = binding.bind_by_unionid(
        session, WeChatApp.MINIPROGRAM, "o-mini-customer", "u-customer", clock.now()
    )
    assert person.id == org.customer_a1.id
    mini = _identity(session, "o-mini-customer", WeChatApp.MINIPROGRAM)
    assert mini.customer_id == org.customer_a1.id and mini.unionid == "u-customer"
    assert mini.bound_at == clock.now()


def test_an_unknown_unionid_leaves_the_openid_unbound(session, org):
    person = binding.bind_by_unionid(
        session, WeChatApp.MINIPROGRAM, "o-mini-new", "u-nobody", clock.now()
    )
    assert person is None
    mini = _identity(session, "o-mini-new", WeChatApp.MINIPROGRAM)
    assert mini.unionid == "u-nobody" and mini.staff_id is None and mini.customer_id is None


def test_a_left_staff_members_unionid_binds_nothing(session, org, qr_client):
    invitation = _invite(session, org.store_admin_a, qr_client, staff_id=org.sales_a1.id)
    binding.bind_by_scene(session, "o-oa-sales", invitation.scene, clock.now())
    _identity(session, "o-oa-sales").unionid = "u-sales"
    session.commit()
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())

    person = binding.bind_by_unionid(
        session, WeChatApp.MINIPROGRAM, "o-mini-sales", "u-sales", clock.now()
    )
    assert person is None
    assert _identity(session, "o-mini-sales", WeChatApp.MINIPROGRAM).staff_id is None
