"""Test drives enter the salesperson's plan and are recorded (PRODUCT "The customer pool")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm import clock
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import Communication, TestDriveStatus
from crm.services import test_drives, workbench
from crm.services.test_drives import DriveRecord


def test_booked_test_drive_enters_the_plan_and_shows_on_the_day(org, session, frozen_now):
    at = clock.now() + timedelta(hours=3)
    drive = test_drives.book(
        session, org.sales_a1, org.lead_a1.id, at, "凯美瑞 2.5 试驾车", clock.now()
    )
    bench = workbench.summary(session, org.sales_a1, clock.now())
    assert [item.id for item in bench.test_drives] == [drive.id]
    assert bench.test_drives[0].lead.name == org.lead_a1.name


def test_tomorrows_test_drive_is_not_on_todays_work_bench(org, session, frozen_now):
    test_drives.book(
        session, org.sales_a1, org.lead_a1.id, clock.now() + timedelta(days=1), "车", clock.now()
    )
    assert workbench.summary(session, org.sales_a1, clock.now()).test_drives == []


@pytest.mark.parametrize(
    ("car", "hours", "field"), [("", 2, "car"), ("车", -1, "scheduled_at"), ("x" * 51, 2, "car")]
)
def test_bad_booking_names_the_field(org, session, frozen_now, car, hours, field):
    with pytest.raises(ValidationError) as error:
        test_drives.book(
            session,
            org.sales_a1,
            org.lead_a1.id,
            clock.now() + timedelta(hours=hours),
            car,
            clock.now(),
        )
    assert error.value.field == field


def test_a_pool_lead_must_be_claimed_before_booking(org, session, frozen_now):
    with pytest.raises(ValidationError, match="认领"):
        test_drives.book(
            session,
            org.sales_a1,
            org.pool_lead_a.id,
            clock.now() + timedelta(hours=1),
            "车",
            clock.now(),
        )


def test_another_salespersons_lead_cannot_be_booked(org, session, frozen_now):
    with pytest.raises(NotFound):
        test_drives.book(
            session,
            org.sales_a2,
            org.lead_a1.id,
            clock.now() + timedelta(hours=1),
            "车",
            clock.now(),
        )


def test_recorded_drive_keeps_feelings_and_interest_and_counts_as_a_contact(
    org, session, frozen_now
):
    drive = test_drives.book(
        session,
        org.sales_a1,
        org.lead_a1.id,
        clock.now() + timedelta(hours=1),
        "凯美瑞",
        clock.now(),
    )
    frozen_now.shift(timedelta(hours=2))
    test_drives.record(
        session,
        org.sales_a1,
        drive.id,
        DriveRecord(
            feelings="加速平顺，后排宽敞", model_of_interest="凯美瑞", trim_of_interest="2.5豪华"
        ),
        clock.now(),
    )
    assert (drive.status, drive.driven_at) == (TestDriveStatus.DONE, clock.now())
    assert org.lead_a1.trim_of_interest == "2.5豪华"
    assert org.lead_a1.last_contact_at == clock.now()
    assert org.lead_a1.lead_class == "intent"  # test-drove
    contact = session.scalar(select(Communication).where(Communication.lead_id == org.lead_a1.id))
    assert contact.channel == "test_drive"
    assert "加速平顺" in contact.content


def test_recording_needs_feelings_and_changes_nothing_without(org, session, frozen_now):
    drive = test_drives.book(
        session, org.sales_a1, org.lead_a1.id, clock.now() + timedelta(hours=1), "车", clock.now()
    )
    with pytest.raises(ValidationError) as error:
        test_drives.record(session, org.sales_a1, drive.id, DriveRecord(feelings=" "), clock.now())
    assert error.value.field == "feelings"
    session.refresh(drive)
    assert drive.status == TestDriveStatus.BOOKED


def test_a_recorded_drive_cannot_be_recorded_or_cancelled_again(org, session, frozen_now):
    drive = test_drives.book(
        session, org.sales_a1, org.lead_a1.id, clock.now() + timedelta(hours=1), "车", clock.now()
    )
    test_drives.cancel(session, org.sales_a1, drive.id)
    with pytest.raises(ValidationError):
        test_drives.cancel(session, org.sales_a1, drive.id)


def test_supervisor_cannot_record_a_team_members_drive(org, session, frozen_now):
    drive = test_drives.book(
        session, org.sales_a1, org.lead_a1.id, clock.now() + timedelta(hours=1), "车", clock.now()
    )
    with pytest.raises(Forbidden):
        test_drives.record(session, org.supervisor_a1, drive.id, DriveRecord("好"), clock.now())
