"""Console: the lists — customers, leads, deals, vehicles, service orders (issue 10 "Console
pages") — each sorted, filtered and paginated, with an Excel export for the roles that may
export personal data. The rules are in ``crm.services.console_lists``.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for
from flask_login import current_user, login_required

from crm import clock
from crm.extensions import db
from crm.services.console_lists import LISTS, listing
from crm.views import downloads
from crm.views.forms import form_page, int_arg

bp = Blueprint("console_lists", __name__, url_prefix="/console")
NAMES = "any(customers, leads, deals, vehicles, 'service-orders')"


@bp.get(f"/<{NAMES}:name>")
@login_required
def index(name: str):
    view = listing.open_list(db.session, current_user, LISTS[name], request.args)
    page = db.paginate(
        view.query, page=int_arg("page", 1), per_page=listing.PER_PAGE, error_out=False
    )
    args = request.args.to_dict()

    def sort_url(key: str) -> str:
        # A header sorts by its column; a second click turns the order round.
        descending = not (view.sort.key == key and view.sort.descending)
        chosen = {**args, **listing.Sort(key, descending).args()}
        chosen.pop("page", None)
        return url_for("console_lists.index", name=name, **chosen)

    export_args = {k: v for k, v in args.items() if k != "page"}
    return form_page(
        f"console/lists/{name.replace('-', '_')}.html",
        view.errors,
        view=view,
        page=page,
        values=args,
        sort_url=sort_url,
        export_url=url_for("console_lists.export", name=name, **export_args),
    )


@bp.get(f"/<{NAMES}:name>/export.xlsx")
@login_required
def export(name: str):
    spec = LISTS[name]
    return downloads.list_export(
        spec.title,
        lambda: listing.export(db.session, current_user, spec, request.args, clock.now()),
        url_for("console_lists.index", name=name, **request.args.to_dict()),
    )
