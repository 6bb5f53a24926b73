"""Care channels per group 关怀渠道 (issue 8 "Channels and WeChat's rules"): the validation of
the console form (each error names its field), the preview as WeChat shows a template since May
2023 (no first/remark, values cut at 20), each kind's status, the customer's opt-outs
关怀订阅, and ``doctor`` naming the kinds without a channel."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Forbidden, NotFound, ValidationError
from crm.models import CareOptOut, CareTemplate
from crm.services import care_channels, care_opt_outs, outbox
from crm.services.care import new_car, planner
from crm.services.care.kinds import CareKind, Rank
from tests.conftest import login

LONG_ADDRESS = "杭州市西湖区文三路100号华星科技大厦一楼展厅"  # 23 characters
GOOD = {
    "channel": "template",
    "template_id": "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY",
    "field_map": "thing1: 服务顾问\ntime2: keyword5\nthing3: 门店地址",
    "page": "/m/bookings",
}


def configure(session, actor, kind_name="new_car", **changes):
    return care_channels.configure(session, actor, kind_name, {**GOOD, **changes}, clock.now())


def templates(session) -> int:
    return session.scalar(select(func.count()).select_from(CareTemplate))


def a_greeting() -> CareKind:
    return next(kind for kind in planner.all_kinds() if kind.marketing)


# --- the preview ------------------------------------------------------------------------------


def test_preview_cuts_each_value_at_20_characters_and_shows_no_first_or_remark():
    kind = CareKind(
        name="test_notice",
        label="测试提醒",
        priority=Rank.SERVICE,
        fields={"first": "标题", "keyword1": "门店地址", "keyword2": "日期", "remark": "备注"},
        sample={
            "first": "尊敬的客户您好",
            "keyword1": LONG_ADDRESS,
            "keyword2": "2026-06-20",
            "remark": "欢迎到店",
        },
    )
    shown = care_channels.preview(kind, {})
    assert shown == [("门店地址", "杭州市西湖区文三路100号华星科技大厦…"), ("日期", "2026-06-20")]
    assert all(len(value) <= outbox.VALUE_MAX for _label, value in shown)
    assert shown[0][1] == outbox.shown(LONG_ADDRESS)  # the very cut the sent message gets


def test_preview_follows_the_mapping_order_and_the_sample_the_admin_typed():
    mapping = care_channels.parse_mapping(new_car.KIND, GOOD["field_map"])
    assert mapping == {"thing1": "keyword1", "time2": "keyword5", "thing3": "keyword4"}
    shown = care_channels.preview(new_car.KIND, mapping, {"keyword4": LONG_ADDRESS})
    assert shown == [
        ("服务顾问", new_car.KIND.sample["keyword1"]),
        ("首次保养", new_car.KIND.sample["keyword5"]),
        ("门店地址", "杭州市西湖区文三路100号华星科技大厦…"),
    ]


def test_preview_without_a_mapping_shows_the_kinds_own_fields():
    shown = care_channels.preview(new_car.KIND, {})
    assert [label for label, _value in shown] == list(new_car.KIND.fields.values())


def test_preview_of_a_mapping_being_typed_shows_what_is_wrong():
    lines, error = care_channels.preview_of_form(new_car.KIND, "thing1: 车牌号")
    assert lines == [] and "车牌号" in error


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"field_map": "thing1: 服务顾问\nthing2: 车牌号"}, "field_map", ["车牌号", "新车关怀"]),
        ({"field_map": "thing1: keyword9"}, "field_map", ["keyword9"]),
        ({"field_map": "first: 服务顾问"}, "field_map", ["first"]),
        ({"field_map": "thing1: 服务顾问\nREMARK: 门店地址"}, "field_map", ["REMARK"]),
        ({"field_map": "thing1 服务顾问"}, "field_map", ["第1行"]),
        ({"field_map": "thing1: 服务顾问\nthing1: 门店地址"}, "field_map", ["thing1"]),
        ({"field_map": "1thing: 服务顾问"}, "field_map", ["1thing"]),
        ({"template_id": ""}, "template_id", ["模板ID"]),
        ({"channel": "subscribe", "template_id": ""}, "template_id", ["订阅消息"]),
        ({"template_id": "模板 1"}, "template_id", ["模板ID"]),
        ({"page": "/h5/"}, "page", ["/m/"]),
        ({"page": "https://evil.example/m/"}, "page", ["/m/"]),
        ({"page": "/m//evil.example"}, "page", ["/m/"]),
        ({"page": ""}, "page", ["页面"]),
        ({"channel": "sms"}, "channel", ["渠道"]),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    org, session, frozen_now, changes, field, words
):
    with pytest.raises(ValidationError) as refused:
        configure(session, org.group_admin, **changes)
    assert refused.value.field == field
    for word in words:
        assert word in refused.value.message
    assert templates(session) == 0


def test_only_the_group_admin_configures_channels(org, session, frozen_now):
    with pytest.raises(Forbidden):
        configure(session, org.store_admin_a)
    with pytest.raises(NotFound):
        configure(session, org.group_admin, kind_name="no_such_kind")


def test_staff_channel_needs_no_template(org, session, frozen_now):
    config = configure(
        session, org.group_admin, channel="personal", template_id="", field_map="", page="/m/"
    )
    assert (config.channel, config.template_id, config.field_map) == ("personal", "", {})


# --- status -----------------------------------------------------------------------------------


def test_each_kind_is_configured_not_configured_or_switched_off(org, session, frozen_now):
    group_id = org.group_admin.group_id
    greeting = a_greeting()
    status = care_channels.status_for_group(session, group_id)
    assert list(status) == [kind.name for kind in planner.all_kinds()]
    assert status["new_car"].status == care_channels.NOT_CONFIGURED
    assert status["new_car"].channel_label == "未配置"
    assert status[greeting.name].status == care_channels.CONFIGURED  # staff send it by default
    assert status[greeting.name].channel_label == "员工代发（默认）"

    configure(session, org.group_admin)
    configure(
        session,
        org.group_admin,
        kind_name=greeting.name,
        channel="off",
        template_id="",
        field_map="",
    )
    status = care_channels.status_for_group(session, group_id)
    assert status["new_car"].status == care_channels.CONFIGURED
    assert status["new_car"].channel_label == "公众号模板消息"
    assert status[greeting.name].status == care_channels.NO_CHANNEL

    saved = status["new_car"].config
    assert (saved.template_id, saved.page) == (GOOD["template_id"], "/m/bookings")
    assert saved.field_map == {"thing1": "keyword1", "time2": "keyword5", "thing3": "keyword4"}


def test_saving_again_updates_the_one_row_of_the_group(org, session, frozen_now):
    configure(session, org.group_admin)
    configure(session, org.group_admin, template_id="tmpl-2", field_map="")
    assert templates(session) == 1
    assert care_channels.current(session, org.group_admin, "new_car")[1].template_id == "tmpl-2"


def test_doctor_names_the_kinds_each_group_has_no_channel_for(cli, org, session, frozen_now):
    configure(session, org.group_admin)
    result = cli.invoke(args=["doctor"])
    line = next(
        line for line in result.output.splitlines() if line.startswith("WARN care channels")
    )
    assert line.startswith("WARN care channels 测试汽车集团: 未配置 ")
    unconfigured = [
        kind.label for kind in planner.all_kinds() if not kind.marketing and kind.name != "new_car"
    ]
    for label in unconfigured:
        assert label in line
    assert new_car.KIND.label not in line
    assert "problem(s) found" not in result.output  # a warning, not a failure


# --- the console pages ------------------------------------------------------------------------


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_channel_list_shows_unconfigured_kinds_in_red(client, org, session, frozen_now):
    login(client, org.group_admin)
    page = _text(client.get("/console/care-channels"))
    row = re.search(r'<tr data-kind="new_car".*?</tr>', page, re.S).group(0)
    assert 'data-status="not configured"' in row
    assert '<td class="alarm">未配置</td>' in row
    greeting = re.search(rf'<tr data-kind="{a_greeting().name}".*?</tr>', page, re.S).group(0)
    assert "员工代发（默认）" in greeting and "alarm" not in greeting


def test_edit_page_previews_on_the_server_and_saves(client, org, session, frozen_now):
    login(client, org.group_admin)
    page = _text(client.get("/console/care-channels/new_car"))
    assert 'data-preview-url="/console/care-channels/new_car/preview"' in page
    assert new_car.KIND.sample["keyword4"] in page  # the sample customer, shown as sent

    response = client.post("/console/care-channels/new_car", data={**GOOD}, follow_redirects=True)
    assert response.status_code == 200
    assert "已保存“新车关怀”的发送渠道" in _text(response)
    assert templates(session) == 1


def test_edit_page_shows_the_error_beside_the_field_and_keeps_the_input(
    client, org, session, frozen_now
):
    login(client, org.group_admin)
    response = client.post(
        "/console/care-channels/new_car", data={**GOOD, "field_map": "thing1: 车牌号"}
    )
    assert response.status_code == 400
    page = _text(response)
    error = re.search(r'<p class="error" role="alert" data-field="field_map">([^<]*)</p>', page)
    assert error and "车牌号" in error.group(1)
    assert "thing1: 车牌号</textarea>" in page
    assert templates(session) == 0


def test_preview_endpoint_draws_what_wechat_shows(client, org, frozen_now):
    login(client, org.group_admin)
    response = client.get(
        "/console/care-channels/new_car/preview",
        query_string={
            "channel": "template",
            "field_map": "thing1: 门店地址\nremark: 服务顾问",
            "page": "/m/bookings",
            "sample_keyword4": LONG_ADDRESS,
        },
    )
    page = _text(response)
    assert "第2行" in page and "remark" in page  # a hidden line is refused as typed
    response = client.get(
        "/console/care-channels/new_car/preview",
        query_string={
            "channel": "template",
            "field_map": "thing1: 门店地址",
            "page": "/m/bookings",
            "sample_keyword4": LONG_ADDRESS,
        },
    )
    page = _text(response)
    assert '<dd data-preview-line="门店地址">杭州市西湖区文三路100号华星科技大厦…</dd>' in page
    assert LONG_ADDRESS not in page
    assert "打开 /m/bookings" in page


def test_store_admin_cannot_open_the_channel_pages(client, org, frozen_now):
    login(client, org.store_admin_a)
    assert client.get("/console/care-channels").status_code == 403
    assert client.get("/console/care-channels/new_car/preview").status_code == 403
    assert "关怀渠道" not in _text(client.get("/console/"))


# --- a customer's opt-outs --------------------------------------------------------------------


def opt_outs(session, customer) -> dict[str, int | None]:
    rows = session.scalars(select(CareOptOut).where(CareOptOut.customer_id == customer.id))
    return {row.kind: row.recorded_by_id for row in rows}


def test_opt_outs_are_recorded_with_who_and_can_be_taken_back(org, session, frozen_now):
    greeting = a_greeting().name
    care_opt_outs.set_opt_outs(
        session, org.sales_a1, org.customer_a1.id, ["new_car", greeting], clock.now()
    )
    assert opt_outs(session, org.customer_a1) == {
        "new_car": org.sales_a1.id,
        greeting: org.sales_a1.id,
    }
    care_opt_outs.set_opt_outs(session, org.advisor_a, org.customer_a1.id, [greeting], clock.now())
    assert opt_outs(session, org.customer_a1) == {greeting: org.sales_a1.id}  # kept, not redone
    choices = care_opt_outs.for_customer(session, org.advisor_a, org.customer_a1.id)
    assert {c.kind.name for c in choices if c.opted_out} == {greeting}


def test_an_unknown_kind_is_refused_naming_it_and_changes_nothing(org, session, frozen_now):
    with pytest.raises(ValidationError) as refused:
        care_opt_outs.set_opt_outs(
            session, org.sales_a1, org.customer_a1.id, ["new_car", "spam"], clock.now()
        )
    assert refused.value.field == "kinds" and "spam" in refused.value.message
    assert opt_outs(session, org.customer_a1) == {}


def test_another_salespersons_customer_cannot_be_changed(org, session, frozen_now):
    with pytest.raises(NotFound):
        care_opt_outs.set_opt_outs(
            session, org.sales_a2, org.customer_a1.id, ["new_car"], clock.now()
        )


def test_customer_page_lists_the_kinds_and_saves_the_opt_outs(client, org, session, frozen_now):
    login(client, org.store_admin_a)
    url = f"/console/customers/{org.customer_a1.id}"
    page = _text(client.get(url))
    assert "关怀订阅" in page
    for kind in planner.all_kinds():
        # Notices to staff (a complaint to handle) are not the customer's to opt out of.
        assert (f'name="kinds" value="{kind.name}"' in page) is not kind.for_staff

    response = client.post(
        f"{url}/care-opt-outs", data={"kinds": ["new_car"]}, follow_redirects=True
    )
    assert "关怀订阅已保存" in _text(response)
    assert opt_outs(session, org.customer_a1) == {"new_car": org.store_admin_a.id}
    assert 'value="new_car" checked' in _text(client.get(url))

    refused = client.post(f"{url}/care-opt-outs", data={"kinds": ["spam"]}, follow_redirects=True)
    assert "未知的关怀类型：spam" in _text(refused)
    assert opt_outs(session, org.customer_a1) == {"new_car": org.store_admin_a.id}

    other = client.post(f"/console/customers/{org.customer_b.id}/care-opt-outs", data={})
    assert other.status_code == 404
