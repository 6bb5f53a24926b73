"""Test drives for the staff mini-program (issue 11 "Staff: test drives"; PRODUCT "The
customer pool": a booked drive enters the salesperson's plan), through
``crm.services.test_drives`` as the H5 pages do: book on one of my open leads, record how it
went (counts as a test-drive contact), cancel."""

from __future__ import annotations

from marshmallow import fields

from crm import clock
from crm.api.auth import current_staff, staff_required
from crm.api.blueprint import ID, ApiBlueprint
from crm.api.idempotency import idempotent
from crm.api.schemas import ApiSchema, text
from crm.api.schemas_staff import TestDriveOut
from crm.extensions import db
from crm.services import follow_ups, test_drives

bp = ApiBlueprint("api_staff_test_drives", __name__, url_prefix="/staff", description="试驾")


class TestDriveBookIn(ApiSchema):
    scheduled_at = fields.AwareDateTime(required=True, metadata={"label": "试驾时间"})
    car = text("试驾车辆", test_drives.CAR_MAX, required=True)


class TestDriveRecordIn(ApiSchema):
    feelings = text("试驾感受", follow_ups.TEXT_MAX, required=True)
    model_of_interest = text("意向车型", test_drives.CAR_MAX, load_default="")
    trim_of_interest = text("意向配置", test_drives.CAR_MAX, load_default="")
    next_step = text("下一步", follow_ups.NEXT_STEP_MAX, load_default="")
    next_step_at = fields.AwareDateTime(
        load_default=None, allow_none=True, metadata={"label": "下次跟进时间"}
    )


@bp.post(f"/leads/<{ID}:lead_id>/test-drives")
@staff_required("test_drive.book")
@idempotent
@bp.arguments(TestDriveBookIn)
@bp.response(201, TestDriveOut)
def book(data, lead_id: int):
    """Book a test drive on one of my open leads, at a time still to come."""
    return test_drives.book(
        db.session, current_staff(), lead_id, data["scheduled_at"], data["car"], clock.now()
    )


@bp.post(f"/test-drives/<{ID}:drive_id>/record")
@staff_required("test_drive.book")
@bp.arguments(TestDriveRecordIn)
@bp.response(200, TestDriveOut)
def record(data, drive_id: int):
    """Complete my booked drive: the customer's feelings, the model and trim now wanted and
    the next step; it is logged on the lead as a test-drive contact."""
    return test_drives.record(
        db.session, current_staff(), drive_id, test_drives.DriveRecord(**data), clock.now()
    )


@bp.post(f"/test-drives/<{ID}:drive_id>/cancel")
@staff_required("test_drive.book")
@bp.response(200, TestDriveOut)
def cancel(drive_id: int):
    """Cancel my booked drive."""
    return test_drives.cancel(db.session, current_staff(), drive_id)
