"""The after-sales endpoints of the JSON API for staff (issue 11 "Staff: service orders
(advisor), tasks and their outcomes"): service orders recorded, listed and settled by the
store's advisors, and care tasks closed with an outcome — the same services as the H5 pages.
Another store's order or vehicle and another person's task are 404."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.models import CareTask, MileageReading, ServiceOrder
from tests import factories as f
from tests.test_api_platform import bearer


def _order(**overrides) -> dict:
    return {
        "work_order_no": "WO20260615001",
        "kind": "periodic_maintenance",
        "opened_on": "2026-06-15",
        "mileage_km": 15000,
        "work_items": "更换机油机滤",
        "labour_yuan": "300",
        "parts_yuan": "450.50",
        **overrides,
    }


def test_an_advisor_records_an_order_once_and_it_joins_the_mileage_history(
    app, client, org, session, frozen_now
):
    car = f.VehicleFactory(customer=org.customer_a1)
    url = f"/api/v1/staff/vehicles/{car.id}/service-orders"
    headers = {**bearer(app, org.advisor_a), "Idempotency-Key": "wo-1"}
    recorded = client.post(url, json=_order(), headers=headers)
    assert recorded.status_code == 201, recorded.get_json()
    assert client.post(url, json=_order(), headers=headers).get_json() == recorded.get_json()
    order = recorded.get_json()
    assert (order["labour_fen"], order["parts_fen"], order["total_fen"]) == (30000, 45050, 75050)
    assert order["advisor_id"] == org.advisor_a.id and order["paid_on"] is None
    assert session.scalar(select(func.count()).select_from(ServiceOrder)) == 1
    readings = session.scalars(
        select(MileageReading.km).where(MileageReading.vehicle_id == car.id)
    ).all()
    assert 15000 in readings
    listed = client.get(url, headers=bearer(app, org.advisor_a)).get_json()
    assert [item["work_order_no"] for item in listed["items"]] == ["WO20260615001"]


def test_a_taken_work_order_no_is_409_and_a_lower_mileage_400(
    app, client, org, session, frozen_now
):
    car = f.VehicleFactory(customer=org.customer_a1)
    url = f"/api/v1/staff/vehicles/{car.id}/service-orders"
    headers = bearer(app, org.advisor_a)
    assert client.post(url, json=_order(), headers=headers).status_code == 201
    taken = client.post(url, json=_order(mileage_km=16000), headers=headers)
    assert taken.status_code == 409
    assert taken.get_json()["error"] == {
        "code": "conflict",
        "message": "工单号已存在",
        "field": "work_order_no",
    }
    lower = client.post(url, json=_order(work_order_no="WO2", mileage_km=100), headers=headers)
    assert lower.status_code == 400 and lower.get_json()["error"]["field"] == "mileage_km"
    assert session.scalar(select(func.count()).select_from(ServiceOrder)) == 1


def test_only_advisors_and_admins_of_the_store_record_orders(app, client, org, frozen_now):
    mine = f.VehicleFactory(customer=org.customer_a1)
    theirs = f.VehicleFactory(customer=org.customer_b)
    salesperson = client.post(
        f"/api/v1/staff/vehicles/{mine.id}/service-orders",
        json=_order(),
        headers=bearer(app, org.sales_a1),
    )
    assert salesperson.status_code == 403
    other_store = client.post(
        f"/api/v1/staff/vehicles/{theirs.id}/service-orders",
        json=_order(),
        headers=bearer(app, org.advisor_a),
    )
    assert other_store.status_code == 404
    assert other_store.get_json()["error"]["code"] == "not_found"
    listed = client.get(
        f"/api/v1/staff/vehicles/{theirs.id}/service-orders", headers=bearer(app, org.advisor_a)
    )
    assert listed.status_code == 404


def test_the_store_list_pages_newest_first_and_hides_other_stores(
    app, client, org, session, frozen_now
):
    car = f.VehicleFactory(customer=org.customer_a1)
    older = f.ServiceOrderFactory(vehicle=car, work_order_no="A-OLD")
    newer = f.ServiceOrderFactory(
        vehicle=car, work_order_no="A-NEW", opened_on=older.opened_on.replace(year=2026)
    )
    f.ServiceOrderFactory(vehicle=f.VehicleFactory(customer=org.customer_b), work_order_no="B-1")
    headers = bearer(app, org.advisor_a)
    first = client.get("/api/v1/staff/service-orders?limit=1", headers=headers).get_json()
    assert [item["id"] for item in first["items"]] == [newer.id]
    second = client.get(
        "/api/v1/staff/service-orders",
        query_string={"limit": 1, "cursor": first["next_cursor"]},
        headers=headers,
    ).get_json()
    assert [item["id"] for item in second["items"]] == [older.id]
    assert second["next_cursor"] is None
    admin_b = client.get("/api/v1/staff/service-orders", headers=bearer(app, org.store_admin_b))
    assert [item["work_order_no"] for item in admin_b.get_json()["items"]] == ["B-1"]
    shown = client.get(f"/api/v1/staff/service-orders/{older.id}", headers=headers)
    assert shown.get_json()["work_order_no"] == "A-OLD"
    etag = shown.headers["ETag"]
    unchanged = client.get(
        f"/api/v1/staff/service-orders/{older.id}", headers={**headers, "If-None-Match": etag}
    )
    assert unchanged.status_code == 304
    hidden = client.get(
        f"/api/v1/staff/service-orders/{older.id}", headers=bearer(app, org.store_admin_b)
    )
    assert hidden.status_code == 404


def test_an_open_order_is_settled_once(app, client, org, session, frozen_now):
    car = f.VehicleFactory(customer=org.customer_a1)
    order = client.post(
        f"/api/v1/staff/vehicles/{car.id}/service-orders",
        json=_order(),
        headers=bearer(app, org.advisor_a),
    ).get_json()
    url = f"/api/v1/staff/service-orders/{order['id']}/paid"
    future = client.post(url, json={"paid_on": "2026-06-16"}, headers=bearer(app, org.advisor_a))
    assert future.status_code == 400 and future.get_json()["error"]["field"] == "paid_on"
    settled = client.post(
        url, json={"paid_on": "2026-06-15"}, headers=bearer(app, org.store_admin_a)
    )
    assert settled.status_code == 200 and settled.get_json()["paid_on"] == "2026-06-15"
    twice = client.post(url, json={"paid_on": "2026-06-15"}, headers=bearer(app, org.advisor_a))
    assert twice.status_code == 409 and twice.get_json()["error"]["message"] == "该工单已结算"


# --- care tasks ------------------------------------------------------------------------------


def test_my_care_tasks_are_listed_and_closed_with_an_outcome(app, client, org, session, frozen_now):
    mine = f.CareTaskFactory(
        customer=org.customer_a1, staff_id=org.advisor_a.id, text="问问保养感受"
    )
    theirs = f.CareTaskFactory(customer=org.customer_a2, staff_id=org.sales_a1.id)
    headers = bearer(app, org.advisor_a)
    listed = client.get("/api/v1/staff/care-tasks", headers=headers).get_json()
    assert [item["id"] for item in listed["items"]] == [mine.id]
    assert listed["items"][0]["customer_name"] == "客户甲"
    assert listed["items"][0]["text"] == "问问保养感受"
    empty = client.post(
        f"/api/v1/staff/care-tasks/{mine.id}/outcome", json={"outcome": "  "}, headers=headers
    )
    assert empty.status_code == 400
    assert empty.get_json()["error"] == {
        "code": "invalid",
        "message": "请填写处理结果",
        "field": "outcome",
    }
    done = client.post(
        f"/api/v1/staff/care-tasks/{mine.id}/outcome",
        json={"outcome": "客户满意"},
        headers=headers,
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["outcome"] == "客户满意" and done.get_json()["done_at"]
    other = client.post(
        f"/api/v1/staff/care-tasks/{theirs.id}/outcome",
        json={"outcome": "代办"},
        headers=headers,
    )
    assert other.status_code == 404
    session.expire_all()  # the requests wrote through sessions of their own
    assert session.get(CareTask, theirs.id).done_at is None
    assert client.get("/api/v1/staff/care-tasks", headers=headers).get_json()["items"] == []


def test_a_care_specialist_also_sees_the_stores_unassigned_tasks(
    app, client, org, session, frozen_now
):
    unassigned = f.CareTaskFactory(customer=org.customer_a1, staff_id=None)
    f.CareTaskFactory(customer=org.customer_b, staff_id=None)
    listed = client.get("/api/v1/staff/care-tasks", headers=bearer(app, org.care_a)).get_json()
    assert [item["id"] for item in listed["items"]] == [unassigned.id]
    advisor = client.get("/api/v1/staff/care-tasks", headers=bearer(app, org.advisor_a))
    assert advisor.get_json()["items"] == []
