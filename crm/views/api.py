"""The JSON API for the mini-program (``/api/v1``). Errors are
``{"error": {"code", "message", "field"}}`` with Chinese messages."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request

from crm import clock, phones
from crm.errors import DomainError, ValidationError
from crm.extensions import csrf, db, limiter
from crm.models import Staff
from crm.services import api_tokens, miniprogram_login
from wechat.client import miniprogram_client

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def error_body(status: int, code: str, message: str, field: str | None = None):
    return jsonify(error={"code": code, "message": message, "field": field}), status


@bp.errorhandler(DomainError)
def domain_error(error: DomainError):
    return error_body(error.http_status, error.code, error.message, error.field)


def _settings():
    return current_app.extensions["crm_settings"]


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("请求体必须是 JSON 对象", "body")
    return body


def token_required(view):
    """Resolve ``Authorization: Bearer <token>`` into ``g.principal`` or answer 401."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise api_tokens.InvalidToken("请先登录", "token")
        g.principal = api_tokens.verify(
            db.session, current_app.config["SECRET_KEY"], header.removeprefix("Bearer ").strip()
        )
        return view(*args, **kwargs)

    return wrapper


def _person_json(principal_kind: str, person) -> dict:
    if principal_kind == "staff":
        return {
            "id": person.id,
            "name": person.name,
            "role": person.role,
            "role_label": person.role_label,
            "store": person.store.name if person.store else None,
        }
    return {"id": person.id, "name": person.name, "store": person.store.name}


@bp.post("/auth/miniprogram")
@limiter.limit("20 per minute")
def auth_miniprogram():
    """Log in from the mini-program with ``{code, phone_code}`` (phone_code on first log-in)."""
    body = _json_body()
    settings = _settings()
    if not (settings.miniprogram_app_id and settings.miniprogram_app_secret):
        return error_body(503, "miniprogram_not_configured", "小程序尚未配置，请联系管理员")
    audience = body.get("audience", "customer")
    if audience not in ("staff", "customer"):
        raise ValidationError("audience 只能是 staff 或 customer", "audience")
    result = miniprogram_login.log_in(
        db.session,
        miniprogram_client(settings),
        str(body.get("code") or ""),
        str(body.get("phone_code") or "") or None,
        clock.now(),
    )
    if not result.registered:
        masked = phones.masked(result.phone_e164)
        if audience == "staff":
            return error_body(404, "not_registered", f"手机号 {masked} 未登记为员工，请联系管理员")
        return jsonify(
            registered=False,
            membership_offer={
                "phone": masked,
                "message": "该手机号还不是会员，同意《个人信息保护说明》后即可成为会员",
                "consent_purposes": ["service_reminders", "membership"],
            },
        )
    person = result.person
    kind = "staff" if isinstance(person, Staff) else "customer"
    token = api_tokens.issue(current_app.config["SECRET_KEY"], person)
    return jsonify(
        registered=True,
        token=token,
        expires_in=api_tokens.TOKEN_LIFETIME_SECONDS,
        **{kind: _person_json(kind, person)},
    )


@bp.get("/me")
@token_required
def me():
    """Who the token belongs to."""
    principal = g.principal
    return jsonify(
        kind=principal.kind, **{principal.kind: _person_json(principal.kind, principal.person)}
    )
