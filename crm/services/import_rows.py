"""What every spreadsheet import shares row by row (the lead import, issue 7's service-order
import "like the lead import"): reading the sheet into one cleaned line per non-empty data row,
progress every thousand rows, the report of bad rows and its text, and the cells people type
(dates, whole numbers) that more than one kind of row reads.

A report names each bad row by its Excel row number, column and reason, never by the cell's
value: the values are personal data. Each kind of import (``crm.services.lead_rows``,
``crm.services.service_order_rows``) says how one row is read and checked; batches are in
``crm.services.imports``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from crm import spreadsheets
from crm.errors import ValidationError

PROGRESS_EVERY = 1000
CHECKING, IMPORTING = "检查", "导入"
TOO_LONG = "内容过长"

T = TypeVar("T")

# progress(done_rows, total_rows, phase), phase CHECKING or IMPORTING
Progress = Callable[[int, int, str], None]
# (column, reason) of one row
Problem = tuple[str, str]

# Excel counts days from 1899-12-30 (with its 1900 leap-year quirk already folded in);
# serials between these bounds are the years 1954 to 2119, anything else is not a date.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIALS = range(20000, 80000)
_DATE_SEPARATORS = str.maketrans({"/": "-", ".": "-", "年": "-", "月": "-", "日": ""})


class Reporter:
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


def each_reported(items: Sequence, progress: Progress | None) -> Iterator:
    """``items`` one by one, telling ``progress`` how far the writing (IMPORTING) got."""
    reporter = Reporter(progress, IMPORTING)
    for done, item in enumerate(items, start=1):
        yield item
        reporter.row(done, len(items))
    reporter.finish(len(items))


@dataclass
class Report:
    """The outcome of checking every line: the bad rows' problems, and what may be written
    (``good``: whatever the kind of import writes for a good line)."""

    total: int = 0
    errors: list[dict] = field(default_factory=list)
    good: list = field(default_factory=list)

    def add(
        self, row: int, problems: list[Problem], column_order: Mapping[str, int], good: Any
    ) -> None:
        """Count one line: ``good`` when it has no problem, else its problems in the order
        of the template's columns."""
        if not problems:
            self.good.append(good)
            return
        problems.sort(key=lambda problem: column_order[problem[0]])
        self.errors.extend(
            {"row": row, "column": column, "reason": reason} for column, reason in problems
        )


def column_order(headers: Sequence[str]) -> dict[str, int]:
    return {header: position for position, header in enumerate(headers)}


def header_columns(header: list[str], required: Sequence[str]) -> dict[str, int]:
    """Where each titled column is (the first of repeated titles); every required one must be
    there."""
    columns: dict[str, int] = {}
    for position, title in enumerate(header):
        columns.setdefault(title.strip(), position)
    missing = [title for title in required if title not in columns]
    if missing:
        names = "、".join(f"“{title}”" for title in missing)
        raise ValidationError(f"表头缺少{names}列（请使用导入模板）", "file")
    return columns


def read_sheet(
    file_bytes: bytes,
    required: Sequence[str],
    progress: Progress | None,
    line_reader: Callable[[dict[str, int]], Callable[[int, list[str]], T]],
) -> list[T]:
    """One line per non-empty data row of the first sheet, as ``line_reader(columns)`` reads
    ``(excel_row, cells)``; the cells are padded to the header's width. Completely empty rows
    are skipped silently. A file without a header, without a required column or without a
    data row raises ValidationError on "file"."""
    last_row = spreadsheets.declared_last_row(file_bytes)
    rows = spreadsheets.read_rows(file_bytes)
    header_row, header = next(((n, v) for n, v in rows if "".join(v).strip()), (0, None))
    if header is None:
        raise ValidationError(f"文件是空的：第一行应为表头（{'、'.join(required)}……）", "file")
    columns = header_columns(header, required)
    read_line = line_reader(columns)
    expected = max((last_row or 0) - header_row, 0)
    width = max(columns.values()) + 1
    lines: list[T] = []
    reporter = Reporter(progress, CHECKING)
    seen = 0
    for row, values in rows:
        seen += 1
        reporter.row(seen, max(expected, seen))
        if not "".join(values).strip():
            continue
        if len(values) < width:
            values.extend([""] * (width - len(values)))
        lines.append(read_line(row, values))
    if not lines:
        raise ValidationError("文件中没有数据行（表头下面是空的）", "file")
    reporter.finish(len(lines))
    return lines


def cell_date(text: str) -> date | None:
    """A date as a spreadsheet holds it: typed text (2025-03-01, 2025/3/1, 2025.03.01,
    20250301, 2025年3月1日, with or without a time after it) or a date cell, which the reader
    sees as Excel's day number (45717, with a fraction for the time). ``None`` when it is
    not a date."""
    text = text.strip().split(" ")[0].split("T")[0]
    if text.isdigit() and len(text) == 8:
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    else:
        serial = _decimal(text)
        if serial is not None:
            return _EXCEL_EPOCH + timedelta(days=int(serial)) if int(serial) in _SERIALS else None
    parts = text.translate(_DATE_SEPARATORS).split("-")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def _decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def whole_number(text: str) -> int | None:
    """A non-negative whole number as typed (12345, 12,345, 12345.0); ``None`` otherwise."""
    number = _decimal(text.replace(",", "").replace("，", "").strip())
    if number is None or number != number.to_integral_value() or number < 0:
        return None
    return int(number)


def chunks(items: Iterable[T], size: int = 1000) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, for ``IN (...)`` look-ups of a whole file."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def row_errors_text(errors: list[dict]) -> Iterator[str]:
    """Each error as a line for people: ``第7行 手机：手机号格式不正确``."""
    for error in errors:
        yield f"第{error['row']}行 {error['column']}：{error['reason']}"
