"""CS surveys and NPS (PRODUCT "Complaints and surveys"; issue 9 "Surveys").

* **CS survey** (1–5 and a comment) after each service order: every order settled (its
  ``paid_on`` set, ``crm.models.service``) today or in the two days before gets one survey,
  queued by ``queue_cs_surveys`` every 15 minutes, so it reaches the customer soon after they
  collect the car (quiet hours 21:00–08:00 move it to the morning). It can be answered for
  24 hours from the message: from the message's sent time once it is sent, from its planned
  send time (``not_before``) before that. A score of 3 or less opens a callback task
  (``SURVEY_CALLBACK``) for the care specialist of the store that served the order.
* **NPS** (0–10 and a comment) once a quarter per customer who has a vehicle (service orders
  hang on vehicles, so this includes everyone with a service order). The quarter's surveys
  are spread over its first four weeks by customer id (``id % 28`` is the customer's day), so
  a store is not flooded in one day; a day the job did not run is caught up the next day, and
  a customer who first qualifies after the four weeks is asked next quarter. Answerable for
  **7 days** from the message (our choice: a quarterly question is not urgent, and a week
  covers a customer who only opens WeChat at the weekend). Every detractor (0–6) gets a
  callback task (``NPS_DETRACTOR_CALLBACK``) for the store's care specialist.
* One answer per survey: the answer is one conditional ``UPDATE … WHERE answered_at IS NULL``,
  so two taps at once record one; a later tap shows the answer given. An answered survey
  shows its answer even after it expired; an unanswered expired one says it expired. Another
  customer's survey is ``NotFound``.

Survey rows and their messages are keyed (``dedupe_key``, ``INSERT … ON CONFLICT DO
NOTHING``): the CS queueing run twice, or by two schedulers at once, makes one survey and one
message per order. A customer who opted out of a survey kind (关怀订阅) is not surveyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, selectinload

from crm import clock
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import (
    SERVICE_KIND_LABELS,
    CareOptOut,
    CareTaskKind,
    Customer,
    OutboxMessage,
    ServiceKind,
    ServiceOrder,
    Store,
    Survey,
    SurveyKind,
    Vehicle,
)
from crm.services import outbox
from crm.services.care import tasks, vehicle_reminders
from crm.services.care.kinds import CareKind, Rank
from crm.services.insert_once import insert_once

CS_WINDOW = timedelta(hours=24)
NPS_WINDOW = timedelta(days=7)
WINDOWS = {SurveyKind.CS.value: CS_WINDOW, SurveyKind.NPS.value: NPS_WINDOW}
SCALES = {SurveyKind.CS.value: (1, 5), SurveyKind.NPS.value: (0, 10)}
CS_LOW_MAX = 3  # a CS score of 3 or less opens a callback
DETRACTOR_MAX = 6  # NPS 0–6: detractor
PROMOTER_MIN = 9  # NPS 9–10: promoter
CS_LOOKBACK_DAYS = 2  # orders settled today or in the two days before (a stopped scheduler)
NPS_SPREAD_DAYS = 28  # the first four weeks of the quarter
NPS_SEND_AT = time(10, 0)
COMMENT_MAX = 500
OPEN_LOOKBACK = timedelta(days=30)  # no survey stays open longer than this

SURVEY_CS = CareKind(
    name="survey_cs",
    label="服务满意度调查",
    priority=Rank.SERVICE,
    fields={
        "keyword1": "车辆",
        "keyword2": "服务项目",
        "keyword3": "服务日期",
        "keyword4": "服务门店",
        "keyword5": "填写期限",
    },
    sample={
        "keyword1": "浙A12345 凯美瑞",
        "keyword2": "定期保养",
        "keyword3": "2027-05-18",
        "keyword4": "杭州西湖店",
        "keyword5": "收到后24小时内",
    },
    page="/m/surveys/",
    call_if_unreachable=False,
)

SURVEY_NPS = CareKind(
    name="survey_nps",
    label="推荐意愿调查",
    priority=Rank.SERVICE,
    fields={"keyword1": "调查内容", "keyword2": "服务门店", "keyword3": "填写期限"},
    sample={
        "keyword1": "推荐意愿调查（2027年第2季度）",
        "keyword2": "杭州西湖店",
        "keyword3": "收到后7天内",
    },
    page="/m/surveys/",
    call_if_unreachable=False,
)

CARE_KINDS = {SurveyKind.CS.value: SURVEY_CS, SurveyKind.NPS.value: SURVEY_NPS}


# --- periods ---------------------------------------------------------------------------------


def period_of(day: date) -> str:
    """The quarter ``day`` falls in, as "2026Q4"."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_start(period: str) -> date:
    """The first day of a quarter given as "2026Q4" (a ``ValidationError`` on ``period``
    otherwise)."""
    year, _sep, quarter = (period or "").upper().partition("Q")
    if not (year.isdecimal() and len(year) == 4 and quarter in {"1", "2", "3", "4"}):
        raise ValidationError("季度格式应为如 2026Q4", "period")
    return date(int(year), (int(quarter) - 1) * 3 + 1, 1)


