"""The rows of a service-order import's spreadsheet (issue 7 "After-sales": service orders
imported from the dealer management system by Excel like the lead import, with row-level
errors; PRODUCT "Records": work order no., date, work, parts, costs, mileage).

Here are the template's columns, the downloadable template, reading the file into
``OrderLine``s with the problems the file alone shows (each field by the rules of
``crm.services.service_orders``, VIN format, work order nos. repeated in the file), and
checking them against the store as it is now into a ``Report``: the vehicle is the store's,
the work order no. is new, the dates are not in the future, the advisor serves the store, and
the mileage fits the vehicle's history — also among the file's own rows for the same vehicle,
taken in date order (issue 7 "Bad input": a mileage lower than the last recorded one).

Each bad row is reported by Excel row number, column and reason, never with the cell values.
Batches are in ``crm.services.service_order_import``; the good rows are written by
``crm.services.service_orders.record_imported``.

Speed: what the store has (vehicles, work order nos., readings, advisors) is loaded once per
check, a thousand values per query, and each row is looked up in memory.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import clock, phones, spreadsheets, vin
from crm.errors import ValidationError
from crm.models import (
    SERVICE_KIND_LABELS,
    Customer,
    MileageReading,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Vehicle,
)
from crm.services import handover, import_rows, service_orders
from crm.services.identity import phone_index
from crm.services.import_rows import Problem, Progress, Report, chunks
from crm.services.service_orders import ImportedOrder

# Columns of the template, in order; the file's header row may order them differently.
(
    WORK_ORDER_NO,
    VIN,
    OPENED_ON,
    MILEAGE,
    KIND,
    WORK_ITEMS,
    PARTS,
    LABOUR,
    PARTS_COST,
    ADVISOR,
    PAID_ON,
) = HEADERS = (
    "工单号",
    "车架号",
    "日期",
    "里程",
    "类型",
    "维修项目",
    "配件",
    "工时费",
    "配件费",
    "服务顾问",
    "结算日期",
)
REQUIRED_HEADERS = (WORK_ORDER_NO, VIN, OPENED_ON, MILEAGE, KIND)
_COLUMN_ORDER = import_rows.column_order(HEADERS)
_DAY_COLUMNS = {"opened_on": OPENED_ON, "paid_on": PAID_ON}

NOT_IN_STORE = "本店没有该车架号的车辆"
UNKNOWN_ADVISOR = "本店没有该在职服务顾问"
SAME_NAME_ADVISORS = "本店有同名服务顾问，请填写手机号"
BELOW_HISTORY = "里程低于该车此前记录的里程"
ABOVE_LATER = "里程高于该车之后记录的里程"


@dataclass(slots=True)
class OrderLine:
    """One non-empty data row, cleaned; ``problems`` are (column, reason). A field with a
    problem holds its empty value."""

    row: int
    work_order_no: str
    vin: str
    opened_on: date | None
    mileage_km: int | None
    kind: str
    work_items: str
    parts: str
    labour_fen: int
    parts_fen: int
    advisor: str  # the name or phone typed, "" for the customer's own advisor
    paid_on: date | None
    problems: list[Problem]


# --- reading -----------------------------------------------------------------------------------


class _LineReader:
    """Reads one row into an ``OrderLine``, remembering the work order nos. seen so far."""

    def __init__(self, columns: dict[str, int]):
        self.at = {header: columns.get(header) for header in HEADERS}
        self.first_row_of_number: dict[str, int] = {}

    def __call__(self, row: int, values: list[str]) -> OrderLine:
        problems: list[Problem] = []
        cells = {
            header: values[at].strip() if at is not None else "" for header, at in self.at.items()
        }

        def field(column: str, parse, empty, **options):
            try:
                return parse(cells[column], column, **options)
            except ValidationError as error:
                problems.append((column, error.message))
                return empty

        number = field(WORK_ORDER_NO, service_orders.clean_work_order_no, "")
        if number:
            first = self.first_row_of_number.setdefault(number, row)
            if first != row:
                problems.append((WORK_ORDER_NO, f"文件内重复（与第{first}行）"))
        return OrderLine(
            row=row,
            work_order_no=number,
            vin=field(VIN, vin.normalise, ""),
            opened_on=field(OPENED_ON, service_orders.parse_day, None, required=True),
            mileage_km=field(MILEAGE, service_orders.parse_km, None),
            kind=field(KIND, service_orders.parse_kind, ""),
            work_items=field(WORK_ITEMS, service_orders.clean_text, ""),
            parts=field(PARTS, service_orders.clean_text, ""),
            labour_fen=field(LABOUR, service_orders.parse_money, 0),
            parts_fen=field(PARTS_COST, service_orders.parse_money, 0),
            advisor=cells[ADVISOR],
            paid_on=field(PAID_ON, service_orders.parse_day, None, required=False),
            problems=problems,
        )


def read_lines(file_bytes: bytes, progress: Progress | None) -> list[OrderLine]:
    """Every non-empty data row, with the problems the file alone shows (the store's own
    state is checked by ``against_store``)."""
    return import_rows.read_sheet(file_bytes, REQUIRED_HEADERS, progress, _LineReader)


# --- checking against the store ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Car:
    vehicle_id: int
    customer_advisor_id: int | None


class _Store:
    """What the store has that the file's rows are checked against, loaded once."""

    def __init__(self, session: Session, store: Store, lines: list[OrderLine]):
        vins = {line.vin for line in lines if line.vin}
        numbers = {line.work_order_no for line in lines if line.work_order_no}
        self.cars: dict[str, _Car] = {}
        for chunk in chunks(vins):
            rows = session.execute(
                select(Vehicle.vin, Vehicle.id, Customer.advisor_id)
                .join(Customer, Vehicle.customer_id == Customer.id)
                .where(Vehicle.vin.in_(chunk), Vehicle.store_id == store.id)
            )
            self.cars.update((number, _Car(car_id, advisor)) for number, car_id, advisor in rows)
        self.taken: set[str] = set()
        for chunk in chunks(numbers):
            self.taken.update(
                session.scalars(
                    select(ServiceOrder.work_order_no).where(ServiceOrder.work_order_no.in_(chunk))
                )
            )
        self.readings: dict[int, list[tuple[date, int]]] = defaultdict(list)
        for chunk in chunks(car.vehicle_id for car in self.cars.values()):
            rows = session.execute(
                select(MileageReading.vehicle_id, MileageReading.read_on, MileageReading.km).where(
                    MileageReading.vehicle_id.in_(chunk)
                )
            )
            for vehicle_id, read_on, km in rows:
                self.readings[vehicle_id].append((read_on, km))
        staff = handover.advisors_of_store(session, store.id)
        self.advisor_ids = {member.id for member in staff}
        self.by_phone = {member.phone_index: member.id for member in staff}
        self.by_name: dict[str, list[int]] = defaultdict(list)
        for member in staff:
            self.by_name[member.name].append(member.id)

    def advisor(self, typed: str, car: _Car | None) -> tuple[int | None, str | None]:
        """(advisor id, problem): the advisor named or with that phone; blank is the
        customer's own advisor while they serve the store, else none."""
        if not typed:
            default = car.customer_advisor_id if car is not None else None
            return (default if default in self.advisor_ids else None), None
        if typed.lstrip("+").replace(" ", "").replace("-", "").isdigit():
            try:
                found = self.by_phone.get(phone_index(phones.normalise(typed, ADVISOR)))
            except ValidationError:
                found = None
            return (found, None) if found else (None, UNKNOWN_ADVISOR)
        named = self.by_name.get(typed, [])
        if len(named) > 1:
            return None, SAME_NAME_ADVISORS
        return (named[0], None) if named else (None, UNKNOWN_ADVISOR)

    def mileage_problems(self, fitting: list[tuple[OrderLine, _Car]]) -> dict[int, str]:
        """Row -> reason, for the rows whose mileage does not fit the vehicle's history: the
        rule of ``mileage.check_reading`` (not below a reading on or before the day, not above
        a later one), where the history also holds the file's earlier rows that fit."""
        problems: dict[int, str] = {}
        by_vehicle: dict[int, list[OrderLine]] = defaultdict(list)
        for line, car in fitting:
            by_vehicle[car.vehicle_id].append(line)
        for vehicle_id, lines in by_vehicle.items():
            history = self.readings.get(vehicle_id, [])
            last_row, last_km = 0, 0
            for line in sorted(lines, key=lambda line: (line.opened_on, line.row)):
                day, km = line.opened_on, line.mileage_km
                before = max((k for on, k in history if on <= day), default=0)
                after = min((k for on, k in history if on > day), default=None)
                if km < before:
                    problems[line.row] = BELOW_HISTORY
                elif km < last_km:
                    problems[line.row] = f"里程低于同一车辆第{last_row}行（日期不晚于本行）的里程"
                elif after is not None and km > after:
                    problems[line.row] = ABOVE_LATER
                else:
                    last_row, last_km = line.row, km
        return problems


