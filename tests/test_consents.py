"""Consent records (issue 12 "PIPL"; crm.services.consents): one row per decision, the latest
row is the current state, optional purposes can be withdrawn, withdrawing marketing stops
marketing care through the existing opt-outs, and every change is in the audit log."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import NotFound, ValidationError
from crm.models import AuditEvent, CareOptOut, Consent, OutboxMessage
from crm.services import consents
from crm.services.care import holidays, maintenance, policy
from crm.services.care.kinds import CareItem

MONDAY = date(2027, 3, 15)


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _state(session, customer, purpose):
    return next(s for s in consents.current(session, customer) if s.purpose == purpose)


def _item(customer, kind, occasion: str) -> CareItem:
    return CareItem(
        kind=kind,
        customer_id=customer.id,
        store_id=customer.store_id,
        occasion=occasion,
        due_on=MONDAY,
        send_at=datetime.combine(MONDAY, time(9), tzinfo=clock.BUSINESS_TZ),
    )


def test_the_current_state_of_a_purpose_is_its_latest_decision(org, session, frozen_now):
    customer, now = org.customer_a1, clock.now()
    assert _state(session, customer, "marketing").granted is None
    consents.grant(session, org.sales_a1, customer, "marketing", "paper", now, note="授权书A-17")
    consents.withdraw(session, customer, customer, "marketing", "wechat", now)
    state = _state(session, customer, "marketing")
    assert (state.granted, state.channel, state.channel_label) == (False, "wechat", "微信")
    rows = session.scalars(
        select(Consent).where(Consent.customer_id == customer.id).order_by(Consent.id)
    ).all()
    assert [(r.granted, r.channel, r.recorded_by_id) for r in rows] == [
        (True, "paper", org.sales_a1.id),
        (False, "wechat", None),
    ]
    assert rows[0].note == "授权书A-17"
    assert {r.policy_version for r in rows} == {consents.POLICY_VERSION}


def test_recording_the_decision_already_in_force_adds_no_row(org, session, frozen_now):
    customer, now = org.customer_a1, clock.now()
    first = consents.withdraw(session, customer, customer, "marketing", "wechat", now)
    again = consents.withdraw(session, customer, customer, "marketing", "wechat", now)
    assert again.id == first.id
    assert _count(session, Consent, Consent.customer_id == customer.id) == 1
    assert _count(session, AuditEvent, AuditEvent.customer_id == customer.id) == 1


def test_withdrawing_marketing_stops_marketing_care_and_granting_resumes_it(
    org, session, frozen_now
):
    customer, now = org.customer_a1, clock.now()
    consents.withdraw(session, org.care_a, customer, "marketing", "phone", now)
    opted_out = set(
        session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    )
    assert opted_out == {kind.name for kind in consents.marketing_kinds()}
    assert holidays.KIND.name in opted_out and maintenance.KIND.name not in opted_out

    queued = policy.apply(
        session,
        MONDAY,
        [_item(customer, holidays.KIND, "h1"), _item(customer, maintenance.KIND, "m1")],
        now,
    )
    assert queued == {maintenance.KIND.name: 1}

    consents.grant(session, customer, customer, "marketing", "wechat", now)
    assert _count(session, CareOptOut, CareOptOut.customer_id == customer.id) == 0
    queued = policy.apply(session, MONDAY, [_item(customer, holidays.KIND, "h2")], now)
    assert queued == {holidays.KIND.name: 1}
    assert _count(session, OutboxMessage, OutboxMessage.customer_id == customer.id) == 2


def test_withdrawing_marketing_keeps_the_customers_other_opt_outs(org, session, frozen_now):
    customer, now = org.customer_a1, clock.now()
    session.add(CareOptOut(customer_id=customer.id, kind=maintenance.KIND.name, recorded_at=now))
    session.commit()
    consents.withdraw(session, customer, customer, "marketing", "wechat", now)
    consents.grant(session, customer, customer, "marketing", "wechat", now)
    kinds = session.scalars(select(CareOptOut.kind).where(CareOptOut.customer_id == customer.id))
    assert list(kinds) == [maintenance.KIND.name]


@pytest.mark.parametrize("purpose", ["service_reminders", "membership"])
def test_a_purpose_necessary_for_the_service_cannot_be_withdrawn(org, session, frozen_now, purpose):
    customer = org.customer_a1
    with pytest.raises(ValidationError) as refused:
        consents.withdraw(session, org.store_admin_a, customer, purpose, "paper", clock.now())
    assert refused.value.field == "purpose" and "删除" in refused.value.message
    assert _count(session, Consent, Consent.customer_id == customer.id) == 0


def test_an_unknown_purpose_channel_or_long_note_is_refused_naming_the_field(
    org, session, frozen_now
):
    customer, now, staff = org.customer_a1, clock.now(), org.sales_a1
    cases = [
        (dict(purpose="spam", channel="paper"), "purpose"),
        (dict(purpose="marketing", channel="fax"), "channel"),
        (dict(purpose="marketing", channel="paper", note="长" * 201), "note"),
    ]
    for values, field in cases:
        with pytest.raises(ValidationError) as refused:
            consents.grant(session, staff, customer, now=now, **values)
        assert refused.value.field == field
    assert _count(session, Consent) == 0


def test_a_customer_decides_only_for_themselves_and_only_through_wechat(org, session, frozen_now):
    now = clock.now()
    with pytest.raises(NotFound):
        consents.withdraw(session, org.customer_a2, org.customer_a1, "marketing", "wechat", now)
    with pytest.raises(ValidationError) as refused:
        consents.grant(session, org.customer_a1, org.customer_a1, "marketing", "paper", now)
    assert refused.value.field == "channel"
    assert _count(session, Consent) == 0


def test_staff_record_consent_only_for_customers_in_their_scope(org, session, frozen_now):
    with pytest.raises(NotFound):
        consents.grant(session, org.sales_b, org.customer_a1, "marketing", "paper", clock.now())
    with pytest.raises(NotFound):
        consents.grant(session, org.sales_a2, org.customer_a1, "marketing", "paper", clock.now())
    consents.grant(session, org.care_a, org.customer_a1, "marketing", "phone", clock.now())
    assert _state(session, org.customer_a1, "marketing").granted is True


def test_every_change_is_in_the_audit_log_without_personal_data(org, session, frozen_now):
    customer, now = org.customer_a1, clock.now()
    granted = consents.grant(session, org.sales_a1, customer, "marketing", "paper", now)
    withdrawn = consents.withdraw(session, customer, customer, "marketing", "wechat", now)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.customer_id == customer.id).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.actor_kind, e.subject_id) for e in events] == [
        ("consent.grant", "staff", granted.id),
        ("consent.withdraw", "customer", withdrawn.id),
    ]
    assert events[0].detail == {"purpose": "marketing", "channel": "paper"}
    assert {e.store_id for e in events} == {customer.store_id}
    assert customer.name not in str([e.detail for e in events])


def test_the_member_cannot_switch_a_greeting_on_while_marketing_is_withdrawn(
    org, session, frozen_now
):
    customer, now = org.customer_a1, clock.now()
    consents.withdraw(session, customer, customer, "marketing", "wechat", now)
    with pytest.raises(ValidationError) as refused:
        consents.set_member_choices(session, customer, {holidays.KIND.name: "on"}, now)
    assert refused.value.field == holidays.KIND.name
    assert _count(
        session,
        CareOptOut,
        CareOptOut.customer_id == customer.id,
        CareOptOut.kind == holidays.KIND.name,
    )
    consents.set_member_choices(session, customer, {maintenance.KIND.name: "off"}, now)
    assert _count(
        session,
        CareOptOut,
        CareOptOut.customer_id == customer.id,
        CareOptOut.kind == maintenance.KIND.name,
    )


def test_the_staff_form_records_a_paper_withdrawal(org, session, frozen_now):
    customer, now = org.customer_a1, clock.now()
    values = {"purpose": "marketing", "decision": "withdraw", "channel": "paper", "note": ""}
    row = consents.record(session, org.advisor_a, customer.id, values, now)
    assert (row.granted, row.channel, row.recorded_by_id) == (False, "paper", org.advisor_a.id)
    with pytest.raises(ValidationError) as refused:
        consents.record(session, org.advisor_a, customer.id, {**values, "decision": "x"}, now)
    assert refused.value.field == "decision"
    with pytest.raises(NotFound):
        consents.record(session, org.advisor_a, org.customer_b.id, values, now)
