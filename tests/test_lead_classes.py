"""The class rules and the follow-up cadence (PRODUCT "Lead classes and cadence")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.models import LeadClass, PurchaseTimeframe
from crm.services.lead_classes import CADENCE, Evidence, due_at, suggest

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)


def evidence(**overrides) -> Evidence:
    values = {
        "interactions": 0,
        "test_drove": False,
        "quoted": False,
        "timeframe": PurchaseTimeframe.UNKNOWN,
    }
    values.update(overrides)
    return Evidence(**values)


def test_three_interactions_and_purchase_within_a_month_is_key():
    assert suggest(evidence(interactions=3, timeframe="month"), NOW) == LeadClass.KEY


def test_two_interactions_and_purchase_within_a_month_is_only_intent():
    assert suggest(evidence(interactions=2, timeframe="month"), NOW) == LeadClass.INTENT


def test_many_interactions_without_a_near_purchase_date_is_not_key():
    assert suggest(evidence(interactions=9, timeframe="later"), NOW) == LeadClass.POTENTIAL


@pytest.mark.parametrize(
    "overrides",
    [{"test_drove": True}, {"quoted": True}, {"timeframe": "quarter"}],
    ids=["test_drove", "quoted", "buys_within_3_months"],
)
def test_test_drive_quote_or_purchase_within_three_months_is_intent(overrides):
    assert suggest(evidence(interactions=1, **overrides), NOW) == LeadClass.INTENT


def test_first_inquiry_with_vague_need_is_potential():
    assert suggest(evidence(interactions=1), NOW) == LeadClass.POTENTIAL


def test_six_months_without_interaction_is_dormant():
    stale = evidence(interactions=5, timeframe="month", last_contact_at=NOW - timedelta(days=180))
    assert suggest(stale, NOW) == LeadClass.DORMANT


def test_cadence_is_weekly_twice_weekly_thrice_weekly_and_quarterly():
    week = timedelta(days=7)
    assert CADENCE[LeadClass.POTENTIAL] == week
    assert CADENCE[LeadClass.INTENT] * 2 == week
    assert CADENCE[LeadClass.KEY] * 3 == week
    assert CADENCE[LeadClass.DORMANT] == timedelta(days=91)


def test_new_lead_is_due_for_a_call_within_one_hour():
    assert due_at("potential", None, None, NOW) == NOW + timedelta(hours=1)


def test_due_is_the_class_cadence_without_a_planned_next_step():
    assert due_at("intent", NOW, None, NOW - timedelta(days=3)) == NOW + timedelta(days=3.5)


def test_an_earlier_planned_next_step_wins_over_the_cadence():
    planned = NOW + timedelta(days=1)
    assert due_at("potential", NOW, planned, NOW) == planned


def test_the_cadence_wins_over_a_later_planned_next_step():
    assert due_at("key", NOW, NOW + timedelta(days=10), NOW) == NOW + timedelta(days=7) / 3