def against_store(session: Session, store: Store, lines: list[OrderLine], now: datetime) -> Report:
    """Add what depends on the store as it is now (see the module), in one pass over the
    lines after loading what the store has."""
    today = clock.today(now)
    known = _Store(session, store, lines)
    checked: list[tuple[OrderLine, list[Problem], _Car | None, int | None]] = []
    for line in lines:
        problems = list(line.problems)  # the lines may be checked again: leave them as read
        car = known.cars.get(line.vin) if line.vin else None
        if line.vin and car is None:
            problems.append((VIN, NOT_IN_STORE))
        if line.work_order_no in known.taken:
            problems.append((WORK_ORDER_NO, service_orders.WORK_ORDER_TAKEN))
        if line.opened_on is not None:
            wrong_day = service_orders.day_problem(line.opened_on, line.paid_on, today)
            if wrong_day is not None:
                problems.append((_DAY_COLUMNS[wrong_day[0]], wrong_day[1]))
        advisor_id, advisor_problem = known.advisor(line.advisor, car)
        if advisor_problem:
            problems.append((ADVISOR, advisor_problem))
        checked.append((line, problems, car, advisor_id))
    misfits = known.mileage_problems(
        [(line, car) for line, problems, car, _ in checked if not problems]
    )
    report = Report(total=len(lines))
    for line, problems, car, advisor_id in checked:
        if line.row in misfits:
            problems.append((MILEAGE, misfits[line.row]))
        report.add(line.row, problems, _COLUMN_ORDER, _order(line, car, advisor_id))
    return report


