"""Leads for the staff mini-program (issue 11 "Staff: leads (create, detail, timeline, log
follow-up, class change, lost)"), through the services of the staff H5 pages
(crm/views/staff_h5.py, staff_leads.py): ``leads``, ``follow_ups``, ``timeline``.

Logging the first follow-up on a pool lead claims it (PRODUCT "The customer pool"): of two
salespeople claiming one lead at once exactly one wins; the other gets 409 naming who has it.
Another salesperson's or another store's lead is 404.
"""

from __future__ import annotations

from marshmallow import fields, validate
from sqlalchemy import select

from crm import access, clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.pagination import query_page
from crm.api.schemas import ApiSchema, PageArgs, page_of, text
from crm.api.schemas_staff import DealOut, LeadOut, TestDriveOut
from crm.extensions import db
from crm.models import (
    CHANNEL_LABELS,
    LEAD_CLASS_LABELS,
    LEAD_SOURCE_LABELS,
    LOST_REASON_LABELS,
    PURCHASE_TIMEFRAME_LABELS,
    Lead,
    LeadSource,
    LeadStatus,
    TestDrive,
    TestDriveStatus,
)
from crm.services import deals, follow_ups, leads, timeline
from crm.views.staff_h5 import STATUS_LABELS

bp = ApiBlueprint("api_staff_leads", __name__, url_prefix="/staff/leads", description="线索")

CLASSES = [value.value for value in LEAD_CLASS_LABELS]
TIMEFRAMES = [value.value for value in PURCHASE_TIMEFRAME_LABELS]
# Sources a salesperson enters by hand; imports come from the console (as on the H5 form).
ENTERED_SOURCES = [source.value for source in LEAD_SOURCE_LABELS if source != LeadSource.IMPORT]


class LeadListArgs(PageArgs):
    lead_class = fields.String(
        load_default="",
        validate=validate.OneOf(["", *CLASSES], error="请选择线索级别"),
        metadata={"label": "lead_class"},
    )
    status = fields.String(
        load_default=LeadStatus.OPEN.value,
        validate=validate.OneOf(["", *(s.value for s in STATUS_LABELS)], error="请选择线索状态"),
        metadata={"label": "status", "description": "默认 open；空字符串为全部"},
    )


class LeadIn(ApiSchema):
    name = text("姓名", leads.NAME_MAX, required=True)
    phone = text("手机号", 30, required=True)
    source = fields.String(
        load_default=LeadSource.SHOWROOM.value,
        validate=validate.OneOf(ENTERED_SOURCES, error="请选择线索来源"),
        metadata={"label": "线索来源"},
    )
    referrer = text("介绍人", leads.NAME_MAX, load_default="")
    model_of_interest = text("意向车型", 50, load_default="")
    purchase_timeframe = fields.String(
        load_default="",
        validate=validate.OneOf(TIMEFRAMES, error="请选择购车时间"),
        metadata={"label": "购车时间"},
    )
    note = text("备注", leads.NOTE_MAX, load_default="")
    to_pool = fields.Boolean(
        load_default=False,
        metadata={"label": "放入客户池", "description": "销售顾问新建时放入客户池而非自己跟进"},
    )


class FollowUpIn(ApiSchema):
    channel = fields.String(
        required=True,
        validate=validate.OneOf([c.value for c in CHANNEL_LABELS], error="请选择沟通方式"),
        metadata={"label": "沟通方式"},
    )
    content = text("沟通内容", follow_ups.TEXT_MAX, required=True)
    concerns = text("客户顾虑", follow_ups.TEXT_MAX, load_default="")
    need_changes = text("需求变化", follow_ups.TEXT_MAX, load_default="")
    decision_factors = text("决策因素", follow_ups.TEXT_MAX, load_default="")
    next_step = text("下一步", follow_ups.NEXT_STEP_MAX, load_default="")
    next_step_at = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"label": "下次跟进时间"}
    )
    purchase_timeframe = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(TIMEFRAMES, error="请选择购车时间"),
        metadata={"label": "购车时间", "description": "不传则不变"},
    )
    quoted = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={"label": "已报价", "description": "不传则不变"},
    )
    lead_class = fields.String(
        load_default="",
        validate=validate.OneOf(["", *CLASSES], error="请选择线索级别"),
        metadata={"label": "线索级别", "description": "空：采用系统建议；其他级别须填原因"},
    )
    class_reason = text("级别调整原因", leads.REASON_MAX, load_default="")


class FollowUpOut(ApiSchema):
    id = fields.Integer(required=True)
    lead_id = fields.Integer(required=True)
    channel = fields.String(required=True)
    content = fields.String(required=True)
    next_step = fields.String(required=True)
    next_step_at = fields.AwareDateTime(required=True, allow_none=True)
    lead_class = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    lead = fields.Nested(LeadOut, required=True)


class LeadClassIn(ApiSchema):
    lead_class = fields.String(
        required=True,
        validate=validate.OneOf(CLASSES, error="请选择线索级别"),
        metadata={"label": "线索级别"},
    )
    class_reason = text("原因", leads.REASON_MAX, load_default="")


class LeadLostIn(ApiSchema):
    reason = fields.String(
        required=True,
        validate=validate.OneOf([r.value for r in LOST_REASON_LABELS], error="请选择战败原因"),
        metadata={"label": "战败原因"},
    )
    note = text("说明", leads.REASON_MAX, load_default="")


