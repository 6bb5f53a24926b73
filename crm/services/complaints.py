"""Complaints and their SLAs (PRODUCT "Complaints and surveys"; issue 9 "Complaints").

The rules:

- A customer complains from the member pages (text, an optional vehicle of theirs, up to 9
  photos), or a staff member records a phone complaint for a customer they can see. The
  store's care specialist (客服专员) is notified at once by a WeChat template message through
  the outbox; a store without one notifies its store admin(s).
- **First contact within 10 minutes**, **callback within 24 hours of resolution**, both counted
  in the store's opening hours (crm.services.complaint_sla). The deadlines are fixed when
  each clock starts: at filing, and at resolution.
- Handling: 已联系客户 (first contact), 指派 (a responsible person of the store), 已解决
  (resolution text and root cause: waiting, attitude, workmanship, price, facilities,
  process), 已回访 (note and whether the customer is satisfied). Each step is stamped once,
  by a conditional UPDATE: two people pressing the same button record one time.
- Who acts: ``complaint.handle`` (care specialist, store admin, group admin) on every
  complaint they can see; the assignee on their own complaint (everything but reassigning).
  ``complaint.record``: whoever takes a customer's phone call.
- A breached SLA (not done by its deadline, or done late) is escalated to the store admin(s)
  once, by the job ``escalate_overdue`` (every minute; two schedulers escalate once).
- Every step is a ``ComplaintEvent``: the timeline staff and the customer see.
- Complaint timeliness (``timeliness``): the share of complaints meeting each SLA over a
  period, per store — the KPI of PRODUCT "Reports and KPIs" (target 100%).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crm import access, clock, phones
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.models import (
    COMPLAINT_STATE_LABELS,
    ROOT_CAUSE_LABELS,
    Complaint,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintPhoto,
    ComplaintState,
    Customer,
    Role,
    RootCause,
    Staff,
    Store,
    Vehicle,
)
from crm.services import complaint_photos, outbox
from crm.services.care.kinds import CareKind, Rank
from crm.services.care.tasks import care_specialist_id
from crm.services.complaint_sla import (
    CALLBACK_WITHIN,
    CONTACT_WITHIN,
    BusinessHours,
    Countdown,
    countdown,
    deadline,
)
from crm.services.identity import phone_index

HANDLE = "complaint.handle"
RECORD = "complaint.record"
TEXT_MAX = 1000
NOTE_MAX = 500
PER_PAGE = 20

# --- notifications to staff (outbox kinds, registered in care.planner.EVENT_KINDS) ----------

NEW_KIND = CareKind(
    name="complaint_new",
    label="新客户投诉",
    priority=Rank.CRITICAL,
    fields={
        "keyword1": "客户",
        "keyword2": "投诉内容",
        "keyword3": "提交时间",
        "keyword4": "首次联系时限",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "保养等了两个小时没人理",
        "keyword3": "06-15 10:00",
        "keyword4": "06-15 10:10",
    },
    page="/h5/complaints/",
    call_if_unreachable=False,
    for_staff=True,
)
ASSIGNED_KIND = CareKind(
    name="complaint_assigned",
    label="客诉指派",
    priority=Rank.CRITICAL,
    fields={
        "keyword1": "客户",
        "keyword2": "投诉内容",
        "keyword3": "指派人",
        "keyword4": "指派时间",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "保养等了两个小时没人理",
        "keyword3": "客服小李",
        "keyword4": "06-15 10:08",
    },
    page="/h5/complaints/",
    call_if_unreachable=False,
    for_staff=True,
)
ESCALATED_KIND = CareKind(
    name="complaint_escalated",
    label="客诉超时上报",
    priority=Rank.CRITICAL,
    fields={
        "keyword1": "客户",
        "keyword2": "超时环节",
        "keyword3": "时限",
        "keyword4": "门店",
    },
    sample={
        "keyword1": "王先生",
        "keyword2": "首次联系超时",
        "keyword3": "06-15 10:10",
        "keyword4": "杭州西湖店",
    },
    page="/h5/complaints/",
    call_if_unreachable=False,
    for_staff=True,
)
KINDS = (NEW_KIND, ASSIGNED_KIND, ESCALATED_KIND)

CONTACT, CALLBACK = "contact", "callback"
SLA_LABELS = {CONTACT: "首次联系超时", CALLBACK: "回访超时"}


def _short(instant: datetime) -> str:
    return clock.local(instant).strftime("%m-%d %H:%M")


def _page(complaint_id: int) -> str:
    return f"/h5/complaints/{complaint_id}"


def _notify(
    session: Session,
    kind: CareKind,
    complaint: Complaint,
    staff_ids: list[int],
    occasion: str,
    fields: dict[str, str],
    now: datetime,
) -> None:
    """One outbox row per staff member, keyed by (kind, complaint, occasion, staff member).

    ``customer_id`` stays empty: the message is about the customer, not to them, and must not
    count against their care messages of the week."""
    for staff_id in staff_ids:
        outbox.enqueue(
            session,
            store_id=complaint.store_id,
            customer_id=None,
            staff_id=staff_id,
            kind=kind.name,
            due_on=clock.today(now),
            dedupe_key=f"{kind.name}:{complaint.id}:{occasion}:{staff_id}",
            fields=fields,
            url=_page(complaint.id),
            not_before=now,
            now=now,
        )


def _store_admin_ids(session: Session, store_id: int) -> list[int]:
    """The store's active admins; a store without one falls back to its group's admins."""
    admins = list(
        session.scalars(
            select(Staff.id)
            .where(
                Staff.store_id == store_id,
                Staff.role == Role.STORE_ADMIN,
                Staff.active.is_(True),
            )
            .order_by(Staff.id)
        )
    )
    if admins:
        return admins
    group_id = select(Store.group_id).where(Store.id == store_id).scalar_subquery()
    return list(
        session.scalars(
            select(Staff.id)
            .where(
                Staff.group_id == group_id,
                Staff.role == Role.GROUP_ADMIN,
                Staff.active.is_(True),
            )
            .order_by(Staff.id)
        )
    )


def _first_responders(session: Session, store_id: int) -> list[int]:
    """Who hears of a new complaint: the store's care specialist, else its admin(s)."""
    specialist = care_specialist_id(session, store_id)
    return [specialist] if specialist else _store_admin_ids(session, store_id)


