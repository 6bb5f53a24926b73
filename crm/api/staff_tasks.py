"""Care tasks for the staff mini-program (issue 11 "Staff: tasks and their outcomes"; issue 8:
the calendar's calls and greetings to send personally, done with an outcome), through the
services of the H5 task pages (crm/views/staff_care_tasks.py). A task that is not mine is
404."""

from __future__ import annotations

from crm import clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.pagination import cursor_page
from crm.api.schemas import ApiSchema, PageArgs, page_of, text
from crm.api.schemas_staff import CareTaskOut
from crm.extensions import db
from crm.services.care import after_service, tasks

bp = ApiBlueprint(
    "api_staff_tasks", __name__, url_prefix="/staff/care-tasks", description="关怀任务"
)


class OutcomeIn(ApiSchema):
    outcome = text("处理结果", tasks.OUTCOME_MAX, required=True)


@bp.get("")
@staff_required("view")
@bp.arguments(PageArgs, location="query")
@bp.etag
@bp.response(200, page_of(CareTaskOut, "CareTaskPage"))
def index(args):
    """My open tasks due by the end of today, oldest first (a care specialist also sees the
    store's unassigned ones)."""
    listed = tasks.open_tasks(db.session, current_staff(), clock.now())
    return cursor_page(listed, args, key=lambda task: (task.due_at, task.id))


@bp.post(f"/<{ID}:task_id>/outcome")
@staff_required("view")
@bp.arguments(OutcomeIn)
@bp.response(200, CareTaskOut)
def outcome(data, task_id: int):
    """Close one of my tasks with what came of it (closing a repair callback queues the
    thank-you message)."""
    return after_service.record_outcome(
        db.session, current_staff(), task_id, data["outcome"], clock.now()
    )
