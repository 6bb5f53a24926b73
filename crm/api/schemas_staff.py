"""Response shapes the staff endpoints of the JSON API share (issue 11 "Staff"): a lead as the
staff H5 lists show it, a test drive, a deal with its steps, a service order and a care task.

The phone of a lead is shown in full to its owner only and masked (``138****5678``) to everyone
else, as on the H5 pages (templates/h5/lead.html, pool.html).
"""

from __future__ import annotations

from marshmallow import fields, pre_dump

from crm import phones
from crm.api.auth import current_staff
from crm.api.schemas import ApiSchema, ServiceOrderOut
from crm.models import (
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    LOST_REASON_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    LostReason,
    PurchaseTimeframe,
)
from crm.views.staff_h5 import STATUS_LABELS


def _label(labels: dict, enum, value: str) -> str:
    try:
        return labels.get(enum(value), "")
    except ValueError:
        return ""


class LeadOut(ApiSchema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    owner_id = fields.Integer(required=True, allow_none=True)
    owner_name = fields.String(required=True, metadata={"description": "负责人；客户池中为空"})
    mine = fields.Boolean(required=True, metadata={"description": "是我负责的线索"})
    name = fields.String(required=True)
    phone = fields.String(
        required=True, metadata={"description": "负责人看到完整号码，其他人看到掩码"}
    )
    lead_class = fields.String(required=True)
    class_label = fields.String(required=True)
    class_reason = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    source = fields.String(required=True)
    source_label = fields.String(required=True)
    model_of_interest = fields.String(required=True)
    trim_of_interest = fields.String(required=True)
    purchase_timeframe = fields.String(required=True)
    purchase_timeframe_label = fields.String(required=True)
    quoted = fields.Boolean(required=True)
    note = fields.String(required=True)
    lost_reason = fields.String(required=True)
    lost_reason_label = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    claimed_at = fields.AwareDateTime(required=True, allow_none=True)
    last_contact_at = fields.AwareDateTime(required=True, allow_none=True)
    due_at = fields.AwareDateTime(required=True, allow_none=True)

    @pre_dump
    def _from_lead(self, lead: Lead, **_kwargs) -> dict:
        mine = lead.owner_id is not None and lead.owner_id == current_staff().id
        return {
            "id": lead.id,
            "store_id": lead.store_id,
            "owner_id": lead.owner_id,
            "owner_name": lead.owner.name if lead.owner else "",
            "mine": mine,
            "name": lead.name,
            "phone": lead.phone if mine else phones.masked(lead.phone),
            "lead_class": lead.lead_class,
            "class_label": _label(LEAD_CLASS_LABELS, LeadClass, lead.lead_class),
            "class_reason": lead.class_reason,
            "status": lead.status,
            "status_label": _label(STATUS_LABELS, LeadStatus, lead.status),
            "source": lead.source,
            "source_label": _label(LEAD_SOURCE_LABELS, LeadSource, lead.source),
            "model_of_interest": lead.model_of_interest,
            "trim_of_interest": lead.trim_of_interest,
            "purchase_timeframe": lead.purchase_timeframe,
            "purchase_timeframe_label": _label(
                PURCHASE_TIMEFRAME_LABELS, PurchaseTimeframe, lead.purchase_timeframe
            ),
            "quoted": lead.quoted,
            "note": lead.note,
            "lost_reason": lead.lost_reason,
            "lost_reason_label": _label(LOST_REASON_LABELS, LostReason, lead.lost_reason),
            "created_at": lead.created_at,
            "claimed_at": lead.claimed_at,
            "last_contact_at": lead.last_contact_at,
            "due_at": lead.due_at,
        }


class TestDriveOut(ApiSchema):
    __test__ = False  # not a pytest test class despite the name

    id = fields.Integer(required=True)
    lead_id = fields.Integer(required=True)
    staff_id = fields.Integer(required=True)
    scheduled_at = fields.AwareDateTime(required=True)
    car = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    driven_at = fields.AwareDateTime(required=True, allow_none=True)
    feelings = fields.String(required=True)
    model_of_interest = fields.String(required=True)
    trim_of_interest = fields.String(required=True)


class DealStepOut(ApiSchema):
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    on = fields.Date(required=True)
    amount_fen = fields.Integer(required=True, allow_none=True)
    note = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True)


class DealOut(ApiSchema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    lead_id = fields.Integer(required=True)
    salesperson_id = fields.Integer(required=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    vehicle_id = fields.Integer(required=True, allow_none=True)
    model = fields.String(required=True)
    trim = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True)
    open = fields.Boolean(required=True, metadata={"description": "未交车也未取消"})
    deposit_fen = fields.Integer(required=True)
    deposit_on = fields.Date(required=True)
    paid_fen = fields.Integer(required=True, allow_none=True)
    paid_on = fields.Date(required=True, allow_none=True)
    delivered_on = fields.Date(required=True, allow_none=True)
    cancel_reason = fields.String(required=True)
    steps = fields.List(fields.Nested(DealStepOut), required=True)


class StaffServiceOrderOut(ServiceOrderOut):
    vehicle_id = fields.Integer(required=True)
    advisor_id = fields.Integer(required=True, allow_none=True)
    total_fen = fields.Integer(required=True)


class CareTaskOut(ApiSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    kind_label = fields.String(required=True)
    customer_id = fields.Integer(required=True)
    customer_name = fields.String(required=True)
    vehicle_id = fields.Integer(required=True, allow_none=True)
    due_at = fields.AwareDateTime(required=True)
    text = fields.String(required=True, metadata={"description": "要说的话或可复制的祝福"})
    outcome = fields.String(required=True)
    done_at = fields.AwareDateTime(required=True, allow_none=True)

    @pre_dump
    def _from_task(self, task, **_kwargs) -> dict:
        return {
            "id": task.id,
            "kind": task.kind,
            "kind_label": task.kind_label,
            "customer_id": task.customer_id,
            "customer_name": task.customer.name,
            "vehicle_id": task.vehicle_id,
            "due_at": task.due_at,
            "text": task.text,
            "outcome": task.outcome,
            "done_at": task.done_at,
        }
