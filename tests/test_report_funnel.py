"""The monthly sales funnel: leads → communications → visits/appointments → deals, per store,
group-wide and per salesperson, counted in SQL over Beijing months (issue 10 "Reports")."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event

from crm.errors import NotFound
from crm.extensions import db
from crm.services.org import set_staff_left
from crm.services.reports import funnel
from crm.services.reports.scope import Filters, parse_filters
from tests import factories as f

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
OCTOBER = date(2026, 10, 1)
MID_OCTOBER = datetime(2026, 10, 12, 3, 0, tzinfo=UTC)


def lead(store, owner=None, created_at=MID_OCTOBER, **kw):
    return f.LeadFactory(store=store, owner=owner, created_at=created_at, **kw)


def row_of(rows, store):
    return next(row for row in rows if row.store_id == store.id)


def test_a_lead_created_at_2330_beijing_on_the_last_day_counts_in_that_month(org, session):
    lead(org.store_a, org.sales_a1, created_at=datetime(2026, 10, 31, 15, 30, tzinfo=UTC))
    lead(org.store_a, org.sales_a1, created_at=datetime(2026, 10, 31, 16, 30, tzinfo=UTC))

    october = funnel.group_funnel(session, org.group_admin, month_start=OCTOBER, now=NOW)
    november = funnel.group_funnel(session, org.group_admin, month_start=date(2026, 11, 1), now=NOW)

    assert row_of(october, org.store_a).leads == 1
    assert row_of(november, org.store_a).leads == 1


def test_each_step_counts_a_lead_once_and_ignores_cancelled_drives_and_deals(org, session):
    talked = lead(org.store_a, org.sales_a1)
    f.CommunicationFactory(lead=talked, occurred_at=MID_OCTOBER)
    f.CommunicationFactory(lead=talked, occurred_at=MID_OCTOBER)
    came_in = lead(org.store_a, org.sales_a1)
    f.CommunicationFactory(lead=came_in, channel="visit", occurred_at=MID_OCTOBER)
    f.DealFactory(lead=came_in)
    booked = lead(org.store_a, org.sales_a1)
    f.CommunicationFactory(lead=booked, occurred_at=MID_OCTOBER)
    f.TestDriveFactory(lead=booked)
    cancelled = lead(org.store_a, org.sales_a1)
    f.CommunicationFactory(lead=cancelled, occurred_at=MID_OCTOBER)
    f.TestDriveFactory(lead=cancelled, status="cancelled")
    f.DealFactory(lead=cancelled, status="cancelled")
    lead(org.store_a, None)  # untouched in the pool

    row = row_of(
        funnel.group_funnel(session, org.store_admin_a, month_start=OCTOBER, now=NOW),
        org.store_a,
    )

    assert (row.leads, row.communications, row.visits, row.deals) == (5, 4, 2, 1)
    assert row.contact_rate == pytest.approx(0.8)
    assert row.visit_rate == pytest.approx(0.5)
    assert row.deal_rate == pytest.approx(0.5)
    assert row.conversion == pytest.approx(0.2)


def test_store_admin_sees_their_store_and_the_group_admin_every_store(org, session):
    lead(org.store_a, org.sales_a1)
    lead(org.store_b, org.sales_b)
    lead(org.store_b, org.sales_b)

    mine = funnel.group_funnel(session, org.store_admin_a, month_start=OCTOBER, now=NOW)
    everyone = funnel.group_funnel(session, org.group_admin, month_start=OCTOBER, now=NOW)

    assert [(row.store_name, row.leads) for row in mine] == [("杭州A店", 1)]
    assert [(row.store_name, row.leads) for row in everyone] == [("杭州A店", 1), ("宁波B店", 2)]
    with pytest.raises(NotFound):
        funnel.store_funnel(
            session, org.store_admin_a, store_id=org.store_b.id, month_start=OCTOBER, now=NOW
        )
    with pytest.raises(NotFound):
        parse_filters(session, org.store_admin_a, str(org.store_b.id), "")


def test_a_lead_moved_to_another_store_counts_with_its_history_where_it_is_now(org, session):
    moved = lead(org.store_a, org.sales_a1)
    f.CommunicationFactory(lead=moved, occurred_at=MID_OCTOBER)
    moved.store_id = org.store_b.id
    moved.owner_id = org.sales_b.id
    session.flush()

    rows = funnel.group_funnel(session, org.group_admin, month_start=OCTOBER, now=NOW)

    assert (row_of(rows, org.store_a).leads, row_of(rows, org.store_a).communications) == (0, 0)
    assert (row_of(rows, org.store_b).leads, row_of(rows, org.store_b).communications) == (1, 1)


def test_per_salesperson_a_leaver_keeps_the_leads_in_their_name_and_the_pool_is_a_row(org, session):
    won = lead(org.store_a, org.sales_a2, status="won")
    f.CommunicationFactory(lead=won, occurred_at=MID_OCTOBER)
    f.DealFactory(lead=won, status="delivered")
    lead(org.store_a, org.sales_a2)  # open: handed back to the pool when A2 leaves
    lead(org.store_a, org.sales_a1)
    lead(org.store_a, None)
    set_staff_left(session, org.store_admin_a, org.sales_a2.id, NOW)

    rows = funnel.salesperson_funnel(session, org.store_admin_a, month_start=OCTOBER, now=NOW)

    by_name = {row.staff_name: row for row in rows}
    assert by_name["销售A2"].left and (by_name["销售A2"].leads, by_name["销售A2"].deals) == (1, 1)
    assert not by_name["销售A1"].left and by_name["销售A1"].leads == 1
    assert by_name["客户池（未认领）"].leads == 2
    assert by_name["A一组主管"].leads == 0  # active, nothing yet: still listed
    assert funnel.total(rows).leads == 4


def test_a_supervisor_sees_their_team_only(org, session):
    lead(org.store_a, org.sales_a1)
    lead(org.store_a, org.sales_a2)

    rows = funnel.salesperson_funnel(session, org.supervisor_a1, month_start=OCTOBER, now=NOW)

    assert {row.staff_name for row in rows} == {"销售A1", "A一组主管"}
    with pytest.raises(NotFound):
        parse_filters(session, org.supervisor_a1, "", str(org.sales_a2.id))


def test_the_salesperson_filter_narrows_the_store_funnel_to_their_leads(org, session):
    lead(org.store_a, org.sales_a1)
    lead(org.store_a, org.sales_a2)
    filters = parse_filters(session, org.store_admin_a, "", str(org.sales_a1.id))

    rows = funnel.group_funnel(
        session, org.store_admin_a, month_start=OCTOBER, now=NOW, filters=filters
    )

    assert [row.leads for row in rows] == [1]


def test_the_trend_gives_twelve_beijing_months_oldest_first(org, session):
    # 1 November 2025 00:05 Beijing is in the window; 31 October 23:55 Beijing is not.
    lead(org.store_a, org.sales_a1, created_at=datetime(2025, 10, 31, 16, 5, tzinfo=UTC))
    lead(org.store_a, org.sales_a1, created_at=datetime(2025, 10, 31, 15, 55, tzinfo=UTC))
    lead(org.store_a, org.sales_a1, created_at=datetime(2026, 10, 31, 15, 30, tzinfo=UTC))
    deal_lead = lead(org.store_a, org.sales_a1, created_at=datetime(2026, 3, 3, tzinfo=UTC))
    f.DealFactory(lead=deal_lead)

    trend = funnel.funnel_trend(session, org.store_admin_a, month_start=OCTOBER, now=NOW)

    assert [point.month.key for point in trend][:2] == ["2025-11", "2025-12"]
    assert len(trend) == 12 and trend[-1].month.key == "2026-10"
    leads = {point.month.key: point.leads for point in trend}
    assert leads["2025-11"] == 1
    assert sum(leads.values()) == 6  # the lead before the window is in no month
    assert leads["2026-10"] == 1
    assert {p.month.key: p.deals for p in trend}["2026-03"] == 1
    assert leads["2026-06"] == 3  # store A's own leads in the org, made on the frozen day


def count_queries(session, call):
    seen = []

    def record(*_args):
        seen.append(1)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def test_the_group_funnel_takes_as_many_queries_for_many_rows_as_for_few(org, session):
    def run():
        funnel.group_funnel(session, org.group_admin, month_start=OCTOBER, now=NOW)

    session.expire_all()
    few = count_queries(session, run)
    for _ in range(15):
        talked = lead(org.store_b, org.sales_b)
        f.CommunicationFactory(lead=talked, occurred_at=MID_OCTOBER)
        f.DealFactory(lead=talked)
    session.expire_all()
    many = count_queries(session, run)

    assert many == few <= 4  # the actor, the stores, the counts
    assert (
        row_of(
            funnel.group_funnel(session, org.group_admin, month_start=OCTOBER, now=NOW), org.store_b
        ).deals
        == 15
    )


def test_filters_are_checked_before_anything_is_counted(org, session):
    assert parse_filters(session, org.group_admin, "", "") == Filters()
    assert db.session is session
