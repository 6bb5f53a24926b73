"""What the care engine keeps besides the outbox (PRODUCT "The care calendar"; issue 8): staff
tasks from the calendar, customers' opt-outs, one-time subscription grants, the weather
warnings already seen, and the scheduler's leader lease."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class CareTaskKind(StrEnum):
    DELIVERY_CALL_3D = "delivery_3dc"  # 3 days after delivery: paperwork, usage, warning lights
    DELIVERY_VISIT_7D = "delivery_7dc"  # 7 days after delivery: return visit
    POST_SERVICE_CALL = "post_service_call"  # 7 days after a service
    REPAIR_CALLBACK = "repair_callback"  # 3 days after a repair: car OK? parts confirmed?
    BOOKING_CALL = "booking_call"  # the day after a maintenance/insurance/inspection message
    PHONE_INSTEAD = "phone_instead"  # the message could not go out (not following): call
    SEND_PERSONALLY = "send_personally"  # a greeting to send from the staff member's WeChat
    PRIVACY_REQUEST = "privacy_request"  # the customer asked for an export or deletion (PIPL)
    SURVEY_CALLBACK = "survey_callback"  # a CS survey scored 3 or less: call back
    NPS_DETRACTOR_CALLBACK = "nps_detractor"  # an NPS detractor (0–6): call back


CARE_TASK_LABELS = {
    CareTaskKind.DELIVERY_CALL_3D: "交车3日电访",
    CareTaskKind.DELIVERY_VISIT_7D: "交车7日回访",
    CareTaskKind.POST_SERVICE_CALL: "保养后7日回访",
    CareTaskKind.REPAIR_CALLBACK: "维修后3日回访",
    CareTaskKind.BOOKING_CALL: "次日电话邀约",
    CareTaskKind.PHONE_INSTEAD: "电话告知",
    CareTaskKind.SEND_PERSONALLY: "代发关怀",
    CareTaskKind.PRIVACY_REQUEST: "个人信息申请",
    CareTaskKind.SURVEY_CALLBACK: "满意度回访",
    CareTaskKind.NPS_DETRACTOR_CALLBACK: "NPS贬损回访",
}


class CareTask(db.Model):
    """A staff member's to-do from the care calendar, with a due time and an outcome."""

    __tablename__ = "care_tasks"
    __table_args__ = (Index("ix_care_tasks_staff_open", "staff_id", "done_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    kind: Mapped[str] = mapped_column(String(24))
    # (kind, occasion): planned twice, still one task.
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What to talk about, or the ready text to send personally.
    text: Mapped[str] = mapped_column(Text, default="")
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    outcome: Mapped[str] = mapped_column(String(200), default="", server_default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    customer = relationship("Customer")
    staff = relationship("Staff", foreign_keys=[staff_id])

    @property
    def kind_label(self) -> str:
        return CARE_TASK_LABELS[CareTaskKind(self.kind)]


class CareOptOut(db.Model):
    """The customer asked not to receive one kind of care; it is never sent to them."""

    __tablename__ = "care_opt_outs"
    __table_args__ = (UniqueConstraint("customer_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class SubscribeGrant(db.Model):
    """One-time subscriptions a customer granted for a kind: each send spends one."""

    __tablename__ = "subscribe_grants"
    __table_args__ = (UniqueConstraint("customer_id", "kind", "app"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    app: Mapped[str] = mapped_column(String(20))  # WeChatApp value
    remaining: Mapped[int] = mapped_column(default=0)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the last 43101
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class WeatherWarning(db.Model):
    """A QWeather warning already turned into messages (its id is QWeather's)."""

    __tablename__ = "weather_warnings"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    city: Mapped[str] = mapped_column(String(50), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # thunderstorm / typhoon / cold / heat
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    severity: Mapped[str] = mapped_column(String(20), default="")
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)


class LeaderLease(db.Model):
    """Who runs the scheduler (embedded mode's leader lock; Redis holds it in production)."""

    __tablename__ = "leader_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
