"""Importing leads from an Excel file into a store's pool (PRODUCT "The customer pool": leads
come from imports; imported leads wait in the pool for the first salesperson who calls).

An import happens in two steps. ``check`` validates every row and keeps the file (encrypted)
on an ``ImportBatch`` with the report; nothing else is written. ``commit`` re-reads the file,
checks it again against the store as it is now, and writes the leads in one transaction:
all rows, or, when the user chose so, only the good ones. ``import_file`` does both for the
command line and the console's upload.

Each bad row is reported by Excel row number, column and reason; the reports never contain
the cell values, which are personal data.

Speed (the import issue: 50,000 rows within three times a bare Core insert of the same rows):
the file is streamed by ``crm.spreadsheets``, phones take the fast path of
``crm.phones.normalise``, duplicates are set look-ups against the store's phone index loaded
once, and on PostgreSQL the rows go in with COPY on the session's own connection.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, insert, select, text, update
from sqlalchemy.orm import Session, selectinload

from crm import access, crypto, phones, spreadsheets
from crm.errors import Conflict, ValidationError
from crm.models import (
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Customer,
    ImportBatch,
    ImportStatus,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    PurchaseTimeframe,
    Role,
    Staff,
    Store,
)
from crm.services import catalogue
from crm.services.identity import phone_index

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
_COLUMN_ORDER = {header: position for position, header in enumerate(HEADERS)}

NAME_MAX = 50
REFERRER_MAX = 50
NOTE_MAX = 500
MAX_FILE_BYTES = 20 * 1024 * 1024
PROGRESS_EVERY = 1000
CHECKING, IMPORTING = "检查", "导入"

TOO_LONG = "内容过长"
UNKNOWN_MODEL = "未知车型"
IN_STORE_AS_LEAD = "本店已有该手机号的线索"
IN_STORE_AS_CUSTOMER = "本店已有该手机号的客户"

_SOURCES = {label: source.value for source, label in LEAD_SOURCE_LABELS.items()}
_CLASSES = {label: lead_class.value for lead_class, label in LEAD_CLASS_LABELS.items()}
_TIMEFRAMES = {label: timeframe.value for timeframe, label in PURCHASE_TIMEFRAME_LABELS.items()}

# progress(done_rows, total_rows, phase), phase CHECKING or IMPORTING
Progress = Callable[[int, int, str], None]


class _Reporter:
    """Tells ``progress`` how far a phase got: every PROGRESS_EVERY rows, and once at the
    end (cheap enough for a Redis round trip each time)."""

    def __init__(self, progress: Progress | None, phase: str):
        self.progress, self.phase = progress, phase
        self.last: tuple[int, int] | None = None

    def row(self, done: int, total: int) -> None:
        if self.progress is not None and done % PROGRESS_EVERY == 0:
            self.last = (done, total)
            self.progress(done, total, self.phase)

    def finish(self, total: int) -> None:
        if self.progress is not None and self.last != (total, total):
            self.progress(total, total, self.phase)


# The columns an imported lead is written with, for COPY; every NOT NULL column is given
# (the ORM's defaults, spelled out), the nullable ones left out are NULL: no owner (the
# store's pool), no customer, never claimed, contacted, lost, woken or due.
_COPY_COLUMNS = (
    "store_id",
    "name",
    "phone",
    "phone_index",
    "lead_class",
    "status",
    "source",
    "model_of_interest",
    "trim_of_interest",
    "referrer",
    "note",
    "purchase_timeframe",
    "quoted",
    "class_reason",
    "lost_reason",
    "lost_note",
    "created_by_id",
    "created_at",
)


@dataclass(slots=True)
class _Line:
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


@dataclass
class _Report:
    total: int = 0
    errors: list[dict] = field(default_factory=list)
    good: list[_Line] = field(default_factory=list)


# --- reading and checking --------------------------------------------------------------------


def _header_columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for position, title in enumerate(header):
        columns.setdefault(title.strip(), position)
    missing = [title for title in REQUIRED_HEADERS if title not in columns]
    if missing:
        names = "、".join(f"“{title}”" for title in missing)
        raise ValidationError(f"表头缺少{names}列（请使用导入模板）", "file")
    return columns


def _read_lines(file_bytes: bytes, progress: Progress | None) -> list[_Line]:
    """Every non-empty data row, with the problems the file alone shows (the store's own
    state is checked by ``_against_store``)."""
    last_row = spreadsheets.declared_last_row(file_bytes)
    rows = spreadsheets.read_rows(file_bytes)
    header_row, header = next(((n, v) for n, v in rows if "".join(v).strip()), (0, None))
    if header is None:
        raise ValidationError("文件是空的：第一行应为表头（姓名、手机……）", "file")
    columns = _header_columns(header)
    expected = max((last_row or 0) - header_row, 0)
    width = max(columns.values()) + 1
    name_at, phone_at = columns[NAME], columns[PHONE]
    model_at, source_at = columns.get(MODEL), columns.get(SOURCE)
    class_at, timeframe_at = columns.get(LEAD_CLASS), columns.get(TIMEFRAME)
    referrer_at, note_at = columns.get(REFERRER), columns.get(NOTE)

    lines: list[_Line] = []
    first_row_of_phone: dict[str, int] = {}
    reporter = _Reporter(progress, CHECKING)
    normalise = phones.normalise
    index_of = phone_index
    seen = 0
    for row, values in rows:
        seen += 1
        reporter.row(seen, max(expected, seen))
        if not "".join(values).strip():
            continue  # completely empty rows are skipped silently
        if len(values) < width:
            values.extend([""] * (width - len(values)))
        problems: list[tuple[str, str]] = []

        name = values[name_at].strip()
        if not name:
            problems.append((NAME, "请填写姓名"))
        elif len(name) > NAME_MAX:
            problems.append((NAME, TOO_LONG))

        e164, index = "", ""
        try:
            e164 = normalise(values[phone_at], PHONE)
        except ValidationError as error:
            problems.append((PHONE, error.message))
        else:
            index = index_of(e164)
            first = first_row_of_phone.setdefault(e164, row)
            if first != row:
                problems.append((PHONE, f"文件内重复（与第{first}行）"))

        model = values[model_at].strip() if model_at is not None else ""

        label = values[source_at].strip() if source_at is not None else ""
        source = _SOURCES.get(label) if label else LeadSource.IMPORT.value
        if source is None:
            problems.append((SOURCE, "未知来源"))

        label = values[class_at].strip() if class_at is not None else ""
        lead_class = _CLASSES.get(label) if label else LeadClass.POTENTIAL.value
        if lead_class is None:
            problems.append((LEAD_CLASS, "未知线索级别"))

        label = values[timeframe_at].strip() if timeframe_at is not None else ""
        timeframe = _TIMEFRAMES.get(label) if label else ""
        if timeframe is None:
            problems.append((TIMEFRAME, "未知购车时间"))

        referrer = values[referrer_at].strip() if referrer_at is not None else ""
        if len(referrer) > REFERRER_MAX:
            problems.append((REFERRER, TOO_LONG))
        note = values[note_at].strip() if note_at is not None else ""
        if len(note) > NOTE_MAX:
            problems.append((NOTE, TOO_LONG))

        lines.append(
            _Line(
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
        )
    if not lines:
        raise ValidationError("文件中没有数据行（表头下面是空的）", "file")
    reporter.finish(len(lines))
    return lines


def _against_store(session: Session, store: Store, lines: list[_Line]) -> _Report:
    """Add what depends on the store as it is now: models on sale in its group, and phones
    it already has as a lead (any status) or a customer. Loads the store's phone indexes
    once and looks each row up in a set."""
    models = catalogue.active_model_names(session, store.group_id)
    lead_phones = set(session.scalars(select(Lead.phone_index).where(Lead.store_id == store.id)))
    customer_phones = set(
        session.scalars(select(Customer.phone_index).where(Customer.store_id == store.id))
    )
    report = _Report(total=len(lines))
    for line in lines:
        problems = list(line.problems)  # the lines may be checked again: leave them as read
        if line.model and line.model not in models:
            problems.append((MODEL, UNKNOWN_MODEL))
        if line.phone_index in lead_phones:
            problems.append((PHONE, IN_STORE_AS_LEAD))
        elif line.phone_index in customer_phones:
            problems.append((PHONE, IN_STORE_AS_CUSTOMER))
        if not problems:
            report.good.append(line)
            continue
        problems.sort(key=lambda problem: _COLUMN_ORDER[problem[0]])
        report.errors.extend(
            {"row": line.row, "column": column, "reason": reason} for column, reason in problems
        )
    return report


# --- the steps ---------------------------------------------------------------------------------


def _importable_store(session: Session, actor: Staff, store: Store | int | None) -> Store:
    store_id = store.id if isinstance(store, Store) else store
    if not store_id:
        raise ValidationError("请选择要导入的分店", "store")
    found = access.get_or_404(Store, store_id, actor, "lead.import")
    if not found.active:
        raise ValidationError(f"{found.name}已停用，不能导入线索", "store")
    return found


def _clean_upload(file_bytes: bytes | None, filename: str) -> tuple[bytes, str]:
    if not file_bytes:
        raise ValidationError("请选择要导入的 Excel 文件", "file")
    if len(file_bytes) > MAX_FILE_BYTES:
        raise ValidationError(f"文件不能超过 {MAX_FILE_BYTES // (1024 * 1024)} MB", "file")
    name = os.path.basename((filename or "").replace("\\", "/")).strip() or "导入.xlsx"
    return file_bytes, name[-200:]


def _record(batch: ImportBatch, report: _Report) -> None:
    batch.total_rows = report.total
    batch.good_rows = len(report.good)
    batch.errors = report.errors


def _check(
    session: Session,
    actor: Staff,
    store: Store | int | None,
    file_bytes: bytes,
    filename: str,
    now: datetime,
    progress: Progress | None,
) -> tuple[ImportBatch, list[_Line]]:
    target = _importable_store(session, actor, store)
    file_bytes, filename = _clean_upload(file_bytes, filename)
    lines = _read_lines(file_bytes, progress)
    report = _against_store(session, target, lines)
    batch = ImportBatch(
        store_id=target.id,
        created_by_id=actor.id,
        filename=filename,
        status=ImportStatus.CHECKED.value,
        imported_rows=0,
        content=base64.b64encode(file_bytes).decode("ascii"),
        created_at=now,
    )
    _record(batch, report)
    session.add(batch)
    session.commit()
    return batch, lines


def check(
    session: Session,
    actor: Staff,
    store: Store | int | None,
    file_bytes: bytes,
    filename: str,
    now: datetime,
    progress: Progress | None = None,
) -> ImportBatch:
    """Validate every row of the file for ``store`` (a Store or its id) and keep the file
    (encrypted) with the report on a new batch. Writes nothing else. A file that cannot be
    read at all (not an .xlsx, no header, required columns missing) raises ValidationError
    and keeps nothing."""
    batch, _lines = _check(session, actor, store, file_bytes, filename, now, progress)
    return batch


def _open_batch(session: Session, actor: Staff, batch_id: int) -> ImportBatch:
    batch = access.get_or_404(ImportBatch, batch_id, actor, "lead.import")
    if batch.status == ImportStatus.IMPORTED:
        raise Conflict("该文件已导入，不能重复导入", "batch")
    if batch.status == ImportStatus.CANCELLED:
        raise Conflict("该导入已取消，请重新上传文件", "batch")
    return batch


def commit(
    session: Session,
    actor: Staff,
    batch_id: int,
    now: datetime,
    good_rows_only: bool,
    progress: Progress | None = None,
) -> ImportBatch:
    """Write the leads of a checked batch into the store's pool, in one transaction.

    The kept file is read and checked again, since the store may have gained leads or
    customers, or stopped selling a model, since the check. With bad rows, nothing is
    written unless ``good_rows_only``; the batch's report is brought up to date either way.
    """
    batch = _open_batch(session, actor, batch_id)
    store = _importable_store(session, actor, batch.store_id)
    lines = _read_lines(base64.b64decode(batch.content or ""), progress)
    return _write(session, actor, batch, store, lines, now, good_rows_only, progress)


def _write(
    session: Session,
    actor: Staff,
    batch: ImportBatch,
    store: Store,
    lines: list[_Line],
    now: datetime,
    good_rows_only: bool,
    progress: Progress | None,
) -> ImportBatch:
    try:
        _serialise_imports_into(session, store)
        report = _against_store(session, store, lines)
        _record(batch, report)
        refusal = None
        if report.errors and not good_rows_only:
            refusal = ValidationError(
                f"有 {batch.bad_rows} 行错误，未导入；可选择仅导入正确的 {batch.good_rows} 行",
                "good_rows_only",
            )
        elif not report.good:
            refusal = ValidationError("没有可导入的正确行", "file")
        if refusal is not None:
            session.commit()  # the up-to-date report is kept; not one lead was written
            raise refusal
        # Claim the batch: of two concurrent commits, the second finds it no longer CHECKED.
        claimed = session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch.id, ImportBatch.status == ImportStatus.CHECKED)
            .values(status=ImportStatus.IMPORTED.value)
        )
        if claimed.rowcount != 1:
            raise Conflict("该文件已导入，不能重复导入", "batch")
        _insert_leads(session, store, report.good, actor.id, now, progress)
        batch.imported_rows = len(report.good)
        batch.finished_at = now
        batch.content = None  # the leads now hold the data; the file is not kept
        session.commit()
    except Exception:
        # All or nothing: a failure anywhere leaves no lead of this file behind.
        session.rollback()
        raise
    return batch


def _serialise_imports_into(session: Session, store: Store) -> None:
    """On PostgreSQL, one import into a store at a time, so that two files cannot both pass
    the duplicate check with the same phone. The lock ends with the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('crm.lead_import'), :store_id)"),
            {"store_id": store.id},
        )


