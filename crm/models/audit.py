"""The audit log (issue 10 "Console pages", issue 12 "PIPL"): who viewed, exported, erased or
changed which data, and when. Rows are only ever appended; nothing in the app updates or
deletes them.

The actor and the subject are stored as ids, never as names or phone numbers, so the log
itself holds no personal data and keeps its meaning after a customer's data is erased.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import UTCDateTime


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_customer_time", "customer_id", "occurred_at"),
        Index("ix_audit_events_store_time", "store_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, index=True)
    # "staff", "customer" or "system" (a job); the id names the staff member or customer.
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    actor_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    action: Mapped[str] = mapped_column(String(50), index=True)
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int | None]
    # The customer whose data was touched, and the store the event belongs to (for scoping).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)

    actor_staff = relationship("Staff", foreign_keys=[actor_staff_id])
