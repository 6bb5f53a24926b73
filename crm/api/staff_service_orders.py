"""Service orders for the service advisor's mini-program (issue 11 "Staff: service orders
(advisor)"; issue 7 "After-sales"), through ``crm.services.service_orders`` as the H5 vehicle
pages do: the orders I may see (of the store, or of one vehicle), one order, recording an
order on a vehicle ("录入工单": service advisors and the store admin) and settling an open one.
Money is typed in yuan as on the form and answered in fen."""

from __future__ import annotations

from marshmallow import fields

from crm import access, clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.pagination import query_page
from crm.api.schemas import ApiSchema, PageArgs, page_of, record_id, text
from crm.api.schemas_staff import StaffServiceOrderOut
from crm.extensions import db
from crm.models import ServiceKind, ServiceOrder, Vehicle
from crm.services import service_orders

bp = ApiBlueprint("api_staff_service_orders", __name__, url_prefix="/staff", description="工单")


class ServiceOrderIn(ApiSchema):
    work_order_no = text("工单号", service_orders.WORK_ORDER_MAX, required=True)
    kind = text("工单类型", 30, load_default=ServiceKind.PERIODIC_MAINTENANCE.value)
    opened_on = fields.Date(required=True, metadata={"label": "工单日期"})
    mileage_km = fields.Integer(required=True, metadata={"label": "里程"})
    work_items = text("维修项目", service_orders.TEXT_MAX, load_default="")
    parts = text("配件", service_orders.TEXT_MAX, load_default="")
    labour_yuan = text("工时费", 20, load_default="")
    parts_yuan = text("配件费", 20, load_default="")
    advisor_id = record_id(
        "服务顾问", "请选择本店在职的服务顾问", load_default=None, allow_none=True
    )
    paid_on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"label": "结算日期", "description": "未结算不传"},
    )


class ServiceOrderPaidIn(ApiSchema):
    paid_on = fields.Date(required=True, metadata={"label": "结算日期"})


def _page(query, args) -> dict:
    return query_page(
        db.session,
        query.order_by(None),
        (ServiceOrder.opened_on, ServiceOrder.id),
        args,
        key=lambda order: (order.opened_on, order.id),
        descending=True,
    )


@bp.get("/service-orders")
@staff_required("view")
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(StaffServiceOrderOut, "StaffServiceOrderPage"))
def index(args):
    """The service orders I may see, newest first."""
    return _page(service_orders.for_store(current_staff()), args)


@bp.get(f"/service-orders/<{ID}:order_id>")
@staff_required("view")
@bp.etag
@bp.response(200, StaffServiceOrderOut)
def detail(order_id: int):
    """One service order I may see."""
    return access.get_or_404(ServiceOrder, order_id, current_staff())


@bp.get(f"/vehicles/<{ID}:vehicle_id>/service-orders")
@staff_required("view")
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(StaffServiceOrderOut, "VehicleServiceOrderPage"))
def of_vehicle(args, vehicle_id: int):
    """A vehicle's service orders, newest first; a vehicle I may not see is 404."""
    vehicle = access.get_or_404(Vehicle, vehicle_id, current_staff())
    return _page(service_orders.for_vehicle(current_staff(), vehicle.id), args)


@bp.post(f"/vehicles/<{ID}:vehicle_id>/service-orders")
@staff_required("service_order.record")
@idempotent
@bp.arguments(ServiceOrderIn)
@bp.response(201, StaffServiceOrderOut)
def record(data, vehicle_id: int):
    """Record an order on a vehicle of my store: its mileage joins the history, the next
    service is planned again and a paid order recomputes the member tier. A work order no.
    already taken is 409."""
    return service_orders.record(
        db.session,
        current_staff(),
        vehicle_id,
        service_orders.ServiceOrderInput(**data),
        clock.now(),
    )


@bp.post(f"/service-orders/<{ID}:order_id>/paid")
@staff_required("service_order.record")
@bp.arguments(ServiceOrderPaidIn)
@bp.response(200, StaffServiceOrderOut)
def paid(data, order_id: int):
    """Settle an open order on the day given (not in the future, not before the order)."""
    return service_orders.mark_paid(
        db.session, current_staff(), order_id, data["paid_on"], clock.now()
    )