# --- filing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintInput:
    text: str
    vehicle_id: int | None = None


def _checked_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError("请填写投诉内容", "text")
    if len(text) > TEXT_MAX:
        raise ValidationError(f"投诉内容最多{TEXT_MAX}个字", "text")
    return text


def _checked_vehicle(session: Session, customer: Customer, vehicle_id: int | None) -> int | None:
    if vehicle_id is None:
        return None
    owner = session.scalar(select(Vehicle.customer_id).where(Vehicle.id == vehicle_id))
    if owner != customer.id:
        raise ValidationError("请选择该客户名下的车辆", "vehicle")
    return vehicle_id


def _file(
    session: Session,
    customer: Customer,
    data: ComplaintInput,
    channel: ComplaintChannel,
    recorded_by: Staff | None,
    photos: list[complaint_photos.Photo],
    now: datetime,
) -> Complaint:
    text = _checked_text(data.text)
    vehicle_id = _checked_vehicle(session, customer, data.vehicle_id)
    store = session.get(Store, customer.store_id)
    complaint = Complaint(
        store_id=store.id,
        customer_id=customer.id,
        vehicle_id=vehicle_id,
        channel=channel.value,
        text=text,
        state=ComplaintState.NEW.value,
        filed_at=now,
        recorded_by_id=recorded_by.id if recorded_by else None,
        contact_due_at=deadline(BusinessHours.of(store), now, CONTACT_WITHIN),
    )
    session.add(complaint)
    session.flush()
    for photo in photos:
        session.add(
            ComplaintPhoto(
                complaint_id=complaint.id,
                content_type=photo.content_type,
                size=len(photo.data),
                data=photo.data,
                created_at=now,
            )
        )
    note = "电话投诉，由员工代为登记" if channel == ComplaintChannel.PHONE else ""
    if photos:
        note = (note + "，" if note else "") + f"附照片{len(photos)}张"
    _event(session, complaint, ComplaintEventKind.FILED, recorded_by, note, now)
    _notify(
        session,
        NEW_KIND,
        complaint,
        _first_responders(session, store.id),
        "new",
        {
            "keyword1": customer.name,
            "keyword2": text,
            "keyword3": _short(now),
            "keyword4": _short(complaint.contact_due_at),
        },
        now,
    )
    session.commit()
    return complaint