def _insert_leads(
    session: Session,
    store: Store,
    lines: list[_Line],
    created_by_id: int | None,
    now: datetime,
    progress: Progress | None,
) -> None:
    total = len(lines)
    reporter = _Reporter(progress, IMPORTING)
    if session.get_bind().dialect.name == "postgresql":
        _copy_leads(session, store, lines, created_by_id, now, reporter)
    else:
        for start in range(0, total, PROGRESS_EVERY):
            chunk = lines[start : start + PROGRESS_EVERY]
            # Through the table, so the column types encrypt name and phone and store times
            # as the ORM does.
            session.execute(
                insert(Lead.__table__),
                [_orm_values(line, store, created_by_id, now) for line in chunk],
            )
            reporter.row(start + len(chunk), total)
    reporter.finish(total)


def _orm_values(line: _Line, store: Store, created_by_id: int | None, now: datetime) -> dict:
    return {
        "store_id": store.id,
        "owner_id": None,
        "customer_id": None,
        "name": line.name,
        "phone": line.phone,
        "phone_index": line.phone_index,
        "lead_class": line.lead_class,
        "status": LeadStatus.OPEN.value,
        "source": line.source,
        "model_of_interest": line.model,
        "trim_of_interest": "",
        "referrer": line.referrer,
        "note": line.note,
        "purchase_timeframe": line.timeframe,
        "quoted": False,
        "class_reason": "",
        "lost_reason": "",
        "lost_note": "",
        "created_by_id": created_by_id,
        "created_at": now,
    }


