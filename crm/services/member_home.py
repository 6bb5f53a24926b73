"""The member home ``/m/`` (issue 9 "Member pages"): the card in short, the care messages
that reached the customer, and each car with its next maintenance and last service — the
entries to every member page sit around them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from crm.models import Customer
from crm.services import member_vehicles, membership
from crm.services.care import inbox


@dataclass(frozen=True)
class HomePage:
    customer: Customer
    card: membership.CardView | None
    messages: list[inbox.Entry]
    vehicles: list[member_vehicles.VehicleCard]


def home(session: Session, customer: Customer) -> HomePage:
    """Everything the member home shows for ``customer``."""
    return HomePage(
        customer=customer,
        card=membership.card_view(session, customer),
        messages=inbox.recent(session, customer),
        vehicles=member_vehicles.my_vehicles(session, customer),
    )
