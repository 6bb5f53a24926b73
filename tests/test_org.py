"""Managing the organisation as a service: stores, teams, staff, leaving (PRODUCT
"Organisation and access"). Bad input names the field and changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import Role, Staff, Store, Team
from crm.services import auth
from crm.services import org as organisation
from crm.services.org import StaffInput, StoreInput
from tests.factories import PASSWORD


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_group_admin_opens_a_store(org, session):
    store = org_create_store(session, org.group_admin, code="SH01", name="上海浦东店")
    assert store.group_id == org.group_admin.group_id
    assert store.phone == "+862158881234"


def org_create_store(session, actor, **fields):
    data = StoreInput(**{"phone": "021-58881234", **fields})
    return organisation.create_store(session, actor, data, clock.now())


def test_duplicate_store_code_names_the_field_and_changes_nothing(org, session):
    before = _count(session, Store)
    with pytest.raises(ValidationError) as caught:
        org_create_store(session, org.group_admin, code="a01", name="重复店")
    assert caught.value.field == "code"
    assert "已被" in caught.value.message
    assert _count(session, Store) == before


def test_store_admin_cannot_open_stores(org, session):
    with pytest.raises(Forbidden):
        org_create_store(session, org.store_admin_a, code="X01", name="越权店")


def test_store_admin_cannot_edit_another_store(org, session):
    with pytest.raises(NotFound):
        organisation.update_store(
            session, org.store_admin_a, org.store_b.id, StoreInput(code="B01", name="改名")
        )
    session.refresh(org.store_b)
    assert org.store_b.name == "宁波B店"


def test_store_admin_adds_a_salesperson_to_a_team_of_their_store(org, session):
    data = StaffInput(
        name="新销售",
        phone="139 0000 0001",
        role="salesperson",
        store_id=org.store_a.id,
        team_id=org.team_a1.id,
        password="a-long-password",
    )
    staff = organisation.create_staff(session, org.store_admin_a, data, clock.now())
    assert staff.phone == "+8613900000001"
    assert staff.team_id == org.team_a1.id
    assert auth.authenticate(session, "13900000001", "a-long-password") == staff


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": ""}, "name", "请填写姓名"),
        ({"phone": "12345"}, "phone", "手机号格式不正确"),
        ({"role": "king"}, "role", "有效的角色"),
        ({"role": "group_admin"}, "role", "只有总管理员"),
        ({"store_id": "999999"}, "store_id", "不在您的管理范围内"),
        ({"store_id": None}, "store_id", "请选择分店"),
        ({"store_id": "abc"}, "store_id", "不在您的管理范围内"),
        ({"store_id": "99999999999999999999999"}, "store_id", "不在您的管理范围内"),
        ({"team_id": "x"}, "team_id", "不属于该分店"),
        ({"password": "short"}, "password", "至少8位"),
    ],
)
def test_bad_staff_input_names_the_field_and_changes_nothing(org, session, change, field, message):
    fields = {"name": "新人", "phone": "13900000002", "role": "salesperson"}
    fields |= {"store_id": org.store_a.id, **change}
    before = _count(session, Staff)
    with pytest.raises(ValidationError) as caught:
        organisation.create_staff(session, org.store_admin_a, StaffInput(**fields), clock.now())
    assert (caught.value.field, message in caught.value.message) == (field, True)
    assert _count(session, Staff) == before


def test_duplicate_staff_phone_names_the_holder(org, session):
    data = StaffInput(
        name="撞号", phone=org.sales_b.phone, role="salesperson", store_id=org.store_a.id
    )
    with pytest.raises(ValidationError) as caught:
        organisation.create_staff(session, org.group_admin, data, clock.now())
    assert caught.value.field == "phone"
    assert org.sales_b.name in caught.value.message


def test_store_admin_cannot_move_staff_to_a_store_outside_their_scope(org, session):
    data = StaffInput(
        name=org.sales_a1.name,
        phone=org.sales_a1.phone,
        role="salesperson",
        store_id=org.store_b.id,
    )
    with pytest.raises(ValidationError) as caught:
        organisation.update_staff(session, org.store_admin_a, org.sales_a1.id, data)
    assert caught.value.field == "store_id"
    session.refresh(org.sales_a1)
    assert org.sales_a1.store_id == org.store_a.id


def test_team_must_belong_to_the_chosen_store(org, session):
    data = StaffInput(
        name="跨店",
        phone="13900000003",
        role="salesperson",
        store_id=org.store_b.id,
        team_id=org.team_a1.id,
    )
    with pytest.raises(ValidationError) as caught:
        organisation.create_staff(session, org.group_admin, data, clock.now())
    assert caught.value.field == "team_id"


def test_group_admin_moves_staff_between_stores(org, session):
    data = StaffInput(
        name=org.sales_a1.name,
        phone=org.sales_a1.phone,
        role="salesperson",
        store_id=org.store_b.id,
    )
    moved = organisation.update_staff(session, org.group_admin, org.sales_a1.id, data)
    assert (moved.store_id, moved.team_id) == (org.store_b.id, None)


def test_left_staff_member_cannot_log_in(org, session):
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())
    with pytest.raises(ValidationError) as caught:
        auth.authenticate(session, org.sales_a1.phone, PASSWORD)
    assert "离职" in caught.value.message
    assert org.sales_a1.left_at == clock.now()


def test_admin_cannot_mark_themselves_as_left(org, session):
    with pytest.raises(ValidationError):
        organisation.set_staff_left(session, org.store_admin_a, org.store_admin_a.id, clock.now())


def test_reinstated_staff_member_logs_in_again(org, session):
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())
    organisation.reinstate_staff(session, org.store_admin_a, org.sales_a1.id)
    assert auth.authenticate(session, org.sales_a1.phone, PASSWORD) == org.sales_a1


def test_wrong_password_and_unknown_phone_get_the_same_answer(org, session):
    messages = set()
    for phone, password in ((org.sales_a1.phone, "wrong-password"), ("13900009999", PASSWORD)):
        with pytest.raises(ValidationError) as caught:
            auth.authenticate(session, phone, password)
        messages.add(caught.value.message)
    assert messages == {auth.BAD_CREDENTIALS}


def test_team_names_are_unique_within_a_store(org, session):
    with pytest.raises(ValidationError) as caught:
        organisation.create_team(session, org.store_admin_a, org.store_a.id, "A一组")
    assert caught.value.field == "name"
    team = organisation.create_team(session, org.store_admin_b, org.store_b.id, "A一组")
    assert session.get(Team, team.id).store_id == org.store_b.id


def test_only_the_group_admin_renames_the_group(org, session):
    with pytest.raises(Forbidden):
        organisation.rename_group(session, org.store_admin_a, "新名字")
    assert organisation.rename_group(session, org.group_admin, "远航集团").name == "远航集团"


def test_bootstrap_creates_the_first_group_admin_without_a_group(session):
    data = StaffInput(name="首位管理员", phone="13900000010", role=Role.GROUP_ADMIN.value)
    staff = organisation.bootstrap_staff(session, data, clock.now())
    assert staff.group_id is not None
    assert staff.store_id is None
