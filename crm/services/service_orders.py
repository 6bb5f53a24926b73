"""After-sales service orders (PRODUCT "Records": repair — work order no., date, work, parts,
costs, mileage; issue 7 "After-sales": service orders with work order no., date, mileage, kind,
work items, parts, labour and parts cost in fen, advisor).

The rules, for an order recorded by an advisor (``record``) and for the rows of an Excel
import from the dealer management system (``record_imported``) alike:

- The work order no. is required and unique.
- The kind is one of ``ServiceKind``; the date is required and not in the future.
- The mileage fits the vehicle's history (issue 7 "Bad input": a mileage lower than the last
  recorded one is refused; ``crm.services.mileage.check_reading``), and each order adds its
  reading to the history (issue 7: "each order updates the vehicle's mileage history").
- Labour and parts cost are typed in yuan and kept in fen (ARCHITECTURE rule 4); negative
  money is refused (issue 7 "Bad input").
- The advisor is an active service advisor of the vehicle's store.
- After the order the vehicle's next service is planned again (``maintenance_plan.replan``),
  and a paid order recomputes the customer's member tier (issue 7: "Tier recomputed on each
  paid order"; PRODUCT "Membership").

Bad input raises ValidationError (Conflict for a work order no. already taken) naming the
field, and changes nothing (ARCHITECTURE rule 5): an order is written with its reading, plan
and tier, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crm import access, clock, money
from crm.errors import Conflict, ValidationError
from crm.models import (
    SERVICE_KIND_LABELS,
    Customer,
    ImportBatch,
    MileageReading,
    MileageSource,
    Role,
    ServiceKind,
    ServiceOrder,
    Staff,
    Store,
    Vehicle,
)
from crm.services import maintenance_plan, membership, mileage
from crm.services.import_rows import Progress, cell_date, chunks, each_reported, whole_number

WORK_ORDER_MAX = 30
TEXT_MAX = 2000
MAX_KM = 2_000_000  # more is a typing mistake
WORK_ORDER_TAKEN = "工单号已存在"

_KINDS = {
    **{kind.value: kind.value for kind in ServiceKind},
    **{label: kind.value for kind, label in SERVICE_KIND_LABELS.items()},
}


# --- one field at a time (shared with the import's rows) ----------------------------------------


def clean_work_order_no(raw: str | None, field: str = "work_order_no") -> str:
    """The work order no. as the dealer management system prints it: required, at most
    WORK_ORDER_MAX characters, no spaces inside."""
    number = (raw or "").strip()
    if not number:
        raise ValidationError("请填写工单号", field)
    if len(number) > WORK_ORDER_MAX:
        raise ValidationError(f"工单号不能超过{WORK_ORDER_MAX}个字符", field)
    if any(character.isspace() for character in number):
        raise ValidationError("工单号不能包含空格", field)
    return number


def parse_kind(raw: str | None, field: str = "kind") -> str:
    """A ``ServiceKind`` value, from the value or its Chinese label (首保, 定期保养, ...)."""
    kind = _KINDS.get((raw or "").strip())
    if kind is None:
        raise ValidationError("请选择工单类型：" + "、".join(SERVICE_KIND_LABELS.values()), field)
    return kind


def parse_day(value: date | str | None, field: str, *, required: bool) -> date | None:
    """A date as typed or picked; blank is None unless ``required``."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not text:
        if required:
            raise ValidationError("请填写日期", field)
        return None
    day = cell_date(text)
    if day is None:
        raise ValidationError("日期格式不正确（例如 2025-03-01）", field)
    return day


def parse_km(value: int | str | None, field: str = "mileage_km") -> int:
    """The odometer reading in whole kilometres."""
    if isinstance(value, int):
        km = value
    else:
        text = (value or "").strip()
        if not text:
            raise ValidationError("请填写里程（公里）", field)
        if text.startswith("-") and whole_number(text[1:]) is not None:
            raise ValidationError("里程不能为负数", field)
        km = whole_number(text)
        if km is None:
            raise ValidationError("里程必须是整数（公里）", field)
    if km < 0:
        raise ValidationError("里程不能为负数", field)
    if km > MAX_KM:
        raise ValidationError("里程过大，请检查", field)
    return km


