"""factory_boy factories for test data; they persist through the test's session."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import factory
from factory.alchemy import SQLAlchemyModelFactory
from werkzeug.security import generate_password_hash

from crm import clock, vin
from crm.extensions import db
from crm.models import (
    CareTask,
    CarModel,
    Channel,
    Communication,
    Complaint,
    Customer,
    Deal,
    Group,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    MemberCard,
    MileageReading,
    MileageSource,
    Role,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Survey,
    SurveyKind,
    Team,
    TestDrive,
    Vehicle,
)
from crm.services.identity import phone_index

PASSWORD = "correct-horse-42"
PASSWORD_HASH = generate_password_hash(PASSWORD)  # hashing is slow on purpose: do it once
_phones = itertools.count(13800000000)
_vins = itertools.count(1)


def next_phone() -> str:
    return f"+86{next(_phones)}"


def next_vin() -> str:
    return vin.with_check_digit(f"LVGTEST00{next(_vins):08d}")


def _current_session():
    return db.session


class Base(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = _current_session
        sqlalchemy_session_persistence = "commit"


class GroupFactory(Base):
    class Meta:
        model = Group

    name = "测试汽车集团"
    created_at = factory.LazyFunction(clock.now)


class StoreFactory(Base):
    class Meta:
        model = Store

    group = factory.SubFactory(GroupFactory)
    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"测试{n}号店")
    city = "杭州"
    created_at = factory.LazyFunction(clock.now)


class TeamFactory(Base):
    class Meta:
        model = Team

    store = factory.SubFactory(StoreFactory)
    name = factory.Sequence(lambda n: f"销售{n}组")


class StaffFactory(Base):
    class Meta:
        model = Staff

    store = factory.SubFactory(StoreFactory)
    group_id = factory.SelfAttribute("store.group_id")
    name = factory.Sequence(lambda n: f"员工{n}")
    phone = factory.LazyFunction(next_phone)
    phone_index = factory.LazyAttribute(lambda o: phone_index(o.phone))
    role = Role.SALESPERSON.value
    password_hash = PASSWORD_HASH
    active = True
    created_at = factory.LazyFunction(clock.now)


class CustomerFactory(Base):
    class Meta:
        model = Customer

    store = factory.SubFactory(StoreFactory)
    group_id = factory.SelfAttribute("store.group_id")
    name = factory.Sequence(lambda n: f"客户{n}")
    phone = factory.LazyFunction(next_phone)
    phone_index = factory.LazyAttribute(lambda o: phone_index(o.phone))
    birthday = date(1988, 5, 20)
    created_at = factory.LazyFunction(clock.now)


class VehicleFactory(Base):
    class Meta:
        model = Vehicle

    customer = factory.SubFactory(CustomerFactory)
    store_id = factory.SelfAttribute("customer.store_id")
    vin = factory.LazyFunction(next_vin)
    model = "凯美瑞"
    plate = factory.Sequence(lambda n: f"浙A{n:05d}")
    purchase_date = date(2024, 3, 1)
    created_at = factory.LazyFunction(clock.now)


class ServiceOrderFactory(Base):
    class Meta:
        model = ServiceOrder

    vehicle = factory.SubFactory(VehicleFactory)
    store_id = factory.SelfAttribute("vehicle.store_id")
    work_order_no = factory.Sequence(lambda n: f"WO{n:06d}")
    kind = ServiceKind.PERIODIC_MAINTENANCE.value
    opened_on = date(2025, 3, 1)
    mileage_km = 10000
    labour_fen = 30000
    parts_fen = 45000


class MileageReadingFactory(Base):
    class Meta:
        model = MileageReading

    vehicle_id = factory.LazyAttribute(lambda o: VehicleFactory().id)
    read_on = date(2025, 3, 1)
    km = 10000
    source = MileageSource.MANUAL.value
    recorded_at = factory.LazyFunction(clock.now)


class LeadFactory(Base):
    class Meta:
        model = Lead

    store = factory.SubFactory(StoreFactory)
    owner = None
    name = factory.Sequence(lambda n: f"线索{n}")
    phone = factory.LazyFunction(next_phone)
    phone_index = factory.LazyAttribute(lambda o: phone_index(o.phone))
    lead_class = LeadClass.POTENTIAL.value
    status = LeadStatus.OPEN.value
    source = LeadSource.SHOWROOM.value
    created_at = factory.LazyFunction(clock.now)


class CommunicationFactory(Base):
    class Meta:
        model = Communication

    lead = factory.SubFactory(LeadFactory)
    staff_id = factory.LazyAttribute(lambda o: o.lead.owner_id)
    channel = Channel.PHONE.value
    content = "电话沟通"
    occurred_at = factory.LazyFunction(clock.now)


class TestDriveFactory(Base):
    __test__ = False  # a factory, not a pytest test class

    class Meta:
        model = TestDrive

    lead = factory.SubFactory(LeadFactory)
    staff_id = factory.LazyAttribute(lambda o: o.lead.owner_id)
    scheduled_at = factory.LazyFunction(clock.now)
    car = "凯美瑞 试驾车"
    created_at = factory.LazyFunction(clock.now)


class CarModelFactory(Base):
    class Meta:
        model = CarModel

    group_id = factory.LazyAttribute(lambda o: GroupFactory().id)
    name = factory.Sequence(lambda n: f"车型{n}")


class SurveyFactory(Base):
    """A survey of the customer's store (NPS by default), unanswered unless given a score."""

    class Meta:
        model = Survey

    customer = factory.SubFactory(CustomerFactory)
    store_id = factory.SelfAttribute("customer.store_id")
    kind = SurveyKind.NPS.value
    period = "2026Q2"
    dedupe_key = factory.Sequence(lambda n: f"test-survey:{n}")
    expires_at = factory.LazyFunction(lambda: clock.now() + timedelta(days=7))
    comment = ""
    answered_at = factory.LazyAttribute(lambda o: clock.now() if o.score is not None else None)
    score = None
    created_at = factory.LazyFunction(clock.now)


