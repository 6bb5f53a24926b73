"""The member pages (issue 9 "Member pages (/m/)"): the member card with the QR code the
advisor scans at the desk, my vehicles with their due dates and service history, my advisor
and salesperson, the care settings (service-critical kinds always on) and the PIPL privacy
page with its export and deletion requests. The services first, then the pages over HTTP."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
import segno
from sqlalchemy import func, select

from crm import clock
from crm.errors import Conflict, NotFound, ValidationError
from crm.models import CareOptOut, CareTask, CareTaskKind, Consent, Role
from crm.services import (
    care_opt_outs,
    maintenance_plan,
    member_cards,
    member_contacts,
    member_vehicles,
    membership,
    privacy_requests,
)
from crm.services.care import insurance, maintenance, tasks, weather
from tests import factories as f
from tests.conftest import login

TODAY = date(2026, 6, 15)  # the frozen clock: Monday 10:00 in Beijing
PUBLIC = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL's default, which the test app keeps


def _text(response) -> str:
    return response.get_data(as_text=True)


def _error(page: str, field: str) -> str:
    match = re.search(rf'data-field="{field}">([^<]*)<', page)
    assert match, f"no error shown for {field}"
    return match.group(1)


def _member_login(client, customer):
    client.post("/m/login", data={"phone": customer.phone})


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _car(customer, **values):
    vehicle = f.VehicleFactory(customer=customer, **values)
    return vehicle


def _spent(session, customer, fen: int):
    """A paid order of ``fen`` on the customer's (new) car and the card it earns."""
    vehicle = customer.vehicles[0] if customer.vehicles else _car(customer)
    f.ServiceOrderFactory(vehicle=vehicle, labour_fen=fen, parts_fen=0, paid_on=TODAY)
    card = membership.recompute(session, customer, clock.now())
    session.commit()
    return card


# --- the member card -------------------------------------------------------------------------


def test_the_card_page_shows_tier_number_qr_benefits_and_the_gap(client, org, session, frozen_now):
    customer = org.customer_a1
    card = _spent(session, customer, 6_000_000)  # ¥60,000: silver
    _member_login(client, customer)

    page = _text(client.get("/m/card"))

    assert f'data-card="{card.card_no}"' in page and f"卡号 {card.card_no}" in page
    assert "银卡会员" in page and "累计消费 ¥60,000.00" in page
    assert "保养9折" in page and "免费洗车" in page
    assert "再消费 ¥40,000.00 即可升级为金卡会员" in page
    # The QR code drawn on the page is the one of the staff link to this card.
    expected = io.BytesIO()
    link = f"{PUBLIC}/h5/cards/{card.card_no}"
    segno.make(link, error="m").save(expected, kind="svg", scale=6, xmldecl=False, svgns=True)
    assert expected.getvalue().decode() in page
    assert "<script" not in page


def test_the_top_tier_has_no_next_tier_to_reach(client, org, session, frozen_now):
    _spent(session, org.customer_a1, 25_000_000)
    _member_login(client, org.customer_a1)
    page = _text(client.get("/m/card"))
    assert "钻石会员" in page and "您已是最高等级会员" in page


def test_a_customer_without_a_card_is_told_how_to_get_one(client, org, frozen_now):
    _member_login(client, org.customer_a1)
    page = _text(client.get("/m/card"))
    assert "您还没有会员卡" in page and "<svg" not in page


def test_scanning_a_card_finds_its_holder_only_for_staff_who_may_see_them(org, session, frozen_now):
    card = membership.issue_card(session, org.customer_a1, clock.now())
    session.commit()
    for staff in (org.advisor_a, org.care_a, org.store_admin_a, org.group_admin, org.sales_a1):
        assert member_cards.holder(session, staff, card.card_no).id == org.customer_a1.id
    for staff in (org.store_admin_b, org.sales_b, org.sales_a2):
        with pytest.raises(NotFound):
            member_cards.holder(session, staff, card.card_no)
    with pytest.raises(NotFound):
        member_cards.holder(session, org.advisor_a, "8999999999")


