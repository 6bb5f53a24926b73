"""A spreadsheet of leads being imported: checked first, written only when the user says so
(issue "Import")."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.extensions import db
from crm.models.types import EncryptedText, UTCDateTime


class ImportStatus(StrEnum):
    CHECKED = "checked"  # validated; nothing written yet
    IMPORTED = "imported"
    CANCELLED = "cancelled"


IMPORT_STATUS_LABELS = {
    ImportStatus.CHECKED: "已检查，待导入",
    ImportStatus.IMPORTED: "已导入",
    ImportStatus.CANCELLED: "已取消",
}


class ImportBatch(db.Model):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # What the rows are: "leads" or "service_orders".
    kind: Mapped[str] = mapped_column(String(20), default="leads", server_default="leads")
    filename: Mapped[str] = mapped_column(String(200))
    status: Mapped[ImportStatus] = mapped_column(String(10), default=ImportStatus.CHECKED)
    total_rows: Mapped[int] = mapped_column(default=0)
    good_rows: Mapped[int] = mapped_column(default=0)
    imported_rows: Mapped[int] = mapped_column(default=0)
    # [{"row": 7, "column": "手机", "reason": "手机号格式不正确"}, ...] - never the values.
    errors: Mapped[list] = mapped_column(JSON, default=list)
    # The uploaded file (base64), encrypted like all personal data; dropped once imported.
    # Deferred: only reading it back for the import needs it, and it can be megabytes.
    content: Mapped[str | None] = mapped_column(EncryptedText, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    store = relationship("Store")
    created_by = relationship("Staff")

    @property
    def status_label(self) -> str:
        return IMPORT_STATUS_LABELS[ImportStatus(self.status)]

    @property
    def bad_rows(self) -> int:
        return len({error["row"] for error in self.errors})
