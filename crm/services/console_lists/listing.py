"""What every console list shares (issue 10 "Console pages"): a whitelisted sort, filters
that name the bad field, a scoped query the page paginates (50 rows a page, with the total),
and the Excel export of the whole filtered list.

Rules
-----
- A list shows only what ``crm.access.scope`` lets the actor see; the filters narrow that.
- Sorting is by one of the list's own columns (``ListSpec.sorts``), ascending or descending,
  the id breaking ties; anything else in the address falls back to the list's default order.
- A bad filter value is a ``ValidationError`` naming the filter; the page then shows the
  unfiltered list with the error beside the field.
- Exports ("list.export_pii": the store and group admins, who may take personal data off the
  system) hold every row of the current filter, the phone numbers included, up to
  ``EXPORT_LIMIT`` rows; a larger export is refused with the count, so that nobody takes a
  truncated file for the whole list. Each export appends a "list.export" event to the audit
  log with the list's name, the filters and the row count, never a name or a phone.
- The page's query eager-loads what the page shows, so a page costs the same number of SQL
  statements whatever its row count (issue 10 "Performance").
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm import access, clock
from crm.errors import ValidationError
from crm.models import Staff, Store
from crm.services import audit

PER_PAGE = 50
EXPORT_LIMIT = 50_000
EXPORT_PERMISSION = "list.export_pii"
EXPORT_ACTION = "list.export"
MAX_ID = 2**31 - 1
# Filters whose value may be personal data (a typed phone or name): the audit log only says
# that a search was made.
SEARCH_FIELDS = frozenset({"q"})


@dataclass(frozen=True)
class Sheet:
    """What an export is called and holds: its name in the audit log, the file's title and
    its header row."""

    name: str
    title: str
    headers: tuple[str, ...]


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    def args(self) -> dict[str, str]:
        return {"sort": self.key, "order": "desc" if self.descending else "asc"}


@dataclass(frozen=True)
class ListSpec:
    """One console list."""

    name: str  # its address under /console/ and its name in the audit log
    title: str
    sorts: Mapping[str, ColumnElement]  # sort key -> SQL expression
    default_sort: Sort
    id_column: ColumnElement  # breaks ties; counted for the export
    parse_filters: Callable[[Mapping[str, str]], Any]
    # (session, actor, filters) -> select(Entity) scoped and filtered, unordered
    base_query: Callable[[Session, Staff, Any], Select]
    page_options: tuple  # loader options for what the page shows
    # (session, actor) -> the choices the filter form offers
    choices: Callable[[Session, Staff], dict]
    export_headers: tuple[str, ...]
    export_query: Callable[[Select], Select]  # base -> a select of plain columns
    export_row: Callable[[Any], list]


@dataclass
class Listing:
    """A list as the page shows it: ``query`` is ready to paginate."""

    spec: ListSpec
    filters: Any
    sort: Sort
    query: Select
    choices: dict
    may_export: bool
    errors: dict[str, str] = field(default_factory=dict)


def open_list(session: Session, actor: Staff, spec: ListSpec, values: Mapping[str, str]) -> Listing:
    """The actor's view of ``spec`` under the filters and sort in ``values`` (issue 10
    "Console pages"). A bad filter shows the unfiltered list, with the error."""
    errors: dict[str, str] = {}
    sort = parse_sort(spec, values)
    try:
        filters = spec.parse_filters(values)
        base = spec.base_query(session, actor, filters)
    except ValidationError as error:
        errors[error.field or "q"] = error.message
        filters = spec.parse_filters({})
        base = spec.base_query(session, actor, filters)
    return Listing(
        spec=spec,
        filters=filters,
        sort=sort,
        query=ordered(spec, base.options(*spec.page_options), sort),
        choices=spec.choices(session, actor),
        may_export=access.allowed(actor, EXPORT_PERMISSION),
        errors=errors,
    )


def parse_sort(spec: ListSpec, values: Mapping[str, str]) -> Sort:
    """The requested sort if the list offers it, else the list's default."""
    key = (values.get("sort") or "").strip()
    if key not in spec.sorts:
        return spec.default_sort
    order = (values.get("order") or "").strip()
    return Sort(key, order != "asc")


def ordered(spec: ListSpec, query: Select, sort: Sort) -> Select:
    column = spec.sorts[sort.key]
    primary = column.desc() if sort.descending else column.asc()
    tiebreak = spec.id_column.desc() if sort.descending else spec.id_column.asc()
    return query.order_by(primary, tiebreak)


def export(
    session: Session,
    actor: Staff,
    spec: ListSpec,
    values: Mapping[str, str],
    now: datetime,
    limit: int = EXPORT_LIMIT,
) -> tuple[bytes, int]:
    """The whole filtered list as an .xlsx and its row count, logged as "list.export" (issue
    10: "Excel export of any list, only for roles allowed to export PII; exports are
    logged"). Over ``limit`` rows nothing is exported and the error says how many there are.
    """
    access.require(actor, EXPORT_PERMISSION)
    filters = spec.parse_filters(values)
    base = spec.base_query(session, actor, filters)
    return export_rows(
        session,
        actor,
        Sheet(spec.name, spec.title, spec.export_headers),
        ordered(spec, spec.export_query(base), parse_sort(spec, values)),
        spec.export_row,
        logged_filters(filters),
        now,
        limit,
    )


