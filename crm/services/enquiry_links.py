"""The public enquiry form and a salesperson's personal link to it (PRODUCT "The customer
pool": leads from online forms and, ours, a salesperson's personal QR code).

A salesperson's QR code opens ``/m/enquiry/<store code>?ref=<token>``; the token is the staff
id signed with the app's secret, so a prospect cannot pass an enquiry to someone else. An
enquiry through a valid token of an active salesperson of that store is theirs; any other
enquiry lands in the store's pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound, ValidationError
from crm.models import Lead, LeadSource, Staff, Store
from crm.services import leads

SALT = "enquiry-ref"


def sign(secret_key: str, staff_id: int) -> str:
    """The ``ref`` token of a salesperson's personal enquiry link."""
    return URLSafeSerializer(secret_key, salt=SALT).dumps(staff_id)


def verify(secret_key: str, token: str) -> int | None:
    """The staff id a ``ref`` token was signed for, or None for a missing or forged one."""
    if not token:
        return None
    try:
        staff_id = URLSafeSerializer(secret_key, salt=SALT).loads(token)
    except BadSignature:
        return None
    return staff_id if isinstance(staff_id, int) else None


def open_store(session: Session, store_code: str) -> Store:
    """The active store a public enquiry link names; an unknown or closed one is not found."""
    store = session.scalar(select(Store).where(Store.code == store_code, Store.active.is_(True)))
    if store is None:
        raise NotFound("没有找到该门店")
    return store


def salesperson_for(session: Session, store: Store, secret_key: str, token: str) -> Staff | None:
    """The active salesperson of ``store`` whose personal link carried ``token``, if any."""
    staff_id = verify(secret_key, token)
    if staff_id is None:
        return None
    staff = session.get(Staff, staff_id)
    if (
        staff is None
        or not staff.active
        or staff.store_id != store.id
        or staff.role not in access.SALES_ROLES
    ):
        return None
    return staff


@dataclass(frozen=True)
class EnquiryInput:
    name: str
    phone: str
    model_of_interest: str = ""
    consent: bool = False


def submit(
    session: Session, store: Store, data: EnquiryInput, salesperson: Staff | None, now: datetime
) -> Lead | None:
    """A prospect's enquiry: with their consent to be contacted about buying a car (PIPL), a
    lead for ``salesperson`` (source: personal QR code) or the store's pool (online form).

    A phone the store already knows changes nothing and returns None: the public page answers
    the same either way, so it never reveals whether a number is known.
    """
    if not data.consent:
        raise ValidationError("请勾选同意门店就购车事宜与您联系", "consent")
    source = LeadSource.QR_CODE if salesperson is not None else LeadSource.ONLINE
    enquiry = leads.LeadInput(
        name=data.name,
        phone=data.phone,
        source=source.value,
        model_of_interest=data.model_of_interest,
    )
    try:
        return leads.create_enquiry(session, store, enquiry, now, salesperson)
    except leads.DuplicateLead:
        session.rollback()
        return None
