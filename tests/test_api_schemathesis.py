"""The JSON API fuzzed against its own OpenAPI document (issue 11 "Described and checked"):
schemathesis sends generated requests to every operation through WSGI with a real customer
token and checks that nothing answers 500, every response matches the schema documented for
it, and no response shows another person's record. Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories as f
from tests.test_api_platform import bearer

# What only customer B's records contain: none of it may reach customer A.
THEIR_MARKERS = ("乙的秘密投诉", "浙B99999", "客户乙的备注")


@pytest.fixture
def principal(app, org, frozen_now):
    """Customer A with a car, a complaint and a survey of their own; customer B with the
    same, each marked so a leak is visible."""
    mine = f.VehicleFactory(customer=org.customer_a1, plate="浙A11111")
    f.ComplaintFactory(customer=org.customer_a1, text="甲的投诉")
    f.SurveyFactory(customer=org.customer_a1)
    theirs = f.VehicleFactory(customer=org.customer_b, plate="浙B99999")
    f.ServiceOrderFactory(vehicle=theirs, work_items="客户乙的备注")
    others = {
        "vehicle_id": {theirs.id},
        "complaint_id": {f.ComplaintFactory(customer=org.customer_b, text="乙的秘密投诉").id},
        "survey_id": {f.SurveyFactory(customer=org.customer_b).id},
    }
    return {"headers": bearer(app, org.customer_a1), "others": others, "mine": mine.id}


def only_my_records(others: dict):
    """A check: a successful answer never names or shows another customer's record."""

    def check(ctx, response, case):
        text = response.text
        leaked = [marker for marker in THEIR_MARKERS if marker in text]
        assert not leaked, f"another customer's data in the response: {leaked}"
        if 200 <= response.status_code < 300:
            for name, value in (case.path_parameters or {}).items():
                assert value not in others.get(name, set()), f"{name}={value} is not mine"

    return check


def test_the_api_keeps_its_document_and_its_records_private(app, principal):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        only_my_records(principal["others"]),
    ]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/auth/miniprogram"):
            continue  # log-in calls WeChat: covered against the fake in its own tests

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case):
            case.call_and_validate(headers=principal["headers"], checks=checks)

        fuzz()
        tested.append(operation.label)
    assert len(tested) >= 18