class LeadDetailOut(ApiSchema):
    lead = fields.Nested(LeadOut, required=True)
    test_drives = fields.List(
        fields.Nested(TestDriveOut),
        required=True,
        metadata={"description": "已预约、未完成的试驾"},
    )
    deals = fields.List(fields.Nested(DealOut), required=True)


class EntryLine(ApiSchema):
    label = fields.String(required=True)
    text = fields.String(required=True)


class EntryOut(ApiSchema):
    at = fields.AwareDateTime(required=True)
    kind = fields.String(
        required=True, metadata={"description": "communication / test_drive / move / deal"}
    )
    title = fields.String(required=True)
    staff_name = fields.String(required=True)
    lines = fields.List(fields.Nested(EntryLine), required=True)


class TimelineOut(ApiSchema):
    lead_id = fields.Integer(required=True)
    entries = fields.List(fields.Nested(EntryOut), required=True)


@bp.get("")
@staff_required("view")
@bp.arguments(LeadListArgs, location="query")
@bp.etag
@bp.response(200, page_of(LeadOut, "StaffLeadPage"))
def index(args):
    """The leads I follow (a supervisor: the team's; a store admin: the store's), newest
    first; the pool is ``/staff/pool``."""
    filters = leads.LeadFilters(lead_class=args["lead_class"], status=args["status"])
    query = leads.my_leads_query(current_staff(), filters).order_by(None)
    return query_page(
        db.session, query, (Lead.id,), args, key=lambda lead: (lead.id,), descending=True
    )


@bp.post("")
@staff_required("lead.create")
@idempotent
@bp.arguments(LeadIn)
@bp.response(201, LeadOut)
def create(data):
    """Enter a lead: a salesperson's is theirs (first call within the hour), a store admin's
    or one sent ``to_pool`` goes to the pool. A phone the store already has is 409 naming the
    owner, and nothing is created."""
    to_pool = data.pop("to_pool")
    return leads.create_lead(
        db.session, current_staff(), leads.LeadInput(**data), clock.now(), to_pool=to_pool
    )


@bp.get(f"/<{ID}:lead_id>")
@staff_required("view")
@bp.etag
@bp.response(200, LeadDetailOut)
def detail(lead_id: int):
    """One lead I may see, with its booked test drives and its deals."""
    actor = current_staff()
    lead = access.get_or_404(Lead, lead_id, actor)
    drives = db.session.scalars(
        access.scope(
            select(TestDrive).where(
                TestDrive.lead_id == lead.id, TestDrive.status == TestDriveStatus.BOOKED
            ),
            actor,
        ).order_by(TestDrive.scheduled_at)
    ).all()
    return {
        "lead": lead,
        "test_drives": drives,
        "deals": deals.deals_of_lead(db.session, actor, lead.id),
    }


@bp.get(f"/<{ID}:lead_id>/timeline")
@staff_required("view")
@bp.etag
@bp.response(200, TimelineOut)
def lead_timeline(lead_id: int):
    """Every contact, test drive, move and deal step on the lead, by anyone, newest first."""
    lead, entries = timeline.for_lead(db.session, current_staff(), lead_id)
    return {
        "lead_id": lead.id,
        "entries": [
            {
                "at": entry.at,
                "kind": entry.kind,
                "title": entry.title,
                "staff_name": entry.staff_name,
                "lines": [{"label": label, "text": line} for label, line in entry.lines],
            }
            for entry in entries
        ],
    }


@bp.post(f"/<{ID}:lead_id>/follow-ups")
@staff_required("lead.follow_up")
@idempotent
@bp.arguments(FollowUpIn)
@bp.response(201, FollowUpOut)
def follow_up(data, lead_id: int):
    """Log one contact; the first on a pool lead claims it (409 if a colleague was first).
    The class follows the rules' suggestion unless another is chosen with a reason."""
    communication = follow_ups.log_follow_up(
        db.session, current_staff(), lead_id, follow_ups.FollowUpInput(**data), clock.now()
    )
    return {
        "id": communication.id,
        "lead_id": communication.lead_id,
        "channel": communication.channel,
        "content": communication.content,
        "next_step": communication.next_step,
        "next_step_at": communication.next_step_at,
        "lead_class": communication.lead_class,
        "occurred_at": communication.occurred_at,
        "lead": communication.lead,
    }


@bp.post(f"/<{ID}:lead_id>/class")
@staff_required("lead.reclassify")
@bp.arguments(LeadClassIn)
@bp.response(200, LeadOut)
def reclassify(data, lead_id: int):
    """Set the lead's class; one other than the rules' suggestion needs a reason."""
    return leads.reclassify(
        db.session, current_staff(), lead_id, data["lead_class"], data["class_reason"], clock.now()
    )


@bp.post(f"/<{ID}:lead_id>/lost")
@staff_required("lead.archive")
@bp.arguments(LeadLostIn)
@bp.response(200, LeadOut)
def lost(data, lead_id: int):
    """Mark the lead lost with a reason: it leaves my leads for the dormant pool."""
    return leads.archive(
        db.session, current_staff(), lead_id, data["reason"], data["note"], clock.now()
    )
