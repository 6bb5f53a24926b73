"""The kinds of care (PRODUCT "The care calendar"; issue 8): what each is called, how it ranks
for the customer's one message a day, and what one planned item carries.

Each kind module (``birthdays.py``, ``maintenance.py`` …) defines a :class:`CareKind` and a
``plan(session, day, now)`` that yields :class:`CareItem` s; the planner (``planner.py``) puts
them through the no-harassment policy (``policy.py``) into the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# What a message says where the store has no phone on file.
NO_STORE_PHONE = "请致电门店"


class Rank:
    """Priorities: service-critical reminders outrank service notices outrank greetings."""

    CRITICAL = 100  # weather warnings, insurance, inspection, recalls: never deferred a week
    SERVICE = 60  # maintenance due, part checks, post-service
    GREETING = 30  # birthday, holidays, anniversary, trade-in
    CAMPAIGN = 10  # seasonal campaigns: only ever bundled with other care when possible


@dataclass(frozen=True)
class CareKind:
    name: str  # the outbox row's ``kind`` and the console's key
    label: str  # Chinese, as staff see it
    priority: int
    # keyword -> Chinese label, in the template's order; a sample for the console's preview.
    fields: dict[str, str]
    sample: dict[str, str]
    page: str = "/m/"  # the member page the message opens
    # Greetings that would be marketing as a template message go out through staff
    # ("send personally") unless the group configures otherwise.
    marketing: bool = False
    # Sent from 07:00 (the birthday window) instead of 08:00.
    early: bool = False
    # Bundled into another message of the week rather than sent alone when one exists.
    bundle_only: bool = False
    # After the message the advisor calls the next day to book (PRODUCT: "call next day").
    booking_call: bool = False
    # A customer WeChat cannot reach gets a phone call from the care specialist instead.
    call_if_unreachable: bool = True
    # Sent to a staff member (a complaint to handle), never to a customer.
    for_staff: bool = False

    @property
    def critical(self) -> bool:
        return self.priority >= Rank.CRITICAL

    def personal_text(self, values: dict[str, str]) -> str:
        """The ready text a staff member sends from their own WeChat."""
        lines = [f"【{self.label}】"]
        lines += [
            f"{label}：{values[key]}" for key, label in self.fields.items() if values.get(key)
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class CareItem:
    """One message due for one customer, before the policy decides when and how it goes."""

    kind: CareKind
    customer_id: int
    store_id: int
    occasion: str  # with the kind, the dedupe key: "<kind>:<customer>:<occasion>"
    due_on: date
    send_at: datetime  # the earliest moment it may go out (quiet hours applied later)
    values: dict[str, str] = field(default_factory=dict)
    vehicle_id: int | None = None

    @property
    def dedupe_key(self) -> str:
        return f"{self.kind.name}:{self.customer_id}:{self.occasion}"