def export_rows(
    session: Session,
    actor: Staff,
    sheet: Sheet,
    query: Select,
    row: Callable[[Any], list],
    filters: Mapping[str, Any],
    now: datetime,
    limit: int = EXPORT_LIMIT,
) -> tuple[bytes, int]:
    """Every row of ``query`` (already scoped, filtered and ordered) as an .xlsx, each result
    row turned into cells by ``row``; the rules of ``export`` (the role, the cap, the audit
    event naming the sheet and ``filters``). The lists that are not a ``ListSpec``
    (发送队列, complaints, staff ...) export through here."""
    access.require(actor, EXPORT_PERMISSION)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    _within_limit(total, limit)
    rows = (row(result) for result in session.execute(query.execution_options(yield_per=1000)))
    return _logged_workbook(session, actor, sheet, rows, filters, now)


def export_cells(
    session: Session,
    actor: Staff,
    sheet: Sheet,
    cells: Sequence[list],
    filters: Mapping[str, Any],
    now: datetime,
    limit: int = EXPORT_LIMIT,
) -> tuple[bytes, int]:
    """Rows already in memory (an import's error report) as an .xlsx, under the rules of
    ``export``."""
    access.require(actor, EXPORT_PERMISSION)
    _within_limit(len(cells), limit)
    return _logged_workbook(session, actor, sheet, cells, filters, now)


def _within_limit(total: int, limit: int) -> None:
    if total > limit:
        raise ValidationError(
            f"当前筛选共 {total:,} 行，超过单次导出上限 {limit:,} 行，请缩小筛选范围后再导出",
            "export",
        )


def _logged_workbook(session, actor, sheet: Sheet, rows, filters, now):
    content, count = workbook(sheet.title, sheet.headers, rows)
    audit.record(
        session,
        actor,
        EXPORT_ACTION,
        subject_type="list",
        subject_id=None,
        store_id=actor.store_id,
        detail={"list": sheet.name, "filters": dict(filters), "rows": count},
        now=now,
    )
    session.commit()
    return content, count


def workbook(title: str, headers: Iterable[str], rows: Iterable[list]) -> tuple[bytes, int]:
    """An .xlsx of one sheet: a bold, frozen header row, then ``rows``. openpyxl's write-only
    mode keeps the rows on disk, not in memory. Returns the file and the number of rows."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for text in headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in rows:
        sheet.append(row)
        count += 1
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), count


def logged_filters(filters: Any) -> dict[str, Any]:
    """The chosen filters (a dataclass) as the audit log keeps them: searches only as the kind
    of search, dates as ISO text."""
    chosen = {}
    for name, value in asdict(filters).items():
        if value is None or value == "" or value is False:
            continue
        if name in SEARCH_FIELDS:
            chosen["search"] = "phone" if str(value).lstrip("+").isdigit() else "text"
        else:
            chosen[name] = value.isoformat() if isinstance(value, date) else value
    return chosen


# --- parsing filter values ---------------------------------------------------------------


def record_id(values: Mapping[str, str], name: str, message: str) -> int | None:
    """A record id chosen in a filter; empty is None, anything else not an id an error."""
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isdecimal() and 0 < int(raw) <= MAX_ID):
        raise ValidationError(message, name)
    return int(raw)


def choice(values: Mapping[str, str], name: str, allowed: Iterable[str], message: str) -> str:
    raw = (values.get(name) or "").strip()
    if raw and raw not in set(allowed):
        raise ValidationError(message, name)
    return raw


def day(values: Mapping[str, str], name: str) -> date | None:
    raw = (values.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError("日期格式不正确，请重新选择", name) from None


def day_range(values: Mapping[str, str], start: str = "start", end: str = "end"):
    """A from–to pair of Beijing dates (either may be empty); from after to is an error."""
    first, last = day(values, start), day(values, end)
    if first and last and first > last:
        raise ValidationError("结束日期不能早于开始日期", end)
    return first, last


def instant_bounds(first: date | None, last: date | None) -> tuple[datetime | None, ...]:
    """Beijing dates as UTC instants: the start of ``first`` and the end of ``last``, so a
    lead created at 23:30 Beijing time on the last day is inside the range."""

    def start_of(day_: date) -> datetime:
        return datetime.combine(day_, time(), clock.BUSINESS_TZ).astimezone(UTC)

    return (
        start_of(first) if first else None,
        start_of(last + timedelta(days=1)) if last else None,
    )


def within(column: ColumnElement, first, last) -> list:
    """Conditions keeping ``column`` in [first, last] (dates) or [first, last) (instants)."""
    conditions = []
    if first is not None:
        conditions.append(column >= first)
    if last is not None:
        conditions.append(column < last if isinstance(last, datetime) else column <= last)
    return conditions


# --- filter choices ------------------------------------------------------------------------


def stores_in_scope(session: Session, actor: Staff) -> list[tuple[int, str]]:
    stores = session.scalars(access.scope(select(Store).order_by(Store.code), actor))
    return [(store.id, store.name) for store in stores]


def staff_in_scope(session: Session, actor: Staff, roles: Iterable[str]) -> list[tuple[int, str]]:
    query = access.scope(select(Staff).where(Staff.role.in_(list(roles))), actor)
    members = session.scalars(query.order_by(Staff.active.desc(), Staff.name))
    return [(m.id, m.name if m.active else f"{m.name}（已离职）") for m in members]


def excel_time(instant: datetime | None) -> datetime | None:
    """An instant as Excel shows it: the Beijing wall clock, without a zone (Excel has none)."""
    return clock.local(instant).replace(tzinfo=None) if instant else None


def national_phone(e164: str) -> str:
    """A mainland mobile as staff dial it (13812345678); anything else as stored."""
    return e164[3:] if e164.startswith("+86") and len(e164) == 14 else e164