def _copy_leads(
    session: Session,
    store: Store,
    lines: list[_Line],
    created_by_id: int | None,
    now: datetime,
    reporter: _Reporter,
) -> None:
    """COPY through psycopg on the session's own connection, so the rows are part of the
    session's transaction. Values are what the ORM would write: name and phone encrypted as
    ``EncryptedText`` does, an aware UTC timestamp."""
    encrypt = crypto.cipher().encrypt
    open_status = LeadStatus.OPEN.value
    driver_connection = session.connection().connection.driver_connection
    statement = f"COPY leads ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for written, line in enumerate(lines, start=1):
            copy.write_row(
                (
                    store.id,
                    encrypt(line.name),
                    encrypt(line.phone),
                    line.phone_index,
                    line.lead_class,
                    open_status,
                    line.source,
                    line.model,
                    "",
                    line.referrer,
                    line.note,
                    line.timeframe,
                    False,
                    "",
                    "",
                    "",
                    created_by_id,
                    now,
                )
            )
            reporter.row(written, len(lines))


def import_file(
    session: Session,
    actor: Staff,
    store: Store | int | None,
    file_bytes: bytes,
    filename: str,
    now: datetime,
    *,
    dry_run: bool = False,
    good_rows_only: bool = False,
    progress: Progress | None = None,
) -> ImportBatch:
    """Check the file, then import it unless ``dry_run`` or it has bad rows (with
    ``good_rows_only``, the good rows are imported anyway). The batch tells what happened:
    IMPORTED, or still CHECKED with its report. The rows read by the check are checked
    against the store once more right before writing, without reading the file again."""
    batch, lines = _check(session, actor, store, file_bytes, filename, now, progress)
    if dry_run or batch.good_rows == 0 or (batch.errors and not good_rows_only):
        return batch
    target = _importable_store(session, actor, batch.store_id)
    try:
        return _write(session, actor, batch, target, lines, now, good_rows_only, progress)
    except ValidationError:
        # The store changed between the check and the write; the batch holds the new report.
        return batch


