"""Member tiers from spend on paid orders (PRODUCT "Membership"; issue 7)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm import clock
from crm.errors import Forbidden, ValidationError
from crm.services import membership
from crm.services.membership import TierInput
from tests import factories as f


def customer_with_paid(store, *orders):
    """``orders``: (yuan, paid_on) pairs on one vehicle."""
    customer = f.CustomerFactory(store=store, group_id=store.group_id)
    vehicle = f.VehicleFactory(customer=customer)
    for yuan, paid_on in orders:
        f.ServiceOrderFactory(
            vehicle=vehicle, labour_fen=round(yuan * 100), parts_fen=0, paid_on=paid_on
        )
    return customer


def test_exactly_fifty_thousand_yuan_makes_silver(org, session, frozen_now):
    customer = customer_with_paid(
        org.store_a, (30_000, date(2026, 1, 5)), (20_000, date(2026, 5, 1))
    )
    card = membership.recompute(session, customer, clock.now())
    assert (card.tier, card.spend_fen) == ("silver", 5_000_000)
    assert membership.benefits_of(session, card, customer.group_id) == (
        "银卡会员",
        ["保养9折", "免费洗车"],
    )


def test_one_fen_short_of_fifty_thousand_stays_a_base_member(org, session, frozen_now):
    customer = customer_with_paid(org.store_a, (49_999.99, date(2026, 1, 5)))
    card = membership.recompute(session, customer, clock.now())
    assert card.tier == ""
    assert membership.benefits_of(session, card, customer.group_id) == ("普通会员", [])


def test_unpaid_orders_do_not_count(org, session, frozen_now):
    customer = customer_with_paid(org.store_a, (60_000, None))
    assert membership.recompute(session, customer, clock.now()).tier == ""


def test_one_hundred_thousand_makes_gold(org, session, frozen_now):
    customer = customer_with_paid(org.store_a, (100_000, date(2026, 1, 5)))
    assert membership.recompute(session, customer, clock.now()).tier == "gold"


def test_by_default_a_tier_is_never_lowered(org, session, frozen_now):
    customer = customer_with_paid(org.store_a, (120_000, date(2020, 1, 5)))
    card = membership.recompute(session, customer, clock.now())
    assert card.tier == "gold"
    membership.configure(
        session,
        org.group_admin,
        [TierInput("gold", "金卡会员", "150000", "代步车")],
        "0",
        clock.now(),
    )
    assert card.tier == "gold"  # 120,000 is now below gold, but tiers are kept


def test_with_a_window_old_spend_expires_and_the_tier_drops(org, session, frozen_now):
    customer = customer_with_paid(
        org.store_a, (60_000, date(2024, 1, 5)), (10_000, clock.today() - timedelta(days=30))
    )
    card = membership.recompute(session, customer, clock.now())
    assert card.tier == "silver"
    membership.configure(session, org.group_admin, [], "12", clock.now())
    assert (card.tier, card.spend_fen) == ("", 1_000_000)


def test_configured_threshold_and_benefits_apply(org, session, frozen_now):
    customer = customer_with_paid(org.store_a, (40_000, date(2026, 1, 5)))
    membership.configure(
        session,
        org.group_admin,
        [TierInput("silver", "银卡", "40,000", "保养95折\n免费洗车\n")],
        "0",
        clock.now(),
    )
    card = membership.recompute(session, customer, clock.now())
    assert card.tier == "silver"
    assert membership.benefits_of(session, card, customer.group_id) == (
        "银卡",
        ["保养95折", "免费洗车"],
    )


@pytest.mark.parametrize(
    ("entry", "window", "field"),
    [
        (TierInput("gold", "金卡", "40000", ""), "0", "gold.threshold"),
        (TierInput("silver", "银卡", "-1", ""), "0", "silver.threshold"),
        (TierInput("silver", "", "50000", ""), "0", "silver.name"),
        (TierInput("silver", "银卡", "50000", ""), "x", "window_months"),
        (TierInput("silver", "银卡", "50000", ""), "-3", "window_months"),
    ],
)
def test_bad_tier_settings_name_the_field_and_change_nothing(
    org, session, frozen_now, entry, window, field
):
    with pytest.raises(ValidationError) as error:
        membership.configure(session, org.group_admin, [entry], window, clock.now())
    assert error.value.field == field
    session.rollback()
    tiers = membership.tiers(session, org.store_a.group_id)
    assert [(t.code, t.threshold_fen) for t in tiers] == [
        ("silver", 5_000_000),
        ("gold", 10_000_000),
        ("diamond", 20_000_000),
    ]


def test_only_the_group_admin_configures_tiers(org, session, frozen_now):
    with pytest.raises(Forbidden):
        membership.configure(session, org.store_admin_a, [], "0", clock.now())
