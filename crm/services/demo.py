"""Demo data: a group with two stores, staff of every role, customers with vehicles, service
history, mileage, maintenance plans and member cards, leads in every class, and deals at each
step. Deterministic (seeded), so demos are repeatable."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from crm import clock, id_cards, vin
from crm.models import (
    CareTemplate,
    CarModel,
    Channel,
    Communication,
    Consent,
    Customer,
    Group,
    Lead,
    LeadClass,
    LeadMove,
    LeadSource,
    LeadStatus,
    MemberCard,
    MileageReading,
    MileageSource,
    MoveReason,
    PurchaseTimeframe,
    Role,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Team,
    TestDrive,
    Vehicle,
)
from crm.services import deals, delivery, lead_classes, maintenance_plan, membership
from crm.services.care import new_car
from crm.services.identity import phone_index

DEMO_PASSWORD = "demo12345"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华建国志红玉兰文辉鹏飞宇浩然"
MODELS = ("凯美瑞", "雷凌", "RAV4荣放", "汉兰达", "卡罗拉", "亚洲龙", "威兰达", "赛那")
COLOURS = ("珍珠白", "曜岩黑", "铂金银", "星光蓝", "烈焰红")
OCCUPATIONS = ("教师", "医生", "工程师", "个体经营", "公务员", "销售", "财务", "设计师", "")
STORES = (
    ("HZ01", "杭州西湖店", "杭州", "杭州市西湖区文三路100号", "0571-88880001", "0571-88880119"),
    ("NB01", "宁波鄞州店", "宁波", "宁波市鄞州区天童南路200号", "0574-87770001", "0574-87770119"),
)
# (role, how many per store)
STORE_STAFF = (
    (Role.STORE_ADMIN, 1),
    (Role.SUPERVISOR, 1),
    (Role.SALESPERSON, 4),
    (Role.SERVICE_ADVISOR, 2),
    (Role.CARE_SPECIALIST, 1),
)


class AlreadySeeded(Exception):
    pass


@dataclass
class SeedResult:
    logins: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # role, store, name, phone
    customers: int = 0
    vehicles: int = 0
    leads: int = 0
    service_orders: int = 0
    deals: int = 0


def _phone(rng: random.Random, used: set[str]) -> str:
    while True:
        number = (
            f"+86{rng.choice(('138', '139', '186', '135', '150', '177'))}{rng.randrange(10**8):08d}"
        )
        if number not in used:
            used.add(number)
            return number


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _vin(rng: random.Random, used: set[str]) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    while True:
        raw = "LVG" + "".join(rng.choice(alphabet) for _ in range(14))
        number = vin.with_check_digit(raw)
        if number not in used:
            used.add(number)
            return number


def _staff(session, rng, used_phones, group, store, team, role, now) -> Staff:
    phone = _phone(rng, used_phones)
    staff = Staff(
        group_id=group.id,
        store_id=store.id if store else None,
        team_id=team.id if team else None,
        name=_name(rng),
        phone=phone,
        phone_index=phone_index(phone),
        role=role.value,
        password_hash=generate_password_hash(DEMO_PASSWORD),
        created_at=now,
    )
    session.add(staff)
    return staff


def seed(session: Session, now: datetime, customers: int = 200, seed_value: int = 4) -> SeedResult:
    """Create the demo data set in one transaction. Refuses if any store exists."""
    if session.scalar(select(Store.id).limit(1)) is not None:
        raise AlreadySeeded("stores exist")
    rng = random.Random(seed_value)
    used_phones: set[str] = set()
    used_vins: set[str] = set()
    result = SeedResult()
    today = now.date()

    group = session.scalar(select(Group).order_by(Group.id)) or Group(name="浙江远航汽车集团")
    session.add(group)
    session.flush()
    # The models on sale: the same names the demo's vehicles and leads use.
    listed = set(session.scalars(select(CarModel.name).where(CarModel.group_id == group.id)))
    session.add_all(
        CarModel(group_id=group.id, name=name, created_at=now)
        for name in MODELS
        if name not in listed
    )
    admin = _staff(session, rng, used_phones, group, None, None, Role.GROUP_ADMIN, now)
    result.logins.append((admin.role_label, "集团", admin.name, admin.phone))

    salespeople: dict[int, list[Staff]] = {}
    advisors: dict[int, list[Staff]] = {}
    stores = []
    for code, name, city, address, phone, rescue in STORES:
        store = Store(
            group_id=group.id,
            code=code,
            name=name,
            city=city,
            address=address,
            phone=phone,
            rescue_phone=rescue,
            created_at=now,
        )
        session.add(store)
        session.flush()
        team = Team(store_id=store.id, name="销售一组")
        session.add(team)
        session.flush()
        stores.append(store)
        shown_roles: set[Role] = set()
        for role, count in STORE_STAFF:
            for _ in range(count):
                in_team = role in (Role.SUPERVISOR, Role.SALESPERSON)
                member = _staff(
                    session, rng, used_phones, group, store, team if in_team else None, role, now
                )
                if role == Role.SALESPERSON:
                    salespeople.setdefault(store.id, []).append(member)
                if role == Role.SERVICE_ADVISOR:
                    advisors.setdefault(store.id, []).append(member)
                if role not in shown_roles:
                    shown_roles.add(role)
                    result.logins.append((member.role_label, store.name, member.name, member.phone))
    session.flush()

    for number in range(customers):
        store = stores[number % len(stores)]
        _seed_customer(
            session,
            rng,
            store,
            group,
            salespeople[store.id],
            advisors[store.id],
            used_phones,
            used_vins,
            today,
            now,
            result,
        )

    classes = list(LeadClass)
    for number in range(max(40, customers // 2)):
        store = stores[number % len(stores)]
        _seed_lead(
            session,
            rng,
            store,
            salespeople[store.id],
            classes[(number // len(stores)) % len(classes)],
            used_phones,
            now,
            result,
            in_pool=number % 5 == 0,
            state={1: "fresh", 2: "nearly_stale"}.get(number % 7, ""),
        )
    _issue_member_cards(session, group, now)
    # The sandbox accepts any template id; a real deployment enters its own (issue 8).
    session.add(
        CareTemplate(group_id=group.id, kind=new_car.KIND.name, template_id="sandbox-new-car")
    )
    session.commit()
    for store in stores:
        _seed_deals(session, rng, store, used_vins, now, result)
    return result


def _issue_member_cards(session: Session, group: Group, now: datetime) -> None:
    """Every demo customer holds a card, at the tier their paid orders reach."""
    customers = session.scalars(select(Customer).where(Customer.group_id == group.id)).all()
    for customer in customers:
        session.add(
            MemberCard(
                customer_id=customer.id,
                card_no=membership.card_number(customer),
                issued_at=now,
                tier_since=now,
            )
        )
    session.flush()
    membership.recompute_group(session, group.id, now)


def _seed_deals(session, rng, store, used_vins, now, result: SeedResult) -> None:
    """Three of the store's owned key leads buy, through the real services: one has paid a
    deposit, one paid in full, one took delivery and waits for an after-sales advisor."""
    buyers = session.scalars(
        select(Lead)
        .where(
            Lead.store_id == store.id,
            Lead.owner_id.is_not(None),
            Lead.lead_class == LeadClass.KEY,
            Lead.status == LeadStatus.OPEN,
        )
        .order_by(Lead.id)
        .limit(3)
    ).all()
    today = clock.today(now)
    for step, lead in enumerate(buyers):
        seller = session.get(Staff, lead.owner_id)
        model = lead.model_of_interest or rng.choice(MODELS)
        deposit = deals.DepositInput(model, "5000", today - timedelta(days=12 - step))
        deal = deals.take_deposit(session, seller, lead.id, deposit, now)
        result.deals += 1
        if step >= 1:
            deals.record_payment(session, seller, deal.id, "189800", today - timedelta(days=2), now)
        if step >= 2:
            born = f"1990{rng.randint(1, 12):02d}15"
            number = id_cards.with_check_character(f"330106{born}{lead.id % 1000:03d}")
            data = delivery.DeliveryInput(
                delivered_on=today,
                name=lead.name,
                id_number=number,
                licence_no=number,
                licence_class="C1",
                consent=True,
                vin=_vin(rng, used_vins),
                engine_no=f"EN{rng.randrange(10**6):06d}",
                colour=rng.choice(COLOURS),
            )
            delivery.deliver(session, seller, deal.id, data, now)


def _seed_customer(
    session,
    rng,
    store,
    group,
    sellers,
    advisors,
    used_phones,
    used_vins,
    today: date,
    now: datetime,
    result: SeedResult,
) -> None:
    phone = _phone(rng, used_phones)
    customer = Customer(
        group_id=group.id,
        store_id=store.id,
        sales_owner_id=rng.choice(sellers).id,
        advisor_id=rng.choice(advisors).id,
        name=_name(rng),
        phone=phone,
        phone_index=phone_index(phone),
        gender=rng.choice("MF"),
        birthday=date(rng.randint(1965, 2000), rng.randint(1, 12), rng.randint(1, 28)),
        occupation=rng.choice(OCCUPATIONS),
        city=store.city,
        created_at=now,
    )
    session.add(customer)
    session.flush()
    session.add(
        Consent(
            customer_id=customer.id,
            purpose="service_reminders",
            channel="showroom",
            granted=True,
            recorded_at=now,
        )
    )
    result.customers += 1
    for _ in range(1 if rng.random() < 0.85 else 2):
        purchase = today - timedelta(days=rng.randint(20, 365 * 7))
        years = (today - purchase).days / 365
        vehicle = Vehicle(
            customer_id=customer.id,
            store_id=store.id,
            vin=_vin(rng, used_vins),
            model=rng.choice(MODELS),
            plate=f"浙{'A' if store.city == '杭州' else 'B'}"
            f"{rng.choice('DFGHKLMNPQ')}{rng.randrange(10000):04d}",
            colour=rng.choice(COLOURS),
            purchase_date=purchase,
            first_maintenance_date=purchase + timedelta(days=180),
            first_maintenance_km=5000,
            mileage_km=int(years * rng.randint(8000, 20000)),
            compulsory_insurance_expiry=_next_anniversary(purchase, today),
            commercial_insurance_expiry=_next_anniversary(purchase, today),
            inspection_due=_next_anniversary(purchase, today) if years > 2 else None,
            created_at=now,
        )
        session.add(vehicle)
        session.flush()
        result.vehicles += 1
        session.add(
            MileageReading(
                vehicle_id=vehicle.id, read_on=purchase, km=0, source=MileageSource.DELIVERY.value
            )
        )
        visit = purchase + timedelta(days=180)
        mileage, first = 0, True
        while visit < today:
            mileage += rng.randint(4000, 9000)
            kind = (
                ServiceKind.FIRST_MAINTENANCE
                if first
                else rng.choice(
                    (ServiceKind.PERIODIC_MAINTENANCE,) * 4
                    + (ServiceKind.REPAIR, ServiceKind.WARRANTY)
                )
            )
            labour = rng.randint(100, 800) * 100
            session.add(
                ServiceOrder(
                    vehicle_id=vehicle.id,
                    store_id=store.id,
                    advisor_id=customer.advisor_id,
                    work_order_no=f"{store.code}-{vehicle.id:05d}-{result.service_orders:05d}",
                    kind=kind.value,
                    opened_on=visit,
                    mileage_km=mileage,
                    work_items="更换机油、机滤，常规检查"
                    if kind != ServiceKind.REPAIR
                    else "刹车片更换",
                    parts="机油、机油滤清器",
                    labour_fen=labour,
                    parts_fen=rng.randint(200, 1500) * 100,
                    paid_on=visit,
                )
            )
            session.add(
                MileageReading(
                    vehicle_id=vehicle.id,
                    read_on=visit,
                    km=mileage,
                    source=MileageSource.SERVICE.value,
                )
            )
            result.service_orders += 1
            first = False
            visit += timedelta(days=rng.randint(150, 240))
        vehicle.mileage_km = max(vehicle.mileage_km, mileage)
        session.flush()
        maintenance_plan.start(session, vehicle, purchase)


def _next_anniversary(start: date, today: date) -> date:
    year = today.year if (start.month, start.day) >= (today.month, today.day) else today.year + 1
    return start.replace(year=year, day=min(start.day, 28))


_TIMEFRAME_OF = {
    LeadClass.POTENTIAL: PurchaseTimeframe.UNKNOWN,
    LeadClass.INTENT: PurchaseTimeframe.WITHIN_QUARTER,
    LeadClass.KEY: PurchaseTimeframe.WITHIN_MONTH,
    LeadClass.DORMANT: PurchaseTimeframe.LATER,
}
_TOUCHES = {LeadClass.POTENTIAL: 1, LeadClass.INTENT: 2, LeadClass.KEY: 4, LeadClass.DORMANT: 1}


def _seed_lead(
    session, rng, store, sellers, lead_class, used_phones, now, result, in_pool: bool, state: str
) -> None:
    """One lead in a state the work-bench shows: fresh and not yet called, followed up and due
    (some overdue, some today), with a test drive booked today, or dormant in the pool."""
    phone = _phone(rng, used_phones)
    dormant = lead_class == LeadClass.DORMANT
    # Dormant leads had no interaction for 6 months and wait in the pool to be woken.
    if dormant:
        age_hours = rng.randint(200 * 24, 300 * 24)
    elif state == "fresh":
        age_hours = rng.randint(0, 2)
    elif state == "nearly_stale":
        age_hours = rng.randint(28 * 24, 29 * 24)
    else:
        age_hours = rng.randint(3, 25 * 24)
    created = now - timedelta(hours=age_hours)
    owner = None if in_pool or dormant else rng.choice(sellers)
    source = rng.choice(list(LeadSource))
    lead = Lead(
        store_id=store.id,
        owner_id=owner.id if owner else None,
        name=_name(rng),
        phone=phone,
        phone_index=phone_index(phone),
        lead_class=lead_class.value,
        status=LeadStatus.OPEN.value,
        source=source.value,
        referrer=_name(rng) if source == LeadSource.REFERRAL else "",
        model_of_interest=rng.choice(MODELS),
        purchase_timeframe=_TIMEFRAME_OF[lead_class].value,
        quoted=lead_class in (LeadClass.INTENT, LeadClass.KEY),
        created_at=created,
        claimed_at=created if owner else None,
        last_contact_at=created + timedelta(days=20) if dormant else None,
    )
    session.add(lead)
    session.flush()
    result.leads += 1
    session.add(
        LeadMove(
            lead_id=lead.id,
            to_owner_id=lead.owner_id,
            reason=MoveReason.CREATED.value,
            moved_at=created,
        )
    )
    if owner is None:
        return
    if age_hours < 3:
        # A fresh lead still waiting for its first call (red after an hour).
        lead.due_at = lead_classes.due_at(lead.lead_class, None, None, created)
        return
    when = created
    next_step_at = None
    for _ in range(_TOUCHES[lead_class]):
        # A nearly stale lead was only touched right after it came in.
        gap = rng.randint(1, 3) if state == "nearly_stale" else rng.randint(1, 72)
        when = min(now, when + timedelta(hours=gap))
        next_step_at = when + timedelta(days=rng.randint(1, 4))
        session.add(
            Communication(
                lead_id=lead.id,
                staff_id=owner.id,
                channel=rng.choice(list(Channel)).value,
                content="沟通购车需求与预算",
                concerns=rng.choice(["", "担心油耗", "价格偏高", "等新款"]),
                next_step="邀约到店试驾",
                next_step_at=next_step_at,
                lead_class=lead.lead_class,
                occurred_at=when,
            )
        )
    lead.last_contact_at = when
    lead.due_at = lead_classes.due_at(lead.lead_class, when, next_step_at, created)
    if lead_class in (LeadClass.INTENT, LeadClass.KEY) and rng.random() < 0.3:
        session.add(
            TestDrive(
                lead_id=lead.id,
                staff_id=owner.id,
                scheduled_at=now + timedelta(hours=rng.randint(1, 6)),
                car=f"{lead.model_of_interest} 试驾车",
                created_at=when,
            )
        )


def existing_logins(session: Session) -> SeedResult:
    result = SeedResult()
    staff = session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)).all()
    seen_roles: set[tuple] = set()
    for member in staff:
        key = (member.role, member.store_id)
        if key in seen_roles:
            continue
        seen_roles.add(key)
        store = member.store.name if member.store else "集团"
        result.logins.append((member.role_label, store, member.name, member.phone))
    return result


def describe(result: SeedResult) -> str:
    lines = []
    if result.customers:
        lines.append(
            f"seeded {result.customers} customers, {result.vehicles} vehicles, "
            f"{result.service_orders} service orders, {result.leads} leads, "
            f"{result.deals} deals"
        )
    lines.append(f"demo log-ins (console password for every demo account: {DEMO_PASSWORD}):")
    for role, store, name, phone in result.logins:
        lines.append(f"  {role:<6} {store:<8} {name:<4} {phone}")
    lines.append("console: http://127.0.0.1:5000/console/  sandbox: http://127.0.0.1:5000/sandbox/")
    return "\n".join(lines)
