"""The salesperson's staff H5 pages over HTTP: the work-bench, the pool, new leads, follow-ups
(claiming), test drives, classes, archiving, the timeline, scoping, and the public enquiry
form behind a salesperson's QR code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import (
    Communication,
    Lead,
    LeadClass,
    LeadSource,
    LeadStatus,
    TestDrive,
    TestDriveStatus,
)
from crm.services import enquiry_links
from crm.services.identity import phone_index
from tests import factories as f
from tests.conftest import login

SECRET_KEY = "test-secret-key"  # tests.conftest.app_config


# --- helpers ---------------------------------------------------------------------------------


def _by_phone(session, phone: str) -> Lead | None:
    """The lead with this phone (names and phones are encrypted: look up by the index)."""
    return session.scalar(select(Lead).where(Lead.phone_index == phone_index(phone)))


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def _text(response) -> str:
    return response.get_data(as_text=True)


def _section(page: str, section_id: str) -> str:
    """The HTML of one ``<section id=...>`` of the work-bench."""
    match = re.search(rf'<section id="{section_id}".*?</section>', page, re.S)
    assert match, f"no section {section_id}"
    return match.group(0)


def _row(page: str, lead: Lead) -> str:
    """The list row (an ``<a>`` cell) of ``lead``."""
    match = re.search(rf'<a class="[^"]*"[^>]*data-lead="{lead.id}">.*?</a>', page, re.S)
    assert match, f"no row for {lead.name}"
    return match.group(0)


def _error(page: str, field: str) -> str:
    match = re.search(rf'data-field="{field}">([^<]*)<', page)
    assert match, f"no error shown for {field}"
    return match.group(1)


def _follow_up(**overrides) -> dict:
    form = {
        "channel": "phone",
        "content": "电话沟通，客户想周末来看车",
        "next_step": "邀约周六到店",
        "next_step_at": "2026-06-15T16:00",
        "purchase_timeframe": "",
        "lead_class": "",
        "shown_class": "",
        "class_reason": "",
    }
    form.update(overrides)
    return form


@pytest.fixture
def other_client(app, session):
    """A second browser: a colleague on another phone."""
    return app.test_client()


@pytest.fixture
def models(org, session):
    for name in ("凯美瑞", "汉兰达", "RAV4荣放"):
        f.CarModelFactory(group_id=org.store_a.group_id, name=name)
    f.CarModelFactory(group_id=org.store_a.group_id, name="停售车型", active=False)


def _lead(org, session, **values) -> Lead:
    values.setdefault("store", org.store_a)
    values.setdefault("owner", org.sales_a1)
    return f.LeadFactory(**values)


# --- access ----------------------------------------------------------------------------------


def test_staff_pages_send_strangers_to_the_log_in(client, org):
    for path in ("/h5/", "/h5/pool", "/h5/leads", "/h5/leads/new", f"/h5/leads/{org.lead_a1.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/h5/login"), path


def test_a_customer_session_gets_403_on_staff_pages(client, org):
    client.post("/m/login", data={"phone": org.customer_a1.phone})
    response = client.get("/h5/pool")
    assert response.status_code == 403
    assert "该页面仅供门店员工使用" in _text(response)


def test_another_salespersons_lead_and_customer_answer_404(client, org, session):
    login(client, org.sales_a2)
    lead_id, customer_id = org.lead_a1.id, org.customer_a1.id
    for path in (
        f"/h5/leads/{lead_id}",
        f"/h5/leads/{lead_id}/follow-up",
        f"/h5/leads/{lead_id}/class",
        f"/h5/leads/{lead_id}/archive",
        f"/h5/leads/{lead_id}/test-drives/new",
        f"/h5/customers/{customer_id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "页面或记录不存在" in _text(response) or "记录不存在" in _text(response)
    posted = client.post(f"/h5/leads/{lead_id}/follow-up", data=_follow_up())
    assert posted.status_code == 404
    assert _count(session, Communication) == 0


def test_another_stores_pool_lead_answers_404(client, org):
    login(client, org.sales_b)
    assert client.get(f"/h5/leads/{org.pool_lead_a.id}").status_code == 404
    assert "池中线索" not in _text(client.get("/h5/pool"))


# --- the work-bench --------------------------------------------------------------------------


def test_workbench_shows_new_overdue_today_drives_and_returning_leads(client, org, session):
    now = clock.now()  # 10:00 in Beijing
    late = _lead(org, session, name="超时线索", created_at=now - timedelta(hours=2))
    overdue = _lead(
        org,
        session,
        name="逾期线索",
        last_contact_at=now - timedelta(days=10),
        due_at=now - timedelta(days=3),
    )
    today = _lead(
        org,
        session,
        name="今日线索",
        lead_class=LeadClass.INTENT.value,
        last_contact_at=now - timedelta(days=2),
        due_at=now + timedelta(hours=3),
    )
    returning = _lead(
        org,
        session,
        name="将退线索",
        last_contact_at=now - timedelta(days=28),
        due_at=now + timedelta(days=2),
    )
    drive = f.TestDriveFactory(
        lead=today, staff_id=org.sales_a1.id, scheduled_at=now + timedelta(hours=4), car="汉兰达"
    )
    f.TestDriveFactory(lead=today, staff_id=org.sales_a1.id, scheduled_at=now + timedelta(days=1))
    login(client, org.sales_a1)
    page = _text(client.get("/h5/"))

    new = _section(page, "new-leads")
    assert "late" in _row(new, late) and "超时未首呼" in _row(new, late)
    assert "待首呼" in _row(new, org.lead_a1) and "late" not in _row(new, org.lead_a1)
    assert "超时未首呼" not in _row(new, org.lead_a1)

    overdue_section = _section(page, "overdue")
    assert 'data-count="overdue">1<' in overdue_section
    assert "逾期线索" in overdue_section and "应于 06-12 10:00" in _row(overdue_section, overdue)

    today_section = _section(page, "due-today")
    assert 'data-count="today">1<' in today_section
    assert "13:00" in _row(today_section, today)
    assert "逾期线索" not in today_section

    drives = _section(page, "test-drives")
    assert "今日试驾（1）" in drives and "14:00" in drives and "汉兰达" in drives
    assert f'href="/h5/test-drives/{drive.id}/record"' in drives and "记录试驾" in drives

    back = _section(page, "returning")
    assert "剩2天" in _row(back, returning)

    assert re.search(r'data-class="potential">4<', page)  # 甲, 超时, 逾期, 将退
    assert re.search(r'data-class="intent">1<', page)
    assert "客户池：1 条待认领" in page and 'href="/h5/pool"' in page
    assert "线索乙" not in page  # a colleague's
    for lead in (late, overdue, today, returning):
        assert f'href="/h5/leads/{lead.id}"' in page


def test_an_empty_workbench_says_so_in_every_section(client, org, session):
    org.lead_a1.owner_id = None
    session.commit()
    login(client, org.sales_a2)
    client.post(f"/h5/leads/{org.lead_a2.id}/archive", data={"reason": "price", "confirm": "1"})
    page = _text(client.get("/h5/"))
    for text in (
        "没有待首呼的新线索",
        "没有逾期的跟进",
        "今天没有计划中的跟进",
        "今天没有预约的试驾",
        "没有即将退回客户池的线索",
    ):
        assert text in page
    assert "客户乙" in page  # their customer, with the member-code button
    assert "出示会员码" in page


# --- the pool --------------------------------------------------------------------------------


def test_pool_lists_the_stores_leads_with_filters_and_pages(client, org, session, models):
    now = clock.now()
    for number in range(22):
        _lead(
            org,
            session,
            owner=None,
            name=f"池{number:02d}",
            model_of_interest="凯美瑞",
            created_at=now - timedelta(hours=number + 1),
        )
    referral = _lead(
        org,
        session,
        owner=None,
        name="转介绍线索",
        model_of_interest="汉兰达",
        source=LeadSource.REFERRAL.value,
        lead_class=LeadClass.INTENT.value,
        created_at=now - timedelta(days=10),
    )
    old = _lead(
        org,
        session,
        owner=None,
        name="老线索",
        created_at=now - timedelta(days=40),
        phone="+8613912345678",
    )
    f.LeadFactory(store=org.store_b, owner=None, name="B店池线索")
    login(client, org.sales_a1)

    first = _text(client.get("/h5/pool"))
    assert first.count('data-lead="') == 20
    assert "第 1 / 2 页 · 共 25 条" in first and 'rel="next"' in first
    assert "B店池线索" not in first
    row = _row(first, org.pool_lead_a)
    assert "跟进认领" in row and f'href="/h5/leads/{org.pool_lead_a.id}/follow-up"' in row
    assert re.search(r"\d{3}\*{4}\d{4}", row)  # the phone is masked
    assert "入池0天" in row and "展厅接待" in row
    second = _text(client.get("/h5/pool?page=2"))
    assert second.count('data-lead="') == 5 and "老线索" in second

    # The model select offers the catalogue's models on sale, sorted.
    options = re.findall(r'<option value="([^"]*)"', first.split('name="source"')[0])
    assert options == ["", "RAV4荣放", "凯美瑞", "汉兰达"]

    by_model = _text(client.get("/h5/pool?model_of_interest=汉兰达"))
    assert by_model.count('data-lead="') == 1 and "转介绍线索" in by_model
    assert "入池10天" in _row(by_model, referral)
    by_source = _text(client.get("/h5/pool?source=referral"))
    assert by_source.count('data-lead="') == 1 and "转介绍" in by_source
    by_class = _text(client.get("/h5/pool?lead_class=intent"))
    assert by_class.count('data-lead="') == 1
    by_age = _text(client.get("/h5/pool?age=older"))
    assert by_age.count('data-lead="') == 1 and "老线索" in by_age
    assert _text(client.get("/h5/pool?age=month")).count('data-lead="') == 1
    by_phone = _text(client.get("/h5/pool?phone=139 1234 5678"))
    assert by_phone.count('data-lead="') == 1 and f'data-lead="{old.id}"' in by_phone
    none = _text(client.get("/h5/pool?model_of_interest=RAV4荣放"))
    assert "没有符合条件的线索" in none

    bad = client.get("/h5/pool?phone=12ab")
    assert bad.status_code == 400 and _error(_text(bad), "phone") == "手机号格式不正确"


def test_claiming_through_the_follow_up_form_takes_the_lead_out_of_a_colleagues_pool(
    client, other_client, org, session
):
    login(other_client, org.sales_a2)
    assert "池中线索" in _text(other_client.get("/h5/pool"))

    login(client, org.sales_a1)
    form_page = _text(client.get(f"/h5/leads/{org.pool_lead_a.id}/follow-up"))
    assert "跟进认领：池中线索" in form_page and "认领并保存" in form_page
    response = client.post(f"/h5/leads/{org.pool_lead_a.id}/follow-up", data=_follow_up())
    assert response.status_code == 302 and response.location.endswith("/h5/")
    bench = _text(client.get("/h5/"))
    assert "已认领，已记录跟进" in bench
    today = _section(bench, "due-today")
    assert "池中线索" in _row(today, org.pool_lead_a) and "16:00" in today
    assert "客户池：0 条待认领" in bench

    colleague_pool = _text(other_client.get("/h5/pool"))
    assert "池中线索" not in colleague_pool and "客户池暂时没有待认领的线索" in colleague_pool
    late = other_client.post(f"/h5/leads/{org.pool_lead_a.id}/follow-up", data=_follow_up())
    assert late.status_code == 409 and "该线索已被销售A1认领" in _text(late)
    assert other_client.get(f"/h5/leads/{org.pool_lead_a.id}").status_code == 404

    session.expire_all()
    lead = session.get(Lead, org.pool_lead_a.id)
    assert lead.owner_id == org.sales_a1.id
    assert _count(session, Communication, Communication.lead_id == lead.id) == 1


def test_follow_up_form_offers_one_screen_with_the_class_suggestion(client, org, session):
    login(client, org.sales_a1)
    page = _text(client.get(f"/h5/leads/{org.lead_a1.id}/follow-up"))
    for channel in ("phone", "wechat", "visit", "test_drive"):
        assert f'name="channel" value="{channel}"' in page
    assert 'value="phone" checked' in page
    assert re.search(r'<textarea id="f-content"[^>]*autofocus', page)
    assert 'type="datetime-local"' in page and 'name="quoted"' in page
    assert "系统建议：潜在（每周1次）" in page
    assert re.search(r'<option value="potential" selected>', page)
    assert "<details" in page and "客户顾虑" in page and "决策因素" in page


def test_follow_up_validation_errors_change_nothing(client, org, session):
    login(client, org.sales_a1)
    url = f"/h5/leads/{org.pool_lead_a.id}/follow-up"
    cases = (
        ({"content": "  "}, "content", "请填写沟通内容"),
        ({"channel": "fax"}, "channel", "请选择沟通方式"),
        ({"next_step_at": "明天下午"}, "next_step_at", "时间格式不正确，请重新选择"),
        ({"next_step_at": "2026-06-15T09:00"}, "next_step_at", "下次跟进时间应晚于现在"),
        ({"next_step_at": ""}, "next_step_at", "请填写下次跟进时间"),
        ({"purchase_timeframe": "soon"}, "purchase_timeframe", "请选择购车时间"),
    )
    for overrides, field, message in cases:
        response = client.post(url, data=_follow_up(**overrides))
        assert response.status_code == 400, field
        assert _error(_text(response), field) == message
    kept = _text(client.post(url, data=_follow_up(content="", next_step="回访", concerns="油耗")))
    assert "油耗" in kept and "回访" in kept and '<details class="more" open>' in kept
    session.expire_all()
    assert session.get(Lead, org.pool_lead_a.id).owner_id is None
    assert _count(session, Communication) == 0


def test_class_override_needs_a_reason(client, org, session):
    login(client, org.sales_a1)
    url = f"/h5/leads/{org.lead_a1.id}/follow-up"
    refused = client.post(url, data=_follow_up(lead_class="key", shown_class="potential"))
    assert refused.status_code == 400
    assert _error(_text(refused), "class_reason") == "系统建议级别为“潜在”，调整级别请填写原因"
    assert _count(session, Communication) == 0

    # Untouched, the class follows the suggestion of what was entered (a month: intent).
    client.post(
        url,
        data=_follow_up(
            purchase_timeframe="month", shown_class="potential", lead_class="potential"
        ),
    )
    session.expire_all()
    assert session.get(Lead, org.lead_a1.id).lead_class == LeadClass.INTENT

    accepted = client.post(
        url,
        data=_follow_up(
            purchase_timeframe="month",
            lead_class="key",
            shown_class="intent",
            class_reason="已谈到价格，本周定车",
            next_step_at="2026-06-16T10:00",
        ),
    )
    assert accepted.status_code == 302
    session.expire_all()
    lead = session.get(Lead, org.lead_a1.id)
    assert lead.lead_class == LeadClass.KEY and lead.class_reason == "已谈到价格，本周定车"
    detail = _text(client.get(f"/h5/leads/{lead.id}"))
    assert "重点 · 每周3次以上" in detail and "已谈到价格，本周定车" in detail


def test_reclassify_page_refuses_a_change_without_reason(client, org, session):
    login(client, org.sales_a1)
    url = f"/h5/leads/{org.lead_a1.id}/class"
    page = _text(client.get(url))
    assert "系统建议：潜在（每周1次）" in page
    refused = client.post(url, data={"lead_class": "key", "class_reason": ""})
    assert refused.status_code == 400
    assert "调整级别请填写原因" in _error(_text(refused), "class_reason")
    session.expire_all()
    assert session.get(Lead, org.lead_a1.id).lead_class == LeadClass.POTENTIAL
    done = client.post(url, data={"lead_class": "key", "class_reason": "客户急用车"})
    assert done.status_code == 302
    assert "级别已调整为：重点" in _text(client.get(done.location))


# --- new leads -------------------------------------------------------------------------------


def test_new_lead_from_a_referral_is_mine_and_shown_on_its_page(client, org, session, models):
    login(client, org.sales_a1)
    page = _text(client.get("/h5/leads/new"))
    assert 'type="tel"' in page and 'name="referrer"' in page
    assert 'value="showroom" checked' in page and "个人二维码" in page and "导入" not in page
    form = {
        "name": "赵先生",
        "phone": "139 0000 8888",
        "source": "referral",
        "referrer": "",
        "model_of_interest": "汉兰达",
        "purchase_timeframe": "quarter",
        "note": "二胎家庭",
    }
    refused = client.post("/h5/leads/new", data=form)
    assert refused.status_code == 400
    assert _error(_text(refused), "referrer") == "转介绍请填写介绍人"
    assert "赵先生" in _text(refused)  # the input is kept
    unknown = client.post(
        "/h5/leads/new", data={**form, "referrer": "老王", "model_of_interest": "停售车型"}
    )
    assert (
        unknown.status_code == 400
        and _error(_text(unknown), "model_of_interest") == "请选择在售车型"
    )
    assert _by_phone(session, "+8613900008888") is None

    created = client.post("/h5/leads/new", data={**form, "referrer": "老王"})
    assert created.status_code == 302 and re.search(r"/h5/leads/\d+$", created.location)
    detail = _text(client.get(created.location))
    assert "已新建线索：赵先生，请在1小时内首次联系" in detail
    assert "转介绍 · 介绍人 老王" in detail and "汉兰达" in detail and "三个月内" in detail
    assert 'href="tel:+8613900008888"' in detail
    assert "记录跟进" in detail and "预约试驾" in detail and "战败归档" in detail
    lead = _by_phone(session, "+8613900008888")
    assert lead.owner_id == org.sales_a1.id and lead.lead_class == LeadClass.INTENT
    assert "赵先生" in _section(_text(client.get("/h5/")), "new-leads")


def test_new_lead_with_a_known_phone_shows_who_owns_it_and_creates_nothing(client, org, session):
    org.lead_a1.last_contact_at = clock.now() - timedelta(days=1)
    session.commit()
    before = _count(session, Lead)
    login(client, org.sales_a2)
    response = client.post(
        "/h5/leads/new",
        data={"name": "重复客户", "phone": org.lead_a1.phone, "source": "showroom"},
    )
    assert response.status_code == 409
    page = _text(response)
    assert "该手机号已是本店线索：负责人 销售A1，最近联系 2026-06-14 10:00" in page
    assert 'data-field="phone"' in page and "查看该线索" not in page  # not theirs to open
    assert _count(session, Lead) == before

    customer = client.post(
        "/h5/leads/new",
        data={"name": "老客户", "phone": org.customer_a1.phone, "source": "showroom"},
    )
    assert customer.status_code == 409 and "该手机号已是本店客户：负责人 销售A1" in _text(customer)
    pooled = client.post(
        "/h5/leads/new",
        data={"name": "池", "phone": org.pool_lead_a.phone, "source": "auto_show"},
    )
    assert "负责人 客户池（未认领）" in _text(pooled) and "查看该线索" in _text(pooled)
    assert _count(session, Lead) == before


def test_salesperson_can_put_a_new_lead_into_the_pool(client, org, session):
    login(client, org.sales_a1)
    response = client.post(
        "/h5/leads/new",
        data={"name": "车展客户", "phone": "13900007777", "source": "auto_show", "to_pool": "1"},
        follow_redirects=True,
    )
    assert "已新建线索：车展客户，已放入客户池" in _text(response)
    assert "跟进认领" in _text(response)
    login(client, org.sales_a2)
    assert "车展客户" in _text(client.get("/h5/pool"))


# --- my leads, detail, archive ---------------------------------------------------------------


def test_supervisor_sees_the_teams_leads(client, org, session):
    login(client, org.supervisor_a1)
    page = _text(client.get("/h5/leads"))
    assert "团队线索" in page
    assert "线索甲" in page and "销售A1" in _row(page, org.lead_a1)
    assert "线索乙" not in page and "池中线索" not in page and "线索丙" not in page
    detail = _text(client.get(f"/h5/leads/{org.lead_a1.id}"))
    assert "tel:" not in detail and re.search(r"\d{3}\*{4}\d{4}", detail)  # not the owner
    assert "调整级别" in detail and "记录跟进" not in detail and "预约试驾" not in detail
    assert client.get(f"/h5/leads/{org.lead_a2.id}").status_code == 404


def test_store_admin_sees_the_store_and_salesperson_only_their_own(client, org):
    login(client, org.store_admin_a)
    page = _text(client.get("/h5/leads"))
    assert "门店线索" in page and "线索甲" in page and "线索乙" in page and "线索丙" not in page
    login(client, org.sales_a1)
    mine = _text(client.get("/h5/leads"))
    assert "我的线索" in mine and "线索甲" in mine and "线索乙" not in mine


def test_my_leads_filter_by_class_and_page(client, org, session):
    for number in range(21):
        _lead(org, session, name=f"意向{number:02d}", lead_class=LeadClass.INTENT.value)
    login(client, org.sales_a1)
    intent = _text(client.get("/h5/leads?lead_class=intent"))
    assert intent.count('data-lead="') == 20 and "第 1 / 2 页 · 共 21 条" in intent
    assert "线索甲" not in intent
    potential = _text(client.get("/h5/leads?lead_class=potential"))
    assert potential.count('data-lead="') == 1 and "线索甲" in potential


def test_archive_moves_the_lead_out_of_my_leads_into_the_dormant_pool(client, org, session):
    login(client, org.sales_a1)
    url = f"/h5/leads/{org.lead_a1.id}/archive"
    page = _text(client.get(url))
    for label in ("已购竞品", "推迟购车", "价格原因", "需求变化"):
        assert label in page
    unconfirmed = client.post(url, data={"reason": "competitor", "note": "订了别家"})
    assert unconfirmed.status_code == 400 and _error(_text(unconfirmed), "confirm")
    no_reason = client.post(url, data={"reason": "", "confirm": "1"})
    assert no_reason.status_code == 400 and _error(_text(no_reason), "reason") == "请选择战败原因"
    session.expire_all()
    assert session.get(Lead, org.lead_a1.id).status == LeadStatus.OPEN

    done = client.post(url, data={"reason": "competitor", "note": "订了别家", "confirm": "1"})
    assert done.status_code == 302 and done.location.endswith("/h5/leads")
    mine = _text(client.get(done.location))
    assert "已战败归档：线索甲（已购竞品），线索进入休眠池" in mine
    assert 'data-lead="' not in mine
    lost = _text(client.get("/h5/leads?status=lost"))
    assert "线索甲" in lost and "已战败" in lost
    detail = _text(client.get(f"/h5/leads/{org.lead_a1.id}"))
    assert "已购竞品 · 订了别家" in detail and "休眠" in detail and "战败归档 → 客户池" in detail
    assert "记录跟进" not in detail


def test_lead_timeline_lists_every_contact_by_anyone_newest_first(client, org, session):
    now = clock.now()
    lead = org.lead_a1
    f.CommunicationFactory(lead=lead, content="第一次电话", occurred_at=now - timedelta(days=3))
    f.CommunicationFactory(
        lead=lead,
        staff_id=org.supervisor_a1.id,
        channel="visit",
        content="主管陪同到店",
        concerns="担心保养费用",
        occurred_at=now - timedelta(days=1),
    )
    login(client, org.sales_a1)
    page = _text(client.get(f"/h5/leads/{lead.id}"))
    assert f'href="tel:{lead.phone}"' in page
    assert page.index("主管陪同到店") < page.index("第一次电话")
    assert "A一组主管" in page and "担心保养费用" in page and "客户顾虑" in page


# --- test drives -----------------------------------------------------------------------------


def test_test_drive_is_booked_recorded_and_cancelled(client, org, session, models):
    lead = org.lead_a1
    login(client, org.sales_a1)
    url = f"/h5/leads/{lead.id}/test-drives/new"
    assert 'type="datetime-local"' in _text(client.get(url))
    past = client.post(url, data={"scheduled_at": "2026-06-14T10:00", "car": "汉兰达"})
    assert past.status_code == 400 and _error(_text(past), "scheduled_at") == "试驾时间应晚于现在"
    missing = client.post(url, data={"scheduled_at": "", "car": "汉兰达"})
    assert _error(_text(missing), "scheduled_at") == "请选择试驾时间"
    no_car = client.post(url, data={"scheduled_at": "2026-06-15T15:00", "car": ""})
    assert _error(_text(no_car), "car") == "请填写试驾车辆"
    assert _count(session, TestDrive) == 0

    booked = client.post(url, data={"scheduled_at": "2026-06-15T15:00", "car": "汉兰达 2.0T"})
    assert booked.status_code == 302
    detail = _text(client.get(booked.location))
    assert "已预约试驾：06-15 15:00 汉兰达 2.0T" in detail
    drive = session.scalar(select(TestDrive).where(TestDrive.lead_id == lead.id))
    assert drive.scheduled_at == clock.now() + timedelta(hours=5)  # Beijing wall time, stored UTC
    assert f"/h5/test-drives/{drive.id}/record" in detail
    bench = _section(_text(client.get("/h5/")), "test-drives")
    assert "15:00" in bench and "汉兰达 2.0T" in bench

    record_url = f"/h5/test-drives/{drive.id}/record"
    assert "记录试驾：线索甲" in _text(client.get(record_url))
    empty = client.post(record_url, data={"feelings": ""})
    assert empty.status_code == 400 and _error(_text(empty), "feelings") == "请填写试驾感受"
    recorded = client.post(
        record_url,
        data={
            "feelings": "动力满意，后排宽敞",
            "model_of_interest": "汉兰达",
            "trim_of_interest": "2.0T 豪华版",
            "next_step": "周三报价",
            "next_step_at": "2026-06-17T10:00",
        },
    )
    assert recorded.status_code == 302
    detail = _text(client.get(recorded.location))
    assert "已记录试驾" in detail and "动力满意，后排宽敞" in detail and "2.0T 豪华版" in detail
    assert "意向" in detail  # a test drive makes it an intent lead
    assert client.get(record_url).status_code == 302  # done: nothing more to record

    second = client.post(url, data={"scheduled_at": "2026-06-18T11:00", "car": "凯美瑞"})
    second_drive = session.scalar(
        select(TestDrive).where(TestDrive.lead_id == lead.id, TestDrive.car == "凯美瑞")
    )
    assert second.status_code == 302
    cancelled = client.post(f"/h5/test-drives/{second_drive.id}/cancel")
    assert "已取消试驾：06-18 11:00 凯美瑞" in _text(client.get(cancelled.location))
    session.expire_all()
    assert session.get(TestDrive, second_drive.id).status == TestDriveStatus.CANCELLED

    login(client, org.sales_a2)
    assert client.post(f"/h5/test-drives/{drive.id}/cancel").status_code == 404


# --- customers -------------------------------------------------------------------------------


def test_customer_page_shows_vehicles_and_the_full_timeline(client, org, session):
    customer = org.customer_a1
    f.VehicleFactory(customer=customer, model="凯美瑞", plate="浙A88888")
    lead = f.LeadFactory(store=org.store_a, owner=None, customer_id=customer.id, name="成交前线索")
    f.CommunicationFactory(lead=lead, staff_id=org.sales_a2.id, content="同事早先的电话")
    login(client, org.sales_a1)
    page = _text(client.get(f"/h5/customers/{customer.id}"))
    assert "客户甲" in page and "浙A88888" in page and "同事早先的电话" in page
    assert f'href="tel:{customer.phone}"' in page and "出示会员码" in page
    login(client, org.supervisor_a1)
    supervised = _text(client.get(f"/h5/customers/{customer.id}"))
    assert "tel:" not in supervised and re.search(r"\d{3}\*{4}\d{4}", supervised)


# --- the personal QR code and the public enquiry form ----------------------------------------


def test_my_qr_code_carries_a_signed_reference_to_the_salesperson(client, org):
    login(client, org.sales_a1)
    page = _text(client.get("/h5/my-qr"))
    match = re.search(r'href="(http[^"]*/m/enquiry/A01\?ref=([^"]+))"', page)
    assert match and "<svg" in page
    assert enquiry_links.verify(SECRET_KEY, match.group(2)) == org.sales_a1.id
    assert enquiry_links.verify(SECRET_KEY, match.group(2) + "x") is None
    login(client, org.store_admin_a)
    store_page = _text(client.get("/h5/my-qr"))
    assert '/m/enquiry/A01"' in store_page and "客户池" in store_page


def _enquiry(**overrides) -> dict:
    form = {"name": "钱女士", "phone": "13900005555", "model_of_interest": "", "consent": "1"}
    form.update(overrides)
    return form


def test_public_enquiry_needs_consent_and_lands_in_the_pool(client, org, session, models):
    page = _text(client.get("/m/enquiry/A01"))
    assert "杭州A店 · 购车咨询" in page and "同意门店就购车事宜与我联系" in page
    assert "仅用于杭州A店就购车事宜" in page
    refused = client.post("/m/enquiry/A01", data=_enquiry(consent=""))
    assert refused.status_code == 400
    assert _error(_text(refused), "consent") == "请勾选同意门店就购车事宜与您联系"
    bad_phone = client.post("/m/enquiry/A01", data=_enquiry(phone="123"))
    assert bad_phone.status_code == 400 and _error(_text(bad_phone), "phone") == "手机号格式不正确"
    assert _by_phone(session, "+8613900005555") is None

    done = client.post("/m/enquiry/A01", data=_enquiry(model_of_interest="凯美瑞"))
    assert done.status_code == 200 and "已收到，顾问将尽快与您联系" in _text(done)
    lead = _by_phone(session, "+8613900005555")
    assert lead.owner_id is None and lead.source == LeadSource.ONLINE
    assert lead.store_id == org.store_a.id and lead.consented_at == clock.now()
    assert lead.model_of_interest == "凯美瑞"

    again = client.post("/m/enquiry/A01", data=_enquiry(name="钱女士二次"))
    assert again.status_code == 200 and _text(again) == _text(done)  # never tells it was known
    assert _count(session, Lead, Lead.phone_index == lead.phone_index) == 1
    assert client.get("/m/enquiry/ZZ99").status_code == 404


def test_enquiry_through_a_salespersons_qr_code_is_theirs(client, org, session):
    token = enquiry_links.sign(SECRET_KEY, org.sales_a1.id)
    form_page = _text(client.get(f"/m/enquiry/A01?ref={token}"))
    assert f'name="ref" value="{token}"' in form_page
    client.post("/m/enquiry/A01", data=_enquiry(name="孙先生", ref=token))
    lead = _by_phone(session, "+8613900005555")
    assert lead.owner_id == org.sales_a1.id and lead.source == LeadSource.QR_CODE

    forged = enquiry_links.sign("another-secret", org.sales_a1.id)
    client.post("/m/enquiry/A01", data=_enquiry(name="李先生", phone="13900006666", ref=forged))
    other_store = enquiry_links.sign(SECRET_KEY, org.sales_b.id)
    client.post(
        "/m/enquiry/A01", data=_enquiry(name="周先生", phone="13900006667", ref=other_store)
    )
    for phone in ("+8613900006666", "+8613900006667"):
        stray = _by_phone(session, phone)
        assert stray.owner_id is None and stray.source == LeadSource.ONLINE

    login(client, org.sales_a1)
    bench = _section(_text(client.get("/h5/")), "new-leads")
    assert "孙先生" in bench and "个人二维码" in bench


def test_public_enquiry_is_rate_limited(client, org):
    for number in range(10):
        client.post("/m/enquiry/A01", data=_enquiry(phone=f"1390000{number:04d}"))
    blocked = client.post("/m/enquiry/A01", data=_enquiry(phone="13900009999"))
    assert blocked.status_code == 429