def test_the_scanned_link_opens_the_customer_page_for_staff_in_scope(
    client, org, session, frozen_now
):
    card = membership.issue_card(session, org.customer_a1, clock.now())
    session.commit()
    path = f"/h5/cards/{card.card_no}"

    stranger = client.get(path)
    assert stranger.status_code == 302 and stranger.location.endswith("/h5/login")

    login(client, org.advisor_a)
    opened = client.get(path)
    assert opened.status_code == 302
    assert opened.location.endswith(f"/h5/customers/{org.customer_a1.id}")
    assert "客户甲" in _text(client.get(opened.location))

    client.post("/h5/logout")
    login(client, org.store_admin_b)
    assert client.get(path).status_code == 404
    assert client.get("/h5/cards/8999999999").status_code == 404


# --- my vehicles -----------------------------------------------------------------------------


def _archived_car(session, customer):
    vehicle = _car(
        customer,
        plate="浙A66666",
        model="汉兰达",
        compulsory_insurance_expiry=date(2026, 9, 1),
        commercial_insurance_expiry=date(2026, 9, 2),
        inspection_due=date(2027, 3, 1),
        first_maintenance_date=date(2024, 9, 1),
        first_maintenance_km=5000,
    )
    f.ServiceOrderFactory(
        vehicle=vehicle,
        kind="first_maintenance",
        opened_on=date(2024, 9, 3),
        mileage_km=5100,
        work_items="首次保养：更换机油",
        parts="机油",
        labour_fen=0,
        parts_fen=0,
    )
    f.ServiceOrderFactory(
        vehicle=vehicle,
        kind="repair",
        opened_on=date(2025, 11, 20),
        mileage_km=18000,
        work_items="更换前刹车片",
        parts="刹车片",
        labour_fen=20000,
        parts_fen=68000,
    )
    f.ServiceOrderFactory(
        vehicle=vehicle,
        opened_on=date(2025, 9, 5),
        mileage_km=15000,
        work_items="定期保养",
        labour_fen=30000,
        parts_fen=45000,
    )
    maintenance_plan.replan(session, vehicle)
    session.commit()
    return vehicle


def test_my_vehicles_are_mine_only(org, session, frozen_now):
    mine = _archived_car(session, org.customer_a1)
    theirs = _car(org.customer_a2)

    cards = member_vehicles.my_vehicles(session, org.customer_a1)
    assert [card.vehicle.id for card in cards] == [mine.id]
    assert cards[0].last_order.work_items == "更换前刹车片"  # the latest visit
    page = member_vehicles.my_vehicle(session, org.customer_a1, mine.id)
    assert [order.opened_on for order in page.orders] == [
        date(2025, 11, 20),
        date(2025, 9, 5),
        date(2024, 9, 3),
    ]
    with pytest.raises(NotFound):
        member_vehicles.my_vehicle(session, org.customer_a1, theirs.id)


def test_the_vehicle_list_shows_next_maintenance_and_every_due_date(
    client, org, session, frozen_now
):
    vehicle = _archived_car(session, org.customer_a1)
    _member_login(client, org.customer_a1)

    page = _text(client.get("/m/vehicles/"))

    block = re.search(rf'data-vehicle="{vehicle.id}">.*?</div>\s*</div>', page, re.S).group(0)
    assert "浙A66666" in block and "汉兰达" in block
    # Due by time a year after the September 2025 service, or at 25,000 km.
    assert f"定期保养：{vehicle.next_service_on} 或 25000 公里" in page
    assert vehicle.next_service_on <= date(2026, 9, 5)
    assert '交强险到期</div><div class="weui-cell__ft">2026-09-01' in page
    assert '商业险到期</div><div class="weui-cell__ft">2026-09-02' in page
    assert '年检到期</div><div class="weui-cell__ft">2027-03-01' in page


