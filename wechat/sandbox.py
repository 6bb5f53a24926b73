"""The WeChat sandbox: a ``requests`` transport that answers WeChat's API locally.

With no WeChat credentials (embedded mode) the same wechatpy clients and the same product code
run; only this transport differs. Every message the product sends lands in the
``sandbox_messages`` table and shows on ``/sandbox/`` as the recipient's phone would show it.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import BaseAdapter

from crm import clock
from crm.extensions import db
from crm.models import SandboxMessage

SANDBOX_APP_ID = "wx-sandbox"
SANDBOX_SECRET = "sandbox-secret"
SANDBOX_API_BASE = "https://sandbox.invalid"


def _template_text(body: dict) -> tuple[str, str]:
    """Render a template message the way WeChat shows it: first line, fields, remark."""
    data = body.get("data", {})
    lines = [f"{key}: {value.get('value', '')}" for key, value in data.items()]
    title = data.get("first", {}).get("value") or body.get("template_id", "")
    return title, "\n".join(lines)


class SandboxAdapter(BaseAdapter):
    """Answers the WeChat API calls the product makes, as WeChat would."""

    def send(self, request, **kwargs):
        url = urlparse(request.url)
        params = {key: values[0] for key, values in parse_qs(url.query).items()}
        body = json.loads(request.body or b"{}") if request.body else {}
        answer = self.answer(url.path, params, body)
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(answer, ensure_ascii=False).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass

    def answer(self, path: str, params: dict, body: dict) -> dict:
        if path in ("/cgi-bin/stable_token", "/cgi-bin/token"):
            return {"access_token": "sandbox-token", "expires_in": 7200}
        if path == "/cgi-bin/message/template/send":
            title, text = _template_text(body)
            return self._deliver(body, "template", title, text, body.get("url", ""))
        if path == "/cgi-bin/message/custom/send":
            text = body.get("text", {}).get("content", "")
            return self._deliver(body, "text", "", text, "")
        if path == "/cgi-bin/qrcode/create":
            ticket = f"sandbox-{secrets.token_urlsafe(12)}"
            return {
                "ticket": ticket,
                "expire_seconds": body.get("expire_seconds", 60),
                "url": f"/sandbox/qr/{ticket}",
            }
        if path == "/cgi-bin/ticket/getticket":
            return {"errcode": 0, "errmsg": "ok", "ticket": "sandbox-jsapi", "expires_in": 7200}
        if path == "/cgi-bin/menu/create":
            return {"errcode": 0, "errmsg": "ok"}
        return {"errcode": 40066, "errmsg": f"sandbox does not answer {path}"}

    @staticmethod
    def _deliver(body: dict, kind: str, title: str, text: str, link: str) -> dict:
        openid = body.get("touser", "")
        if not openid:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        message = SandboxMessage(
            openid=openid,
            kind=kind,
            title=title,
            body=text,
            url=link,
            msgid=str(secrets.randbelow(10**12)),
            sent_at=clock.now(),
        )
        db.session.add(message)
        db.session.flush()
        return {"errcode": 0, "errmsg": "ok", "msgid": int(message.msgid)}


def install(http: requests.Session) -> None:
    http.mount(SANDBOX_API_BASE, SandboxAdapter())
