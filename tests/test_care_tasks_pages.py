"""The care tasks on the staff work-bench over HTTP (issue 8: staff tasks shown with a due time
and done with an outcome; greetings to send personally with their ready text)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm import clock
from crm.models import CareTask, CareTaskKind, OutboxMessage
from crm.services.care import tasks
from tests import factories as f

TEXT = "交车3日电访：浙A12345 凯美瑞。请确认上牌、保险等手续是否办妥。"


def enter(client, staff):
    """Log ``staff`` into the staff H5 pages (the sandbox's log-in by phone)."""
    response = client.post("/h5/login", data={"phone": staff.phone})
    assert response.status_code == 302


def queue(session, customer, staff, kind=CareTaskKind.DELIVERY_CALL_3D, due=None, text=TEXT):
    task_id = tasks.queue(
        session,
        kind=kind,
        customer=customer,
        staff_id=staff.id if staff else None,
        occasion=f"page-{kind.value}-{due}",
        due=due or clock.now() + timedelta(hours=2),
        text=text,
        now=clock.now(),
    )
    session.commit()
    return task_id


def care_section(client) -> str:
    page = client.get("/h5/").get_data(as_text=True)
    match = re.search(r'<section id="care-tasks".*?</section>', page, re.S)
    assert match, "no care task section on the work-bench"
    return match.group(0)


def task_cell(section: str, task_id: int) -> str:
    match = re.search(rf'data-care-task="{task_id}".*?记录结果', section, re.S)
    assert match, f"no task {task_id} on the work-bench"
    return match.group(0)


def test_workbench_lists_the_salespersons_care_tasks_with_their_text(
    client, org, session, frozen_now
):
    task_id = queue(session, org.customer_a1, org.sales_a1)
    enter(client, org.sales_a1)
    cell = task_cell(care_section(client), task_id)
    assert "交车3日电访" in cell and "客户甲" in cell and TEXT in cell
    assert "06-15 12:00" in cell and "已逾期" not in cell and "late" not in cell


def test_overdue_task_shows_its_due_time_in_red(client, org, session, frozen_now):
    task_id = queue(session, org.customer_a1, org.sales_a1, due=clock.now() - timedelta(days=1))
    enter(client, org.sales_a1)
    cell = task_cell(care_section(client), task_id)
    assert re.search(r'class="care-task__due late">已逾期 · 06-14 10:00', cell)


def test_greeting_to_send_personally_has_a_copy_button(client, org, session, frozen_now):
    greeting = "【生日祝福】\n祝福：生日快乐，一路平安"
    task_id = queue(
        session, org.customer_a1, org.sales_a1, CareTaskKind.SEND_PERSONALLY, text=greeting
    )
    call_id = queue(session, org.customer_a2, org.sales_a1)
    enter(client, org.sales_a1)
    section = care_section(client)
    assert f'id="care-text-{task_id}">{greeting}</p>' in section
    assert f'data-copy="care-text-{task_id}">复制</button>' in task_cell(section, task_id)
    assert "复制" not in task_cell(section, call_id)
    assert "js/copy_text.js" in section
    with client.get("/static/js/copy_text.js") as script:
        assert script.status_code == 200 and b"navigator.clipboard" in script.data


@pytest.mark.parametrize("role", ["advisor_a", "care_a"])
def test_after_sales_and_care_staff_see_their_tasks_on_the_workbench(
    client, org, session, frozen_now, role
):
    staff = getattr(org, role)
    own = queue(session, org.customer_a1, staff, CareTaskKind.BOOKING_CALL, text="请电话邀约保养")
    enter(client, staff)
    response = client.get("/h5/")
    assert response.status_code == 200
    section = care_section(client)
    assert "次日电话邀约" in task_cell(section, own) and "请电话邀约保养" in section


def test_care_specialist_also_sees_the_stores_unassigned_tasks(client, org, session, frozen_now):
    task_id = queue(session, org.customer_a1, None, CareTaskKind.PHONE_INSTEAD, text="请电话告知")
    enter(client, org.care_a)
    assert "电话告知" in task_cell(care_section(client), task_id)
    client.post("/h5/logout")
    enter(client, org.advisor_a)
    assert f'data-care-task="{task_id}"' not in care_section(client)


def test_recording_the_outcome_closes_the_task(client, org, session, frozen_now):
    task_id = queue(session, org.customer_a1, org.sales_a1)
    enter(client, org.sales_a1)
    page = client.get(f"/h5/care-tasks/{task_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert TEXT in html and 'name="outcome"' in html and 'name="csrf_token"' in html
    assert f'href="tel:{org.customer_a1.phone}"' in html

    response = client.post(f"/h5/care-tasks/{task_id}/done", data={"outcome": "手续齐全，无故障灯"})
    assert response.status_code == 302 and response.location.endswith("/h5/#care-tasks")
    task = session.get(CareTask, task_id)
    session.refresh(task)
    assert (task.outcome, task.done_by_id) == ("手续齐全，无故障灯", org.sales_a1.id)
    assert task.done_at is not None
    assert f'data-care-task="{task_id}"' not in care_section(client)


def test_empty_outcome_is_refused_beside_the_field(client, org, session, frozen_now):
    task_id = queue(session, org.customer_a1, org.sales_a1)
    enter(client, org.sales_a1)
    response = client.post(f"/h5/care-tasks/{task_id}/done", data={"outcome": "  "})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'data-field="outcome">请填写处理结果<', html)
    assert TEXT in html  # the task is shown again with the error
    assert session.scalar(select(CareTask.done_at).where(CareTask.id == task_id)) is None


def test_another_salesperson_can_neither_open_nor_close_the_task(client, org, session, frozen_now):
    task_id = queue(session, org.customer_a1, org.sales_a1)
    enter(client, org.sales_a2)
    assert client.get(f"/h5/care-tasks/{task_id}").status_code == 404
    response = client.post(f"/h5/care-tasks/{task_id}/done", data={"outcome": "已处理"})
    assert response.status_code == 404
    assert session.scalar(select(CareTask.done_at).where(CareTask.id == task_id)) is None


def test_closing_a_repair_callback_on_the_phone_thanks_the_customer(
    client, org, session, frozen_now
):
    vehicle = f.VehicleFactory(customer=org.customer_a1)
    task_id = tasks.queue(
        session,
        kind=CareTaskKind.REPAIR_CALLBACK,
        customer=org.customer_a1,
        staff_id=org.advisor_a.id,
        occasion="1",
        due=clock.now(),
        text="车辆是否一切正常？",
        now=clock.now(),
        vehicle_id=vehicle.id,
    )
    session.commit()
    enter(client, org.advisor_a)
    response = client.post(f"/h5/care-tasks/{task_id}/done", data={"outcome": "车辆正常"})
    assert response.status_code == 302
    kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert kinds == ["repair_thanks"]
