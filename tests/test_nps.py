"""Survey results per store and quarter (PRODUCT "Complaints and surveys", "Reports and KPIs":
NPS = % promoters − % detractors; issue 9): counts behind every figure, small samples marked,
each store seen only by those who see the store."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm import clock
from crm.errors import Forbidden, ValidationError
from crm.extensions import db
from crm.models import Survey
from crm.services import nps
from tests import factories as f

PERIOD = "2026Q2"


def answers(org, store, kind, scores, unanswered=0, period=PERIOD):
    """Surveys of ``store``: one answered per score, and ``unanswered`` more."""
    for score in [*scores, *([None] * unanswered)]:
        customer = f.CustomerFactory(store=store, group_id=store.group_id)
        f.SurveyFactory(customer=customer, kind=kind, score=score, period=period)


def row(result, store):
    return next(item for item in result.stores if item.store_id == store.id)


def test_nps_is_promoters_minus_detractors_over_the_answered_surveys(org, session, frozen_now):
    answers(org, org.store_a, "nps", [10, 9, 9, 8, 7, 6, 0], unanswered=3)

    figure = row(nps.figures(session, org.group_admin, PERIOD), org.store_a).nps

    assert (figure.issued, figure.answered) == (10, 7)
    assert (figure.promoters, figure.passives, figure.detractors) == (3, 2, 2)
    assert figure.score == pytest.approx(100 * (3 - 2) / 7)
    assert figure.answer_rate == pytest.approx(70)
    assert figure.small  # 7 answers: shown, but marked as a small sample


def test_a_store_without_answers_has_no_nps_rather_than_zero(org, session, frozen_now):
    answers(org, org.store_b, "nps", [], unanswered=2)
    result = nps.figures(session, org.group_admin, PERIOD)
    empty_b, none_a = row(result, org.store_b).nps, row(result, org.store_a).nps
    assert (empty_b.issued, empty_b.answered, empty_b.score) == (2, 0, None)
    assert empty_b.answer_rate == 0
    assert (none_a.issued, none_a.score, none_a.answer_rate) == (0, None, None)


def test_thirty_answers_are_no_longer_a_small_sample(org, session, frozen_now):
    answers(org, org.store_a, "nps", [9] * 20 + [3] * 10)
    figure = row(nps.figures(session, org.group_admin, PERIOD), org.store_a).nps
    assert not figure.small
    assert figure.score == pytest.approx(100 * (20 - 10) / 30)


def test_cs_average_low_answers_and_answer_rate(org, session, frozen_now):
    answers(org, org.store_a, "cs", [5, 4, 2], unanswered=1)
    figure = row(nps.figures(session, org.group_admin, PERIOD), org.store_a).cs
    assert (figure.issued, figure.answered, figure.low) == (4, 3, 1)
    assert figure.average == pytest.approx(11 / 3)
    assert figure.answer_rate == pytest.approx(75)


def test_only_the_chosen_quarter_counts_and_the_total_adds_the_stores(org, session, frozen_now):
    answers(org, org.store_a, "nps", [10, 0])
    answers(org, org.store_b, "nps", [10, 10])
    answers(org, org.store_a, "nps", [0, 0, 0], period="2026Q1")

    result = nps.figures(session, org.group_admin, PERIOD)

    assert row(result, org.store_a).nps.score == 0
    assert row(result, org.store_b).nps.score == 100
    total = result.total.nps
    assert (total.answered, total.promoters, total.detractors) == (4, 3, 1)
    assert total.score == pytest.approx(50)
    assert nps.figures(session, org.group_admin, "2026Q1").total.nps.score == -100


def test_each_store_sees_only_its_own_figures(org, session, frozen_now):
    answers(org, org.store_a, "nps", [10])
    answers(org, org.store_b, "nps", [0])

    for actor in (org.store_admin_a, org.care_a):
        result = nps.figures(session, actor, PERIOD)
        assert [item.store_id for item in result.stores] == [org.store_a.id]
        assert result.total.nps.score == 100
    group = nps.figures(session, org.group_admin, PERIOD)
    assert {item.store_id for item in group.stores} == {org.store_a.id, org.store_b.id}


@pytest.mark.parametrize("role", ["sales_a1", "advisor_a", "supervisor_a1"])
def test_staff_outside_care_and_administration_may_not_see_results(org, session, frozen_now, role):
    with pytest.raises(Forbidden):
        nps.figures(session, getattr(org, role), PERIOD)
    with pytest.raises(Forbidden):
        nps.low_scores_query(getattr(org, role), PERIOD)


def test_low_scores_are_cs_three_or_less_and_nps_detractors(org, session, frozen_now):
    answers(org, org.store_a, "cs", [3, 4])
    answers(org, org.store_a, "nps", [6, 7])
    answers(org, org.store_b, "cs", [1])

    def scores(actor, store_id=None):
        query = nps.low_scores_query(actor, PERIOD, store_id)
        return sorted((s.kind, s.score) for s in db.session.scalars(query))

    assert scores(org.store_admin_a) == [("cs", 3), ("nps", 6)]
    assert scores(org.group_admin) == [("cs", 1), ("cs", 3), ("nps", 6)]
    assert scores(org.group_admin, org.store_b.id) == [("cs", 1)]


def test_a_quarter_is_read_from_the_filter_or_is_the_current_one(frozen_now):
    assert nps.parse_period("", clock.now()) == "2026Q2"
    assert nps.parse_period(" 2025q4 ", clock.now()) == "2025Q4"
    with pytest.raises(ValidationError) as refused:
        nps.parse_period("2025-10", clock.now())
    assert refused.value.field == "period"


def test_figures_refuse_a_malformed_quarter(org, session, frozen_now):
    with pytest.raises(ValidationError):
        nps.figures(session, org.group_admin, "Q4")
    assert session.scalars(select(Survey)).all() == []
