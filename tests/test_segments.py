"""Customer segments (PRODUCT "Segments"): the rules, the thresholds a group overrides, and the
daily computation — idempotent, and a fixed number of queries whatever the customer count.

The clock is frozen on 2026-06-15 (Beijing)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from crm import access, clock
from crm.errors import Forbidden, ValidationError
from crm.models import CustomerSegment, Group
from crm.services import segments
from jobs.schedule import SCHEDULE
from tests import factories as f

TODAY = date(2026, 6, 15)
YUAN = 100


def days_ago(days: int) -> date:
    return TODAY - timedelta(days=days)


@pytest.fixture
def store(org):
    return org.store_a


def customer_with_car(store, **car):
    """A customer of ``store`` with one car (a private car bought in 2025 unless told)."""
    customer = f.CustomerFactory(store=store, group_id=store.group_id)
    car.setdefault("purchase_date", date(2025, 1, 10))
    f.VehicleFactory(customer=customer, **car)
    return customer


def visit(customer, on: date, kind: str = "periodic_maintenance", fen: int = 0, paid=True):
    """A service order on the customer's newest car: ``fen`` of work, paid on the day."""
    return f.ServiceOrderFactory(
        vehicle=customer.vehicles[-1],
        opened_on=on,
        kind=kind,
        labour_fen=fen,
        parts_fen=0,
        paid_on=on if paid else None,
    )


def segment_of(session, customer) -> CustomerSegment:
    segments.compute_segments(session, clock.now())
    row = session.get(CustomerSegment, customer.id)
    session.refresh(row)
    return row


# --- lost: no visit for a year [004 §10] -----------------------------------------------------


def test_customer_without_visit_for_a_year_is_lost(session, store):
    gone = customer_with_car(store, purchase_date=date(2022, 3, 1))
    visit(gone, days_ago(365), fen=80_000)
    still_here = customer_with_car(store, purchase_date=date(2022, 3, 1))
    visit(still_here, days_ago(364), fen=80_000)
    assert segment_of(session, gone).lost is True
    assert segment_of(session, still_here).lost is False


def test_customer_whose_car_was_delivered_under_a_year_ago_and_never_visited_is_not_lost(
    session, store
):
    recent = customer_with_car(store, purchase_date=days_ago(300), delivered_on=days_ago(300))
    long_ago = customer_with_car(store, purchase_date=days_ago(400), delivered_on=days_ago(400))
    assert segment_of(session, recent).lost is False
    assert segment_of(session, long_ago).lost is True


def test_a_new_car_keeps_a_customer_who_stopped_coming_with_the_old_one(session, store):
    customer = customer_with_car(store, purchase_date=date(2018, 5, 1))
    visit(customer, date(2024, 1, 5), fen=50_000)
    f.VehicleFactory(customer=customer, purchase_date=days_ago(60), delivered_on=days_ago(60))
    row = segment_of(session, customer)
    assert row.lost is False
    assert row.last_visit_on == date(2024, 1, 5)


# --- car age and use -------------------------------------------------------------------------


def test_car_three_years_old_is_in_two_to_five_years(session, store):
    customer = customer_with_car(store, purchase_date=date(2023, 6, 15))
    assert segment_of(session, customer).car_age == "2_5y"


def test_car_under_two_years_old_without_warranty_date_is_under_warranty(session, store):
    day_before_second_birthday = customer_with_car(store, purchase_date=date(2024, 6, 16))
    second_birthday = customer_with_car(store, purchase_date=date(2024, 6, 15))
    assert segment_of(session, day_before_second_birthday).car_age == "warranty"
    assert segment_of(session, second_birthday).car_age == "2_5y"


def test_warranty_until_decides_over_the_purchase_date(session, store):
    extended = customer_with_car(
        store, purchase_date=date(2022, 7, 1), warranty_until=date(2026, 12, 31)
    )
    last_day = customer_with_car(
        store, purchase_date=date(2025, 1, 1), warranty_until=date(2026, 6, 15)
    )
    ended = customer_with_car(
        store, purchase_date=date(2025, 1, 1), warranty_until=date(2026, 6, 14)
    )
    assert segment_of(session, extended).car_age == "warranty"
    assert segment_of(session, last_day).car_age == "warranty"
    assert segment_of(session, ended).car_age == "2_5y"  # out of warranty, under five years


def test_the_car_models_warranty_months_count_when_no_date_is_recorded(session, store):
    model = f.CarModelFactory(group_id=store.group_id, warranty_months=36)
    customer = customer_with_car(store, purchase_date=date(2023, 7, 1), car_model_id=model.id)
    assert segment_of(session, customer).car_age == "warranty"