def period_label(period: str) -> str:
    """ "2026Q4" as "2026年第4季度"."""
    return f"{period[:4]}年第{period[-1]}季度"


def previous_period(period: str) -> str:
    return period_of(quarter_start(period) - timedelta(days=1))


def next_period(period: str) -> str:
    return period_of(quarter_start(period) + timedelta(days=100))


# --- queueing --------------------------------------------------------------------------------


def _not_opted_out(kind: CareKind):
    return ~exists().where(CareOptOut.customer_id == Customer.id, CareOptOut.kind == kind.name)


def _issue(
    session: Session,
    *,
    kind: SurveyKind,
    customer_id: int,
    store_id: int,
    period: str,
    occasion: str,
    not_before: datetime,
    fields: dict[str, str],
    now: datetime,
    service_order_id: int | None = None,
    vehicle_id: int | None = None,
) -> int | None:
    """One survey and its message, unless the survey is queued already; the new survey's id.

    The survey row comes first: a second scheduler waits on its key and then does nothing, so
    only the one that made the survey queues the message."""
    care_kind = CARE_KINDS[kind.value]
    survey_id = insert_once(
        session,
        Survey,
        {
            "kind": kind.value,
            "customer_id": customer_id,
            "store_id": store_id,
            "service_order_id": service_order_id,
            "period": period,
            "dedupe_key": f"{kind.value}:{occasion}",
            "expires_at": not_before + WINDOWS[kind.value],
            "comment": "",
            "created_at": now,
        },
    )
    if survey_id is None:
        return None
    message_key = f"{care_kind.name}:{customer_id}:{occasion}"
    message_id = outbox.enqueue(
        session,
        store_id=store_id,
        customer_id=customer_id,
        kind=care_kind.name,
        due_on=clock.local(not_before).date(),
        dedupe_key=message_key,
        fields=fields,
        url=f"/m/surveys/{survey_id}",
        not_before=not_before,
        now=now,
        vehicle_id=vehicle_id,
        priority=care_kind.priority,
    ) or session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == message_key))
    session.execute(
        update(Survey)
        .where(Survey.id == survey_id)
        .values(outbox_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    return survey_id


def _service_label(order: ServiceOrder) -> str:
    return SERVICE_KIND_LABELS[ServiceKind(order.kind)]


def queue_cs_surveys(session: Session, now: datetime) -> int:
    """Queue the CS survey of every order settled (``paid_on``) today or in the two days
    before that has none yet (issue 9: "CS survey sent after each service order"); the message
    goes out now, or at 08:00 when now is in the quiet hours. How many are new. Runs every 15
    minutes; twice, or two at once, queue each order's survey and message once."""
    today = clock.today(now)
    rows = session.execute(
        select(ServiceOrder, Vehicle, Store.name)
        .join(Vehicle, Vehicle.id == ServiceOrder.vehicle_id)
        .join(Customer, Customer.id == Vehicle.customer_id)
        .join(Store, Store.id == ServiceOrder.store_id)
        .where(
            ServiceOrder.paid_on.between(today - timedelta(days=CS_LOOKBACK_DAYS), today),
            ~exists().where(Survey.service_order_id == ServiceOrder.id),
            _not_opted_out(SURVEY_CS),
        )
        .order_by(ServiceOrder.id)
    ).all()
    not_before = outbox.outside_quiet_hours(now)
    queued = 0
    for order, vehicle, store_name in rows:
        new = _issue(
            session,
            kind=SurveyKind.CS,
            customer_id=vehicle.customer_id,
            store_id=order.store_id,
            period=period_of(order.paid_on),
            occasion=str(order.id),
            not_before=not_before,
            fields={
                "keyword1": vehicle_reminders.vehicle_label(vehicle.plate, vehicle.model),
                "keyword2": _service_label(order),
                "keyword3": f"{order.paid_on:%Y-%m-%d}",
                "keyword4": store_name,
                "keyword5": "收到后24小时内",
            },
            now=now,
            service_order_id=order.id,
            vehicle_id=vehicle.id,
        )
        queued += new is not None
    session.commit()
    return queued


def nps_day_index(day: date) -> int:
    """How many days ``day`` is into its quarter (0 on the first day)."""
    return (day - quarter_start(period_of(day))).days


def queue_nps_surveys(session: Session, now: datetime, day: date | None = None) -> int:
    """Queue the NPS surveys due on ``day`` (default: today in Beijing), sent at 10:00 (issue
    9: "NPS quarterly per customer"): customers with a vehicle whose day of the quarter
    (``id % 28``) has come, within the quarter's first four weeks, and who have no NPS survey
    this quarter. How many are new. Idempotent: one survey per customer per quarter."""
    day = day or clock.today(now)
    index = nps_day_index(day)
    if index >= NPS_SPREAD_DAYS:
        return 0
    period = period_of(day)
    rows = session.execute(
        select(Customer.id, Customer.store_id, Store.name)
        .join(Store, Store.id == Customer.store_id)
        .where(
            exists().where(Vehicle.customer_id == Customer.id),
            Customer.id % NPS_SPREAD_DAYS <= index,
            ~exists().where(
                Survey.customer_id == Customer.id,
                Survey.kind == SurveyKind.NPS.value,
                Survey.period == period,
            ),
            _not_opted_out(SURVEY_NPS),
        )
        .order_by(Customer.id)
    ).all()
    send_at = max(now, datetime.combine(day, NPS_SEND_AT, tzinfo=clock.BUSINESS_TZ))
    not_before = outbox.outside_quiet_hours(send_at)
    queued = 0
    for customer_id, store_id, store_name in rows:
        new = _issue(
            session,
            kind=SurveyKind.NPS,
            customer_id=customer_id,
            store_id=store_id,
            period=period,
            occasion=f"{customer_id}:{period}",
            not_before=not_before,
            fields={
                "keyword1": f"推荐意愿调查（{period_label(period)}）",
                "keyword2": store_name,
                "keyword3": "收到后7天内",
            },
            now=now,
        )
        queued += new is not None
    session.commit()
    return queued


# --- answering -------------------------------------------------------------------------------


def deadline(survey: Survey) -> datetime:
    """Until when the survey can be answered: its window from the message's sent time once
    sent, else from the message's planned send time (``expires_at``)."""
    message = survey.outbox_message
    if message is not None and message.sent_at is not None:
        return message.sent_at + WINDOWS[survey.kind]
    return survey.expires_at


def is_low(survey: Survey) -> bool:
    """A score that calls for a callback: CS 3 or less, NPS 0–6 (a detractor)."""
    if survey.score is None:
        return False
    limit = CS_LOW_MAX if survey.kind == SurveyKind.CS else DETRACTOR_MAX
    return survey.score <= limit


@dataclass(frozen=True)
class SurveyPage:
    """One survey as its customer sees it."""

    survey: Survey
    state: str  # "open", "answered" or "expired"
    deadline: datetime
    subject: str  # what the survey asks about, in Chinese
    scale: tuple[int, int]

    @property
    def scores(self) -> range:
        return range(self.scale[0], self.scale[1] + 1)


def subject(survey: Survey) -> str:
    """What the survey is about: the order's car, day, work and store; or the quarter."""
    if survey.kind == SurveyKind.CS and survey.service_order is not None:
        order = survey.service_order
        car = vehicle_reminders.vehicle_label(order.vehicle.plate, order.vehicle.model)
        day = order.paid_on or order.opened_on
        return f"{car} · {day:%Y-%m-%d} {_service_label(order)} · {survey.store.name}"
    return f"{period_label(survey.period)} · {survey.store.name}"


def state(survey: Survey, now: datetime) -> str:
    """ "answered", "open" (can still be answered) or "expired"."""
    if survey.answered_at is not None:
        return "answered"  # already answered wins over expired
    return "open" if now < deadline(survey) else "expired"


def _own(session: Session, customer: Customer, survey_id: int) -> Survey:
    survey = session.scalar(
        select(Survey).where(Survey.id == survey_id, Survey.customer_id == customer.id)
    )
    if survey is None:
        raise NotFound("没有这份问卷")
    return survey


def survey_page(session: Session, customer: Customer, survey_id: int, now: datetime) -> SurveyPage:
    """The customer's own survey with its state; another customer's is ``NotFound``."""
    survey = _own(session, customer, survey_id)
    return SurveyPage(
        survey, state(survey, now), deadline(survey), subject(survey), SCALES[survey.kind]
    )


def open_surveys(session: Session, customer: Customer, now: datetime) -> list[SurveyPage]:
    """The customer's surveys still waiting for an answer, the soonest to expire first."""
    candidates = session.scalars(
        select(Survey)
        .options(selectinload(Survey.outbox_message), selectinload(Survey.store))
        .where(
            Survey.customer_id == customer.id,
            Survey.answered_at.is_(None),
            Survey.created_at >= now - OPEN_LOOKBACK,
        )
        .order_by(Survey.id)
    ).all()
    pages = [
        SurveyPage(survey, "open", deadline(survey), subject(survey), SCALES[survey.kind])
        for survey in candidates
        if now < deadline(survey)
    ]
    return sorted(pages, key=lambda page: (page.deadline, page.survey.id))


def _score(survey: Survey, raw) -> int:
    low, high = SCALES[survey.kind]
    text = str(raw if raw is not None else "").strip()
    if not text:
        raise ValidationError("请选择评分", "score")
    if not (text.isdecimal() and low <= int(text) <= high):
        raise ValidationError(f"评分应为{low}到{high}之间的整数", "score")
    return int(text)


def _comment(raw: str | None) -> str:
    comment = (raw or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError(f"意见建议最多{COMMENT_MAX}个字", "comment")
    return comment


def _callback_text(survey: Survey) -> str:
    said = f"客户留言：{survey.comment}。" if survey.comment else "客户未留言。"
    if survey.kind == SurveyKind.CS:
        return (
            f"服务满意度调查{survey.score}分（满分5分）：{subject(survey)}"
            + (f"，工单{survey.service_order.work_order_no}" if survey.service_order else "")
            + f"。{said}请尽快回访，了解不满意的原因并跟进处理。"
        )
    return (
        f"推荐意愿调查{survey.score}分（0–10分，贬损者）：{subject(survey)}。"
        f"{said}请回访了解原因，记录改进措施。"
    )


def _open_callback(session: Session, survey: Survey, now: datetime) -> int | None:
    """The callback task for the care specialist of the survey's store, due at once (at
    08:00 when answered in the quiet hours: nobody calls a customer at night)."""
    kind = (
        CareTaskKind.SURVEY_CALLBACK
        if survey.kind == SurveyKind.CS
        else CareTaskKind.NPS_DETRACTOR_CALLBACK
    )
    return tasks.queue(
        session,
        kind=kind,
        customer=survey.customer,
        staff_id=tasks.care_specialist_id(session, survey.store_id),
        occasion=str(survey.id),
        due=outbox.outside_quiet_hours(now),
        text=_callback_text(survey),
        now=now,
        vehicle_id=survey.service_order.vehicle_id if survey.service_order else None,
    )


@dataclass(frozen=True)
class Answer:
    survey: Survey
    recorded: bool  # False: the survey had been answered already (a second tap)


def answer(
    session: Session, customer: Customer, survey_id: int, score, comment: str, now: datetime
) -> Answer:
    """Record the customer's answer to their own survey (issue 9: "one answer per survey per
    customer"): ``score`` 1–5 (CS) or 0–10 (NPS), ``comment`` up to 500 characters.

    A survey answered already is returned unchanged (``recorded`` False) — it wins over
    expiry; an expired one raises ``Conflict``; bad input raises ``ValidationError`` naming
    the field, and nothing changes. A low score (CS ≤ 3, NPS detractor 0–6) opens the
    callback task in the same commit."""
    survey = _own(session, customer, survey_id)
    if survey.answered_at is not None:
        return Answer(survey, False)
    if now >= deadline(survey):
        raise Conflict("这份问卷已过期，感谢您的关注", "score")
    value, text = _score(survey, score), _comment(comment)
    result = session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.answered_at.is_(None))
        .values(score=value, comment=text, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        session.refresh(survey)
        return Answer(survey, False)
    session.refresh(survey)
    if is_low(survey):
        survey.callback_task_id = _open_callback(session, survey, now)
    session.commit()
    return Answer(survey, True)
