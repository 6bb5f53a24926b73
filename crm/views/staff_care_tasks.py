"""Staff H5 pages of the care tasks (issue 8: the calendar's calls and greetings to send
personally, shown on the work-bench with a due time, done with an outcome).

The work-bench lists the actor's open tasks (``staff_h5.home``); a task's page shows what to
talk about or the ready text to copy, and a form for the outcome. Every role that works with
customers opens the staff H5 pages, service advisors and care specialists included; a task
that is not the actor's answers 404.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from crm import clock
from crm.errors import NotFound, ValidationError
from crm.extensions import db
from crm.models import CareTask, CareTaskKind
from crm.services.care import after_service, tasks
from crm.views import staff_h5
from crm.views.forms import form_page, form_values

bp = Blueprint("staff_care_tasks", __name__, url_prefix="/h5/care-tasks")
bp.before_request(staff_h5.require_staff)


def _page(task: CareTask, values: dict, errors: dict):
    now = clock.now()
    return form_page(
        "h5/care_task.html",
        errors,
        task=task,
        values=values,
        overdue=task.due_at < now,
        personal=task.kind == CareTaskKind.SEND_PERSONALLY,
    )


@bp.get("/<int:task_id>")
def task_page(task_id: int):
    """One of the tasks on the actor's work-bench."""
    own = tasks.open_tasks(db.session, current_user, clock.now())
    task = next((task for task in own if task.id == task_id), None)
    if task is None:
        raise NotFound("没有这条任务")
    return _page(task, {"outcome": ""}, {})


@bp.post("/<int:task_id>/done")
def done(task_id: int):
    values = form_values(("outcome",))
    try:
        after_service.record_outcome(
            db.session, current_user, task_id, values["outcome"], clock.now()
        )
    except ValidationError as error:
        # Refused after the task was found to be the actor's: show it again with the error.
        errors = {error.field or "outcome": error.message}
        return _page(db.session.get(CareTask, task_id), values, errors)
    flash("已记录处理结果")
    return redirect(url_for("staff_h5.home", _anchor="care-tasks"))
