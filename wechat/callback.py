"""The Official Account server, ``GET|POST /wechat/callback`` (ARCHITECTURE "Contract").

GET is WeChat's URL check: ``echostr`` is echoed only under a valid signature. POST carries
messages and events: the signature and a fresh timestamp (within five minutes) are required,
in safe mode (``WECHAT_AES_KEY`` set) the message must be encrypted and the reply is encrypted
too; malformed XML is a 400 with nothing changed. What a message does is
``crm.services.wechat_inbound``'s business; this view only checks, parses and replies.

Refusals answer a short plain-text reason: the caller is WeChat's server (or an impostor).
"""

from __future__ import annotations

import re
import struct
from datetime import datetime
from xml.parsers.expat import ExpatError

from flask import Blueprint, Response, current_app, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from crm import clock
from crm.config import Settings
from crm.errors import ValidationError
from crm.extensions import csrf, db
from crm.services import wechat_inbound

bp = Blueprint("wechat_callback", __name__, url_prefix="/wechat")
csrf.exempt(bp)  # WeChat's server cannot carry a CSRF token; the signature stands in for it

MAX_CLOCK_SKEW = 300  # seconds between WeChat's timestamp and ours
AES_KEY = re.compile(r"^[A-Za-z0-9+/]{43}$")
NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _text(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _settings() -> Settings:
    return current_app.extensions["crm_settings"]


def _not_configured(settings: Settings) -> Response | None:
    if not settings.wechat_token:
        return _text("WeChat callback is not configured: set WECHAT_TOKEN", 503)
    if settings.wechat_aes_key and not AES_KEY.match(settings.wechat_aes_key):
        return _text("WECHAT_AES_KEY must be the 43-character EncodingAESKey", 503)
    if settings.wechat_aes_key and not settings.wechat_app_id:
        return _text("safe mode (WECHAT_AES_KEY) needs WECHAT_APP_ID", 503)
    return None


def _signed(token: str) -> bool:
    args = request.args
    signature, timestamp, nonce = (args.get(k, "") for k in ("signature", "timestamp", "nonce"))
    if not (signature and timestamp and nonce):
        return False
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return False
    return True


def _fresh(timestamp: str, now: datetime) -> bool:
    """WeChat's timestamp is within five minutes of our clock (either way)."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    return abs(int(now.timestamp()) - int(timestamp)) <= MAX_CLOCK_SKEW


def _refusal(settings: Settings) -> Response | None:
    """Why this request is not WeChat's (or the account is not set up), else None."""
    problem = _not_configured(settings)
    if problem is not None:
        return problem
    if not _signed(settings.wechat_token):
        return _text("invalid signature", 403)
    return None


@bp.get("/callback")
def verify():
    """WeChat's server-URL check: echo ``echostr`` under a valid signature."""
    settings = _settings()
    refusal = _refusal(settings)
    if refusal is not None:
        return refusal
    return _text(request.args.get("echostr", ""), 200)


@bp.post("/callback")
def receive():
    settings = _settings()
    refusal = _refusal(settings)
    if refusal is not None:
        return refusal
    timestamp, nonce = request.args["timestamp"], request.args["nonce"]
    now = clock.now()
    if not _fresh(timestamp, now):
        return _text("stale timestamp", 403)
    if not NONCE.match(nonce):
        return _text("invalid nonce", 400)

    crypto = None
    body = request.get_data()
    if settings.wechat_aes_key:
        crypto = WeChatCrypto(
            settings.wechat_token, settings.wechat_aes_key, settings.wechat_app_id
        )
        if request.args.get("encrypt_type") != "aes" or not request.args.get("msg_signature"):
            return _text("safe mode: encrypted message required", 403)
        try:
            body = crypto.decrypt_message(body, request.args["msg_signature"], timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            return _text("invalid message signature", 403)
        except (ExpatError, KeyError, TypeError, ValueError, IndexError, struct.error):
            return _text("malformed encrypted message", 400)

    try:
        inbound = wechat_inbound.parse(body)
    except ValidationError as error:
        return _text(error.message, 400)
    try:
        reply = wechat_inbound.handle(
            db.session, inbound, request_key=f"{timestamp}:{nonce}", now=now
        )
    except wechat_inbound.ReplayedCallback as error:
        return _text(error.message, error.http_status)
    if not reply:
        return _text("success", 200)

    xml = TextReply(
        source=inbound.account,
        target=inbound.openid,
        content=reply.replace("]]>", "]] >"),
        time=int(now.timestamp()),
    ).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, str(int(now.timestamp())))
    return Response(xml, status=200, mimetype="application/xml")
