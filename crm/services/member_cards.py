"""The member card at the service desk (issue 9 "Member card: card number with a barcode/QR
the advisor can scan at the desk"): the card's QR code opens ``/h5/cards/<card_no>``, which
takes a staff member to the card holder's customer page.

Scanning is an ordinary look-up through ``crm.access``: staff who may see the customer get
there; anyone else, and an unknown number, gets not found.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm import access
from crm.errors import NotFound
from crm.models import Customer, MemberCard, Staff


def holder(session: Session, actor: Staff, card_no: str) -> Customer:
    """The customer holding card ``card_no``, if the actor may see them; else ``NotFound``."""
    query = select(Customer).join(MemberCard, MemberCard.customer_id == Customer.id)
    customer = session.scalar(access.scope(query.where(MemberCard.card_no == card_no), actor))
    if customer is None:
        raise NotFound("没有找到这张会员卡")
    return customer
