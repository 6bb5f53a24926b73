"""The deal pages over HTTP: deposit, payment, delivery and cancelling from the phone; the
console's hand-over list and membership settings (PRODUCT "Deal and handover",
"Membership")."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm import clock, id_cards
from crm.models import Customer, Deal, DealStatus, LeadStatus, MembershipTier, Vehicle
from crm.services import delivery, membership
from tests import factories as f
from tests.conftest import login
from tests.test_deals import ID_NUMBER, delivered, delivery_input, paid_deal


def _text(response) -> str:
    return response.get_data(as_text=True)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def delivery_form(**overrides) -> dict:
    form = {
        "delivered_on": clock.today().isoformat(),
        "name": "王建国",
        "id_number": ID_NUMBER,
        "licence_no": ID_NUMBER,
        "licence_class": "C1",
        "vin": f.next_vin(),
        "plate": "浙A88888",
        "engine_no": "EN001",
        "colour": "黑色",
        "usage": "private",
        "mileage_km": "8",
        "consent": "1",
    }
    form.update(overrides)
    return form


def test_salesperson_takes_a_deposit_from_the_lead_page(client, org, session, frozen_now):
    login(client, org.sales_a1)
    page = _text(client.get(f"/h5/leads/{org.lead_a1.id}"))
    assert f"/h5/leads/{org.lead_a1.id}/deposit" in page and "收取定金" in page

    response = client.post(
        f"/h5/leads/{org.lead_a1.id}/deposit",
        data={"model": "凯美瑞", "deposit": "5,000", "deposit_on": clock.today().isoformat()},
    )
    deal = session.scalar(select(Deal))
    assert response.headers["Location"].endswith(f"/h5/deals/{deal.id}")
    page = _text(client.get(f"/h5/deals/{deal.id}"))
    assert "已交定金" in page and "¥5,000.00" in page and "记录全款" in page
    session.refresh(org.lead_a1)
    assert org.lead_a1.status == LeadStatus.DEAL
    lead_page = _text(client.get(f"/h5/leads/{org.lead_a1.id}"))
    assert f'data-deal="{deal.id}"' in lead_page
    assert f"/h5/leads/{org.lead_a1.id}/deposit" not in lead_page  # one open deal at a time
    assert "timeline__item_deal" in lead_page  # the deposit is on the lead's timeline


def test_negative_deposit_is_shown_beside_its_field(client, org, session, frozen_now):
    login(client, org.sales_a1)
    response = client.post(
        f"/h5/leads/{org.lead_a1.id}/deposit",
        data={"model": "凯美瑞", "deposit": "-1", "deposit_on": clock.today().isoformat()},
    )
    assert response.status_code == 400
    assert 'data-field="deposit"' in _text(response) and "金额不能为负数" in _text(response)
    assert _count(session, Deal) == 0


def test_delivery_from_the_phone_creates_customer_vehicle_and_card(
    client, org, session, frozen_now
):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    login(client, org.sales_a1)
    form_page = _text(client.get(f"/h5/deals/{deal.id}/delivery"))
    assert "车架号" in form_page and "驾驶证号" in form_page and "交强险到期" in form_page

    response = client.post(f"/h5/deals/{deal.id}/delivery", data=delivery_form())
    assert response.status_code == 302
    page = _text(client.get(f"/h5/deals/{deal.id}"))
    assert "已交车" in page and "待分配" in page
    vehicle = session.scalar(select(Vehicle))
    assert vehicle.plate == "浙A88888" and vehicle.mileage_km == 8
    assert vehicle.vin in page
    session.refresh(deal)
    card_no = session.get(Customer, deal.customer_id).member_card.card_no
    assert card_no in page


def test_bad_vin_on_the_delivery_form_changes_nothing(client, org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    login(client, org.sales_a1)
    response = client.post(
        f"/h5/deals/{deal.id}/delivery", data=delivery_form(vin="LVGTEST0012345678", plate="浙A1")
    )
    assert response.status_code == 400
    page = _text(response)
    assert 'data-field="vin"' in page and "校验位" in page
    assert 'value="王建国"' in page  # what was typed stays
    assert _count(session, Vehicle) == 0 and _count(session, Customer) == 3
    session.refresh(deal)
    assert deal.status == DealStatus.PAID


def test_mileage_that_is_not_a_number_is_named(client, org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    login(client, org.sales_a1)
    response = client.post(f"/h5/deals/{deal.id}/delivery", data=delivery_form(mileage_km="十"))
    assert response.status_code == 400 and 'data-field="mileage_km"' in _text(response)


def test_cancelling_a_deal_sends_the_lead_back_as_intent(client, org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    login(client, org.sales_a1)
    response = client.post(
        f"/h5/deals/{deal.id}/cancel", data={"reason": "预算变化", "lead_class": "intent"}
    )
    assert response.headers["Location"].endswith(f"/h5/leads/{org.lead_a1.id}")
    page = _text(client.get(f"/h5/leads/{org.lead_a1.id}"))
    assert "已取消" in page and "订单取消：预算变化" in page
    session.refresh(org.lead_a1)
    assert org.lead_a1.lead_class == "intent"


def test_colleague_cannot_open_someone_elses_deal(client, org, session, frozen_now):
    deal = paid_deal(session, org.sales_a1, org.lead_a1)
    login(client, org.sales_a2)
    assert client.get(f"/h5/deals/{deal.id}").status_code == 404
    assert client.post(f"/h5/deals/{deal.id}/delivery", data=delivery_form()).status_code == 404


def test_store_admin_assigns_an_advisor_on_the_handover_list(client, org, session, frozen_now):
    deal = delivered(session, org)
    late = delivered_for(session, org)
    late.handover_due_at = clock.now() - timedelta(hours=1)
    session.commit()
    login(client, org.store_admin_a)
    page = _text(client.get("/console/handovers"))
    assert f'data-deal="{deal.id}"' in page and "服务顾问A" in page
    assert page.count("已超时") == 1

    response = client.post(
        f"/console/customers/{deal.customer_id}/advisor", data={"advisor": org.advisor_a.id}
    )
    assert response.status_code == 302
    page = _text(client.get("/console/handovers"))
    assert f'data-deal="{deal.id}"' not in page and "已为王建国分配服务顾问服务顾问A" in page


def delivered_for(session, org) -> Deal:
    """A second delivery in store A, to another person."""
    lead = f.LeadFactory(store=org.store_a, owner=org.sales_a1)
    deal = paid_deal(session, org.sales_a1, lead)
    other_id = id_cards.with_check_character("33010619900101201")
    data = delivery_input(name="李四", id_number=other_id, licence_no=other_id)
    return delivery.deliver(session, org.sales_a1, deal.id, data, clock.now())


def test_store_b_admin_does_not_see_store_a_handovers(client, org, session, frozen_now):
    deal = delivered(session, org)
    login(client, org.store_admin_b)
    page = _text(client.get("/console/handovers"))
    assert f'data-deal="{deal.id}"' not in page and "没有待分配服务顾问的新车客户" in page


def test_group_admin_edits_tiers_and_bad_threshold_is_named(client, org, session, frozen_now):
    login(client, org.group_admin)
    page = _text(client.get("/console/membership"))
    assert "银卡会员" in page and "50000.00" in page and "免费洗车" in page

    bad = {
        "silver.name": "银卡",
        "silver.threshold": "50000",
        "gold.name": "金卡",
        "gold.threshold": "30000",
        "diamond.name": "钻石",
        "diamond.threshold": "200000",
        "window_months": "0",
    }
    response = client.post("/console/membership", data=bad)
    assert response.status_code == 400 and 'data-field="gold.threshold"' in _text(response)
    good = {**bad, "gold.threshold": "80000", "gold.benefits": "代步车\n优先维修"}
    assert client.post("/console/membership", data=good).status_code == 302
    gold = session.scalar(select(MembershipTier).where(MembershipTier.code == "gold"))
    assert (gold.name, gold.threshold_fen, gold.benefits) == (
        "金卡",
        8_000_000,
        ["代步车", "优先维修"],
    )


def test_store_admin_cannot_edit_tiers(client, org, session, frozen_now):
    login(client, org.store_admin_a)
    assert client.get("/console/membership").status_code == 403


def test_car_model_schedule_is_configurable(client, org, session, frozen_now):
    model = f.CarModelFactory(group_id=org.store_a.group_id, name="汉兰达")
    login(client, org.group_admin)
    values = {
        "first_service_months": "3",
        "first_service_km": "3000",
        "service_interval_months": "6",
        "service_interval_km": "7500",
        "warranty_months": "36",
    }
    client.post(f"/console/car-models/{model.id}/schedule", data=values)
    session.refresh(model)
    assert (model.first_service_months, model.service_interval_km, model.warranty_months) == (
        3,
        7500,
        36,
    )
    client.post(
        f"/console/car-models/{model.id}/schedule", data={**values, "service_interval_km": "-1"}
    )
    page = _text(client.get("/console/car-models"))
    assert "未保存：保养间隔（公里）须为1000到100000之间的整数" in page
    session.refresh(model)
    assert model.service_interval_km == 7500


def test_customer_sees_the_member_card_and_the_gap_to_the_next_tier(
    client, org, session, frozen_now
):
    deal = delivered(session, org)
    customer = session.get(Customer, deal.customer_id)
    f.ServiceOrderFactory(
        vehicle=customer.vehicles[0], labour_fen=5_000_000, parts_fen=0, paid_on=clock.today()
    )
    membership.recompute(session, customer, clock.now())
    session.commit()
    client.post("/m/login", data={"phone": customer.phone})
    page = _text(client.get("/m/"))
    assert f'data-card="{customer.member_card.card_no}"' in page
    assert "银卡会员" in page and "累计消费 ¥50,000.00" in page
    assert "再消费 ¥50,000.00 升级为金卡会员" in page and "免费洗车" in page


def test_console_customer_page_shows_card_plan_and_assigns_an_advisor(
    client, org, session, frozen_now
):
    deal = delivered(session, org)
    login(client, org.store_admin_a)
    path = f"/console/customers/{deal.customer_id}"
    page = _text(client.get(path))
    assert "未分配" in page and "普通会员 · 8" in page
    # 5,000 km at the default 40 km a day (no history yet) comes before six months.
    assert "下次保养：2026-10-18 或 5012 公里（首保）" in page
    response = client.post(
        f"/console/customers/{deal.customer_id}/advisor",
        data={"advisor": org.advisor_a.id, "back": path},
    )
    assert response.headers["Location"].endswith(path)
    assert "服务顾问A" in _text(client.get(path))


def test_advisor_form_never_redirects_off_the_console(client, org, session, frozen_now):
    deal = delivered(session, org)
    login(client, org.store_admin_a)
    response = client.post(
        f"/console/customers/{deal.customer_id}/advisor",
        data={"advisor": org.advisor_a.id, "back": "https://evil.example/"},
    )
    assert response.headers["Location"].endswith("/console/handovers")


def test_insurance_and_plate_are_recorded_after_delivery(client, org, session, frozen_now):
    deal = delivered(session, org)
    login(client, org.sales_a1)
    path = f"/h5/vehicles/{deal.vehicle_id}/archive"
    assert 'value="浙A12345"' in _text(client.get(path))
    bad = client.post(path, data={"plate": "12345", "compulsory_insurance_expiry": "2027-06-01"})
    assert bad.status_code == 400 and 'data-field="plate"' in _text(bad)
    session.refresh(deal)
    assert deal.vehicle.compulsory_insurance_expiry.isoformat() == "2027-06-14"
    good = client.post(
        path,
        data={
            "plate": "浙A54321",
            "compulsory_insurance_expiry": "2027-07-01",
            "commercial_insurance_expiry": "2027-07-02",
            "inspection_due": "",
        },
    )
    assert good.status_code == 302
    session.refresh(deal.vehicle)
    vehicle = deal.vehicle
    assert vehicle.plate == "浙A54321" and vehicle.inspection_due is None
    assert vehicle.commercial_insurance_expiry.isoformat() == "2027-07-02"


def test_another_salesperson_cannot_edit_the_archive(client, org, session, frozen_now):
    deal = delivered(session, org)
    login(client, org.sales_a2)
    assert client.get(f"/h5/vehicles/{deal.vehicle_id}/archive").status_code == 404
