"""Who is calling the JSON API (issue 11 "Tokens"): ``Authorization: Bearer <token>`` from
``POST /api/v1/auth/miniprogram``, checked by ``crm.services.api_tokens.verify`` on every
request (a left staff member's token fails at once), and the rate limit per token.

- ``@customer_required``: the caller must be a customer; ``current_customer()`` is them.
- ``@staff_required("lead.follow_up")``: the caller must be staff, and — when an action is
  named — hold it in ``crm.access.PERMISSIONS`` (else 403). Scope (which records) stays the
  services' business through ``crm.access``, as on the H5 pages.
- ``@any_principal``: anyone logged in.
- Either kind of person with the wrong kind of token gets 403; no or a bad token 401.

Every authenticated request counts against one shared limit per token (``API_RATE_LIMIT``,
default 300 per minute); log-in counts per IP address (``API_LOGIN_RATE_LIMIT``).
"""

from __future__ import annotations

import hashlib
from functools import wraps

from flask import current_app, g, request
from flask_limiter.util import get_remote_address

from crm import access, phones
from crm.errors import Forbidden, ValidationError
from crm.extensions import db, limiter
from crm.models import Customer, Staff
from crm.services import api_tokens
from crm.services.identity import find_customer_by_phone, find_staff_by_phone

DEFAULT_RATE = "300 per minute"
DEFAULT_LOGIN_RATE = "20 per minute"
DOC_KEY = "principal"  # set in a view's _apidoc: "customer" | "staff"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_key() -> str:
    """The rate-limit bucket: the token (hashed), or the address when there is none."""
    token = _bearer()
    if token is None:
        return f"ip:{get_remote_address()}"
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def api_rate() -> str:
    return current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE)


def login_rate() -> str:
    return current_app.config.get("API_LOGIN_RATE_LIMIT", DEFAULT_LOGIN_RATE)


def authenticate() -> api_tokens.Principal:
    """The principal behind the bearer token; ``InvalidToken`` (401) without a valid one."""
    token = _bearer()
    if token is None:
        raise api_tokens.InvalidToken("请先登录", "token")
    principal = api_tokens.verify(db.session, current_app.config["SECRET_KEY"], token)
    g.principal = principal
    return principal


def current_principal() -> api_tokens.Principal:
    return g.principal


def current_customer() -> Customer:
    return g.principal.person


def current_staff() -> Staff:
    return g.principal.person


def principal_key(principal: api_tokens.Principal) -> str:
    """``"customer:<id>"`` or ``"staff:<id>"``: who owns an idempotency key."""
    return f"{principal.kind}:{principal.person.id}"


def _guarded(view, kind: str | None, check):
    limited = limiter.shared_limit(api_rate, scope="api-token", key_func=token_key)(view)

    @wraps(view)
    def wrapper(*args, **kwargs):
        principal = authenticate()
        if kind is not None and principal.kind != kind:
            who = "客户" if kind == "customer" else "员工"
            raise Forbidden(f"该接口仅供{who}使用", "token")
        check(principal)
        return limited(*args, **kwargs)

    wrapper._apidoc = {**getattr(view, "_apidoc", {}), DOC_KEY: kind or "any"}
    return wrapper


def any_principal(view):
    """The view answers anyone logged in (``/me``)."""
    return _guarded(view, None, lambda _principal: None)


def customer_required(view):
    """The view answers customers only (their own records, through the member services)."""
    return _guarded(view, "customer", lambda _principal: None)


def staff_required(action: str | None = None):
    """The view answers staff only; with ``action``, only roles that may take it
    (``crm.access.PERMISSIONS``; 403 otherwise)."""

    def check(principal):
        if action is not None:
            access.require(principal.person, action)

    def decorator(view):
        return _guarded(view, "staff", check)

    return decorator


def demo_token(session, settings, secret_key: str, raw_phone: str) -> str:
    """A token for the staff member or customer with ``raw_phone``, to try the API in the
    demo (``flask --app app crm api-token PHONE``): only while the WeChat sandbox stands in
    for WeChat, since elsewhere a token must come from the mini-program's log-in."""
    if not settings.sandbox_enabled:
        raise ValidationError("只有演示环境（微信沙盒）可以这样获取令牌", "phone")
    e164 = phones.normalise(raw_phone, "phone")
    person = find_staff_by_phone(session, e164) or find_customer_by_phone(session, e164)
    if person is None or getattr(person, "active", True) is False:
        raise ValidationError("没有该手机号的员工或客户", "phone")
    return api_tokens.issue(secret_key, person)
