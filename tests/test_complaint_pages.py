"""The complaint pages over HTTP (issue 9 "Complaints"): the member's list, form (text, vehicle,
photos) and detail with its timeline; the staff H5 list with SLA countdowns and breached
badges, the handling steps and phone complaints; the console's list, timeline and complaint
timeliness per store."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import func, select

from crm import clock
from crm.models import Complaint, ComplaintPhoto
from crm.services import complaints
from tests import factories as f
from tests.conftest import login

PAGE_LIMIT = 200_000  # bytes: the page with its stylesheets and scripts (issue 9: 200 KB)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 256
GIF = b"GIF89a" + b"\x00" * 64
WECHAT_UA = "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0.50 NetType/4G"


def member_login(client, customer) -> None:
    response = client.post("/m/login", data={"phone": customer.phone})
    assert response.status_code == 302


def enter(client, staff) -> None:
    response = client.post("/h5/login", data={"phone": staff.phone})
    assert response.status_code == 302


def text(response) -> str:
    return response.get_data(as_text=True)


def field_error(page: str, name: str) -> str:
    match = re.search(rf'data-field="{name}">([^<]*)<', page)
    assert match, f"no error beside {name}"
    return match.group(1)


def filed(session, customer, now=None, text="保养等了两个小时没人理") -> Complaint:
    return complaints.file_from_member(
        session,
        customer,
        complaints.ComplaintInput(text),
        [],
        [],
        None,
        now or clock.now(),
    )


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- the member's pages -----------------------------------------------------------------------


def test_a_stranger_is_sent_to_the_member_log_in(client, org, session, frozen_now):
    complaint = filed(session, org.customer_a1)
    for path in ("/m/complaints/", "/m/complaints/new", f"/m/complaints/{complaint.id}"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.endswith("/m/login")


def test_a_customer_files_a_complaint_with_a_photo_and_sees_it_listed(
    client, org, session, frozen_now
):
    vehicle = f.VehicleFactory(customer=org.customer_a1, plate="浙A88888")
    member_login(client, org.customer_a1)
    form_page = text(client.get("/m/complaints/new"))
    assert 'type="file" name="photos" multiple accept="image/*"' in form_page
    assert "浙A88888" in form_page

    response = client.post(
        "/m/complaints/new",
        data={
            "text": "喷漆颜色不一致",
            "vehicle": str(vehicle.id),
            "photos": [(io.BytesIO(JPEG), "door.jpg")],
        },
        content_type="multipart/form-data",
    )

    complaint = session.scalar(select(Complaint))
    assert response.status_code == 302
    assert response.location.endswith(f"/m/complaints/{complaint.id}")
    detail = text(client.get(response.location))
    assert "喷漆颜色不一致" in detail and "浙A88888 凯美瑞" in detail
    assert 'data-state="new">待联系' in detail
    assert "已提交" in detail and "投诉已提交，客服会尽快与您联系" in detail
    [photo] = complaint.photos
    served = client.get(f"/m/complaints/{complaint.id}/photos/{photo.id}")
    assert (served.status_code, served.mimetype, served.data) == (200, "image/jpeg", JPEG)
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    listed = text(client.get("/m/complaints/"))
    assert f'data-complaint="{complaint.id}"' in listed and "喷漆颜色不一致" in listed


def test_a_file_input_left_empty_files_the_complaint_without_photos(
    client, org, session, frozen_now
):
    member_login(client, org.customer_a1)
    response = client.post(
        "/m/complaints/new",
        data={"text": "前台态度差", "photos": [(io.BytesIO(b""), "")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert count(session, Complaint) == 1 and count(session, ComplaintPhoto) == 0


def test_a_photo_that_is_not_an_image_is_refused_beside_the_field_and_nothing_is_filed(
    client, org, session, frozen_now
):
    member_login(client, org.customer_a1)
    response = client.post(
        "/m/complaints/new",
        data={"text": "前台态度差", "photos": [(io.BytesIO(GIF), "x.jpg")]},
        content_type="multipart/form-data",
    )
    page = text(response)
    assert response.status_code == 400
    assert field_error(page, "photos") == "第1张照片不是JPEG、PNG或WebP图片"
    assert ">前台态度差</textarea>" in page  # the text is kept
    assert count(session, Complaint) == 0

    empty = client.post("/m/complaints/new", data={"text": " "})
    assert empty.status_code == 400
    assert field_error(text(empty), "text") == "请填写投诉内容"


def test_another_customers_complaint_and_its_photos_are_not_found(client, org, session, frozen_now):
    complaint = complaints.file_from_member(
        session,
        org.customer_a1,
        complaints.ComplaintInput("喷漆颜色不一致"),
        [JPEG],
        [],
        None,
        clock.now(),
    )
    member_login(client, org.customer_a2)
    assert client.get(f"/m/complaints/{complaint.id}").status_code == 404
    photo_id = complaint.photos[0].id
    assert client.get(f"/m/complaints/{complaint.id}/photos/{photo_id}").status_code == 404
    assert "喷漆颜色不一致" not in text(client.get("/m/complaints/"))


def test_member_complaint_pages_are_light_and_local(client, org, session, frozen_now):
    complaint = filed(session, org.customer_a1)
    member_login(client, org.customer_a1)
    for path in ("/m/complaints/", "/m/complaints/new", f"/m/complaints/{complaint.id}"):
        page = client.get(path).get_data()
        assets = re.findall(rb'<(?:link rel="stylesheet"|script) (?:href|src)="([^"]+)"', page)
        assert assets, "the page loads the local WeUI stylesheet"
        weight = len(page) + sum(size(client, asset.decode()) for asset in assets)
        assert weight < PAGE_LIMIT, f"{path} weighs {weight} bytes"
        assert b"//cdn" not in page and b"https://" not in page
    # Inside WeChat the form also loads the photo picker, which fetches the local JS-SDK.
    wechat = client.get("/m/complaints/new", headers={"User-Agent": WECHAT_UA}).get_data()
    assert b"js/complaint_photos.js" in wechat and b"vendor/jweixin/" in wechat
    assert b"js/complaint_photos.js" not in client.get("/m/complaints/new").get_data()


def size(client, url: str) -> int:
    response = client.get(url)
    try:
        assert response.status_code == 200, url
        return len(response.get_data())
    finally:
        response.close()


# --- the staff H5 pages -----------------------------------------------------------------------


def test_the_care_specialist_sees_the_countdown_then_the_breached_badge(
    client, org, session, frozen_now
):
    complaint = filed(session, org.customer_a1)
    enter(client, org.care_a)

    bench = text(client.get("/h5/"))
    assert re.search(r'id="complaints-entry".*?data-count="complaints">1<', bench, re.S)
    listed = text(client.get("/h5/complaints/"))
    assert f'data-complaint="{complaint.id}"' in listed
    assert "首次联系剩 10 分钟" in listed and 'data-breached="1"' not in listed

    frozen_now.shift(timedelta(minutes=15))
    listed = text(client.get("/h5/complaints/"))
    assert "首次联系已超时 5 分钟" in listed and 'data-breached="1"' in listed


def test_the_countdown_says_it_is_paused_after_closing_time(client, org, session, frozen_now):
    filed(session, org.customer_a1, now=clock.now() + timedelta(hours=9, minutes=55))  # 19:55
    frozen_now.shift(timedelta(hours=10))  # 20:00 in Beijing
    enter(client, org.care_a)
    listed = text(client.get("/h5/complaints/"))
    assert "首次联系剩 10 分钟（非营业时间，计时暂停）" in listed


def test_a_salesperson_without_complaints_has_no_complaint_entry(client, org, session, frozen_now):
    filed(session, org.customer_a1)
    enter(client, org.sales_a1)
    assert 'id="complaints-entry"' not in text(client.get("/h5/"))


def test_a_complaint_is_handled_step_by_step_from_the_phone(client, org, session, frozen_now):
    complaint = filed(session, org.customer_a1)
    enter(client, org.care_a)
    url = f"/h5/complaints/{complaint.id}"

    response = client.post(f"{url}/contact", data={"note": "已电话致歉"})
    assert response.status_code == 302
    again = client.post(f"{url}/contact", data={"note": ""})
    assert again.status_code == 409
    assert field_error(text(again), "conflict") == "客服A已于06-15 10:00联系过客户"

    assert client.post(f"{url}/assign", data={"assignee": str(org.advisor_a.id)}).status_code == 302
    no_cause = client.post(f"{url}/resolve", data={"resolution": "免费返工"})
    assert no_cause.status_code == 400
    assert field_error(text(no_cause), "root_cause") == "请选择问题根因"
    assert ">免费返工</textarea>" in text(no_cause)
    resolved = client.post(
        f"{url}/resolve", data={"resolution": "免费返工", "root_cause": "workmanship"}
    )
    assert resolved.status_code == 302
    undecided = client.post(f"{url}/callback", data={"callback_note": "客户认可"})
    assert field_error(text(undecided), "satisfied") == "请选择客户是否满意"
    done = client.post(f"{url}/callback", data={"callback_note": "客户认可", "satisfied": "yes"})
    assert done.status_code == 302

    page = text(client.get(url))
    assert 'data-state="closed">已办结' in page
    steps = re.findall(r'data-event="(\w+)"', page)
    assert steps == ["filed", "contacted", "assigned", "resolved", "called_back"]
    assert "根因：维修质量；免费返工" in page and "客户满意；客户认可" in page
    assert 'id="callback-form"' not in page  # nothing left to do


def test_staff_of_another_store_or_without_the_complaint_get_404(client, org, session, frozen_now):
    complaint = filed(session, org.customer_a1)
    for outsider in (org.store_admin_b, org.sales_a1):
        enter(client, outsider)
        assert client.get(f"/h5/complaints/{complaint.id}").status_code == 404
        assert client.post(f"/h5/complaints/{complaint.id}/contact").status_code == 404
        client.post("/h5/logout")
    assert session.get(Complaint, complaint.id).first_contacted_at is None


def test_a_phone_complaint_is_recorded_for_a_customer_found_by_phone(
    client, org, session, frozen_now
):
    enter(client, org.advisor_a)
    unknown = client.get("/h5/complaints/phone", query_string={"phone": "13999999999"})
    assert unknown.status_code == 400
    assert field_error(text(unknown), "phone") == "没有找到该手机号的客户"

    found = text(client.get("/h5/complaints/phone", query_string={"phone": org.customer_a2.phone}))
    assert "客户乙" in found and f'name="customer_id" value="{org.customer_a2.id}"' in found
    response = client.post(
        "/h5/complaints/phone",
        data={"customer_id": str(org.customer_a2.id), "text": "来电投诉：洗车划伤车漆"},
    )
    complaint = session.scalar(select(Complaint))
    assert response.status_code == 302 and response.location.endswith(f"/{complaint.id}")
    assert (complaint.channel, complaint.recorded_by_id) == ("phone", org.advisor_a.id)
    page = text(client.get(response.location))
    assert "来电投诉：洗车划伤车漆" in page and "电话投诉，由员工代为登记" in page


# --- the console ------------------------------------------------------------------------------


def test_console_lists_complaints_with_breaches_and_each_stores_timeliness(
    client, org, session, frozen_now
):
    on_time = filed(session, org.customer_a1, text="等待太久")
    complaints.record_first_contact(session, org.care_a, on_time.id, "", clock.now())
    late = filed(session, org.customer_a2, text="价格不透明")
    frozen_now.shift(timedelta(minutes=30))
    login(client, org.store_admin_a)

    page = text(client.get("/console/complaints"))
    assert f'data-complaint="{on_time.id}"' in page and f'data-complaint="{late.id}"' in page
    row = re.search(rf'<tr data-store="{org.store_a.id}".*?</tr>', page, re.S).group(0)
    assert re.search(r'data-figure="contact">50%（1/2）', row)
    assert re.search(r'data-figure="rate"><b>50%</b>', row)
    assert f'data-store="{org.store_b.id}"' not in page  # a store admin sees their store only

    breached = text(client.get("/console/complaints", query_string={"breached": "1"}))
    assert f'data-complaint="{late.id}"' in breached
    assert f'data-complaint="{on_time.id}"' not in breached

    detail = text(client.get(f"/console/complaints/{late.id}"))
    assert "价格不透明" in detail and "未联系" in detail and "已超时" in detail


def test_console_complaints_are_for_those_who_handle_them(client, org, session, frozen_now):
    complaint = filed(session, org.customer_a1)
    login(client, org.sales_a1)
    assert client.get("/console/complaints").status_code == 403
    client.post("/console/logout")
    login(client, org.store_admin_b)
    assert client.get(f"/console/complaints/{complaint.id}").status_code == 404
    bad = client.get(
        "/console/complaints", query_string={"start": "2026-06-30", "end": "2026-06-01"}
    )
    assert field_error(text(bad), "end") == "结束日期不能早于开始日期"
