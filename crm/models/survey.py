"""Customer surveys (PRODUCT "Complaints and surveys"; issue 9 "Surveys"): the CS survey after
each service order (1–5) and the quarterly NPS survey (0–10), each sent as one outbox message
and answered once on the member pages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class SurveyKind(StrEnum):
    CS = "cs"  # customer satisfaction after a service order, 1–5
    NPS = "nps"  # net promoter score, quarterly, 0–10


SURVEY_KIND_LABELS = {
    SurveyKind.CS: "服务满意度",
    SurveyKind.NPS: "推荐意愿（NPS）",
}


class Survey(db.Model):
    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_store_period_kind", "store_id", "period", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The store that served the order (CS) or the customer's store (NPS): whose figure it is.
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    service_order_id: Mapped[int | None] = mapped_column(ForeignKey("service_orders.id"))
    # The Beijing quarter the survey belongs to, "2026Q4": NPS per quarter, CS by quarter.
    period: Mapped[str] = mapped_column(String(8))
    # "cs:<order>" or "nps:<customer>:<period>": queued twice, or by two schedulers, still one.
    dedupe_key: Mapped[str] = mapped_column(String(60), unique=True)
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    # The deadline counted from the message's planned send time; once the message is sent,
    # the deadline counts from its actual send time (crm.services.surveys.deadline).
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column()
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_task_id: Mapped[int | None] = mapped_column(ForeignKey("care_tasks.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)

    customer = relationship("Customer")
    store = relationship("Store")
    service_order = relationship("ServiceOrder")
    outbox_message = relationship("OutboxMessage")
    callback_task = relationship("CareTask")

    @property
    def kind_label(self) -> str:
        return SURVEY_KIND_LABELS[SurveyKind(self.kind)]
