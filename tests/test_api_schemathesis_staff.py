"""The staff operations of the JSON API fuzzed against the OpenAPI document (issue 11
"Described and checked"): schemathesis sends generated requests to every staff operation
through WSGI with a real staff token (a salesperson, then a service advisor of store A) and
checks that nothing answers 500, every response matches its documented schema, and no answer
shows a record of store B or of another salesperson. Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories as f
from tests.test_api_platform import bearer

# What only store B's records and the other salesperson's lead contain: none of it may reach
# the store A staff member fuzzing the API.
THEIR_MARKERS = ("线索乙", "线索丙", "客户丙", "B店的秘密工单", "B店的试驾车", "B店的关怀")


@pytest.fixture
def others(org, frozen_now):
    """Store B's and salesperson A2's records, each marked so a leak is visible."""
    car_b = f.VehicleFactory(customer=org.customer_b, plate="浙B99999")
    order_b = f.ServiceOrderFactory(vehicle=car_b, work_items="B店的秘密工单")
    drive_b = f.TestDriveFactory(lead=org.lead_b, car="B店的试驾车")
    deal_b = f.DealFactory(lead=org.lead_b)
    task_b = f.CareTaskFactory(customer=org.customer_b, staff_id=org.sales_b.id, text="B店的关怀")
    f.LeadFactory(store=org.store_b, owner=None, name="线索丙")
    return {
        "lead_id": {org.lead_b.id, org.lead_a2.id},
        "vehicle_id": {car_b.id},
        "order_id": {order_b.id},
        "drive_id": {drive_b.id},
        "deal_id": {deal_b.id},
        "task_id": {task_b.id},
    }


def only_my_stores_records(others: dict):
    """A check: an answer never shows, and a success never names, another's record."""

    def check(ctx, response, case):
        leaked = [marker for marker in THEIR_MARKERS if marker in response.text]
        assert not leaked, f"another store's or salesperson's data in the response: {leaked}"
        if 200 <= response.status_code < 300:
            for name, value in (case.path_parameters or {}).items():
                assert value not in others.get(name, set()), f"{name}={value} is not visible"

    return check


def mine(org, who) -> dict:
    """Store A's records the fuzzing staff member works on."""
    car = f.VehicleFactory(customer=org.customer_a1, plate="浙A11111")
    task = f.CareTaskFactory(customer=org.customer_a1, staff_id=getattr(org, who).id)
    return {
        "lead_id": {org.lead_a1.id, org.pool_lead_a.id},
        "vehicle_id": {car.id},
        "order_id": {f.ServiceOrderFactory(vehicle=car).id},
        "drive_id": {f.TestDriveFactory(lead=org.lead_a1).id},
        "deal_id": {f.DealFactory(lead=org.lead_a1).id},
        "task_id": {task.id},
    }


@pytest.mark.parametrize("who", ["sales_a1", "advisor_a"])
def test_the_staff_api_keeps_its_document_and_other_stores_records_private(app, org, others, who):
    # Path ids are drawn from real records, mine and theirs, so the checks see both answers.
    known = {name: sorted(ids | others[name]) for name, ids in mine(org, who).items()}
    headers = bearer(app, getattr(org, who))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        only_my_stores_records(others),
    ]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("x-principal") != "staff":
            continue

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=8,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case, data):
            for name in case.path_parameters or {}:
                case.path_parameters[name] = data.draw(st.sampled_from(known[name]), label=name)
            case.call_and_validate(headers=headers, checks=checks)

        fuzz()
        tested.append(operation.label)
    assert len(tested) >= 22
