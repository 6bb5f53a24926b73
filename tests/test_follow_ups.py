"""Logging follow-ups; the first one claims a pool lead (PRODUCT "The customer pool",
"Lead classes and cadence")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, Forbidden, NotFound, ValidationError
from crm.models import Communication, LeadMove, LeadStatus, MoveReason
from crm.services import follow_ups, pool
from crm.services.follow_ups import FollowUpInput
from tests import factories as f


def call(**overrides) -> FollowUpInput:
    values = {"channel": "phone", "content": "介绍了新款配置"}
    values.update(overrides)
    return FollowUpInput(**values)


def communications(session) -> int:
    return session.scalar(select(func.count()).select_from(Communication))


def test_first_logged_communication_claims_a_pool_lead(org, session, frozen_now):
    lead = org.pool_lead_a
    follow_ups.log_follow_up(session, org.sales_a1, lead.id, call(), clock.now())
    session.refresh(lead)
    assert lead.owner_id == org.sales_a1.id
    assert lead.claimed_at == clock.now()
    assert lead.last_contact_at == clock.now()
    move = session.scalar(select(LeadMove).where(LeadMove.lead_id == lead.id))
    assert (move.reason, move.from_owner_id, move.to_owner_id) == (
        MoveReason.CLAIMED,
        None,
        org.sales_a1.id,
    )


def test_a_claimed_lead_vanishes_from_everyone_elses_pool(org, session, frozen_now):
    lead = org.pool_lead_a
    follow_ups.log_follow_up(session, org.sales_a1, lead.id, call(), clock.now())
    others_pool = session.scalars(pool.browse_query(org.sales_a2, pool.PoolFilters(), clock.now()))
    assert lead.id not in [item.id for item in others_pool]


def test_second_salesperson_is_told_who_claimed_the_lead(org, session, frozen_now):
    lead = org.pool_lead_a
    follow_ups.log_follow_up(session, org.sales_a1, lead.id, call(), clock.now())
    before = communications(session)
    with pytest.raises(Conflict, match="销售A1"):
        follow_ups.log_follow_up(session, org.sales_a2, lead.id, call(), clock.now())
    assert communications(session) == before


def test_another_salespersons_lead_is_not_found(org, session, frozen_now):
    with pytest.raises(NotFound):
        follow_ups.log_follow_up(session, org.sales_a2, org.lead_a1.id, call(), clock.now())


def test_only_the_owner_logs_follow_ups_on_an_owned_lead(org, session, frozen_now):
    # The supervisor sees the team's lead but does not talk to the customer in its owner's name.
    with pytest.raises(Forbidden):
        follow_ups.log_follow_up(session, org.supervisor_a1, org.lead_a1.id, call(), clock.now())


def test_follow_up_records_concerns_needs_decision_factors_and_next_step(org, session, frozen_now):
    next_time = clock.now() + timedelta(days=2)
    entry = follow_ups.log_follow_up(
        session,
        org.sales_a1,
        org.lead_a1.id,
        call(
            channel="visit",
            concerns="担心油耗",
            need_changes="想要七座",
            decision_factors="妻子意见",
            next_step="邀请试驾",
            next_step_at=next_time,
        ),
        clock.now(),
    )
    stored = session.get(Communication, entry.id)
    assert (stored.concerns, stored.need_changes, stored.decision_factors) == (
        "担心油耗",
        "想要七座",
        "妻子意见",
    )
    assert (stored.next_step, stored.next_step_at) == ("邀请试驾", next_time)
    assert org.lead_a1.due_at == next_time


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"content": "  "}, "content"),
        ({"next_step": "回访", "next_step_at": None}, "next_step_at"),
        ({"next_step_at": "past"}, "next_step_at"),
        ({"purchase_timeframe": "someday"}, "purchase_timeframe"),
        ({"lead_class": "vip"}, "lead_class"),
    ],
)
def test_bad_follow_up_names_the_field_and_changes_nothing(
    org, session, frozen_now, overrides, field
):
    if overrides.get("next_step_at") == "past":
        overrides["next_step_at"] = clock.now() - timedelta(minutes=1)
    lead = org.pool_lead_a
    with pytest.raises(ValidationError) as error:
        follow_ups.log_follow_up(session, org.sales_a1, lead.id, call(**overrides), clock.now())
    assert error.value.field == field
    session.refresh(lead)
    assert lead.owner_id is None
    assert communications(session) == 0


def test_class_follows_the_suggestion_when_not_overridden(org, session, frozen_now):
    lead = org.lead_a1
    for _ in range(2):
        f.CommunicationFactory(lead=lead)
    follow_ups.log_follow_up(
        session, org.sales_a1, lead.id, call(purchase_timeframe="month"), clock.now()
    )
    assert lead.lead_class == "key"  # the third interaction, buying within a month
    assert lead.class_reason == ""


def test_overriding_the_suggested_class_needs_a_reason(org, session, frozen_now):
    with pytest.raises(ValidationError) as error:
        follow_ups.log_follow_up(
            session, org.sales_a1, org.lead_a1.id, call(lead_class="key"), clock.now()
        )
    assert error.value.field == "class_reason"
    assert communications(session) == 0


def test_overridden_class_keeps_its_reason(org, session, frozen_now):
    entry = follow_ups.log_follow_up(
        session,
        org.sales_a1,
        org.lead_a1.id,
        call(lead_class="key", class_reason="老客户转介绍，本周付定"),
        clock.now(),
    )
    assert org.lead_a1.lead_class == "key"
    assert org.lead_a1.class_reason == "老客户转介绍，本周付定"
    assert entry.class_reason == "老客户转介绍，本周付定"


def test_a_test_drive_contact_suggests_intent(org, session, frozen_now):
    follow_ups.log_follow_up(
        session, org.sales_a1, org.lead_a1.id, call(channel="test_drive"), clock.now()
    )
    assert org.lead_a1.lead_class == "intent"


def test_archived_lead_takes_no_follow_up(org, session, frozen_now):
    org.lead_a1.status = LeadStatus.LOST.value
    session.commit()
    with pytest.raises(ValidationError):
        follow_ups.log_follow_up(session, org.sales_a1, org.lead_a1.id, call(), clock.now())


def test_service_advisor_cannot_log_sales_follow_ups(org, session, frozen_now):
    with pytest.raises((Forbidden, NotFound)):
        follow_ups.log_follow_up(session, org.advisor_a, org.pool_lead_a.id, call(), clock.now())