def test_car_five_years_old_is_over_five_years(session, store):
    five = customer_with_car(store, purchase_date=date(2021, 6, 15))
    almost = customer_with_car(store, purchase_date=date(2021, 6, 16))
    assert segment_of(session, five).car_age == "over_5y"
    assert segment_of(session, almost).car_age == "2_5y"


def test_customer_with_several_cars_is_segmented_by_the_newest(session, store):
    customer = customer_with_car(store, purchase_date=date(2015, 4, 1), usage="commercial")
    f.VehicleFactory(customer=customer, purchase_date=date(2025, 9, 1), usage="official")
    row = segment_of(session, customer)
    assert (row.car_age, row.usage) == ("warranty", "official")


def test_customer_without_a_vehicle_has_no_segment(session, store):
    customer = f.CustomerFactory(store=store, group_id=store.group_id)
    row = segment_of(session, customer)
    assert (row.car_age, row.usage, row.value_class, row.rfm, row.lost) == ("", "", "", "", False)


def test_car_without_any_date_has_no_car_age(session, store):
    customer = customer_with_car(store, purchase_date=None)
    assert segment_of(session, customer).car_age == ""


# --- value class A / B / C / D [001 p13–16] --------------------------------------------------


def test_only_warranty_work_with_visits_over_six_months_apart_is_class_c(session, store):
    customer = customer_with_car(store, purchase_date=date(2025, 1, 10))
    visit(customer, date(2025, 6, 1), kind="warranty")
    visit(customer, date(2026, 1, 5), kind="first_maintenance")  # 218 days later
    assert segment_of(session, customer).value_class == "C"


def test_only_free_work_not_back_for_over_six_months_is_class_c(session, store):
    customer = customer_with_car(store, purchase_date=date(2025, 1, 10))
    visit(customer, days_ago(183), kind="first_maintenance")
    assert segment_of(session, customer).value_class == "C"


def test_only_warranty_work_with_close_visits_is_not_class_c(session, store):
    customer = customer_with_car(store, purchase_date=date(2025, 1, 10))
    visit(customer, days_ago(120), kind="warranty")
    visit(customer, days_ago(30), kind="warranty")
    assert segment_of(session, customer).value_class == "B"


def test_paid_work_with_visits_over_six_months_apart_is_not_class_c(session, store):
    customer = customer_with_car(store, purchase_date=date(2025, 1, 10))
    visit(customer, date(2025, 6, 1), kind="warranty")
    visit(customer, date(2026, 1, 5), kind="repair", fen=60_000)
    assert segment_of(session, customer).value_class == "B"


def test_customer_who_stopped_coming_after_warranty_is_class_d(session, store):
    customer = customer_with_car(store, purchase_date=date(2022, 3, 1))
    visit(customer, date(2023, 2, 1), kind="periodic_maintenance", fen=90_000)
    row = segment_of(session, customer)
    assert (row.car_age, row.lost, row.value_class) == ("2_5y", True, "D")


def test_customer_lost_while_still_under_warranty_is_class_c(session, store):
    customer = customer_with_car(
        store, purchase_date=date(2024, 1, 1), warranty_until=date(2027, 1, 1)
    )
    visit(customer, date(2025, 5, 1), kind="first_maintenance")
    row = segment_of(session, customer)
    assert (row.car_age, row.lost, row.value_class) == ("warranty", True, "C")


def test_regular_paying_customer_is_class_a(session, store):
    loyal = customer_with_car(store)
    visit(loyal, days_ago(200), fen=150_000)
    visit(loyal, days_ago(20), fen=150_000)
    short = customer_with_car(store)
    visit(short, days_ago(200), fen=150_000)
    visit(short, days_ago(20), fen=149_999)
    once = customer_with_car(store)
    visit(once, days_ago(20), fen=400_000)
    assert segment_of(session, loyal).value_class == "A"
    assert segment_of(session, short).value_class == "B"  # ¥2,999.99 in 12 months
    assert segment_of(session, once).value_class == "B"  # one visit


def test_new_customer_who_has_not_needed_the_workshop_yet_is_class_b(session, store):
    customer = customer_with_car(store, purchase_date=days_ago(40), delivered_on=days_ago(40))
    assert segment_of(session, customer).value_class == "B"


# --- RFM [000 §2.2] --------------------------------------------------------------------------


def frequent_big_spender(store, last_visit_days_ago: int, fen_each: int = 200_000):
    customer = customer_with_car(store)
    for days in (last_visit_days_ago + 120, last_visit_days_ago + 60, last_visit_days_ago):
        visit(customer, days_ago(days), fen=fen_each)
    return customer


