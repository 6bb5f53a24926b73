"""The rows of a lead import's spreadsheet (PRODUCT "The customer pool": leads come from
imports; imported leads wait in the pool for the first salesperson who calls).

Here are the template's columns and limits, the downloadable template itself, reading the
file into ``Line``s with the problems the file alone shows (name, phone, model, source, class,
purchase timeframe, lengths, phones repeated in the file), and checking those lines against
the store as it is now (models on sale, phones it already has) into a ``Report``. Batches are
in ``crm.services.lead_import``; writing the leads is in ``crm.services.lead_rows_writer``.

Each bad row is reported by Excel row number, column and reason; the reports never contain
the cell values, which are personal data.

Speed: the file is streamed by ``crm.spreadsheets``, phones take the fast path of
``crm.phones.normalise``, and duplicates are set look-ups against the store's phone index
loaded once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import phones, spreadsheets
from crm.errors import ValidationError
from crm.models import (
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Customer,
    Lead,
    LeadClass,
    LeadSource,
    PurchaseTimeframe,
    Staff,
    Store,
)
from crm.services import catalogue, import_rows
from crm.services.identity import phone_index
from crm.services.import_rows import TOO_LONG, Progress, Report, row_errors_text

__all__ = ["HEADERS", "Line", "against_store", "read_lines", "row_errors_text", "template"]

# Columns of the template, in order; the file's header row may order them differently.
NAME, PHONE, MODEL, SOURCE, LEAD_CLASS, TIMEFRAME, REFERRER, NOTE = (
    "姓名",
    "手机",
    "意向车型",
    "来源",
    "线索级别",
    "购车时间",
    "转介绍人",
    "备注",
)
HEADERS = (NAME, PHONE, MODEL, SOURCE, LEAD_CLASS, TIMEFRAME, REFERRER, NOTE)
REQUIRED_HEADERS = (NAME, PHONE)
_COLUMN_ORDER = import_rows.column_order(HEADERS)

NAME_MAX = 50
REFERRER_MAX = 50
NOTE_MAX = 500

UNKNOWN_MODEL = "未知车型"
IN_STORE_AS_LEAD = "本店已有该手机号的线索"
IN_STORE_AS_CUSTOMER = "本店已有该手机号的客户"

_SOURCES = {label: source.value for source, label in LEAD_SOURCE_LABELS.items()}
_CLASSES = {label: lead_class.value for lead_class, label in LEAD_CLASS_LABELS.items()}
_TIMEFRAMES = {label: timeframe.value for timeframe, label in PURCHASE_TIMEFRAME_LABELS.items()}


@dataclass(slots=True)
class Line:
    """One non-empty data row of the file, cleaned; ``problems`` are (column, reason)."""

    row: int
    name: str
    phone: str  # E.164, "" when missing or invalid
    phone_index: str
    model: str
    source: str
    lead_class: str
    timeframe: str
    referrer: str
    note: str
    problems: list[tuple[str, str]]


# --- reading and checking --------------------------------------------------------------------


class _LineReader:
    """Reads one row into a ``Line`` with the problems the file alone shows, remembering the
    phones seen so far to report repeats."""

    def __init__(self, columns: dict[str, int]):
        self.name_at, self.phone_at = columns[NAME], columns[PHONE]
        self.model_at, self.source_at = columns.get(MODEL), columns.get(SOURCE)
        self.class_at, self.timeframe_at = columns.get(LEAD_CLASS), columns.get(TIMEFRAME)
        self.referrer_at, self.note_at = columns.get(REFERRER), columns.get(NOTE)
        self.first_row_of_phone: dict[str, int] = {}

    def __call__(self, row: int, values: list[str]) -> Line:
        problems: list[tuple[str, str]] = []

        name = values[self.name_at].strip()
        if not name:
            problems.append((NAME, "请填写姓名"))
        elif len(name) > NAME_MAX:
            problems.append((NAME, TOO_LONG))

        e164, index = "", ""
        try:
            e164 = phones.normalise(values[self.phone_at], PHONE)
        except ValidationError as error:
            problems.append((PHONE, error.message))
        else:
            index = phone_index(e164)
            first = self.first_row_of_phone.setdefault(e164, row)
            if first != row:
                problems.append((PHONE, f"文件内重复（与第{first}行）"))

        model = values[self.model_at].strip() if self.model_at is not None else ""

        label = values[self.source_at].strip() if self.source_at is not None else ""
        source = _SOURCES.get(label) if label else LeadSource.IMPORT.value
        if source is None:
            problems.append((SOURCE, "未知来源"))

        label = values[self.class_at].strip() if self.class_at is not None else ""
        lead_class = _CLASSES.get(label) if label else LeadClass.POTENTIAL.value
        if lead_class is None:
            problems.append((LEAD_CLASS, "未知线索级别"))

        label = values[self.timeframe_at].strip() if self.timeframe_at is not None else ""
        timeframe = _TIMEFRAMES.get(label) if label else ""
        if timeframe is None:
            problems.append((TIMEFRAME, "未知购车时间"))

        referrer = values[self.referrer_at].strip() if self.referrer_at is not None else ""
        if len(referrer) > REFERRER_MAX:
            problems.append((REFERRER, TOO_LONG))
        note = values[self.note_at].strip() if self.note_at is not None else ""
        if len(note) > NOTE_MAX:
            problems.append((NOTE, TOO_LONG))

        return Line(
            row,
            name,
            e164,
            index,
            model,
            source or "",
            lead_class or "",
            timeframe or "",
            referrer,
            note,
            problems,
        )


def read_lines(file_bytes: bytes, progress: Progress | None) -> list[Line]:
    """Every non-empty data row, with the problems the file alone shows (the store's own
    state is checked by ``against_store``)."""
    return import_rows.read_sheet(file_bytes, REQUIRED_HEADERS, progress, _LineReader)


def against_store(session: Session, store: Store, lines: list[Line]) -> Report:
    """Add what depends on the store as it is now: models on sale in its group, and phones
    it already has as a lead (any status) or a customer. Loads the store's phone indexes
    once and looks each row up in a set."""
    models = catalogue.active_model_names(session, store.group_id)
    lead_phones = set(session.scalars(select(Lead.phone_index).where(Lead.store_id == store.id)))
    customer_phones = set(
        session.scalars(select(Customer.phone_index).where(Customer.store_id == store.id))
    )
    report = Report(total=len(lines))
    for line in lines:
        problems = list(line.problems)  # the lines may be checked again: leave them as read
        if line.model and line.model not in models:
            problems.append((MODEL, UNKNOWN_MODEL))
        if line.phone_index in lead_phones:
            problems.append((PHONE, IN_STORE_AS_LEAD))
        elif line.phone_index in customer_phones:
            problems.append((PHONE, IN_STORE_AS_CUSTOMER))
        report.add(line.row, problems, _COLUMN_ORDER, line)
    return report


# --- the template ------------------------------------------------------------------------------


def template(session: Session, actor: Staff) -> bytes:
    """The downloadable template: the header row, one example row, and a sheet explaining
    each column with the values it accepts (the group's models on sale among them)."""
    models = sorted(catalogue.active_model_names(session, actor.group_id))
    example = (
        "张三（示例，导入前请删除本行）",
        "13812345678",
        models[0] if models else "",
        LEAD_SOURCE_LABELS[LeadSource.AUTO_SHOW],
        LEAD_CLASS_LABELS[LeadClass.INTENT],
        PURCHASE_TIMEFRAME_LABELS[PurchaseTimeframe.WITHIN_QUARTER],
        "",
        "周末方便到店",
    )
    notes = (
        (NAME, f"必填，不超过{NAME_MAX}个字"),
        (PHONE, "必填，11位手机号；同一文件内、与本店已有线索或客户不能重复"),
        (MODEL, "选填，须为在售车型：" + ("、".join(models) or "（请先在“车型”中添加）")),
        (SOURCE, "选填，不填为“导入”；可填：" + "、".join(_SOURCES)),
        (LEAD_CLASS, "选填，不填为“潜在”；可填：" + "、".join(_CLASSES)),
        (TIMEFRAME, "选填；可填：" + "、".join(_TIMEFRAMES)),
        (REFERRER, f"选填，不超过{REFERRER_MAX}个字"),
        (NOTE, f"选填，不超过{NOTE_MAX}个字"),
    )
    return spreadsheets.template_workbook(HEADERS, [example], notes=notes, title="线索")
