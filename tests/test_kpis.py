"""The KPI dashboard on a known data set: every figure checked exactly, with the edge cases of
issue 10 — the lead created at 23:30 Beijing time on the month's last day, a lead moved to
another store, a salesperson who has left (PRODUCT "Reports and KPIs")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.errors import NotFound
from crm.models import AuditEvent
from crm.services.org import set_staff_left
from crm.services.reports import kpis
from crm.services.reports.scope import EVERYTHING, Filters
from tests import factories as f

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)
COMPLETE = dict(
    concerns="担心油耗",
    need_changes="预算提高",
    decision_factors="家人意见",
    next_step="邀约试驾",
    next_step_at=datetime(2026, 12, 1, tzinfo=UTC),
)


def utc(month, day, hour=2, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def build(org):
    """Store A's October, row by row (the expected figures are worked out in each test)."""
    a, b = org.store_a, org.store_b

    def lead(owner, created_at, **kw):
        return f.LeadFactory(store=a, owner=owner, created_at=created_at, **kw)

    # 23:30 Beijing on 31 October: an October lead, first contact two hours later (November).
    l1 = lead(org.sales_a1, utc(10, 31, 15, 30))
    f.CommunicationFactory(lead=l1, occurred_at=utc(10, 31, 17, 30), **COMPLETE)
    f.DealFactory(lead=l1, deposit_on=date(2026, 11, 2))
    # Referred, first contact after two days, a sketchy record, a deal in October.
    l2 = lead(org.sales_a1, utc(10, 5), source="referral")
    f.CommunicationFactory(lead=l2, occurred_at=utc(10, 7))
    f.DealFactory(lead=l2, deposit_on=date(2026, 10, 20))
    lead(None, utc(10, 10))  # never contacted
    # Sold by A2, who then leaves: the won lead stays in A2's name.
    l4 = lead(org.sales_a2, utc(10, 3), status="won")
    f.CommunicationFactory(lead=l4, occurred_at=utc(10, 3, 2, 30), channel="visit", **COMPLETE)
    f.DealFactory(lead=l4, deposit_on=date(2026, 10, 15), status="delivered")
    set_staff_left(f.db.session, org.store_admin_a, org.sales_a2.id, NOW)
    # Created at A, moved to B: counts at B.
    moved = lead(org.sales_a1, utc(10, 8))
    moved.store_id, moved.owner_id = b.id, org.sales_b.id

    # Dormant leads woken in October: activated, still inside its 30 days, never activated.
    old = utc(1, 5)
    woken = lead(org.sales_a1, old, woken_at=utc(10, 20))
    f.CommunicationFactory(lead=woken, occurred_at=utc(10, 25), **COMPLETE)
    lead(org.sales_a1, old, woken_at=utc(10, 28))
    lead(org.sales_a1, old, woken_at=utc(10, 2))

    def customer():
        return f.CustomerFactory(store=a, group_id=a.group_id, sales_owner_id=org.sales_a1.id)

    # 7-day return visits: one done, one missed in October, one due in November.
    c = customer()
    f.CareTaskFactory(customer=c, due_at=utc(10, 10), done_at=utc(10, 10, 5))
    f.CareTaskFactory(customer=c, due_at=utc(10, 20))
    f.CareTaskFactory(customer=c, due_at=utc(11, 5))

    # The car park: V1 came back in March; V2 never; V3 sold in October (not yet counted);
    # V4 was lost (last visit September 2025) and came back in October; V5 lost for good.
    c1, c2, c3, c4, c5 = (customer() for _ in range(5))
    v1 = f.VehicleFactory(customer=c1, delivered_on=date(2025, 5, 1))
    f.ServiceOrderFactory(vehicle=v1, kind="repair", opened_on=date(2026, 3, 1))
    f.VehicleFactory(customer=c2, delivered_on=date(2026, 2, 1))
    v3 = f.VehicleFactory(customer=c3, delivered_on=date(2026, 10, 15))
    f.ServiceOrderFactory(vehicle=v3, kind="first_maintenance", opened_on=date(2026, 10, 20))
    v4 = f.VehicleFactory(customer=c4)
    f.ServiceOrderFactory(vehicle=v4, opened_on=date(2025, 9, 30))
    f.ServiceOrderFactory(vehicle=v4, opened_on=date(2026, 10, 9))
    v5 = f.VehicleFactory(customer=c5)
    f.ServiceOrderFactory(vehicle=v5, opened_on=date(2025, 1, 10))

    # Members: C1 (last visit March: inactive), C4 (October visit: active); C2's card is
    # issued in November and does not count for October.
    f.MemberCardFactory(customer=c1, issued_at=utc(1, 1))
    f.MemberCardFactory(customer=c4, issued_at=utc(1, 1))
    f.MemberCardFactory(customer=c2, issued_at=utc(11, 10))

    # Complaints: one contacted in 5 minutes, one after 30.
    filed = utc(10, 12, 4)
    f.ComplaintFactory(customer=c, filed_at=filed, first_contacted_at=filed + timedelta(minutes=5))
    late = utc(10, 13, 4)
    f.ComplaintFactory(customer=c, filed_at=late, first_contacted_at=late + timedelta(minutes=30))

    # NPS 2026Q4: two promoters, one passive, one detractor.
    for score in (10, 9, 8, 5):
        f.SurveyFactory(customer=c, period="2026Q4", score=score)
    f.db.session.flush()


def figures(session, actor, filters=EVERYTHING):
    result = kpis.dashboard(session, actor, month_start=OCTOBER, now=NOW, filters=filters)
    return {kpi.spec.key: kpi for kpi in result}


def counts(kpi):
    return (kpi.numerator, kpi.denominator)


