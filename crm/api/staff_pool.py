"""The store's customer pool for the staff mini-program (issue 11 "Staff: pool (list, search,
claim by first contact)"; PRODUCT "The customer pool"), through ``crm.services.pool`` as the
H5 pool page does. A pool lead is claimed by logging the first contact on it:
``POST /staff/leads/{lead_id}/follow-ups`` (crm.api.staff_leads) — of two salespeople claiming
at once exactly one wins, the other gets 409.
"""

from __future__ import annotations

from marshmallow import fields, validate

from crm import clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ApiBlueprint
from crm.api.pagination import query_page
from crm.api.schemas import PageArgs, page_of, text
from crm.api.schemas_staff import LeadOut
from crm.api.staff_leads import CLASSES
from crm.extensions import db
from crm.models import LEAD_SOURCE_LABELS, Lead
from crm.services import pool

bp = ApiBlueprint("api_staff_pool", __name__, url_prefix="/staff/pool", description="客户池")


class PoolArgs(PageArgs):
    model_of_interest = text("意向车型", 50, load_default="")
    source = fields.String(
        load_default="",
        validate=validate.OneOf(
            ["", *(s.value for s in LEAD_SOURCE_LABELS)], error="请选择线索来源"
        ),
        metadata={"label": "source"},
    )
    lead_class = fields.String(
        load_default="",
        validate=validate.OneOf(["", *CLASSES], error="请选择线索级别"),
        metadata={"label": "lead_class"},
    )
    age = fields.String(
        load_default="",
        validate=validate.OneOf(["", *pool.AGE_BUCKETS], error="请选择入池时间"),
        metadata={"label": "age", "description": "week：7天内；month：7–30天；older：30天以上"},
    )
    phone = text("手机号", 30, load_default="")


@bp.get("")
@staff_required("view")
@bp.arguments(PoolArgs, location="query")
@bp.etag
@bp.response(200, page_of(LeadOut, "PoolPage"))
def index(args):
    """The store's unclaimed open leads I may see, newest first, filtered by model, source,
    class, time in the pool or phone (a malformed phone is 400 naming ``phone``)."""
    filters = pool.PoolFilters(
        **{name: args[name] for name in ("model_of_interest", "source", "lead_class", "age")},
        phone=args["phone"],
    )
    query = pool.browse_query(current_staff(), filters, clock.now()).order_by(None)
    return query_page(
        db.session,
        query,
        (Lead.created_at, Lead.id),
        args,
        key=lambda lead: (lead.created_at, lead.id),
        descending=True,
    )
