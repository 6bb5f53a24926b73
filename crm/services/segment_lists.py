"""What the console lists, counts and exports of the customer segments (PRODUCT "Segments").

The segments are computed daily by ``crm.services.segments``, whose docstring states the rules;
this module only reads the ``customer_segments`` rows. The rule for every list, count and
export: a staff member sees the rows of the customers ``access.scope`` lets them see, filtered
by store and by any of the five dimensions — car age 车龄, use 用途, value class 价值分类,
RFM and lost 流失 (no visit for one year). In all but lost, the value ``none`` 未分群 picks
the customers without a segment (no vehicle). A count tells how many customers a value would
list under the *other* filters. Only roles with "segment.export" export, and an export never
logs a row.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from crm import access, money
from crm.errors import ValidationError
from crm.models import VEHICLE_USAGE_LABELS, Customer, CustomerSegment, Staff, Store
from crm.services.segments import (
    HIGH_VALUE,
    LOST,
    OVER_FIVE,
    POTENTIAL,
    SLEEPING,
    TWO_TO_FIVE,
    WARRANTY,
)

log = logging.getLogger(__name__)

CAR_AGE_LABELS = {WARRANTY: "保修期内", TWO_TO_FIVE: "2–5年", OVER_FIVE: "5年以上"}
USAGE_LABELS = {str(usage): label for usage, label in VEHICLE_USAGE_LABELS.items()}
VALUE_CLASS_LABELS = {
    "A": "A类 忠诚客户",
    "B": "B类 机会客户",
    "C": "C类 边缘客户",
    "D": "D类 流失客户",
}
RFM_LABELS = {
    HIGH_VALUE: "高价值客户",
    POTENTIAL: "潜力客户",
    SLEEPING: "沉睡客户",
    LOST: "流失客户",
}
LOST_LABELS = {"yes": "已流失（一年未到店）", "no": "未流失"}
MAX_ID = 2**31 - 1  # the largest id a database integer holds
NONE = "none"  # the filter value for "no segment" (a customer without a vehicle)
NONE_LABEL = "未分群"


@dataclass(frozen=True)
class Dimension:
    name: str  # the filter's query argument
    title: str
    labels: dict[str, str]


DIMENSIONS = (
    Dimension("car_age", "车龄", CAR_AGE_LABELS),
    Dimension("usage", "用途", USAGE_LABELS),
    Dimension("value_class", "价值分类", VALUE_CLASS_LABELS),
    Dimension("rfm", "RFM", RFM_LABELS),
    Dimension("lost", "流失", LOST_LABELS),
)


@dataclass(frozen=True)
class SegmentFilters:
    store_id: int | None = None
    car_age: str = ""
    usage: str = ""
    value_class: str = ""
    rfm: str = ""
    lost: str = ""  # "yes" / "no" / ""

    def args(self) -> dict[str, str]:
        """The filters as query arguments (empty ones left out)."""
        chosen = {item.name: getattr(self, item.name) for item in fields(self)}
        chosen["store"] = str(chosen.pop("store_id") or "")
        return {name: value for name, value in chosen.items() if value}


def parse_filters(values: Mapping[str, str]) -> SegmentFilters:
    """Filters from query arguments; an unknown value raises ``ValidationError`` naming it."""
    store = (values.get("store") or "").strip()
    if store and not (store.isdecimal() and 0 < int(store) <= MAX_ID):
        raise ValidationError("请选择有效的分店", "store")
    chosen = {}
    for dimension in DIMENSIONS:
        value = (values.get(dimension.name) or "").strip()
        allowed = dimension.labels.keys() | ({NONE} if dimension.name != "lost" else set())
        if value and value not in allowed:
            raise ValidationError(f"请选择有效的{dimension.title}", dimension.name)
        chosen[dimension.name] = value
    return SegmentFilters(store_id=int(store) if store else None, **chosen)


def _column(name: str):
    return getattr(CustomerSegment, name)


def _conditions(filters: SegmentFilters, skip: str = "") -> list:
    conditions = []
    if filters.store_id:
        conditions.append(CustomerSegment.store_id == filters.store_id)
    for dimension in DIMENSIONS:
        value = getattr(filters, dimension.name)
        if not value or dimension.name == skip:
            continue
        if dimension.name == "lost":
            conditions.append(CustomerSegment.lost.is_(value == "yes"))
        else:
            conditions.append(_column(dimension.name) == ("" if value == NONE else value))
    return conditions


def segment_query(actor: Staff, filters: SegmentFilters) -> Select:
    """The segment rows the actor may see that match the filters, most recent visit first
    (never visited last), with each customer and store loaded."""
    query = access.scope(select(CustomerSegment), actor, CustomerSegment)
    return (
        query.where(*_conditions(filters))
        .options(joinedload(CustomerSegment.customer).joinedload(Customer.store))
        .order_by(
            CustomerSegment.last_visit_on.is_(None),
            CustomerSegment.last_visit_on.desc(),
            CustomerSegment.customer_id.desc(),
        )
    )


@dataclass(frozen=True)
class Count:
    value: str  # the filter value ("none" for no segment)
    label: str
    count: int


def counts(session: Session, actor: Staff, filters: SegmentFilters) -> dict[str, list[Count]]:
    """Per dimension, how many customers each value has under the *other* filters (what
    choosing it would list)."""
    result = {}
    for dimension in DIMENSIONS:
        column = _column(dimension.name)
        query = access.scope(
            select(column, func.count()).select_from(CustomerSegment), actor, CustomerSegment
        )
        rows = session.execute(
            query.where(*_conditions(filters, skip=dimension.name)).group_by(column)
        ).all()
        if dimension.name == "lost":
            found = {("yes" if value else "no"): number for value, number in rows}
        else:
            found = {(value or NONE): number for value, number in rows}
        listed = [Count(v, label, found.get(v, 0)) for v, label in dimension.labels.items()]
        if found.get(NONE):
            listed.append(Count(NONE, NONE_LABEL, found[NONE]))
        result[dimension.name] = listed
    return result


def computed_on(session: Session, actor: Staff) -> date | None:
    """The day the actor's segments were last computed (None: never)."""
    query = select(func.max(CustomerSegment.computed_on))
    return session.scalar(access.scope(query, actor, CustomerSegment))


