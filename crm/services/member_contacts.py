"""Who serves the customer (issue 9 "My advisor / my salesperson"; PRODUCT "Deal and
handover": the customer is told who their after-sales advisor is): the service advisor and
the salesperson with their phones, the store's address, phone and rescue phone.

A staff member who has left is not shown: the customer sees that nobody is assigned yet
until the store assigns someone (the hand-over alarm on the console asks for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from sqlalchemy.orm import Session

from crm.models import Customer, Staff, Store


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str  # E.164, for the tel: link
    phone_shown: str  # as people read it: 139 0000 0001


@dataclass(frozen=True)
class Contacts:
    advisor: Contact | None
    salesperson: Contact | None
    store: Store


def shown(e164: str) -> str:
    """A phone number in its national layout (``139 0000 0001``)."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _contact(session: Session, staff_id: int | None) -> Contact | None:
    staff = session.get(Staff, staff_id) if staff_id else None
    if staff is None or not staff.active:
        return None
    return Contact(staff.name, staff.phone, shown(staff.phone))


def for_customer(session: Session, customer: Customer) -> Contacts:
    """The customer's advisor and salesperson (None when unassigned or gone) and their store."""
    return Contacts(
        advisor=_contact(session, customer.advisor_id),
        salesperson=_contact(session, customer.sales_owner_id),
        store=session.get(Store, customer.store_id),
    )
