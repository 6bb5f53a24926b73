"""My vehicles on the member pages (issue 9 "My vehicles"): the list of the customer's cars
and one car's page with its due dates and service history. Another customer's car is 404."""

from __future__ import annotations

from flask import Blueprint, render_template

from crm.extensions import db
from crm.services import member_vehicles
from crm.views import member_h5

bp = Blueprint("member_vehicles", __name__, url_prefix="/m/vehicles")
bp.before_request(member_h5.require_customer)


@bp.get("/")
def index():
    customer = member_h5._current_customer()
    cards = member_vehicles.my_vehicles(db.session, customer)
    return render_template("member/vehicles.html", cards=cards)


@bp.get("/<int:vehicle_id>")
def detail(vehicle_id: int):
    customer = member_h5._current_customer()
    page = member_vehicles.my_vehicle(db.session, customer, vehicle_id)
    return render_template("member/vehicle.html", page=page)
