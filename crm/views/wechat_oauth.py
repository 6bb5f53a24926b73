"""Silent Official Account OAuth (``snsapi_base``) for the staff H5 and member pages.

WeChat sends the browser back with a one-time ``code``; a refreshed page must not replay it
(WeChat answers 40163), so a code is exchanged once and the browser is sent on to a clean URL.
"""

from __future__ import annotations

import secrets

from flask import current_app, redirect, render_template, request, session, url_for
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from crm import clock
from crm.extensions import db
from crm.models import WeChatApp
from crm.services import binding
from crm.views.sandbox import phone_login

STATE_KEY = "oauth_state"
USED_CODE_KEY = "oauth_code_used"


def _oauth(callback_endpoint: str, state: str) -> WeChatOAuth:
    settings = current_app.extensions["crm_settings"]
    oauth = WeChatOAuth(
        settings.wechat_app_id,
        settings.wechat_app_secret,
        url_for(callback_endpoint, _external=True),
        scope="snsapi_base",
        state=state,
    )
    oauth.API_BASE_URL = f"{settings.wechat_api_base_url}/"
    return oauth


def start(callback_endpoint: str):
    """Send the browser to WeChat's silent authorisation page."""
    state = secrets.token_urlsafe(16)
    session[STATE_KEY] = state
    return redirect(_oauth(callback_endpoint, state).authorize_url)


def login(callback_endpoint: str, **sandbox_login):
    """The log-in page of the H5 pages: WeChat OAuth, or the sandbox log-in when embedded."""
    if current_app.extensions["crm_settings"].wechat_sandbox:
        return phone_login(**sandbox_login)
    return start(callback_endpoint)


def finish(callback_endpoint: str, home_endpoint: str, enter, layout_heading: str):
    """Exchange the code for the openid once, then ``enter(person)`` or explain binding."""
    code = request.args.get("code", "")
    if code and session.get(USED_CODE_KEY) == code:
        return redirect(url_for(home_endpoint))  # a refresh: the code was already used
    expected = session.pop(STATE_KEY, None)
    if not code or not expected or request.args.get("state") != expected:
        return _message(layout_heading, "授权已失效，请从公众号菜单重新进入", 400)
    try:
        answer = _oauth(callback_endpoint, expected).fetch_access_token(code)
    except WeChatOAuthException as exc:
        return _message(layout_heading, f"微信授权失败（{exc.errcode}），请重新进入", 400)
    session[USED_CODE_KEY] = code
    person = binding.bind_by_unionid(
        db.session,
        WeChatApp.OFFICIAL_ACCOUNT,
        answer["openid"],
        answer.get("unionid"),
        clock.now(),
    )
    if person is None:
        return _message(
            layout_heading,
            "您的微信还没有绑定身份：员工请扫描管理员发给您的邀请二维码，"
            "车主请扫描销售顾问出示的会员绑定二维码。",
            200,
        )
    return enter(person)


def _message(heading: str, text: str, status: int):
    return render_template("h5/message.html", heading=heading, text=text), status