def parse_money(raw: str | None, field: str) -> int:
    """Fen from yuan as typed; blank is ¥0 (warranty work), negative is refused."""
    return money.parse_yuan(raw, field) if (raw or "").strip() else 0


def clean_text(raw: str | None, field: str) -> str:
    text = (raw or "").strip()
    if len(text) > TEXT_MAX:
        raise ValidationError(f"不能超过{TEXT_MAX}个字", field)
    return text


def day_problem(opened_on: date, paid_on: date | None, today: date) -> tuple[str, str] | None:
    """(which date, why) when the order's dates cannot be: "opened_on" in the future, or
    "paid_on" in the future or before the order was opened."""
    if opened_on > today:
        return "opened_on", "日期不能晚于今天"
    if paid_on is not None and paid_on > today:
        return "paid_on", "结算日期不能晚于今天"
    if paid_on is not None and paid_on < opened_on:
        return "paid_on", "结算日期不能早于工单日期"
    return None


def serves(staff: Staff | None, store_id: int) -> bool:
    """An active service advisor of the store."""
    return (
        staff is not None
        and staff.active
        and staff.role == Role.SERVICE_ADVISOR
        and staff.store_id == store_id
    )


# --- recording an order ------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceOrderInput:
    """An order as the advisor types it: money in yuan, dates as picked (or typed)."""

    work_order_no: str
    kind: str  # a ServiceKind value or its label
    opened_on: date | str | None
    mileage_km: int | str | None
    work_items: str = ""
    parts: str = ""
    labour_yuan: str = ""
    parts_yuan: str = ""
    advisor_id: int | None = None  # default: the acting advisor, else the customer's
    paid_on: date | str | None = None  # None while the bill is open


def _advisor(session: Session, actor: Staff, vehicle: Vehicle, advisor_id: int | None) -> Staff:
    if advisor_id:
        chosen = session.get(Staff, advisor_id)
        if not serves(chosen, vehicle.store_id):
            raise ValidationError("请选择本店在职的服务顾问", "advisor_id")
        return chosen
    for candidate in (actor, vehicle.customer.advisor):
        if serves(candidate, vehicle.store_id):
            return candidate
    raise ValidationError("请选择服务顾问", "advisor_id")


def _validated(
    session: Session, actor: Staff, vehicle: Vehicle, data: ServiceOrderInput, today: date
) -> dict:
    """Every field checked, in the form's order; the values an order is written with."""
    number = clean_work_order_no(data.work_order_no)
    if session.scalar(select(ServiceOrder.id).where(ServiceOrder.work_order_no == number)):
        raise Conflict(WORK_ORDER_TAKEN, "work_order_no")
    kind = parse_kind(data.kind)
    opened_on = parse_day(data.opened_on, "opened_on", required=True)
    km = parse_km(data.mileage_km)
    paid_on = parse_day(data.paid_on, "paid_on", required=False)
    wrong_day = day_problem(opened_on, paid_on, today)
    if wrong_day is not None:
        raise ValidationError(wrong_day[1], wrong_day[0])
    mileage.check_reading(session, vehicle, km, opened_on)
    return {
        "work_order_no": number,
        "kind": kind,
        "opened_on": opened_on,
        "mileage_km": km,
        "work_items": clean_text(data.work_items, "work_items"),
        "parts": clean_text(data.parts, "parts"),
        "labour_fen": parse_money(data.labour_yuan, "labour_yuan"),
        "parts_fen": parse_money(data.parts_yuan, "parts_yuan"),
        "advisor_id": _advisor(session, actor, vehicle, data.advisor_id).id,
        "paid_on": paid_on,
    }