def test_recent_frequent_high_spending_customer_is_high_value(session, store):
    at_the_limit = frequent_big_spender(store, last_visit_days_ago=60)
    assert segment_of(session, at_the_limit).rfm == "high_value"


def test_high_value_needs_a_visit_within_the_recent_days(session, store):
    on_the_day = frequent_big_spender(store, last_visit_days_ago=180)
    a_day_late = frequent_big_spender(store, last_visit_days_ago=181)
    assert segment_of(session, on_the_day).rfm == "high_value"  # exactly 180 days ago
    assert segment_of(session, a_day_late).rfm == "sleeping"  # 181 days ago


def test_high_value_needs_the_frequency(session, store):
    customer = customer_with_car(store)
    visit(customer, days_ago(90), fen=300_000)
    visit(customer, days_ago(10), fen=300_000)
    assert segment_of(session, customer).rfm == "potential"


def test_high_value_needs_the_spend(session, store):
    customer = customer_with_car(store)
    for days in (200, 100):
        visit(customer, days_ago(days), fen=200_000)
    visit(customer, days_ago(10), fen=99_999)  # ¥4,999.99 in all
    just_enough = frequent_big_spender(store, last_visit_days_ago=10, fen_each=166_667)
    assert segment_of(session, customer).rfm == "potential"
    assert segment_of(session, just_enough).rfm == "high_value"  # ¥5,000.01


def test_unpaid_orders_are_visits_but_not_spend(session, store):
    customer = customer_with_car(store)
    for days in (200, 100, 10):
        visit(customer, days_ago(days), fen=300_000, paid=False)
    row = segment_of(session, customer)
    assert (row.visits_12m, row.spend_12m_fen, row.rfm) == (3, 0, "potential")


def test_two_orders_on_one_day_are_one_visit(session, store):
    customer = customer_with_car(store)
    visit(customer, days_ago(10), fen=10_000)
    visit(customer, days_ago(10), kind="repair", fen=20_000)
    row = segment_of(session, customer)
    assert (row.visits_12m, row.spend_12m_fen) == (1, 30_000)


def test_customer_seen_within_a_year_but_not_recently_is_sleeping(session, store):
    customer = customer_with_car(store)
    visit(customer, days_ago(250), fen=30_000)
    row = segment_of(session, customer)
    assert (row.rfm, row.lost) == ("sleeping", False)


def test_customer_not_seen_for_a_year_is_rfm_lost(session, store):
    customer = customer_with_car(store, purchase_date=date(2020, 1, 1))
    visit(customer, days_ago(366), fen=800_000)
    row = segment_of(session, customer)
    assert (row.rfm, row.visits_12m, row.spend_12m_fen) == ("lost", 0, 0)
    assert row.spend_total_fen == 800_000


def test_new_car_buyer_is_a_potential_customer(session, store):
    customer = customer_with_car(store, purchase_date=days_ago(30), delivered_on=days_ago(30))
    assert segment_of(session, customer).rfm == "potential"


# --- thresholds a group overrides ------------------------------------------------------------


def test_thresholds_override_from_group_settings(session, org, store):
    customer = customer_with_car(store)
    visit(customer, days_ago(90), fen=60_000)
    visit(customer, days_ago(10), fen=60_000)
    assert segment_of(session, customer).rfm == "potential"
    group = session.get(Group, store.group_id)
    group.segment_settings = {"frequent_visits": 2, "high_spend_fen": 100_000}
    session.commit()
    assert segment_of(session, customer).rfm == "high_value"


def test_invalid_stored_thresholds_fall_back_to_the_defaults():
    stored = {"recent_days": "ninety", "frequent_visits": 0, "high_spend_fen": True, "x": 1}
    assert segments.thresholds_from(stored) == segments.DEFAULTS
    assert segments.thresholds_from(None) == segments.DEFAULTS
    assert segments.thresholds_from({"recent_days": 90}).recent_days == 90


