"""The console's lists (issue 10 "Console pages"): customers, leads, deals, vehicles and
service orders, each sorted by a whitelisted column, filtered, paginated and scoped through
``crm.access``, and each exportable to Excel by the roles allowed to export personal data.

One module per list describes it as a ``listing.ListSpec``; ``listing`` holds what every list
shares (sort and filter parsing, the count, the Excel export and its audit event).
"""

from __future__ import annotations

from crm.services.console_lists import customers, deals, leads, service_orders, vehicles
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
