"""Membership (PRODUCT "Membership"): the member card issued at delivery and the tier it
carries, from the customer's spend on paid service orders.

Default tiers: silver from ¥50,000 (10% off maintenance, free wash), gold from ¥100,000
(courtesy car, priority repair), diamond from ¥200,000 *(ours; configurable)* (dedicated
advisor, events, free maintenance on the birthday). Each tier's name, threshold and benefits
are configured per group in the console.

Downgrades (``Group.tier_window_months``): 0, the default, counts all spend ever and never
lowers a tier; N > 0 counts only the paid orders of the last N months, so the tier follows the
recent spend up and down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm import access, clock, money
from crm.errors import ValidationError
from crm.models import Customer, Group, MemberCard, MembershipTier, ServiceOrder, Staff, Vehicle

BASE_TIER_NAME = "普通会员"
YUAN = money.FEN_PER_YUAN
_SILVER = ["保养9折", "免费洗车"]
_GOLD = [*_SILVER, "代步车", "优先维修"]
_DIAMOND = [*_GOLD, "专属服务顾问", "会员活动", "生日当天免费保养"]
DEFAULT_TIERS = (
    ("silver", "银卡会员", 50_000 * YUAN, _SILVER),
    ("gold", "金卡会员", 100_000 * YUAN, _GOLD),
    ("diamond", "钻石会员", 200_000 * YUAN, _DIAMOND),
)
MAX_WINDOW_MONTHS = 120


def tiers(session: Session, group_id: int) -> list[MembershipTier]:
    """The group's tiers, lowest threshold first; a group without any gets the defaults."""
    found = list(
        session.scalars(
            select(MembershipTier)
            .where(MembershipTier.group_id == group_id)
            .order_by(MembershipTier.threshold_fen)
        )
    )
    if found:
        return found
    try:
        with session.begin_nested():
            for code, name, threshold, benefits in DEFAULT_TIERS:
                session.add(
                    MembershipTier(
                        group_id=group_id,
                        code=code,
                        name=name,
                        threshold_fen=threshold,
                        benefits=list(benefits),
                    )
                )
    except IntegrityError:
        pass  # another request created them first; read theirs
    return tiers(session, group_id)


def tier_for(group_tiers: list[MembershipTier], spend_fen: int) -> str:
    """The highest tier whose threshold the spend reaches ("" below the first)."""
    reached = [tier.code for tier in group_tiers if spend_fen >= tier.threshold_fen]
    return reached[-1] if reached else ""


def _rank(group_tiers: list[MembershipTier], code: str) -> int:
    codes = [tier.code for tier in group_tiers]
    return codes.index(code) + 1 if code in codes else 0


def tier_name(group_tiers: list[MembershipTier], code: str) -> str:
    return next((tier.name for tier in group_tiers if tier.code == code), BASE_TIER_NAME)


def _spend_query(group: Group, today: date):
    spend = func.coalesce(func.sum(ServiceOrder.labour_fen + ServiceOrder.parts_fen), 0)
    query = (
        select(Vehicle.customer_id, spend)
        .join(Vehicle, ServiceOrder.vehicle_id == Vehicle.id)
        .where(ServiceOrder.paid_on.is_not(None))
        .group_by(Vehicle.customer_id)
    )
    if group.tier_window_months:
        since = today - relativedelta(months=group.tier_window_months)
        query = query.where(ServiceOrder.paid_on > since)
    return query


def spend_of(session: Session, customer: Customer, today: date) -> int:
    """What counts towards the tier: paid orders on all the customer's vehicles."""
    group = session.get(Group, customer.group_id)
    row = session.execute(
        _spend_query(group, today).where(Vehicle.customer_id == customer.id)
    ).first()
    return int(row[1]) if row else 0


def card_number(customer: Customer) -> str:
    return f"8{customer.id:09d}"


def issue_card(session: Session, customer: Customer, now: datetime) -> MemberCard:
    """The customer's card, issued now unless they already hold one (a second car)."""
    card = session.scalar(select(MemberCard).where(MemberCard.customer_id == customer.id))
    if card is None:
        card = MemberCard(
            customer_id=customer.id,
            card_no=card_number(customer),
            tier="",
            spend_fen=0,
            issued_at=now,
            tier_since=now,
        )
        session.add(card)
        session.flush()
        _apply(session, card, customer.group_id, spend_of(session, customer, clock.today(now)), now)
    return card


def _apply(session: Session, card: MemberCard, group_id: int, spend: int, now: datetime) -> None:
    group_tiers = tiers(session, group_id)
    group = session.get(Group, group_id)
    new = tier_for(group_tiers, spend)
    keeps_higher = not group.tier_window_months and _rank(group_tiers, card.tier) > _rank(
        group_tiers, new
    )
    card.spend_fen = spend
    if new != card.tier and not keeps_higher:
        card.tier = new
        card.tier_since = now


