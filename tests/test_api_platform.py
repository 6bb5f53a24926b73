"""The JSON API's platform (issue 11): the OpenAPI document covers every route, one error body
with Chinese messages everywhere under /api/v1 (and the HTML pages keep theirs), bearer tokens
that carry the kind of person, rate limits per token and per IP, cursor pagination, ETags and
idempotency keys."""

from __future__ import annotations

import base64
import re
import threading

import pytest
from sqlalchemy import func, select

from crm import clock, create_app
from crm.extensions import db
from crm.models import Complaint, IdempotencyKey
from crm.services import api_tokens, idempotency
from crm.services import org as organisation
from tests import factories as f
from tests.conftest import app_config

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def bearer(app, person) -> dict:
    return {"Authorization": f"Bearer {api_tokens.issue(app.config['SECRET_KEY'], person)}"}


def operations_of(client, principal: str) -> list[tuple[str, str]]:
    """Every operation the document marks as ``principal``'s ("customer" or "staff"), with
    ids filled in."""
    spec = client.get("/api/v1/openapi.json").get_json()
    return [
        (method, re.sub(r"\{[a-z_]+\}", "1", path))
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters" and operation.get("x-principal") == principal
    ]


def _operations(spec: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item}


def test_every_route_under_api_v1_is_in_the_openapi_document(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = _operations(spec)
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes, "no API routes found"
    assert routes - documented == set()
    assert ("/api/v1/member/bookings", "POST") in documented


def test_the_document_declares_bearer_auth_and_the_error_body(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    book = spec["paths"]["/api/v1/member/bookings"]["post"]
    assert book["security"] == [{"bearerAuth": []}]
    assert any(p["name"] == "Idempotency-Key" for p in book["parameters"])
    assert spec["paths"]["/api/v1/auth/miniprogram"]["post"]["security"] == []
    card = spec["paths"]["/api/v1/member/card"]["get"]
    assert "304" in card["responses"] and "default" in card["responses"]


def test_no_token_is_401_with_the_error_body(client):
    response = client.get("/api/v1/member/card")
    assert response.status_code == 401
    assert response.get_json() == {
        "error": {"code": "invalid_token", "message": "请先登录", "field": "token"}
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_staff_token_on_a_customer_route_is_403(app, client, org):
    response = client.get("/api/v1/member/card", headers=bearer(app, org.advisor_a))
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "该接口仅供客户使用"


def test_a_left_staff_members_token_stops_working_at_once(app, client, org, session):
    headers = bearer(app, org.sales_a1)
    assert client.get("/api/v1/me", headers=headers).get_json()["staff"]["id"] == org.sales_a1.id
    organisation.set_staff_left(session, org.store_admin_a, org.sales_a1.id, clock.now())
    response = client.get("/api/v1/me", headers=headers)
    assert response.status_code == 401 and "停用" in response.get_json()["error"]["message"]


def test_a_bad_field_is_a_400_naming_it_in_chinese_and_changes_nothing(app, client, org, session):
    headers = bearer(app, org.customer_a1)
    response = client.post(
        "/api/v1/member/complaints", json={"text": "x", "vehicle": "one"}, headers=headers
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "invalid",
        "message": "车辆须为整数",
        "field": "vehicle",
    }
    missing = client.post("/api/v1/member/complaints", json={}, headers=headers)
    assert missing.get_json()["error"] == {
        "code": "invalid",
        "message": "投诉内容为必填项",
        "field": "text",
    }
    unknown = client.post(
        "/api/v1/member/complaints", json={"text": "x", "colour": "red"}, headers=headers
    )
    assert unknown.get_json()["error"]["field"] == "colour"
    assert session.scalar(select(func.count()).select_from(Complaint)) == 0


def test_a_body_that_is_not_json_names_the_body(app, client, org):
    response = client.post(
        "/api/v1/member/complaints",
        data="text=hello",
        content_type="application/x-www-form-urlencoded",
        headers=bearer(app, org.customer_a1),
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"
    broken = client.post(
        "/api/v1/member/complaints",
        data="{not json",
        content_type="application/json",
        headers=bearer(app, org.customer_a1),
    )
    assert broken.get_json()["error"] == {
        "code": "invalid",
        "message": "请求体不是合法的JSON",
        "field": "body",
    }


def test_a_rule_of_a_service_keeps_its_code_message_and_field(app, client, org, frozen_now):
    response = client.post(
        "/api/v1/member/bookings",
        json={"starts_at": "2026-06-15T09:00:00+08:00"},
        headers=bearer(app, org.customer_a1),
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "invalid",
        "message": "该时段已过，请选择以后的时段",
        "field": "starts_at",
    }


def test_unknown_paths_and_methods_answer_json_under_api_and_html_elsewhere(client):
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/member/card")
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    page = client.get("/m/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "页面或记录不存在" in page.get_data(as_text=True)


def test_another_customers_record_is_404_with_the_error_body(app, client, org):
    complaint = f.ComplaintFactory(customer=org.customer_b)
    response = client.get(
        f"/api/v1/member/complaints/{complaint.id}", headers=bearer(app, org.customer_a1)
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


# --- pagination ------------------------------------------------------------------------------


def test_a_list_is_paged_by_an_opaque_cursor_until_it_ends(app, client, org, frozen_now):
    for minutes in range(5):
        f.ComplaintFactory(customer=org.customer_a1, text=f"第{minutes}条")
        frozen_now.shift(60)
    headers = bearer(app, org.customer_a1)
    seen, cursor = [], None
    for _ in range(3):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/member/complaints", query_string=query, headers=headers)
        body = page.get_json()
        seen += [item["text"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"第{n}条" for n in (4, 3, 2, 1, 0)]
    assert cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "eyJlIjoieCJ9.forged"])
def test_a_forged_cursor_is_a_400_naming_cursor(app, client, org, cursor):
    f.ComplaintFactory(customer=org.customer_a1)
    response = client.get(
        "/api/v1/member/complaints",
        query_string={"cursor": cursor},
        headers=bearer(app, org.customer_a1),
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "cursor"


def test_a_cursor_of_another_endpoint_is_refused(app, client, org):
    for _ in range(3):
        f.ComplaintFactory(customer=org.customer_a1)
    headers = bearer(app, org.customer_a1)
    cursor = client.get(
        "/api/v1/member/complaints", query_string={"limit": 1}, headers=headers
    ).get_json()["next_cursor"]
    response = client.get(
        "/api/v1/member/vehicles", query_string={"cursor": cursor}, headers=headers
    )
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "cursor"


def test_a_limit_out_of_range_names_limit(app, client, org):
    response = client.get(
        "/api/v1/member/complaints", query_string={"limit": 0}, headers=bearer(app, org.customer_a1)
    )
    assert response.get_json()["error"] == {
        "code": "invalid",
        "message": "limit须在1到100之间",
        "field": "limit",
    }


# --- ETag ------------------------------------------------------------------------------------


def test_an_unchanged_read_answers_304_to_its_etag_and_a_change_gives_a_new_one(
    app, client, org, session
):
    headers = bearer(app, org.customer_a1)
    first = client.get("/api/v1/member/complaints", headers=headers)
    etag = first.headers["ETag"]
    again = client.get("/api/v1/member/complaints", headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    f.ComplaintFactory(customer=org.customer_a1)
    session.commit()
    changed = client.get("/api/v1/member/complaints", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert len(changed.get_json()["items"]) == 1


# --- idempotency -----------------------------------------------------------------------------


def _complaints(session, customer) -> int:
    return session.scalar(
        select(func.count()).select_from(Complaint).where(Complaint.customer_id == customer.id)
    )


def test_a_retried_post_with_the_same_key_creates_once_and_replays_the_response(
    app, client, org, session
):
    headers = {**bearer(app, org.customer_a1), "Idempotency-Key": "retry-1"}
    body = {"text": "洗车没洗干净", "photos": [base64.b64encode(PNG).decode()]}
    first = client.post("/api/v1/member/complaints", json=body, headers=headers)
    second = client.post("/api/v1/member/complaints", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _complaints(session, org.customer_a1) == 1


def test_the_same_key_with_another_body_is_refused_naming_the_header(app, client, org, session):
    headers = {**bearer(app, org.customer_a1), "Idempotency-Key": "retry-2"}
    client.post("/api/v1/member/complaints", json={"text": "第一条"}, headers=headers)
    response = client.post("/api/v1/member/complaints", json={"text": "第二条"}, headers=headers)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "Idempotency-Key"
    assert _complaints(session, org.customer_a1) == 1


def test_a_key_is_private_to_the_person_who_sent_it(app, client, org, session):
    for customer in (org.customer_a1, org.customer_a2):
        headers = {**bearer(app, customer), "Idempotency-Key": "same-key"}
        response = client.post("/api/v1/member/complaints", json={"text": "投诉"}, headers=headers)
        assert response.status_code == 201
        assert _complaints(session, customer) == 1


def test_a_failed_request_releases_its_key_for_the_corrected_retry(app, client, org, session):
    headers = {**bearer(app, org.customer_a1), "Idempotency-Key": "fix-and-retry"}
    bad = client.post("/api/v1/member/complaints", json={"text": "   "}, headers=headers)
    assert bad.status_code == 400
    good = client.post("/api/v1/member/complaints", json={"text": "补充内容"}, headers=headers)
    assert good.status_code == 201 and "Idempotent-Replayed" not in good.headers
    assert _complaints(session, org.customer_a1) == 1


def test_a_malformed_key_is_refused_naming_the_header(app, client, org):
    headers = {**bearer(app, org.customer_a1), "Idempotency-Key": "x" * 101}
    response = client.post("/api/v1/member/complaints", json={"text": "投诉"}, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "Idempotency-Key"


def test_a_key_in_flight_is_409_and_a_dead_claim_is_taken_over(session, org, frozen_now):
    now = clock.now()
    first = idempotency.claim(session, "customer:1", "k", "fp", now)
    assert first.replay is None
    with pytest.raises(idempotency.KeyInFlight):
        idempotency.claim(session, "customer:1", "k", "fp", now)
    later = now + idempotency.LEASE
    assert idempotency.claim(session, "customer:1", "k", "fp", later).replay is None
    idempotency.complete(session, first.key_id, 201, "{}", later)
    assert idempotency.claim(session, "customer:1", "k", "fp", later).replay.status_code == 201
    assert idempotency.purge(session, later + idempotency.KEEP) == 1


@pytest.mark.postgres
def test_concurrent_requests_with_one_key_create_once(race_app):
    customer = f.CustomerFactory()
    db.session.commit()
    headers = {**bearer(race_app, customer), "Idempotency-Key": "concurrent"}
    barrier, statuses = threading.Barrier(4), []

    def post():
        client = race_app.test_client()
        barrier.wait()
        response = client.post("/api/v1/member/complaints", json={"text": "并发"}, headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.session.remove()
    count = db.session.scalar(
        select(func.count()).select_from(Complaint).where(Complaint.customer_id == customer.id)
    )
    assert count == 1
    assert 201 in statuses and set(statuses) <= {201, 409}
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


# --- rate limits -----------------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path, app, session):
    configured = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            API_RATE_LIMIT="3 per minute",
            API_LOGIN_RATE_LIMIT="2 per minute",
        )
    )
    return configured


def test_requests_are_limited_per_token(limited, org):
    client = limited.test_client()
    mine, other = bearer(limited, org.customer_a1), bearer(limited, org.customer_a2)
    statuses = [client.get("/api/v1/member/card", headers=mine).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/member/vehicles", headers=mine)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert client.get("/api/v1/member/card", headers=other).status_code == 200


def test_log_in_is_limited_per_address(limited):
    client = limited.test_client()
    statuses = [
        client.post("/api/v1/auth/miniprogram", json={"code": "x"}).status_code for _ in range(3)
    ]
    assert statuses == [503, 503, 429]
    elsewhere = client.post(
        "/api/v1/auth/miniprogram", json={"code": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert elsewhere.status_code == 503


# --- the demo's token ------------------------------------------------------------------------


def test_the_demo_prints_a_working_token_for_a_phone(app, cli, client, org):
    result = cli.invoke(args=["crm", "api-token", org.customer_a1.phone])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["customer"]["id"] == org.customer_a1.id
    unknown = cli.invoke(args=["crm", "api-token", "13999999999"])
    assert unknown.exit_code != 0 and "没有该手机号" in unknown.output


def test_outside_the_sandbox_no_token_is_printed(tmp_path, app, session, org):
    configured = create_app(
        app_config(
            tmp_path,
            DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            WECHAT_APP_ID="wx-real",
            WECHAT_APP_SECRET="secret",
        )
    )
    result = configured.test_cli_runner().invoke(args=["crm", "api-token", org.customer_a1.phone])
    assert result.exit_code != 0 and "演示环境" in result.output


def test_remembered_replies_are_purged_by_a_daily_job():
    from jobs.schedule import SCHEDULE

    job = next(job for job in SCHEDULE if job.run is idempotency.purge)
    assert job.trigger == "cron" and set(job.trigger_args) == {"hour", "minute"}