def file_from_member(
    session: Session,
    customer: Customer,
    data: ComplaintInput,
    uploads: list[bytes],
    media_ids: list[str],
    client,
    now: datetime,
) -> Complaint:
    """The customer files a complaint from the member pages (issue 9): text (required, at
    most 1000 characters), optionally one of their vehicles, and at most 9 photos — uploaded
    files and/or JS-SDK serverIds fetched from WeChat through ``client`` (checked by
    crm.services.complaint_photos). The first-contact clock starts now; the store's care
    specialist is notified. Bad input raises ValidationError naming the field; nothing is
    written."""
    _checked_text(data.text)
    _checked_vehicle(session, customer, data.vehicle_id)
    photos = complaint_photos.collect(uploads, media_ids, client)
    return _file(session, customer, data, ComplaintChannel.MEMBER, None, photos, now)


def find_customer(session: Session, actor: Staff, raw_phone: str) -> Customer:
    """The customer on the phone, found by number among the customers the actor may see."""
    access.require(actor, RECORD)
    e164 = phones.normalise(raw_phone, "phone")
    query = select(Customer).where(Customer.phone_index == phone_index(e164))
    customer = session.scalar(access.scope(query, actor))
    if customer is None:
        raise ValidationError("没有找到该手机号的客户", "phone")
    return customer


def caller(
    session: Session, actor: Staff, raw_phone: str, customer_id: int | None
) -> Customer | None:
    """Whom a phone complaint is for: the customer chosen (by id, through the actor's scope),
    else the one found by the phone typed in; None while neither is given."""
    if customer_id is not None:
        return access.get_or_404(Customer, customer_id, actor)
    if (raw_phone or "").strip():
        return find_customer(session, actor, raw_phone)
    return None


def record_phone_complaint(
    session: Session, actor: Staff, customer_id: int, data: ComplaintInput, now: datetime
) -> Complaint:
    """A staff member records a complaint a customer made by phone (``complaint.record``; the
    customer must be in the actor's scope). Same clock and notification as a member
    complaint."""
    customer = access.get_or_404(Customer, customer_id, actor)
    access.require(actor, RECORD)
    return _file(session, customer, data, ComplaintChannel.PHONE, actor, [], now)


# --- handling ---------------------------------------------------------------------------------


def _event(
    session: Session,
    complaint: Complaint,
    kind: ComplaintEventKind,
    staff: Staff | None,
    note: str,
    now: datetime,
) -> ComplaintEvent:
    event = ComplaintEvent(
        complaint_id=complaint.id,
        kind=kind.value,
        at=now,
        staff_id=staff.id if staff else None,
        note=note,
    )
    session.add(event)
    session.flush()
    return event


def may_handle(actor: Staff, complaint: Complaint) -> bool:
    """Handlers act on every complaint they see; the assignee on their own."""
    return access.allowed(actor, HANDLE) or (actor.active and complaint.assignee_id == actor.id)


def _for_action(session: Session, actor: Staff, complaint_id: int) -> Complaint:
    complaint = access.get_or_404(Complaint, complaint_id, actor)
    if not may_handle(actor, complaint):
        raise Forbidden("只有客服专员、分店管理员或该投诉的负责人可以处理")
    return complaint


def _note(note: str, field: str = "note", required: bool = False, label: str = "备注") -> str:
    note = (note or "").strip()
    if required and not note:
        raise ValidationError(f"请填写{label}", field)
    if len(note) > NOTE_MAX:
        raise ValidationError(f"{label}最多{NOTE_MAX}个字", field)
    return note


