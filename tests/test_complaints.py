"""Complaints and their SLAs as services (PRODUCT "Complaints and surveys"; issue 9
"Complaints"): filing from the member pages or by phone, the care specialist notified through
the outbox, first contact, assignment, resolution with a root cause, callback, escalation of
breaches to the store admin, and the complaint-timeliness KPI."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from crm import clock
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.extensions import db
from crm.models import (
    CareTemplate,
    Complaint,
    ComplaintEvent,
    ComplaintPhoto,
    OutboxMessage,
    Role,
    Staff,
    WeChatApp,
    WeChatIdentity,
)
from crm.services import complaints, dispatcher
from crm.services.care import planner
from tests import factories as f
from wechat.client import SharedTokenClient

SITE = "https://crm.example.cn"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WEBP = b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64


def beijing(day: int, hour: int, minute: int = 0) -> datetime:
    """A Beijing wall-clock moment of June 2026 (the 15th is a Monday; FROZEN_AT is 15th 10:00)."""
    return datetime(2026, 6, day, hour, minute, tzinfo=clock.BUSINESS_TZ)


def file(session, customer, now=None, text="保养等了两个小时没人理", vehicle_id=None, uploads=()):
    return complaints.file_from_member(
        session,
        customer,
        complaints.ComplaintInput(text, vehicle_id),
        list(uploads),
        [],
        None,
        now or clock.now(),
    )


def staff_messages(session, kind=None):
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return session.scalars(query).all()


def events(session, complaint):
    return session.scalars(
        select(ComplaintEvent.kind)
        .where(ComplaintEvent.complaint_id == complaint.id)
        .order_by(ComplaintEvent.id)
    ).all()


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def wechat_client(fake_wechat):
    fake = fake_wechat.fake
    return SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)


# --- filing -----------------------------------------------------------------------------------


def test_member_complaint_starts_a_ten_minute_clock_and_notifies_the_care_specialist(
    org, session, frozen_now
):
    complaint = file(session, org.customer_a1)

    assert (complaint.store_id, complaint.channel, complaint.state) == (
        org.store_a.id,
        "member",
        "new",
    )
    assert complaint.filed_at == clock.now()
    assert complaint.contact_due_at == clock.now() + timedelta(minutes=10)
    [message] = staff_messages(session)
    assert (message.kind, message.staff_id, message.customer_id) == (
        "complaint_new",
        org.care_a.id,
        None,  # about the customer, not to them: not one of their care messages of the week
    )
    assert message.not_before == clock.now()
    assert message.payload == {
        "data": {
            "keyword1": "客户甲",
            "keyword2": "保养等了两个小时没人理",
            "keyword3": "06-15 10:00",
            "keyword4": "06-15 10:10",
        },
        "url": f"/h5/complaints/{complaint.id}",
    }
    assert events(session, complaint) == ["filed"]


def test_a_store_without_a_care_specialist_notifies_its_store_admin(org, session, frozen_now):
    org.care_a.active = False
    session.commit()
    file(session, org.customer_a1)
    assert [m.staff_id for m in staff_messages(session)] == [org.store_admin_a.id]


def test_a_complaint_filed_in_the_evening_is_due_next_morning(org, session, frozen_now):
    complaint = file(session, org.customer_a1, now=beijing(15, 20, 0))
    assert complaint.contact_due_at == beijing(16, 8, 10)


def test_photos_are_kept_with_the_type_their_bytes_say(org, session, frozen_now):
    complaint = file(session, org.customer_a1, uploads=[JPEG, PNG, WEBP])
    photos = session.scalars(
        select(ComplaintPhoto).where(ComplaintPhoto.complaint_id == complaint.id)
    ).all()
    assert [(p.content_type, p.size, p.data) for p in photos] == [
        ("image/jpeg", len(JPEG), JPEG),
        ("image/png", len(PNG), PNG),
        ("image/webp", len(WEBP), WEBP),
    ]


@pytest.mark.parametrize(
    ("uploads", "message"),
    [
        ([JPEG, GIF], "第2张照片不是JPEG、PNG或WebP图片"),
        ([b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024)], "第1张照片超过5MB，请压缩后再上传"),
        ([JPEG] * 10, "最多上传9张照片"),
        ([b""], "第1张照片是空文件"),
    ],
)
def test_a_bad_photo_refuses_the_whole_complaint(org, session, frozen_now, uploads, message):
    with pytest.raises(ValidationError) as refused:
        file(session, org.customer_a1, uploads=uploads)
    assert (refused.value.field, refused.value.message) == ("photos", message)
    assert count(session, Complaint) == count(session, OutboxMessage) == 0


def test_nine_photos_of_exactly_5mb_are_accepted(org, session, frozen_now):
    largest = b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024 - 8)
    complaint = file(session, org.customer_a1, uploads=[largest] * 9)
    assert count(session, ComplaintPhoto) == 9
    assert complaint.photos[0].size == 5 * 1024 * 1024


def test_js_sdk_photos_are_fetched_from_wechat_by_their_server_ids(
    org, session, frozen_now, fake_wechat, wechat_client
):
    fake_wechat.fake.add_media("media-1", PNG, "image/png")
    complaint = complaints.file_from_member(
        session,
        org.customer_a1,
        complaints.ComplaintInput("洗车没洗干净"),
        [JPEG],
        ["media-1"],
        wechat_client,
        clock.now(),
    )
    assert [(p.content_type, p.data) for p in complaint.photos] == [
        ("image/jpeg", JPEG),
        ("image/png", PNG),
    ]
    assert ("GET", "/cgi-bin/media/get") in fake_wechat.fake.requests


def test_an_expired_wechat_media_id_refuses_the_complaint(
    org, session, frozen_now, fake_wechat, wechat_client
):
    fake_wechat.fake.add_media("media-gif", GIF, "image/gif")
    for media_id, message in (
        ("gone", "第1张照片从微信获取失败，请重新选择"),
        ("media-gif", "第1张照片不是JPEG、PNG或WebP图片"),
        ("../etc", "照片标识无效，请重新选择"),
    ):
        with pytest.raises(ValidationError) as refused:
            complaints.file_from_member(
                session,
                org.customer_a1,
                complaints.ComplaintInput("洗车没洗干净"),
                [],
                [media_id],
                wechat_client,
                clock.now(),
            )
        assert (refused.value.field, refused.value.message) == ("photos", message)
    assert count(session, Complaint) == 0


def test_bad_text_or_another_customers_vehicle_is_refused_by_field(org, session, frozen_now):
    theirs = f.VehicleFactory(customer=org.customer_a2)
    for text, vehicle_id, field in (
        ("   ", None, "text"),
        ("长" * 1001, None, "text"),
        ("车有异响", theirs.id, "vehicle"),
    ):
        with pytest.raises(ValidationError) as refused:
            file(session, org.customer_a1, text=text, vehicle_id=vehicle_id)
        assert refused.value.field == field
    assert count(session, Complaint) == 0
    mine = f.VehicleFactory(customer=org.customer_a1)
    assert file(session, org.customer_a1, vehicle_id=mine.id).vehicle_id == mine.id


def test_staff_record_a_phone_complaint_for_a_customer_they_can_see(org, session, frozen_now):
    found = complaints.find_customer(session, org.advisor_a, org.customer_a2.phone[3:])
    assert found.id == org.customer_a2.id
    complaint = complaints.record_phone_complaint(
        session, org.advisor_a, found.id, complaints.ComplaintInput("电话里说等太久"), clock.now()
    )
    assert (complaint.channel, complaint.recorded_by_id) == ("phone", org.advisor_a.id)
    assert [m.staff_id for m in staff_messages(session)] == [org.care_a.id]
    # The one who recorded it can open it; a salesperson cannot reach a colleague's customer.
    assert complaints.staff_detail(session, org.advisor_a, complaint.id).id == complaint.id
    with pytest.raises(ValidationError):
        complaints.find_customer(session, org.sales_a1, org.customer_a2.phone)
    with pytest.raises(NotFound):
        complaints.record_phone_complaint(
            session, org.sales_a1, org.customer_a2.id, complaints.ComplaintInput("x"), clock.now()
        )


# --- handling ---------------------------------------------------------------------------------


def test_first_contact_is_stamped_once_and_the_second_is_told_who_was_first(
    org, session, frozen_now
):
    complaint = file(session, org.customer_a1)
    frozen_now.shift(timedelta(minutes=4))
    complaints.record_first_contact(session, org.care_a, complaint.id, "已致歉", clock.now())
    with pytest.raises(Conflict) as late:
        complaints.record_first_contact(session, org.store_admin_a, complaint.id, "", clock.now())
    assert late.value.message == "客服A已于06-15 10:04联系过客户"
    session.refresh(complaint)
    assert (complaint.state, complaint.first_contacted_by_id) == ("contacted", org.care_a.id)
    assert complaint.contact_met is True
    assert events(session, complaint) == ["filed", "contacted"]


def test_assigning_a_responsible_person_of_the_store_notifies_them(org, session, frozen_now):
    complaint = file(session, org.customer_a1)
    complaints.assign(session, org.care_a, complaint.id, org.advisor_a.id, clock.now())

    [notice] = staff_messages(session, "complaint_assigned")
    assert (notice.staff_id, notice.payload["data"]["keyword3"]) == (org.advisor_a.id, "客服A")
    assert complaint.assignee_id == org.advisor_a.id
    with pytest.raises(ValidationError) as elsewhere:
        complaints.assign(session, org.care_a, complaint.id, org.sales_b.id, clock.now())
    assert (elsewhere.value.field, elsewhere.value.message) == ("assignee", "请选择本店在职员工")


def test_the_assignee_handles_their_own_complaint_but_does_not_reassign_it(
    org, session, frozen_now
):
    complaint = file(session, org.customer_a1)
    with pytest.raises(NotFound):  # not theirs yet: not even visible
        complaints.record_first_contact(session, org.advisor_a, complaint.id, "", clock.now())
    complaints.assign(session, org.care_a, complaint.id, org.advisor_a.id, clock.now())

    complaints.record_first_contact(session, org.advisor_a, complaint.id, "", clock.now())
    complaints.resolve(session, org.advisor_a, complaint.id, "返工", "workmanship", clock.now())
    with pytest.raises(Forbidden):
        complaints.assign(session, org.advisor_a, complaint.id, org.sales_a1.id, clock.now())


def test_resolving_needs_the_first_contact_and_a_root_cause_and_starts_the_callback_clock(
    org, session, frozen_now
):
    complaint = file(session, org.customer_a1)
    with pytest.raises(ValidationError) as early:
        complaints.resolve(session, org.care_a, complaint.id, "已退款", "price", clock.now())
    assert early.value.message == "请先联系客户，再记录解决结果"
    complaints.record_first_contact(session, org.care_a, complaint.id, "", clock.now())
    for resolution, cause, field in (("", "price", "resolution"), ("已退款", "luck", "root_cause")):
        with pytest.raises(ValidationError) as refused:
            complaints.resolve(session, org.care_a, complaint.id, resolution, cause, clock.now())
        assert refused.value.field == field

    resolved = complaints.resolve(
        session, org.care_a, complaint.id, "已退款", "price", beijing(15, 16)
    )
    # 2 h on Monday, 10 h on Tuesday, 10 h on Wednesday, the last 2 h on Thursday.
    assert resolved.callback_due_at == beijing(18, 10, 0)
    assert (resolved.state, resolved.root_cause_label, resolved.assignee_id) == (
        "resolved",
        "价格",
        org.care_a.id,  # nobody was responsible: the resolver is
    )
    with pytest.raises(Conflict):
        complaints.resolve(session, org.care_a, complaint.id, "再次", "price", clock.now())


def test_the_callback_closes_the_complaint_with_the_customers_verdict(org, session, frozen_now):
    complaint = file(session, org.customer_a1)
    complaints.record_first_contact(session, org.care_a, complaint.id, "", clock.now())
    with pytest.raises(ValidationError) as early:
        complaints.record_callback(session, org.care_a, complaint.id, "好", True, clock.now())
    assert early.value.field == "callback_note"
    complaints.resolve(session, org.care_a, complaint.id, "道歉并送保养", "attitude", clock.now())
    with pytest.raises(ValidationError) as undecided:
        complaints.record_callback(session, org.care_a, complaint.id, "已回访", None, clock.now())
    assert undecided.value.field == "satisfied"

    closed = complaints.record_callback(
        session, org.care_a, complaint.id, "客户接受", False, clock.now() + timedelta(hours=2)
    )
    assert (closed.state, closed.satisfied, closed.callback_met) == ("closed", False, True)
    assert events(session, complaint) == ["filed", "contacted", "resolved", "called_back"]
    assert session.scalars(
        select(ComplaintEvent.note).where(ComplaintEvent.kind == "called_back")
    ).all() == ["客户不满意；客户接受"]


def test_other_stores_and_other_customers_do_not_reach_a_complaint(org, session, frozen_now):
    complaint = file(session, org.customer_a1)
    for outsider in (org.store_admin_b, org.sales_a1, org.advisor_a):
        with pytest.raises(NotFound):
            complaints.staff_detail(session, outsider, complaint.id)
    assert complaints.staff_detail(session, org.group_admin, complaint.id).id == complaint.id
    with pytest.raises(NotFound):
        complaints.my_complaint(session, org.customer_a2, complaint.id)
    assert complaints.my_complaints(session, org.customer_a2) == []


# --- escalation -------------------------------------------------------------------------------


def test_a_missed_first_contact_is_escalated_to_the_store_admin_once(org, session, frozen_now):
    second_admin = f.StaffFactory(store=org.store_a, role=Role.STORE_ADMIN.value, name="A店副总")
    complaint = file(session, org.customer_a1)
    assert complaints.escalate_overdue(session, clock.now() + timedelta(minutes=10)) == 0

    later = clock.now() + timedelta(minutes=11)
    assert complaints.escalate_overdue(session, later) == 1
    assert complaints.escalate_overdue(session, later + timedelta(minutes=1)) == 0

    escalations = staff_messages(session, "complaint_escalated")
    assert sorted(m.staff_id for m in escalations) == sorted(
        [org.store_admin_a.id, second_admin.id]
    )
    assert escalations[0].payload["data"]["keyword2"] == "首次联系超时"
    session.refresh(complaint)
    assert complaint.contact_escalated_at == later
    [note] = session.scalars(
        select(ComplaintEvent.note).where(ComplaintEvent.kind == "escalated")
    ).all()
    assert note.startswith("首次联系超时（时限 06-15 10:10），已通知")


def test_the_clock_does_not_breach_while_the_store_is_closed(org, session, frozen_now):
    file(session, org.customer_a1, now=beijing(15, 20, 0))
    assert complaints.escalate_overdue(session, beijing(16, 7, 59)) == 0
    assert complaints.escalate_overdue(session, beijing(16, 8, 10)) == 0
    assert complaints.escalate_overdue(session, beijing(16, 8, 11)) == 1


def test_a_late_first_contact_and_a_late_callback_are_escalated_too(org, session, frozen_now):
    complaint = file(session, org.customer_a1)
    complaints.record_first_contact(
        session, org.care_a, complaint.id, "", clock.now() + timedelta(minutes=30)
    )
    resolved_at = clock.now() + timedelta(hours=1)
    complaints.resolve(session, org.care_a, complaint.id, "已处理", "waiting", resolved_at)
    assert complaints.escalate_overdue(session, resolved_at) == 1  # the late contact

    session.refresh(complaint)
    past_callback = complaint.callback_due_at + timedelta(minutes=1)
    assert complaints.escalate_overdue(session, past_callback) == 1
    assert [
        m.payload["data"]["keyword2"] for m in staff_messages(session, "complaint_escalated")
    ] == [
        "首次联系超时",
        "回访超时",
    ]


# --- the KPI ----------------------------------------------------------------------------------


def test_complaint_timeliness_is_the_share_meeting_each_sla_per_store(org, session, frozen_now):
    now = clock.now()
    on_time = file(session, org.customer_a1)
    complaints.record_first_contact(session, org.care_a, on_time.id, "", now)
    complaints.resolve(session, org.care_a, on_time.id, "已处理", "process", now)
    complaints.record_callback(session, org.care_a, on_time.id, "满意", True, now)
    late = file(session, org.customer_a2)
    complaints.record_first_contact(session, org.care_a, late.id, "", now + timedelta(minutes=20))
    file(session, org.customer_a1, now=now + timedelta(hours=2))  # still running: not counted
    f.ComplaintFactory(customer=org.customer_b, filed_at=now - timedelta(days=40))  # before

    figures = complaints.timeliness(
        session, org.group_admin, date(2026, 6, 1), date(2026, 6, 30), now + timedelta(hours=2)
    )
    by_store = {figure.store_name: figure for figure in figures}
    a, b = by_store["杭州A店"], by_store["宁波B店"]
    assert (a.filed, a.contact_met, a.contact_decided, a.contact_rate) == (3, 1, 2, 0.5)
    assert (a.callback_met, a.callback_decided, a.callback_rate) == (1, 1, 1.0)
    assert (a.timely, a.decided, a.rate) == (1, 2, 0.5)
    assert (b.filed, b.rate) == (0, None)
    # A store admin sees their own store's figure only.
    mine = complaints.timeliness(
        session, org.store_admin_a, date(2026, 6, 1), date(2026, 6, 30), now
    )
    assert [figure.store_name for figure in mine] == ["杭州A店"]


# --- notifications through the dispatcher -----------------------------------------------------


def test_the_care_specialist_receives_the_new_complaint_as_a_template_message(
    org, session, frozen_now, fake_wechat, wechat_client
):
    assert planner.kind("complaint_new").for_staff
    session.add_all(
        [
            CareTemplate(
                group_id=org.store_a.group_id,
                kind="complaint_new",
                template_id="tmpl-complaint",
            ),
            WeChatIdentity(
                app=WeChatApp.OFFICIAL_ACCOUNT.value,
                openid="o-care-a",
                staff_id=org.care_a.id,
                subscribed=True,
                bound_at=clock.now(),
            ),
        ]
    )
    fake_wechat.fake.subscribe("o-care-a")
    session.commit()
    complaint = file(session, org.customer_a1)

    assert dispatcher.dispatch(session, wechat_client, SITE, clock.now()) == {"sent": 1}
    [sent] = fake_wechat.fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-care-a", "tmpl-complaint")
    assert sent["url"] == f"{SITE}/h5/complaints/{complaint.id}"
    assert sent["data"]["keyword1"] == {"value": "客户甲"}
    assert sent["data"]["keyword4"] == {"value": "06-15 10:10"}


# --- races between real connections (PostgreSQL) ---------------------------------------------

RACE_NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing


def _race_seed() -> tuple[int, list[int], list[int]]:
    """In the race app's own database: a complaint of store A just filed, with the store's two
    handlers and two admins. (complaint id, handler ids, admin ids)"""
    store = f.StoreFactory(code="RC01", name="竞速店")
    handlers = [
        f.StaffFactory(store=store, role=Role.CARE_SPECIALIST.value, name="客服甲"),
        f.StaffFactory(store=store, role=Role.STORE_ADMIN.value, name="店长乙"),
    ]
    admins = [handlers[1], f.StaffFactory(store=store, role=Role.STORE_ADMIN.value, name="店长丙")]
    customer = f.CustomerFactory(store=store, group_id=store.group_id, name="客户丁")
    complaint = file(db.session, customer, now=RACE_NOW)
    return complaint.id, [s.id for s in handlers], [s.id for s in admins]


def _in_own_connection(app, work, outcomes: dict, key, hook=None):
    """Run ``work(session)`` in its own app context, session and connection."""
    with app.app_context():
        session = db.session()
        if hook is not None:
            event.listen(session, "before_commit", hook)
        try:
            outcomes[key] = work(session)
        except Conflict as error:
            outcomes[key] = error.message
        finally:
            if hook is not None:
                event.remove(session, "before_commit", hook)
            db.session.remove()


def _first_holds_its_row_while_second_starts(app, first, second) -> dict:
    """``first`` runs until just before its commit (its UPDATE holds the row lock), then
    ``second`` starts and must wait for it; both outcomes by key 1 and 2."""
    holding = threading.Event()

    def hold_before_commit(_session):
        holding.set()
        threading.Event().wait(0.5)  # the second reaches its UPDATE and blocks meanwhile

    outcomes: dict = {}
    a = threading.Thread(
        target=_in_own_connection, args=(app, first, outcomes, 1, hold_before_commit)
    )
    a.start()
    assert holding.wait(10)
    _in_own_connection(app, second, outcomes, 2)
    a.join(10)
    return outcomes


def test_two_staff_recording_the_first_contact_at_once_record_one_time(race_app):
    complaint_id, (care, admin), _ = _race_seed()

    def contact(staff_id, minute):
        def work(session):
            actor = session.get(Staff, staff_id)
            at = RACE_NOW + timedelta(minutes=minute)
            complaints.record_first_contact(session, actor, complaint_id, "", at)
            return "contacted"

        return work

    outcomes = _first_holds_its_row_while_second_starts(
        race_app, contact(care, 3), contact(admin, 4)
    )

    assert outcomes == {1: "contacted", 2: "客服甲已于06-15 10:03联系过客户"}
    db.session.expire_all()
    complaint = db.session.get(Complaint, complaint_id)
    assert (complaint.first_contacted_at, complaint.first_contacted_by_id) == (
        RACE_NOW + timedelta(minutes=3),
        care,
    )
    assert count(db.session, ComplaintEvent) == 2  # filed, contacted once


def test_two_schedulers_escalating_at_once_escalate_a_breach_once(race_app):
    complaint_id, _, admins = _race_seed()
    later = RACE_NOW + timedelta(minutes=15)

    def escalate(session):
        return complaints.escalate_overdue(session, later)

    outcomes = _first_holds_its_row_while_second_starts(race_app, escalate, escalate)

    assert outcomes == {1: 1, 2: 0}
    db.session.expire_all()
    assert db.session.get(Complaint, complaint_id).contact_escalated_at == later
    kinds = db.session.scalars(select(ComplaintEvent.kind).order_by(ComplaintEvent.id)).all()
    assert kinds == ["filed", "escalated"]
    escalations = staff_messages(db.session, "complaint_escalated")
    assert sorted(m.staff_id for m in escalations) == sorted(admins)
