"""The customer's member card and vehicles with their service history (issue 9 "Member card",
"My vehicles"; issue 11 "Customers"), through the services of the member pages
(crm.services.membership, crm.services.member_vehicles). Another customer's car is 404."""

from __future__ import annotations

from marshmallow import fields, pre_dump

from crm.api.auth import current_customer, customer_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.pagination import cursor_page
from crm.api.schemas import ApiSchema, PageArgs, ServiceOrderOut, page_of
from crm.extensions import db
from crm.services import member_vehicles, membership

bp = ApiBlueprint(
    "api_customer_profile", __name__, url_prefix="/member", description="会员卡与车辆"
)


class CardOut(ApiSchema):
    card_no = fields.String(required=True)
    tier_name = fields.String(required=True)
    benefits = fields.List(fields.String(), required=True)
    spend_fen = fields.Integer(required=True, metadata={"description": "累计消费（分）"})
    next_tier_name = fields.String(required=True, metadata={"description": "最高等级时为空"})
    next_tier_gap_fen = fields.Integer(required=True)


class CardEnvelope(ApiSchema):
    card = fields.Nested(CardOut, required=True, allow_none=True)


class DueDate(ApiSchema):
    label = fields.String(required=True)
    on = fields.Date(required=True, allow_none=True)


class VehicleOut(ApiSchema):
    id = fields.Integer(required=True)
    model = fields.String(required=True)
    plate = fields.String(required=True)
    mileage_km = fields.Integer(required=True)
    next_service_label = fields.String(required=True)
    next_service_on = fields.Date(required=True, allow_none=True)
    next_service_km = fields.Integer(required=True, allow_none=True)
    due_dates = fields.List(fields.Nested(DueDate), required=True)
    last_service_on = fields.Date(required=True, allow_none=True)

    @pre_dump
    def _from_card(self, card: member_vehicles.VehicleCard, **_kwargs) -> dict:
        vehicle = card.vehicle
        return {
            "id": vehicle.id,
            "model": vehicle.model,
            "plate": vehicle.plate,
            "mileage_km": vehicle.mileage_km,
            "next_service_label": card.next_service_label,
            "next_service_on": vehicle.next_service_on,
            "next_service_km": vehicle.next_service_km,
            "due_dates": [{"label": label, "on": on} for label, on in card.due_dates()],
            "last_service_on": card.last_order.opened_on if card.last_order else None,
        }


class VehicleDetailOut(ApiSchema):
    vehicle = fields.Nested(VehicleOut, required=True)
    orders = fields.List(fields.Nested(ServiceOrderOut), required=True)
    stores = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "门店 id → 门店名称"},
    )


@bp.get("/card")
@customer_required
@bp.etag
@bp.response(200, CardEnvelope)
def card():
    """My member card: tier, benefits, spend and the gap to the next tier (null before one
    was issued)."""
    return {"card": membership.card_view(db.session, current_customer())}


@bp.get("/vehicles")
@customer_required
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(VehicleOut, "VehiclePage"))
def vehicles(args):
    """My cars with their next maintenance and due dates."""
    cards = member_vehicles.my_vehicles(db.session, current_customer())
    return cursor_page(cards, args, key=lambda card: (card.vehicle.id,))


@bp.get(f"/vehicles/<{ID}:vehicle_id>")
@customer_required
@bp.etag
@bp.response(200, VehicleDetailOut)
def vehicle(vehicle_id: int):
    """One of my cars with its whole service history, newest first."""
    page = member_vehicles.my_vehicle(db.session, current_customer(), vehicle_id)
    return {
        "vehicle": page.card,
        "orders": page.orders,
        "stores": {str(store_id): name for store_id, name in page.stores.items()},
    }