def test_group_admin_saves_thresholds_and_the_group_is_recomputed(session, org, store):
    customer = customer_with_car(store)
    visit(customer, days_ago(90), fen=60_000)
    visit(customer, days_ago(10), fen=60_000)
    segments.compute_segments(session, clock.now())
    values = {"frequent_visits": "2", "high_spend_yuan": "1,000", "recent_days": "180"}
    saved = segments.update_settings(session, org.group_admin, values, clock.now())
    assert (saved.frequent_visits, saved.high_spend_fen, saved.recent_days) == (2, 100_000, 180)
    group = session.get(Group, store.group_id)
    session.refresh(group)
    assert group.segment_settings == {"frequent_visits": 2, "high_spend_fen": 100_000}
    row = session.get(CustomerSegment, customer.id)
    session.refresh(row)
    assert row.rfm == "high_value"
    # A blank field goes back to the default.
    segments.update_settings(session, org.group_admin, {}, clock.now())
    session.refresh(group)
    assert group.segment_settings == {}


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("recent_days", "365"),
        ("recent_days", "0"),
        ("frequent_visits", "two"),
        ("high_spend_yuan", "-5"),
        ("high_spend_yuan", "abc"),
        ("loyal_spend_yuan", "0.5"),
        ("marginal_gap_days", "7"),
    ],
)
def test_bad_threshold_is_refused_naming_the_field_and_changes_nothing(
    session, org, store, field, typed
):
    group = session.get(Group, store.group_id)
    group.segment_settings = {"loyal_visits": 3}
    session.commit()
    values = {"frequent_visits": "4", field: typed}
    with pytest.raises(ValidationError) as refused:
        segments.update_settings(session, org.group_admin, values, clock.now())
    assert refused.value.field == field
    session.refresh(group)
    assert group.segment_settings == {"loyal_visits": 3}


def test_only_the_group_admin_sets_thresholds(session, org):
    for actor in (org.store_admin_a, org.sales_a1, org.advisor_a):
        with pytest.raises(Forbidden):
            segments.update_settings(session, actor, {"recent_days": "90"}, clock.now())
    assert access.allowed(org.group_admin, "segment.configure")


# --- the daily computation -------------------------------------------------------------------


def test_compute_segments_is_idempotent(session, org, store):
    customer = customer_with_car(store)
    visit(customer, days_ago(20), fen=50_000)

    def snapshot():
        rows = session.scalars(select(CustomerSegment).order_by(CustomerSegment.customer_id))
        return [
            (r.customer_id, r.store_id, r.car_age, r.usage, r.value_class, r.rfm, r.lost,
             r.last_visit_on, r.visits_12m, r.spend_12m_fen, r.spend_total_fen, r.computed_on)
            for r in rows
        ]  # fmt: skip

    first = segments.compute_segments(session, clock.now())
    before = snapshot()
    second = segments.compute_segments(session, clock.now())
    session.expire_all()
    assert first == second == 4  # the org's three customers and this one
    assert snapshot() == before
    assert session.scalar(select(func.count()).select_from(CustomerSegment)) == 4


def test_recomputing_updates_the_row_when_the_customer_changes(session, store, frozen_now):
    customer = customer_with_car(store, purchase_date=date(2021, 1, 1))
    visit(customer, days_ago(300), fen=50_000)
    assert segment_of(session, customer).rfm == "sleeping"
    visit(customer, days_ago(1), fen=50_000)
    row = segment_of(session, customer)
    assert (row.rfm, row.last_visit_on, row.visits_12m) == ("potential", days_ago(1), 2)
    frozen_now.shift(timedelta(days=400))
    row = segment_of(session, customer)
    assert (row.lost, row.value_class, row.computed_on) == (True, "D", TODAY + timedelta(400))


def test_compute_segments_for_one_group_leaves_other_groups_alone(session, org, store):
    other_store = f.StoreFactory()
    outsider = customer_with_car(other_store)
    insider = customer_with_car(store)
    count = segments.compute_segments(session, clock.now(), group_id=store.group_id)
    assert count == 4
    assert session.get(CustomerSegment, insider.id) is not None
    assert session.get(CustomerSegment, outsider.id) is None


def _statements_for(session, customers: int, store) -> int:
    for _ in range(customers):
        customer = customer_with_car(store)
        visit(customer, days_ago(30), fen=10_000)
        visit(customer, days_ago(200), kind="warranty")
    statements = []
    connection = session.connection()

    def listener(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", listener)
    try:
        segments.compute_segments(session, clock.now())
    finally:
        event.remove(connection, "before_cursor_execute", listener)
    return len(statements)


def test_compute_segments_issues_no_query_per_customer(session, store):
    few = _statements_for(session, 3, store)
    many = _statements_for(session, 60, store)
    assert many == few
    assert session.scalar(select(func.count()).select_from(CustomerSegment)) == 66


def test_the_daily_job_computes_segments(session, org):
    job = next(job for job in SCHEDULE if job.id == "compute_segments")
    assert job.trigger_args == {"hour": 3, "minute": 0}
    assert job.run(session, clock.now()) == 3
