"""The organisation: a group, its stores, teams and staff (PRODUCT "Organisation and access")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import EncryptedText, UTCDateTime


class Role(StrEnum):
    SALESPERSON = "salesperson"
    SERVICE_ADVISOR = "service_advisor"
    CARE_SPECIALIST = "care_specialist"
    SUPERVISOR = "supervisor"
    STORE_ADMIN = "store_admin"
    GROUP_ADMIN = "group_admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.SALESPERSON: "销售顾问",
    Role.SERVICE_ADVISOR: "服务顾问",
    Role.CARE_SPECIALIST: "客服专员",
    Role.SUPERVISOR: "销售主管",
    Role.STORE_ADMIN: "分店管理员",
    Role.GROUP_ADMIN: "总管理员",
}


class Group(db.Model):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Membership: 0 keeps a tier for good (cumulative spend); N > 0 counts only the spend of
    # the last N months, so a tier can drop (PRODUCT "Membership": downgrade configurable).
    tier_window_months: Mapped[int] = mapped_column(default=0, server_default="0")
    # Segment thresholds that differ from the defaults in crm.services.segments.
    segment_settings: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    # Care messages per customer per week at most (issue 8 "No harassment"; default 3).
    care_weekly_cap: Mapped[int] = mapped_column(default=3, server_default="3")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    stores: Mapped[list[Store]] = relationship(back_populates="group", order_by="Store.id")


class Store(db.Model):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    rescue_phone: Mapped[str] = mapped_column(String(20), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The workshop's booking calendar: hourly slots from opens to closes (local hours).
    booking_capacity: Mapped[int] = mapped_column(default=4, server_default="4")
    opens_hour: Mapped[int] = mapped_column(default=8, server_default="8")
    closes_hour: Mapped[int] = mapped_column(default=18, server_default="18")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    group: Mapped[Group] = relationship(back_populates="stores")
    teams: Mapped[list[Team]] = relationship(back_populates="store", order_by="Team.id")


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))

    store: Mapped[Store] = relationship(back_populates="teams")


class Staff(UserMixin, db.Model):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(EncryptedText)
    phone_index: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Bumped at log-out: every session cookie issued before it stops working (ASVS 3.3.1).
    session_epoch: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    store: Mapped[Store | None] = relationship()
    team: Mapped[Team | None] = relationship()

    def get_id(self) -> str:
        """Flask-Login's session id: the staff id and the log-out epoch it was issued in."""
        return f"{self.id}:{self.session_epoch}"

    @property
    def role_label(self) -> str:
        return Role(self.role).label

    @property
    def is_active(self) -> bool:  # flask-login: a left staff member is logged out at once
        return self.active
