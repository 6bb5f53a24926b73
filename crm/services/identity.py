"""Blind-index look-ups of people by phone or ID number (PRODUCT "Organisation and access":
customers are matched to their records by phone number)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import crypto, phones
from crm.models import Customer, Staff

PHONE = "phone"
ID_NUMBER = "id_number"


def phone_index(e164: str) -> str:
    return crypto.cipher().blind_index(e164, PHONE)


def id_number_index(id_number: str) -> str:
    return crypto.cipher().blind_index(id_number.strip().upper(), ID_NUMBER)


def find_customer_by_phone(session: Session, raw_phone: str) -> Customer | None:
    """The customer with this phone (any format), found through the blind index."""
    e164 = phones.normalise(raw_phone)
    return session.scalar(select(Customer).where(Customer.phone_index == phone_index(e164)))


def find_staff_by_phone(session: Session, raw_phone: str) -> Staff | None:
    e164 = phones.normalise(raw_phone)
    return session.scalar(select(Staff).where(Staff.phone_index == phone_index(e164)))
