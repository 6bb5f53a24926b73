"""Auto-replies configured in the console and answered by the Official Account."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.errors import Forbidden, ValidationError
from crm.models import AutoReply
from crm.services import auto_replies
from crm.services.wechat_inbound import Inbound, handle
from tests.conftest import login


def _text(content: str, msg_id: int) -> Inbound:
    return Inbound("o-1", "gh_1", "text", "", int(clock.now().timestamp()), msg_id, content, "")


def test_group_admin_adds_a_keyword_and_the_account_answers_it(client, org, session):
    login(client, org.group_admin)
    response = client.post(
        "/console/auto-replies",
        data={"keyword": "维修预约", "reply": "点击菜单“预约保养”即可在线预约"},
        follow_redirects=True,
    )
    assert "已添加关键词：维修预约" in response.get_data(as_text=True)
    reply = handle(session, _text("我想维修预约一下", 1), request_key="k1", now=clock.now())
    assert reply == "点击菜单“预约保养”即可在线预约"


def test_a_paused_keyword_is_not_answered(client, org, session):
    rule = auto_replies.create(session, org.group_admin, "投诉", "请点击菜单投诉", clock.now())
    login(client, org.group_admin)
    client.post(f"/console/auto-replies/{rule.id}/active", data={"active": "0"})
    reply = handle(session, _text("我要投诉", 2), request_key="k2", now=clock.now())
    assert reply != "请点击菜单投诉"


@pytest.mark.parametrize(
    ("keyword", "reply", "field", "message"),
    [
        ("", "x", "keyword", "请填写关键词"),
        ("维修", "", "reply", "请填写回复内容"),
        ("维修预约", "x", "keyword", "已存在"),
        ("长" * 31, "x", "keyword", "不能超过30"),
    ],
)
def test_bad_keywords_are_refused_beside_the_field(
    client, org, session, keyword, reply, field, message
):
    auto_replies.create(session, org.group_admin, "维修预约", "原回复", clock.now())
    login(client, org.group_admin)
    before = session.scalar(select(func.count()).select_from(AutoReply))
    response = client.post("/console/auto-replies", data={"keyword": keyword, "reply": reply})
    assert response.status_code == 400
    assert f'data-field="{field}">' in response.get_data(as_text=True)
    assert message in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AutoReply)) == before


def test_only_the_group_admin_edits_auto_replies(client, org, session):
    with pytest.raises(Forbidden):
        auto_replies.create(session, org.store_admin_a, "保养", "x", clock.now())
    login(client, org.store_admin_a)
    assert client.get("/console/auto-replies").status_code == 403


def test_deleting_a_keyword_removes_it(client, org, session):
    rule = auto_replies.create(session, org.group_admin, "保养", "x", clock.now())
    login(client, org.group_admin)
    client.post(f"/console/auto-replies/{rule.id}/delete")
    assert session.scalar(select(AutoReply).where(AutoReply.id == rule.id)) is None
    with pytest.raises(ValidationError):
        auto_replies.create(session, org.group_admin, "", "x", clock.now())