def _follow_on(
    session: Session, vehicles: Iterable[Vehicle], paying: Iterable[Customer], now: datetime
) -> None:
    """What new orders set off: each vehicle's next service planned again from its history
    (issue 7), and the tier of each customer with a paid order recomputed (issue 7: "Tier
    recomputed on each paid order")."""
    for vehicle in vehicles:
        maintenance_plan.replan(session, vehicle)
    for customer in paying:
        membership.recompute(session, customer, now)


def record(
    session: Session, actor: Staff, vehicle_id: int, data: ServiceOrderInput, now: datetime
) -> ServiceOrder:
    """Record a service order on a vehicle the actor serves (a service advisor or the store
    admin): the order, its mileage reading, the vehicle's next service and, when paid, the
    customer's tier — all or nothing. Bad input raises naming the field (see the module)."""
    vehicle = access.get_or_404(Vehicle, vehicle_id, actor, "service_order.record")
    values = _validated(session, actor, vehicle, data, clock.today(now))
    try:
        order = ServiceOrder(
            vehicle_id=vehicle.id, store_id=vehicle.store_id, created_by_id=actor.id, **values
        )
        session.add(order)
        session.flush()
        mileage.record_reading(
            session, vehicle, order.mileage_km, order.opened_on, MileageSource.SERVICE, order
        )
        _follow_on(session, [vehicle], [vehicle.customer] if order.paid_on else [], now)
        session.commit()
    except IntegrityError:
        session.rollback()  # another advisor took the number a moment ago
        raise Conflict(WORK_ORDER_TAKEN, "work_order_no") from None
    except Exception:
        session.rollback()
        raise
    return order


def mark_paid(
    session: Session, actor: Staff, order_id: int, paid_on: date | str | None, now: datetime
) -> ServiceOrder:
    """Settle an open order on ``paid_on`` (not in the future, not before the order): its
    amount now counts towards the customer's tier, which is recomputed (PRODUCT
    "Membership")."""
    order = access.get_or_404(ServiceOrder, order_id, actor, "service_order.record")
    if order.paid_on is not None:
        raise Conflict("该工单已结算", "paid_on")
    day = parse_day(paid_on, "paid_on", required=True)
    wrong_day = day_problem(order.opened_on, day, clock.today(now))
    if wrong_day is not None:
        raise ValidationError(wrong_day[1], "paid_on")
    try:
        order.paid_on = day
        _follow_on(session, [], [order.vehicle.customer], now)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return order


# --- orders from an import ---------------------------------------------------------------------


@dataclass(slots=True)
class ImportedOrder:
    """A good row of a service-order import, its vehicle and advisor found in the store."""

    row: int
    vehicle_id: int
    advisor_id: int | None
    work_order_no: str
    kind: str
    opened_on: date
    mileage_km: int
    work_items: str
    parts: str
    labour_fen: int
    parts_fen: int
    paid_on: date | None