def test_a_car_without_dates_says_they_are_not_recorded(client, org, session, frozen_now):
    _car(org.customer_a1, plate="", model="卡罗拉")
    _member_login(client, org.customer_a1)
    page = _text(client.get("/m/vehicles/"))
    assert "未上牌" in page and "暂无保养计划" in page and page.count("未登记") == 3


def test_the_vehicle_page_lists_the_service_history_with_items_and_costs(
    client, org, session, frozen_now
):
    vehicle = _archived_car(session, org.customer_a1)
    _member_login(client, org.customer_a1)

    page = _text(client.get(f"/m/vehicles/{vehicle.id}"))

    history = re.search(r'<div class="weui-cells service-history">.*', page, re.S).group(0)
    assert history.index("2025-11-20") < history.index("2025-09-05") < history.index("2024-09-03")
    assert "更换前刹车片" in history and "配件：刹车片" in history
    assert "工时 ¥200.00 · 配件 ¥680.00" in history and "¥880.00" in history
    assert "18000 公里" in history and "杭州A店" in history
    assert f'href="/m/bookings/?vehicle={vehicle.id}"' in page


def test_another_customers_vehicle_answers_404(client, org, session, frozen_now):
    theirs = _car(org.customer_a2, plate="浙A99999")
    _member_login(client, org.customer_a1)
    response = client.get(f"/m/vehicles/{theirs.id}")
    assert response.status_code == 404 and "浙A99999" not in _text(response)
    assert client.get("/m/vehicles/999999").status_code == 404


def test_member_pages_send_strangers_to_the_log_in(client, org, frozen_now):
    for path in (
        "/m/card",
        "/m/vehicles/",
        "/m/vehicles/1",
        "/m/contacts",
        "/m/preferences",
        "/m/privacy",
    ):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/m/login"), path
    posted = client.post("/m/privacy", data={"kind": "export"})
    assert posted.status_code == 302 and posted.location.endswith("/m/login")


# --- the member home -------------------------------------------------------------------------

MY_PAGES = {
    "/m/card",
    "/m/vehicles/",
    "/m/bookings/",
    "/m/contacts",
    "/m/preferences",
    "/m/privacy",
}


def test_the_home_offers_every_member_page_in_a_grid(client, org, session, frozen_now):
    _spent(session, org.customer_a1, 100)
    _member_login(client, org.customer_a1)
    page = _text(client.get("/m/"))
    grid = re.search(r'<nav class="member-grid".*?</nav>', page, re.S).group(0)
    entries = re.findall(r'<a href="([^"]+)">([^<]+)</a>', grid)
    # Other member pages (complaints, surveys) add their own entries in between.
    mine = [entry for entry in entries if entry[0] in MY_PAGES]
    assert mine == [
        ("/m/card", "会员卡"),
        ("/m/vehicles/", "我的车辆"),
        ("/m/bookings/", "预约保养"),
        ("/m/contacts", "我的顾问"),
        ("/m/preferences", "关怀设置"),
        ("/m/privacy", "隐私与授权"),
    ]
    assert 'class="member-card-link" href="/m/card"' in page


# --- my advisor and salesperson --------------------------------------------------------------


def test_contacts_show_the_advisor_and_salesperson_with_tap_to_call_phones(
    client, org, session, frozen_now
):
    customer = org.customer_a1
    customer.advisor_id = org.advisor_a.id
    org.store_a.address, org.store_a.phone = "杭州市西湖区文三路100号", "0571-88880001"
    org.store_a.rescue_phone = "0571-88880119"
    session.commit()
    _member_login(client, customer)

    page = _text(client.get("/m/contacts"))

    advisor = re.search(r'data-role="服务顾问">.*?</div>\s*</div>\s*</div>', page, re.S).group(0)
    assert "服务顾问A" in advisor
    assert f'href="tel:{org.advisor_a.phone}"' in advisor
    assert member_contacts.shown(org.advisor_a.phone) in advisor
    sales = re.search(r'data-role="销售顾问">.*?</div>\s*</div>\s*</div>', page, re.S).group(0)
    assert "销售A1" in sales and f'href="tel:{org.sales_a1.phone}"' in sales
    assert "杭州市西湖区文三路100号" in page
    assert '<a href="tel:0571-88880001">0571-88880001</a>' in page
    assert '<a href="tel:0571-88880119">0571-88880119</a>' in page


