"""Log-in from the mini-program (the WeChat issue, "Log-in" and "Costs and limits").

``jscode2session`` gives the openid (and unionid); an openid already bound logs in with that
alone. Otherwise the same unionid bound through the Official Account binds it; only then is the
billed phone-number API called, once, and the verified phone finds the person through the blind
index. An unknown phone creates nothing: staff are told it is not registered, customers are
offered membership (with consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from crm import phones
from crm.errors import ValidationError
from crm.models import WeChatApp
from crm.services import wechat_identity
from crm.services.identity import find_customer_by_phone, find_staff_by_phone

CODE_ERRORS = {40029: "登录凭证无效，请重新进入小程序", 40163: "登录凭证已使用，请重新进入小程序"}


@dataclass(frozen=True)
class MiniprogramLogin:
    person: wechat_identity.Person | None
    phone_e164: str | None = None  # set when the phone is not registered

    @property
    def registered(self) -> bool:
        return self.person is not None


def _wechat_call(call, field: str):
    try:
        return call()
    except WeChatClientException as exc:
        message = CODE_ERRORS.get(exc.errcode, f"微信服务暂时不可用（{exc.errcode}），请稍后再试")
        raise ValidationError(message, field) from exc


def log_in(
    session: Session, client, code: str, phone_code: str | None, now: datetime
) -> MiniprogramLogin:
    """Who is logging in from the mini-program; binds their openid when first seen."""
    if not (code or "").strip():
        raise ValidationError("缺少登录凭证", "code")
    answer = _wechat_call(lambda: client.wxa.code_to_session(code), "code")
    found = wechat_identity.remember(
        session, WeChatApp.MINIPROGRAM, answer["openid"], answer.get("unionid"), now
    )
    person = wechat_identity.bound_person(found)
    if person is None and found.staff_id is None:
        person = wechat_identity.person_sharing_unionid(session, found)
    if person is None:
        if found.staff_id is not None:  # bound, but the staff member has left
            session.commit()
            raise ValidationError("该员工账号已停用", "code")
        if not (phone_code or "").strip():
            session.commit()
            raise ValidationError("首次登录需要授权手机号", "phone_code")
        info = _wechat_call(lambda: client.wxa.get_phone_number(phone_code), "phone_code")
        e164 = phones.normalise(info["phone_info"]["purePhoneNumber"], "phone_code")
        person = find_staff_by_phone(session, e164) or find_customer_by_phone(session, e164)
        if person is None or getattr(person, "active", True) is False:
            session.commit()
            return MiniprogramLogin(person=None, phone_e164=e164)
    if wechat_identity.bound_person(found) is None:
        wechat_identity.bind(found, person, now)
    session.commit()
    return MiniprogramLogin(person=person)