def _order(line: OrderLine, car: _Car | None, advisor_id: int | None) -> ImportedOrder | None:
    if car is None or line.opened_on is None or line.mileage_km is None:
        return None  # a bad row: never written
    return ImportedOrder(
        row=line.row,
        vehicle_id=car.vehicle_id,
        advisor_id=advisor_id,
        work_order_no=line.work_order_no,
        kind=line.kind,
        opened_on=line.opened_on,
        mileage_km=line.mileage_km,
        work_items=line.work_items,
        parts=line.parts,
        labour_fen=line.labour_fen,
        parts_fen=line.parts_fen,
        paid_on=line.paid_on,
    )


# --- the template ------------------------------------------------------------------------------


def template(session: Session, actor: Staff) -> bytes:
    """The downloadable template: the header row, one example row, and a sheet explaining
    each column with the values it accepts."""
    kinds = "、".join(SERVICE_KIND_LABELS.values())
    example = (
        "WO20250301001",
        vin.with_check_digit("LVGBE40K0GP000001"),
        "2025-03-01",
        "12000",
        SERVICE_KIND_LABELS[ServiceKind.PERIODIC_MAINTENANCE],
        "更换机油、机滤（示例，导入前请删除本行）",
        "机油 4L；机油滤清器",
        "300",
        "450.50",
        "",
        "2025-03-01",
    )
    notes = (
        (
            WORK_ORDER_NO,
            f"必填，不超过{service_orders.WORK_ORDER_MAX}个字符；同一文件内、与已有工单不能重复",
        ),
        (VIN, "必填，17位车架号，须为本店已建档的车辆"),
        (OPENED_ON, "必填，工单日期，例如 2025-03-01；不能晚于今天"),
        (
            MILEAGE,
            "必填，进店里程（公里，整数）；不能低于该车此前记录的里程（同一车辆的多行按日期先后检查）",
        ),
        (KIND, f"必填；可填：{kinds}"),
        (WORK_ITEMS, f"选填，不超过{service_orders.TEXT_MAX}个字"),
        (PARTS, f"选填，不超过{service_orders.TEXT_MAX}个字"),
        (LABOUR, "选填，元，不填为0；不能为负数"),
        (PARTS_COST, "选填，元，不填为0；不能为负数"),
        (ADVISOR, "选填，本店在职服务顾问的姓名或手机号；不填为客户的专属服务顾问"),
        (PAID_ON, "选填，已结算的填结算日期（计入会员累计消费）；不填为未结算"),
    )
    return spreadsheets.template_workbook(HEADERS, [example], notes=notes, title="工单")