def cancel(session: Session, actor: Staff, batch_id: int, now: datetime) -> ImportBatch:
    """Give up a checked batch: nothing is imported and the kept file is dropped."""
    batch = _open_batch(session, actor, batch_id)
    batch.status = ImportStatus.CANCELLED.value
    batch.content = None
    batch.finished_at = now
    session.commit()
    return batch


# --- reading batches ---------------------------------------------------------------------------


def get_batch(session: Session, actor: Staff, batch_id: int) -> ImportBatch:
    return access.get_or_404(ImportBatch, batch_id, actor, "lead.import")


def recent_batches(actor: Staff) -> Select:
    """The batches of the stores the actor may import into, newest first."""
    access.require(actor, "lead.import")
    return (
        access.scope(select(ImportBatch), actor)
        .options(selectinload(ImportBatch.store), selectinload(ImportBatch.created_by))
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
    )


def importable_stores(session: Session, actor: Staff) -> list[Store]:
    """The active stores the actor may import into: the group admin's every store, a store
    admin's own."""
    access.require(actor, "lead.import")
    return list(
        session.scalars(
            access.scope(select(Store).where(Store.active.is_(True)), actor).order_by(Store.code)
        )
    )


def command_line_actor(session: Session, store_code: str | None) -> tuple[Staff, Store]:
    """Who the ``crm import`` command acts as, and into which store: the group's
    administrator, as ``org.bootstrap_staff`` does, with no staff record behind it (so the
    batch and the leads have no creator). ``store_code`` may be left out when the group has
    only one store."""
    if store_code:
        store = session.scalar(select(Store).where(func.lower(Store.code) == store_code.lower()))
        if store is None:
            raise ValidationError(f"分店 {store_code} 不存在", "store")
    else:
        stores = session.scalars(select(Store).order_by(Store.code)).all()
        if not stores:
            raise ValidationError("还没有分店，请先创建分店", "store")
        groups = {store.group_id for store in stores}
        if len(stores) > 1 or len(groups) > 1:
            codes = "、".join(store.code for store in stores)
            raise ValidationError(f"有多家分店，请用 --store 指定分店编码（{codes}）", "store")
        store = stores[0]
    actor = Staff(id=None, group_id=store.group_id, role=Role.GROUP_ADMIN.value, active=True)
    return actor, store


# --- the template ------------------------------------------------------------------------------


def template(session: Session, actor: Staff) -> bytes:
    """The downloadable template: the header row, one example row, and a sheet explaining
    each column with the values it accepts (the group's models on sale among them)."""
    access.require(actor, "lead.import")
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
    return spreadsheets.template_workbook(HEADERS, [example], notes=notes)


def row_errors_text(errors: list[dict]) -> Iterator[str]:
    """Each error as a line for people: ``第7行 手机：手机号格式不正确``."""
    for error in errors:
        yield f"第{error['row']}行 {error['column']}：{error['reason']}"