def test_contacts_say_clearly_when_nobody_is_assigned(client, org, session, frozen_now):
    customer = org.customer_a1
    customer.advisor_id = org.advisor_a.id
    org.advisor_a.active = False  # the advisor left
    customer.sales_owner_id = None
    session.commit()
    _member_login(client, customer)

    page = _text(client.get("/m/contacts"))

    assert "门店正在为您安排服务顾问" in page and "暂未为您指定销售顾问" in page
    assert "服务顾问A" not in page and "tel:+86" not in page
    assert "门店地址未登记" in page and page.count("未登记") >= 3


def test_a_phone_is_shown_in_its_national_layout():
    assert member_contacts.shown("+8613900000001") == "139 0000 0001"


# --- care settings ---------------------------------------------------------------------------


def _choice(choices, kind):
    return next(choice for choice in choices if choice.kind.name == kind.name)


def test_critical_kinds_come_first_and_cannot_be_switched_off(org, session, frozen_now):
    choices = care_opt_outs.for_member(session, org.customer_a1)
    critical = [choice for choice in choices if choice.kind.critical]
    assert {choice.kind.name for choice in critical} >= {
        insurance.COMPULSORY.name,
        insurance.COMMERCIAL.name,
        weather.KIND.name,
    }
    assert choices[: len(critical)] == critical
    assert all(choice.receiving and not choice.switchable for choice in critical)
    assert not any(choice.kind.for_staff for choice in choices)

    with pytest.raises(ValidationError) as refused:
        care_opt_outs.set_member_choices(
            session,
            org.customer_a1,
            {maintenance.KIND.name: "off", insurance.COMPULSORY.name: "off"},
            clock.now(),
        )
    assert refused.value.field == insurance.COMPULSORY.name
    assert "不能关闭" in refused.value.message
    assert _count(session, CareOptOut) == 0  # nothing changed, not even the valid part


def test_a_member_switches_a_kind_off_and_on_again(org, session, frozen_now):
    customer = org.customer_a1
    choices = care_opt_outs.set_member_choices(
        session, customer, {maintenance.KIND.name: "off"}, clock.now()
    )
    assert not _choice(choices, maintenance.KIND).receiving
    opt_out = session.scalar(select(CareOptOut).where(CareOptOut.customer_id == customer.id))
    assert (opt_out.kind, opt_out.recorded_by_id) == (maintenance.KIND.name, None)
    assert opt_out.recorded_at == clock.now()

    choices = care_opt_outs.set_member_choices(
        session, customer, {maintenance.KIND.name: "on"}, clock.now()
    )
    assert _choice(choices, maintenance.KIND).receiving
    assert _count(session, CareOptOut) == 0


def test_a_critical_kind_staff_switched_off_can_only_be_switched_back_on(org, session, frozen_now):
    customer = org.customer_a1
    care_opt_outs.set_opt_outs(
        session, org.advisor_a, customer.id, [insurance.COMPULSORY.name], clock.now()
    )
    choice = _choice(care_opt_outs.for_member(session, customer), insurance.COMPULSORY)
    assert not choice.receiving and choice.switchable
    # Saving the page as it is keeps the staff's record; switching it on removes it.
    care_opt_outs.set_member_choices(
        session, customer, {insurance.COMPULSORY.name: "off"}, clock.now()
    )
    assert _count(session, CareOptOut) == 1
    care_opt_outs.set_member_choices(
        session, customer, {insurance.COMPULSORY.name: "on"}, clock.now()
    )
    assert _count(session, CareOptOut) == 0


