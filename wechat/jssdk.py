"""JS-SDK configuration for the H5 pages (scan a VIN, choose complaint photos): the signature
for the page URL, from the shared jsapi ticket."""

from __future__ import annotations

import secrets
import time

from flask import Blueprint, current_app, jsonify, request, session
from flask_login import current_user
from wechatpy.exceptions import WeChatClientException

from crm.views.member_h5 import SESSION_KEY
from wechat.client import official_account_client

bp = Blueprint("wechat_jssdk", __name__, url_prefix="/wechat")


@bp.get("/jssdk")
def jssdk_config():
    """``wx.config`` values for ``?url=`` (the page's own URL, without its #fragment)."""
    if not (current_user.is_authenticated or session.get(SESSION_KEY)):
        return jsonify(error={"code": "unauthorised", "message": "请先登录", "field": None}), 401
    url = (request.args.get("url") or "").split("#")[0]
    if not url.startswith(("http://", "https://")):
        message = "url 必须是当前页面的完整地址"
        return jsonify(error={"code": "invalid", "message": message, "field": "url"}), 400
    settings = current_app.extensions["crm_settings"]
    client = official_account_client(settings)
    try:
        ticket = client.jsapi.get_jsapi_ticket()
    except WeChatClientException as exc:
        message = f"微信服务暂时不可用（{exc.errcode}）"
        return jsonify(error={"code": "wechat_error", "message": message, "field": None}), 502
    nonce, timestamp = secrets.token_hex(8), int(time.time())
    signature = client.jsapi.get_jsapi_signature(nonce, ticket, timestamp, url)
    return jsonify(appId=client.appid, timestamp=timestamp, nonceStr=nonce, signature=signature)
