"""A fake WeChat API server on a loopback port, written from WeChat's public API docs.

Real sockets, real wechatpy calls: the app is pointed at it with ``WECHAT_API_BASE_URL``.
It answers the way WeChat does: HTTP 200 with ``{"errcode": N, "errmsg": "..."}``, and these
codes where WeChat uses them: 40001 invalid token, 42001 expired token, 40029 invalid code,
40163 code already used, 43004 recipient not subscribed, 43101 recipient refused subscribe
messages, 45009 quota reached, -1 busy.

Tests arrange the world (``add_js_code``, ``add_oauth_code``, ``subscribe`` ...) and inspect
what was asked (``requests``, ``token_fetches``, ``sent``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from tests.fakes.loopback import JsonHandler, LoopbackServer

ERRORS = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40007: "invalid media_id",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40163: "code been used",
    42001: "access_token expired",
    43004: "require subscribe",
    43101: "user refuse to accept the msg",
    45009: "reach max api daily quota limit",
}

MINIPROGRAM_APP = ("wx-test-mini", "mini-secret")


def error(code: int) -> dict:
    return {"errcode": code, "errmsg": ERRORS.get(code, "error")}


@dataclass(frozen=True)
class Media:
    """A binary answer: WeChat serves temporary media as the file itself, not JSON."""

    data: bytes
    content_type: str


@dataclass
class FakeWeChat:
    app_id: str = "wx-test-app"
    app_secret: str = "test-secret"
    apps: dict[str, str] = field(default_factory=dict)  # appid -> secret
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    token_fetches: list[tuple[str, str]] = field(default_factory=list)  # (path, appid)
    sent: list[dict] = field(default_factory=list)  # messages accepted, in order
    menus: list[dict] = field(default_factory=list)
    phone_calls: int = 0
    force_errcode: int | None = None  # every call answers this error (outage simulation)
    latency: float = 0.0  # seconds every answer waits, like WeChat over the internet
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self._reset_state()

    def _reset_state(self):
        self.apps = {self.app_id: self.app_secret, MINIPROGRAM_APP[0]: MINIPROGRAM_APP[1]}
        self.tokens: dict[str, dict] = {}  # token -> {"appid", "state": valid|expired|revoked}
        self.current: dict[str, str] = {}  # appid -> current token
        self.js_codes: dict[str, dict] = {}  # js_code -> {"openid", "unionid"}
        self.phone_codes: dict[str, str] = {}  # phone_code -> "13800000000"
        self.oauth_codes: dict[str, dict] = {}  # oauth code -> {"openid", "unionid"}
        self.used_codes: set[str] = set()
        self.subscribed: set[str] = set()
        self.refusing: set[str] = set()  # openids that refuse subscribe messages (43101)
        self.queued_errors: dict[str, list[int]] = defaultdict(list)  # path -> errcodes
        self.qrcodes: dict[str, str] = {}  # ticket -> scene
        self.media: dict[str, Media] = {}  # media_id -> temporary media (JS-SDK uploads)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.token_fetches.clear()
            self.sent.clear()
            self.menus.clear()
            self.phone_calls = 0
            self.force_errcode = None
            self.latency = 0.0
            self._reset_state()

    # --- arranging the world --------------------------------------------------------------

    def add_js_code(self, code: str, openid: str, unionid: str | None = None) -> None:
        self.js_codes[code] = {"openid": openid, "unionid": unionid}

    def add_phone_code(self, code: str, phone: str) -> None:
        self.phone_codes[code] = phone

    def add_oauth_code(self, code: str, openid: str, unionid: str | None = None) -> None:
        self.oauth_codes[code] = {"openid": openid, "unionid": unionid}

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """A photo a user uploaded with the JS-SDK (``wx.uploadImage``): its serverId."""
        self.media[media_id] = Media(data, content_type)

    def subscribe(self, openid: str) -> None:
        self.subscribed.add(openid)

    def refuse_subscriptions(self, openid: str) -> None:
        """The user turned our subscribe messages off: bizsend answers 43101."""
        self.refusing.add(openid)

    def fail_next(self, path: str, *errcodes: int) -> None:
        """The next calls to ``path`` answer these errcodes, one each, in order."""
        self.queued_errors[path].extend(errcodes)

    @contextmanager
    def outage(self, errcode: int) -> Iterator[None]:
        """WeChat down for a while: inside the block every call answers ``errcode`` (-1 busy,
        45009 quota reached), as a real outage does; afterwards it answers normally."""
        self.force_errcode = errcode
        try:
            yield
        finally:
            self.force_errcode = None

    def expire_tokens(self, appid: str | None = None) -> None:
        """Every issued token of ``appid`` now answers 42001 (as after its 7200 s)."""
        with self.lock:
            for info in self.tokens.values():
                if appid in (None, info["appid"]) and info["state"] == "valid":
                    info["state"] = "expired"
            for key in [k for k in self.current if appid in (None, k)]:
                del self.current[key]

    @property
    def issued_tokens(self) -> list[str]:
        return list(self.tokens)

    # --- tokens -----------------------------------------------------------------------------

    def _credentials_error(self, appid: str | None, secret: str | None) -> dict | None:
        if appid not in self.apps:
            return error(40013)
        if self.apps[appid] != secret:
            return error(40125)
        return None

    def _issue(self, appid: str) -> str:
        token = f"TOKEN-{appid}-{secrets.token_hex(8)}"
        self.tokens[token] = {"appid": appid, "state": "valid"}
        self.current[appid] = token
        return token

    def token(self, params: dict) -> dict:
        """GET /cgi-bin/token: a new token each call, cancelling the previous one."""
        if params.get("grant_type") != "client_credential":
            return error(40002)
        problem = self._credentials_error(params.get("appid"), params.get("secret"))
        if problem:
            return problem
        with self.lock:
            appid = params["appid"]
            self.token_fetches.append(("/cgi-bin/token", appid))
            previous = self.current.get(appid)
            if previous:
                self.tokens[previous]["state"] = "revoked"
            return {"access_token": self._issue(appid), "expires_in": 7200}

    def stable_token(self, body: dict) -> dict:
        """POST /cgi-bin/stable_token: the current token while valid (no cancelling)."""
        if body.get("grant_type") != "client_credential":
            return error(40002)
        problem = self._credentials_error(body.get("appid"), body.get("secret"))
        if problem:
            return problem
        with self.lock:
            appid = body["appid"]
            self.token_fetches.append(("/cgi-bin/stable_token", appid))
            token = self.current.get(appid)
            if token is None or body.get("force_refresh"):
                token = self._issue(appid)
            return {"access_token": token, "expires_in": 7200}

    def check_token(self, token: str | None) -> tuple[str | None, dict | None]:
        info = self.tokens.get(token or "")
        if info is None or info["state"] == "revoked":
            return None, error(40001)
        if info["state"] == "expired":
            return None, error(42001)
        return info["appid"], None

    # --- mini-program -------------------------------------------------------------------------

    def _use_code(self, code: str, table: dict) -> tuple[dict | None, dict | None]:
        with self.lock:
            if code in self.used_codes:
                return None, error(40163)
            if code not in table:
                return None, error(40029)
            self.used_codes.add(code)
            return table[code], None

    def jscode2session(self, params: dict) -> dict:
        problem = self._credentials_error(params.get("appid"), params.get("secret"))
        if problem:
            return problem
        person, problem = self._use_code(params.get("js_code", ""), self.js_codes)
        if problem:
            return problem
        answer = {"openid": person["openid"], "session_key": secrets.token_hex(12)}
        if person["unionid"]:
            answer["unionid"] = person["unionid"]
        return answer

    def phone_number(self, appid: str, body: dict) -> dict:
        self.phone_calls += 1  # billed per call
        phone, problem = self._use_code(body.get("code", ""), self.phone_codes)
        if problem:
            return problem
        return {
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": {"timestamp": 1700000000, "appid": appid},
            },
        }

    # --- official account ---------------------------------------------------------------------

    def oauth_access_token(self, params: dict) -> dict:
        problem = self._credentials_error(params.get("appid"), params.get("secret"))
        if problem:
            return problem
        person, problem = self._use_code(params.get("code", ""), self.oauth_codes)
        if problem:
            return problem
        answer = {
            "access_token": secrets.token_hex(12),
            "expires_in": 7200,
            "refresh_token": secrets.token_hex(12),
            "openid": person["openid"],
            "scope": "snsapi_base",
        }
        if person["unionid"]:
            answer["unionid"] = person["unionid"]
        return answer

    def send(self, kind: str, body: dict) -> dict:
        if body.get("touser") not in self.subscribed:
            return error(43004)
        with self.lock:
            msgid = len(self.sent) + 1000
            self.sent.append({"kind": kind, "msgid": msgid, **body})
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def send_subscribe(self, body: dict) -> dict:
        """POST cgi-bin/message/subscribe/bizsend: a one-time subscription message."""
        if body.get("touser") in self.refusing:
            return error(43101)
        return self.send("subscribe", body)

    def media_get(self, params: dict) -> Media | dict:
        """GET cgi-bin/media/get: the file, or 40007 for an unknown (or expired) media_id."""
        return self.media.get(params.get("media_id", "")) or error(40007)

    def qrcode(self, body: dict) -> dict:
        scene = body.get("action_info", {}).get("scene", {})
        scene_value = scene.get("scene_str") or str(scene.get("scene_id", ""))
        ticket = f"TICKET-{secrets.token_hex(8)}"
        self.qrcodes[ticket] = scene_value
        return {
            "ticket": ticket,
            "expire_seconds": body.get("expire_seconds", 60),
            "url": f"http://weixin.qq.com/q/{ticket}",
        }


# path -> (needs access token, handler(fake, appid, params, body))
ROUTES = {
    "/cgi-bin/message/template/send": (True, lambda f, a, p, b: f.send("template", b)),
    "/cgi-bin/message/custom/send": (True, lambda f, a, p, b: f.send("custom", b)),
    "/cgi-bin/message/subscribe/bizsend": (True, lambda f, a, p, b: f.send_subscribe(b)),
    "/cgi-bin/qrcode/create": (True, lambda f, a, p, b: f.qrcode(b)),
    "/cgi-bin/media/get": (True, lambda f, a, p, b: f.media_get(p)),
    "/cgi-bin/menu/create": (True, lambda f, a, p, b: f.menus.append(b) or error(0)),
    "/cgi-bin/ticket/getticket": (
        True,
        lambda f, a, p, b: {
            "errcode": 0,
            "errmsg": "ok",
            "ticket": f"JSAPI-{a}",
            "expires_in": 7200,
        },
    ),
    "/cgi-bin/user/info": (
        True,
        lambda f, a, p, b: {
            "subscribe": int(p.get("openid") in f.subscribed),
            "openid": p.get("openid"),
        },
    ),
    "/wxa/business/getuserphonenumber": (True, lambda f, a, p, b: f.phone_number(a, b)),
    "/cgi-bin/token": (False, lambda f, a, p, b: f.token(p)),
    "/cgi-bin/stable_token": (False, lambda f, a, p, b: f.stable_token(b)),
    "/sns/jscode2session": (False, lambda f, a, p, b: f.jscode2session(p)),
    "/sns/oauth2/access_token": (False, lambda f, a, p, b: f.oauth_access_token(p)),
}


class _Handler(JsonHandler):
    fake: FakeWeChat

    def do_GET(self):
        self._answer("GET", {})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            self._json({"errcode": 47001, "errmsg": "data format error"})
            return
        self._answer("POST", body)

    def _answer(self, method: str, body: dict) -> None:
        url = urlparse(self.path)
        params = {key: values[0] for key, values in parse_qs(url.query).items()}
        fake = self.fake
        if fake.latency:
            time.sleep(fake.latency)
        fake.requests.append((method, url.path))
        route = ROUTES.get(url.path)
        if route is None:
            self._json({"errcode": 404, "errmsg": f"no such api {url.path}"}, status=404)
            return
        if fake.force_errcode is not None:
            self._json(error(fake.force_errcode))
            return
        queued = fake.queued_errors.get(url.path)
        if queued:
            self._json(error(queued.pop(0)))
            return
        needs_token, handler = route
        appid = None
        if needs_token:
            appid, problem = fake.check_token(params.get("access_token"))
            if problem:
                self._json(problem)
                return
        answer = handler(fake, appid, params, body)
        if isinstance(answer, Media):
            self._file(answer)
        else:
            self._json(answer)

    def _file(self, media: Media) -> None:
        self.send_response(200)
        self.send_header("Content-Type", media.content_type)
        self.send_header("Content-Length", str(len(media.data)))
        self.end_headers()
        self.wfile.write(media.data)


class FakeWeChatServer(LoopbackServer):
    def __init__(self, fake: FakeWeChat | None = None):
        super().__init__(fake or FakeWeChat(), _Handler)
