"""Log-in from the mini-program and "who am I" (the WeChat issue "Log-in"; ARCHITECTURE
"Contract": ``POST /api/v1/auth/miniprogram`` ``{code, phone_code}`` → ``{token, staff|customer}``).
"""

from __future__ import annotations

from flask import current_app
from marshmallow import fields, validate

from crm import clock, phones
from crm.api import auth
from crm.api.blueprint import ApiBlueprint
from crm.api.errors import body
from crm.api.schemas import ApiSchema
from crm.extensions import db, limiter
from crm.models import Staff
from crm.services import api_tokens, miniprogram_login
from wechat.client import miniprogram_client

bp = ApiBlueprint("api_auth", __name__, description="登录与当前身份")


class LoginIn(ApiSchema):
    code = fields.String(load_default="", metadata={"label": "登录凭证"})
    phone_code = fields.String(load_default=None, allow_none=True, metadata={"label": "手机号授权"})
    audience = fields.String(
        load_default="customer",
        validate=validate.OneOf(["staff", "customer"], error="audience 只能是 staff 或 customer"),
    )


class StaffOut(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    role_label = fields.String(required=True)
    store = fields.String(required=True, allow_none=True)


class CustomerOut(ApiSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    store = fields.String(required=True)


class MembershipOffer(ApiSchema):
    phone = fields.String(required=True)
    message = fields.String(required=True)
    consent_purposes = fields.List(fields.String(), required=True)


class LoginOut(ApiSchema):
    registered = fields.Boolean(required=True)
    token = fields.String()
    expires_in = fields.Integer()
    staff = fields.Nested(StaffOut)
    customer = fields.Nested(CustomerOut)
    membership_offer = fields.Nested(MembershipOffer)


class MeOut(ApiSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["staff", "customer"]))
    staff = fields.Nested(StaffOut)
    customer = fields.Nested(CustomerOut)


def person_json(kind: str, person) -> dict:
    if kind == "staff":
        return {
            "id": person.id,
            "name": person.name,
            "role": person.role,
            "role_label": person.role_label,
            "store": person.store.name if person.store else None,
        }
    return {"id": person.id, "name": person.name, "store": person.store.name}


@bp.post("/auth/miniprogram")
@limiter.limit(auth.login_rate)
@bp.arguments(LoginIn)
@bp.response(200, LoginOut)
def auth_miniprogram(data: dict):
    """Log in from the mini-program with ``{code, phone_code}`` (phone_code on first log-in)."""
    settings = current_app.extensions["crm_settings"]
    if not (settings.miniprogram_app_id and settings.miniprogram_app_secret):
        return body(503, "miniprogram_not_configured", "小程序尚未配置，请联系管理员")
    result = miniprogram_login.log_in(
        db.session,
        miniprogram_client(settings),
        data["code"],
        data["phone_code"] or None,
        clock.now(),
    )
    if not result.registered:
        masked = phones.masked(result.phone_e164)
        if data["audience"] == "staff":
            return body(404, "not_registered", f"手机号 {masked} 未登记为员工，请联系管理员")
        return {
            "registered": False,
            "membership_offer": {
                "phone": masked,
                "message": "该手机号还不是会员，同意《个人信息保护说明》后即可成为会员",
                "consent_purposes": ["service_reminders", "membership"],
            },
        }
    person = result.person
    kind = "staff" if isinstance(person, Staff) else "customer"
    return {
        "registered": True,
        "token": api_tokens.issue(current_app.config["SECRET_KEY"], person),
        "expires_in": api_tokens.TOKEN_LIFETIME_SECONDS,
        kind: person_json(kind, person),
    }


@bp.get("/me")
@auth.any_principal
@bp.response(200, MeOut)
def me():
    """Who the token belongs to."""
    principal = auth.current_principal()
    return {"kind": principal.kind, principal.kind: person_json(principal.kind, principal.person)}