class ComplaintFactory(Base):
    """A member complaint filed now, first contact due 10 minutes later (inside opening
    hours), nobody notified: for tests of reading and handling, not of filing."""

    class Meta:
        model = Complaint

    customer = factory.SubFactory(CustomerFactory)
    store_id = factory.SelfAttribute("customer.store_id")
    channel = "member"
    text = "保养等了两个小时没人理"
    state = "new"
    filed_at = factory.LazyFunction(clock.now)
    contact_due_at = factory.LazyAttribute(lambda o: o.filed_at + timedelta(minutes=10))


class DealFactory(Base):
    """A deal with its deposit taken today, made by the lead's owner at the lead's store."""

    class Meta:
        model = Deal

    lead = factory.SubFactory(LeadFactory)
    store_id = factory.SelfAttribute("lead.store_id")
    salesperson_id = factory.LazyAttribute(lambda o: o.lead.owner_id)
    model = "凯美瑞"
    status = "deposit"
    deposit_fen = 500000
    deposit_on = factory.LazyFunction(clock.today)


class CareTaskFactory(Base):
    """A staff phone task (3DC, 7DC, callbacks) for a customer, due now and still open."""

    class Meta:
        model = CareTask

    customer = factory.SubFactory(CustomerFactory)
    store_id = factory.SelfAttribute("customer.store_id")
    kind = "delivery_7dc"
    dedupe_key = factory.Sequence(lambda n: f"test-task:{n}")
    due_at = factory.LazyFunction(clock.now)


class MemberCardFactory(Base):
    class Meta:
        model = MemberCard

    customer = factory.SubFactory(CustomerFactory)
    card_no = factory.Sequence(lambda n: f"M{n:08d}")
    issued_at = factory.LazyFunction(clock.now)
    tier_since = factory.LazyFunction(clock.now)