def describe(segment: CustomerSegment | None) -> list[tuple[str, str]]:
    """A customer's segment as (title, label) pairs for a customer page; [] before the first
    computation."""
    if segment is None:
        return []
    return [
        ("车龄", CAR_AGE_LABELS.get(segment.car_age, NONE_LABEL)),
        ("用途", USAGE_LABELS.get(segment.usage, NONE_LABEL)),
        ("价值分类", VALUE_CLASS_LABELS.get(segment.value_class, NONE_LABEL)),
        ("RFM", RFM_LABELS.get(segment.rfm, NONE_LABEL)),
        ("流失", LOST_LABELS["yes" if segment.lost else "no"]),
        ("最近到店", segment.last_visit_on.isoformat() if segment.last_visit_on else "从未到店"),
        ("近12个月到店", f"{segment.visits_12m} 次"),
        ("近12个月消费", f"¥{segment.spend_12m_fen / money.FEN_PER_YUAN:,.2f}"),
    ]


EXPORT_HEADERS = (
    "客户编号",
    "姓名",
    "手机号",
    "分店",
    "车龄",
    "用途",
    "价值分类",
    "RFM",
    "流失",
    "最近到店",
    "近12个月到店次数",
    "近12个月消费（元）",
    "累计消费（元）",
    "计算日期",
)
EXPORT_COLUMNS = "ABCDEFGHIJKLMN"
EXPORT_WIDTHS = (10, 12, 15, 14, 10, 8, 14, 12, 18, 12, 10, 14, 14, 12)


def export(session: Session, actor: Staff, filters: SegmentFilters) -> tuple[bytes, int]:
    """The filtered segment list as an .xlsx, and the number of customers in it. Only roles
    with "segment.export". Rows stream from the database (``yield_per``) into openpyxl's
    write-only sheet, which keeps them on disk, not in memory. The file holds the customers'
    decrypted names and phones, so nothing of a row is ever logged."""
    access.require(actor, "segment.export")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("客户分群")
    sheet.freeze_panes = "A2"
    for column, width in zip(EXPORT_COLUMNS, EXPORT_WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    bold = Font(bold=True)
    header = []
    for title in EXPORT_HEADERS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in _export_rows(session, actor, filters):
        sheet.append(row)
        count += 1
    out = io.BytesIO()
    workbook.save(out)
    log.info("segment export by staff %s: %d customers", actor.id, count)
    return out.getvalue(), count


def _export_rows(session: Session, actor: Staff, filters: SegmentFilters) -> Iterator[list]:
    segment = CustomerSegment
    query = access.scope(
        select(
            segment.customer_id,
            Customer.name,
            Customer.phone,
            Store.name,
            segment.car_age,
            segment.usage,
            segment.value_class,
            segment.rfm,
            segment.lost,
            segment.last_visit_on,
            segment.visits_12m,
            segment.spend_12m_fen,
            segment.spend_total_fen,
            segment.computed_on,
        )
        .join(Customer, Customer.id == segment.customer_id)
        .join(Store, Store.id == segment.store_id),
        actor,
        CustomerSegment,
    )
    query = query.where(*_conditions(filters)).order_by(segment.customer_id)
    for row in session.execute(query.execution_options(yield_per=1000)):
        yield [
            row[0],
            row[1],
            _sheet_phone(row[2]),
            row[3],
            CAR_AGE_LABELS.get(row[4], ""),
            USAGE_LABELS.get(row[5], ""),
            VALUE_CLASS_LABELS.get(row[6], ""),
            RFM_LABELS.get(row[7], ""),
            "是" if row[8] else "否",
            row[9],
            row[10],
            Decimal(row[11]) / money.FEN_PER_YUAN,
            Decimal(row[12]) / money.FEN_PER_YUAN,
            row[13],
        ]


def _sheet_phone(e164: str) -> str:
    """A mainland mobile as staff dial it (13812345678); anything else as stored."""
    return e164[3:] if e164.startswith("+86") and len(e164) == 14 else e164
