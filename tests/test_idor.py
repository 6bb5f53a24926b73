"""No record of another store or another customer by id (issue 12 "Security": IDOR per role
across every object route; ARCHITECTURE rule 1, ASVS 4.2.1).

The walk takes every route of ``app.url_map`` under /console, /h5, /m and /api/v1 that names a
record by an ``<int:…>`` id (and the member card's number), fills it with the ids of records of
store A (customer 甲 and everything around them), and requests it — GET, and POST where the
route allows it — as each staff role of store B and as store B's customer. Every answer must be
a refusal (403, 404 or the log-in page) that shows none of store A's data, and no POST may
change a single row. A new object route without an entry in ``ID_MAP`` fails the walk, so no
route can be forgotten.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import IntegerConverter

from crm import clock
from crm.extensions import db
from crm.models import (
    AutoReply,
    Booking,
    BookingSlot,
    ComplaintPhoto,
    ImportBatch,
    OutboxMessage,
    Role,
    TestDrive,
)
from crm.services import api_tokens
from tests import factories as f

PREFIXES = ("/console", "/h5", "/m", "/api/v1")
# Rows a refused request may add: the audit log records attempts, and the limiter is not here.
UNCHECKED_TABLES = frozenset({"audit_events"})

# endpoint -> {route argument: the store-A record whose id fills it}
ID_MAP: dict[str, dict[str, str]] = {
    "console.auto_reply_active": {"rule_id": "auto_reply"},
    "console.auto_reply_delete": {"rule_id": "auto_reply"},
    "console_catalogue.car_model_active": {"model_id": "car_model"},
    "console_catalogue.car_model_schedule": {"model_id": "car_model"},
    "console_complaints.detail": {"complaint_id": "complaint"},
    "console.customer_detail": {"customer_id": "customer"},
    "console.customer_invitation": {"customer_id": "customer"},
    "console_aftersales.assign_advisor": {"customer_id": "customer"},
    "console_care_channels.customer_opt_outs": {"customer_id": "customer"},
    "console_privacy.record_consent": {"customer_id": "customer"},
    "console_privacy.erase": {"customer_id": "customer"},
    "console_privacy.export": {"customer_id": "customer"},
    "console_privacy.show": {"customer_id": "customer"},
    "console_imports.detail": {"batch_id": "import_batch"},
    "console_imports.errors_export": {"batch_id": "import_batch"},
    "console_imports.cancel": {"batch_id": "import_batch"},
    "console_imports.commit": {"batch_id": "import_batch"},
    "console_outbox.resend": {"message_id": "outbox_message"},
    "console.staff_detail": {"staff_id": "staff"},
    "console.staff_invitation": {"staff_id": "staff"},
    "console.staff_leave": {"staff_id": "staff"},
    "console.staff_reinstate": {"staff_id": "staff"},
    "console.store_detail": {"store_id": "store"},
    "console.store_active": {"store_id": "store"},
    "console.store_edit": {"store_id": "store"},
    "console.team_new": {"store_id": "store"},
    "staff_bookings.cancel": {"booking_id": "booking"},
    "staff_bookings.done": {"booking_id": "booking"},
    "staff_bookings.new": {"customer_id": "customer"},
    "staff_care_tasks.task_page": {"task_id": "care_task"},
    "staff_care_tasks.done": {"task_id": "care_task"},
    "staff_complaints.detail": {"complaint_id": "complaint"},
    "staff_complaints.assign": {"complaint_id": "complaint"},
    "staff_complaints.callback": {"complaint_id": "complaint"},
    "staff_complaints.contact": {"complaint_id": "complaint"},
    "staff_complaints.resolve": {"complaint_id": "complaint"},
    "staff_complaints.photo": {"complaint_id": "complaint", "photo_id": "photo"},
    "staff_leads.customer_detail": {"customer_id": "customer"},
    "staff_h5.customer_binding_qr": {"customer_id": "customer"},
    "staff_deals.deal_detail": {"deal_id": "deal"},
    "staff_deals.cancel": {"deal_id": "deal"},
    "staff_deals.deliver": {"deal_id": "deal"},
    "staff_deals.payment": {"deal_id": "deal"},
    "staff_deals.deposit": {"lead_id": "lead"},
    "staff_leads.lead_detail": {"lead_id": "lead"},
    "staff_leads.archive": {"lead_id": "lead"},
    "staff_leads.lead_class": {"lead_id": "lead"},
    "staff_leads.follow_up": {"lead_id": "lead"},
    "staff_leads.test_drive_new": {"lead_id": "lead"},
    "staff_leads.test_drive_cancel": {"drive_id": "test_drive"},
    "staff_leads.test_drive_record": {"drive_id": "test_drive"},
    "staff_vehicles.service_order_paid": {"order_id": "service_order"},
    "staff_vehicles.vehicle_detail": {"vehicle_id": "vehicle"},
    "staff_vehicles.vehicle_archive": {"vehicle_id": "vehicle"},
    "staff_vehicles.service_order_new": {"vehicle_id": "vehicle"},
    "member_bookings.cancel": {"booking_id": "booking"},
    "member_bookings.change": {"booking_id": "booking"},
    "member_complaints.detail": {"complaint_id": "complaint"},
    "member_complaints.photo": {"complaint_id": "complaint", "photo_id": "photo"},
    "member_surveys.show": {"survey_id": "survey"},
    "member_surveys.submit": {"survey_id": "survey"},
    "member_vehicles.detail": {"vehicle_id": "vehicle"},
    "api_customer_bookings.cancel": {"booking_id": "booking"},
    "api_customer_bookings.change": {"booking_id": "booking"},
    "api_customer_complaints.detail": {"complaint_id": "complaint"},
    "api_customer_complaints.photo": {"complaint_id": "complaint", "photo_id": "photo"},
    "api_customer_profile.vehicle": {"vehicle_id": "vehicle"},
    "api_customer_surveys.show": {"survey_id": "survey"},
    "api_customer_surveys.answer": {"survey_id": "survey"},
    "api_staff_deals.cancel": {"deal_id": "deal"},
    "api_staff_deals.deliver": {"deal_id": "deal"},
    "api_staff_deals.deposit": {"lead_id": "lead"},
    "api_staff_deals.detail": {"deal_id": "deal"},
    "api_staff_deals.payment": {"deal_id": "deal"},
    "api_staff_leads.detail": {"lead_id": "lead"},
    "api_staff_leads.follow_up": {"lead_id": "lead"},
    "api_staff_leads.lead_timeline": {"lead_id": "lead"},
    "api_staff_leads.lost": {"lead_id": "lead"},
    "api_staff_leads.reclassify": {"lead_id": "lead"},
    "api_staff_service_orders.detail": {"order_id": "service_order"},
    "api_staff_service_orders.of_vehicle": {"vehicle_id": "vehicle"},
    "api_staff_service_orders.paid": {"order_id": "service_order"},
    "api_staff_service_orders.record": {"vehicle_id": "vehicle"},
    "api_staff_tasks.outcome": {"task_id": "care_task"},
    "api_staff_test_drives.book": {"lead_id": "lead"},
    "api_staff_test_drives.cancel": {"drive_id": "test_drive"},
    "api_staff_test_drives.record": {"drive_id": "test_drive"},
    # Not an integer id, but a record's number all the same: the member card the QR opens.
    "staff_member_cards.open_card": {"card_no": "card_no"},
}

# JSON bodies that pass the API's schema, so the request reaches the record look-up.
API_BODIES = {
    "api_customer_bookings.change": lambda: {
        "starts_at": (clock.now() + timedelta(days=3)).replace(minute=0, second=0).isoformat()
    },
    "api_customer_surveys.answer": lambda: {"score": 9, "comment": ""},
    "api_staff_deals.cancel": lambda: {"reason": "客户改主意", "lead_class": "intent"},
    "api_staff_deals.deliver": lambda: {
        "delivered_on": clock.today().isoformat(),
        "consent": True,
        "name": "乙店冒充",
        "id_number": "11010519491231002X",
        "licence_no": "110105194912310021",
        "vin": "LSVAU2180N2183294",
        "engine_no": "EA888",
        "colour": "白",
    },
    "api_staff_deals.deposit": lambda: {
        "model": "甲车型",
        "deposit": "5000",
        "deposit_on": clock.today().isoformat(),
    },
    "api_staff_deals.payment": lambda: {"paid": "200000", "paid_on": clock.today().isoformat()},
    "api_staff_leads.follow_up": lambda: {"channel": "phone", "content": "乙店来电"},
    "api_staff_leads.lost": lambda: {"reason": "price"},
    "api_staff_leads.reclassify": lambda: {"lead_class": "key", "class_reason": "乙店改级"},
    "api_staff_service_orders.paid": lambda: {"paid_on": clock.today().isoformat()},
    "api_staff_service_orders.record": lambda: {
        "work_order_no": "WO-IDOR-B",
        "opened_on": clock.today().isoformat(),
        "mileage_km": 90000,
    },
    "api_staff_tasks.outcome": lambda: {"outcome": "乙店代办"},
    "api_staff_test_drives.book": lambda: {
        "scheduled_at": (clock.now() + timedelta(days=1)).isoformat(),
        "car": "甲车型试驾车",
    },
    "api_staff_test_drives.cancel": lambda: {},
    "api_staff_test_drives.record": lambda: {"feelings": "乙店代录"},
}

# Who tries: every staff role of store B, and store B's customer.
ATTACKERS = (
    Role.SALESPERSON,
    Role.SERVICE_ADVISOR,
    Role.CARE_SPECIALIST,
    Role.SUPERVISOR,
    Role.STORE_ADMIN,
    "customer",
)


def _object_rules(app) -> list:
    rules = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIXES):
            continue
        numbered = any(isinstance(c, IntegerConverter) for c in rule._converters.values())
        if numbered or rule.endpoint in ID_MAP:
            rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


def test_every_object_route_has_an_entry_in_the_id_map(app):
    missing = sorted(
        f"{rule.endpoint} {rule.rule}" for rule in _object_rules(app) if rule.endpoint not in ID_MAP
    )
    assert not missing, "add these routes to ID_MAP in tests/test_idor.py:\n" + "\n".join(missing)
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not sorted(set(ID_MAP) - endpoints), "ID_MAP names routes that no longer exist"


def _store_a_records(org, session) -> SimpleNamespace:
    """Everything around customer 甲 of store A, one record of each kind a route can name."""
    now = clock.now()
    customer = org.customer_a1
    vehicle = f.VehicleFactory(customer=customer, plate="浙A9IDOR")
    card = f.MemberCardFactory(customer=customer, card_no="M-IDOR-0001")
    deal = f.DealFactory(lead=f.LeadFactory(store=org.store_a, owner=org.sales_a1, name="成交甲"))
    drive = f.TestDriveFactory(lead=org.lead_a1)
    complaint = f.ComplaintFactory(customer=customer, text="甲的投诉内容")
    photo = ComplaintPhoto(
        complaint_id=complaint.id, content_type="image/jpeg", size=3, data=b"\xff\xd8\xff"
    )
    slot = BookingSlot(store_id=org.store_a.id, starts_at=now + timedelta(days=2), capacity=3)
    session.add_all([photo, slot])
    session.flush()
    booking = Booking(
        store_id=org.store_a.id,
        slot_id=slot.id,
        customer_id=customer.id,
        vehicle_id=vehicle.id,
        starts_at=slot.starts_at,
        kind="periodic_maintenance",
    )
    rule = AutoReply(keyword="甲店地址", reply="甲店在文三路")
    batch = ImportBatch(store_id=org.store_a.id, filename="a.xlsx", errors=[])
    message = OutboxMessage(
        store_id=org.store_a.id,
        customer_id=customer.id,
        kind="new_car_care",
        due_on=now.date(),
        dedupe_key="idor:new_car_care",
        payload={},
        not_before=now,
        state="failed",
    )
    session.add_all([booking, rule, batch, message])
    session.commit()
    return SimpleNamespace(
        customer=customer.id,
        vehicle=vehicle.id,
        card_no=card.card_no,
        lead=org.lead_a1.id,
        deal=deal.id,
        test_drive=drive.id,
        complaint=complaint.id,
        photo=photo.id,
        booking=booking.id,
        care_task=f.CareTaskFactory(customer=customer).id,
        survey=f.SurveyFactory(customer=customer).id,
        service_order=f.ServiceOrderFactory(vehicle=vehicle).id,
        car_model=f.CarModelFactory(group_id=org.store_a.group_id, name="甲车型").id,
        auto_reply=rule.id,
        import_batch=batch.id,
        outbox_message=message.id,
        staff=org.sales_a1.id,
        store=org.store_a.id,
        # Text of store A that no refusal may show.
        secrets=(customer.name, customer.phone, org.lead_a1.name, "浙A9IDOR", "甲的投诉内容"),
    )


def _snapshot(session) -> dict[str, list]:
    """Every row of every table (but the audit log), to prove a refused POST changed nothing."""
    session.expire_all()
    tables = {}
    for table in db.metadata.sorted_tables:
        if table.name in UNCHECKED_TABLES:
            continue
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        tables[table.name] = [tuple(map(repr, row)) for row in rows]
    return tables


def _log_in_as(client, org, attacker) -> dict[str, str]:
    """Log the attacker into the H5 pages (and so the console); their API bearer header."""
    if attacker == "customer":
        person = org.customer_b
        response = client.post("/m/login", data={"phone": person.phone})
    else:
        if attacker == Role.SALESPERSON:
            staff = org.sales_b
        elif attacker == Role.STORE_ADMIN:
            staff = org.store_admin_b
        else:
            staff = f.StaffFactory(
                store=org.store_b, group_id=org.store_b.group_id, role=attacker.value
            )
        person = staff
        response = client.post("/h5/login", data={"phone": staff.phone})
    assert response.status_code == 302
    token = api_tokens.issue(client.application.config["SECRET_KEY"], person)
    return {"Authorization": f"Bearer {token}"}


def _refused(response) -> bool:
    if response.status_code in (403, 404):
        return True
    return response.status_code in (301, 302, 303) and "/login" in response.location


@pytest.mark.parametrize("attacker", ATTACKERS, ids=str)
def test_store_b_cannot_reach_store_a_records_by_id(app, client, org, session, attacker):
    records = _store_a_records(org, session)
    bearer = _log_in_as(client, org, attacker)
    before = _snapshot(session)
    answered = []
    for rule in _object_rules(app):
        values = {arg: getattr(records, name) for arg, name in ID_MAP[rule.endpoint].items()}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted({"GET", "POST"} & rule.methods):
            api = path.startswith("/api/")
            response = client.open(
                path,
                method=method,
                headers=bearer if api else None,
                json=API_BODIES.get(rule.endpoint, dict)() if api and method == "POST" else None,
            )
            body = response.get_data(as_text=True)
            assert _refused(response), f"{attacker}: {method} {path} answered {response.status}"
            shown = [text for text in records.secrets if text in body]
            assert not shown, f"{attacker}: {method} {path} shows {shown}"
            answered.append((method, path))
    assert _snapshot(session) == before, f"{attacker}: a refused request changed data"
    assert len(answered) >= len(ID_MAP)


def test_a_store_a_colleague_with_the_right_role_does_reach_them(client, org, session):
    """The walk's ids are real: store A's admin opens the same records."""
    records = _store_a_records(org, session)
    client.post("/h5/login", data={"phone": org.store_admin_a.phone})
    assert client.get(f"/console/customers/{records.customer}").status_code == 200
    assert client.get(f"/h5/vehicles/{records.vehicle}").status_code == 200
    assert client.get(f"/console/complaints/{records.complaint}").status_code == 200
    member = client.application.test_client()
    member.post("/m/login", data={"phone": org.customer_a1.phone})
    assert member.get(f"/m/vehicles/{records.vehicle}").status_code == 200
    assert member.get(f"/m/surveys/{records.survey}").status_code == 200
    assert session.get(TestDrive, records.test_drive) is not None
