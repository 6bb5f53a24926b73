"""Staff H5 pages of one vehicle (issue 7 "After-sales"; PRODUCT "Records"): the archive, the
mileage history, the next service, the service orders, recording an order ("录入工单", for
service advisors and the store admin) and settling an open one.

Each view parses the form, calls one service and renders; a domain error is shown beside
its field and nothing is changed.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from crm import access, clock
from crm.errors import Conflict, ValidationError
from crm.extensions import db
from crm.models import SERVICE_KIND_LABELS, MileageSource, Role, ServiceKind, ServiceOrder, Vehicle
from crm.services import handover, service_orders, vehicles
from crm.views import staff_h5
from crm.views.forms import form_page, form_values, int_arg, local_date

bp = Blueprint("staff_vehicles", __name__, url_prefix="/h5")
bp.before_request(staff_h5.require_staff)

PER_PAGE = 20
ORDER_FIELDS = (
    "work_order_no",
    "kind",
    "opened_on",
    "mileage_km",
    "work_items",
    "parts",
    "labour_yuan",
    "parts_yuan",
    "advisor_id",
    "paid_on",
)
MILEAGE_SOURCE_LABELS = {
    MileageSource.DELIVERY: "交车",
    MileageSource.SERVICE: "工单",
    MileageSource.MANUAL: "登记",
}


@bp.get("/vehicles/<int:vehicle_id>")
def vehicle_detail(vehicle_id: int):
    vehicle = access.get_or_404(Vehicle, vehicle_id, current_user)
    query = service_orders.for_vehicle(current_user, vehicle.id)
    page = db.paginate(query, page=int_arg("page", 1), per_page=PER_PAGE, error_out=False)
    return render_template(
        "h5/vehicle.html",
        vehicle=vehicle,
        page=page,
        readings=service_orders.mileage_history(db.session, current_user, vehicle),
        may_record=access.allowed(current_user, "service_order.record"),
        may_edit=access.allowed(current_user, "vehicle.edit"),
        today=clock.today().isoformat(),
        kinds=SERVICE_KIND_LABELS,
        sources=MILEAGE_SOURCE_LABELS,
    )


@bp.route("/vehicles/<int:vehicle_id>/service-orders/new", methods=["GET", "POST"])
def service_order_new(vehicle_id: int):
    """录入工单: one order with its mileage; the vehicle's history, next service and (when
    paid) the member tier follow."""
    vehicle = access.get_or_404(Vehicle, vehicle_id, current_user, "service_order.record")
    values, errors = form_values(ORDER_FIELDS), {}
    if request.method == "GET":
        values.update(kind=ServiceKind.PERIODIC_MAINTENANCE.value, opened_on=clock.today())
        if current_user.role == Role.SERVICE_ADVISOR:
            values["advisor_id"] = current_user.id
    else:
        try:
            data = service_orders.ServiceOrderInput(
                work_order_no=values["work_order_no"],
                kind=values["kind"],
                opened_on=values["opened_on"],
                mileage_km=values["mileage_km"],
                work_items=values["work_items"],
                parts=values["parts"],
                labour_yuan=values["labour_yuan"],
                parts_yuan=values["parts_yuan"],
                advisor_id=int(values["advisor_id"]) if values["advisor_id"].isdigit() else None,
                paid_on=values["paid_on"],
            )
            order = service_orders.record(db.session, current_user, vehicle_id, data, clock.now())
        except (ValidationError, Conflict) as error:
            errors[error.field or "work_order_no"] = error.message
        else:
            flash(f"已录入工单 {order.work_order_no}")
            return redirect(url_for("staff_vehicles.vehicle_detail", vehicle_id=vehicle_id))
    advisors = handover.advisors_of_store(db.session, vehicle.store_id)
    return form_page(
        "h5/vehicle_order_form.html",
        errors,
        vehicle=vehicle,
        values=values,
        kinds=SERVICE_KIND_LABELS,
        advisor_options=[(staff.id, staff.name) for staff in advisors],
        today=clock.today().isoformat(),
    )


@bp.post("/service-orders/<int:order_id>/paid")
def service_order_paid(order_id: int):
    """Settle an open order on the day chosen (default today)."""
    try:
        order = service_orders.mark_paid(
            db.session, current_user, order_id, request.form.get("paid_on", ""), clock.now()
        )
    except (ValidationError, Conflict) as error:
        order = access.get_or_404(ServiceOrder, order_id, current_user)
        flash(error.message)
    else:
        flash(f"工单 {order.work_order_no} 已结算")
    return redirect(url_for("staff_vehicles.vehicle_detail", vehicle_id=order.vehicle_id))


ARCHIVE_FIELDS = (
    "plate",
    "compulsory_insurance_expiry",
    "commercial_insurance_expiry",
    "inspection_due",
)


@bp.route("/vehicles/<int:vehicle_id>/archive", methods=["GET", "POST"])
def vehicle_archive(vehicle_id: int):
    """The plate, insurance and inspection dates, recorded after delivery when they come."""
    vehicle = access.get_or_404(Vehicle, vehicle_id, current_user, "vehicle.edit")
    errors: dict[str, str] = {}
    values = form_values(ARCHIVE_FIELDS)
    if request.method == "POST":
        try:
            dates = {name: local_date(values[name], name) for name in ARCHIVE_FIELDS[1:]}
            data = vehicles.ArchiveUpdate(plate=values["plate"], **dates)
            vehicles.update_archive(db.session, current_user, vehicle.id, data)
        except ValidationError as error:
            errors[error.field or "plate"] = error.message
        else:
            flash("车辆档案已更新")
            return redirect(url_for("staff_vehicles.vehicle_detail", vehicle_id=vehicle.id))
    else:
        values = {name: str(getattr(vehicle, name) or "") for name in ARCHIVE_FIELDS}
    return form_page("h5/vehicle_archive.html", errors, vehicle=vehicle, values=values)
