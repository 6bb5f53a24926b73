"""Binding WeChat identities to people: one-time QR invitations, and look-ups of who an openid is.

A staff member or a customer is bound to the Official Account by scanning a one-time parametric
QR code (a ``BindingInvitation``). Admins invite staff of their scope (a week to scan); a
salesperson shows a member-binding code to a customer of theirs (half an hour to scan). The
first valid scan binds the scanner's openid and spends the code. A staff member who has left
cannot be bound, and their existing binding stops working at once.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from crm import access
from crm.errors import DomainError, ValidationError
from crm.models import BindingInvitation, Customer, Staff, WeChatApp
from crm.services import wechat_identity

SCENE_PREFIX = "bind:"
STAFF_QR_SECONDS = 7 * 24 * 3600  # WeChat's longest temporary QR code
CUSTOMER_QR_SECONDS = 30 * 60  # shown on the salesperson's phone, scanned on the spot

Person = wechat_identity.Person


class QRCodeUnavailable(DomainError):
    """WeChat did not issue the QR code; nothing was stored."""

    http_status = 503


def create_invitation(
    session: Session,
    actor: Staff,
    *,
    staff_id: int | None = None,
    customer_id: int | None = None,
    now: datetime,
    qr_client,
) -> BindingInvitation:
    """Issue a one-time binding QR code for one staff member or one customer.

    Admins invite staff in their scope (``staff.edit``); anyone may make a member-binding code
    for a customer they can see. A left staff member cannot be invited. ``qr_client`` is a
    wechatpy client; when WeChat refuses or cannot be reached, nothing is stored.
    """
    if (staff_id is None) == (customer_id is None):
        raise ValidationError("请指定要绑定的员工或客户（二选一）", "staff_id")
    if staff_id is not None:
        staff = access.get_or_404(Staff, staff_id, actor, "staff.edit")
        if not staff.active:
            raise ValidationError(f"员工“{staff.name}”已离职，不能绑定微信", "staff_id")
        whom = {"staff_id": staff.id}
        expire_seconds = STAFF_QR_SECONDS
    else:
        customer = access.get_or_404(Customer, customer_id, actor, "view")
        whom = {"customer_id": customer.id}
        expire_seconds = CUSTOMER_QR_SECONDS

    scene = SCENE_PREFIX + secrets.token_urlsafe(12)
    try:
        answer = qr_client.qrcode.create(
            {
                "expire_seconds": expire_seconds,
                "action_name": "QR_STR_SCENE",
                "action_info": {"scene": {"scene_str": scene}},
            }
        )
    except (WeChatClientException, requests.RequestException) as exc:
        raise QRCodeUnavailable("微信暂时无法生成二维码，请稍后重试", "qrcode") from exc
    if not isinstance(answer, dict) or not answer.get("ticket"):
        raise QRCodeUnavailable("微信未返回二维码，请稍后重试", "qrcode")

    granted = min(int(answer.get("expire_seconds") or expire_seconds), expire_seconds)
    invitation = BindingInvitation(
        scene=scene,
        created_by_id=actor.id,
        ticket=answer["ticket"],
        qr_url=answer.get("url", ""),
        expires_at=now + timedelta(seconds=granted),
        created_at=now,
        **whom,
    )
    session.add(invitation)
    session.commit()
    return invitation


def _invitation_person(invitation: BindingInvitation) -> Person:
    if invitation.staff_id is not None:
        if not invitation.staff.active:
            raise ValidationError("该员工已离职，无法绑定", "scene")
        return invitation.staff
    return invitation.customer


def _same(one: Person, other: Person) -> bool:
    return type(one) is type(other) and one.id == other.id


def bind_scene(session: Session, openid: str, scene: str, now: datetime) -> Person:
    """Spend invitation ``scene`` binding the Official Account ``openid`` to its person, without
    committing (the callback commits it with its receipt).

    Raises ValidationError, having changed nothing, when the code is unknown, spent or expired,
    when it is for a staff member who has left, or when the openid is already bound to another
    (active) person: a salesperson who scans their customer's code by mistake keeps their own
    binding, and the customer's code stays unspent.
    """
    invitation = session.scalar(select(BindingInvitation).where(BindingInvitation.scene == scene))
    if invitation is None:
        raise ValidationError("二维码无效，请联系门店工作人员重新生成", "scene")
    if invitation.used_at is not None:
        raise ValidationError("该二维码已被使用，请联系门店工作人员重新生成", "scene")
    if invitation.expires_at <= now:
        raise ValidationError("二维码已过期，请联系门店工作人员重新生成", "scene")
    person = _invitation_person(invitation)
    found = wechat_identity.remember(session, WeChatApp.OFFICIAL_ACCOUNT, openid, None, now)
    current = wechat_identity.bound_person(found)
    if current is not None and not _same(current, person):
        kind = "员工" if isinstance(current, Staff) else "会员"
        raise ValidationError(f"该微信已绑定{kind}“{current.name}”，如需更换请联系门店", "openid")

    # The conditional update is the race-safe part: of two concurrent scans one wins.
    spent = session.execute(
        update(BindingInvitation)
        .where(
            BindingInvitation.id == invitation.id,
            BindingInvitation.used_at.is_(None),
            BindingInvitation.expires_at > now,
        )
        .values(used_at=now, used_by_openid=openid)
        .execution_options(synchronize_session="fetch")
    )
    if spent.rowcount != 1:
        raise ValidationError("该二维码已被使用，请联系门店工作人员重新生成", "scene")
    wechat_identity.bind(found, person, now)
    session.flush()
    return person


def bind_by_scene(session: Session, openid: str, scene: str, now: datetime) -> Person:
    """Bind the Official Account ``openid`` to the person of invitation ``scene`` and spend the
    code. Returns the person; raises ValidationError and changes nothing when it cannot."""
    person = bind_scene(session, openid, scene, now)
    session.commit()
    return person


def bind_by_unionid(
    session: Session, app: WeChatApp, openid: str, unionid: str | None, now: datetime
) -> Person | None:
    """Recognise a person arriving through another WeChat app (OAuth, mini-program log-in).

    The openid's identity is recorded with its unionid. When it is unbound and another identity
    with the same unionid is bound to an active person, that person is bound here too (an
    identity of a staff member who has left is not re-bound). Returns who the openid now is,
    or None.
    """
    found = wechat_identity.remember(session, app, openid, unionid, now)
    person = wechat_identity.bound_person(found)
    if person is None and found.staff_id is None and found.customer_id is None:
        person = wechat_identity.person_sharing_unionid(session, found)
        if person is not None:
            wechat_identity.bind(found, person, now)
    session.commit()
    return person
