"""A small organisation with one person in every position, for scoping tests.

Group G has store A (teams A1, A2) and store B. Each salesperson owns one lead and one customer;
store A also has a pool lead.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.models import Customer, Lead, Role, Staff, Store, Team
from tests import factories as f


@dataclass
class Org:
    store_a: Store
    store_b: Store
    team_a1: Team
    team_a2: Team
    group_admin: Staff
    store_admin_a: Staff
    store_admin_b: Staff
    supervisor_a1: Staff
    sales_a1: Staff
    sales_a2: Staff
    sales_b: Staff
    advisor_a: Staff
    care_a: Staff
    customer_a1: Customer
    customer_a2: Customer
    customer_b: Customer
    lead_a1: Lead
    lead_a2: Lead
    lead_b: Lead
    pool_lead_a: Lead


def build_org() -> Org:
    group = f.GroupFactory()
    store_a = f.StoreFactory(group=group, code="A01", name="杭州A店")
    store_b = f.StoreFactory(group=group, code="B01", name="宁波B店", city="宁波")
    team_a1 = f.TeamFactory(store=store_a, name="A一组")
    team_a2 = f.TeamFactory(store=store_a, name="A二组")

    def staff(role: Role, store: Store | None, team: Team | None = None, name: str = "") -> Staff:
        return f.StaffFactory(
            store=store,
            group_id=group.id,
            team=team,
            role=role.value,
            name=name or f"{role.label}{store.code if store else ''}",
        )

    group_admin = staff(Role.GROUP_ADMIN, None, name="总部管理员")
    sales_a1 = staff(Role.SALESPERSON, store_a, team_a1, "销售A1")
    sales_a2 = staff(Role.SALESPERSON, store_a, team_a2, "销售A2")
    sales_b = staff(Role.SALESPERSON, store_b, None, "销售B")

    def customer(owner: Staff, store: Store, name: str) -> Customer:
        return f.CustomerFactory(store=store, group_id=group.id, sales_owner_id=owner.id, name=name)

    def lead(owner: Staff | None, store: Store, name: str) -> Lead:
        return f.LeadFactory(store=store, owner=owner, name=name)

    return Org(
        store_a=store_a,
        store_b=store_b,
        team_a1=team_a1,
        team_a2=team_a2,
        group_admin=group_admin,
        store_admin_a=staff(Role.STORE_ADMIN, store_a, name="A店管理员"),
        store_admin_b=staff(Role.STORE_ADMIN, store_b, name="B店管理员"),
        supervisor_a1=staff(Role.SUPERVISOR, store_a, team_a1, "A一组主管"),
        sales_a1=sales_a1,
        sales_a2=sales_a2,
        sales_b=sales_b,
        advisor_a=staff(Role.SERVICE_ADVISOR, store_a, name="服务顾问A"),
        care_a=staff(Role.CARE_SPECIALIST, store_a, name="客服A"),
        customer_a1=customer(sales_a1, store_a, "客户甲"),
        customer_a2=customer(sales_a2, store_a, "客户乙"),
        customer_b=customer(sales_b, store_b, "客户丙"),
        lead_a1=lead(sales_a1, store_a, "线索甲"),
        lead_a2=lead(sales_a2, store_a, "线索乙"),
        lead_b=lead(sales_b, store_b, "线索丙"),
        pool_lead_a=lead(None, store_a, "池中线索"),
    )
