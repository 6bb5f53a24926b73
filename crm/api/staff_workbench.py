"""The staff member's work-bench for the mini-program (issue 11 "Staff: work-bench"; PRODUCT
"The customer pool", "Lead classes and cadence"): what the H5 home page shows, from the same
services — ``crm.services.workbench.summary`` and the care tasks due today
(``crm.services.care.tasks.open_tasks``)."""

from __future__ import annotations

from marshmallow import fields

from crm import clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ApiBlueprint
from crm.api.schemas import ApiSchema
from crm.api.schemas_staff import CareTaskOut, LeadOut, TestDriveOut
from crm.extensions import db
from crm.services import workbench
from crm.services.care import tasks as care_tasks

bp = ApiBlueprint("api_staff_workbench", __name__, url_prefix="/staff", description="工作台")


class NewLeadOut(ApiSchema):
    lead = fields.Nested(LeadOut, required=True)
    late = fields.Boolean(required=True, metadata={"description": "超过1小时未首次联系"})


class ReturningOut(ApiSchema):
    lead = fields.Nested(LeadOut, required=True)
    days_left = fields.Integer(required=True, metadata={"description": "几天后回到客户池"})


class CustomerBrief(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class WorkbenchOut(ApiSchema):
    open_by_class = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "我跟进中的线索按级别计数"},
    )
    pool_size = fields.Integer(required=True)
    new_leads = fields.List(fields.Nested(NewLeadOut), required=True)
    overdue = fields.List(fields.Nested(LeadOut), required=True)
    overdue_count = fields.Integer(required=True)
    due_today = fields.List(fields.Nested(LeadOut), required=True)
    due_today_count = fields.Integer(required=True)
    test_drives = fields.List(fields.Nested(TestDriveOut), required=True)
    returning = fields.List(fields.Nested(ReturningOut), required=True)
    customers = fields.List(fields.Nested(CustomerBrief), required=True)
    care_tasks = fields.List(
        fields.Nested(CareTaskOut), required=True, metadata={"description": "今天到期的关怀任务"}
    )


@bp.get("/workbench")
@staff_required("view")
@bp.etag
@bp.response(200, WorkbenchOut)
def index():
    """My day: new leads awaiting the first call, follow-ups overdue and due today, today's
    test drives, leads about to return to the pool, counts by class, the pool's size, my
    newest customers and my care tasks due today."""
    actor, now = current_staff(), clock.now()
    bench = workbench.summary(db.session, actor, now)
    return {
        **bench.__dict__,
        "new_leads": [{"lead": item.lead, "late": item.late} for item in bench.new_leads],
        "returning": [{"lead": item.lead, "days_left": item.days_left} for item in bench.returning],
        "care_tasks": care_tasks.open_tasks(db.session, actor, now),
    }