@pytest.mark.parametrize(
    ("choices", "field", "message"),
    [
        ({"no_such_kind": "off"}, "no_such_kind", "没有这种关怀类型"),
        ({"maintenance_due": "maybe"}, "maintenance_due", "请选择接收或不接收"),
    ],
)
def test_bad_care_choices_are_refused_naming_the_field(
    org, session, frozen_now, choices, field, message
):
    with pytest.raises(ValidationError) as refused:
        care_opt_outs.set_member_choices(session, org.customer_a1, choices, clock.now())
    assert (refused.value.field, refused.value.message) == (field, message)


def test_the_preferences_page_shows_switches_and_critical_kinds_always_on(
    client, org, session, frozen_now
):
    _member_login(client, org.customer_a1)
    page = _text(client.get("/m/preferences"))

    row = re.search(rf'data-kind="{maintenance.KIND.name}">.*?</label>', page, re.S).group(0)
    assert f'name="{maintenance.KIND.name}" value="off"' in row
    assert f'name="{maintenance.KIND.name}" value="on" checked' in row
    always = re.search(r'<div class="weui-cells__tips always-on".*?</div>', page, re.S).group(0)
    assert insurance.COMPULSORY.label in always and weather.KIND.label in always
    assert insurance.COMPULSORY.name in always and "不能关闭" in always
    assert f'name="{insurance.COMPULSORY.name}"' not in page  # no switch to post


def test_saving_the_preferences_form_switches_a_kind_off(client, org, session, frozen_now):
    _member_login(client, org.customer_a1)
    # The switch posts a hidden "off" and, when on, "on" after it; an unticked one only "off".
    response = client.post(
        "/m/preferences",
        data={maintenance.KIND.name: "off", weather.KIND.name: ["off", "on"]},
    )
    assert response.status_code == 302 and response.location.endswith("/m/preferences")
    page = _text(client.get(response.location))
    assert "关怀设置已保存" in page
    row = re.search(rf'data-kind="{maintenance.KIND.name}">.*?</label>', page, re.S).group(0)
    assert "checked" not in row
    kinds = session.scalars(
        select(CareOptOut.kind).where(CareOptOut.customer_id == org.customer_a1.id)
    ).all()
    assert kinds == [maintenance.KIND.name]


def test_a_crafted_post_switching_off_insurance_is_refused_naming_the_field(
    client, org, session, frozen_now
):
    _member_login(client, org.customer_a1)
    response = client.post(
        "/m/preferences",
        data={maintenance.KIND.name: "off", insurance.COMPULSORY.name: "off"},
    )
    assert response.status_code == 400
    assert _error(_text(response), insurance.COMPULSORY.name) == (
        f"{insurance.COMPULSORY.label}关系到用车安全和法定义务，不能关闭"
    )
    assert _count(session, CareOptOut) == 0
    unknown = client.post("/m/preferences", data={"no_such_kind": "off"})
    assert unknown.status_code == 400
    assert _error(_text(unknown), "no_such_kind") == "没有这种关怀类型"


# --- privacy ---------------------------------------------------------------------------------


def test_a_privacy_request_becomes_a_task_for_the_stores_care_specialist(org, session, frozen_now):
    task = privacy_requests.request(session, org.customer_a1, "export", "需要维修记录", clock.now())
    assert task.kind == CareTaskKind.PRIVACY_REQUEST and task.kind_label == "个人信息申请"
    assert (task.staff_id, task.customer_id, task.store_id) == (
        org.care_a.id,
        org.customer_a1.id,
        org.store_a.id,
    )
    assert task.due_at == clock.now()
    assert "导出我的个人信息" in task.text and "需要维修记录" in task.text
    assert "15个工作日" in task.text
    assert [open_task.id for open_task in tasks.open_tasks(session, org.care_a, clock.now())] == [
        task.id
    ]


