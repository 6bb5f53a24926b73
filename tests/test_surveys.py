"""CS surveys and NPS as rules (PRODUCT "Complaints and surveys"; issue 9 "Surveys"): a CS
survey after each settled service order, answerable for 24 hours from its message, a low
score opening a callback; NPS once a quarter per customer, spread over the quarter's first
weeks, every detractor called back; one answer per survey."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, NotFound, ValidationError
from crm.extensions import db
from crm.models import (
    CareOptOut,
    CareTask,
    CareTemplate,
    Customer,
    Group,
    OutboxMessage,
    ServiceOrder,
    Store,
    Survey,
    Vehicle,
)
from crm.services import dispatcher, surveys
from crm.services.care import planner, tasks
from crm.services.identity import phone_index
from tests import factories as f
from tests.test_outbox import following
from wechat.client import SharedTokenClient

SITE = "https://crm.example.cn"
TODAY = date(2026, 6, 15)  # the frozen clock's Beijing day


def settled_order(customer, paid_on=TODAY, **more) -> ServiceOrder:
    vehicle = f.VehicleFactory(customer=customer, plate="浙A8S001", model="凯美瑞")
    return f.ServiceOrderFactory(
        vehicle=vehicle,
        store_id=customer.store_id,
        opened_on=paid_on or TODAY,
        paid_on=paid_on,
        **more,
    )


def only_survey(session) -> Survey:
    [survey] = session.scalars(select(Survey)).all()
    return survey


def messages(session, kind=None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(session.scalars(query))


def callback_tasks(session) -> list[CareTask]:
    return list(session.scalars(select(CareTask).order_by(CareTask.id)))


def mark_sent(session, survey: Survey, at: datetime) -> None:
    survey.outbox_message.state = "sent"
    survey.outbox_message.sent_at = at
    session.commit()


# --- CS: queueing ----------------------------------------------------------------------------


def test_settled_order_gets_one_cs_survey_whose_message_links_to_it(org, session, frozen_now):
    order = settled_order(org.customer_a1)
    now = clock.now()

    assert surveys.queue_cs_surveys(session, now) == 1

    survey = only_survey(session)
    assert (survey.kind, survey.customer_id, survey.store_id, survey.service_order_id) == (
        "cs",
        org.customer_a1.id,
        org.store_a.id,
        order.id,
    )
    assert survey.period == "2026Q2"
    assert survey.expires_at == now + timedelta(hours=24)
    [message] = messages(session)
    assert message.id == survey.outbox_message_id
    assert (message.kind, message.customer_id, message.not_before) == (
        "survey_cs",
        org.customer_a1.id,
        now,
    )
    assert message.payload["url"] == f"/m/surveys/{survey.id}"
    assert message.payload["data"]["keyword1"] == "浙A8S001 凯美瑞"
    assert message.payload["data"]["keyword2"] == "定期保养"
    assert message.payload["data"]["keyword4"] == "杭州A店"


def test_queueing_again_surveys_each_order_once(org, session, frozen_now):
    settled_order(org.customer_a1)
    assert surveys.queue_cs_surveys(session, clock.now()) == 1
    assert surveys.queue_cs_surveys(session, clock.now() + timedelta(minutes=15)) == 0
    settled_order(org.customer_a2)
    assert surveys.queue_cs_surveys(session, clock.now() + timedelta(minutes=30)) == 1
    assert session.scalar(select(func.count()).select_from(Survey)) == 2
    assert len(messages(session, "survey_cs")) == 2


def test_open_bills_and_long_settled_orders_get_no_survey(org, session, frozen_now):
    settled_order(org.customer_a1, paid_on=None)
    settled_order(org.customer_a2, paid_on=TODAY - timedelta(days=3))
    recent = settled_order(org.customer_b, paid_on=TODAY - timedelta(days=2))

    assert surveys.queue_cs_surveys(session, clock.now()) == 1
    assert only_survey(session).service_order_id == recent.id


def test_an_order_settled_in_the_evening_is_surveyed_the_next_morning(org, session, frozen_now):
    settled_order(org.customer_a1)
    evening = datetime(2026, 6, 15, 14, 0, tzinfo=UTC)  # 22:00 in Beijing
    surveys.queue_cs_surveys(session, evening)
    morning = datetime(2026, 6, 16, 0, 0, tzinfo=UTC)  # 08:00 in Beijing
    assert messages(session)[0].not_before == morning
    assert only_survey(session).expires_at == morning + timedelta(hours=24)


def test_a_customer_who_opted_out_of_surveys_is_not_surveyed(org, session, frozen_now):
    session.add(CareOptOut(customer_id=org.customer_a1.id, kind="survey_cs"))
    session.commit()
    settled_order(org.customer_a1)
    assert surveys.queue_cs_surveys(session, clock.now()) == 0
    assert messages(session) == []


def test_survey_kinds_are_registered_for_the_care_channels_page():
    kinds = {kind.name: kind for kind in planner.all_kinds()}
    assert kinds["survey_cs"].label == "服务满意度调查"
    assert kinds["survey_nps"].label == "推荐意愿调查"
    assert not kinds["survey_cs"].marketing and not kinds["survey_cs"].call_if_unreachable


# --- CS: answering ---------------------------------------------------------------------------


def queued_cs(org, session, customer=None) -> Survey:
    settled_order(customer or org.customer_a1)
    surveys.queue_cs_surveys(session, clock.now())
    return session.scalars(select(Survey).order_by(Survey.id.desc())).first()


def test_a_cs_score_of_three_opens_a_callback_task_for_the_store_care_specialist(
    org, session, frozen_now
):
    survey = queued_cs(org, session)
    now = clock.now() + timedelta(hours=1)

    result = surveys.answer(session, org.customer_a1, survey.id, "3", " 等待时间太长 ", now)

    assert result.recorded
    assert (survey.score, survey.comment, survey.answered_at) == (3, "等待时间太长", now)
    [task] = callback_tasks(session)
    assert survey.callback_task_id == task.id
    assert (task.kind, task.staff_id, task.customer_id) == (
        "survey_callback",
        org.care_a.id,
        org.customer_a1.id,
    )
    assert task.due_at == now
    assert "3分" in task.text and "等待时间太长" in task.text
    assert task in tasks.open_tasks(session, org.care_a, now)


def test_a_cs_score_of_four_opens_no_callback(org, session, frozen_now):
    survey = queued_cs(org, session)
    surveys.answer(session, org.customer_a1, survey.id, "4", "", clock.now())
    assert survey.score == 4 and survey.callback_task_id is None
    assert callback_tasks(session) == []


def test_a_low_score_at_night_is_called_back_from_eight_in_the_morning(org, session, frozen_now):
    survey = queued_cs(org, session)
    night = datetime(2026, 6, 15, 14, 30, tzinfo=UTC)  # 22:30 in Beijing
    surveys.answer(session, org.customer_a1, survey.id, "1", "", night)
    assert callback_tasks(session)[0].due_at == datetime(2026, 6, 16, 0, 0, tzinfo=UTC)


def test_cs_survey_is_answerable_for_24_hours_from_the_message_being_sent(org, session, frozen_now):
    survey = queued_cs(org, session)
    sent = clock.now() + timedelta(hours=5)  # a retry after WeChat's rate limit
    mark_sent(session, survey, sent)
    assert surveys.deadline(survey) == sent + timedelta(hours=24)

    just_before = sent + timedelta(hours=24) - timedelta(seconds=1)
    assert surveys.survey_page(session, org.customer_a1, survey.id, just_before).state == "open"
    at_deadline = sent + timedelta(hours=24)
    assert surveys.survey_page(session, org.customer_a1, survey.id, at_deadline).state == (
        "expired"
    )
    with pytest.raises(Conflict, match="已过期"):
        surveys.answer(session, org.customer_a1, survey.id, "5", "", at_deadline)
    session.refresh(survey)
    assert survey.score is None and survey.answered_at is None


def test_before_its_message_is_sent_the_survey_counts_from_the_planned_send_time(
    org, session, frozen_now
):
    survey = queued_cs(org, session)
    assert surveys.deadline(survey) == clock.now() + timedelta(hours=24)
    later = clock.now() + timedelta(hours=24, minutes=1)
    assert surveys.survey_page(session, org.customer_a1, survey.id, later).state == "expired"


def test_a_second_answer_keeps_the_first_and_says_it_was_not_recorded(org, session, frozen_now):
    survey = queued_cs(org, session)
    surveys.answer(session, org.customer_a1, survey.id, "5", "很好", clock.now())
    again = surveys.answer(session, org.customer_a1, survey.id, "1", "改主意", clock.now())
    assert not again.recorded
    assert (again.survey.score, again.survey.comment) == (5, "很好")
    assert callback_tasks(session) == []


def test_an_answered_survey_shows_its_answer_even_after_it_expired(org, session, frozen_now):
    survey = queued_cs(org, session)
    surveys.answer(session, org.customer_a1, survey.id, "5", "", clock.now())
    next_week = clock.now() + timedelta(days=7)
    page = surveys.survey_page(session, org.customer_a1, survey.id, next_week)
    assert page.state == "answered" and page.survey.score == 5
    assert not surveys.answer(session, org.customer_a1, survey.id, "2", "", next_week).recorded


@pytest.mark.parametrize(
    ("score", "comment", "field", "message"),
    [
        ("", "", "score", "请选择评分"),
        ("6", "", "score", "1到5"),
        ("0", "", "score", "1到5"),
        ("3.5", "", "score", "1到5"),
        ("4", "很" * 501, "comment", "500"),
    ],
)
def test_bad_answers_name_the_field_and_change_nothing(
    org, session, frozen_now, score, comment, field, message
):
    survey = queued_cs(org, session)
    with pytest.raises(ValidationError, match=message) as refused:
        surveys.answer(session, org.customer_a1, survey.id, score, comment, clock.now())
    assert refused.value.field == field
    session.refresh(survey)
    assert (survey.score, survey.answered_at) == (None, None)


def test_another_customers_survey_is_not_found(org, session, frozen_now):
    survey = queued_cs(org, session)
    with pytest.raises(NotFound):
        surveys.survey_page(session, org.customer_a2, survey.id, clock.now())
    with pytest.raises(NotFound):
        surveys.answer(session, org.customer_a2, survey.id, "5", "", clock.now())
    session.refresh(survey)
    assert survey.answered_at is None


def test_open_surveys_leave_out_answered_and_expired_ones(org, session, frozen_now):
    answered = queued_cs(org, session)
    surveys.answer(session, org.customer_a1, answered.id, "5", "", clock.now())
    stale = queued_cs(org, session)
    stale.expires_at = clock.now()
    waiting = queued_cs(org, session)
    session.commit()
    open_ids = [
        page.survey.id for page in surveys.open_surveys(session, org.customer_a1, clock.now())
    ]
    assert open_ids == [waiting.id]
    assert surveys.open_surveys(session, org.customer_a2, clock.now()) == []


# --- the message, through the dispatcher --------------------------------------------------------


def test_dispatcher_sends_the_survey_template_with_a_link_to_the_survey(
    org, session, frozen_now, fake_wechat
):
    survey = queued_cs(org, session)
    following(session, fake_wechat, org.customer_a1.id, openid="o-survey-1")
    session.add(
        CareTemplate(group_id=org.store_a.group_id, kind="survey_cs", template_id="tmpl-survey")
    )
    session.commit()
    fake = fake_wechat.fake
    client = SharedTokenClient(fake.app_id, fake.app_secret, fake_wechat.base_url)

    assert dispatcher.dispatch(session, client, SITE, clock.now()) == {"sent": 1}

    [sent] = fake.sent
    assert (sent["touser"], sent["template_id"]) == ("o-survey-1", "tmpl-survey")
    assert sent["url"] == f"{SITE}/m/surveys/{survey.id}"
    assert sent["data"]["keyword1"] == {"value": "浙A8S001 凯美瑞"}
    session.refresh(survey)
    assert surveys.deadline(survey) == survey.outbox_message.sent_at + timedelta(hours=24)


# --- NPS ----------------------------------------------------------------------------------------

Q3 = date(2026, 7, 1)


def nps_customers(org, count: int) -> list[Customer]:
    """Customers of store A with a car each."""
    people = [
        f.CustomerFactory(store=org.store_a, group_id=org.store_a.group_id) for _ in range(count)
    ]
    for person in people:
        f.VehicleFactory(customer=person)
    return people


def nps_surveyed(session) -> set[int]:
    return set(session.scalars(select(Survey.customer_id).where(Survey.kind == "nps")))


def at_nine(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=clock.BUSINESS_TZ) + timedelta(
        hours=9, minutes=30
    )


def test_nps_surveys_are_spread_over_the_first_four_weeks_by_customer_id(org, session, frozen_now):
    people = nps_customers(org, 84)
    slot = {person.id: person.id % surveys.NPS_SPREAD_DAYS for person in people}

    for index in range(surveys.NPS_SPREAD_DAYS):
        day = Q3 + timedelta(days=index)
        before = nps_surveyed(session)
        surveys.queue_nps_surveys(session, at_nine(day), day)
        assert nps_surveyed(session) - before == {pid for pid, s in slot.items() if s == index}

    assert nps_surveyed(session) == set(slot)
    per_day = session.execute(
        select(OutboxMessage.due_on, func.count())
        .where(OutboxMessage.kind == "survey_nps")
        .group_by(OutboxMessage.due_on)
    ).all()
    assert len(per_day) == surveys.NPS_SPREAD_DAYS
    assert {count for _day, count in per_day} == {3}  # 84 customers over 28 days


def test_days_the_nps_job_missed_are_caught_up_the_next_time_it_runs(org, session, frozen_now):
    people = nps_customers(org, 56)
    slot = {person.id: person.id % surveys.NPS_SPREAD_DAYS for person in people}
    surveys.queue_nps_surveys(session, at_nine(Q3), Q3)
    fifth = Q3 + timedelta(days=4)  # the scheduler was down for three days
    surveys.queue_nps_surveys(session, at_nine(fifth), fifth)
    assert nps_surveyed(session) == {pid for pid, s in slot.items() if s <= 4}


def test_nps_is_asked_once_a_quarter_and_again_the_next(org, session, frozen_now):
    [person] = nps_customers(org, 1)
    last = Q3 + timedelta(days=27)
    assert surveys.queue_nps_surveys(session, at_nine(last), last) == 1
    assert surveys.queue_nps_surveys(session, at_nine(last), last) == 0
    assert surveys.queue_nps_surveys(session, at_nine(last), last + timedelta(days=1)) == 0

    october = date(2026, 10, 1) + timedelta(days=27)
    assert surveys.queue_nps_surveys(session, at_nine(october), october) == 1
    periods = sorted(session.scalars(select(Survey.period).where(Survey.customer_id == person.id)))
    assert periods == ["2026Q3", "2026Q4"]


def test_nps_goes_out_at_ten_and_is_answerable_for_seven_days(org, session, frozen_now):
    [person] = nps_customers(org, 1)
    last = Q3 + timedelta(days=27)
    surveys.queue_nps_surveys(session, at_nine(last), last)
    [message] = messages(session, "survey_nps")
    ten = datetime.combine(last, datetime.min.time(), tzinfo=clock.BUSINESS_TZ) + timedelta(
        hours=10
    )
    assert message.not_before == ten
    assert message.payload["data"]["keyword1"] == "推荐意愿调查（2026年第3季度）"
    survey = only_survey(session)
    assert (survey.kind, survey.store_id, survey.period) == ("nps", org.store_a.id, "2026Q3")
    assert surveys.deadline(survey) == ten + timedelta(days=7)
    assert message.payload["url"] == f"/m/surveys/{survey.id}"


def test_customers_without_a_car_are_not_asked(org, session, frozen_now):
    [with_car] = nps_customers(org, 1)
    last = Q3 + timedelta(days=27)
    surveys.queue_nps_surveys(session, at_nine(last), last)
    assert nps_surveyed(session) == {with_car.id}  # org's customers have no car


def test_nps_is_not_asked_after_the_first_four_weeks(org, session, frozen_now):
    nps_customers(org, 3)
    late = Q3 + timedelta(days=28)
    assert surveys.queue_nps_surveys(session, at_nine(late), late) == 0


def queued_nps(org, session) -> tuple[Customer, Survey]:
    [person] = nps_customers(org, 1)
    last = Q3 + timedelta(days=27)
    surveys.queue_nps_surveys(session, at_nine(last), last)
    return person, only_survey(session)


@pytest.mark.parametrize("score", [0, 6])
def test_every_nps_detractor_gets_a_callback_task(org, session, frozen_now, score):
    person, survey = queued_nps(org, session)
    at = survey.expires_at - timedelta(days=1)
    surveys.answer(session, person, survey.id, str(score), "价格偏高", at)
    [task] = callback_tasks(session)
    assert (task.kind, task.staff_id, task.customer_id) == (
        "nps_detractor",
        org.care_a.id,
        person.id,
    )
    assert task.kind_label == "NPS贬损回访"
    assert survey.callback_task_id == task.id and "价格偏高" in task.text


@pytest.mark.parametrize("score", [7, 10])
def test_passives_and_promoters_get_no_callback(org, session, frozen_now, score):
    person, survey = queued_nps(org, session)
    surveys.answer(
        session, person, survey.id, str(score), "", survey.expires_at - timedelta(days=1)
    )
    assert callback_tasks(session) == []


def test_nps_scores_run_from_0_to_10(org, session, frozen_now):
    person, survey = queued_nps(org, session)
    with pytest.raises(ValidationError, match="0到10"):
        surveys.answer(session, person, survey.id, "11", "", survey.expires_at - timedelta(days=1))


def test_quarters_are_named_and_read_back():
    assert surveys.period_of(date(2026, 12, 31)) == "2026Q4"
    assert surveys.quarter_start("2026q3") == date(2026, 7, 1)
    assert surveys.previous_period("2026Q1") == "2025Q4"
    assert surveys.next_period("2026Q4") == "2027Q1"
    with pytest.raises(ValidationError, match="2026Q4"):
        surveys.quarter_start("2026Q5")


# --- races on PostgreSQL, each party on its own connection ----------------------------------------

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
ORDERS = 40


def _seed_orders() -> None:
    group = Group(name="并发集团", created_at=NOW)
    db.session.add(group)
    db.session.flush()
    store = Store(group_id=group.id, code="R01", name="并发店", created_at=NOW)
    db.session.add(store)
    db.session.flush()
    for number in range(ORDERS):
        phone = f"+86137{number:08d}"
        person = Customer(
            group_id=group.id,
            store_id=store.id,
            name=f"客户{number}",
            phone=phone,
            phone_index=phone_index(phone),
            created_at=NOW,
        )
        db.session.add(person)
        db.session.flush()
        car = Vehicle(
            customer_id=person.id,
            store_id=store.id,
            vin=f"LVGSURVEY00{number:06d}",
            model="凯美瑞",
            created_at=NOW,
        )
        db.session.add(car)
        db.session.flush()
        db.session.add(
            ServiceOrder(
                vehicle_id=car.id,
                store_id=store.id,
                work_order_no=f"RACE{number:04d}",
                kind="periodic_maintenance",
                opened_on=TODAY,
                paid_on=TODAY,
                mileage_km=10000,
            )
        )
    db.session.commit()


def _together(app, count: int, work) -> list:
    """Run ``work(session, index)`` in ``count`` threads released at one moment, each in its
    own app context (its own connection); their results or errors."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        with app.app_context():
            try:
                start.wait(10)
                results[index] = work(db.session(), index)
            except Exception as error:  # reported by the test, not lost in the thread
                results[index] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_schedulers_at_once_queue_one_survey_and_one_message_per_order(race_app):
    _seed_orders()

    queued = _together(race_app, 2, lambda session, _i: surveys.queue_cs_surveys(session, NOW))

    assert all(isinstance(count, int) for count in queued), queued
    assert sum(queued) == ORDERS
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Survey)) == ORDERS
    assert db.session.scalar(select(func.count(func.distinct(Survey.service_order_id)))) == ORDERS
    assert (
        db.session.scalar(select(func.count()).where(OutboxMessage.kind == "survey_cs")) == ORDERS
    )
    linked = db.session.scalar(select(func.count()).where(Survey.outbox_message_id.is_not(None)))
    assert linked == ORDERS


def test_two_taps_at_once_record_one_answer_and_one_callback(race_app):
    _seed_orders()
    surveys.queue_cs_surveys(db.session, NOW)
    survey_id = db.session.scalar(select(Survey.id).order_by(Survey.id).limit(1))
    customer_id = db.session.get(Survey, survey_id).customer_id

    def tap(session, index):
        customer = session.get(Customer, customer_id)
        result = surveys.answer(session, customer, survey_id, str(index + 1), f"第{index}次", NOW)
        return result.recorded, result.survey.score, result.survey.comment

    results = _together(race_app, 2, tap)

    assert all(isinstance(result, tuple) for result in results), results
    assert sorted(recorded for recorded, _score, _comment in results) == [False, True]
    # The late tap is shown the answer that was recorded, and that is what the row holds.
    assert results[0][1:] == results[1][1:]
    db.session.expire_all()
    survey = db.session.get(Survey, survey_id)
    assert (survey.score, survey.comment) == results[0][1:]
    assert db.session.scalar(select(func.count()).select_from(CareTask)) == 1
