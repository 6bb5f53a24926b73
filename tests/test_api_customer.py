"""The customer endpoints of the JSON API (issue 11 "Customers"): each answers the logged-in
customer through the same services as the member pages; another customer's record is 404, a
staff token is 403 and no token is 401 on every one of them."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import Booking, CareTask, CareTaskKind, Complaint
from crm.services import bookings, care_opt_outs, membership
from tests import factories as f
from tests.test_api_platform import PNG, bearer, operations_of

TOMORROW_9 = "2026-06-16T09:00:00+08:00"
TOMORROW_11 = "2026-06-16T11:00:00+08:00"
NINE = bookings.local_hour(date(2026, 6, 16), 9)


def test_every_customer_endpoint_refuses_no_token_and_a_staff_token(app, client, org):
    operations = operations_of(client, "customer")
    assert len(operations) >= 18
    for method, path in operations:
        url = path
        anonymous = client.open(url, method=method.upper(), json={})
        assert anonymous.status_code == 401, (method, url)
        staff = client.open(url, method=method.upper(), json={}, headers=bearer(app, org.care_a))
        assert staff.status_code == 403, (method, url)
        assert staff.get_json()["error"]["code"] == "forbidden"


# --- member card and vehicles ----------------------------------------------------------------


def test_my_member_card_shows_tier_spend_and_the_next_tier(app, client, org, session):
    assert client.get("/api/v1/member/card", headers=bearer(app, org.customer_a1)).get_json() == {
        "card": None
    }
    membership.issue_card(session, org.customer_a1, clock.now())
    session.commit()
    card = client.get("/api/v1/member/card", headers=bearer(app, org.customer_a1)).get_json()
    assert card["card"]["card_no"] == membership.card_number(org.customer_a1)
    assert card["card"]["tier_name"] == "普通会员"
    assert card["card"]["next_tier_name"] == "银卡会员"
    assert card["card"]["next_tier_gap_fen"] == 50_000 * 100


def test_my_vehicles_and_one_cars_service_history(app, client, org, session):
    car = f.VehicleFactory(customer=org.customer_a1, plate="浙A12345")
    f.ServiceOrderFactory(vehicle=car, work_items="更换机油", labour_fen=30000)
    theirs = f.VehicleFactory(customer=org.customer_b)
    headers = bearer(app, org.customer_a1)
    listed = client.get("/api/v1/member/vehicles", headers=headers).get_json()
    assert [item["plate"] for item in listed["items"]] == ["浙A12345"]
    assert listed["items"][0]["last_service_on"] == "2025-03-01"
    assert {d["label"] for d in listed["items"][0]["due_dates"]} >= {"交强险到期", "年检到期"}
    detail = client.get(f"/api/v1/member/vehicles/{car.id}", headers=headers).get_json()
    assert detail["orders"][0]["work_items"] == "更换机油"
    assert detail["orders"][0]["labour_fen"] == 30000
    assert detail["stores"] == {str(org.store_a.id): org.store_a.name}
    other = client.get(f"/api/v1/member/vehicles/{theirs.id}", headers=headers)
    assert other.status_code == 404


# --- bookings --------------------------------------------------------------------------------


def test_i_see_free_hours_book_change_and_cancel(app, client, org, session, frozen_now):
    car = f.VehicleFactory(customer=org.customer_a1)
    headers = bearer(app, org.customer_a1)
    day = client.get(
        "/api/v1/member/bookings/slots", query_string={"day": "2026-06-16"}, headers=headers
    ).get_json()
    assert day["store"]["id"] == org.store_a.id and day["day"] == "2026-06-16"
    assert {store["id"] for store in day["stores"]} == {org.store_a.id, org.store_b.id}
    assert day["slots"][0]["open"] is True
    booked = client.post(
        "/api/v1/member/bookings",
        json={"starts_at": TOMORROW_9, "vehicle": car.id, "note": "顺便洗车"},
        headers=headers,
    )
    assert booked.status_code == 201, booked.get_json()
    booking = booked.get_json()
    assert booking["status"] == "booked" and booking["starts_at"] == "2026-06-16T01:00:00+00:00"
    listed = client.get("/api/v1/member/bookings", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [booking["id"]]
    moved = client.post(
        f"/api/v1/member/bookings/{booking['id']}/change",
        json={"starts_at": TOMORROW_11},
        headers=headers,
    ).get_json()
    assert moved["starts_at"] == "2026-06-16T03:00:00+00:00"
    cancelled = client.post(f"/api/v1/member/bookings/{booking['id']}/cancel", headers=headers)
    assert cancelled.get_json()["status"] == "cancelled"
    assert client.get("/api/v1/member/bookings", headers=headers).get_json()["items"] == []


def test_a_full_hour_is_409_and_my_car_is_required(app, client, org, session, frozen_now):
    car = f.VehicleFactory(customer=org.customer_a1)
    headers = bearer(app, org.customer_a1)
    no_car = client.post("/api/v1/member/bookings", json={"starts_at": TOMORROW_9}, headers=headers)
    assert no_car.status_code == 400 and no_car.get_json()["error"]["field"] == "vehicle"
    org.store_a.booking_capacity = 1
    for customer in (org.customer_a2,):
        bookings.book(
            session,
            None,
            customer,
            bookings.local_hour(clock.today(), 9).replace(day=16),
            "periodic_maintenance",
            "",
            None,
            clock.now(),
        )
    full = client.post(
        "/api/v1/member/bookings",
        json={"starts_at": TOMORROW_9, "vehicle": car.id},
        headers=headers,
    )
    assert full.status_code == 409
    assert full.get_json()["error"] == {
        "code": "conflict",
        "message": "该时段已约满，请选择其他时段",
        "field": "starts_at",
    }


def test_another_customers_booking_cannot_be_changed_or_cancelled(
    app, client, org, session, frozen_now
):
    theirs = bookings.book(
        session,
        None,
        org.customer_b,
        NINE,
        "periodic_maintenance",
        "",
        None,
        clock.now(),
    )
    headers = bearer(app, org.customer_a1)
    cancel = client.post(f"/api/v1/member/bookings/{theirs.id}/cancel", headers=headers)
    change = client.post(
        f"/api/v1/member/bookings/{theirs.id}/change",
        json={"starts_at": TOMORROW_11},
        headers=headers,
    )
    assert cancel.status_code == change.status_code == 404
    assert session.get(Booking, theirs.id).status == "booked"


# --- complaints ------------------------------------------------------------------------------


def test_i_file_a_complaint_with_a_photo_and_follow_its_status(app, client, org, session):
    car = f.VehicleFactory(customer=org.customer_a1)
    headers = bearer(app, org.customer_a1)
    filed = client.post(
        "/api/v1/member/complaints",
        json={"text": "保养后异响", "vehicle": car.id, "photos": [base64.b64encode(PNG).decode()]},
        headers=headers,
    )
    assert filed.status_code == 201, filed.get_json()
    complaint = filed.get_json()
    assert complaint["state"] == "new" and complaint["state_label"] == "待联系"
    assert [step["step"] for step in complaint["timeline"]] == ["已提交"]
    photo = client.get(
        f"/api/v1/member/complaints/{complaint['id']}/photos/{complaint['photo_ids'][0]}",
        headers=headers,
    )
    assert photo.mimetype == "image/png" and photo.data == PNG
    detail = client.get(f"/api/v1/member/complaints/{complaint['id']}", headers=headers)
    assert detail.get_json()["text"] == "保养后异响"
    listed = client.get("/api/v1/member/complaints", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [complaint["id"]]


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        ("bm90IGFuIGltYWdl", "第1张照片不是JPEG、PNG或WebP图片"),
        ("%%%", "第1张照片不是有效的base64"),
    ],
)
def test_a_photo_gets_the_checks_of_the_member_pages(app, client, org, session, photo, message):
    response = client.post(
        "/api/v1/member/complaints",
        json={"text": "投诉", "photos": [photo]},
        headers=bearer(app, org.customer_a1),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "invalid",
        "message": message,
        "field": "photos",
    }
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_another_customers_complaint_and_photo_are_404(app, client, org, session):
    theirs = client.post(
        "/api/v1/member/complaints",
        json={"text": "他的投诉", "photos": [base64.b64encode(PNG).decode()]},
        headers=bearer(app, org.customer_b),
    ).get_json()
    headers = bearer(app, org.customer_a1)
    assert (
        client.get(f"/api/v1/member/complaints/{theirs['id']}", headers=headers).status_code == 404
    )
    photo_url = f"/api/v1/member/complaints/{theirs['id']}/photos/{theirs['photo_ids'][0]}"
    assert client.get(photo_url, headers=headers).status_code == 404
    assert client.get("/api/v1/member/complaints", headers=headers).get_json()["items"] == []


# --- surveys ---------------------------------------------------------------------------------


def test_i_answer_my_open_survey_once(app, client, org, session, frozen_now):
    survey = f.SurveyFactory(customer=org.customer_a1)
    theirs = f.SurveyFactory(customer=org.customer_b)
    headers = bearer(app, org.customer_a1)
    listed = client.get("/api/v1/member/surveys", headers=headers).get_json()["items"]
    assert [item["id"] for item in listed] == [survey.id]
    assert (listed[0]["scale_min"], listed[0]["scale_max"]) == (0, 10)
    out_of_range = client.post(
        f"/api/v1/member/surveys/{survey.id}/answer", json={"score": 11}, headers=headers
    )
    assert out_of_range.status_code == 400
    assert out_of_range.get_json()["error"]["field"] == "score"
    answered = client.post(
        f"/api/v1/member/surveys/{survey.id}/answer",
        json={"score": 9, "comment": "很好"},
        headers=headers,
    ).get_json()
    assert answered["recorded"] is True and answered["survey"]["state"] == "answered"
    again = client.post(
        f"/api/v1/member/surveys/{survey.id}/answer", json={"score": 2}, headers=headers
    ).get_json()
    assert again["recorded"] is False and again["survey"]["score"] == 9
    shown = client.get(f"/api/v1/member/surveys/{survey.id}", headers=headers).get_json()
    assert shown["comment"] == "很好"
    other = client.post(
        f"/api/v1/member/surveys/{theirs.id}/answer", json={"score": 9}, headers=headers
    )
    assert other.status_code == 404


# --- preferences, consent, privacy requests --------------------------------------------------


def test_i_switch_care_off_but_not_a_critical_kind(app, client, org, session):
    headers = bearer(app, org.customer_a1)
    choices = client.get("/api/v1/member/preferences", headers=headers).get_json()["choices"]
    optional = next(c["kind"] for c in choices if not c["critical"])
    critical = next(c["kind"] for c in choices if c["critical"])
    saved = client.put(
        "/api/v1/member/preferences", json={"choices": {optional: "off"}}, headers=headers
    ).get_json()["choices"]
    assert next(c for c in saved if c["kind"] == optional)["receiving"] is False
    refused = client.put(
        "/api/v1/member/preferences", json={"choices": {critical: "off"}}, headers=headers
    )
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == critical
    kinds = {c.kind.name: c.receiving for c in care_opt_outs.for_member(session, org.customer_a1)}
    assert kinds[optional] is False and kinds[critical] is True


def test_i_withdraw_marketing_consent_but_not_a_necessary_one(app, client, org, session):
    headers = bearer(app, org.customer_a1)
    withdrawn = client.post(
        "/api/v1/member/consents", json={"purpose": "marketing", "granted": False}, headers=headers
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()
    states = {c["purpose"]: c for c in withdrawn.get_json()["consents"]}
    assert states["marketing"]["granted"] is False and states["marketing"]["channel"] == "wechat"
    refused = client.post(
        "/api/v1/member/consents",
        json={"purpose": "service_reminders", "granted": False},
        headers=headers,
    )
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "purpose"
    listed = client.get("/api/v1/member/consents", headers=headers).get_json()["consents"]
    assert {c["purpose"] for c in listed} == {"service_reminders", "membership", "marketing"}


def test_i_ask_for_an_export_of_my_data_once_while_it_is_open(app, client, org, session):
    headers = bearer(app, org.customer_a1)
    asked = client.post(
        "/api/v1/member/privacy-requests",
        json={"kind": "export", "note": "邮件发我"},
        headers=headers,
    )
    assert asked.status_code == 201
    assert asked.get_json()["label"] == "导出我的个人信息"
    twice = client.post("/api/v1/member/privacy-requests", json={"kind": "export"}, headers=headers)
    assert twice.status_code == 409 and twice.get_json()["error"]["field"] == "kind"
    deletion = client.post(
        "/api/v1/member/privacy-requests", json={"kind": "delete"}, headers=headers
    )
    assert deletion.status_code == 201
    open_requests = client.get("/api/v1/member/privacy-requests", headers=headers).get_json()
    assert {r["kind"] for r in open_requests["open_requests"]} == {"export", "delete"}
    tasks = session.scalars(
        select(CareTask).where(CareTask.kind == CareTaskKind.PRIVACY_REQUEST.value)
    ).all()
    assert {task.staff_id for task in tasks} == {org.care_a.id}
    others = bearer(app, org.customer_b)
    assert client.get("/api/v1/member/privacy-requests", headers=others).get_json() == {
        "open_requests": []
    }
