"""Importing service orders from the dealer management system's Excel export (issue 7
"After-sales": "import from the dealer management system by Excel like the lead import
(row-level errors, dry run)").

The same two steps as every import, as ``IMPORTER``'s methods (``crm.services.imports``):
``check`` keeps the file and the report of bad rows (row, column, reason) and writes nothing
else; ``commit`` checks again and writes all rows or, when chosen, only the good ones, in one
transaction; ``import_file`` does both (with ``dry_run`` only the check); ``cancel`` drops a
checked file; ``template`` is the downloadable template.

The rows are read and checked by ``crm.services.service_order_rows``; the good ones are
written by ``crm.services.service_orders.record_imported``, under the rules of recording one
order (mileage history, next service, member tier for paid orders).
"""

from __future__ import annotations

from crm.services import imports, service_order_rows, service_orders
from crm.services.import_rows import row_errors_text

__all__ = ["IMPORTER", "row_errors_text"]

IMPORTER = imports.Importer(
    imports.RowKind(
        name="service_orders",
        permission="service_order.import",
        noun="工单",
        unit="张",
        destination="",
        lock_name="crm.service_order_import",
        read=service_order_rows.read_lines,
        check=service_order_rows.against_store,
        write=service_orders.record_imported,
        template=service_order_rows.template,
    )
)
