"""The survey pages over HTTP (issue 9 "Surveys"): the member's answer page and list on a phone
(WeUI, under 200 KB), and the console's NPS and CS results with the low scores' callbacks."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from crm import clock
from crm.models import Survey
from crm.services import surveys
from crm.services.care import tasks
from tests import factories as f
from tests.conftest import login
from tests.test_surveys import queued_cs, queued_nps

PAGE_LIMIT = 200_000  # bytes: the page and every stylesheet it loads (issue 9: 200 KB)


def member_login(client, customer) -> None:
    client.post("/m/login", data={"phone": customer.phone})


def text(response) -> str:
    return response.get_data(as_text=True)


def score_choices(page: str) -> list[str]:
    return re.findall(r'<input type="radio" name="score" id="score-\d+" value="(\d+)"', page)


def static_size(client, href: str) -> int:
    with client.get(href) as response:
        return len(response.get_data())


def stored(session, survey_id: int) -> Survey:
    session.expire_all()
    return session.get(Survey, survey_id)


# --- the member's pages ----------------------------------------------------------------------


def test_a_stranger_is_sent_to_the_member_log_in(client, org, session, frozen_now):
    survey = queued_cs(org, session)
    for path in ("/m/surveys/", f"/m/surveys/{survey.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/m/login")


def test_cs_survey_page_asks_for_one_to_five_stars_and_a_comment(client, org, session, frozen_now):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)

    page = text(client.get(f"/m/surveys/{survey.id}"))

    assert "服务满意度调查" in page and "您对本次服务满意吗" in page
    assert "浙A8S001 凯美瑞 · 2026-06-15 定期保养 · 杭州A店" in page
    assert sorted(score_choices(page), key=int) == ["1", "2", "3", "4", "5"]
    assert 'name="comment"' in page
    assert "请于 2026-06-16 10:00 前提交" in page


def test_answering_thanks_the_customer_and_a_later_visit_shows_the_answer(
    client, org, session, frozen_now
):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)

    posted = client.post(f"/m/surveys/{survey.id}", data={"score": "4", "comment": "顾问很专业"})
    assert posted.status_code == 302 and posted.location.endswith(f"/m/surveys/{survey.id}")
    thanked = text(client.get(posted.location))
    assert "提交成功，感谢您的评价" in thanked
    assert "<strong data-score>4</strong> 分（满分5分）" in thanked
    assert "“顾问很专业”" in thanked and score_choices(thanked) == []

    again = text(client.get(f"/m/surveys/{survey.id}"))
    assert "提交成功" not in again and "<strong data-score>4</strong>" in again
    assert (stored(session, survey.id).score, stored(session, survey.id).comment) == (
        4,
        "顾问很专业",
    )


def test_a_second_tap_shows_the_answer_given_and_changes_nothing(client, org, session, frozen_now):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)
    client.post(f"/m/surveys/{survey.id}", data={"score": "5"})
    client.get(f"/m/surveys/{survey.id}")  # the thank-you

    second = client.post(f"/m/surveys/{survey.id}", data={"score": "1", "comment": "再点一次"})
    page = text(client.get(second.location))
    assert "提交成功" not in page and "<strong data-score>5</strong>" in page
    assert stored(session, survey.id).score == 5


def test_no_score_is_refused_beside_the_field_and_the_comment_is_kept(
    client, org, session, frozen_now
):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)

    response = client.post(f"/m/surveys/{survey.id}", data={"score": "", "comment": "还行"})

    assert response.status_code == 400
    page = text(response)
    assert re.search(r'data-field="score">请选择评分</div>', page)
    assert ">还行</textarea>" in page
    assert stored(session, survey.id).answered_at is None


def test_an_out_of_range_score_is_refused(client, org, session, frozen_now):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)
    response = client.post(f"/m/surveys/{survey.id}", data={"score": "9"})
    assert response.status_code == 400 and "评分应为1到5之间的整数" in text(response)
    assert stored(session, survey.id).score is None


def test_an_expired_survey_says_so_and_takes_no_answer(client, org, session, frozen_now):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)
    frozen_now.shift(timedelta(hours=25))

    page = text(client.get(f"/m/surveys/{survey.id}"))
    assert "问卷已过期" in page and "已于 2026-06-16 10:00 截止" in page
    assert score_choices(page) == []

    refused = client.post(f"/m/surveys/{survey.id}", data={"score": "5"})
    assert refused.status_code == 409 and "问卷已过期" in text(refused)
    assert stored(session, survey.id).answered_at is None


def test_another_customers_survey_answers_404(client, org, session, frozen_now):
    survey = queued_cs(org, session)
    member_login(client, org.customer_a2)
    assert client.get(f"/m/surveys/{survey.id}").status_code == 404
    assert client.post(f"/m/surveys/{survey.id}", data={"score": "1"}).status_code == 404
    assert stored(session, survey.id).answered_at is None


def test_nps_page_offers_zero_to_ten(client, org, session, frozen_now):
    customer, survey = queued_nps(org, session)
    frozen_now.move_to(survey.expires_at - timedelta(days=3))
    member_login(client, customer)

    page = text(client.get(f"/m/surveys/{survey.id}"))

    assert "您有多大可能向亲友推荐杭州A店" in page and "2026年第3季度 · 杭州A店" in page
    assert score_choices(page) == [str(n) for n in range(11)]


def test_the_list_and_the_home_page_show_the_open_surveys(client, org, session, frozen_now):
    answered = queued_cs(org, session)
    surveys.answer(session, org.customer_a1, answered.id, "5", "", clock.now())
    waiting = queued_cs(org, session)
    member_login(client, org.customer_a1)

    listed = text(client.get("/m/surveys/"))
    assert re.findall(r'data-survey="(\d+)"', listed) == [str(waiting.id)]
    assert "06-16 10:00 截止" in listed

    home = text(client.get("/m/"))
    assert 'data-open-surveys="1"' in home and "1 份待填写" in home

    surveys.answer(session, org.customer_a1, waiting.id, "5", "", clock.now())
    assert "目前没有待填写的问卷" in text(client.get("/m/surveys/"))
    assert "data-open-surveys" not in text(client.get("/m/"))


def weight(client, path: str) -> int:
    """The bytes of the page and of every stylesheet it loads."""
    page = client.get(path).get_data()
    assert b"weui-btn" in page
    sheets = re.findall(rb'<link rel="stylesheet" href="([^"]+)"', page)
    assert sheets, "the page loads the local WeUI stylesheet"
    assert b"//cdn" not in page and b"https://" not in page
    return len(page) + sum(static_size(client, href.decode()) for href in sheets)


def test_the_survey_pages_weigh_under_200_kb_with_their_stylesheets(
    client, org, session, frozen_now
):
    customer, nps_survey = queued_nps(org, session)
    survey = queued_cs(org, session)
    member_login(client, org.customer_a1)
    for path in (f"/m/surveys/{survey.id}", "/m/surveys/"):
        assert weight(client, path) < PAGE_LIMIT, path

    frozen_now.move_to(nps_survey.expires_at - timedelta(days=3))
    member_login(client, customer)
    page = text(client.get(f"/m/surveys/{nps_survey.id}"))
    assert len(score_choices(page)) == 11  # the form, not the expired notice
    assert weight(client, f"/m/surveys/{nps_survey.id}") < PAGE_LIMIT


# --- the console -----------------------------------------------------------------------------


def nps_answers(org, store, scores, unanswered=0, kind="nps"):
    for score in [*scores, *([None] * unanswered)]:
        customer = f.CustomerFactory(store=store, group_id=store.group_id)
        f.SurveyFactory(customer=customer, kind=kind, score=score, period="2026Q2")


def cell(page: str, store_id, name: str) -> str:
    row = re.search(rf'<tr data-store="{store_id}".*?</tr>', page, re.S).group(0)
    return re.sub(r"<[^>]+>", " ", re.search(rf"<td[^>]*data-{name}>(.*?)</td>", row, re.S)[1])


def test_console_shows_each_stores_nps_with_its_counts(client, org, session, frozen_now):
    nps_answers(org, org.store_a, [10, 9, 9, 8, 7, 6, 0], unanswered=3)
    nps_answers(org, org.store_a, [5, 4, 2], unanswered=1, kind="cs")
    login(client, org.group_admin)

    response = client.get("/console/surveys")

    page = text(response)
    assert response.status_code == 200 and "2026年第2季度" in page
    assert cell(page, org.store_a.id, "nps").split() == ["+14", "样本少（7份）"]
    assert [cell(page, org.store_a.id, n).strip() for n in ("promoters", "passives")] == ["3", "2"]
    assert cell(page, org.store_a.id, "detractors").strip() == "2"
    assert cell(page, org.store_a.id, "nps-rate").split() == ["70%", "7/10"]
    assert cell(page, org.store_a.id, "cs-average").split() == ["3.67", "样本少（3份）"]
    assert cell(page, org.store_a.id, "cs-low").strip() == "1"
    assert cell(page, org.store_b.id, "nps").split() == ["—"]
    assert cell(page, "total", "nps").split()[0] == "+14"


def test_console_lists_low_scores_with_the_state_of_their_callbacks(
    client, org, session, frozen_now
):
    survey = queued_cs(org, session)
    surveys.answer(session, org.customer_a1, survey.id, "2", "洗车不干净", clock.now())
    login(client, org.store_admin_a)

    page = text(client.get("/console/surveys?period=2026Q2"))
    row = re.search(rf'<tr data-survey="{survey.id}".*?</tr>', page, re.S).group(0)
    assert "客户甲" in row and "洗车不干净" in row and "WO" in row
    assert "待回访" in row and "客服A" in row

    task_id = stored(session, survey.id).callback_task_id
    tasks.record_outcome(session, org.care_a, task_id, "已致歉并安排免费重洗", clock.now())
    page = text(client.get("/console/surveys?period=2026Q2"))
    row = re.search(rf'<tr data-survey="{survey.id}".*?</tr>', page, re.S).group(0)
    assert "已回访" in row and "已致歉并安排免费重洗" in row


def test_console_low_scores_are_paginated(client, org, session, frozen_now):
    nps_answers(org, org.store_a, [0] * 31)
    login(client, org.group_admin)
    first = text(client.get("/console/surveys"))
    assert len(re.findall(r"<tr data-survey=", first)) == 30 and "第 1 / 2 页" in first
    second = text(client.get("/console/surveys?page=2"))
    assert len(re.findall(r"<tr data-survey=", second)) == 1


def test_another_stores_results_are_not_shown_to_a_store_admin(client, org, session, frozen_now):
    other = f.CustomerFactory(store=org.store_b, group_id=org.store_b.group_id, name="B店客户")
    f.SurveyFactory(customer=other, kind="nps", score=0, period="2026Q2")
    login(client, org.store_admin_a)
    page = text(client.get("/console/surveys"))
    assert "B店客户" not in page and f'data-store="{org.store_b.id}"' not in page
    refused = client.get(f"/console/surveys?store={org.store_b.id}")
    assert refused.status_code == 400 and "请选择有效的分店" in text(refused)


def test_a_malformed_quarter_is_refused_beside_the_field(client, org, session, frozen_now):
    login(client, org.group_admin)
    response = client.get("/console/surveys?period=2026-Q9")
    assert response.status_code == 400
    assert re.search(r'data-field="period">季度格式应为如 2026Q4</p>', text(response))


def test_a_salesperson_may_not_open_the_results(client, org, session, frozen_now):
    login(client, org.sales_a1)
    assert client.get("/console/surveys").status_code == 403


def test_no_survey_rows_means_an_empty_low_score_list(client, org, session, frozen_now):
    login(client, org.care_a)
    page = text(client.get("/console/surveys"))
    assert "2026年第2季度没有低分评价" in page
    assert session.scalars(select(Survey)).all() == []
