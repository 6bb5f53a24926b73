"""Signed, short-lived bearer tokens for the mini-program API (the WeChat issue, "Log-in").

A token names the person (staff or customer) and the role; it is checked against the database
on every use, so a staff member who has left is refused at once even with an unexpired token.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from crm.errors import DomainError
from crm.models import Customer, Staff

TOKEN_LIFETIME_SECONDS = 2 * 3600
_SALT = "crm.api-token.v1"


class InvalidToken(DomainError):
    http_status = 401
    code = "invalid_token"


@dataclass(frozen=True)
class Principal:
    kind: str  # "staff" | "customer"
    person: Staff | Customer

    @property
    def role(self) -> str:
        return self.person.role if self.kind == "staff" else "customer"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue(secret_key: str, person: Staff | Customer) -> str:
    kind = "staff" if isinstance(person, Staff) else "customer"
    role = person.role if kind == "staff" else "customer"
    return _serializer(secret_key).dumps({"kind": kind, "id": person.id, "role": role})


def verify(session: Session, secret_key: str, token: str) -> Principal:
    """The person behind ``token``; expired, forged or left-staff tokens raise InvalidToken."""
    try:
        payload = _serializer(secret_key).loads(token, max_age=TOKEN_LIFETIME_SECONDS)
    except SignatureExpired as exc:
        raise InvalidToken("登录已过期，请重新登录", "token") from exc
    except BadSignature as exc:
        raise InvalidToken("登录凭证无效", "token") from exc
    model = Staff if payload.get("kind") == "staff" else Customer
    person = session.get(model, payload.get("id"))
    if person is None or (model is Staff and not person.active):
        raise InvalidToken("账号已停用，请联系管理员", "token")
    if model is Staff and person.role != payload.get("role"):
        raise InvalidToken("角色已变更，请重新登录", "token")
    return Principal(kind=payload["kind"], person=person)
