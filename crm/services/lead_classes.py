"""Lead classes and their follow-up cadence (PRODUCT "Lead classes and cadence").

| class     | rule                                                        | cadence        |
|-----------|-------------------------------------------------------------|----------------|
| key       | >=3 interactions and buys within a month                    | >=3 a week     |
| intent    | test-drove or got a quote, or buys within 3 months          | 2 a week       |
| potential | anything else                                               | 1 a week       |
| dormant   | no interaction for 6 months                                 | 1 a quarter    |

A new lead must be called within 1 hour of entering [000 §2.2].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.models import LeadClass, PurchaseTimeframe

KEY_MIN_INTERACTIONS = 3
FIRST_CALL_WITHIN = timedelta(hours=1)
DORMANT_AFTER = timedelta(days=180)

# The gap between two touches that the cadence allows: 7 days / 2 a week / 3 a week / a quarter.
CADENCE: dict[LeadClass, timedelta] = {
    LeadClass.POTENTIAL: timedelta(days=7),
    LeadClass.INTENT: timedelta(days=7) / 2,
    LeadClass.KEY: timedelta(days=7) / 3,
    LeadClass.DORMANT: timedelta(days=91),
}

CADENCE_LABELS: dict[LeadClass, str] = {
    LeadClass.POTENTIAL: "每周1次",
    LeadClass.INTENT: "每周2次",
    LeadClass.KEY: "每周3次以上",
    LeadClass.DORMANT: "每季度1次",
}


@dataclass(frozen=True)
class Evidence:
    """What the class rules look at."""

    interactions: int
    test_drove: bool
    quoted: bool
    timeframe: PurchaseTimeframe
    last_contact_at: datetime | None = None


def suggest(evidence: Evidence, now: datetime) -> LeadClass:
    """The class the rules give a lead (see the module table)."""
    if evidence.last_contact_at is not None and now - evidence.last_contact_at >= DORMANT_AFTER:
        return LeadClass.DORMANT
    timeframe = PurchaseTimeframe(evidence.timeframe)
    if (
        evidence.interactions >= KEY_MIN_INTERACTIONS
        and timeframe == PurchaseTimeframe.WITHIN_MONTH
    ):
        return LeadClass.KEY
    if (
        evidence.test_drove
        or evidence.quoted
        or timeframe in (PurchaseTimeframe.WITHIN_MONTH, PurchaseTimeframe.WITHIN_QUARTER)
    ):
        return LeadClass.INTENT
    return LeadClass.POTENTIAL


def due_at(
    lead_class: str,
    last_contact_at: datetime | None,
    next_step_at: datetime | None,
    created_at: datetime,
) -> datetime:
    """When an owned lead is next due: a never-contacted lead within the first hour of its
    entry; otherwise the earlier of the planned next step and the class cadence."""
    if last_contact_at is None:
        cadence_due = created_at + FIRST_CALL_WITHIN
    else:
        cadence_due = last_contact_at + CADENCE[LeadClass(lead_class)]
    if next_step_at is None:
        return cadence_due
    return min(cadence_due, next_step_at)