def _stamp(session: Session, complaint_id: int, unset, values: dict) -> bool:
    """Write ``values`` only while ``unset`` is still NULL: one of two clicks wins."""
    moved = session.execute(
        update(Complaint)
        .where(Complaint.id == complaint_id, unset.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def _staff_name(session: Session, staff_id: int | None) -> str:
    return session.scalar(select(Staff.name).where(Staff.id == staff_id)) or "同事"


def record_first_contact(
    session: Session, actor: Staff, complaint_id: int, note: str, now: datetime
) -> Complaint:
    """已联系客户: stamps the first contact once (issue 9: within 10 business minutes). Two
    staff pressing it at once: one conditional UPDATE (``first_contacted_at IS NULL``) lets
    one through; the other is told who was first."""
    complaint = _for_action(session, actor, complaint_id)
    note = _note(note)
    complaint_id = complaint.id
    if complaint.first_contacted_at is None and _stamp(
        session,
        complaint_id,
        Complaint.first_contacted_at,
        {
            "first_contacted_at": now,
            "first_contacted_by_id": actor.id,
            "state": ComplaintState.CONTACTED.value,
        },
    ):
        _event(session, complaint, ComplaintEventKind.CONTACTED, actor, note, now)
        session.commit()
        session.refresh(complaint)
        return complaint
    session.rollback()
    complaint = session.get(Complaint, complaint_id)
    session.refresh(complaint)
    who = _staff_name(session, complaint.first_contacted_by_id)
    raise Conflict(f"{who}已于{_short(complaint.first_contacted_at)}联系过客户", "note")


def assignable_staff(session: Session, complaint: Complaint) -> list[Staff]:
    """Who may be made responsible: the active staff of the complaint's store."""
    return list(
        session.scalars(
            select(Staff)
            .where(Staff.store_id == complaint.store_id, Staff.active.is_(True))
            .order_by(Staff.role, Staff.id)
        )
    )


def assign(
    session: Session, actor: Staff, complaint_id: int, assignee_id: int | None, now: datetime
) -> Complaint:
    """指派: makes an active staff member of the complaint's store responsible
    (``complaint.handle`` only) and notifies them; reassigning moves the responsibility. A
    resolved complaint is not reassigned."""
    complaint = access.get_or_404(Complaint, complaint_id, actor)
    access.require(actor, HANDLE)
    if complaint.resolved_at is not None:
        raise ValidationError("投诉已解决，不能再指派", "assignee")
    if assignee_id is None:
        raise ValidationError("请选择负责人", "assignee")
    assignee = session.get(Staff, assignee_id)
    if assignee is None or not assignee.active or assignee.store_id != complaint.store_id:
        raise ValidationError("请选择本店在职员工", "assignee")
    if complaint.assignee_id == assignee.id:
        raise ValidationError(f"该投诉已由{assignee.name}负责", "assignee")
    complaint.assignee_id = assignee.id
    complaint.assigned_at = now
    event = _event(
        session, complaint, ComplaintEventKind.ASSIGNED, actor, f"负责人：{assignee.name}", now
    )
    if assignee.id != actor.id:
        _notify(
            session,
            ASSIGNED_KIND,
            complaint,
            [assignee.id],
            f"event{event.id}",
            {
                "keyword1": complaint.customer.name,
                "keyword2": complaint.text,
                "keyword3": actor.name,
                "keyword4": _short(now),
            },
            now,
        )
    session.commit()
    return complaint


def resolve(
    session: Session,
    actor: Staff,
    complaint_id: int,
    resolution: str,
    root_cause: str,
    now: datetime,
) -> Complaint:
    """已解决: the resolution (required) and the root cause (one of PRODUCT's six) are
    recorded once; the customer must have been contacted first. The 24-business-hour
    callback clock starts now. Nobody responsible yet: the resolver becomes it."""
    complaint = _for_action(session, actor, complaint_id)
    if complaint.first_contacted_at is None:
        raise ValidationError("请先联系客户，再记录解决结果", "resolution")
    resolution = _note(resolution, "resolution", required=True, label="处理结果")
    try:
        cause = RootCause(root_cause)
    except ValueError:
        raise ValidationError("请选择问题根因", "root_cause") from None
    store = session.get(Store, complaint.store_id)
    values = {
        "resolved_at": now,
        "resolved_by_id": actor.id,
        "resolution": resolution,
        "root_cause": cause.value,
        "callback_due_at": deadline(BusinessHours.of(store), now, CALLBACK_WITHIN),
        "state": ComplaintState.RESOLVED.value,
    }
    if complaint.assignee_id is None:
        values.update(assignee_id=actor.id, assigned_at=now)
    complaint_id = complaint.id
    if not _stamp(session, complaint_id, Complaint.resolved_at, values):
        session.rollback()
        raise Conflict("该投诉已记录解决结果", "resolution")
    note = f"根因：{ROOT_CAUSE_LABELS[cause]}；{resolution}"
    _event(session, complaint, ComplaintEventKind.RESOLVED, actor, note, now)
    session.commit()
    session.refresh(complaint)
    return complaint


def record_callback(
    session: Session,
    actor: Staff,
    complaint_id: int,
    note: str,
    satisfied: bool | None,
    now: datetime,
) -> Complaint:
    """已回访: after resolution, the callback's note and whether the customer is satisfied
    (both required) close the complaint. An unsatisfied customer is recorded as such — the
    console and the store admin see it — and the complaint still closes."""
    complaint = _for_action(session, actor, complaint_id)
    if complaint.resolved_at is None:
        raise ValidationError("投诉解决后才能回访", "callback_note")
    note = _note(note, "callback_note", required=True, label="回访记录")
    if satisfied is None:
        raise ValidationError("请选择客户是否满意", "satisfied")
    complaint_id = complaint.id
    moved = _stamp(
        session,
        complaint_id,
        Complaint.called_back_at,
        {
            "called_back_at": now,
            "called_back_by_id": actor.id,
            "callback_note": note,
            "satisfied": satisfied,
            "state": ComplaintState.CLOSED.value,
        },
    )
    if not moved:
        session.rollback()
        raise Conflict("该投诉已回访", "callback_note")
    verdict = "客户满意" if satisfied else "客户不满意"
    _event(session, complaint, ComplaintEventKind.CALLED_BACK, actor, f"{verdict}；{note}", now)
    session.commit()
    session.refresh(complaint)
    return complaint


# --- escalation (the job) ---------------------------------------------------------------------


def _contact_breached(now: datetime):
    return and_(
        Complaint.contact_due_at < now,
        or_(
            Complaint.first_contacted_at.is_(None),
            Complaint.first_contacted_at > Complaint.contact_due_at,
        ),
    )


def _callback_breached(now: datetime):
    return and_(
        Complaint.callback_due_at.is_not(None),
        Complaint.callback_due_at < now,
        or_(
            Complaint.called_back_at.is_(None),
            Complaint.called_back_at > Complaint.callback_due_at,
        ),
    )


def breached(now: datetime):
    """SQL: the complaint missed (or is missing) one of its SLAs at ``now``."""
    return or_(_contact_breached(now), _callback_breached(now))


def escalate_overdue(session: Session, now: datetime) -> int:
    """Escalate every SLA breach once to the store admin(s) (issue 9: "escalation to the store
    admin when an SLA is breached"): a first contact not made by its deadline, or made late,
    and likewise the callback. One conditional UPDATE per SLA claims the breaches
    (``…_escalated_at IS NULL``), so two schedulers running it at once escalate each once; the
    outbox's dedupe keys make the messages once too. Returns how many were escalated."""
    escalated = 0
    for sla, breach, stamp in (
        (CONTACT, _contact_breached(now), Complaint.contact_escalated_at),
        (CALLBACK, _callback_breached(now), Complaint.callback_escalated_at),
    ):
        claimed = session.scalars(
            update(Complaint)
            .where(breach, stamp.is_(None))
            .values({stamp.key: now})
            .returning(Complaint.id)
            .execution_options(synchronize_session=False)
        ).all()
        for complaint_id in claimed:
            _escalate(session, session.get(Complaint, complaint_id), sla, now)
        escalated += len(claimed)
    session.commit()
    return escalated


def _escalate(session: Session, complaint: Complaint, sla: str, now: datetime) -> None:
    admins = _store_admin_ids(session, complaint.store_id)
    due = complaint.contact_due_at if sla == CONTACT else complaint.callback_due_at
    names = "、".join(_staff_name(session, staff_id) for staff_id in admins) or "（无管理员）"
    note = f"{SLA_LABELS[sla]}（时限 {_short(due)}），已通知{names}"
    _event(session, complaint, ComplaintEventKind.ESCALATED, None, note, now)
    _notify(
        session,
        ESCALATED_KIND,
        complaint,
        admins,
        sla,
        {
            "keyword1": complaint.customer.name,
            "keyword2": SLA_LABELS[sla],
            "keyword3": _short(due),
            "keyword4": complaint.store.name,
        },
        now,
    )


# --- reading: staff ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """The SLA a complaint is running against now (first contact or callback), if any."""

    label: str
    countdown: Countdown


def running_clock(complaint: Complaint, now: datetime) -> Clock | None:
    hours = BusinessHours.of(complaint.store)
    if complaint.first_contacted_at is None:
        return Clock("首次联系", countdown(hours, complaint.contact_due_at, now))
    if complaint.resolved_at is not None and complaint.called_back_at is None:
        return Clock("回访", countdown(hours, complaint.callback_due_at, now))
    return None


@dataclass(frozen=True)
class ComplaintRow:
    complaint: Complaint
    clock: Clock | None
    breached: bool  # missed (or is missing) any of its SLAs


def is_breached(complaint: Complaint, now: datetime) -> bool:
    """Python twin of ``breached``: an SLA missed, or running past its deadline."""
    contact = _decided(complaint.contact_due_at, complaint.first_contacted_at, now) is False
    callback = (
        complaint.callback_due_at is not None
        and _decided(complaint.callback_due_at, complaint.called_back_at, now) is False
    )
    return contact or callback


def _row(complaint: Complaint, now: datetime) -> ComplaintRow:
    return ComplaintRow(complaint, running_clock(complaint, now), is_breached(complaint, now))


def _listed(query: Select) -> Select:
    return query.options(
        selectinload(Complaint.customer),
        selectinload(Complaint.store),
        selectinload(Complaint.assignee),
    )


def staff_list(session: Session, actor: Staff, now: datetime, closed: bool = False):
    """The H5 list: the complaints the actor sees (a store's handlers: the store's; anyone:
    those assigned to them), open ones first by the deadline running out soonest; with
    ``closed``, the 50 most recently closed."""
    query = access.scope(select(Complaint), actor)
    if closed:
        query = query.where(Complaint.state == ComplaintState.CLOSED.value)
        query = query.order_by(Complaint.called_back_at.desc()).limit(50)
        return [_row(c, now) for c in session.scalars(_listed(query))]
    query = query.where(Complaint.state != ComplaintState.CLOSED.value)
    rows = [_row(c, now) for c in session.scalars(_listed(query))]
    far = datetime.max.replace(tzinfo=UTC)

    def urgency(row: ComplaintRow):
        return (
            row.clock is None,
            row.clock.countdown.due_at if row.clock else far,
            row.complaint.id,
        )

    return sorted(rows, key=urgency)


def open_count(session: Session, actor: Staff) -> int:
    """Open complaints the actor sees (the work-bench's 客诉 entry)."""
    query = select(func.count()).select_from(Complaint)
    query = query.where(Complaint.state != ComplaintState.CLOSED.value)
    return session.scalar(access.scope(query, actor, Complaint)) or 0


def staff_detail(session: Session, actor: Staff, complaint_id: int) -> Complaint:
    """One complaint with its timeline and photos, through the actor's scope (404 outside)."""
    query = select(Complaint).where(Complaint.id == complaint_id)
    query = query.options(
        selectinload(Complaint.events).selectinload(ComplaintEvent.staff),
        selectinload(Complaint.photos),
    )
    complaint = session.scalar(access.scope(query, actor, Complaint))
    if complaint is None:
        raise NotFound()
    return complaint


@dataclass(frozen=True)
class StaffPage:
    """One complaint as staff see it: its timeline and photos, where its clock stands, and
    what the actor may do with it."""

    complaint: Complaint
    clock: Clock | None
    breached: bool
    may_handle: bool
    may_assign: bool
    assignable: list[Staff]


def staff_page(session: Session, actor: Staff, complaint_id: int, now: datetime) -> StaffPage:
    """The H5 and console detail of one complaint, through the actor's scope (404 outside)."""
    complaint = staff_detail(session, actor, complaint_id)
    may_assign = access.allowed(actor, HANDLE)
    return StaffPage(
        complaint=complaint,
        clock=running_clock(complaint, now),
        breached=is_breached(complaint, now),
        may_handle=may_handle(actor, complaint),
        may_assign=may_assign,
        assignable=assignable_staff(session, complaint) if may_assign else [],
    )


def staff_photo(session: Session, actor: Staff, complaint_id: int, photo_id: int) -> ComplaintPhoto:
    complaint = access.get_or_404(Complaint, complaint_id, actor)
    return _photo_of(session, complaint.id, photo_id)


def _photo_of(session: Session, complaint_id: int, photo_id: int) -> ComplaintPhoto:
    photo = session.scalar(
        select(ComplaintPhoto).where(
            ComplaintPhoto.id == photo_id, ComplaintPhoto.complaint_id == complaint_id
        )
    )
    if photo is None:
        raise NotFound()
    return photo


# --- reading: the customer --------------------------------------------------------------------


def my_complaints(session: Session, customer: Customer) -> list[Complaint]:
    """The customer's own complaints, newest first."""
    return list(
        session.scalars(
            select(Complaint)
            .where(Complaint.customer_id == customer.id)
            .order_by(Complaint.filed_at.desc(), Complaint.id.desc())
        )
    )


def my_complaint(session: Session, customer: Customer, complaint_id: int) -> Complaint:
    """One of the customer's complaints; another customer's is not found."""
    complaint = session.scalar(
        select(Complaint)
        .where(Complaint.id == complaint_id, Complaint.customer_id == customer.id)
        .options(selectinload(Complaint.events), selectinload(Complaint.photos))
    )
    if complaint is None:
        raise NotFound()
    return complaint


def my_photo(
    session: Session, customer: Customer, complaint_id: int, photo_id: int
) -> ComplaintPhoto:
    complaint = my_complaint(session, customer, complaint_id)
    return _photo_of(session, complaint.id, photo_id)


# Steps the customer sees on their timeline (escalations are internal).
CUSTOMER_STEPS = {
    ComplaintEventKind.FILED: "已提交",
    ComplaintEventKind.CONTACTED: "客服已与您联系",
    ComplaintEventKind.ASSIGNED: "已安排专人负责",
    ComplaintEventKind.RESOLVED: "已处理",
    ComplaintEventKind.CALLED_BACK: "已回访",
}


def customer_timeline(complaint: Complaint) -> list[tuple[datetime, str]]:
    return [
        (event.at, CUSTOMER_STEPS[ComplaintEventKind(event.kind)])
        for event in complaint.events
        if event.kind in CUSTOMER_STEPS
    ]


# --- the console ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleFilters:
    state: str = ""
    store_id: int | None = None
    breached: bool = False


def parse_filters(values: dict[str, str]) -> ConsoleFilters:
    state = values.get("state", "")
    if state and state not in COMPLAINT_STATE_LABELS:
        raise ValidationError("请选择有效的状态", "state")
    store = values.get("store", "")
    if store and not store.isdigit():
        raise ValidationError("请选择分店", "store")
    return ConsoleFilters(
        state=state, store_id=int(store) if store else None, breached=values.get("breached") == "1"
    )


def console_query(actor: Staff, filters: ConsoleFilters, now: datetime) -> Select:
    """The console list, newest first, through the actor's scope."""
    query = access.scope(select(Complaint), actor)
    if filters.state:
        query = query.where(Complaint.state == filters.state)
    if filters.store_id:
        query = query.where(Complaint.store_id == filters.store_id)
    if filters.breached:
        query = query.where(breached(now))
    return _listed(query).order_by(Complaint.filed_at.desc(), Complaint.id.desc())


# --- the KPI ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreTimeliness:
    """Complaint timeliness of one store over a period (complaints filed in it).

    An SLA counts once it is decided: done, or its deadline passed; complaints whose clock is
    still running are left out until then. ``rate`` is the share of complaints with a
    decided SLA that met every decided SLA; each rate is None without anything decided."""

    store_id: int
    store_name: str
    filed: int
    contact_decided: int
    contact_met: int
    callback_decided: int
    callback_met: int
    decided: int
    timely: int

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def contact_rate(self) -> float | None:
        return self._share(self.contact_met, self.contact_decided)

    @property
    def callback_rate(self) -> float | None:
        return self._share(self.callback_met, self.callback_decided)

    @property
    def rate(self) -> float | None:
        return self._share(self.timely, self.decided)


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Beijing days ``start``..``end`` (inclusive) as a half-open UTC interval."""
    if end < start:
        raise ValidationError("结束日期不能早于开始日期", "end")
    first = datetime.combine(start, time.min, tzinfo=clock.BUSINESS_TZ).astimezone(UTC)
    after = datetime.combine(end + timedelta(days=1), time.min, tzinfo=clock.BUSINESS_TZ)
    return first, after.astimezone(UTC)


def timeliness(
    session: Session, actor: Staff, start: date, end: date, now: datetime
) -> list[StoreTimeliness]:
    """Complaint timeliness per store the actor sees (PRODUCT "Reports and KPIs": complaint
    timeliness, target 100%) for complaints filed on Beijing days ``start``..``end``: the share
    meeting the 10-minute first contact, the 24-hour callback, and both. Stores without
    complaints in the period are listed with zeros."""
    first, after = period_bounds(start, end)
    stores = session.scalars(
        access.scope(select(Store).where(Store.active.is_(True)).order_by(Store.code), actor)
    ).all()
    counts = {
        store.id: dict(filed=0, cd=0, cm=0, bd=0, bm=0, decided=0, timely=0) for store in stores
    }
    query = select(
        Complaint.store_id,
        Complaint.contact_due_at,
        Complaint.first_contacted_at,
        Complaint.callback_due_at,
        Complaint.called_back_at,
    ).where(
        Complaint.filed_at >= first,
        Complaint.filed_at < after,
        Complaint.store_id.in_([store.id for store in stores]),
    )
    for store_id, contact_due, contacted, callback_due, called_back in session.execute(query):
        tally = counts[store_id]
        tally["filed"] += 1
        outcomes = []
        contact = _decided(contact_due, contacted, now)
        if contact is not None:
            tally["cd"] += 1
            tally["cm"] += contact
            outcomes.append(contact)
        callback = _decided(callback_due, called_back, now) if callback_due else None
        if callback is not None:
            tally["bd"] += 1
            tally["bm"] += callback
            outcomes.append(callback)
        if outcomes:
            tally["decided"] += 1
            tally["timely"] += all(outcomes)
    return [
        StoreTimeliness(
            store_id=store.id,
            store_name=store.name,
            filed=counts[store.id]["filed"],
            contact_decided=counts[store.id]["cd"],
            contact_met=counts[store.id]["cm"],
            callback_decided=counts[store.id]["bd"],
            callback_met=counts[store.id]["bm"],
            decided=counts[store.id]["decided"],
            timely=counts[store.id]["timely"],
        )
        for store in stores
    ]


def _decided(due: datetime, done: datetime | None, now: datetime) -> bool | None:
    """True met, False missed, None still running."""
    if done is not None:
        return done <= due
    return False if now > due else None
