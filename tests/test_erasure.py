"""Erasure on request (issue 12 "PIPL: deletion on request — personal data erased or
anonymised, business records kept with the link cut, all in the audit log";
crm.services.erasure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import Text, column, func, select, table

from crm import clock, crypto, phones
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.extensions import db
from crm.models import (
    AuditEvent,
    BindingInvitation,
    Booking,
    BookingSlot,
    CareOptOut,
    CareTask,
    Communication,
    Complaint,
    ComplaintEvent,
    ComplaintPhoto,
    Consent,
    Customer,
    Deal,
    IdempotencyKey,
    Lead,
    OutboxMessage,
    OutboxState,
    ServiceOrder,
    SubscribeGrant,
    Survey,
    TestDrive,
    Vehicle,
    WeChatIdentity,
)
from crm.models.types import EncryptedText
from crm.services import care_opt_outs, erasure, outbox, outbox_console, privacy_requests
from crm.services.care import tasks
from crm.services.identity import find_customer_by_phone, id_number_index, phone_index
from tests import factories as f

ID_NUMBER = "33010619900315123X"


@dataclass
class Everything:
    customer: Customer
    vehicle: Vehicle
    lead: Lead
    other_store_lead: Lead
    complaint: Complaint
    pending_id: int
    bundled_id: int
    sent_id: int
    phone: str


def a_customer_with_everything(org, session) -> Everything:
    """Customer 甲 of store A with a value in every place personal data can sit."""
    now = clock.now()
    customer = org.customer_a1
    customer.id_number, customer.id_number_index = ID_NUMBER, id_number_index(ID_NUMBER)
    customer.address = "杭州市西湖区文三路100号"
    customer.licence_no = ID_NUMBER
    customer.licence_class = "C1"
    customer.licence_expiry = date(2030, 1, 1)
    customer.occupation, customer.city = "教师", "杭州"
    customer.hobbies, customer.employer, customer.gender = "钓鱼", "文三中学", "F"
    vehicle = f.VehicleFactory(customer=customer, plate="浙A12345")
    vehicle.compulsory_insurance_expiry = date(2027, 3, 1)
    vehicle.next_service_on = date(2027, 1, 1)
    f.ServiceOrderFactory(vehicle=vehicle, work_items="更换机油")
    lead = f.LeadFactory(
        store=org.store_a, owner=org.sales_a1, name=customer.name, phone=customer.phone
    )
    lead.customer_id, lead.note, lead.referrer = customer.id, "客户说住在文三路", "王五"
    f.CommunicationFactory(lead=lead, content="电话沟通，客户手机另有 13900001111")
    f.TestDriveFactory(lead=lead, feelings="孩子喜欢")
    other_store_lead = f.LeadFactory(store=org.store_b, name="甲", phone=customer.phone)
    f.DealFactory(lead=lead, customer_id=customer.id, vehicle_id=vehicle.id)
    complaint = f.ComplaintFactory(customer=customer, text="我是甲，电话13800000000")
    complaint.resolution = "已联系甲女士"
    session.add(ComplaintPhoto(complaint=complaint, content_type="image/jpeg", size=3, data=b"abc"))
    session.add(ComplaintEvent(complaint=complaint, kind="filed", at=now, note="甲来电"))
    f.SurveyFactory(customer=customer, score=3, comment="甲：等太久")
    slot = BookingSlot(store_id=org.store_a.id, starts_at=now + timedelta(days=2), capacity=4)
    session.add(slot)
    session.flush()
    session.add(
        Booking(
            store_id=org.store_a.id,
            slot_id=slot.id,
            customer_id=customer.id,
            starts_at=slot.starts_at,
            kind="periodic_maintenance",
            note="甲要求上午",
        )
    )
    session.add(
        WeChatIdentity(app="oa", openid="o-erase-test-0001", customer_id=customer.id, bound_at=now)
    )
    session.add(
        BindingInvitation(
            scene="erase-scene", customer_id=customer.id, expires_at=now + timedelta(days=1)
        )
    )
    session.add(SubscribeGrant(customer_id=customer.id, kind="holiday", app="oa", remaining=2))
    session.add(Consent(customer_id=customer.id, purpose="service_reminders", channel="showroom"))

    def message(key: str, **extra) -> int:
        return outbox.enqueue(
            session,
            store_id=customer.store_id,
            customer_id=customer.id,
            kind="maintenance_due",
            due_on=clock.today(),
            dedupe_key=key,
            fields={"name": customer.name, "plate": "浙A12345"},
            url="/m/vehicles",
            not_before=now + timedelta(hours=1),
            now=now,
            **extra,
        )

    pending_id = message("erase:pending")
    bundled_id = message("erase:bundled", bundled_into_id=pending_id)
    sent_id = message("erase:sent")
    session.get(OutboxMessage, sent_id).state = OutboxState.SENT.value
    tasks.queue(
        session,
        kind=tasks.CareTaskKind.DELIVERY_VISIT_7D,
        customer=customer,
        staff_id=org.care_a.id,
        occasion="v1",
        due=now,
        text=f"回访{customer.name}",
        now=now,
    )
    session.commit()
    privacy_requests.request(session, customer, "delete", "请删除我的信息", now)
    return Everything(
        customer,
        vehicle,
        lead,
        other_store_lead,
        complaint,
        pending_id,
        bundled_id,
        sent_id,
        customer.phone,
    )


def _erase(org, session, customer, actor=None):
    actor = actor or org.store_admin_a
    return erasure.erase(session, actor, customer.id, str(customer.id), clock.now())


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _encrypted_columns() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for model_table in db.metadata.sorted_tables:
        names = {c.name for c in model_table.columns if isinstance(c.type, EncryptedText)}
        if names:
            found[model_table.name] = names
    return found


def test_every_encrypted_column_of_every_table_is_erased_or_declared_not_customer_data():
    """A new EncryptedText column fails here until erasure.py says how it is erased."""
    declared: dict[str, set[str]] = {}
    for mapping in (erasure.ERASED_COLUMNS, erasure.NOT_CUSTOMER_DATA):
        for name, columns in mapping.items():
            declared.setdefault(name, set()).update(columns)
    walked = _encrypted_columns()
    for name, columns in walked.items():
        assert columns <= declared.get(name, set()), (
            f"{name}: {columns - declared.get(name, set())}"
        )
    assert erasure.ERASED_COLUMNS["customers"] == walked["customers"]
    assert erasure.ERASED_COLUMNS["leads"] == walked["leads"]


def test_every_personal_column_is_empty_or_anonymised_after_erasure(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    customer = built.customer
    _erase(org, session, customer)
    session.expire_all()
    cipher, anonymous = crypto.cipher(), erasure.anonymous_name(customer.id)
    rows = {
        "customers": [Customer.id == customer.id],
        "leads": [Lead.id.in_([built.lead.id, built.other_store_lead.id])],
    }
    for table_name, model in (("customers", Customer), ("leads", Lead)):
        columns = erasure.ERASED_COLUMNS[table_name]
        raw = table(table_name, column("id"), *(column(name, Text) for name in columns))
        stored = session.execute(
            select(raw).where(raw.c.id.in_(select(model.id).where(*rows[table_name])))
        ).all()
        assert stored, table_name
        for row in stored:
            for name in columns:
                value = getattr(row, name)
                plain = cipher.decrypt(value) if value is not None else None
                assert plain in (None, "", anonymous), (table_name, name, plain)
    customer = session.get(Customer, customer.id)
    assert customer.name == anonymous and customer.erased_at == clock.now()
    assert customer.id_number_index is None and customer.phone_index == f"erased:{customer.id}"
    for name in ("gender", "occupation", "city", "hobbies", "employer", "licence_class"):
        assert getattr(customer, name) == "", name
    assert (customer.birthday, customer.birth_mmdd, customer.licence_expiry) == (None, None, None)


def test_the_apis_remembered_replies_to_the_customer_are_deleted(org, session, frozen_now):
    replies = IdempotencyKey.__table__
    customer = org.customer_a1
    for principal in (f"customer:{customer.id}", f"customer:{org.customer_a2.id}"):
        session.execute(
            replies.insert().values(
                principal=principal,
                key="k1",
                fingerprint="0" * 64,
                claimed_at=clock.now(),
                completed_at=clock.now(),
                status_code=200,
                response=crypto.cipher().encrypt(f'{{"name": "{customer.name}"}}'),
            )
        )
    _erase(org, session, customer)
    assert session.scalars(select(replies.c.principal)).all() == [f"customer:{org.customer_a2.id}"]


def test_a_search_by_the_old_phone_or_id_number_finds_nothing(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    _erase(org, session, built.customer)
    assert find_customer_by_phone(session, built.phone) is None
    assert not _count(session, Customer, Customer.id_number_index == id_number_index(ID_NUMBER))
    old_index = phone_index(phones.normalise(built.phone))
    assert not _count(session, Lead, Lead.phone_index == old_index)


def test_business_records_are_kept_pointing_to_the_anonymous_customer(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    customer = built.customer
    before = {
        model: _count(session, model)
        for model in (Lead, Communication, Deal, Vehicle, ServiceOrder, Complaint, Survey, Booking)
    }
    _erase(org, session, customer)
    session.expire_all()
    assert {model: _count(session, model) for model in before} == before
    assert _count(session, Deal, Deal.customer_id == customer.id) == 1
    assert _count(session, Survey, Survey.customer_id == customer.id, Survey.score == 3) == 1
    vehicle = session.get(Vehicle, built.vehicle.id)
    # The vehicle archive stays for warranty and recalls; the owner's plate and dates go.
    assert vehicle.vin == built.vehicle.vin and vehicle.model == "凯美瑞"
    assert vehicle.plate == "" and vehicle.compulsory_insurance_expiry is None
    assert vehicle.next_service_on is None
    assert session.get(ServiceOrder, vehicle.service_orders[0].id).work_items == "更换机油"


def test_free_text_about_the_customer_is_emptied_and_photos_deleted(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    _erase(org, session, built.customer)
    session.expire_all()
    lead = session.get(Lead, built.lead.id)
    assert (lead.note, lead.referrer) == ("", "")
    assert {c.content for c in lead.communications} == {""}
    assert set(session.scalars(select(TestDrive.feelings))) == {""}
    complaint = session.get(Complaint, built.complaint.id)
    assert (complaint.text, complaint.resolution) == ("", "")
    assert set(session.scalars(select(ComplaintEvent.note))) == {""}
    assert _count(session, ComplaintPhoto) == 0
    assert set(session.scalars(select(Survey.comment))) == {""}
    assert set(session.scalars(select(Booking.note))) == {""}
    payloads = session.scalars(
        select(OutboxMessage.payload).where(OutboxMessage.customer_id == built.customer.id)
    ).all()
    assert payloads and all(p["data"] == {} for p in payloads)
    texts = session.scalars(
        select(CareTask.text).where(CareTask.customer_id == built.customer.id)
    ).all()
    assert texts and set(texts) == {""}


def test_contact_stops_identities_unbound_messages_cancelled_tasks_closed(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    customer = built.customer
    done = _erase(org, session, customer)
    session.expire_all()
    identity = session.scalar(
        select(WeChatIdentity).where(WeChatIdentity.openid == "o-erase-test-0001")
    )
    assert identity.customer_id is None and identity.bound_at is None
    invitation = session.scalar(
        select(BindingInvitation).where(BindingInvitation.scene == "erase-scene")
    )
    assert invitation.expires_at <= clock.now()
    assert _count(session, SubscribeGrant, SubscribeGrant.customer_id == customer.id) == 0
    states = {
        message_id: session.get(OutboxMessage, message_id).state
        for message_id in (built.pending_id, built.bundled_id, built.sent_id)
    }
    assert states == {
        built.pending_id: OutboxState.FAILED,
        built.bundled_id: OutboxState.FAILED,
        built.sent_id: OutboxState.SENT,
    }
    assert session.get(OutboxMessage, built.pending_id).error == erasure.CANCELLED
    open_tasks = _count(
        session, CareTask, CareTask.customer_id == customer.id, CareTask.done_at.is_(None)
    )
    assert open_tasks == 0
    request = session.scalar(
        select(CareTask).where(
            CareTask.customer_id == customer.id, CareTask.kind == "privacy_request"
        )
    )
    assert request.outcome == erasure.REQUEST_DONE and request.done_by_id == org.store_admin_a.id
    opted_out = set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )
    assert opted_out == {kind.name for kind in care_opt_outs.member_kinds()}
    assert done.counts["messages_cancelled"] == 1 and done.counts["tasks_closed"] == 2


def test_a_message_cancelled_by_erasure_cannot_be_resent(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    _erase(org, session, built.customer)
    with pytest.raises(Conflict, match="已注销"):
        outbox_console.resend(session, org.store_admin_a, built.pending_id, clock.now())
    assert session.get(OutboxMessage, built.pending_id).state == OutboxState.FAILED


def test_no_call_task_is_queued_for_an_erased_customer(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    _erase(org, session, built.customer)
    queued = tasks.queue(
        session,
        kind=tasks.CareTaskKind.DELIVERY_VISIT_7D,
        customer=built.customer,
        staff_id=org.sales_a1.id,
        occasion="after-erasure",
        due=clock.now(),
        text="交车7日回访",
        now=clock.now(),
    )
    assert queued is None
    assert _count(session, CareTask, CareTask.dedupe_key.like("%after-erasure")) == 0


def test_consents_are_kept_as_evidence_and_the_erasure_is_audited(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    customer = built.customer
    _erase(org, session, customer)
    assert _count(session, Consent, Consent.customer_id == customer.id) == 1
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "customer.erase"))
    assert (event.actor_staff_id, event.subject_id, event.customer_id, event.store_id) == (
        org.store_admin_a.id,
        customer.id,
        customer.id,
        customer.store_id,
    )
    assert event.detail["leads"] == 2 and event.detail["identities_unbound"] == 1
    assert built.phone not in str(event.detail)


def test_erasing_twice_changes_nothing_and_logs_once(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    first = _erase(org, session, built.customer)
    frozen_now.shift(timedelta(hours=1))
    second = _erase(org, session, built.customer)
    assert (first.already, second.already) == (False, True)
    assert session.get(Customer, built.customer.id).erased_at == first.customer.erased_at
    assert _count(session, AuditEvent, AuditEvent.action == "customer.erase") == 1


def test_the_admin_must_type_the_customer_id_and_nothing_changes_otherwise(
    org, session, frozen_now
):
    customer = org.customer_a1
    name = customer.name
    for typed in ("", "yes", str(customer.id + 1)):
        with pytest.raises(ValidationError) as refused:
            erasure.erase(session, org.store_admin_a, customer.id, typed, clock.now())
        assert refused.value.field == "confirm" and str(customer.id) in refused.value.message
    session.expire_all()
    assert session.get(Customer, customer.id).name == name
    assert _count(session, AuditEvent) == 0


def test_only_store_and_group_admins_erase_and_only_in_their_scope(org, session, frozen_now):
    customer = org.customer_a1
    for staff in (org.sales_a1, org.supervisor_a1, org.advisor_a, org.care_a):
        with pytest.raises(Forbidden):
            _erase(org, session, customer, staff)
    with pytest.raises(NotFound):
        _erase(org, session, customer, org.store_admin_b)
    assert session.get(Customer, customer.id).erased_at is None
    assert not _erase(org, session, org.customer_b, org.group_admin).already
    assert _count(session, AuditEvent) == 1


def test_the_phone_may_register_again_as_a_new_customer(org, session, frozen_now):
    built = a_customer_with_everything(org, session)
    _erase(org, session, built.customer)
    again = f.CustomerFactory(store=org.store_a, group_id=org.store_a.group_id, phone=built.phone)
    session.flush()
    assert find_customer_by_phone(session, built.phone).id == again.id
