"""Membership: tiers from cumulative spend and the member card (PRODUCT "Membership")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class MembershipTier(db.Model):
    """One tier of a group's programme; a customer holds the highest tier whose threshold
    their spend reaches."""

    __tablename__ = "membership_tiers"
    __table_args__ = (UniqueConstraint("group_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    code: Mapped[str] = mapped_column(String(10))  # silver / gold / diamond
    name: Mapped[str] = mapped_column(String(20))
    threshold_fen: Mapped[int] = mapped_column()
    benefits: Mapped[list] = mapped_column(JSON, default=list)


class MemberCard(db.Model):
    __tablename__ = "member_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    card_no: Mapped[str] = mapped_column(String(20), unique=True)
    # "" is the base membership below the first tier.
    tier: Mapped[str] = mapped_column(String(10), default="")
    spend_fen: Mapped[int] = mapped_column(default=0)  # the spend the tier was computed from
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    tier_since: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    customer = relationship("Customer", back_populates="member_card")
