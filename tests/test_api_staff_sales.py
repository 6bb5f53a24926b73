"""The salesperson's endpoints of the JSON API (issue 11 "Staff"): work-bench, pool, leads,
follow-ups (claiming a pool lead), class changes, lost, test drives, deals and delivery — the
same services as the staff H5 pages. Another salesperson's or another store's record is 404
with the error body, a role without the action is 403, a customer token is 403 and no token
401 on every staff route."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from crm import id_cards
from crm.extensions import db
from crm.models import Communication, Customer, Deal, Lead, LeadMove, TestDrive
from tests import factories as f
from tests.test_api_platform import bearer, operations_of
from tests.test_claim_race import _seed

ID_NUMBER = id_cards.with_check_character("33010619880520123")
NEXT_WEEK = "2026-06-22T10:00:00+08:00"


def test_every_staff_endpoint_refuses_no_token_and_a_customer_token(app, client, org):
    operations = operations_of(client, "staff")
    assert len(operations) >= 22
    for method, url in operations:
        anonymous = client.open(url, method=method.upper(), json={})
        assert anonymous.status_code == 401, (method, url)
        customer = client.open(
            url, method=method.upper(), json={}, headers=bearer(app, org.customer_a1)
        )
        assert customer.status_code == 403, (method, url)
        assert customer.get_json()["error"] == {
            "code": "forbidden",
            "message": "该接口仅供员工使用",
            "field": "token",
        }


# --- work-bench ------------------------------------------------------------------------------


def test_workbench_shows_my_new_leads_todays_drives_and_care_tasks(
    app, client, org, session, frozen_now
):
    drive = f.TestDriveFactory(lead=org.lead_a1, staff_id=org.sales_a1.id)
    task = f.CareTaskFactory(customer=org.customer_a1, staff_id=org.sales_a1.id)
    f.CareTaskFactory(customer=org.customer_a2, staff_id=org.sales_a2.id)
    headers = bearer(app, org.sales_a1)
    response = client.get("/api/v1/staff/workbench", headers=headers)
    assert response.status_code == 200, response.get_json()
    bench = response.get_json()
    assert [item["lead"]["id"] for item in bench["new_leads"]] == [org.lead_a1.id]
    assert bench["new_leads"][0]["late"] is False
    assert bench["new_leads"][0]["lead"]["mine"] is True
    assert bench["pool_size"] == 1
    assert bench["open_by_class"] == {"potential": 1}
    assert [item["id"] for item in bench["test_drives"]] == [drive.id]
    assert [item["id"] for item in bench["care_tasks"]] == [task.id]
    assert [item["id"] for item in bench["customers"]] == [org.customer_a1.id]


def test_a_read_answers_304_while_unchanged_and_200_once_something_changed(
    app, client, org, session, frozen_now
):
    headers = bearer(app, org.sales_a1)
    first = client.get("/api/v1/staff/workbench", headers=headers)
    etag = first.headers["ETag"]
    again = client.get("/api/v1/staff/workbench", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    f.LeadFactory(store=org.store_a, owner=None)
    changed = client.get("/api/v1/staff/workbench", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.get_json()["pool_size"] == 2


# --- pool ------------------------------------------------------------------------------------


def test_the_pool_pages_through_my_stores_unclaimed_leads_newest_first(
    app, client, org, session, frozen_now
):
    newer = []
    for _hour in range(3):
        frozen_now.shift(3600)
        newer.append(f.LeadFactory(store=org.store_a, owner=None).id)
    f.LeadFactory(store=org.store_b, owner=None)
    headers = bearer(app, org.sales_a1)
    first = client.get("/api/v1/staff/pool", query_string={"limit": 2}, headers=headers)
    page = first.get_json()
    assert [item["id"] for item in page["items"]] == newer[::-1][:2]
    rest = client.get(
        "/api/v1/staff/pool",
        query_string={"limit": 2, "cursor": page["next_cursor"]},
        headers=headers,
    ).get_json()
    assert [item["id"] for item in rest["items"]] == [newer[0], org.pool_lead_a.id]
    assert rest["next_cursor"] is None
    assert rest["items"][0]["phone"].count("*") == 4  # not mine: masked as on the H5 pool
    assert rest["items"][0]["owner_id"] is None


def test_the_pool_is_searched_by_phone_and_a_bad_phone_or_cursor_names_the_field(
    app, client, org, session, frozen_now
):
    wanted = f.LeadFactory(store=org.store_a, owner=None, phone="+8613700001111")
    f.LeadFactory(store=org.store_b, owner=None, phone="+8613700002222")
    headers = bearer(app, org.sales_a1)
    found = client.get(
        "/api/v1/staff/pool", query_string={"phone": "13700001111"}, headers=headers
    ).get_json()
    assert [item["id"] for item in found["items"]] == [wanted.id]
    other_store = client.get(
        "/api/v1/staff/pool", query_string={"phone": "13700002222"}, headers=headers
    ).get_json()
    assert other_store["items"] == []
    bad_phone = client.get("/api/v1/staff/pool", query_string={"phone": "12"}, headers=headers)
    assert bad_phone.status_code == 400
    assert bad_phone.get_json()["error"]["field"] == "phone"
    bad_cursor = client.get("/api/v1/staff/pool", query_string={"cursor": "x"}, headers=headers)
    assert bad_cursor.status_code == 400
    assert bad_cursor.get_json()["error"]["field"] == "cursor"


# --- leads -----------------------------------------------------------------------------------


def test_a_retried_create_makes_one_lead_and_a_known_phone_is_409(app, client, org, session):
    headers = {**bearer(app, org.sales_a1), "Idempotency-Key": "new-lead-1"}
    body = {"name": "张先生", "phone": "13911112222", "source": "showroom"}
    first = client.post("/api/v1/staff/leads", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    retried = client.post("/api/v1/staff/leads", json=body, headers=headers)
    assert retried.status_code == 201 and retried.headers["Idempotent-Replayed"] == "true"
    assert retried.get_json() == first.get_json()
    lead = first.get_json()
    assert lead["owner_id"] == org.sales_a1.id and lead["phone"] == "+8613911112222"
    created = session.scalars(select(Lead).where(Lead.created_by_id == org.sales_a1.id)).all()
    assert [item.name for item in created] == ["张先生"]
    reused = client.post("/api/v1/staff/leads", json={**body, "name": "李先生"}, headers=headers)
    assert reused.status_code == 422
    assert reused.get_json()["error"]["field"] == "Idempotency-Key"
    again = client.post("/api/v1/staff/leads", json=body, headers=bearer(app, org.sales_a2))
    assert again.status_code == 409
    assert again.get_json()["error"] == {
        "code": "conflict",
        "message": "该手机号已是本店线索（销售A1）",
        "field": "phone",
    }


def test_a_new_lead_names_its_bad_field_and_an_advisor_may_not_create_one(app, client, org):
    headers = bearer(app, org.sales_a1)
    referral = client.post(
        "/api/v1/staff/leads",
        json={"name": "张", "phone": "13911113333", "source": "referral"},
        headers=headers,
    )
    assert referral.status_code == 400
    assert referral.get_json()["error"] == {
        "code": "invalid",
        "message": "转介绍请填写介绍人",
        "field": "referrer",
    }
    advisor = client.post(
        "/api/v1/staff/leads",
        json={"name": "张", "phone": "13911113333"},
        headers=bearer(app, org.advisor_a),
    )
    assert advisor.status_code == 403


def test_a_store_admins_new_lead_goes_to_the_pool(app, client, org, session):
    response = client.post(
        "/api/v1/staff/leads",
        json={"name": "展会客户", "phone": "13911114444", "source": "auto_show"},
        headers=bearer(app, org.store_admin_a),
    )
    assert response.status_code == 201
    assert response.get_json()["owner_id"] is None
    assert session.get(Lead, response.get_json()["id"]).owner_id is None


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("sales_a1", 200),
        ("supervisor_a1", 200),
        ("store_admin_a", 200),
        ("group_admin", 200),
        ("sales_a2", 404),
        ("sales_b", 404),
        ("store_admin_b", 404),
        ("advisor_a", 404),
    ],
)
def test_a_lead_is_seen_by_its_owner_team_and_store_only(app, client, org, who, status):
    response = client.get(
        f"/api/v1/staff/leads/{org.lead_a1.id}", headers=bearer(app, getattr(org, who))
    )
    assert response.status_code == status
    if status == 404:
        assert response.get_json() == {
            "error": {"code": "not_found", "message": "记录不存在", "field": None}
        }
    else:
        lead = response.get_json()["lead"]
        assert lead["name"] == "线索甲"
        # The full phone is the owner's; everyone else sees it masked.
        assert ("*" in lead["phone"]) is (who != "sales_a1")


def test_my_leads_list_only_mine_and_the_teams_for_a_supervisor(app, client, org):
    mine = client.get("/api/v1/staff/leads", headers=bearer(app, org.sales_a1)).get_json()
    assert [item["id"] for item in mine["items"]] == [org.lead_a1.id]
    team = client.get("/api/v1/staff/leads", headers=bearer(app, org.supervisor_a1)).get_json()
    assert [item["id"] for item in team["items"]] == [org.lead_a1.id]
    store = client.get("/api/v1/staff/leads", headers=bearer(app, org.store_admin_a)).get_json()
    assert {item["id"] for item in store["items"]} == {org.lead_a1.id, org.lead_a2.id}


def test_a_follow_up_claims_a_pool_lead_and_a_second_claimer_gets_409(
    app, client, org, session, frozen_now
):
    body = {"channel": "phone", "content": "首次电话，想看SUV"}
    url = f"/api/v1/staff/leads/{org.pool_lead_a.id}/follow-ups"
    claimed = client.post(url, json=body, headers=bearer(app, org.sales_a1))
    assert claimed.status_code == 201, claimed.get_json()
    assert claimed.get_json()["lead"]["owner_id"] == org.sales_a1.id
    assert claimed.get_json()["lead"]["mine"] is True
    late = client.post(url, json=body, headers=bearer(app, org.sales_a2))
    assert late.status_code == 409
    assert late.get_json()["error"] == {
        "code": "conflict",
        "message": "该线索已被销售A1认领",
        "field": "lead",
    }
    session.expire_all()  # the requests wrote through sessions of their own
    assert session.get(Lead, org.pool_lead_a.id).owner_id == org.sales_a1.id
    contacts = session.scalars(
        select(Communication.staff_id).where(Communication.lead_id == org.pool_lead_a.id)
    ).all()
    assert contacts == [org.sales_a1.id]
    pool = client.get("/api/v1/staff/pool", headers=bearer(app, org.sales_a2)).get_json()
    assert pool["items"] == []


def test_a_follow_up_is_logged_once_per_key_and_shows_on_the_timeline(
    app, client, org, session, frozen_now
):
    headers = {**bearer(app, org.sales_a1), "Idempotency-Key": "call-1"}
    body = {
        "channel": "phone",
        "content": "客户问了价格",
        "concerns": "担心续航",
        "next_step": "邀约试驾",
        "next_step_at": NEXT_WEEK,
    }
    url = f"/api/v1/staff/leads/{org.lead_a1.id}/follow-ups"
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert client.post(url, json=body, headers=headers).get_json() == first.get_json()
    count = session.scalar(
        select(func.count())
        .select_from(Communication)
        .where(Communication.lead_id == org.lead_a1.id)
    )
    assert count == 1
    entries = client.get(
        f"/api/v1/staff/leads/{org.lead_a1.id}/timeline", headers=bearer(app, org.sales_a1)
    ).get_json()["entries"]
    call = next(entry for entry in entries if entry["kind"] == "communication")
    assert call["staff_name"] == "销售A1"
    assert {"label": "客户顾虑", "text": "担心续航"} in call["lines"]
    other = client.get(
        f"/api/v1/staff/leads/{org.lead_a1.id}/timeline", headers=bearer(app, org.sales_b)
    )
    assert other.status_code == 404


def test_a_follow_up_with_a_past_next_step_is_400_and_logs_nothing(
    app, client, org, session, frozen_now
):
    response = client.post(
        f"/api/v1/staff/leads/{org.lead_a1.id}/follow-ups",
        json={
            "channel": "phone",
            "content": "x",
            "next_step": "回电",
            "next_step_at": "2026-06-14T10:00:00+08:00",
        },
        headers=bearer(app, org.sales_a1),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "invalid",
        "message": "下次跟进时间应晚于现在",
        "field": "next_step_at",
    }
    assert session.scalar(select(func.count()).select_from(Communication)) == 0


def test_a_class_other_than_the_suggestion_needs_a_reason(app, client, org, session, frozen_now):
    url = f"/api/v1/staff/leads/{org.lead_a1.id}/class"
    headers = bearer(app, org.sales_a1)
    refused = client.post(url, json={"lead_class": "key"}, headers=headers)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["field"] == "class_reason"
    assert session.get(Lead, org.lead_a1.id).lead_class == "potential"
    changed = client.post(
        url, json={"lead_class": "key", "class_reason": "本周要来店签约"}, headers=headers
    )
    assert changed.status_code == 200
    assert changed.get_json()["class_label"] == "重点"
    assert changed.get_json()["class_reason"] == "本周要来店签约"
    advisor = client.post(url, json={"lead_class": "key"}, headers=bearer(app, org.advisor_a))
    assert advisor.status_code == 403


def test_a_lost_lead_leaves_for_the_dormant_pool_with_its_reason(
    app, client, org, session, frozen_now
):
    url = f"/api/v1/staff/leads/{org.lead_a1.id}/lost"
    other = client.post(url, json={"reason": "price"}, headers=bearer(app, org.sales_a2))
    assert other.status_code == 404
    unknown = client.post(url, json={"reason": "weather"}, headers=bearer(app, org.sales_a1))
    assert unknown.status_code == 400 and unknown.get_json()["error"]["field"] == "reason"
    lost = client.post(
        url, json={"reason": "competitor", "note": "买了别家"}, headers=bearer(app, org.sales_a1)
    )
    assert lost.status_code == 200
    assert (lost.get_json()["status"], lost.get_json()["lead_class"]) == ("lost", "dormant")
    assert lost.get_json()["lost_reason_label"] and lost.get_json()["owner_id"] is None
    moves = session.scalars(select(LeadMove.reason).where(LeadMove.lead_id == org.lead_a1.id)).all()
    assert "archived" in moves


# --- test drives -----------------------------------------------------------------------------


def test_i_book_a_test_drive_once_and_record_how_it_went(app, client, org, session, frozen_now):
    headers = {**bearer(app, org.sales_a1), "Idempotency-Key": "drive-1"}
    url = f"/api/v1/staff/leads/{org.lead_a1.id}/test-drives"
    body = {"scheduled_at": "2026-06-16T15:00:00+08:00", "car": "Model Y"}
    booked = client.post(url, json=body, headers=headers)
    assert booked.status_code == 201, booked.get_json()
    assert client.post(url, json=body, headers=headers).get_json()["id"] == booked.get_json()["id"]
    assert session.scalar(select(func.count()).select_from(TestDrive)) == 1
    drive = booked.get_json()
    assert drive["status"] == "booked" and drive["scheduled_at"] == "2026-06-16T07:00:00+00:00"
    detail = client.get(
        f"/api/v1/staff/leads/{org.lead_a1.id}", headers=bearer(app, org.sales_a1)
    ).get_json()
    assert [item["id"] for item in detail["test_drives"]] == [drive["id"]]
    frozen_now.shift(2 * 86400)
    recorded = client.post(
        f"/api/v1/staff/test-drives/{drive['id']}/record",
        json={"feelings": "加速很满意", "trim_of_interest": "长续航版"},
        headers=bearer(app, org.sales_a1),
    )
    assert recorded.status_code == 200, recorded.get_json()
    assert recorded.get_json()["status"] == "done"
    session.expire_all()  # the requests wrote through sessions of their own
    lead = session.get(Lead, org.lead_a1.id)
    assert lead.trim_of_interest == "长续航版" and lead.last_contact_at is not None
    again = client.post(
        f"/api/v1/staff/test-drives/{drive['id']}/record",
        json={"feelings": "再来"},
        headers=bearer(app, org.sales_a1),
    )
    assert again.status_code == 400 and again.get_json()["error"]["field"] == "test_drive"


def test_only_the_owner_books_and_a_past_time_is_refused(app, client, org, session, frozen_now):
    url = f"/api/v1/staff/leads/{org.lead_a1.id}/test-drives"
    body = {"scheduled_at": "2026-06-16T15:00:00+08:00", "car": "Model Y"}
    assert client.post(url, json=body, headers=bearer(app, org.sales_b)).status_code == 404
    assert client.post(url, json=body, headers=bearer(app, org.care_a)).status_code == 403
    past = client.post(
        url,
        json={**body, "scheduled_at": "2026-06-14T15:00:00+08:00"},
        headers=bearer(app, org.sales_a1),
    )
    assert past.status_code == 400 and past.get_json()["error"]["field"] == "scheduled_at"
    drive = f.TestDriveFactory(lead=org.lead_a1, staff_id=org.sales_a1.id)
    cancel = f"/api/v1/staff/test-drives/{drive.id}/cancel"
    assert client.post(cancel, headers=bearer(app, org.sales_a2)).status_code == 404
    cancelled = client.post(cancel, headers=bearer(app, org.sales_a1))
    assert cancelled.get_json()["status"] == "cancelled"


# --- deals -----------------------------------------------------------------------------------


def _delivery(**overrides) -> dict:
    return {
        "delivered_on": "2026-06-15",
        "consent": True,
        "name": "王建国",
        "id_number": ID_NUMBER,
        "licence_no": ID_NUMBER,
        "licence_class": "C1",
        "vin": f.next_vin(),
        "plate": "浙A12345",
        "engine_no": "eng123456",
        "colour": "珍珠白",
        "mileage_km": 12,
        **overrides,
    }


def test_deposit_payment_and_delivery_make_the_customer_and_the_car(
    app, client, org, session, frozen_now
):
    headers = bearer(app, org.sales_a1)
    deposit_body = {"model": "Model Y", "deposit": "5000", "deposit_on": "2026-06-15"}
    url = f"/api/v1/staff/leads/{org.lead_a1.id}/deals"
    keyed = {**headers, "Idempotency-Key": "deposit-1"}
    taken = client.post(url, json=deposit_body, headers=keyed)
    assert taken.status_code == 201, taken.get_json()
    assert client.post(url, json=deposit_body, headers=keyed).get_json() == taken.get_json()
    deal = taken.get_json()
    assert (deal["status"], deal["deposit_fen"]) == ("deposit", 500_000)
    assert session.scalar(select(func.count()).select_from(Deal)) == 1
    early = client.post(
        f"/api/v1/staff/deals/{deal['id']}/delivery", json=_delivery(), headers=headers
    )
    assert early.status_code == 400
    assert early.get_json()["error"] == {
        "code": "invalid",
        "message": "请先记录全款再交车",
        "field": "status",
    }
    paid = client.post(
        f"/api/v1/staff/deals/{deal['id']}/payment",
        json={"paid": "250000.50", "paid_on": "2026-06-15"},
        headers=headers,
    )
    assert paid.get_json()["paid_fen"] == 25_000_050
    delivered = client.post(
        f"/api/v1/staff/deals/{deal['id']}/delivery", json=_delivery(), headers=headers
    )
    assert delivered.status_code == 200, delivered.get_json()
    done = delivered.get_json()
    assert done["status"] == "delivered" and done["vehicle_id"] is not None
    assert [step["kind"] for step in done["steps"]] == ["deposit", "payment", "delivery"]
    customer = session.get(Customer, done["customer_id"])
    assert customer.name == "王建国" and customer.sales_owner_id == org.sales_a1.id
    shown = client.get(f"/api/v1/staff/deals/{deal['id']}", headers=headers).get_json()
    assert shown == done
    assert (
        client.get(
            f"/api/v1/staff/deals/{deal['id']}", headers=bearer(app, org.sales_b)
        ).status_code
        == 404
    )


def test_a_store_admin_cancels_a_deal_and_the_lead_returns_to_its_salesperson(
    app, client, org, session, frozen_now
):
    deal = client.post(
        f"/api/v1/staff/leads/{org.lead_a1.id}/deals",
        json={"model": "Model Y", "deposit": "5000", "deposit_on": "2026-06-15"},
        headers=bearer(app, org.sales_a1),
    ).get_json()
    url = f"/api/v1/staff/deals/{deal['id']}/cancel"
    body = {"reason": "资金未到位", "lead_class": "intent"}
    assert client.post(url, json=body, headers=bearer(app, org.store_admin_b)).status_code == 404
    assert client.post(url, json=body, headers=bearer(app, org.advisor_a)).status_code == 403
    cancelled = client.post(url, json=body, headers=bearer(app, org.store_admin_a))
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled"
    session.expire_all()  # the requests wrote through sessions of their own
    lead = session.get(Lead, org.lead_a1.id)
    assert (lead.status, lead.lead_class, lead.owner_id) == ("open", "intent", org.sales_a1.id)


# --- claiming on PostgreSQL ------------------------------------------------------------------


@pytest.mark.postgres
def test_two_salespeople_claiming_one_pool_lead_at_once_one_wins_the_other_gets_409(race_app):
    lead_id, staff_ids = _seed(2)
    from crm.models import Staff

    tokens = {staff_id: bearer(race_app, db.session.get(Staff, staff_id)) for staff_id in staff_ids}
    db.session.remove()
    barrier, answers = threading.Barrier(len(staff_ids)), {}

    def claim(staff_id):
        client = race_app.test_client()
        barrier.wait()
        answers[staff_id] = client.post(
            f"/api/v1/staff/leads/{lead_id}/follow-ups",
            json={"channel": "phone", "content": "抢先联系"},
            headers=tokens[staff_id],
        )

    threads = [threading.Thread(target=claim, args=(staff_id,)) for staff_id in staff_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [201, 409]
    winner = next(s for s, answer in answers.items() if answer.status_code == 201)
    loser = next(answer for answer in answers.values() if answer.status_code == 409)
    error = loser.get_json()["error"]
    assert error["code"] == "conflict" and error["field"] == "lead"
    assert "认领" in error["message"]
    db.session.remove()
    assert db.session.scalar(select(Lead.owner_id).where(Lead.id == lead_id)) == winner
    contacts = db.session.scalars(
        select(Communication.staff_id).where(Communication.lead_id == lead_id)
    ).all()
    assert contacts == [winner]
