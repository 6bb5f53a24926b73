"""A fake WeChat API server on a loopback port, written from WeChat's public API docs.

Real sockets, real wechatpy calls: the app is pointed at it with ``WECHAT_API_BASE_URL``.
It answers errors the way WeChat does (errcode/errmsg JSON with HTTP 200). The WeChat
platform issue grows it (OAuth, jscode2session, phone numbers, messages, QR codes).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ERRORS = {
    40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid",
    40125: "invalid appsecret",
    42001: "access_token expired",
    -1: "system error",
}


@dataclass
class FakeWeChat:
    app_id: str = "wx-test-app"
    app_secret: str = "test-secret"
    issued_tokens: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    force_errcode: int | None = None

    def reset(self) -> None:
        self.issued_tokens.clear()
        self.requests.clear()
        self.force_errcode = None

    def token(self, params: dict[str, str]) -> dict:
        if self.force_errcode is not None:
            return self.error(self.force_errcode)
        if params.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if params.get("appid") != self.app_id:
            return self.error(40013)
        if params.get("secret") != self.app_secret:
            return self.error(40125)
        token = secrets.token_urlsafe(24)
        self.issued_tokens.append(token)
        return {"access_token": token, "expires_in": 7200}

    @staticmethod
    def error(code: int) -> dict:
        return {"errcode": code, "errmsg": ERRORS.get(code, "error")}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeWeChat

    def do_GET(self):
        url = urlparse(self.path)
        params = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.fake.requests.append(("GET", url.path))
        if url.path == "/cgi-bin/token":
            self._json(self.fake.token(params))
        else:
            self._json({"errcode": 404, "errmsg": f"no such api {url.path}"}, status=404)

    def _json(self, body: dict, status: int = 200) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):  # keep test output quiet
        pass


class FakeWeChatServer:
    def __init__(self, fake: FakeWeChat | None = None):
        self.fake = fake or FakeWeChat()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeWeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
