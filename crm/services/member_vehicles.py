"""The customer's own vehicles on the member pages (issue 9 "My vehicles"): each car with its
plate and model, the next maintenance (date and predicted mileage, kept by
``crm.services.maintenance_plan``), the compulsory and commercial insurance and the annual
inspection due dates, and its service history with work items and costs.

A customer sees only their own cars: another customer's vehicle id is not found (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.errors import NotFound
from crm.models import SERVICE_KIND_LABELS, Customer, ServiceKind, ServiceOrder, Store, Vehicle


@dataclass(frozen=True)
class VehicleCard:
    """One car as the customer sees it in the list and at the top of its page."""

    vehicle: Vehicle
    last_order: ServiceOrder | None

    @property
    def next_service_label(self) -> str:
        kind = self.vehicle.next_service_kind
        return SERVICE_KIND_LABELS[ServiceKind(kind)] if kind else "保养"

    def due_dates(self) -> list[tuple[str, date | None]]:
        """The dates the customer must not miss, labelled."""
        return [
            ("交强险到期", self.vehicle.compulsory_insurance_expiry),
            ("商业险到期", self.vehicle.commercial_insurance_expiry),
            ("年检到期", self.vehicle.inspection_due),
        ]


@dataclass(frozen=True)
class VehiclePage:
    card: VehicleCard
    orders: list[ServiceOrder]  # newest first
    stores: dict[int, str]  # store id -> name, for the orders


def _orders(session: Session, vehicle_ids: list[int]) -> list[ServiceOrder]:
    return list(
        session.scalars(
            select(ServiceOrder)
            .where(ServiceOrder.vehicle_id.in_(vehicle_ids))
            .order_by(ServiceOrder.opened_on.desc(), ServiceOrder.id.desc())
        )
    )


def my_vehicles(session: Session, customer: Customer) -> list[VehicleCard]:
    """The customer's cars, oldest record first, each with its latest service order."""
    vehicles = session.scalars(
        select(Vehicle).where(Vehicle.customer_id == customer.id).order_by(Vehicle.id)
    ).all()
    latest: dict[int, ServiceOrder] = {}
    for order in _orders(session, [vehicle.id for vehicle in vehicles]):
        latest.setdefault(order.vehicle_id, order)
    return [VehicleCard(vehicle, latest.get(vehicle.id)) for vehicle in vehicles]


def my_vehicle(session: Session, customer: Customer, vehicle_id: int) -> VehiclePage:
    """One of the customer's cars with its whole service history, newest first. A vehicle
    that is not the customer's raises ``NotFound``."""
    vehicle = session.scalar(
        select(Vehicle).where(Vehicle.id == vehicle_id, Vehicle.customer_id == customer.id)
    )
    if vehicle is None:
        raise NotFound("没有这辆车")
    orders = _orders(session, [vehicle.id])
    store_ids = sorted({order.store_id for order in orders})
    names = session.execute(select(Store.id, Store.name).where(Store.id.in_(store_ids)))
    stores = dict(names.tuples().all())
    return VehiclePage(VehicleCard(vehicle, orders[0] if orders else None), orders, stores)
