"""Log-in on the Official Account H5 pages (the WeChat issue, "Log-in"): silent OAuth
(``snsapi_base``) gives the openid; a bound openid logs its person in; an unbound one is bound
when the same unionid is already bound through the mini-program. Otherwise the person binds by
scanning a one-time QR code (see the callback)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.models import WeChatApp
from crm.services import wechat_identity


def log_in(
    session: Session, openid: str, unionid: str | None, now: datetime
) -> wechat_identity.Person | None:
    """The person this Official Account openid logs in as, or None when not bound yet."""
    found = wechat_identity.remember(session, WeChatApp.OFFICIAL_ACCOUNT, openid, unionid, now)
    person = wechat_identity.bound_person(found)
    if person is None and found.staff_id is None:
        person = wechat_identity.person_sharing_unionid(session, found)
        if person is not None:
            wechat_identity.bind(found, person, now)
    session.commit()
    return person