def record_imported(
    session: Session,
    actor: Staff,
    store: Store,
    batch: ImportBatch,
    orders: list[ImportedOrder],
    now: datetime,
    progress: Progress | None = None,
) -> None:
    """Write an import's good rows under the rules of ``record`` (issue 7: each order updates
    the vehicle's mileage history; the next service follows; a paid order recomputes the tier).

    The rows were checked by ``crm.services.service_order_rows`` in this same transaction,
    under the store's import lock: every mileage against the vehicle's history and the file's
    earlier rows, by the rule of ``mileage.check_reading``. So the readings go in as
    ``mileage.record_reading`` writes them (one per order, source "service", the vehicle keeping
    its highest mileage) without asking the database again for each row: one statement for
    all the orders, one for all the readings. Then each vehicle's next service is planned
    again and each customer with a paid order gets their tier recomputed, once each. Part of
    the caller's transaction, which the importer commits or rolls back (a work order no. taken
    meanwhile raises Conflict)."""
    vehicles: dict[int, Vehicle] = {}
    for chunk in chunks({order.vehicle_id for order in orders}):
        found = session.scalars(
            select(Vehicle)
            .where(Vehicle.id.in_(chunk), Vehicle.store_id == store.id)
            .options(selectinload(Vehicle.customer))
        )
        vehicles.update((vehicle.id, vehicle) for vehicle in found)
    # Vehicle by vehicle, oldest order first: the next service is planned after a vehicle's
    # last order, and progress counts orders.
    ordered = sorted(orders, key=lambda order: (order.vehicle_id, order.opened_on, order.row))
    written = [
        ServiceOrder(
            vehicle_id=order.vehicle_id,
            store_id=store.id,
            advisor_id=order.advisor_id,
            work_order_no=order.work_order_no,
            kind=order.kind,
            opened_on=order.opened_on,
            mileage_km=order.mileage_km,
            work_items=order.work_items,
            parts=order.parts,
            labour_fen=order.labour_fen,
            parts_fen=order.parts_fen,
            paid_on=order.paid_on,
            created_by_id=actor.id,
            import_batch_id=batch.id,
        )
        for order in ordered
    ]
    session.add_all(written)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("文件中的工单号已被其他工单占用，请重新检查", "file") from None
    session.add_all(
        MileageReading(
            vehicle_id=order.vehicle_id,
            read_on=order.opened_on,
            km=order.mileage_km,
            source=MileageSource.SERVICE.value,
            service_order_id=order.id,
        )
        for order in written
    )
    for order in written:
        vehicle = vehicles[order.vehicle_id]
        vehicle.mileage_km = max(vehicle.mileage_km or 0, order.mileage_km)
    session.flush()
    last = len(written) - 1
    # All orders and readings are in: the store's average rate stays put, and the plans
    # (columns of the vehicles only, which no plan reads) are written in one flush at the end.
    with mileage.store_rates_held(session), session.no_autoflush:
        for index, order in enumerate(each_reported(written, progress)):
            if index == last or written[index + 1].vehicle_id != order.vehicle_id:
                _follow_on(session, [vehicles[order.vehicle_id]], [], now)
    session.flush()
    paying = {vehicles[order.vehicle_id].customer_id for order in written if order.paid_on}
    customers = {vehicle.customer_id: vehicle.customer for vehicle in vehicles.values()}
    _follow_on(session, [], [customers[customer_id] for customer_id in sorted(paying)], now)


# --- reading orders ----------------------------------------------------------------------------


def for_vehicle(actor: Staff, vehicle_id: int) -> Select:
    """A vehicle's orders the actor may see, newest first (to paginate)."""
    return (
        access.scope(select(ServiceOrder).where(ServiceOrder.vehicle_id == vehicle_id), actor)
        .options(selectinload(ServiceOrder.advisor))
        .order_by(ServiceOrder.opened_on.desc(), ServiceOrder.id.desc())
    )


def for_store(actor: Staff, store_id: int | None = None) -> Select:
    """The orders the actor may see, of one store or of all theirs, newest first (to
    paginate), with their vehicles, customers and advisors loaded."""
    query = access.scope(select(ServiceOrder), actor)
    if store_id:
        query = query.where(ServiceOrder.store_id == store_id)
    return query.options(
        selectinload(ServiceOrder.vehicle).selectinload(Vehicle.customer),
        selectinload(ServiceOrder.advisor),
    ).order_by(ServiceOrder.opened_on.desc(), ServiceOrder.id.desc())


def mileage_history(session: Session, actor: Staff, vehicle: Vehicle) -> list[MileageReading]:
    """The vehicle's odometer readings, newest first."""
    return list(
        session.scalars(
            access.scope(
                select(MileageReading).where(MileageReading.vehicle_id == vehicle.id), actor
            ).order_by(MileageReading.read_on.desc(), MileageReading.km.desc())
        )
    )
