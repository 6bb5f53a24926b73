"""A customer's requests about their personal information (PRODUCT "Organisation and access":
PIPL, 个人信息保护法; issue 9 "Preferences: a consent page — what is kept, why, how to ask
for export or deletion").

The member page ``/m/privacy`` lets the customer ask for a copy of their data (导出) or for its
deletion (删除). A request becomes a staff task (``CareTaskKind.PRIVACY_REQUEST``) for the
store's care specialist, due at once, on the H5 work-bench; the specialist answers the
customer and closes the task with what was done. One request of each kind is open at a time:
asking again while one is open says it is already in hand, and once the specialist closed it
the customer may ask again.

A request's task is deduplicated by ``(kind, customer, occasion)``; the occasion is the kind
and the number of earlier requests of that kind, so two taps at once queue one task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.errors import Conflict, ValidationError
from crm.models import CareTask, CareTaskKind, Consent, Customer
from crm.services.care import tasks

# kind -> (what the customer asks for, what the task tells the specialist)
KINDS = {
    "export": ("导出我的个人信息", "导出并提供其个人信息副本"),
    "delete": ("删除我的个人信息", "删除其个人信息（依法须保存的记录除外）"),
}
NOTE_MAX = 200
ANSWER_WITHIN = "15个工作日"

PURPOSE_LABELS = {
    "service_reminders": "售后服务与用车提醒",
    "membership": "会员服务",
    "marketing": "优惠与活动信息",
}
CHANNEL_LABELS = {"wechat": "微信", "paper": "纸质", "phone": "电话", "showroom": "展厅"}


@dataclass(frozen=True)
class ConsentEntry:
    purpose: str
    channel: str
    granted: bool
    recorded_at: datetime


@dataclass(frozen=True)
class PrivacyPage:
    """What ``/m/privacy`` shows: the consents on record and the requests still open."""

    consents: list[ConsentEntry]
    open_requests: dict[str, CareTask]  # kind -> its open task


def _dedupe_prefix(customer: Customer, kind: str) -> str:
    return f"{CareTaskKind.PRIVACY_REQUEST.value}:{customer.id}:{kind}:"


def _open_request(session: Session, customer: Customer, kind: str) -> CareTask | None:
    return session.scalar(
        select(CareTask).where(
            CareTask.customer_id == customer.id,
            CareTask.kind == CareTaskKind.PRIVACY_REQUEST.value,
            CareTask.dedupe_key.startswith(_dedupe_prefix(customer, kind)),
            CareTask.done_at.is_(None),
        )
    )


def page(session: Session, customer: Customer) -> PrivacyPage:
    """The customer's consents (newest first) and their open requests by kind."""
    consents = session.scalars(
        select(Consent)
        .where(Consent.customer_id == customer.id)
        .order_by(Consent.recorded_at.desc(), Consent.id.desc())
    ).all()
    return PrivacyPage(
        consents=[
            ConsentEntry(
                PURPOSE_LABELS.get(consent.purpose, consent.purpose),
                CHANNEL_LABELS.get(consent.channel, consent.channel),
                consent.granted,
                consent.recorded_at,
            )
            for consent in consents
        ],
        open_requests={
            kind: task
            for kind in KINDS
            if (task := _open_request(session, customer, kind)) is not None
        },
    )


def request(session: Session, customer: Customer, kind: str, note: str, now: datetime) -> CareTask:
    """Record the customer's request to export or delete their personal information as a task
    for the store's care specialist (any care specialist of the store when none is named),
    due now. An unknown kind or a note over 200 characters is refused naming the field; a
    request of a kind already open raises ``Conflict`` (already in hand) and adds nothing.
    """
    if kind not in KINDS:
        raise ValidationError("请选择申请类型", "kind")
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(f"补充说明不能超过{NOTE_MAX}个字", "note")
    asked, todo = KINDS[kind]
    in_hand = Conflict(f"您的“{asked}”申请已在处理中，客服专员会尽快与您联系", "kind")
    if _open_request(session, customer, kind) is not None:
        raise in_hand
    earlier = session.scalar(
        select(func.count())
        .select_from(CareTask)
        .where(
            CareTask.customer_id == customer.id,
            CareTask.kind == CareTaskKind.PRIVACY_REQUEST.value,
            CareTask.dedupe_key.startswith(_dedupe_prefix(customer, kind)),
        )
    )
    text = f"客户申请{asked}：请核实身份后{todo}，并在{ANSWER_WITHIN}内答复客户。"
    if note:
        text += f"客户说明：{note}"
    task_id = tasks.queue(
        session,
        kind=CareTaskKind.PRIVACY_REQUEST,
        customer=customer,
        staff_id=tasks.care_specialist_id(session, customer.store_id),
        occasion=f"{kind}:{earlier + 1}",
        due=now,
        text=text,
        now=now,
    )
    if task_id is None:
        # The same request was recorded a moment ago from another tap.
        session.rollback()
        raise in_hand
    session.commit()
    return session.get(CareTask, task_id)
