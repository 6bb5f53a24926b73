"""Deals and their delivery steps for the staff mini-program (issue 11 "Staff: deals and
delivery steps"; PRODUCT "Deal and handover"): deposit → full payment → delivery, or a
cancellation with a reason, through ``crm.services.deals`` and ``crm.services.delivery`` as the
H5 deal pages do. Amounts are typed in yuan as on the forms (``"5000"``, ``"5000.50"``) and
answered in fen."""

from __future__ import annotations

from marshmallow import fields, validate

from crm import access, clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.schemas import ApiSchema, text
from crm.api.schemas_staff import DealOut
from crm.extensions import db
from crm.models import VEHICLE_USAGE_LABELS, Deal
from crm.services import deals, delivery, leads

bp = ApiBlueprint("api_staff_deals", __name__, url_prefix="/staff", description="订单与交车")


class DepositIn(ApiSchema):
    model = text("车型", 50, required=True)
    trim = text("配置", 50, load_default="")
    deposit = text("定金", 20, required=True)
    deposit_on = fields.Date(required=True, metadata={"label": "定金日期"})


class PaymentIn(ApiSchema):
    paid = text("全款金额", 20, required=True)
    paid_on = fields.Date(required=True, metadata={"label": "全款日期"})


class DealCancelIn(ApiSchema):
    reason = text("取消原因", leads.REASON_MAX, required=True)
    lead_class = fields.String(
        required=True,
        validate=validate.OneOf(
            [c.value for c in deals.CANCEL_CLASSES], error="请选择线索回到重点或意向级别"
        ),
        metadata={"label": "线索级别"},
    )


def _optional_date(label: str) -> fields.Date:
    return fields.Date(load_default=None, allow_none=True, metadata={"label": label})


class DeliveryIn(ApiSchema):
    delivered_on = fields.Date(required=True, metadata={"label": "交车日期"})
    consent = fields.Boolean(
        required=True,
        metadata={"label": "客户同意", "description": "客户已同意保存资料并接收用车提醒"},
    )
    # the customer
    name = text("客户姓名", delivery.TEXT_LIMITS["name"], required=True)
    id_number = text("身份证号", 18, required=True)
    licence_no = text("驾驶证号", 20, required=True)
    gender = fields.String(
        load_default="",
        validate=validate.OneOf(["", "M", "F"], error="性别不正确"),
        metadata={"label": "性别"},
    )
    birthday = _optional_date("生日")
    licence_class = fields.String(
        load_default="",
        validate=validate.OneOf(["", *delivery.LICENCE_CLASSES], error="准驾车型不正确"),
        metadata={"label": "准驾车型"},
    )
    licence_expiry = _optional_date("驾驶证到期日")
    occupation = text("职业", delivery.TEXT_LIMITS["occupation"], load_default="")
    address = text("地址", delivery.TEXT_LIMITS["address"], load_default="")
    city = text("城市", delivery.TEXT_LIMITS["city"], load_default="")
    hobbies = text("爱好", delivery.TEXT_LIMITS["hobbies"], load_default="")
    employer = text("工作单位", delivery.TEXT_LIMITS["employer"], load_default="")
    # the vehicle archive
    vin = text("车架号", 17, required=True)
    plate = text("车牌号", 16, load_default="")
    engine_no = text("发动机号", delivery.TEXT_LIMITS["engine_no"], required=True)
    transmission_no = text("变速箱号", delivery.TEXT_LIMITS["transmission_no"], load_default="")
    colour = text("颜色", delivery.TEXT_LIMITS["colour"], required=True)
    usage = fields.String(
        load_default="private",
        validate=validate.OneOf([u.value for u in VEHICLE_USAGE_LABELS], error="车辆用途不正确"),
        metadata={"label": "车辆用途"},
    )
    purchase_date = _optional_date("购车日期")
    mileage_km = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**31 - 1, error="交车里程不能为负数"),
        metadata={"label": "交车里程"},
    )
    first_maintenance_date = _optional_date("首保日期")
    first_maintenance_km = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=2**31 - 1, error="首保里程不正确"),
        metadata={"label": "首保里程"},
    )
    compulsory_insurance_expiry = _optional_date("交强险到期日")
    commercial_insurance_expiry = _optional_date("商业险到期日")
    inspection_due = _optional_date("年检到期日")


@bp.post(f"/leads/<{ID}:lead_id>/deals")
@staff_required("deal.record")
@idempotent
@bp.arguments(DepositIn)
@bp.response(201, DealOut)
def deposit(data, lead_id: int):
    """The first step: take a deposit on one of my open leads for a model on sale."""
    return deals.take_deposit(
        db.session,
        current_staff(),
        lead_id,
        deals.DepositInput(
            model=data["model"],
            trim=data["trim"],
            deposit_yuan=data["deposit"],
            deposit_on=data["deposit_on"],
        ),
        clock.now(),
    )


@bp.get(f"/deals/<{ID}:deal_id>")
@staff_required("view")
@bp.etag
@bp.response(200, DealOut)
def detail(deal_id: int):
    """One deal I may see, with its steps."""
    return access.get_or_404(Deal, deal_id, current_staff())


@bp.post(f"/deals/<{ID}:deal_id>/payment")
@staff_required("deal.record")
@bp.arguments(PaymentIn)
@bp.response(200, DealOut)
def payment(data, deal_id: int):
    """The second step: the full payment, on or after the deposit's day."""
    return deals.record_payment(
        db.session, current_staff(), deal_id, data["paid"], data["paid_on"], clock.now()
    )


@bp.post(f"/deals/<{ID}:deal_id>/delivery")
@staff_required("deal.record")
@bp.arguments(DeliveryIn)
@bp.response(200, DealOut)
def deliver(data, deal_id: int):
    """The last step: the customer, the licence and the vehicle archive; the maintenance
    plan, the member card and the hand-over to after-sales follow, all or nothing."""
    return delivery.deliver(
        db.session, current_staff(), deal_id, delivery.DeliveryInput(**data), clock.now()
    )


@bp.post(f"/deals/<{ID}:deal_id>/cancel")
@staff_required("deal.cancel")
@bp.arguments(DealCancelIn)
@bp.response(200, DealOut)
def cancel(data, deal_id: int):
    """Cancel an undelivered deal with a reason; the lead goes back to its salesperson as a
    key or intent lead."""
    return deals.cancel(
        db.session, current_staff(), deal_id, data["reason"], data["lead_class"], clock.now()
    )
