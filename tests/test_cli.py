"""The command line: ``crm create-staff``, ``crm seed-demo`` and ``jobs run --once``."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from crm.models import (
    Customer,
    Deal,
    Group,
    Lead,
    LeadClass,
    MemberCard,
    Role,
    ServiceOrder,
    Staff,
    Store,
    Vehicle,
)
from crm.services.auth import authenticate
from tests import factories as f
from tests.conftest import FROZEN_AT

ADMIN_PASSWORD = "secret-pass-1"
ROLE_LABELS_SHOWN = ("总管理员", "分店管理员", "销售主管", "销售顾问", "服务顾问", "客服专员")


def create_staff(cli, *args, password=ADMIN_PASSWORD):
    return cli.invoke(
        args=["crm", "create-staff", *args, "--password-stdin"], input=f"{password}\n"
    )


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def counts(session) -> dict[str, int]:
    models = (Group, Store, Staff, Customer, Vehicle, Lead, ServiceOrder)
    return {model.__name__: count(session, model) for model in models}


# --- crm create-staff -----------------------------------------------------------------------


def test_create_staff_makes_the_first_group_admin_who_can_log_in(cli, session, frozen_now):
    assert count(session, Group) == 0

    result = create_staff(
        cli, "--name", "周总", "--phone", "139 0000 1111", "--role", "group_admin"
    )

    assert result.exit_code == 0, result.output
    staff = session.scalars(select(Staff)).one()
    assert result.output.strip() == f"created staff #{staff.id} 周总 (总管理员)"
    assert staff.role == Role.GROUP_ADMIN
    assert staff.phone == "+8613900001111"
    assert staff.store_id is None
    assert session.scalars(select(Group)).one().id == staff.group_id
    assert authenticate(session, "13900001111", ADMIN_PASSWORD).id == staff.id


def test_create_staff_puts_a_store_role_into_the_named_store(cli, session, frozen_now):
    store = f.StoreFactory(code="HZ09", name="杭州九堡店")

    result = create_staff(
        cli,
        "--name",
        "钱顾问",
        "--phone",
        "13900002222",
        "--role",
        "salesperson",
        "--store",
        "HZ09",
    )

    assert result.exit_code == 0, result.output
    assert "钱顾问 (销售顾问)" in result.output
    staff = session.scalars(select(Staff).where(Staff.name == "钱顾问")).one()
    assert (staff.store_id, staff.group_id) == (store.id, store.group_id)


def test_create_staff_refuses_a_phone_already_in_use_and_creates_nothing(cli, session, frozen_now):
    holder = f.StaffFactory(name="老员工", phone="+8613900003333", role=Role.GROUP_ADMIN.value)
    before = counts(session)

    result = create_staff(
        cli, "--name", "新员工", "--phone", "13900003333", "--role", "group_admin"
    )

    assert result.exit_code == 2
    assert f"错误 [phone]: 手机号已被员工“{holder.name}”使用" in result.stderr
    assert "created staff" not in result.output
    assert counts(session) == before


def test_create_staff_refuses_an_unknown_store_code_and_creates_nothing(cli, session, frozen_now):
    before = counts(session)

    result = create_staff(
        cli,
        "--name",
        "孙顾问",
        "--phone",
        "13900004444",
        "--role",
        "salesperson",
        "--store",
        "NOPE",
    )

    assert result.exit_code == 2
    assert "错误 [store]: 分店 NOPE 不存在" in result.stderr
    # Not even the group that bootstrapping would have created for the first staff member.
    assert counts(session) == before


def test_create_staff_refuses_an_invalid_role(cli, session, frozen_now):
    before = counts(session)

    result = create_staff(cli, "--name", "李四", "--phone", "13900005555", "--role", "boss")

    assert result.exit_code == 2
    assert "错误 [role]: 请选择有效的角色" in result.stderr
    assert counts(session) == before


def test_create_staff_refuses_a_short_password(cli, session, frozen_now):
    before = counts(session)

    result = create_staff(
        cli, "--name", "李四", "--phone", "13900006666", "--role", "group_admin", password="short"
    )

    assert result.exit_code == 2
    assert "错误 [password]: 密码至少8位" in result.stderr
    assert counts(session) == before


# --- crm seed-demo --------------------------------------------------------------------------


def test_seed_demo_creates_a_complete_demo_group(cli, session, frozen_now):
    result = cli.invoke(args=["crm", "seed-demo", "--customers", "20"])

    assert result.exit_code == 0, result.output
    assert "seeded 20 customers" in result.output
    assert "demo12345" in result.output
    for label in ROLE_LABELS_SHOWN:
        assert any(line.strip().startswith(label) for line in result.output.splitlines()), label

    assert [store.code for store in session.scalars(select(Store).order_by(Store.code))] == [
        "HZ01",
        "NB01",
    ]
    customers = session.scalars(select(Customer)).all()
    # 20 service customers, and in each store one buyer whose car was delivered today.
    assert len(customers) == 22
    assert count(session, MemberCard) == 22
    deal_states = sorted(session.scalars(select(Deal.status)))
    assert deal_states == ["delivered", "delivered", "deposit", "deposit", "paid", "paid"]
    planned = session.scalars(select(Vehicle.next_service_on)).all()
    assert planned and all(day is not None for day in planned)
    vehicles_per_customer = dict(
        session.execute(select(Vehicle.customer_id, func.count()).group_by(Vehicle.customer_id))
        .tuples()
        .all()
    )
    assert all(vehicles_per_customer.get(customer.id, 0) >= 1 for customer in customers)
    lead_classes = set(session.scalars(select(Lead.lead_class).distinct()))
    assert lead_classes == {c.value for c in LeadClass}
    assert count(session, ServiceOrder) > 0
    roles = set(session.scalars(select(Staff.role).distinct()))
    assert roles == {r.value for r in Role}


def test_seed_demo_stores_customer_phones_encrypted(cli, session, frozen_now):
    result = cli.invoke(args=["crm", "seed-demo", "--customers", "20"])
    assert result.exit_code == 0, result.output

    plaintext = [customer.phone for customer in session.scalars(select(Customer))]
    raw = session.scalars(text("SELECT phone FROM customers")).all()
    assert len(raw) == len(plaintext) == 22  # 20 service customers and 2 new buyers
    assert all(phone.startswith("+86") for phone in plaintext)
    for stored in raw:
        assert "+86" not in stored
        assert not any(phone[3:] in stored for phone in plaintext), stored


def test_seed_demo_a_second_time_changes_nothing(cli, session, frozen_now):
    first = cli.invoke(args=["crm", "seed-demo", "--customers", "20"])
    assert first.exit_code == 0, first.output
    before = counts(session)

    again = cli.invoke(args=["crm", "seed-demo", "--customers", "20"])

    assert again.exit_code == 0, again.output
    assert "demo data already present" in again.output
    assert "nothing changed" in again.output
    assert "seeded" not in again.output
    for label in ROLE_LABELS_SHOWN:
        assert label in again.output
    assert counts(session) == before


# --- jobs run --once ------------------------------------------------------------------------


def test_jobs_run_once_returns_leads_untouched_for_30_days_to_the_pool(
    app, cli, session, frozen_now
):
    seller = f.StaffFactory()
    stale = f.LeadFactory(
        store=seller.store,
        owner=seller,
        created_at=FROZEN_AT - timedelta(days=60),
        claimed_at=FROZEN_AT - timedelta(days=60),
        last_contact_at=FROZEN_AT - timedelta(days=31),
    )
    fresh = f.LeadFactory(
        store=seller.store,
        owner=seller,
        created_at=FROZEN_AT - timedelta(days=60),
        claimed_at=FROZEN_AT - timedelta(days=60),
        last_contact_at=FROZEN_AT - timedelta(days=29),
    )
    stale_id, fresh_id = stale.id, fresh.id

    # ``flask`` pushes an app context for every command; the test runner does not, and the
    # ``jobs`` group does not ask for one.
    with app.app_context():
        result = cli.invoke(args=["jobs", "run", "--once"])

    assert result.exit_code == 0, result.output
    assert "return_stale_leads: 1" in result.output
    session.expire_all()
    owners = dict(session.execute(select(Lead.id, Lead.owner_id)).tuples().all())
    assert owners[stale_id] is None
    assert owners[fresh_id] == seller.id
    assert session.get(Lead, stale_id).claimed_at is None