@pytest.fixture
def store_a_october(org, session):
    build(org)
    return figures(session, org.store_admin_a)


def test_lead_conversion_counts_the_2330_lead_in_october_and_the_moved_lead_at_its_new_store(
    org, session, store_a_october
):
    kpi = store_a_october["lead_conversion"]
    assert counts(kpi) == (3, 4)  # L1 (23:30, deal in November), L2, L4 sold; L3 not
    assert kpi.value == pytest.approx(0.75) and kpi.mark == "green"
    group = figures(session, org.group_admin)["lead_conversion"]
    assert counts(group) == (3, 5)  # the moved lead is counted once, at store B


def test_first_follow_up_within_24_hours_alarms_below_80_percent(store_a_october):
    kpi = store_a_october["first_follow_up"]
    assert counts(kpi) == (2, 4)  # L1 after 2 h, L4 after 30 min; L2 after 2 days, L3 never
    assert kpi.mark == "red"


def test_record_completeness_counts_the_months_follow_ups_by_beijing_time(store_a_october):
    # L2's sketchy record; L4's and the woken lead's complete ones; L1's record is 01:30 on
    # 1 November in Beijing and belongs to November.
    kpi = store_a_october["record_completeness"]
    assert counts(kpi) == (2, 3)
    assert kpi.mark is None  # no target in PRODUCT


def test_dormant_activation_leaves_out_a_wake_up_still_inside_its_30_days(store_a_october):
    assert counts(store_a_october["dormant_activation"]) == (1, 2)


def test_referral_rate_is_the_share_of_the_months_deals_from_referrals(store_a_october):
    assert counts(store_a_october["referral_rate"]) == (1, 2)


def test_seven_day_return_visits_due_in_the_month(store_a_october):
    kpi = store_a_october["return_visit_7d"]
    assert counts(kpi) == (1, 2) and kpi.mark == "red"


def test_return_to_shop_is_a_visit_in_the_12_months_to_the_months_end(store_a_october):
    kpi = store_a_october["return_to_shop"]
    assert counts(kpi) == (2, 4)  # V1 and V4 of V1, V2, V4, V5 (V3 sold in October)
    assert kpi.mark == "amber"  # 50% against 60%


def test_lost_customer_recall_and_member_activity(store_a_october):
    assert counts(store_a_october["lost_recall"]) == (1, 2)
    assert store_a_october["lost_recall"].mark == "green"
    assert counts(store_a_october["member_activity"]) == (1, 2)
    assert store_a_october["member_activity"].mark == "green"  # 50% meets ≥50%


def test_maintenance_visits_are_counts_of_the_months_orders(store_a_october):
    assert store_a_october["first_maintenance"].value == 1
    assert store_a_october["periodic_maintenance"].value == 1


def test_complaint_timeliness_and_nps_come_from_their_own_services(store_a_october):
    assert counts(store_a_october["complaint_timeliness"]) == (1, 2)
    nps = store_a_october["nps"]
    assert nps.value == pytest.approx(25.0) and nps.denominator == 4 and nps.mark == "red"


def test_kpis_without_source_data_say_so_instead_of_a_number(store_a_october):
    for key in ("value_added", "insurance_renewal"):
        kpi = store_a_october[key]
        assert kpi.value is None and kpi.note.startswith("暂无数据") and kpi.mark is None


def test_a_salesperson_who_left_still_has_their_figures(org, session):
    build(org)
    mine = figures(session, org.store_admin_a, Filters(salesperson_id=org.sales_a2.id))
    assert counts(mine["lead_conversion"]) == (1, 1)
    assert counts(mine["first_follow_up"]) == (1, 1)
    assert mine["return_to_shop"].value is None and "不按销售顾问" in mine["return_to_shop"].note


def test_the_drill_down_lists_exactly_the_rows_behind_the_number(org, session):
    build(org)
    spec, rows, total = kpis.drill_down(
        session,
        org.store_admin_a,
        "first_follow_up",
        month_start=OCTOBER,
        now=NOW,
        filters=Filters(),
    )
    assert spec.name == "24小时首次跟进率" and total == 4
    assert sorted(str(row.hit) for row in rows) == ["False", "False", "True", "True"]
    _spec, rows, total = kpis.drill_down(
        session,
        org.store_admin_a,
        "return_to_shop",
        month_start=OCTOBER,
        now=NOW,
        filters=Filters(),
    )
    assert total == 4 and sum(row.hit for row in rows) == 2


def test_opening_a_drill_down_is_in_the_audit_log(org, session):
    build(org)
    kpis.drill_down(
        session,
        org.store_admin_a,
        "first_follow_up",
        month_start=OCTOBER,
        now=NOW,
        filters=Filters(),
    )
    drilled = select(AuditEvent).where(AuditEvent.action == "report.drill_down")
    event = session.scalars(drilled).one()
    assert (event.actor_staff_id, event.store_id) == (org.store_admin_a.id, org.store_a.id)
    assert event.detail == {
        "kpi": "first_follow_up",
        "month": OCTOBER.isoformat(),
        "page": 1,
        "rows": 4,
    }


def test_store_store_figures_are_not_for_supervisors_nor_other_stores(org, session):
    build(org)
    team = figures(session, org.supervisor_a1)
    assert team["nps"].value is None and team["lead_conversion"].value is not None
    with pytest.raises(NotFound):
        kpis.drill_down(
            session,
            org.supervisor_a1,
            "return_to_shop",
            month_start=OCTOBER,
            now=NOW,
            filters=Filters(),
        )
    store_b = figures(session, org.store_admin_b)
    assert counts(store_b["lead_conversion"]) == (0, 1)