def test_one_open_request_per_kind_and_a_new_one_once_it_is_done(org, session, frozen_now):
    customer = org.customer_a1
    first = privacy_requests.request(session, customer, "export", "", clock.now())
    with pytest.raises(Conflict) as in_hand:
        privacy_requests.request(session, customer, "export", "再次申请", clock.now())
    assert in_hand.value.field == "kind" and "已在处理中" in in_hand.value.message
    deletion = privacy_requests.request(session, customer, "delete", "", clock.now())
    assert deletion.id != first.id
    assert _count(session, CareTask) == 2

    tasks.record_outcome(session, org.care_a, first.id, "已通过邮件发送导出文件", clock.now())
    again = privacy_requests.request(session, customer, "export", "", clock.now())
    assert again.id not in (first.id, deletion.id)
    assert _count(session, CareTask) == 3


def test_a_store_without_a_care_specialist_leaves_the_request_to_any_of_them(
    org, session, frozen_now
):
    task = privacy_requests.request(session, org.customer_b, "delete", "", clock.now())
    assert task.staff_id is None and task.store_id == org.store_b.id
    specialist_b = f.StaffFactory(
        store=org.store_b, group_id=org.store_b.group_id, role=Role.CARE_SPECIALIST.value
    )
    assert [t.id for t in tasks.open_tasks(session, specialist_b, clock.now())] == [task.id]


@pytest.mark.parametrize(
    ("kind", "note", "field"),
    [("", "", "kind"), ("sell", "", "kind"), ("export", "长" * 201, "note")],
)
def test_bad_privacy_requests_are_refused_naming_the_field(
    org, session, frozen_now, kind, note, field
):
    with pytest.raises(ValidationError) as refused:
        privacy_requests.request(session, org.customer_a1, kind, note, clock.now())
    assert refused.value.field == field
    assert _count(session, CareTask) == 0


def test_the_privacy_page_says_what_is_kept_why_and_how_long(client, org, session, frozen_now):
    session.add(
        Consent(
            customer_id=org.customer_a1.id,
            purpose="service_reminders",
            channel="showroom",
            granted=True,
            recorded_at=clock.now() - timedelta(days=30),
        )
    )
    session.commit()
    _member_login(client, org.customer_a1)

    page = _text(client.get("/m/privacy"))

    for kept in ("姓名", "手机号", "身份证号", "加密保存", "车辆档案", "维修保养工单", "提醒"):
        assert kept in page, kept
    assert "为什么保存" in page and "保存多久" in page and "个人信息保护法" in page
    consents = re.search(r'<div class="weui-cells consents">.*?</section>', page, re.S)
    assert "售后服务与用车提醒" in consents.group(0) and "展厅" in consents.group(0)
    assert "已同意" in consents.group(0) and "2026-05-16 10:00" in consents.group(0)
    assert 'value="export"' in page and 'value="delete"' in page


def test_requesting_an_export_from_the_page_twice_says_it_is_in_hand(
    client, org, session, frozen_now
):
    _member_login(client, org.customer_a1)

    done = client.post("/m/privacy", data={"kind": "export", "note": "请发到邮箱"})
    assert done.status_code == 302 and done.location.endswith("/m/privacy")
    page = _text(client.get(done.location))
    assert "已收到您的申请：导出我的个人信息" in page
    assert re.search(r'data-kind="export">“导出我的个人信息”申请已于 2026-06-15 10:00 提交', page)

    again = client.post("/m/privacy", data={"kind": "export"})
    assert again.status_code == 409
    assert "已在处理中" in _error(_text(again), "kind")
    bad = client.post("/m/privacy", data={"kind": ""})
    assert bad.status_code == 400 and _error(_text(bad), "kind") == "请选择申请类型"
    assert _count(session, CareTask, CareTask.kind == "privacy_request") == 1
