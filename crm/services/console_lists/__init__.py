"""The console's lists (issue 10 "Console pages"): customers, leads, deals, vehicles and
service orders, each sorted by a whitelisted column, filtered, paginated and scoped through
``crm.access``, and each exportable to Excel by the roles allowed to export personal data.

One module per list describes it as a ``listing.ListSpec``; ``listing`` holds what every list
shares (sort and filter parsing, the count, the Excel export and its audit event). The older
console pages (发送队列, complaints, surveys, staff, stores, imports) keep their own pages; their
exports are here too (``outbox``, ``complaints`` ...), through ``listing.export_rows``.
"""

from __future__ import annotations

from crm.services.console_lists import (
    complaints,
    customers,
    deals,
    imports,
    leads,
    outbox,
    service_orders,
    staff,
    stores,
    surveys,
    vehicles,
)
from crm.services.console_lists.listing import ListSpec

LISTS: dict[str, ListSpec] = {
    spec.name: spec
    for spec in (
        customers.SPEC,
        leads.SPEC,
        deals.SPEC,
        vehicles.SPEC,
        service_orders.SPEC,
    )
}


def titles() -> dict[str, str]:
    """Every exportable list's title by the name its exports carry in the audit log."""
    sheets = [module.SHEET for module in (outbox, complaints, surveys, staff, stores)]
    others = {sheet.name: sheet.title for sheet in sheets}
    return {name: spec.title for name, spec in LISTS.items()} | others | imports.titles()