def recompute(session: Session, customer: Customer, now: datetime) -> MemberCard:
    """After a paid order: the spend and the tier it reaches (issuing the card if the customer
    came from an import and has none)."""
    card = session.scalar(select(MemberCard).where(MemberCard.customer_id == customer.id))
    if card is None:
        return issue_card(session, customer, now)
    _apply(session, card, customer.group_id, spend_of(session, customer, clock.today(now)), now)
    return card


def recompute_group(session: Session, group_id: int, now: datetime) -> int:
    """Every card of the group, after its tiers or window changed (one aggregate query)."""
    group = session.get(Group, group_id)
    spends = dict(
        session.execute(
            _spend_query(group, clock.today(now)).where(
                Vehicle.customer_id.in_(select(Customer.id).where(Customer.group_id == group_id))
            )
        ).all()
    )
    cards = session.scalars(
        select(MemberCard).join(Customer).where(Customer.group_id == group_id)
    ).all()
    for card in cards:
        _apply(session, card, group_id, int(spends.get(card.customer_id, 0)), now)
    return len(cards)


@dataclass
class TierInput:
    code: str
    name: str
    threshold_yuan: str
    benefits: str  # one per line


def configure(
    session: Session,
    actor: Staff,
    entries: list[TierInput],
    window_months: str,
    now: datetime,
) -> list[MembershipTier]:
    """Save the group's tiers (name, threshold, benefits) and downgrade window, then recompute
    every card. Thresholds must rise from tier to tier; nothing is saved on any error."""
    access.require(actor, "membership.configure")
    current = {tier.code: tier for tier in tiers(session, actor.group_id)}
    try:
        window = int((window_months or "0").strip())
    except ValueError:
        raise ValidationError("降级周期必须是整数（月）", "window_months") from None
    if not 0 <= window <= MAX_WINDOW_MONTHS:
        raise ValidationError(f"降级周期须在0到{MAX_WINDOW_MONTHS}个月之间", "window_months")
    parsed = []
    for entry in entries:
        if entry.code not in current:
            raise ValidationError("没有这个会员等级", f"{entry.code}.name")
        name = (entry.name or "").strip()
        if not name or len(name) > 20:
            raise ValidationError("等级名称必填，最多20个字", f"{entry.code}.name")
        threshold = money.parse_yuan(entry.threshold_yuan, f"{entry.code}.threshold", positive=True)
        benefits = [line.strip() for line in (entry.benefits or "").splitlines() if line.strip()]
        parsed.append((entry.code, name, threshold, benefits))
    # Thresholds must rise in the programme's order, the edited ones against the rest.
    by_code = {code: tier.threshold_fen for code, tier in current.items()}
    by_code.update({code: threshold for code, _, threshold, _ in parsed})
    order = list(current)  # lowest tier first
    for lower, higher in zip(order, order[1:], strict=False):
        if by_code[higher] <= by_code[lower]:
            raise ValidationError("门槛必须高于下一级会员的门槛", f"{higher}.threshold")
    for code, name, threshold, benefits in parsed:
        tier = current[code]
        tier.name, tier.threshold_fen, tier.benefits = name, threshold, benefits
    session.get(Group, actor.group_id).tier_window_months = window
    session.flush()
    recompute_group(session, actor.group_id, now)
    session.commit()
    return tiers(session, actor.group_id)


def benefits_of(session: Session, card: MemberCard, group_id: int) -> tuple[str, list[str]]:
    """The card's tier name and its benefits, for the member page and the staff."""
    group_tiers = tiers(session, group_id)
    tier = next((t for t in group_tiers if t.code == card.tier), None)
    return (tier.name, list(tier.benefits)) if tier else (BASE_TIER_NAME, [])


@dataclass(frozen=True)
class CardView:
    card_no: str
    tier_name: str
    benefits: list[str]
    spend_fen: int
    next_tier_name: str  # "" at the top tier
    next_tier_gap_fen: int  # spend still needed for the next tier


def card_view(session: Session, customer: Customer) -> CardView | None:
    """What the customer sees of their card: tier, benefits, and how far the next tier is."""
    card = session.scalar(select(MemberCard).where(MemberCard.customer_id == customer.id))
    if card is None:
        return None
    group_tiers = tiers(session, customer.group_id)
    name, benefits = benefits_of(session, card, customer.group_id)
    held = _rank(group_tiers, card.tier)
    following = next(
        (
            tier
            for tier in group_tiers
            if tier.threshold_fen > card.spend_fen and _rank(group_tiers, tier.code) > held
        ),
        None,
    )
    return CardView(
        card_no=card.card_no,
        tier_name=name,
        benefits=benefits,
        spend_fen=card.spend_fen,
        next_tier_name=following.name if following else "",
        next_tier_gap_fen=following.threshold_fen - card.spend_fen if following else 0,
    )
